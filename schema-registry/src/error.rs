//! Confluent's error responses: an HTTP status plus `{"error_code": N, "message": "..."}`, where
//! N is the status, or the status followed by two digits that say what is missing or wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The content type every registry response carries.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// An error of the registry API, with Confluent's code and message.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    /// The id (empty for a lookup by content).
    #[error("Schema {}not found", if .0.is_empty() { String::new() } else { format!("{} ", .0) })]
    SchemaNotFound(String),
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error("Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted { subject: String, version: i32 },
    #[error("Subject '{subject}' Version {version} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted { subject: String, version: i32 },
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectLevelCompatibilityNotConfigured(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectLevelModeNotConfigured(String),
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", details.join(", "))]
    Incompatible { subject: String, details: Vec<String> },
    #[error("Invalid schema {0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    #[error("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel,
    #[error("Invalid mode. Valid values are READWRITE, READONLY, IMPORT")]
    InvalidMode,
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}.")]
    ReferenceExists { subject: String, version: i32 },
    #[error("{0}")]
    UnprocessableEntity(String),
    /// No such route (`{"error_code":404,"message":"HTTP 404 Not Found"}`).
    #[error("HTTP 404 Not Found")]
    NotFound,
    #[error("Error in the backend data store - {0}")]
    Store(String),
    #[error("Register operation timed out - {0}")]
    Timeout(String),
}

impl RegistryError {
    /// Confluent's `error_code`.
    pub fn code(&self) -> u32 {
        use RegistryError::*;
        match self {
            SubjectNotFound(_) => 40401,
            VersionNotFound(_) => 40402,
            SchemaNotFound(_) => 40403,
            SubjectSoftDeleted(_) => 40404,
            SubjectNotSoftDeleted(_) => 40405,
            VersionSoftDeleted { .. } => 40406,
            VersionNotSoftDeleted { .. } => 40407,
            SubjectLevelCompatibilityNotConfigured(_) => 40408,
            SubjectLevelModeNotConfigured(_) => 40409,
            Incompatible { .. } => 409,
            InvalidSchema(_) => 42201,
            InvalidVersion(_) => 42202,
            InvalidCompatibilityLevel => 42203,
            InvalidMode => 42204,
            OperationNotPermitted(_) => 42205,
            ReferenceExists { .. } => 42206,
            UnprocessableEntity(_) => 422,
            NotFound => 404,
            Store(_) => 50001,
            Timeout(_) => 50002,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.code() {
            404 => StatusCode::NOT_FOUND,
            409 => StatusCode::CONFLICT,
            422 => StatusCode::UNPROCESSABLE_ENTITY,
            c if c / 100 == 404 => StatusCode::NOT_FOUND,
            c if c / 100 == 422 => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error_code": self.code(), "message": self.to_string()});
        (self.status(), [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
    }
}

//! Kafka Connect's REST API: the axum router, the JSON shapes of its bodies, errors as Connect
//! sends them (`{"error_code": N, "message": "..."}`), optional HTTP basic / bearer
//! authentication, CORS, TLS listeners, and `GET /openapi.json` generated from the handlers.
//!
//! Architecture invariant: this crate is the only one that knows HTTP, and it knows the
//! runtime only through the [`Herder`] trait (Connect's name for the component that manages
//! connectors on a worker). Standalone and distributed herders implement it; the routes do
//! not change between modes.

pub mod body;
mod herder;
mod routes;
mod security;
mod types;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub use herder::{Created, Herder};
pub use security::{RestSecurity, SecurityError};
pub use types::*;

/// An error as Connect sends it: `{"error_code": 404, "message": "..."}`.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize, PartialEq)]
#[error("{message} ({error_code})")]
pub struct RestError {
    pub error_code: u16,
    pub message: String,
}

impl RestError {
    pub fn new(code: StatusCode, message: impl Into<String>) -> RestError {
        RestError { error_code: code.as_u16(), message: message.into() }
    }

    /// 404 with Connect's wording.
    pub fn connector_not_found(name: &str) -> RestError {
        RestError::new(StatusCode::NOT_FOUND, format!("Connector {name} not found"))
    }

    pub fn bad_request(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 409, e.g. a name in use or a rebalance in progress.
    pub fn conflict(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.error_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self)).into_response()
    }
}

/// Turns axum's bare error responses (unknown path, wrong method, oversized body) into
/// Connect's JSON error body.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let has_body_type = response.headers().contains_key(axum::http::header::CONTENT_TYPE);
    if (status.is_client_error() || status.is_server_error()) && !has_body_type {
        let reason = status.canonical_reason().unwrap_or("Error");
        let mut r = RestError::new(status, format!("HTTP {} {reason}", status.as_u16())).into_response();
        if let Some(allow) = response.headers().get(axum::http::header::ALLOW) {
            r.headers_mut().insert(axum::http::header::ALLOW, allow.clone());
        }
        return r;
    }
    response
}

/// The full application: routes, OpenAPI document, error bodies, auth and CORS.
pub fn app(herder: Arc<dyn Herder>, security: Arc<RestSecurity>) -> axum::Router {
    let router = routes::api(herder).fallback(|| async { StatusCode::NOT_FOUND });
    security::apply(router, security).layer(axum::middleware::map_response(json_errors))
}

pub use routes::openapi;

/// PEM files of a TLS listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: std::path::PathBuf,
    /// Private key (PEM).
    pub key: std::path::PathBuf,
}

/// Serves the app on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<TlsFiles>,
    herder: Arc<dyn Herder>,
    security: Arc<RestSecurity>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(herder, security);
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    match tls {
        None => axum_server::from_tcp(listener)?.handle(handle).serve(app.into_make_service()).await,
        Some(files) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot load TLS certificate/key ({} / {}): {e}", files.cert.display(), files.key.display()))
            })?;
            axum_server::tls_rustls::from_tcp_rustls(listener, config)?.handle(handle).serve(app.into_make_service()).await
        }
    }
}

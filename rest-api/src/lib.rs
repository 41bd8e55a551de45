//! Kafka Connect's REST API: the axum router and the JSON shapes of its bodies.
//!
//! Architecture invariant: this crate is the only one that knows HTTP, and it knows the
//! runtime only through the [`Herder`] trait (Connect's name for the component that manages
//! connectors on a worker). Standalone and distributed herders implement it; the routes do
//! not change between modes.

mod types;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use types::{AbstractState, ConnectorState, ConnectorStateInfo, ConnectorType, ServerInfo, TaskStateInfo};

/// An error as Connect sends it: `{"error_code": 404, "message": "..."}`.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
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
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.error_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, axum::Json(self)).into_response()
    }
}

/// What the REST API needs from a worker.
#[async_trait::async_trait]
pub trait Herder: Send + Sync + 'static {
    /// `GET /`: version and cluster id.
    fn server_info(&self) -> ServerInfo;
    /// `GET /connectors`: names of all connectors, sorted.
    async fn connectors(&self) -> Vec<String>;
    /// `GET /connectors/{name}/status`.
    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError>;
}

type SharedHerder = Arc<dyn Herder>;

/// The router with every implemented endpoint.
pub fn router(herder: SharedHerder) -> Router {
    Router::new()
        .route("/", get(server_info))
        .route("/connectors", get(list_connectors))
        .route("/connectors/{name}/status", get(connector_status))
        .fallback(not_found)
        .with_state(herder)
}

async fn server_info(State(h): State<SharedHerder>) -> axum::Json<ServerInfo> {
    axum::Json(h.server_info())
}

async fn list_connectors(State(h): State<SharedHerder>) -> axum::Json<Vec<String>> {
    axum::Json(h.connectors().await)
}

async fn connector_status(State(h): State<SharedHerder>, Path(name): Path<String>) -> Result<axum::Json<ConnectorStateInfo>, RestError> {
    h.connector_status(&name).await.map(axum::Json)
}

async fn not_found(uri: axum::http::Uri) -> RestError {
    RestError::new(StatusCode::NOT_FOUND, format!("HTTP 404 Not Found: {}", uri.path()))
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    herder: SharedHerder,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(herder)).with_graceful_shutdown(shutdown).await
}

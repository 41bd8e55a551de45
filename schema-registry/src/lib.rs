//! A Confluent-compatible schema registry served by Sluice workers, its HTTP client, and the
//! `AvroConverter` that speaks to any Confluent-compatible registry.
//!
//! **Server.** When a worker's config sets `schema.registry.listeners` (e.g.
//! `http://127.0.0.1:8081`), the worker serves Confluent Schema Registry's REST API there
//! ([`api`]): schemas by id, subjects and versions (register, look up, soft and permanent
//! delete, `referencedby`), compatibility checks, config and mode, with Confluent's error codes.
//! The state lives in the Kafka topic `_schemas` (`schema.registry.topic`), in Confluent's
//! record format ([`state`]); every worker reads it from the beginning, so all workers serve
//! the same registry and ids never collide ([`store`]). Only Avro schemas are accepted.
//!
//! **Converter.** [`AvroConverter`] (`io.confluent.connect.avro.AvroConverter`) maps Connect
//! data to Avro as Confluent's `AvroData` does ([`avro_data`]) and writes the Confluent wire
//! format (magic byte 0, 4-byte big-endian schema id, Avro binary). See [`converter`] for its
//! settings and how a registry call on a cache miss avoids stalling the async runtime.

pub mod api;
pub mod avro_data;
pub mod client;
pub mod compat;
pub mod converter;
pub mod error;
pub mod registry;
pub mod state;
pub mod store;

pub use converter::AvroConverter;
pub use error::RegistryError;
pub use registry::Registry;

use std::future::Future;

/// The default name of the registry's topic, as Confluent's `kafkastore.topic`.
pub const DEFAULT_TOPIC: &str = "_schemas";

/// Opens the store (reading `topic` to its end) and serves the API on `listener` until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    bootstrap: &str,
    topic: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RegistryError> {
    let (ready, _) = tokio::sync::oneshot::channel();
    serve_ready(listener, bootstrap, topic, shutdown, ready).await
}

/// [`serve`], telling `ready` once the store is open (or why it could not open).
pub async fn serve_ready(
    listener: tokio::net::TcpListener,
    bootstrap: &str,
    topic: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: tokio::sync::oneshot::Sender<Result<(), String>>,
) -> Result<(), RegistryError> {
    let store = match store::Store::open(bootstrap, topic).await {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return Err(e);
        }
    };
    let app = api::router(Registry::new(store));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| RegistryError::Store(format!("registry server failed: {e}")))
}

//! Starts the embedded schema registry (crate `sluice-schema-registry`) when the worker config
//! sets `schema.registry.listeners` (the first `http://host:port` is used); its state lives in
//! `schema.registry.topic` (default `_schemas`) on the worker's Kafka cluster.

use anyhow::Context;
use tokio::sync::watch;

use crate::worker_config::WorkerConfig;

/// Binds the registry's listener, reads `_schemas` to its end and serves until `stop` turns
/// true. `Ok(None)` when the worker config does not ask for a registry.
pub async fn start(config: &WorkerConfig, mut stop: watch::Receiver<bool>) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let props = config.parsed.originals();
    let Some(listeners) = props.get("schema.registry.listeners").filter(|l| !l.trim().is_empty()) else { return Ok(None) };
    let first = listeners.split(',').next().unwrap_or_default().trim();
    let addr = first
        .strip_prefix("http://")
        .with_context(|| format!("schema.registry.listeners: unsupported listener '{first}' (only http://host:port)"))?
        .trim_end_matches('/');
    let addr = match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    };
    let topic = props.get("schema.registry.topic").cloned().unwrap_or_else(|| sluice_schema_registry::DEFAULT_TOPIC.to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("schema registry cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let bootstrap = config.bootstrap_servers();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let result = sluice_schema_registry::serve_ready(listener, &bootstrap, &topic, shutdown, ready_tx).await;
        if let Err(e) = result {
            tracing::error!(error = %e, "schema registry stopped");
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => anyhow::bail!("schema registry failed to start: {e}"),
        Err(_) => anyhow::bail!("schema registry failed to start"),
    }
    tracing::info!(registry = %local, "schema registry listening");
    Ok(Some(handle))
}

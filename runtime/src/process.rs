//! What a worker process needs whatever its mode: the REST listener (bound before anything
//! starts), the broker check at start, and waiting for SIGINT/SIGTERM. Like the binary's
//! `main`, this is the process edge: errors are `anyhow` with context for the operator.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use sluice_rest_api::RestSecurity;

use crate::worker_config::{self as wc, WorkerConfig};

/// The REST listener of a worker, bound before anything starts (so a taken port fails fast).
pub struct RestListener {
    listener: std::net::TcpListener,
    tls: Option<sluice_rest_api::TlsFiles>,
    security: Arc<RestSecurity>,
    pub local: std::net::SocketAddr,
    /// `host:port` as other workers reach this one (Connect's worker id).
    pub worker_id: String,
    pub url: String,
}

impl RestListener {
    pub fn bind(config: &WorkerConfig) -> anyhow::Result<RestListener> {
        let (host, port, tls) = config.rest_listener()?;
        let opt = |v: String| Some(v).filter(|v| !v.is_empty());
        let security = Arc::new(
            RestSecurity::load(
                opt(config.get(wc::REST_AUTHENTICATION_BASIC_FILE)).as_deref(),
                opt(config.get(wc::REST_AUTHENTICATION_BEARER_FILE)).as_deref(),
                &config.get(wc::ACCESS_CONTROL_ALLOW_ORIGIN),
                &config.get(wc::ACCESS_CONTROL_ALLOW_METHODS),
            )
            .context("invalid REST security settings")?,
        );
        let listener = std::net::TcpListener::bind((host.as_str(), port)).with_context(|| format!("cannot listen on {host}:{port}"))?;
        let local = listener.local_addr()?;
        let advertised_host = match config.get(wc::REST_ADVERTISED_HOST_NAME) {
            h if !h.is_empty() => h,
            _ if host == "0.0.0.0" => "127.0.0.1".to_string(),
            _ => host.clone(),
        };
        let advertised_port = match config.get(wc::REST_ADVERTISED_PORT) {
            p if p > 0 => p as u16,
            _ => local.port(),
        };
        let worker_id = format!("{advertised_host}:{advertised_port}");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{worker_id}");
        Ok(RestListener { listener, tls, security, local, worker_id, url })
    }

    /// Serves the API until the returned sender says `true`.
    pub fn serve(self, herder: Arc<dyn sluice_rest_api::Herder>) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let local = self.local;
        let handle = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            if let Err(e) = sluice_rest_api::serve(self.listener, self.tls, herder, self.security, shutdown).await {
                tracing::error!(error = %e, "REST server failed");
            }
        });
        tracing::info!(rest = %local, "REST API listening");
        (stop_tx, handle)
    }
}

/// Fails with a clear message if no broker answers within 15 s; returns the cluster id.
pub async fn check_broker(config: &WorkerConfig) -> anyhow::Result<Option<String>> {
    let servers = config.bootstrap_servers();
    let consumer: BaseConsumer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", &servers).create().with_context(|| format!("invalid bootstrap.servers '{servers}'"))?;
    let found = tokio::task::spawn_blocking(move || {
        consumer.fetch_metadata(None, Duration::from_secs(15)).map(|m| (m.brokers().len(), consumer.client().fetch_cluster_id(Duration::from_secs(5))))
    })
    .await
    .context("broker check panicked")?;
    match found {
        Ok((n, id)) if n > 0 => Ok(id),
        Ok(_) => anyhow::bail!("no brokers listed by the cluster at bootstrap.servers={servers}"),
        Err(e) => anyhow::bail!("cannot reach Kafka at bootstrap.servers={servers}: {e}"),
    }
}

pub async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}

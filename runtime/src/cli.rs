//! The `sluice` command line: `standalone`, `distributed`, `version`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::executor::WorkerContext;
use crate::herder::{StandaloneHerder, load_connector_config};
use crate::worker::Worker;
use sluice_rest_api::RestSecurity;
use crate::offset_store::{FileOffsetBackingStore, OffsetStore};
use crate::plugins::Plugins;
use crate::status::StatusStore;
use crate::worker_config::{Mode, WorkerConfig};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = match option_env!("SLUICE_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// Sluice: a Kafka Connect–compatible connector runtime.
#[derive(Parser, Debug)]
#[command(name = "sluice", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: `text` or `json` (also SLUICE_LOG_FORMAT). Levels via RUST_LOG (default info).
    #[arg(long, global = true, env = "SLUICE_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one worker in this process, like `connect-standalone`: the connectors given as files
    /// start at once and more can be managed through Kafka Connect's REST API (`listeners`,
    /// default http://:8083); source offsets are kept in `offset.storage.file.filename`.
    /// Stops cleanly on SIGINT/SIGTERM (tasks stop, offsets flush).
    Standalone {
        /// Worker properties (Kafka Connect's keys: bootstrap.servers, key.converter, value.converter,
        /// offset.storage.file.filename, offset.flush.interval.ms, listeners, ...).
        worker: PathBuf,
        /// Connector configs: `.properties` files (Kafka's quickstart files work unchanged) or
        /// JSON (`{"name": ..., "config": {...}}` or a flat object).
        connectors: Vec<PathBuf>,
    },
    /// Run a worker that joins a cluster (`group.id`) and keeps configs, offsets and statuses in
    /// Kafka topics, like `connect-distributed`: workers with the same group.id share the
    /// connectors' tasks; any worker answers the REST API.
    Distributed {
        /// Worker properties (group.id, config.storage.topic, offset.storage.topic, status.storage.topic, ...).
        worker: PathBuf,
    },
    /// Print the version and exit.
    Version,
}

/// Sets up logging as the CLI asks.
pub fn init_logging(format: &str) {
    crate::logging::init(format);
}

/// Runs the command; the error (if any) is printed by `main`, which exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("sluice {VERSION} (commit {COMMIT})");
            Ok(())
        }
        Command::Standalone { worker, connectors } => run_standalone(worker, connectors).await,
        Command::Distributed { worker } => crate::distributed::run(worker).await,
    }
}

async fn run_standalone(worker_path: PathBuf, connector_paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let config = WorkerConfig::load(&worker_path, Mode::Standalone)?;
    let connector_configs =
        connector_paths.iter().map(|p| load_connector_config(p)).collect::<Result<Vec<_>, _>>()?;
    // Every connector config is checked before anything starts, so a bad one costs nothing.
    let plugins = Plugins::for_worker(&config);
    for props in &connector_configs {
        let name = props.get("name").cloned().unwrap_or_default();
        crate::connector_config::validate(&plugins, &config.providers.resolve(props)?)
            .with_context(|| format!("invalid config for connector {name}"))?;
    }

    let rest = RestListener::bind(&config)?;
    let worker_id = rest.worker_id.clone();

    let kafka_cluster_id = check_broker(&config).await?;
    let (registry_stop, registry_stop_rx) = tokio::sync::watch::channel(false);
    let registry = crate::schema_registry::start(&config, registry_stop_rx).await?;
    let offsets = Arc::new(OffsetStore::open(Box::new(FileOffsetBackingStore::new(config.string("offset.storage.file.filename"))))?);
    let ctx = Arc::new(WorkerContext { config, plugins, offsets, status: Arc::new(StatusStore::default()), worker_id, kafka_cluster_id });
    let herder = Arc::new(StandaloneHerder::new(Worker::new(ctx)));

    let (stop_tx, rest) = rest.serve(herder.clone());

    for props in connector_configs {
        let name = props.get("name").cloned().unwrap_or_default();
        if let Err(e) = herder.create_connector(props).await {
            herder.stop().await;
            return Err(anyhow::Error::new(e).context(format!("failed to create connector {name}")));
        }
    }
    herder.set_started();
    tracing::info!("sluice standalone worker started");

    wait_for_signal().await?;
    tracing::info!("stopping: tasks stop, offsets flush");
    herder.stop().await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), rest).await;
    let _ = registry_stop.send(true);
    if let Some(registry) = registry {
        let _ = tokio::time::timeout(Duration::from_secs(5), registry).await;
    }
    tracing::info!("sluice stopped");
    Ok(())
}

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
        let opt = |k: &str| Some(config.string(k)).filter(|v| !v.is_empty());
        let security = Arc::new(
            RestSecurity::load(
                opt("rest.authentication.basic.file").as_deref(),
                opt("rest.authentication.bearer.file").as_deref(),
                &config.string("access.control.allow.origin"),
                &config.string("access.control.allow.methods"),
            )
            .context("invalid REST security settings")?,
        );
        let listener = std::net::TcpListener::bind((host.as_str(), port)).with_context(|| format!("cannot listen on {host}:{port}"))?;
        let local = listener.local_addr()?;
        let advertised_host = match config.string("rest.advertised.host.name") {
            h if !h.is_empty() => h,
            _ if host == "0.0.0.0" => "127.0.0.1".to_string(),
            _ => host.clone(),
        };
        let advertised_port = match config.number("rest.advertised.port") {
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
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .create()
        .with_context(|| format!("invalid bootstrap.servers '{servers}'"))?;
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

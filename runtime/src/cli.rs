//! The `sluice` command line: `standalone`, `distributed`, `version`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::executor::WorkerContext;
use crate::herder::{StandaloneHerder, load_connector_config};
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
    /// start at once; source offsets are kept in `offset.storage.file.filename`. The REST API
    /// (`listeners`, default http://:8083) answers `GET /`, `/connectors` and
    /// `/connectors/{name}/status`. Stops cleanly on SIGINT/SIGTERM (tasks stop, offsets flush).
    Standalone {
        /// Worker properties (Kafka Connect's keys: bootstrap.servers, key.converter, value.converter,
        /// offset.storage.file.filename, offset.flush.interval.ms, listeners, ...).
        worker: PathBuf,
        /// Connector configs: `.properties` files (Kafka's quickstart files work unchanged) or
        /// JSON (`{"name": ..., "config": {...}}` or a flat object).
        connectors: Vec<PathBuf>,
    },
    /// Run a worker that joins a cluster (`group.id`) and keeps configs, offsets and statuses in
    /// Kafka topics, like `connect-distributed`. Not available in this build yet: the worker
    /// config is validated and the command exits with an error.
    Distributed {
        /// Worker properties (group.id, config.storage.topic, offset.storage.topic, status.storage.topic, ...).
        worker: PathBuf,
    },
    /// Print the version and exit.
    Version,
}

/// Sets up logging as the CLI asks.
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,librdkafka=warn,rdkafka=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format.eq_ignore_ascii_case("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs the command; the error (if any) is printed by `main`, which exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("sluice {VERSION} (commit {COMMIT})");
            Ok(())
        }
        Command::Standalone { worker, connectors } => run_standalone(worker, connectors).await,
        Command::Distributed { worker } => {
            WorkerConfig::load(&worker, Mode::Distributed)?;
            anyhow::bail!("distributed mode is not available in this build yet; run `sluice standalone` instead")
        }
    }
}

async fn run_standalone(worker_path: PathBuf, connector_paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let config = WorkerConfig::load(&worker_path, Mode::Standalone)?;
    let connector_configs =
        connector_paths.iter().map(|p| load_connector_config(p)).collect::<Result<Vec<_>, _>>()?;
    // Every connector config is checked before anything starts, so a bad one costs nothing.
    let plugin_paths: Vec<PathBuf> = config.parsed.list("plugin.path").unwrap_or_default().iter().filter(|p| !p.trim().is_empty()).map(|p| PathBuf::from(p.trim())).collect();
    let plugins = Plugins::builtin().with_wasm_plugins(&plugin_paths);
    for props in &connector_configs {
        let name = props.get("name").cloned().unwrap_or_default();
        crate::connector_config::validate(&plugins, &config.providers.resolve(props)?)
            .with_context(|| format!("invalid config for connector {name}"))?;
    }

    let (host, port) = config.rest_listener()?;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await.with_context(|| format!("cannot listen on {host}:{port}"))?;
    let local = listener.local_addr()?;
    let advertised_host = match config.string("rest.advertised.host.name") {
        h if !h.is_empty() => h,
        _ if host == "0.0.0.0" => "127.0.0.1".to_string(),
        _ => host.clone(),
    };
    let worker_id = format!("{advertised_host}:{}", local.port());

    check_broker(&config).await?;
    let offsets = Arc::new(OffsetStore::open(Box::new(FileOffsetBackingStore::new(config.string("offset.storage.file.filename"))))?);
    let ctx = Arc::new(WorkerContext { config, plugins, offsets, status: Arc::new(StatusStore::default()), worker_id });
    let herder = Arc::new(StandaloneHerder::new(ctx));

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rest = {
        let herder = herder.clone();
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            sluice_rest_api::serve(listener, herder, shutdown).await
        })
    };
    tracing::info!(rest = %local, "REST API listening");

    for props in connector_configs {
        let name = props.get("name").cloned().unwrap_or_default();
        if let Err(e) = herder.create_connector(props).await {
            herder.stop().await;
            return Err(anyhow::Error::new(e).context(format!("failed to create connector {name}")));
        }
    }
    tracing::info!("sluice standalone worker started");

    wait_for_signal().await?;
    tracing::info!("stopping: tasks stop, offsets flush");
    herder.stop().await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), rest).await;
    tracing::info!("sluice stopped");
    Ok(())
}

/// Fails with a clear message if no broker answers within 15 s.
async fn check_broker(config: &WorkerConfig) -> anyhow::Result<()> {
    let servers = config.bootstrap_servers();
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .create()
        .with_context(|| format!("invalid bootstrap.servers '{servers}'"))?;
    let found = tokio::task::spawn_blocking(move || consumer.fetch_metadata(None, Duration::from_secs(15)).map(|m| m.brokers().len()))
        .await
        .context("broker check panicked")?;
    match found {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => anyhow::bail!("no brokers listed by the cluster at bootstrap.servers={servers}"),
        Err(e) => anyhow::bail!("cannot reach Kafka at bootstrap.servers={servers}: {e}"),
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}

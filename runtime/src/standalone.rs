//! Standalone mode (`sluice standalone worker.properties connector...`, Connect's
//! `connect-standalone`): one worker in this process, connectors from files (and the REST
//! API), source offsets in `offset.storage.file.filename`, configs and statuses in memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::executor::WorkerContext;
use crate::herder::{StandaloneHerder, load_connector_config};
use crate::offset_store::{FileOffsetBackingStore, OffsetStore};
use crate::plugins::Plugins;
use crate::process::{RestListener, check_broker, wait_for_signal};
use crate::status::StatusStore;
use crate::worker::Worker;
use crate::worker_config::{Mode, WorkerConfig};

/// Runs a standalone worker until SIGINT/SIGTERM.
pub async fn run(worker_path: PathBuf, connector_paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let config = WorkerConfig::load(&worker_path, Mode::Standalone)?;
    let connector_configs = connector_paths.iter().map(|p| load_connector_config(p)).collect::<Result<Vec<_>, _>>()?;
    // Every connector config is checked before anything starts, so a bad one costs nothing.
    let plugins = Plugins::for_worker(&config);
    for props in &connector_configs {
        let name = props.get("name").cloned().unwrap_or_default();
        crate::connector_config::validate(&plugins, &config.providers.resolve(props)?).with_context(|| format!("invalid config for connector {name}"))?;
    }

    let rest = RestListener::bind(&config)?;
    let worker_id = rest.worker_id.clone();

    let kafka_cluster_id = check_broker(&config).await?;
    let (registry_stop, registry_stop_rx) = tokio::sync::watch::channel(false);
    let registry = crate::schema_registry::start(&config, registry_stop_rx).await?;
    let offsets = Arc::new(OffsetStore::open(Box::new(FileOffsetBackingStore::new(config.get(crate::worker_config::OFFSET_STORAGE_FILE_FILENAME))))?);
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

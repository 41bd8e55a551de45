//! Distributed mode (`sluice distributed worker.properties`, Connect's `connect-distributed`):
//! workers with the same `group.id` form a cluster through Kafka's group coordinator, share
//! the connectors and tasks, and keep all state in three Kafka topics, in Kafka Connect's
//! formats:
//!
//! - `config.storage.topic` (1 partition): connector configs, task configs, target states
//!   ([`config_log`]);
//! - `offset.storage.topic` (`offset.storage.partitions`, default 25): source offsets
//!   ([`offset_log`]);
//! - `status.storage.topic` (`status.storage.partitions`, default 5): connector and task
//!   states ([`status_log`]).
//!
//! They are created at start (with `*.replication.factor`, `cleanup.policy=compact`) and read
//! to the end before the worker joins. [`membership`] speaks the group protocol, the leader
//! assigns with [`assignor`] (incremental cooperative, KIP-415, with
//! `scheduled.rebalance.max.delay.ms` for departed workers), [`member`] runs the rebalance
//! loop, [`work`] starts and stops what this worker owns, and [`herder`] serves the REST API
//! (writes go to the leader). Group metadata is JSON ([`protocol`]): a group mixing Java
//! Connect and Sluice workers is not supported.

pub mod assignor;
pub mod config_log;
pub mod herder;
pub mod member;
pub mod membership;
pub mod offset_log;
pub mod protocol;
pub mod status_log;
pub mod topic_log;
pub mod work;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use crate::executor::WorkerContext;
use crate::plugins::Plugins;
use crate::process::{RestListener, check_broker, wait_for_signal};
use crate::status::StatusStore;
use crate::worker::Worker;
use crate::worker_config as wc;
use crate::worker_config::{Mode, WorkerConfig};
use config_log::{ConfigChange, ConfigState};
use herder::DistributedHerder;
use membership::{MemberConfig, Membership};
use topic_log::TopicLog;

/// Runs a distributed worker until SIGINT/SIGTERM.
pub async fn run(worker_path: PathBuf) -> anyhow::Result<()> {
    let config = WorkerConfig::load(&worker_path, Mode::Distributed)?;
    let rest = RestListener::bind(&config)?;
    let kafka_cluster_id = check_broker(&config).await?;
    topic_log::create_internal_topics(&config).await.context("cannot create the internal topics")?;

    // Config topic: state + change events for the rebalance loop.
    let state = Arc::new(Mutex::new(ConfigState::default()));
    let (change_tx, change_rx) = tokio::sync::mpsc::unbounded_channel::<ConfigChange>();
    let apply_state = state.clone();
    let config_log = Arc::new(TopicLog::start(
        &config,
        &config.get(wc::CONFIG_STORAGE_TOPIC),
        Box::new(move |_p, offset, key, value| {
            let Some(key) = key.and_then(|k| std::str::from_utf8(k).ok()) else { return };
            let change = apply_state.lock().ok().and_then(|mut s| s.apply(offset, key, value));
            if let Some(c) = change {
                let _ = change_tx.send(c);
            }
        }),
    )?);
    config_log.read_to_end(Duration::from_secs(60)).await.context("cannot read the config topic")?;

    let (offsets, offset_log) = offset_log::open(&config).await.context("cannot read the offset topic")?;
    let status = Arc::new(StatusStore::default());
    let generation = Arc::new(AtomicI32::new(-1));
    let (status_log, skip_own) = status_log::start(&config, status.clone(), &rest.worker_id, generation.clone())?;
    status_log.read_to_end(Duration::from_secs(60)).await.context("cannot read the status topic")?;
    skip_own.store(true, Ordering::Release);

    let ms = |v: i32| Duration::from_millis(v.max(1) as u64);
    let member_config = MemberConfig {
        bootstrap: config.get(wc::BOOTSTRAP_SERVERS),
        group_id: config.get(wc::GROUP_ID),
        client_id: format!("sluice-{}", rest.worker_id),
        session_timeout: ms(config.get(wc::SESSION_TIMEOUT_MS)),
        rebalance_timeout: ms(config.get(wc::REBALANCE_TIMEOUT_MS)),
        heartbeat_interval: ms(config.get(wc::HEARTBEAT_INTERVAL_MS)),
    };
    let max_delay_ms = config.get(wc::SCHEDULED_REBALANCE_MAX_DELAY_MS).max(0) as u64;
    let membership = Arc::new(Membership::new(member_config));
    membership.find_coordinator().await.map_err(|e| anyhow::anyhow!("cannot find the group coordinator of group {}: {e}", config.get(wc::GROUP_ID)))?;

    // Every worker of the cluster serves the same registry (backed by the `_schemas` topic).
    let (registry_stop, registry_stop_rx) = tokio::sync::watch::channel(false);
    let registry = crate::schema_registry::start(&config, registry_stop_rx).await?;

    let plugins = Plugins::for_worker(&config);
    let worker_id = rest.worker_id.clone();
    let url = rest.url.clone();
    let ctx = Arc::new(WorkerContext { config, plugins, offsets, status, worker_id, kafka_cluster_id });
    let herder = Arc::new(DistributedHerder::new(Worker::new(ctx), config_log, offset_log, state, url, generation));
    let (rest_stop, rest_task) = rest.serve(herder.clone());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let member_task = tokio::spawn(member::run(herder.clone(), membership, change_rx, stop_rx, max_delay_ms));
    tracing::info!(url = %herder.url, "sluice distributed worker started");

    wait_for_signal().await?;
    tracing::info!("stopping: tasks stop, offsets flush, the worker leaves the group");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(60), member_task).await;
    let _ = rest_stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), rest_task).await;
    drop(status_log);
    let _ = registry_stop.send(true);
    if let Some(registry) = registry {
        let _ = tokio::time::timeout(Duration::from_secs(5), registry).await;
    }
    tracing::info!("sluice stopped");
    Ok(())
}

//! Task executors (Connect's `WorkerSourceTask` / `WorkerSinkTask`): each task runs as one
//! tokio task that drives the connector's task through its lifecycle, moves its records
//! between the task and Kafka, and reports its state to the [`StatusStore`].

pub mod dlq;
pub mod errors;
pub mod sink;
pub mod source;
pub mod transform_chain;

use std::sync::Arc;
use std::time::Duration;

use sluice_rest_api::ConnectorState;
use sluice_sdk::{ConnectError, ConnectResult, Converter, Props};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::offset_store::OffsetStore;
use crate::plugins::{ConnectorFactory, ConnectorPlugin, Plugins};
use crate::status::{Status, StatusStore};
use crate::worker_config::WorkerConfig;

/// `key.converter` or `value.converter` ([`crate::worker_config::KEY_CONVERTER`], ...).
pub type ConverterKey = sluice_sdk::config_keys::Key<sluice_sdk::config_keys::kind::Class>;

/// What every task of a worker shares.
pub struct WorkerContext {
    pub config: WorkerConfig,
    pub plugins: Plugins,
    pub offsets: Arc<OffsetStore>,
    pub status: Arc<StatusStore>,
    /// `host:port` of this worker's REST listener, as Connect reports `worker_id`.
    pub worker_id: String,
    /// The Kafka cluster's id, for `GET /`.
    pub kafka_cluster_id: Option<String>,
}

impl WorkerContext {
    pub fn task_status(&self, connector: &str, task: u32, state: ConnectorState, trace: Option<String>) {
        self.status.put_task(connector, task, Status { state, trace, worker_id: self.worker_id.clone() });
    }

    /// The class name of a connector's key or value converter (its own or the worker's).
    pub fn converter_class(&self, connector_props: &Props, key: ConverterKey) -> String {
        connector_props.get(&*key).map(|s| s.trim()).filter(|s| !s.is_empty()).map_or_else(|| self.config.get(key), str::to_string)
    }

    /// The key or value converter of a connector: its own `key.converter` (configured with its
    /// `key.converter.*` keys) or else the worker's.
    pub fn converter(&self, connector_props: &Props, key: ConverterKey) -> ConnectResult<Box<dyn Converter>> {
        let own = connector_props.get(&*key).map(|s| s.trim()).filter(|s| !s.is_empty());
        let (class, props) = match own {
            Some(class) => (class.to_string(), sluice_sdk::config::strip_prefix(connector_props, &format!("{key}."))),
            None => (self.config.get(key), self.config.client_overrides(&format!("{key}."))),
        };
        let mut conv = self.plugins.converter(&class).map_err(|e| ConnectError::config(&*key, e.to_string()))?;
        conv.configure(&props, key.name() == crate::worker_config::KEY_CONVERTER.name())?;
        Ok(conv)
    }
}

/// The identity of a task.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub connector: String,
    pub task_id: u32,
    /// The task's own config, as the connector produced it.
    pub task_props: Props,
    /// The connector's config, resolved.
    pub connector_props: Props,
}

/// A running task: pause it with [`TaskHandle::set_paused`], stop it with [`TaskHandle::stop`].
pub struct TaskHandle {
    pub task_id: u32,
    shutdown: watch::Sender<bool>,
    paused: watch::Sender<bool>,
    join: JoinHandle<()>,
}

impl TaskHandle {
    /// PAUSED: a source stops polling, a sink pauses its partitions (it stays in its group).
    pub fn set_paused(&self, paused: bool) {
        let _ = self.paused.send(paused);
    }

    /// Asks the task to stop and waits for it (at most `timeout`, then it is aborted).
    pub async fn stop(self, timeout: Duration) {
        let _ = self.shutdown.send(true);
        let abort = self.join.abort_handle();
        if tokio::time::timeout(timeout, self.join).await.is_err() {
            tracing::warn!(task = self.task_id, "task did not stop in time; aborting it");
            abort.abort();
        }
    }
}

/// Starts one task of `plugin` on the runtime, paused or not.
pub fn spawn_task(ctx: Arc<WorkerContext>, plugin: &ConnectorPlugin, spec: TaskSpec, paused: bool) -> TaskHandle {
    let (tx, rx) = watch::channel(false);
    let (paused_tx, paused_rx) = watch::channel(paused);
    let task_id = spec.task_id;
    ctx.task_status(&spec.connector, task_id, ConnectorState::Unassigned, None);
    let join = match &plugin.factory {
        ConnectorFactory::Source { task, .. } => tokio::spawn(source::run(ctx, spec, task(), rx, paused_rx)),
        ConnectorFactory::Sink { task, .. } => tokio::spawn(sink::run(ctx, spec, task(), rx, paused_rx)),
    };
    TaskHandle { task_id, shutdown: tx, paused: paused_tx, join }
}

/// How long to wait before retry number `attempt` (0-based): 100 ms doubling, capped.
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(16))).min(max)
}

//! The `Worker` (Connect's `Worker`): starts and stops connector instances and tasks in this
//! process and relays target states (running / paused) to them. It keeps no configuration of
//! its own: herders decide what runs, the worker runs it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sluice_rest_api::{ConnectorState, ConnectorType};
use sluice_sdk::{ConnectResult, Connector, ConnectorContext, Props};
use tokio::sync::Mutex;

use crate::executor::{TaskHandle, TaskSpec, WorkerContext, spawn_task};
use crate::plugins::{ConnectorFactory, ConnectorPlugin};
use crate::status::Status;

struct RunningConnector {
    instance: Box<dyn Connector>,
}

/// Connectors and tasks running in this process.
pub struct Worker {
    pub ctx: Arc<WorkerContext>,
    connectors: Mutex<HashMap<String, RunningConnector>>,
    tasks: Mutex<BTreeMap<(String, u32), TaskHandle>>,
}

struct WorkerConnectorContext {
    name: String,
    ctx: Weak<WorkerContext>,
}

impl ConnectorContext for WorkerConnectorContext {
    fn request_task_reconfiguration(&self) {
        tracing::warn!(connector = %self.name, "task reconfiguration requested; it is applied at the connector's next restart or config update");
    }

    fn raise_error(&self, message: String) {
        if let Some(ctx) = self.ctx.upgrade() {
            tracing::error!(connector = %self.name, %message, "connector failed");
            ctx.status.put_connector(&self.name, Status { state: ConnectorState::Failed, trace: Some(message), worker_id: ctx.worker_id.clone() });
        }
    }
}

/// Whether a plugin makes source or sink connectors.
pub fn connector_type(plugin: &ConnectorPlugin) -> ConnectorType {
    match &plugin.factory {
        ConnectorFactory::Source { .. } => ConnectorType::Source,
        ConnectorFactory::Sink { .. } => ConnectorType::Sink,
    }
}

impl Worker {
    pub fn new(ctx: Arc<WorkerContext>) -> Worker {
        Worker { ctx, connectors: Mutex::new(HashMap::new()), tasks: Mutex::new(BTreeMap::new()) }
    }

    fn connector_status(&self, name: &str, state: ConnectorState, trace: Option<String>) {
        self.ctx.status.put_connector(name, Status { state, trace, worker_id: self.ctx.worker_id.clone() });
    }

    /// Starts a connector instance with its resolved config and returns its task configs.
    /// A failure marks the connector FAILED (with the reason) and is returned.
    pub async fn start_connector(&self, name: &str, plugin: &ConnectorPlugin, props: &Props, max_tasks: usize, paused: bool) -> ConnectResult<Vec<Props>> {
        self.stop_connector(name).await;
        let mut instance: Box<dyn Connector> = match &plugin.factory {
            ConnectorFactory::Source { connector, .. } => connector(),
            ConnectorFactory::Sink { connector, .. } => connector(),
        };
        let cctx = Arc::new(WorkerConnectorContext { name: name.to_string(), ctx: Arc::downgrade(&self.ctx) });
        let started = async {
            instance.start(props.clone(), cctx).await?;
            instance.task_configs(max_tasks)
        }
        .await;
        match started {
            Ok(task_configs) => {
                self.connector_status(name, if paused { ConnectorState::Paused } else { ConnectorState::Running }, None);
                self.connectors.lock().await.insert(name.to_string(), RunningConnector { instance });
                tracing::info!(connector = name, class = %plugin.desc.class, tasks = task_configs.len(), "connector started");
                Ok(task_configs)
            }
            Err(e) => {
                instance.stop().await;
                self.connector_status(name, ConnectorState::Failed, Some(format!("{}: {e}", e.class_name())));
                Err(e)
            }
        }
    }

    /// Stops a connector instance (not its tasks).
    pub async fn stop_connector(&self, name: &str) {
        let running = self.connectors.lock().await.remove(name);
        if let Some(mut c) = running {
            c.instance.stop().await;
            tracing::info!(connector = name, "connector stopped");
        }
    }

    /// Starts task `id` of a connector.
    pub async fn start_task(&self, plugin: &ConnectorPlugin, spec: TaskSpec, paused: bool) {
        let key = (spec.connector.clone(), spec.task_id);
        self.stop_task(&key.0, key.1).await;
        let handle = spawn_task(self.ctx.clone(), plugin, spec, paused);
        self.tasks.lock().await.insert(key, handle);
    }

    /// Stops one task, waiting for it to flush (bounded by the graceful timeout).
    pub async fn stop_task(&self, connector: &str, id: u32) {
        let handle = self.tasks.lock().await.remove(&(connector.to_string(), id));
        if let Some(h) = handle {
            h.stop(self.stop_timeout()).await;
        }
    }

    /// Stops every task of a connector, in parallel.
    pub async fn stop_tasks(&self, connector: &str) {
        let handles: Vec<TaskHandle> = {
            let mut tasks = self.tasks.lock().await;
            let keys: Vec<_> = tasks.keys().filter(|(c, _)| c == connector).cloned().collect();
            keys.iter().filter_map(|k| tasks.remove(k)).collect()
        };
        let timeout = self.stop_timeout();
        futures::future::join_all(handles.into_iter().map(|h| h.stop(timeout))).await;
    }

    /// Task ids of a connector running here.
    pub async fn task_ids(&self, connector: &str) -> Vec<u32> {
        self.tasks.lock().await.keys().filter(|(c, _)| c == connector).map(|(_, id)| *id).collect()
    }

    /// Pauses or resumes the running tasks of a connector.
    pub async fn set_paused(&self, connector: &str, paused: bool) {
        for ((c, _), h) in self.tasks.lock().await.iter() {
            if c == connector {
                h.set_paused(paused);
            }
        }
        if self.connectors.lock().await.contains_key(connector) {
            self.connector_status(connector, if paused { ConnectorState::Paused } else { ConnectorState::Running }, None);
        }
    }

    /// Stops everything (worker shutdown): tasks first, they flush and commit.
    pub async fn stop_all(&self) {
        let handles: Vec<TaskHandle> = std::mem::take(&mut *self.tasks.lock().await).into_values().collect();
        let timeout = self.stop_timeout();
        futures::future::join_all(handles.into_iter().map(|h| h.stop(timeout))).await;
        let names: Vec<String> = self.connectors.lock().await.keys().cloned().collect();
        for n in names {
            self.stop_connector(&n).await;
        }
    }

    fn stop_timeout(&self) -> Duration {
        Duration::from_millis(self.ctx.config.get(crate::worker_config::TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS).max(0) as u64 + 5000)
    }
}

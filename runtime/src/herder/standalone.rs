//! `StandaloneHerder`: one worker, connector configs in memory (given on the command line or
//! through the REST API), source offsets in a local file. Every connector and task runs on the
//! [`Worker`] of this process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use sluice_rest_api::{
    ConfigInfos, ConfigMap, ConnectorInfo, ConnectorOffsets, ConnectorState, ConnectorStateInfo, ConnectorTaskId, Created, Herder, Message, RestError,
    ServerInfo, TargetState, TaskInfo, TaskStateInfo, WorkerStatus,
};
use sluice_sdk::{ConnectError, Props};
use tokio::sync::Mutex;

use super::{common, offsets};
use crate::connector_config;
use crate::executor::TaskSpec;
use crate::plugins::ConnectorPlugin;
use crate::status::Status;
use crate::worker::{Worker, connector_type};

/// What the herder knows of one connector.
struct ConnectorEntry {
    /// The config as supplied (config provider references unresolved).
    config: Props,
    plugin: ConnectorPlugin,
    target: TargetState,
    /// The task configs the connector produced at its last start.
    task_configs: Vec<Props>,
}

/// The herder of `sluice standalone`.
pub struct StandaloneHerder {
    worker: Worker,
    connectors: Mutex<BTreeMap<String, ConnectorEntry>>,
    started: AtomicBool,
}

impl StandaloneHerder {
    pub fn new(worker: Worker) -> StandaloneHerder {
        StandaloneHerder { worker, connectors: Mutex::new(BTreeMap::new()), started: AtomicBool::new(false) }
    }

    /// Marks startup complete (`GET /health` turns healthy).
    pub fn set_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// Creates a connector from a config file at startup; errors name the offending key.
    pub async fn create_connector(&self, raw: Props) -> Result<(), ConnectError> {
        let name = raw.get("name").cloned().unwrap_or_default();
        self.put_connector_config(&name, raw, false, None).await.map(|_| ()).map_err(|e| ConnectError::fatal(e.message))
    }

    /// Stops every connector: tasks first (they flush and commit), then the connectors.
    pub async fn stop(&self) {
        self.worker.stop_all().await;
    }

    fn ctx(&self) -> &crate::executor::WorkerContext {
        &self.worker.ctx
    }

    /// Starts (or restarts) a connector and its tasks as its target state says.
    async fn start(&self, name: &str, entry: &mut ConnectorEntry) {
        self.worker.stop_tasks(name).await;
        self.worker.stop_connector(name).await;
        self.ctx().status.remove_tasks_from(name, 0);
        if entry.target == TargetState::Stopped {
            entry.task_configs.clear();
            self.status(name, ConnectorState::Stopped, None);
            return;
        }
        let paused = entry.target == TargetState::Paused;
        let resolved = match self.ctx().config.providers.resolve(&entry.config) {
            Ok(r) => r,
            Err(e) => {
                self.status(name, ConnectorState::Failed, Some(format!("{}: {e}", e.class_name())));
                return;
            }
        };
        let max_tasks = resolved.get("tasks.max").and_then(|t| t.trim().parse::<usize>().ok()).unwrap_or(1).max(1);
        match self.worker.start_connector(name, &entry.plugin, &resolved, max_tasks, paused).await {
            Ok(task_configs) => {
                for (i, task_props) in task_configs.iter().enumerate() {
                    let spec = TaskSpec { connector: name.to_string(), task_id: i as u32, task_props: task_props.clone(), connector_props: resolved.clone() };
                    self.worker.start_task(&entry.plugin, spec, paused).await;
                }
                entry.task_configs = task_configs;
            }
            Err(e) => {
                tracing::error!(connector = name, error = %e, "connector failed to start");
                entry.task_configs.clear();
            }
        }
    }

    fn status(&self, name: &str, state: ConnectorState, trace: Option<String>) {
        self.ctx().status.put_connector(name, Status { state, trace, worker_id: self.ctx().worker_id.clone() });
    }

    fn info(name: &str, entry: &ConnectorEntry) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            config: connector_config::mask_passwords(Some(&entry.plugin), &entry.config),
            tasks: (0..entry.task_configs.len() as u32).map(|task| ConnectorTaskId { connector: name.to_string(), task }).collect(),
            connector_type: connector_type(&entry.plugin),
        }
    }

    async fn with_entry<T>(&self, name: &str, f: impl FnOnce(&ConnectorEntry) -> T) -> Result<T, RestError> {
        self.connectors.lock().await.get(name).map(f).ok_or_else(|| RestError::connector_not_found(name))
    }

    async fn require_stopped(&self, name: &str) -> Result<(ConnectorPlugin, Props), RestError> {
        let (plugin, config, target) = self.with_entry(name, |e| (e.plugin.clone(), e.config.clone(), e.target)).await?;
        Ok((plugin, common::require_stopped(self.ctx(), name, target, &config)?))
    }
}

#[async_trait::async_trait]
impl Herder for StandaloneHerder {
    fn server_info(&self) -> ServerInfo {
        common::server_info(self.ctx())
    }

    fn health(&self) -> Result<WorkerStatus, RestError> {
        common::health(self.started.load(Ordering::Acquire))
    }

    async fn connectors(&self) -> Result<Vec<String>, RestError> {
        Ok(self.connectors.lock().await.keys().cloned().collect())
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, RestError> {
        self.with_entry(name, |e| Self::info(name, e)).await
    }

    async fn connector_config(&self, name: &str) -> Result<ConfigMap, RestError> {
        self.with_entry(name, |e| connector_config::mask_passwords(Some(&e.plugin), &e.config)).await
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError> {
        let ty = self.with_entry(name, |e| connector_type(&e.plugin)).await?;
        self.ctx().status.connector_state_info(name, ty).ok_or_else(|| RestError::connector_not_found(name))
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> Result<Created<ConnectorInfo>, RestError> {
        let plugin = common::validate_for_put(&self.ctx().plugins, &self.ctx().config.providers, &config)?;
        let mut connectors = self.connectors.lock().await;
        let existing = connectors.remove(name);
        if existing.is_some() && !allow_replace {
            if let Some(e) = existing {
                connectors.insert(name.to_string(), e);
            }
            return Err(RestError::conflict(format!("Connector {name} already exists")));
        }
        let created = existing.is_none();
        let target = match (&existing, initial_state) {
            (Some(e), _) => e.target,
            (None, Some(s)) => s.normalized(),
            (None, None) => TargetState::Started,
        };
        let mut entry = ConnectorEntry { config, plugin, target, task_configs: Vec::new() };
        self.start(name, &mut entry).await;
        let info = Self::info(name, &entry);
        connectors.insert(name.to_string(), entry);
        Ok(Created { created, result: info })
    }

    async fn patch_connector_config(&self, name: &str, patch: BTreeMap<String, Option<String>>) -> Result<ConnectorInfo, RestError> {
        let mut config = self.with_entry(name, |e| e.config.clone()).await?;
        for (k, v) in patch {
            match v {
                Some(v) => config.insert(k, v),
                None => config.remove(&k),
            };
        }
        self.put_connector_config(name, config, true, None).await.map(|c| c.result)
    }

    async fn delete_connector(&self, name: &str) -> Result<(), RestError> {
        let mut connectors = self.connectors.lock().await;
        if connectors.remove(name).is_none() {
            return Err(RestError::connector_not_found(name));
        }
        self.worker.stop_tasks(name).await;
        self.worker.stop_connector(name).await;
        self.ctx().status.remove_connector(name);
        tracing::info!(connector = name, "connector deleted");
        Ok(())
    }

    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), RestError> {
        let state = state.normalized();
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| RestError::connector_not_found(name))?;
        let previous = entry.target;
        entry.target = state;
        match (previous, state) {
            (a, b) if a == b => {}
            // From or to STOPPED the connector and its tasks are (re)built.
            (TargetState::Stopped, _) | (_, TargetState::Stopped) => self.start(name, entry).await,
            (_, TargetState::Paused) => self.worker.set_paused(name, true).await,
            (_, _) => self.worker.set_paused(name, false).await,
        }
        tracing::info!(connector = name, ?state, "target state changed");
        Ok(())
    }

    async fn restart_connector(&self, name: &str) -> Result<(), RestError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| RestError::connector_not_found(name))?;
        if entry.target == TargetState::Stopped {
            return Ok(());
        }
        let resolved = self.ctx().config.providers.resolve(&entry.config).map_err(|e| RestError::bad_request(e.to_string()))?;
        let max_tasks = entry.task_configs.len().max(1);
        // The instance only: the running tasks keep their configs.
        let _ = self.worker.start_connector(name, &entry.plugin, &resolved, max_tasks, entry.target == TargetState::Paused).await;
        Ok(())
    }

    async fn restart_connector_and_tasks(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<ConnectorStateInfo, RestError> {
        let mut status = self.connector_status(name).await?;
        let restart_connector = !only_failed || status.connector.state == ConnectorState::Failed;
        let tasks: Vec<u32> = status.tasks.iter().filter(|t| include_tasks && (!only_failed || t.state == ConnectorState::Failed)).map(|t| t.id).collect();
        if restart_connector {
            status.connector.state = ConnectorState::Restarting;
        }
        for t in status.tasks.iter_mut().filter(|t| tasks.contains(&t.id)) {
            t.state = ConnectorState::Restarting;
        }
        if restart_connector {
            self.restart_connector(name).await?;
        }
        for id in tasks {
            self.restart_task(name, id).await?;
        }
        Ok(status)
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, RestError> {
        self.with_entry(name, |e| {
            e.task_configs
                .iter()
                .enumerate()
                .map(|(i, c)| TaskInfo {
                    id: ConnectorTaskId { connector: name.to_string(), task: i as u32 },
                    config: connector_config::mask_passwords(Some(&e.plugin), c),
                })
                .collect()
        })
        .await
    }

    async fn task_status(&self, name: &str, task: u32) -> Result<TaskStateInfo, RestError> {
        self.with_entry(name, |_| ()).await?;
        let s = self
            .ctx()
            .status
            .task(name, task)
            .ok_or_else(|| RestError::new(axum::http::StatusCode::NOT_FOUND, format!("No status found for task {name}-{task}")))?;
        Ok(TaskStateInfo { id: task, state: s.state, worker_id: s.worker_id, trace: s.trace })
    }

    async fn restart_task(&self, name: &str, task: u32) -> Result<(), RestError> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| RestError::connector_not_found(name))?;
        let task_props = entry
            .task_configs
            .get(task as usize)
            .cloned()
            .ok_or_else(|| RestError::new(axum::http::StatusCode::NOT_FOUND, format!("Task {name}-{task} not found")))?;
        let resolved = self.ctx().config.providers.resolve(&entry.config).map_err(|e| RestError::bad_request(e.to_string()))?;
        let spec = TaskSpec { connector: name.to_string(), task_id: task, task_props, connector_props: resolved };
        self.worker.start_task(&entry.plugin, spec, entry.target == TargetState::Paused).await;
        Ok(())
    }

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>, RestError> {
        self.with_entry(name, |_| ()).await?;
        Ok(self.ctx().status.topics(name))
    }

    async fn reset_connector_topics(&self, name: &str) -> Result<(), RestError> {
        self.with_entry(name, |_| ()).await?;
        self.ctx().status.reset_topics(name);
        Ok(())
    }

    async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets, RestError> {
        let (plugin, config) = self.with_entry(name, |e| (e.plugin.clone(), e.config.clone())).await?;
        let resolved = self.ctx().config.providers.resolve(&config).map_err(|e| RestError::bad_request(e.to_string()))?;
        offsets::get(self.ctx(), name, &plugin, &resolved).await
    }

    async fn alter_connector_offsets(&self, name: &str, new: ConnectorOffsets) -> Result<Message, RestError> {
        let (plugin, resolved) = self.require_stopped(name).await?;
        offsets::alter(self.ctx(), name, &plugin, &resolved, new).await
    }

    async fn reset_connector_offsets(&self, name: &str) -> Result<Message, RestError> {
        let (plugin, resolved) = self.require_stopped(name).await?;
        offsets::reset(self.ctx(), name, &plugin, &resolved).await
    }

    crate::herder::common::plugin_and_logger_methods!();

    async fn validate_connector_config(&self, plugin: &str, config: ConfigMap) -> Result<ConfigInfos, RestError> {
        common::validate(&self.ctx().plugins, &self.ctx().config.providers, plugin, config)
    }
}

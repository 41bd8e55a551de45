//! `DistributedHerder`: the REST API of a cluster member. Reads are answered from the config
//! topic's state ([`ConfigState`]) and the status topic; writes are applied by the leader, which
//! appends them to the config topic — other workers forward them to the leader's URL, as
//! Connect's `forward` does. While a rebalance is in progress, or no leader is known, writes
//! answer 409 as in Connect. Restarts go to the worker that runs the connector or task.
//!
//! Limits: forwarded requests carry no credentials (REST authentication must let workers reach
//! each other); `GET /connectors/{name}/topics` shows the topics seen by this worker only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sluice_rest_api::{
    ConfigInfos, ConfigMap, ConnectorInfo, ConnectorOffsets, ConnectorState, ConnectorStateInfo, ConnectorTaskId, Created, Herder, Message, RestError,
    ServerInfo, TargetState, TaskInfo, TaskStateInfo, WorkerStatus,
};
use sluice_sdk::Props;

use super::config_log::{self, ConfigState};
use super::protocol::WorkId;
use super::topic_log::TopicLog;
use crate::connector_config;
use crate::executor::WorkerContext;
use crate::herder::{common, offsets};
use crate::plugins::ConnectorPlugin;
use crate::worker::{Worker, connector_type};

const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What this worker knows of the group.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    pub rebalancing: bool,
    pub is_leader: bool,
    pub leader_url: Option<String>,
    pub generation: i32,
}

/// The herder of `sluice distributed`.
pub struct DistributedHerder {
    pub worker: Worker,
    pub config_log: Arc<TopicLog>,
    pub offset_log: Arc<TopicLog>,
    pub state: Arc<Mutex<ConfigState>>,
    pub view: Mutex<ClusterView>,
    /// What this worker runs (connectors and tasks), with the task configs it started with.
    pub running: tokio::sync::Mutex<BTreeMap<WorkId, Props>>,
    pub url: String,
    pub generation: Arc<AtomicI32>,
    pub started: AtomicBool,
    http: reqwest::Client,
}

fn conflict_rebalance() -> RestError {
    RestError::conflict("Cannot complete request because of a conflicting operation (e.g. worker rebalance)")
}

impl DistributedHerder {
    pub fn new(
        worker: Worker,
        config_log: Arc<TopicLog>,
        offset_log: Arc<TopicLog>,
        state: Arc<Mutex<ConfigState>>,
        url: String,
        generation: Arc<AtomicI32>,
    ) -> DistributedHerder {
        let http = reqwest::Client::builder().timeout(WRITE_TIMEOUT).build().unwrap_or_default();
        DistributedHerder {
            worker,
            config_log,
            offset_log,
            state,
            view: Mutex::new(ClusterView { rebalancing: true, ..Default::default() }),
            running: tokio::sync::Mutex::new(BTreeMap::new()),
            url,
            generation,
            started: AtomicBool::new(false),
            http,
        }
    }

    pub fn ctx(&self) -> &WorkerContext {
        &self.worker.ctx
    }

    pub fn snapshot(&self) -> ConfigState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn view(&self) -> ClusterView {
        self.view.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn plugin(&self, config: &Props) -> Option<ConnectorPlugin> {
        connector_config::plugin_of(&self.ctx().plugins, config).ok()
    }

    fn config_of(&self, name: &str) -> Result<Props, RestError> {
        self.snapshot().connectors.get(name).cloned().ok_or_else(|| RestError::connector_not_found(name))
    }

    /// `None`: this worker is the leader and applies the write. `Some(url)`: forward to it.
    fn write_route(&self) -> Result<Option<String>, RestError> {
        let v = self.view();
        if v.rebalancing {
            return Err(conflict_rebalance());
        }
        if v.is_leader {
            return Ok(None);
        }
        v.leader_url.map(Some).ok_or_else(conflict_rebalance)
    }

    /// Sends a request to another worker and returns its status and JSON body.
    async fn forward_raw(&self, base: &str, method: reqwest::Method, path: &str, body: Option<serde_json::Value>) -> Result<(u16, String), RestError> {
        let url = format!("{}{path}", base.trim_end_matches('/'));
        tracing::debug!(%url, %method, "forwarding a request");
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| RestError::conflict(format!("cannot forward the request to {url}: {e}")))?;
        let code = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| RestError::internal(format!("cannot read the answer of {url}: {e}")))?;
        if code >= 400 {
            let message = serde_json::from_str::<RestError>(&text).map(|e| e.message).unwrap_or(text);
            return Err(RestError { error_code: code, message });
        }
        Ok((code, text))
    }

    async fn forward<T: DeserializeOwned>(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, Option<T>), RestError> {
        let (code, text) = self.forward_raw(base, method, path, body).await?;
        let parsed = if text.trim().is_empty() { None } else { serde_json::from_str(&text).ok() };
        Ok((code, parsed))
    }

    /// Appends records to the config topic and waits until this worker has read them back.
    async fn append(&self, records: Vec<(String, Option<Vec<u8>>)>) -> Result<(), RestError> {
        let mut last = None;
        for (k, v) in records {
            last = Some(self.config_log.send(k.as_bytes(), v.as_deref()).await.map_err(|e| RestError::internal(e.to_string()))?);
        }
        if let Some((p, o)) = last {
            self.config_log.wait_applied(p, o, WRITE_TIMEOUT).await.map_err(|e| RestError::internal(e.to_string()))?;
        }
        Ok(())
    }

    fn info(&self, name: &str, state: &ConfigState) -> Result<ConnectorInfo, RestError> {
        let config = state.connectors.get(name).ok_or_else(|| RestError::connector_not_found(name))?;
        let plugin = self.plugin(config);
        Ok(ConnectorInfo {
            name: name.to_string(),
            config: connector_config::mask_passwords(plugin.as_ref(), config),
            tasks: (0..state.tasks.get(name).map(Vec::len).unwrap_or(0) as u32).map(|task| ConnectorTaskId { connector: name.to_string(), task }).collect(),
            connector_type: plugin.as_ref().map(connector_type).unwrap_or(sluice_rest_api::ConnectorType::Unknown),
        })
    }

    /// The URL of the worker running `work` (from the status topic), or `None` for this one.
    fn owner_url(&self, work: &WorkId) -> Result<Option<String>, RestError> {
        let status = match work {
            WorkId::Connector(c) => self.ctx().status.connector(c),
            WorkId::Task(c, t) => self.ctx().status.task(c, *t),
        };
        match status {
            Some(s) if s.worker_id != self.ctx().worker_id => Ok(Some(format!("http://{}", s.worker_id))),
            Some(_) => Ok(None),
            None => Err(RestError::conflict(format!("{work} is not assigned to any worker yet"))),
        }
    }

    async fn require_stopped(&self, name: &str) -> Result<(ConnectorPlugin, Props), RestError> {
        let s = self.snapshot();
        let config = s.connectors.get(name).cloned().ok_or_else(|| RestError::connector_not_found(name))?;
        let resolved = common::require_stopped(self.ctx(), name, s.target(name), &config)?;
        let plugin = self.plugin(&config).ok_or_else(|| RestError::bad_request("unknown connector class"))?;
        Ok((plugin, resolved))
    }
}

#[async_trait::async_trait]
impl Herder for DistributedHerder {
    fn server_info(&self) -> ServerInfo {
        common::server_info(self.ctx())
    }

    fn health(&self) -> Result<WorkerStatus, RestError> {
        common::health(self.started.load(Ordering::Acquire))
    }

    async fn connectors(&self) -> Result<Vec<String>, RestError> {
        Ok(self.snapshot().connectors.keys().cloned().collect())
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, RestError> {
        self.info(name, &self.snapshot())
    }

    async fn connector_config(&self, name: &str) -> Result<ConfigMap, RestError> {
        let config = self.config_of(name)?;
        Ok(connector_config::mask_passwords(self.plugin(&config).as_ref(), &config))
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError> {
        let s = self.snapshot();
        let config = s.connectors.get(name).ok_or_else(|| RestError::connector_not_found(name))?;
        let ty = self.plugin(config).as_ref().map(connector_type).unwrap_or(sluice_rest_api::ConnectorType::Unknown);
        let ntasks = s.tasks.get(name).map(Vec::len).unwrap_or(0) as u32;
        let mut info = self
            .ctx()
            .status
            .connector_state_info(name, ty)
            .ok_or_else(|| RestError::new(StatusCode::NOT_FOUND, format!("No status found for connector {name}")))?;
        info.tasks.retain(|t| t.id < ntasks);
        Ok(info)
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> Result<Created<ConnectorInfo>, RestError> {
        if let Some(leader) = self.write_route()? {
            let (code, info) = if allow_replace {
                self.forward::<ConnectorInfo>(
                    &leader,
                    reqwest::Method::PUT,
                    &format!("/connectors/{name}/config"),
                    Some(serde_json::to_value(&config).unwrap_or_default()),
                )
                .await?
            } else {
                let body = serde_json::json!({"name": name, "config": config, "initial_state": initial_state});
                self.forward::<ConnectorInfo>(&leader, reqwest::Method::POST, "/connectors", Some(body)).await?
            };
            let result = info.ok_or_else(|| RestError::internal("the leader answered without a connector"))?;
            return Ok(Created { created: code == 201, result });
        }
        common::validate_for_put(&self.ctx().plugins, &self.ctx().config.providers, &config)?;
        let exists = self.snapshot().connectors.contains_key(name);
        if exists && !allow_replace {
            return Err(RestError::conflict(format!("Connector {name} already exists")));
        }
        let mut records = Vec::new();
        if !exists {
            let state = initial_state.map(TargetState::normalized).unwrap_or(TargetState::Started);
            records.push((config_log::target_key(name), Some(config_log::target_value(state))));
        }
        records.push((config_log::connector_key(name), Some(config_log::properties_value(&config))));
        self.append(records).await?;
        tracing::info!(connector = name, created = !exists, "connector config written");
        Ok(Created { created: !exists, result: self.info(name, &self.snapshot())? })
    }

    async fn patch_connector_config(&self, name: &str, patch: BTreeMap<String, Option<String>>) -> Result<ConnectorInfo, RestError> {
        let mut config = self.config_of(name)?;
        for (k, v) in patch {
            match v {
                Some(v) => config.insert(k, v),
                None => config.remove(&k),
            };
        }
        self.put_connector_config(name, config, true, None).await.map(|c| c.result)
    }

    async fn delete_connector(&self, name: &str) -> Result<(), RestError> {
        if let Some(leader) = self.write_route()? {
            self.forward_raw(&leader, reqwest::Method::DELETE, &format!("/connectors/{name}"), None).await?;
            return Ok(());
        }
        self.config_of(name)?;
        self.append(vec![(config_log::connector_key(name), None), (config_log::target_key(name), None)]).await?;
        tracing::info!(connector = name, "connector deleted");
        Ok(())
    }

    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), RestError> {
        let state = state.normalized();
        if let Some(leader) = self.write_route()? {
            let verb = match state {
                TargetState::Paused => "pause",
                TargetState::Stopped => "stop",
                _ => "resume",
            };
            self.forward_raw(&leader, reqwest::Method::PUT, &format!("/connectors/{name}/{verb}"), None).await?;
            return Ok(());
        }
        self.config_of(name)?;
        self.append(vec![(config_log::target_key(name), Some(config_log::target_value(state)))]).await?;
        tracing::info!(connector = name, ?state, "target state written");
        Ok(())
    }

    async fn restart_connector(&self, name: &str) -> Result<(), RestError> {
        self.config_of(name)?;
        if self.view().rebalancing {
            return Err(conflict_rebalance());
        }
        if let Some(owner) = self.owner_url(&WorkId::Connector(name.to_string()))? {
            self.forward_raw(&owner, reqwest::Method::POST, &format!("/connectors/{name}/restart"), None).await?;
            return Ok(());
        }
        super::work::restart_connector(self, name).await;
        Ok(())
    }

    async fn restart_connector_and_tasks(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<ConnectorStateInfo, RestError> {
        let mut status = self.connector_status(name).await?;
        let restart_connector = !only_failed || status.connector.state == ConnectorState::Failed;
        let tasks: Vec<u32> = status.tasks.iter().filter(|t| include_tasks && (!only_failed || t.state == ConnectorState::Failed)).map(|t| t.id).collect();
        if restart_connector {
            status.connector.state = ConnectorState::Restarting;
            self.restart_connector(name).await?;
        }
        for t in status.tasks.iter_mut().filter(|t| tasks.contains(&t.id)) {
            t.state = ConnectorState::Restarting;
        }
        for id in tasks {
            self.restart_task(name, id).await?;
        }
        Ok(status)
    }

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, RestError> {
        let s = self.snapshot();
        let config = s.connectors.get(name).ok_or_else(|| RestError::connector_not_found(name))?;
        let plugin = self.plugin(config);
        Ok(s.tasks
            .get(name)
            .map(|tasks| {
                tasks
                    .iter()
                    .enumerate()
                    .map(|(i, c)| TaskInfo {
                        id: ConnectorTaskId { connector: name.to_string(), task: i as u32 },
                        config: connector_config::mask_passwords(plugin.as_ref(), c),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn task_status(&self, name: &str, task: u32) -> Result<TaskStateInfo, RestError> {
        self.config_of(name)?;
        let s = self.ctx().status.task(name, task).ok_or_else(|| RestError::new(StatusCode::NOT_FOUND, format!("No status found for task {name}-{task}")))?;
        Ok(TaskStateInfo { id: task, state: s.state, worker_id: s.worker_id, trace: s.trace })
    }

    async fn restart_task(&self, name: &str, task: u32) -> Result<(), RestError> {
        let s = self.snapshot();
        if !s.connectors.contains_key(name) {
            return Err(RestError::connector_not_found(name));
        }
        if task as usize >= s.tasks.get(name).map(Vec::len).unwrap_or(0) {
            return Err(RestError::new(StatusCode::NOT_FOUND, format!("Task {name}-{task} not found")));
        }
        if self.view().rebalancing {
            return Err(conflict_rebalance());
        }
        if let Some(owner) = self.owner_url(&WorkId::Task(name.to_string(), task))? {
            self.forward_raw(&owner, reqwest::Method::POST, &format!("/connectors/{name}/tasks/{task}/restart"), None).await?;
            return Ok(());
        }
        super::work::restart_task(self, name, task).await;
        Ok(())
    }

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>, RestError> {
        self.config_of(name)?;
        Ok(self.ctx().status.topics(name))
    }

    async fn reset_connector_topics(&self, name: &str) -> Result<(), RestError> {
        self.config_of(name)?;
        self.ctx().status.reset_topics(name);
        Ok(())
    }

    async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets, RestError> {
        let config = self.config_of(name)?;
        let plugin = self.plugin(&config).ok_or_else(|| RestError::bad_request("unknown connector class"))?;
        let resolved = self.ctx().config.providers.resolve(&config).map_err(|e| RestError::bad_request(e.to_string()))?;
        let _ = self.offset_log.read_to_end(WRITE_TIMEOUT).await;
        offsets::get(self.ctx(), name, &plugin, &resolved).await
    }

    async fn alter_connector_offsets(&self, name: &str, new: ConnectorOffsets) -> Result<Message, RestError> {
        let (plugin, resolved) = self.require_stopped(name).await?;
        offsets::alter(self.ctx(), name, &plugin, &resolved, new).await
    }

    async fn reset_connector_offsets(&self, name: &str) -> Result<Message, RestError> {
        let (plugin, resolved) = self.require_stopped(name).await?;
        let _ = self.offset_log.read_to_end(WRITE_TIMEOUT).await;
        offsets::reset(self.ctx(), name, &plugin, &resolved).await
    }

    crate::herder::common::plugin_and_logger_methods!();

    async fn validate_connector_config(&self, plugin: &str, config: ConfigMap) -> Result<ConfigInfos, RestError> {
        common::validate(&self.ctx().plugins, &self.ctx().config.providers, plugin, config)
    }
}

/// The work this worker runs, for its JoinGroup metadata.
pub async fn owned(herder: &DistributedHerder) -> BTreeSet<WorkId> {
    herder.running.lock().await.keys().cloned().collect()
}

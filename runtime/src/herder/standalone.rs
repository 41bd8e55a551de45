//! `StandaloneHerder`: connectors given on the command line, run in this one process; source
//! offsets in a local file.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sluice_rest_api::{ConnectorState, ConnectorStateInfo, ConnectorType, Herder, RestError, ServerInfo};
use sluice_sdk::{ConnectResult, Connector, ConnectorContext, Props};

use crate::connector_config;
use crate::executor::{TaskHandle, TaskSpec, WorkerContext, spawn_task};
use crate::plugins::ConnectorFactory;
use crate::status::Status;

struct RunningConnector {
    connector_type: ConnectorType,
    instance: Box<dyn Connector>,
    tasks: Vec<TaskHandle>,
}

/// The herder of `sluice standalone`.
pub struct StandaloneHerder {
    ctx: Arc<WorkerContext>,
    connectors: tokio::sync::Mutex<BTreeMap<String, RunningConnector>>,
}

struct StandaloneConnectorContext {
    name: String,
    ctx: Weak<WorkerContext>,
}

impl ConnectorContext for StandaloneConnectorContext {
    fn request_task_reconfiguration(&self) {
        tracing::warn!(connector = %self.name, "task reconfiguration requested; standalone mode applies it at the next restart");
    }

    fn raise_error(&self, message: String) {
        if let Some(ctx) = self.ctx.upgrade() {
            tracing::error!(connector = %self.name, %message, "connector failed");
            ctx.status.put_connector(&self.name, Status { state: ConnectorState::Failed, trace: Some(message), worker_id: ctx.worker_id.clone() });
        }
    }
}

impl StandaloneHerder {
    pub fn new(ctx: Arc<WorkerContext>) -> StandaloneHerder {
        StandaloneHerder { ctx, connectors: tokio::sync::Mutex::new(BTreeMap::new()) }
    }

    /// Validates, starts a connector and its tasks. Errors name the offending config key.
    pub async fn create_connector(&self, raw: Props) -> ConnectResult<()> {
        let resolved = self.ctx.config.providers.resolve(&raw)?;
        let validated = connector_config::validate(&self.ctx.plugins, &resolved)?;
        let name = validated.parsed.string("name")?;
        let max_tasks = validated.parsed.int("tasks.max")?.max(1) as usize;
        let (mut instance, connector_type): (Box<dyn Connector>, _) = match &validated.plugin.factory {
            ConnectorFactory::Source { connector, .. } => (connector(), ConnectorType::Source),
            ConnectorFactory::Sink { connector, .. } => (connector(), ConnectorType::Sink),
        };
        let cctx = Arc::new(StandaloneConnectorContext { name: name.clone(), ctx: Arc::downgrade(&self.ctx) });
        instance.start(resolved.clone(), cctx).await?;
        let task_configs = instance.task_configs(max_tasks)?;
        self.ctx.status.put_connector(&name, Status { state: ConnectorState::Running, trace: None, worker_id: self.ctx.worker_id.clone() });
        let tasks = task_configs
            .into_iter()
            .enumerate()
            .map(|(i, task_props)| {
                let spec = TaskSpec { connector: name.clone(), task_id: i as u32, task_props, connector_props: resolved.clone() };
                spawn_task(self.ctx.clone(), &validated.plugin, spec)
            })
            .collect::<Vec<_>>();
        tracing::info!(connector = %name, class = %validated.plugin.desc.class, tasks = tasks.len(), "connector started");
        self.connectors.lock().await.insert(name, RunningConnector { connector_type, instance, tasks });
        Ok(())
    }

    /// Stops every connector: tasks first (they flush and commit), then the connector.
    pub async fn stop(&self) {
        let timeout = Duration::from_millis(self.ctx.config.long("task.shutdown.graceful.timeout.ms").max(0) as u64 + 5000);
        let mut connectors = self.connectors.lock().await;
        for (name, mut c) in std::mem::take(&mut *connectors) {
            futures::future::join_all(c.tasks.drain(..).map(|t| t.stop(timeout))).await;
            c.instance.stop().await;
            tracing::info!(connector = %name, "connector stopped");
        }
    }
}

#[async_trait::async_trait]
impl Herder for StandaloneHerder {
    fn server_info(&self) -> ServerInfo {
        ServerInfo { version: crate::cli::VERSION.to_string(), commit: crate::cli::COMMIT.to_string(), kafka_cluster_id: None }
    }

    async fn connectors(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError> {
        let connector_type = self.connectors.lock().await.get(name).map(|c| c.connector_type).ok_or_else(|| RestError::connector_not_found(name))?;
        self.ctx.status.connector_state_info(name, connector_type).ok_or_else(|| RestError::connector_not_found(name))
    }
}

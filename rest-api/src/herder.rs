//! The [`Herder`] trait: everything the REST API asks of a worker. Standalone and distributed
//! herders implement it; routes never change between modes.

use std::collections::BTreeMap;

use crate::RestError;
use crate::types::*;

/// The result of a create-or-update: whether the connector was new.
#[derive(Debug, Clone)]
pub struct Created<T> {
    pub created: bool,
    pub result: T,
}

/// Kafka Connect's `Herder`, as far as the REST API needs it. Every method that names a
/// connector fails with 404 ([`RestError::connector_not_found`]) when it does not exist.
#[async_trait::async_trait]
pub trait Herder: Send + Sync + 'static {
    /// `GET /`.
    fn server_info(&self) -> ServerInfo;
    /// `GET /health`: `Err` (503) until the worker finished starting.
    fn health(&self) -> Result<WorkerStatus, RestError>;

    /// Names of all connectors, sorted.
    async fn connectors(&self) -> Result<Vec<String>, RestError>;
    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, RestError>;
    /// The stored config, as supplied (config provider references unresolved).
    async fn connector_config(&self, name: &str) -> Result<ConfigMap, RestError>;
    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, RestError>;
    /// Creates (`allow_replace=false`: 409 if it exists) or creates/updates a connector.
    /// Invalid configs are a 400 listing every error.
    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> Result<Created<ConnectorInfo>, RestError>;
    /// Applies a patch: a `None` value removes the key.
    async fn patch_connector_config(&self, name: &str, patch: BTreeMap<String, Option<String>>) -> Result<ConnectorInfo, RestError>;
    async fn delete_connector(&self, name: &str) -> Result<(), RestError>;

    /// PAUSED, STOPPED or back to running.
    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), RestError>;
    /// Restarts the connector instance only.
    async fn restart_connector(&self, name: &str) -> Result<(), RestError>;
    /// KIP-745: restarts the connector and/or tasks; returns the status with RESTARTING marks.
    async fn restart_connector_and_tasks(&self, name: &str, include_tasks: bool, only_failed: bool) -> Result<ConnectorStateInfo, RestError>;

    async fn task_configs(&self, name: &str) -> Result<Vec<TaskInfo>, RestError>;
    async fn task_status(&self, name: &str, task: u32) -> Result<TaskStateInfo, RestError>;
    async fn restart_task(&self, name: &str, task: u32) -> Result<(), RestError>;

    /// Topics the connector has used since creation or the last reset.
    async fn connector_topics(&self, name: &str) -> Result<Vec<String>, RestError>;
    async fn reset_connector_topics(&self, name: &str) -> Result<(), RestError>;

    async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets, RestError>;
    /// KIP-875: only for STOPPED connectors (400 otherwise).
    async fn alter_connector_offsets(&self, name: &str, offsets: ConnectorOffsets) -> Result<Message, RestError>;
    async fn reset_connector_offsets(&self, name: &str) -> Result<Message, RestError>;

    /// `GET /connector-plugins`: connectors only, or every plugin type.
    fn connector_plugins(&self, connectors_only: bool) -> Vec<PluginInfo>;
    /// `GET /connector-plugins/invalid`: files in `plugin.path` that failed to load, with the reason.
    fn invalid_plugins(&self) -> Vec<InvalidPluginInfo>;
    /// `GET /connector-plugins/{plugin}/config`: any plugin type; 404 for an unknown one.
    fn plugin_config(&self, plugin: &str) -> Result<Vec<ConfigKeyInfo>, RestError>;
    async fn validate_connector_config(&self, plugin: &str, config: ConfigMap) -> Result<ConfigInfos, RestError>;

    /// `GET /admin/loggers`: loggers with an explicitly set level.
    fn loggers(&self) -> BTreeMap<String, LoggerLevel>;
    /// The effective level of one logger.
    fn logger_level(&self, logger: &str) -> LoggerLevel;
    /// Sets a level; returns the loggers affected.
    fn set_logger_level(&self, logger: &str, level: &str) -> Result<Vec<String>, RestError>;
}

//! JSON bodies of the REST API, field for field as Kafka Connect writes them
//! (`org.apache.kafka.connect.runtime.rest.entities`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A connector config: string keys to string values.
pub type ConfigMap = BTreeMap<String, String>;

/// `GET /`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    pub kafka_cluster_id: Option<String>,
}

/// A connector's or task's state, as Connect names them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConnectorState {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

/// What the user asked a connector to be (Connect's `TargetState`); `initial_state` of
/// `POST /connectors`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    #[default]
    Started,
    #[serde(alias = "RUNNING")]
    Running,
    Paused,
    Stopped,
}

impl TargetState {
    /// `RUNNING` and `STARTED` mean the same.
    pub fn normalized(self) -> TargetState {
        match self {
            TargetState::Running => TargetState::Started,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
    Unknown,
}

/// The `connector` object of a status body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AbstractState {
    pub state: ConnectorState,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// One entry of `tasks` in a status body; also `GET .../tasks/{id}/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TaskStateInfo {
    pub id: u32,
    pub state: ConnectorState,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: AbstractState,
    pub tasks: Vec<TaskStateInfo>,
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
}

/// A task's identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ConnectorTaskId {
    pub connector: String,
    pub task: u32,
}

/// `GET /connectors/{name}`, and the body returned by create/update.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: ConfigMap,
    pub tasks: Vec<ConnectorTaskId>,
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
}

/// One entry of `GET /connectors/{name}/tasks`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TaskInfo {
    pub id: ConnectorTaskId,
    pub config: ConfigMap,
}

/// `POST /connectors` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectorRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::body::string_map")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub config: ConfigMap,
    #[serde(default)]
    pub initial_state: Option<TargetState>,
}

/// `GET /connectors/{name}/topics`: `{"NAME": {"topics": [...]}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ActiveTopicsInfo {
    pub topics: Vec<String>,
}

/// One partition's offset (`GET/PATCH /connectors/{name}/offsets`). Sinks use
/// `{"kafka_topic", "kafka_partition"}` → `{"kafka_offset"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorOffset {
    #[schema(value_type = Object)]
    pub partition: serde_json::Map<String, serde_json::Value>,
    /// `null` in a PATCH resets the partition.
    #[schema(value_type = Option<Object>)]
    pub offset: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `{"offsets": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// `{"message": "..."}`, the answer of offset changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Message {
    pub message: String,
}

/// One entry of `GET /connector-plugins`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct PluginInfo {
    #[serde(rename = "class")]
    pub class_name: String,
    #[serde(rename = "type")]
    pub plugin_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One entry of `GET /connector-plugins/invalid` (Sluice's own): a file in `plugin.path` that
/// could not be loaded as a plugin, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct InvalidPluginInfo {
    pub path: String,
    pub reason: String,
}

/// A config key's definition (`GET /connector-plugins/{p}/config`, and `definition` in validate).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub config_type: String,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    pub order_in_group: i32,
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
}

impl From<&sluice_sdk::ConfigKey> for ConfigKeyInfo {
    fn from(k: &sluice_sdk::ConfigKey) -> ConfigKeyInfo {
        ConfigKeyInfo {
            name: k.name.clone(),
            config_type: k.config_type.connect_name().to_string(),
            required: k.required(),
            default_value: k.default_value.clone(),
            importance: k.importance.connect_name().to_string(),
            documentation: k.documentation.clone(),
            group: k.group.clone(),
            order_in_group: k.order_in_group,
            width: k.width.connect_name().to_string(),
            display_name: k.display_name.clone(),
            dependents: k.dependents.clone(),
        }
    }
}

/// The `value` half of a validate entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

impl From<sluice_sdk::ConfigValueInfo> for ConfigValueInfo {
    fn from(v: sluice_sdk::ConfigValueInfo) -> ConfigValueInfo {
        ConfigValueInfo { name: v.name, value: v.value, recommended_values: v.recommended_values, errors: v.errors, visible: v.visible }
    }
}

/// One entry of `configs` in a validate response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

/// `PUT /connector-plugins/{plugin}/config/validate`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

/// `GET /admin/loggers/{logger}`, and the body of `PUT`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct LoggerLevel {
    pub level: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_modified: Option<i64>,
}

/// `GET /health` (KIP-1017).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct WorkerStatus {
    pub status: String,
    pub message: String,
}

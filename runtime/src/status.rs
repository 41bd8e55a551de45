//! Connector and task states (Connect's `StatusBackingStore`), in memory. Executors report
//! transitions here; the herder reads them for `GET /connectors/{name}/status`.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use sluice_rest_api::{AbstractState, ConnectorState, ConnectorStateInfo, ConnectorType, TaskStateInfo};

/// The state of a connector or a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: ConnectorState,
    pub trace: Option<String>,
    pub worker_id: String,
}

/// Which status changed, for a [`StatusSink`].
#[derive(Debug, Clone, Copy)]
pub enum StatusKey<'a> {
    Connector(&'a str),
    Task(&'a str, u32),
}

/// Receives every status this worker reports (distributed mode writes them to the status topic).
pub type StatusSink = Box<dyn Fn(StatusKey<'_>, &Status) + Send + Sync>;

/// All statuses of a worker.
#[derive(Default)]
pub struct StatusStore {
    sink: std::sync::OnceLock<StatusSink>,
    connectors: RwLock<HashMap<String, Status>>,
    tasks: RwLock<HashMap<String, BTreeMap<u32, Status>>>,
    /// Topics each connector used (Connect's active topics, KIP-558).
    topics: RwLock<HashMap<String, std::collections::BTreeSet<String>>>,
}

impl StatusStore {
    /// Sets where this worker's own status changes are also sent (once).
    pub fn set_sink(&self, sink: StatusSink) {
        let _ = self.sink.set(sink);
    }

    pub fn put_connector(&self, name: &str, status: Status) {
        if let Some(sink) = self.sink.get() {
            sink(StatusKey::Connector(name), &status);
        }
        self.apply_connector(name, status);
    }

    /// Records a status without passing it to the sink (one read back from the status topic).
    pub fn apply_connector(&self, name: &str, status: Status) {
        if let Ok(mut c) = self.connectors.write() {
            c.insert(name.to_string(), status);
        }
    }

    pub fn put_task(&self, connector: &str, task: u32, status: Status) {
        if status.state == ConnectorState::Failed {
            tracing::error!(connector, task, trace = status.trace.as_deref().unwrap_or(""), "task failed");
        }
        if let Some(sink) = self.sink.get() {
            sink(StatusKey::Task(connector, task), &status);
        }
        self.apply_task(connector, task, status);
    }

    /// Records a task status without passing it to the sink.
    pub fn apply_task(&self, connector: &str, task: u32, status: Status) {
        if let Ok(mut t) = self.tasks.write() {
            t.entry(connector.to_string()).or_default().insert(task, status);
        }
    }

    /// Records that a connector used a topic.
    pub fn add_topic(&self, connector: &str, topic: &str) {
        if let Ok(mut t) = self.topics.write() {
            t.entry(connector.to_string()).or_default().insert(topic.to_string());
        }
    }

    /// Topics a connector used since creation or the last reset.
    pub fn topics(&self, connector: &str) -> Vec<String> {
        self.topics.read().ok().and_then(|t| t.get(connector).map(|s| s.iter().cloned().collect())).unwrap_or_default()
    }

    pub fn reset_topics(&self, connector: &str) {
        if let Ok(mut t) = self.topics.write() {
            t.remove(connector);
        }
    }

    /// Forgets a connector and its tasks (it was deleted).
    pub fn remove_connector(&self, name: &str) {
        if let Ok(mut c) = self.connectors.write() {
            c.remove(name);
        }
        if let Ok(mut t) = self.tasks.write() {
            t.remove(name);
        }
        self.reset_topics(name);
    }

    pub fn connector(&self, name: &str) -> Option<Status> {
        self.connectors.read().ok()?.get(name).cloned()
    }

    /// Every task status of a connector, by task id.
    pub fn tasks(&self, connector: &str) -> BTreeMap<u32, Status> {
        self.tasks.read().ok().and_then(|t| t.get(connector).cloned()).unwrap_or_default()
    }

    /// Forgets tasks numbered `from` and above (after a reconfiguration to fewer tasks).
    pub fn remove_tasks_from(&self, connector: &str, from: u32) {
        if let Ok(mut t) = self.tasks.write()
            && let Some(m) = t.get_mut(connector)
        {
            m.retain(|id, _| *id < from);
        }
    }

    pub fn task(&self, connector: &str, task: u32) -> Option<Status> {
        self.tasks.read().ok()?.get(connector)?.get(&task).cloned()
    }

    /// The REST body of `GET /connectors/{name}/status`.
    pub fn connector_state_info(&self, name: &str, connector_type: ConnectorType) -> Option<ConnectorStateInfo> {
        let connector = self.connectors.read().ok()?.get(name)?.clone();
        let tasks = self
            .tasks
            .read()
            .ok()
            .and_then(|t| t.get(name).cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|(id, s)| TaskStateInfo { id, state: s.state, worker_id: s.worker_id, trace: s.trace })
            .collect();
        Some(ConnectorStateInfo {
            name: name.to_string(),
            connector: AbstractState { state: connector.state, worker_id: connector.worker_id, trace: connector.trace },
            tasks,
            connector_type,
        })
    }
}

//! The config topic (Connect's `KafkaConfigBackingStore`): one partition, Kafka Connect's keys
//! and JSON values, so the records read the same as Connect's:
//!
//! - `connector-NAME` → `{"properties":{...}}` (tombstone: the connector was deleted)
//! - `task-NAME-N` → `{"properties":{...}}` (pending until the next commit)
//! - `commit-NAME` → `{"tasks":N}` (tasks 0..N of the pending set become the task configs)
//! - `target-state-NAME` → `{"state":"STARTED|PAUSED","state.v2":"STARTED|PAUSED|STOPPED"}`
//!
//! [`ConfigState`] is the state after applying every record read so far; each applied record
//! yields a [`ConfigChange`] for the herder.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};
use sluice_rest_api::TargetState;
use sluice_sdk::Props;

use super::protocol::WorkId;

/// What a config record changed.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigChange {
    Connector(String),
    Deleted(String),
    Target(String),
    Tasks(String),
}

/// The cluster's connector configs, task configs and target states.
#[derive(Debug, Clone, Default)]
pub struct ConfigState {
    pub connectors: BTreeMap<String, Props>,
    pub targets: BTreeMap<String, TargetState>,
    /// Committed task configs.
    pub tasks: BTreeMap<String, Vec<Props>>,
    pending: BTreeMap<String, BTreeMap<u32, Props>>,
    /// The offset after the last applied record.
    pub offset: i64,
}

fn properties(value: &[u8]) -> Option<Props> {
    let j: Json = serde_json::from_slice(value).ok()?;
    let obj = j.get("properties")?.as_object()?;
    Some(obj.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
}

fn parse_state(s: &str) -> Option<TargetState> {
    match s {
        "STARTED" | "RUNNING" => Some(TargetState::Started),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

pub fn connector_key(name: &str) -> String {
    format!("connector-{name}")
}
pub fn task_key(name: &str, task: usize) -> String {
    format!("task-{name}-{task}")
}
pub fn commit_key(name: &str) -> String {
    format!("commit-{name}")
}
pub fn target_key(name: &str) -> String {
    format!("target-state-{name}")
}

pub fn properties_value(props: &Props) -> Vec<u8> {
    json!({ "properties": props }).to_string().into_bytes()
}
pub fn commit_value(tasks: usize) -> Vec<u8> {
    json!({ "tasks": tasks }).to_string().into_bytes()
}
pub fn target_value(state: TargetState) -> Vec<u8> {
    let v2 = match state.normalized() {
        TargetState::Paused => "PAUSED",
        TargetState::Stopped => "STOPPED",
        _ => "STARTED",
    };
    // Connect writes STOPPED as v1 "PAUSED" for older readers.
    let v1 = if v2 == "STOPPED" { "PAUSED" } else { v2 };
    json!({ "state": v1, "state.v2": v2 }).to_string().into_bytes()
}

impl ConfigState {
    /// Applies one record of the config topic.
    pub fn apply(&mut self, offset: i64, key: &str, value: Option<&[u8]>) -> Option<ConfigChange> {
        self.offset = offset + 1;
        if let Some(name) = key.strip_prefix("connector-") {
            return match value.and_then(properties) {
                Some(props) => {
                    self.connectors.insert(name.to_string(), props);
                    Some(ConfigChange::Connector(name.to_string()))
                }
                None => {
                    self.connectors.remove(name);
                    self.targets.remove(name);
                    self.tasks.remove(name);
                    self.pending.remove(name);
                    Some(ConfigChange::Deleted(name.to_string()))
                }
            };
        }
        if let Some(name) = key.strip_prefix("target-state-") {
            let j: Json = value.and_then(|v| serde_json::from_slice(v).ok())?;
            let state = j.get("state.v2").or_else(|| j.get("state")).and_then(Json::as_str).and_then(parse_state)?;
            self.targets.insert(name.to_string(), state);
            return Some(ConfigChange::Target(name.to_string()));
        }
        if let Some(rest) = key.strip_prefix("task-") {
            let (name, id) = rest.rsplit_once('-')?;
            let id: u32 = id.parse().ok()?;
            let props = value.and_then(properties)?;
            self.pending.entry(name.to_string()).or_default().insert(id, props);
            return None;
        }
        if let Some(name) = key.strip_prefix("commit-") {
            let j: Json = value.and_then(|v| serde_json::from_slice(v).ok())?;
            let n = j.get("tasks").and_then(Json::as_u64)? as u32;
            let pending = self.pending.remove(name).unwrap_or_default();
            let previous = self.tasks.get(name).cloned().unwrap_or_default();
            let tasks: Vec<Props> = (0..n).map(|i| pending.get(&i).or_else(|| previous.get(i as usize)).cloned().unwrap_or_default()).collect();
            self.tasks.insert(name.to_string(), tasks);
            return Some(ConfigChange::Tasks(name.to_string()));
        }
        tracing::debug!(key, "ignoring an unknown config topic record");
        None
    }

    pub fn target(&self, name: &str) -> TargetState {
        self.targets.get(name).copied().unwrap_or(TargetState::Started)
    }

    /// Every connector and committed task: the work the leader assigns.
    pub fn work(&self) -> BTreeSet<WorkId> {
        let mut out = BTreeSet::new();
        for name in self.connectors.keys() {
            out.insert(WorkId::Connector(name.clone()));
            for i in 0..self.tasks.get(name).map(Vec::len).unwrap_or(0) {
                out.insert(WorkId::Task(name.clone(), i as u32));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_connect_records() {
        let mut s = ConfigState::default();
        let props: Props = [("connector.class".to_string(), "FileStreamSource".to_string())].into();
        assert_eq!(s.apply(0, &connector_key("a"), Some(&properties_value(&props))), Some(ConfigChange::Connector("a".into())));
        assert_eq!(s.apply(1, &task_key("a", 0), Some(&properties_value(&props))), None);
        assert_eq!(s.apply(2, &task_key("a", 1), Some(&properties_value(&props))), None);
        assert!(!s.tasks.contains_key("a"), "tasks wait for the commit");
        assert_eq!(s.apply(3, &commit_key("a"), Some(&commit_value(2))), Some(ConfigChange::Tasks("a".into())));
        assert_eq!(s.tasks["a"].len(), 2);
        assert_eq!(s.work().len(), 3);
        s.apply(4, &target_key("a"), Some(&target_value(TargetState::Stopped)));
        assert_eq!(s.target("a"), TargetState::Stopped);
        s.apply(5, &target_key("a"), Some(br#"{"state":"PAUSED"}"#));
        assert_eq!(s.target("a"), TargetState::Paused);
        assert_eq!(s.apply(6, &connector_key("a"), None), Some(ConfigChange::Deleted("a".into())));
        assert!(s.work().is_empty());
        assert_eq!(s.offset, 7);
        // A connector name with dashes.
        s.apply(7, &task_key("my-conn", 3), Some(&properties_value(&props)));
        s.apply(8, &commit_key("my-conn"), Some(&commit_value(4)));
        assert_eq!(s.tasks["my-conn"].len(), 4);
    }
}

//! The status topic (Connect's `KafkaStatusBackingStore`): every worker writes the statuses of
//! the connectors and tasks it owns and reads everyone's, so any worker answers
//! `GET /connectors/{name}/status`.
//!
//! Keys `status-connector-NAME` / `status-task-NAME-N`; values
//! `{"state":"RUNNING","trace":null,"worker_id":"host:port","generation":G}`. Records this
//! worker wrote after it started are not applied again when read back (the local store already
//! has them, possibly newer).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use serde_json::{Value as Json, json};
use sluice_rest_api::ConnectorState;
use sluice_sdk::ConnectResult;

use super::topic_log::TopicLog;
use crate::status::{Status, StatusKey, StatusStore};
use crate::worker_config::WorkerConfig;

fn state_name(s: ConnectorState) -> Json {
    serde_json::to_value(s).unwrap_or(Json::Null)
}

fn parse_key(key: &str) -> Option<(String, Option<u32>)> {
    if let Some(name) = key.strip_prefix("status-connector-") {
        return Some((name.to_string(), None));
    }
    let rest = key.strip_prefix("status-task-")?;
    let (name, id) = rest.rsplit_once('-')?;
    Some((name.to_string(), Some(id.parse().ok()?)))
}

/// Starts reading the status topic into `store` and sends this worker's changes to it.
pub fn start(config: &WorkerConfig, store: Arc<StatusStore>, worker_id: &str, generation: Arc<AtomicI32>) -> ConnectResult<(Arc<TopicLog>, Arc<AtomicBool>)> {
    let topic = config.get(crate::worker_config::STATUS_STORAGE_TOPIC);
    let skip_own = Arc::new(AtomicBool::new(false));
    let (reader_store, me, skip) = (store.clone(), worker_id.to_string(), skip_own.clone());
    let apply = Box::new(move |_p: i32, _o: i64, key: Option<&[u8]>, value: Option<&[u8]>| {
        let Some((name, task)) = key.and_then(|k| std::str::from_utf8(k).ok()).and_then(parse_key) else { return };
        let Some(v) = value.and_then(|v| serde_json::from_slice::<Json>(v).ok()) else { return };
        let Some(state) = v.get("state").and_then(|s| serde_json::from_value::<ConnectorState>(s.clone()).ok()) else { return };
        let worker_id = v.get("worker_id").and_then(Json::as_str).unwrap_or_default().to_string();
        if skip.load(Ordering::Acquire) && worker_id == me {
            return;
        }
        let status = Status { state, trace: v.get("trace").and_then(Json::as_str).map(str::to_string), worker_id };
        match task {
            None => reader_store.apply_connector(&name, status),
            Some(t) => reader_store.apply_task(&name, t, status),
        }
    });
    let log = Arc::new(TopicLog::start(config, &topic, apply)?);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Vec<u8>)>();
    store.set_sink(Box::new(move |key: StatusKey<'_>, s: &Status| {
        let k = match key {
            StatusKey::Connector(c) => format!("status-connector-{c}"),
            StatusKey::Task(c, t) => format!("status-task-{c}-{t}"),
        };
        let v = json!({"state": state_name(s.state), "trace": s.trace, "worker_id": s.worker_id, "generation": generation.load(Ordering::Acquire)});
        let _ = tx.send((k, v.to_string().into_bytes()));
    }));
    let writer = log.clone();
    tokio::spawn(async move {
        while let Some((k, v)) = rx.recv().await {
            if let Err(e) = writer.send(k.as_bytes(), Some(&v)).await {
                tracing::warn!(error = %e, key = %k, "cannot write a status record");
            }
        }
    });
    Ok((log, skip_own))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys() {
        assert_eq!(super::parse_key("status-task-my-conn-3"), Some(("my-conn".into(), Some(3))));
        assert_eq!(super::parse_key("status-connector-my-conn"), Some(("my-conn".into(), None)));
        assert_eq!(super::parse_key("other"), None);
    }
}

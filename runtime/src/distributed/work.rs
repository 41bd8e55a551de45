//! Starting and stopping the work assigned to this worker, and reacting to config records:
//! a connector's owner (re)generates its task configs and writes them (`task-*` + `commit-*`)
//! when they changed; owners of tasks restart them when their config changed; target states
//! pause, resume or stop what runs here.
//!
//! Deviation from Connect: the connector's owner appends its task configs to the config topic
//! itself instead of sending them to the leader over REST; the config topic has one partition,
//! so every worker still applies the records in one order.

use std::time::Duration;

use sluice_rest_api::{ConnectorState, TargetState};
use sluice_sdk::Props;

use super::config_log::{self, ConfigChange};
use super::herder::DistributedHerder;
use super::protocol::WorkId;
use crate::executor::TaskSpec;
use crate::status::Status;

const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn set_status(h: &DistributedHerder, name: &str, state: ConnectorState, trace: Option<String>) {
    h.ctx().status.put_connector(name, Status { state, trace, worker_id: h.ctx().worker_id.clone() });
}

async fn write_task_configs(h: &DistributedHerder, name: &str, tasks: &[Props]) {
    let mut records: Vec<(String, Vec<u8>)> = tasks.iter().enumerate().map(|(i, t)| (config_log::task_key(name, i), config_log::properties_value(t))).collect();
    records.push((config_log::commit_key(name), config_log::commit_value(tasks.len())));
    for (k, v) in records {
        if let Err(e) = h.config_log.send(k.as_bytes(), Some(&v)).await {
            tracing::error!(connector = name, error = %e, "cannot write task configs");
            return;
        }
    }
    tracing::info!(connector = name, tasks = tasks.len(), "task configs written");
}

/// Starts a connector assigned to this worker and writes its task configs if they changed.
pub async fn start_connector(h: &DistributedHerder, name: &str) {
    let s = h.snapshot();
    let Some(config) = s.connectors.get(name).cloned() else { return };
    h.running.lock().await.insert(WorkId::Connector(name.to_string()), config.clone());
    let current = s.tasks.get(name).cloned().unwrap_or_default();
    let target = s.target(name);
    if target == TargetState::Stopped {
        h.worker.stop_connector(name).await;
        set_status(h, name, ConnectorState::Stopped, None);
        if !current.is_empty() {
            write_task_configs(h, name, &[]).await;
        }
        return;
    }
    let plugin = match crate::connector_config::plugin_of(&h.ctx().plugins, &config) {
        Ok(p) => p,
        Err(e) => return set_status(h, name, ConnectorState::Failed, Some(e.to_string())),
    };
    let resolved = match h.ctx().config.providers.resolve(&config) {
        Ok(r) => r,
        Err(e) => return set_status(h, name, ConnectorState::Failed, Some(format!("{}: {e}", e.class_name()))),
    };
    let max_tasks = resolved.get("tasks.max").and_then(|t| t.trim().parse::<usize>().ok()).unwrap_or(1).max(1);
    match h.worker.start_connector(name, &plugin, &resolved, max_tasks, target == TargetState::Paused).await {
        Ok(tasks) if tasks != current => write_task_configs(h, name, &tasks).await,
        Ok(_) => {}
        Err(e) => tracing::error!(connector = name, error = %e, "connector failed to start"),
    }
}

pub async fn stop_connector(h: &DistributedHerder, name: &str) {
    h.running.lock().await.remove(&WorkId::Connector(name.to_string()));
    h.worker.stop_connector(name).await;
}

/// Starts a task assigned to this worker, after reading the offset topic to its end.
pub async fn start_task(h: &DistributedHerder, name: &str, id: u32) {
    let s = h.snapshot();
    let (Some(config), Some(task_props)) = (s.connectors.get(name).cloned(), s.tasks.get(name).and_then(|t| t.get(id as usize)).cloned()) else {
        tracing::warn!(connector = name, task = id, "assigned a task whose config this worker has not read; not starting it");
        return;
    };
    h.running.lock().await.insert(WorkId::Task(name.to_string(), id), task_props.clone());
    let fail = |msg: String| h.ctx().task_status(name, id, ConnectorState::Failed, Some(msg));
    let plugin = match crate::connector_config::plugin_of(&h.ctx().plugins, &config) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let resolved = match h.ctx().config.providers.resolve(&config) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    if let Err(e) = h.offset_log.read_to_end(READ_TIMEOUT).await {
        tracing::warn!(connector = name, task = id, error = %e, "starting a task without reading the offset topic to its end");
    }
    let spec = TaskSpec { connector: name.to_string(), task_id: id, task_props, connector_props: resolved };
    h.worker.start_task(&plugin, spec, s.target(name) == TargetState::Paused).await;
}

pub async fn stop_task(h: &DistributedHerder, name: &str, id: u32) {
    h.running.lock().await.remove(&WorkId::Task(name.to_string(), id));
    h.worker.stop_task(name, id).await;
}

pub async fn start(h: &DistributedHerder, w: &WorkId) {
    match w {
        WorkId::Connector(c) => start_connector(h, c).await,
        WorkId::Task(c, t) => start_task(h, c, *t).await,
    }
}

pub async fn stop(h: &DistributedHerder, w: &WorkId) {
    match w {
        WorkId::Connector(c) => stop_connector(h, c).await,
        WorkId::Task(c, t) => stop_task(h, c, *t).await,
    }
}

pub async fn restart_connector(h: &DistributedHerder, name: &str) {
    stop_connector(h, name).await;
    start_connector(h, name).await;
}

pub async fn restart_task(h: &DistributedHerder, name: &str, id: u32) {
    stop_task(h, name, id).await;
    start_task(h, name, id).await;
}

/// Applies a config change to the work running here.
pub async fn apply_change(h: &DistributedHerder, change: &ConfigChange) {
    let running: Vec<(WorkId, Props)> = h.running.lock().await.iter().map(|(w, p)| (w.clone(), p.clone())).collect();
    let s = h.snapshot();
    match change {
        ConfigChange::Connector(name) => {
            let new = s.connectors.get(name);
            let owned = running.iter().find(|(w, _)| *w == WorkId::Connector(name.clone()));
            if let (Some((_, old)), Some(new)) = (owned, new)
                && old != new
            {
                tracing::info!(connector = %name, "connector config changed; restarting the connector");
                restart_connector(h, name).await;
            }
        }
        ConfigChange::Deleted(name) => {
            for (w, _) in running.iter().filter(|(w, _)| w.connector() == name) {
                stop(h, w).await;
            }
            h.ctx().status.remove_connector(name);
        }
        ConfigChange::Target(name) => {
            let target = s.target(name);
            let owns_connector = running.iter().any(|(w, _)| *w == WorkId::Connector(name.clone()));
            let was_stopped = h.ctx().status.connector(name).is_some_and(|st| st.state == ConnectorState::Stopped);
            if owns_connector && (target == TargetState::Stopped || was_stopped) {
                restart_connector(h, name).await;
            } else if target != TargetState::Stopped {
                h.worker.set_paused(name, target == TargetState::Paused).await;
            }
        }
        ConfigChange::Tasks(name) => {
            let tasks = s.tasks.get(name).cloned().unwrap_or_default();
            for (w, old) in &running {
                if let WorkId::Task(c, id) = w
                    && c == name
                {
                    match tasks.get(*id as usize) {
                        None => stop(h, w).await,
                        Some(new) if new != old => restart_task(h, c, *id).await,
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

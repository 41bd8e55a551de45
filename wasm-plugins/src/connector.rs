//! A WASM source or sink plugin as a Kafka Connect connector: the config definition comes from
//! the plugin's `info`, and the split into task configs from its `task-configs` export, called
//! once at `start` with `tasks.max`.

use std::sync::{Arc, Mutex};

use sluice_sdk::{ConfigDef, ConnectError, ConnectResult, Connector, ConnectorContext, Props, SinkConnector, SourceConnector, async_trait};

use crate::convert::{props_from_wit, props_to_wit};
use crate::instance::call_blocking;
use crate::plugin::{Pre, WasmPlugin};
use crate::sandbox::Sandbox;

/// The connector half of a WASM source or sink plugin.
pub struct WasmConnector {
    plugin: Arc<WasmPlugin>,
    task_configs: Vec<Props>,
}

impl WasmConnector {
    pub fn new(plugin: Arc<WasmPlugin>) -> WasmConnector {
        WasmConnector { plugin, task_configs: Vec::new() }
    }
}

#[async_trait]
impl Connector for WasmConnector {
    fn version(&self) -> String {
        self.plugin.version.clone()
    }

    fn config_def(&self) -> ConfigDef {
        self.plugin.config_def.clone()
    }

    async fn start(&mut self, props: Props, _ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()> {
        let sandbox = Sandbox::from_props(&props)?;
        let max_tasks = props.get("tasks.max").and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(1).max(1);
        let tag = props.get("name").cloned().unwrap_or_default();
        let wit_props = props_to_wit(&props);
        let configs = match &self.plugin.pre {
            Pre::Source(pre) => {
                let inst = Arc::new(Mutex::new(self.plugin.instantiate(pre, &sandbox, tag, None, |p, s| p.instantiate(s))?));
                call_blocking(&inst, "task-configs", move |b, s| b.call_task_configs(s, &wit_props, max_tasks)).await?
            }
            Pre::Sink(pre) => {
                let inst = Arc::new(Mutex::new(self.plugin.instantiate(pre, &sandbox, tag, None, |p, s| p.instantiate(s))?));
                call_blocking(&inst, "task-configs", move |b, s| b.call_task_configs(s, &wit_props, max_tasks)).await?
            }
            _ => return Err(ConnectError::fatal(format!("{} is a {}, not a connector", self.plugin.name, self.plugin.kind.name()))),
        };
        self.task_configs = configs.into_iter().map(props_from_wit).collect();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(self.task_configs.iter().take(max_tasks.max(1)).cloned().collect())
    }

    async fn stop(&mut self) {}
}

impl SourceConnector for WasmConnector {}
impl SinkConnector for WasmConnector {}

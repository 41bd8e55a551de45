//! A WASM sink plugin as a [`SinkTask`]: each `put` batch crosses the boundary in one call;
//! `flush` (and so the default `pre_commit`) asks the guest to make its writes durable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sluice_sdk::{ConnectError, ConnectResult, Props, SinkRecord, SinkTask, SinkTaskContext, TopicPartition, async_trait};

use crate::bindings::sink::Sink;
use crate::convert::{offsets_to_wit, props_to_wit, sink_record_to_wit};
use crate::instance::{Shared, call_blocking};
use crate::plugin::{Pre, WasmPlugin};
use crate::sandbox::Sandbox;

pub struct WasmSinkTask {
    plugin: Arc<WasmPlugin>,
    inst: Option<Shared<Sink>>,
}

impl WasmSinkTask {
    pub fn new(plugin: Arc<WasmPlugin>) -> WasmSinkTask {
        WasmSinkTask { plugin, inst: None }
    }

    fn inst(&self) -> ConnectResult<&Shared<Sink>> {
        self.inst.as_ref().ok_or_else(|| ConnectError::fatal("WASM sink task used before start"))
    }
}

#[async_trait]
impl SinkTask for WasmSinkTask {
    async fn start(&mut self, props: Props, ctx: Arc<dyn SinkTaskContext>) -> ConnectResult<()> {
        let Pre::Sink(pre) = &self.plugin.pre else {
            return Err(ConnectError::fatal(format!("{} is not a sink plugin", self.plugin.name)));
        };
        let sandbox = Sandbox::from_props(&props)?;
        let tag = format!("{}-{}", ctx.connector(), ctx.task_id());
        let inst = Arc::new(Mutex::new(self.plugin.instantiate(pre, &sandbox, tag, None, |p, s| p.instantiate(s))?));
        let wit_props = props_to_wit(&props);
        call_blocking(&inst, "start", move |b, s| b.call_start(s, &wit_props)).await?;
        self.inst = Some(inst);
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        let batch: Vec<_> = records.iter().map(sink_record_to_wit).collect();
        call_blocking(self.inst()?, "put", move |b, s| b.call_put(s, &batch)).await
    }

    async fn flush(&mut self, offsets: &HashMap<TopicPartition, i64>) -> ConnectResult<()> {
        let offsets = offsets_to_wit(offsets.iter());
        call_blocking(self.inst()?, "flush", move |b, s| b.call_flush(s, &offsets)).await
    }

    async fn stop(&mut self) {
        if let Some(inst) = self.inst.take() {
            let usable = !inst.lock().unwrap_or_else(|p| p.into_inner()).trapped();
            if usable && let Err(e) = call_blocking(&inst, "stop", |b, s| b.call_stop(s).map(Ok)).await {
                tracing::warn!(plugin = %self.plugin.name, error = %e, "WASM sink task stop failed");
            }
        }
    }
}

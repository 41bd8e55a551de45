//! A WASM source plugin as a [`SourceTask`]: `poll` batches cross the boundary once per call;
//! the guest reads its committed offsets through the `offset` host import, so the runtime's
//! offset store works unchanged.

use std::sync::{Arc, Mutex};

use sluice_sdk::{ConnectError, ConnectResult, Props, SourceRecord, SourceTask, SourceTaskContext, async_trait};

use crate::bindings::source::Source;
use crate::convert::{props_to_wit, source_record_from_wit};
use crate::instance::{Shared, call_blocking};
use crate::plugin::{Pre, WasmPlugin};
use crate::sandbox::Sandbox;

pub struct WasmSourceTask {
    plugin: Arc<WasmPlugin>,
    inst: Option<Shared<Source>>,
}

impl WasmSourceTask {
    pub fn new(plugin: Arc<WasmPlugin>) -> WasmSourceTask {
        WasmSourceTask { plugin, inst: None }
    }

    fn inst(&self) -> ConnectResult<&Shared<Source>> {
        self.inst.as_ref().ok_or_else(|| ConnectError::fatal("WASM source task used before start"))
    }
}

#[async_trait]
impl SourceTask for WasmSourceTask {
    async fn start(&mut self, props: Props, ctx: SourceTaskContext) -> ConnectResult<()> {
        let Pre::Source(pre) = &self.plugin.pre else {
            return Err(ConnectError::fatal(format!("{} is not a source plugin", self.plugin.name)));
        };
        let sandbox = Sandbox::from_props(&props)?;
        let tag = format!("{}-{}", ctx.connector, ctx.task_id);
        let inst = Arc::new(Mutex::new(self.plugin.instantiate(pre, &sandbox, tag, Some(ctx.offset_reader), |p, s| p.instantiate(s))?));
        let wit_props = props_to_wit(&props);
        call_blocking(&inst, "start", move |b, s| b.call_start(s, &wit_props)).await?;
        self.inst = Some(inst);
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let records = call_blocking(self.inst()?, "poll", |b, s| b.call_poll(s)).await?;
        records.into_iter().map(source_record_from_wit).collect()
    }

    async fn commit(&mut self) -> ConnectResult<()> {
        call_blocking(self.inst()?, "commit", |b, s| b.call_commit(s)).await
    }

    async fn stop(&mut self) {
        if let Some(inst) = self.inst.take() {
            let usable = !inst.lock().unwrap_or_else(|p| p.into_inner()).trapped();
            if usable && let Err(e) = call_blocking(&inst, "stop", |b, s| b.call_stop(s).map(Ok)).await {
                tracing::warn!(plugin = %self.plugin.name, error = %e, "WASM source task stop failed");
            }
        }
    }
}

//! One live plugin instance and the one way to call into it: [`Instance::call`] arms the epoch
//! deadline, runs the call, and turns a trap into a [`ConnectError::Fatal`] that says what
//! happened (deadline, memory limit, or the guest's own panic message from its stderr).
//!
//! After a trap an instance refuses re-entry; callers drop it and build a fresh one
//! (transforms do so on the next batch; tasks fail, as Kafka Connect tasks do).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_sdk::{ConnectError, ConnectResult};
use wasmtime::{Store, Trap};

use crate::engine::TICK;
use crate::state::{HostState, StderrTail};

pub(crate) struct Instance<B> {
    store: Store<HostState>,
    pub(crate) bindings: B,
    stderr: StderrTail,
    timeout: Duration,
    plugin: String,
    trapped: bool,
}

impl<B> Instance<B> {
    pub(crate) fn create(
        mut store: Store<HostState>,
        stderr: StderrTail,
        timeout: Duration,
        plugin: String,
        make: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<B>,
    ) -> ConnectResult<Instance<B>> {
        arm(&mut store, timeout);
        match make(&mut store) {
            Ok(bindings) => Ok(Instance { store, bindings, stderr, timeout, plugin, trapped: false }),
            Err(e) => Err(describe(&e, "instantiate", &plugin, &store, &stderr, timeout)),
        }
    }

    pub(crate) fn trapped(&self) -> bool {
        self.trapped
    }

    /// Calls into the guest under the deadline.
    pub(crate) fn call<T>(&mut self, what: &str, f: impl FnOnce(&B, &mut Store<HostState>) -> wasmtime::Result<T>) -> ConnectResult<T> {
        if self.trapped {
            return Err(ConnectError::fatal(format!("WASM plugin {}: instance unusable after an earlier trap", self.plugin)));
        }
        arm(&mut self.store, self.timeout);
        f(&self.bindings, &mut self.store).map_err(|e| {
            self.trapped = true;
            describe(&e, what, &self.plugin, &self.store, &self.stderr, self.timeout)
        })
    }
}

fn arm(store: &mut Store<HostState>, timeout: Duration) {
    let ticks = timeout.as_millis().div_ceil(TICK.as_millis()).max(1) as u64;
    store.set_epoch_deadline(ticks);
}

fn describe(e: &wasmtime::Error, what: &str, plugin: &str, store: &Store<HostState>, stderr: &StderrTail, timeout: Duration) -> ConnectError {
    let tag = &store.data().tag;
    let head = if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        format!("WASM plugin {plugin} ({tag}): {what} did not return within {} ms (wasm.call.timeout.ms) and was interrupted", timeout.as_millis())
    } else if store.data().limiter.hit {
        format!("WASM plugin {plugin} ({tag}): {what} exceeded the memory limit of {} bytes (wasm.memory.max.bytes): {e}", store.data().limiter.max_bytes)
    } else {
        format!("WASM plugin {plugin} ({tag}): {what} trapped: {e}")
    };
    let err = stderr.text();
    let mut msg = head;
    if !err.is_empty() {
        msg.push_str("\nguest stderr:\n");
        msg.push_str(&err);
    }
    msg.push_str(&format!("\nwasm backtrace:\n{e:?}"));
    tracing::error!(plugin, tag = %tag, "{msg}");
    ConnectError::Fatal(msg)
}

/// An instance shared with the blocking pool.
pub(crate) type Shared<B> = Arc<Mutex<Instance<B>>>;

/// Runs a guest call on tokio's blocking pool (guest code is CPU-bound and bounded by the
/// deadline) and flattens the guest's own `result<_, connect-error>`.
pub(crate) async fn call_blocking<B, T>(
    inst: &Shared<B>,
    what: &'static str,
    f: impl FnOnce(&B, &mut Store<HostState>) -> wasmtime::Result<Result<T, crate::bindings::types::ConnectError>> + Send + 'static,
) -> ConnectResult<T>
where
    B: Send + 'static,
    T: Send + 'static,
{
    let inst = inst.clone();
    let out = tokio::task::spawn_blocking(move || inst.lock().unwrap_or_else(|p| p.into_inner()).call(what, f))
        .await
        .map_err(|e| ConnectError::fatal(format!("WASM call {what} panicked in the host: {e}")))?;
    out?.map_err(crate::convert::error_from_wit)
}

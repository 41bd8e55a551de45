//! What one plugin instance's store holds: its WASI context (no files, no network, no env
//! unless granted), its `wasi:http` context (requests only to granted hosts), its memory limiter, the tail of its stderr (where a Rust guest's panic
//! message goes) and the host-interface state (log tag, offset reader).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use sluice_sdk::{ConnectError, OffsetStorageReader};
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, ResourceTable, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::source::sluice::plugin::{host, types};
use crate::http::GrantedHttp;
use crate::sandbox::Sandbox;

/// How much of a guest's stderr is kept for error messages.
const STDERR_TAIL: usize = 8 * 1024;

/// The last bytes a guest wrote to stderr. Cheap to clone: clones share the buffer.
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<Vec<u8>>>);

impl StderrTail {
    fn push(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(|p| p.into_inner());
        buf.extend_from_slice(bytes);
        if buf.len() > STDERR_TAIL {
            let cut = buf.len() - STDERR_TAIL;
            buf.drain(..cut);
        }
    }

    /// The tail as text, trimmed; empty if the guest wrote nothing.
    pub fn text(&self) -> String {
        let buf = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).trim().to_string()
    }
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl OutputStream for StderrTail {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for StderrTail {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Caps an instance's linear memory and remembers whether the cap was hit, so that the trap
/// that follows (a Rust guest aborts when allocation fails) can be reported as what it is.
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.max_bytes;
        if !ok {
            self.hit = true;
        }
        Ok(ok)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The data of one plugin instance's store.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: GrantedHttp,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// Names the instance in logs: `connector/task` or the transform alias.
    pub(crate) tag: String,
    pub(crate) offsets: Option<Arc<dyn OffsetStorageReader>>,
}

impl HostState {
    /// A fresh state with only what `sandbox` grants, and the stderr tail to read after a trap.
    pub fn new(sandbox: &Sandbox, tag: String, offsets: Option<Arc<dyn OffsetStorageReader>>) -> Result<(HostState, StderrTail), ConnectError> {
        let stderr = StderrTail::default();
        let mut b = WasiCtx::builder();
        b.stderr(stderr.clone());
        for dir in &sandbox.allowed_dirs {
            b.preopened_dir(dir, dir.to_string_lossy(), FsPerms::ReadWrite)
                .map_err(|e| ConnectError::config("wasm.allowed.dirs", format!("cannot open {}: {e}", dir.display())))?;
        }
        if sandbox.allow_network {
            b.inherit_network().allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
        }
        let limiter = MemoryLimiter { max_bytes: sandbox.memory_max_bytes, hit: false };
        let http_hooks = GrantedHttp { grant: sandbox.http_hosts.clone(), tag: tag.clone() };
        Ok((HostState { wasi: b.build(), http: WasiHttpCtx::new(), http_hooks, table: ResourceTable::new(), limiter, tag, offsets }, stderr))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) {
        let plugin = self.tag.as_str();
        match level {
            host::Level::Trace => tracing::trace!(plugin, "{message}"),
            host::Level::Debug => tracing::debug!(plugin, "{message}"),
            host::Level::Info => tracing::info!(plugin, "{message}"),
            host::Level::Warn => tracing::warn!(plugin, "{message}"),
            host::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn offset(&mut self, partition: String) -> Option<String> {
        let reader = self.offsets.as_ref()?;
        let partition: sluice_sdk::OffsetMap = serde_json::from_str(&partition).ok()?;
        reader.offset(&partition).map(|o| serde_json::Value::Object(o).to_string())
    }
}

//! The WASM plugin host: a connector, task, transform or predicate compiled to a WebAssembly
//! component (against the WIT contract in `sdk/wit/sluice.wit`) runs in the worker like a
//! built-in one — same executors, offsets, converters, errors — but sandboxed, so that a broken
//! or hostile plugin can only fail its own task.
//!
//! - [`discovery::discover`] finds `*.wasm` under `plugin.path`, compiles each once (compiled
//!   code is cached on disk, keyed by the SHA-256 of the file), reads its name, version, type
//!   and config definition from its `info` export, and reports broken files with the reason.
//! - [`WasmConnector`], [`WasmSourceTask`], [`WasmSinkTask`], [`WasmTransform`] and
//!   [`WasmPredicate`] implement the sdk traits; the runtime registers them like built-ins.
//! - Sandbox ([`sandbox`]): WASI with no files, network or environment unless the connector
//!   config grants them (`wasm.allowed.dirs`, `wasm.allow.network`); outbound HTTP through
//!   the worker's client (`wasi:http`) only to the hosts in `wasm.allowed.http.hosts`
//!   ([`http`]); a deadline per call
//!   (`wasm.call.timeout.ms`, epoch interruption) and a memory cap per instance
//!   (`wasm.memory.max.bytes`). Instances come from a pooling allocator.
//! - Faults: a deadline, the memory cap, a trap or a guest panic fail the call with a
//!   [`sluice_sdk::ConnectError::Fatal`] naming the cause and carrying the guest's stderr
//!   (where a Rust panic message goes); the task fails, the worker and other tasks go on.
//!
//! Limits: one call at a time per instance; records cross the boundary as batches, with
//! non-string/bytes values in the binary form of `sluice_wasm_abi::value_bytes`.

mod bindings;
mod connector;
mod convert;
pub mod discovery;
pub mod engine;
pub mod http;
mod instance;
pub mod plugin;
pub mod sandbox;
mod sink;
mod source;
mod state;
mod transform;

pub use connector::WasmConnector;
pub use discovery::{Discovered, discover};
pub use engine::WasmRuntime;
pub use plugin::{PluginKind, WasmPlugin};
pub use sink::WasmSinkTask;
pub use source::WasmSourceTask;
pub use transform::{WasmPredicate, WasmTransform};
pub mod examples;

//! The Sluice guest SDK: write a source, sink, transform or predicate in plain synchronous
//! Rust, build it with `cargo build --target wasm32-wasip2 --release`, drop the `.wasm` into
//! the worker's `plugin.path`. The traits mirror the native SPI (`sluice_sdk`) and use its
//! records, values, schemas, `ConfigDef` and `ConnectError`; the `export_*!` macros hide all
//! the component-model glue. Guide: `docs/wasm-plugins.md`.
//!
//! Enable exactly one cargo feature — `source`, `sink`, `transform` or `predicate` — the
//! world (`sdk/wit/sluice.wit`) your component implements, then implement the matching trait
//! and export it:
//!
//! ```ignore
//! #[derive(Default)]
//! struct Upper;
//! impl sluice_guest::TransformPlugin for Upper {
//!     const NAME: &'static str = "com.example.Upper";
//!     fn apply(&mut self, mut r: sluice_guest::Record) -> sluice_guest::ConnectResult<Option<sluice_guest::Record>> {
//!         if let sluice_guest::Value::String(s) = &mut r.value { *s = s.to_uppercase(); }
//!         Ok(Some(r))
//!     }
//! }
//! sluice_guest::export_transform!(Upper);
//! ```
//!
//! One instance of your type lives per task (or per transform instance); calls never overlap.
//! A panic fails the call: the worker reports the panic message and fails the task.

pub use sluice_sdk::serde_json;
pub use sluice_sdk::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, ConnectResult, Header, Headers, Importance, OffsetMap, Props, Schema, SchemaRef, SchemaType,
    SinkRecord, SourceRecord, Struct, TopicPartition, Value, offset_map,
};

pub mod http;
mod macros;
mod plugins;
pub use plugins::{PredicatePlugin, Record, SinkPlugin, SourcePlugin, TransformPlugin};

#[cfg(any(feature = "source", feature = "sink", feature = "transform", feature = "predicate"))]
mod convert;
#[cfg(any(feature = "source", feature = "sink", feature = "transform", feature = "predicate"))]
#[doc(hidden)]
pub mod glue;

#[cfg(any(
    all(feature = "source", any(feature = "sink", feature = "transform", feature = "predicate")),
    all(feature = "sink", any(feature = "transform", feature = "predicate")),
    all(feature = "transform", feature = "predicate"),
))]
compile_error!(
    "sluice-guest: enable exactly one of the features source, sink, transform, predicate (a component implements one world). \
     In a workspace of several plugins, build each with `cargo build -p <plugin>` so that features are not unified."
);

/// The generated bindings of the enabled world. Not for direct use.
#[doc(hidden)]
pub mod bindings {
    #[cfg(feature = "source")]
    wit_bindgen::generate!({ world: "source", path: "../wit", pub_export_macro: true, export_macro_name: "export_world", default_bindings_module: "sluice_guest::bindings" });
    #[cfg(feature = "sink")]
    wit_bindgen::generate!({ world: "sink", path: "../wit", pub_export_macro: true, export_macro_name: "export_world", default_bindings_module: "sluice_guest::bindings" });
    #[cfg(feature = "transform")]
    wit_bindgen::generate!({ world: "transform", path: "../wit", pub_export_macro: true, export_macro_name: "export_world", default_bindings_module: "sluice_guest::bindings" });
    #[cfg(feature = "predicate")]
    wit_bindgen::generate!({ world: "predicate", path: "../wit", pub_export_macro: true, export_macro_name: "export_world", default_bindings_module: "sluice_guest::bindings" });
}

/// Logs through the worker's log (tagged with the connector and task).
#[cfg(any(feature = "source", feature = "sink", feature = "transform", feature = "predicate"))]
pub mod log {
    use crate::bindings::sluice::plugin::host::{Level, log};

    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}

/// Source tasks: the last committed offset of `partition`, as stored by the worker (so a
/// restarted task resumes where it stopped).
#[cfg(feature = "source")]
pub fn committed_offset(partition: &OffsetMap) -> Option<OffsetMap> {
    let json = crate::bindings::sluice::plugin::host::offset(&serde_json::Value::Object(partition.clone()).to_string())?;
    serde_json::from_str(&json).ok()
}

/// A value as plain JSON, as a schemaless JsonConverter would write it: structs and maps become
/// objects (non-string map keys as their JSON text), bytes become (lossy UTF-8) strings.
pub fn plain_json(v: &Value) -> serde_json::Value {
    use serde_json::{Value as J, json};
    match v {
        Value::Null => J::Null,
        Value::Int8(x) => json!(x),
        Value::Int16(x) => json!(x),
        Value::Int32(x) => json!(x),
        Value::Int64(x) => json!(x),
        Value::Float32(x) => json!(x),
        Value::Float64(x) => json!(x),
        Value::Boolean(x) => json!(x),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!(String::from_utf8_lossy(b)),
        Value::Array(a) => J::Array(a.iter().map(plain_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.clone(),
                        other => plain_json(other).to_string(),
                    };
                    (key, plain_json(v))
                })
                .collect(),
        ),
        Value::Struct(s) => J::Object(s.fields.iter().map(|(k, v)| (k.clone(), plain_json(v))).collect()),
    }
}

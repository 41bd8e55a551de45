//! The Sluice connector SPI: what a connector author writes against, and all the runtime and
//! the connectors share. It mirrors Kafka Connect's API packages:
//!
//! - [`data`]: schemas and values (Connect's `data`),
//! - [`record`]: source and sink records, headers, offsets,
//! - [`connector`]: connectors, tasks and their contexts (Connect's `connector`, `source`, `sink`),
//! - [`transform`]: transforms, predicates, converters,
//! - [`config`]: `ConfigDef`, the self-describing configuration of every plugin; [`config_keys`]:
//!   typed key names, declared once with their definition (`config_keys!`); [`config_reference`]:
//!   a `ConfigDef` as a Markdown reference page,
//! - [`error`]: the one error type, whose variants say what the runtime does.
//!
//! How schemas, values and batches cross the WASM plugin boundary (`wit/`) is not part of the
//! SPI: that is the `sluice-wasm-abi` crate's.
//!
//! Architecture invariant: this crate knows no Kafka client, no HTTP and no storage, and has
//! no `unsafe`. The
//! native traits are async; the WASM guest flavour (a later `guest` feature) mirrors them
//! synchronously, with the same records and config types.

#![forbid(unsafe_code)]

pub mod config;
pub mod config_keys;
pub mod config_reference;
pub mod connector;
pub mod data;
pub mod error;
pub mod record;
pub mod transform;

pub use config::{ConfigDef, ConfigKey, ConfigType, ConfigValue, ConfigValueInfo, Importance, ParsedConfig, Password, Props, Validator, Width};
pub use config_keys::{Key, KeyKind};
pub use connector::{
    Connector, ConnectorContext, ErrantRecordReporter, OffsetStorageReader, SinkConnector, SinkTask, SinkTaskContext, SourceConnector, SourceTask,
    SourceTaskContext,
};
pub use data::{Field, Schema, SchemaRef, SchemaType, Struct, Value};
pub use error::{ConnectError, ConnectResult};
pub use record::{ConnectRecord, Header, Headers, OffsetMap, RecordMetadata, SinkRecord, SourceRecord, TimestampType, TopicPartition};
pub use transform::{Converter, Predicate, Transform};

/// Re-exported so connector crates need not depend on it themselves.
pub use async_trait::async_trait;
pub use serde_json;

/// Builds an [`OffsetMap`] from `key => json-value` pairs.
#[macro_export]
macro_rules! offset_map {
    ($($k:expr => $v:expr),* $(,)?) => {{
        let mut m = $crate::OffsetMap::new();
        $( m.insert(($k).to_string(), $crate::serde_json::json!($v)); )*
        m
    }};
}

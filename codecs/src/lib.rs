//! Codecs of Connect data that more than one crate needs, each written once: the runtime's
//! converters, the connectors and the transforms call these instead of keeping a copy.
//!
//! - [`connect_json`]: Connect's JsonConverter forms: the schema JSON
//!   (`{"type":"struct","fields":[...],"optional":..,"name":..}`) and values as JSON, with
//!   [`connect_json::JsonValueOptions`] for what callers legitimately write differently
//!   (the JsonConverter's `decimal.format`, the S3 sink's JSON lines and its `arrow` form).
//! - [`avro`]: Connect schemas as Avro schemas, as Confluent's `AvroData` maps them.
//! - [`debezium`]: the Debezium change event envelope (`op`, `before`, `after`, `source`) and
//!   the row state it carries (ClickHouse's `debezium.unwrap`, Debezium's ExtractNewRecordState).
//!
//! Architecture invariant: this crate depends on `sdk` and data-format libraries only (no
//! runtime, no Kafka client); connector crates may import it.

pub mod avro;
pub mod connect_json;
pub mod debezium;

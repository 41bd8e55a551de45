//! Conversions between the SPI's types (`sluice_sdk`) and the WIT types of the host bindings.
//! Keys and values travel as [`types::Data`]: bytes and strings raw, anything else in the
//! binary form of `sluice_wasm_abi::value_bytes`; schemas as JSON text, remembered per schema.

use sluice_sdk::{ConnectError, Header, Headers, OffsetMap, Props, SchemaRef, SinkRecord, SourceRecord, TopicPartition, Value};
use sluice_wasm_abi::value_bytes;
use sluice_wasm_abi::wire::{schema_of_text, schema_text};

use crate::bindings::types;

pub fn data_to_wit(schema: Option<&SchemaRef>, value: &Value) -> types::Data {
    let payload = match value {
        Value::Null => types::Payload::Null,
        Value::Bytes(b) => types::Payload::Bytes(b.clone()),
        Value::String(s) => types::Payload::Text(s.clone()),
        other => types::Payload::Structured(value_bytes::to_bytes(other)),
    };
    types::Data { schema: schema.map(schema_text), payload }
}

pub fn data_from_wit(data: types::Data) -> Result<(Option<SchemaRef>, Value), ConnectError> {
    let schema = match data.schema {
        Some(s) => Some(schema_of_text(&s).map_err(|e| ConnectError::data(format!("plugin sent an invalid schema: {e}")))?),
        None => None,
    };
    let value = match data.payload {
        types::Payload::Null => Value::Null,
        types::Payload::Bytes(b) => Value::Bytes(b),
        types::Payload::Text(s) => Value::String(s),
        types::Payload::Structured(b) => value_bytes::from_bytes(&b).map_err(|e| ConnectError::data(format!("plugin sent an invalid value: {e}")))?,
    };
    Ok((schema, value))
}

fn headers_to_wit(headers: &Headers) -> Vec<types::Header> {
    headers.iter().map(|h| types::Header { key: h.key.clone(), value: data_to_wit(h.schema.as_ref(), &h.value) }).collect()
}

fn headers_from_wit(headers: Vec<types::Header>) -> Result<Headers, ConnectError> {
    let mut out = Headers::new();
    for h in headers {
        let (schema, value) = data_from_wit(h.value)?;
        out.0.push(Header { key: h.key, schema, value });
    }
    Ok(out)
}

fn offset_map(json: &str, what: &str) -> Result<OffsetMap, ConnectError> {
    serde_json::from_str(json).map_err(|e| ConnectError::data(format!("plugin sent a {what} that is not a JSON object: {e}")))
}

pub fn source_record_from_wit(r: types::SourceRecord) -> Result<SourceRecord, ConnectError> {
    let (key_schema, key) = data_from_wit(r.key)?;
    let (value_schema, value) = data_from_wit(r.value)?;
    Ok(SourceRecord {
        source_partition: offset_map(&r.source_partition, "source partition")?,
        source_offset: offset_map(&r.source_offset, "source offset")?,
        topic: r.topic,
        kafka_partition: r.partition,
        key_schema,
        key,
        value_schema,
        value,
        timestamp: r.timestamp,
        headers: headers_from_wit(r.headers)?,
    })
}

pub fn sink_record_to_wit(r: &SinkRecord) -> types::SinkRecord {
    types::SinkRecord {
        topic: r.topic.clone(),
        partition: r.kafka_partition,
        offset: r.kafka_offset,
        key: data_to_wit(r.key_schema.as_ref(), &r.key),
        value: data_to_wit(r.value_schema.as_ref(), &r.value),
        timestamp: r.timestamp,
        headers: headers_to_wit(&r.headers),
    }
}

pub fn offsets_to_wit<'a>(offsets: impl Iterator<Item = (&'a TopicPartition, &'a i64)>) -> Vec<types::TopicPartitionOffset> {
    offsets.map(|(tp, o)| types::TopicPartitionOffset { topic: tp.topic.clone(), partition: tp.partition, offset: *o }).collect()
}

pub fn props_to_wit(props: &Props) -> Vec<(String, String)> {
    props.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub fn props_from_wit(props: Vec<(String, String)>) -> Props {
    props.into_iter().collect()
}

pub fn error_from_wit(e: types::ConnectError) -> ConnectError {
    match e {
        types::ConnectError::Config((field, message)) => ConnectError::Config { field, message },
        types::ConnectError::Retriable(m) => ConnectError::Retriable(m),
        types::ConnectError::Data(m) => ConnectError::Data(m),
        types::ConnectError::Fatal(m) => ConnectError::Fatal(m),
    }
}

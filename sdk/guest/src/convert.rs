//! Guest-side conversions between the SPI's types and the generated WIT types: the mirror of
//! the host's `wasm-plugins/src/convert.rs`, over the same `sluice_wasm_abi::wire` encoding.

#![allow(dead_code)]

use sluice_sdk::{ConfigDef, ConnectError, Header, Headers, OffsetMap, Props, SchemaRef, Value};
use sluice_wasm_abi::value_bytes;
use sluice_wasm_abi::wire::{schema_of_text, schema_text};

use crate::bindings::sluice::plugin::types;

pub fn data_to_wit(schema: Option<&SchemaRef>, value: Value) -> types::Data {
    let payload = match value {
        Value::Null => types::Payload::Null,
        Value::Bytes(b) => types::Payload::Bytes(b),
        Value::String(s) => types::Payload::Text(s),
        other => types::Payload::Structured(value_bytes::to_bytes(&other)),
    };
    types::Data { schema: schema.map(schema_text), payload }
}

pub fn data_from_wit(data: types::Data) -> Result<(Option<SchemaRef>, Value), ConnectError> {
    let schema = match data.schema {
        Some(s) => Some(schema_of_text(&s).map_err(ConnectError::data)?),
        None => None,
    };
    let value = match data.payload {
        types::Payload::Null => Value::Null,
        types::Payload::Bytes(b) => Value::Bytes(b),
        types::Payload::Text(s) => Value::String(s),
        types::Payload::Structured(b) => value_bytes::from_bytes(&b).map_err(|e| ConnectError::data(format!("invalid value: {e}")))?,
    };
    Ok((schema, value))
}

pub fn headers_to_wit(headers: Headers) -> Vec<types::Header> {
    headers.0.into_iter().map(|h| types::Header { key: h.key, value: data_to_wit(h.schema.as_ref(), h.value) }).collect()
}

pub fn headers_from_wit(headers: Vec<types::Header>) -> Result<Headers, ConnectError> {
    let mut out = Headers::new();
    for h in headers {
        let (schema, value) = data_from_wit(h.value)?;
        out.0.push(Header { key: h.key, schema, value });
    }
    Ok(out)
}

pub fn json_object(map: OffsetMap) -> String {
    serde_json::Value::Object(map).to_string()
}

pub fn props_from_wit(props: Vec<(String, String)>) -> Props {
    props.into_iter().collect()
}

pub fn props_to_wit(props: Props) -> Vec<(String, String)> {
    props.into_iter().collect()
}

pub fn error_to_wit(e: ConnectError) -> types::ConnectError {
    match e {
        ConnectError::Config { field, message } => types::ConnectError::Config((field, message)),
        ConnectError::Retriable(m) => types::ConnectError::Retriable(m),
        ConnectError::Data(m) => types::ConnectError::Data(m),
        ConnectError::Fatal(m) => types::ConnectError::Fatal(m),
    }
}

pub fn plugin_info(name: &str, version: &str, kind: types::PluginKind, def: ConfigDef) -> types::PluginInfo {
    types::PluginInfo {
        name: name.to_string(),
        version: version.to_string(),
        kind,
        config: def
            .keys()
            .iter()
            .map(|k| types::ConfigKey {
                name: k.name.clone(),
                config_type: k.config_type.connect_name().to_string(),
                default_value: k.default_value.clone(),
                importance: k.importance.connect_name().to_string(),
                documentation: k.documentation.clone(),
            })
            .collect(),
    }
}

//! Connect values as a `serde_json::Value` tree, by the rules of [`super::write`] (the writer
//! is the fast path; serializing this tree gives the same text). A JSON object holds each key
//! once, so repeated keys come out merged (first position, last value) whatever
//! `merge_repeated_keys` says, and no value is checked against its schema (`check_schema` is
//! the writer's). A `DecimalFormat::Numeric` Decimal becomes a JSON number parsed from its
//! text (exact in the writer only).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value as Json};
use sluice_sdk::data::logical;
use sluice_sdk::{ConnectError, ConnectResult, Schema, Value};

use super::write::{decimal_text, hex, map_as_object, null_default, schema_fields};
use super::{BytesFormat, DecimalFormat, JsonValueOptions, NonFinite};

/// A Connect value as JSON, under `o` (the S3 sink's `value_to_json(schema, value, arrow)` is
/// this with [`JsonValueOptions::s3`]`(arrow)`).
pub fn value_to_json(schema: Option<&Schema>, value: &Value, o: &JsonValueOptions) -> ConnectResult<Json> {
    let float = |v: f64| match serde_json::Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None => match o.non_finite {
            NonFinite::String => Json::String(v.to_string()),
            NonFinite::Null => Json::Null,
        },
    };
    Ok(match value {
        Value::Null => match schema.and_then(|s| null_default(s, o).map(|d| (s, d))) {
            Some((s, d)) => value_to_json(Some(s), d, o)?,
            None => Json::Null,
        },
        Value::Int8(v) => Json::from(*v),
        Value::Int16(v) => Json::from(*v),
        Value::Int32(v) => Json::from(*v),
        Value::Int64(v) => Json::from(*v),
        Value::Float32(v) => float(*v as f64),
        Value::Float64(v) => float(*v),
        Value::Boolean(v) => Json::Bool(*v),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => match (schema.and_then(logical::decimal_scale), o.decimals) {
            (Some(scale), DecimalFormat::Numeric) => serde_json::from_str(&decimal_text(b, scale)?).map_err(ConnectError::data)?,
            (Some(scale), DecimalFormat::NumericString) => Json::String(decimal_text(b, scale)?),
            (Some(_), DecimalFormat::Base64) => Json::String(B64.encode(b)),
            (None, _) => match o.bytes {
                BytesFormat::Base64 => Json::String(B64.encode(b)),
                BytesFormat::Hex => Json::String(hex(b)),
            },
        },
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            Json::Array(items.iter().map(|v| value_to_json(item_schema, v, o)).collect::<ConnectResult<_>>()?)
        }
        Value::Map(entries) => {
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            if map_as_object(schema, entries, o) {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.as_str().unwrap_or_default().to_string(), value_to_json(vs, v, o)?);
                }
                Json::Object(m)
            } else {
                let ks = schema.and_then(|s| s.key_schema.as_deref());
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push(Json::Array(vec![value_to_json(ks, k, o)?, value_to_json(vs, v, o)?]));
                }
                Json::Array(out)
            }
        }
        Value::Struct(st) => {
            let mut m = Map::new();
            match schema_fields(schema, o) {
                Some(s) => {
                    for (i, f) in s.fields.iter().enumerate() {
                        let v = st.get_at(i, &f.name).unwrap_or(&Value::Null);
                        m.insert(f.name.clone(), value_to_json(Some(&f.schema), v, o)?);
                    }
                }
                None => {
                    for (name, v) in &st.fields {
                        m.insert(name.clone(), value_to_json(None, v, o)?);
                    }
                }
            }
            Json::Object(m)
        }
    })
}

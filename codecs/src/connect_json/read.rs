//! Connect values read back from JSON through a `serde_json::Value` tree, as JsonConverter's
//! `toConnectData` reads them: against a schema ([`json_to_value`]: integers range-checked,
//! bytes from base64, a Decimal from base64 or a number, maps from an object or `[[k, v]..]`
//! pairs) or without one ([`json_to_schemaless`]). This path words Connect's error messages;
//! [`super::fast_read`] is the fast one and falls back here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value as Json;
use sluice_sdk::data::logical;
use sluice_sdk::{ConnectError, ConnectResult, Schema, SchemaType, Struct, Value};

fn data_err(msg: impl std::fmt::Display) -> ConnectError {
    ConnectError::data(msg)
}

/// Reads a payload against its schema.
pub fn json_to_value(schema: &Schema, j: &Json) -> ConnectResult<Value> {
    if j.is_null() {
        if let Some(d) = &schema.default_value {
            return Ok(d.clone());
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        return Err(data_err(format!("Invalid null value for required {} field", schema.schema_type.connect_name())));
    }
    let mismatch = || data_err(format!("Invalid value for {} schema: {j}", schema.schema_type.connect_name()));
    let int = |min: i64, max: i64| -> ConnectResult<i64> { j.as_i64().filter(|v| (min..=max).contains(v)).ok_or_else(mismatch) };
    Ok(match schema.schema_type {
        SchemaType::Int8 => Value::Int8(int(i8::MIN.into(), i8::MAX.into())? as i8),
        SchemaType::Int16 => Value::Int16(int(i16::MIN.into(), i16::MAX.into())? as i16),
        SchemaType::Int32 => Value::Int32(int(i32::MIN.into(), i32::MAX.into())? as i32),
        SchemaType::Int64 => Value::Int64(j.as_i64().ok_or_else(mismatch)?),
        SchemaType::Float32 => Value::Float32(json_float(j).ok_or_else(mismatch)? as f32),
        SchemaType::Float64 => Value::Float64(json_float(j).ok_or_else(mismatch)?),
        SchemaType::Boolean => Value::Boolean(j.as_bool().ok_or_else(mismatch)?),
        SchemaType::String => Value::String(j.as_str().ok_or_else(mismatch)?.to_string()),
        SchemaType::Bytes => match j {
            Json::String(s) => Value::Bytes(B64.decode(s).map_err(|e| data_err(format!("Invalid base64 bytes: {e}")))?),
            Json::Number(n) => {
                let scale = logical::decimal_scale(schema).ok_or_else(mismatch)?;
                Value::Bytes(logical::encode_unscaled(numeric_to_unscaled(&n.to_string(), scale).ok_or_else(mismatch)?))
            }
            _ => return Err(mismatch()),
        },
        SchemaType::Array => {
            let items = schema.value_schema.as_deref().ok_or_else(mismatch)?;
            Value::Array(j.as_array().ok_or_else(mismatch)?.iter().map(|v| json_to_value(items, v)).collect::<ConnectResult<_>>()?)
        }
        SchemaType::Map => {
            let ks = schema.key_schema.as_deref().ok_or_else(mismatch)?;
            let vs = schema.value_schema.as_deref().ok_or_else(mismatch)?;
            let mut entries = Vec::new();
            match j {
                Json::Object(o) if ks.schema_type == SchemaType::String => {
                    for (k, v) in o {
                        entries.push((Value::String(k.clone()), json_to_value(vs, v)?));
                    }
                }
                Json::Array(pairs) => {
                    for p in pairs {
                        match p.as_array().map(Vec::as_slice) {
                            Some([k, v]) => entries.push((json_to_value(ks, k)?, json_to_value(vs, v)?)),
                            _ => return Err(data_err("Found invalid map entry instead of array tuple")),
                        }
                    }
                }
                _ => return Err(mismatch()),
            }
            Value::Map(entries)
        }
        SchemaType::Struct => {
            let o = j.as_object().ok_or_else(mismatch)?;
            let mut st = Struct::with_capacity(schema.fields.len());
            for f in &schema.fields {
                let v = json_to_value(&f.schema, o.get(&f.name).unwrap_or(&Json::Null)).map_err(|e| data_err(format!("field '{}': {e}", f.name)))?;
                st.fields.push((f.name.clone(), v));
            }
            Value::Struct(st)
        }
    })
}

fn json_float(j: &Json) -> Option<f64> {
    match j {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(), // "NaN", "Infinity"
        _ => None,
    }
}

/// "123.45" at scale 2 → 12345 (digits beyond the scale are an error, not rounded).
pub fn numeric_to_unscaled(text: &str, scale: i32) -> Option<i128> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if text.contains(['e', 'E']) || frac.len() > scale.max(0) as usize {
        return None;
    }
    let padded = format!("{int}{frac}{}", "0".repeat(scale.max(0) as usize - frac.len()));
    padded.parse().ok()
}

/// Schemaless JSON → Connect values, as Connect's JsonConverter reads it.
pub fn json_to_schemaless(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(json_to_schemaless).collect()),
        Json::Object(o) => Value::Map(o.iter().map(|(k, v)| (Value::String(k.clone()), json_to_schemaless(v))).collect()),
    }
}

//! Connect values written straight into JSON bytes: no `serde_json::Value` tree, no per-field
//! maps or key copies. This is the fast path of the JsonConverter (`from_connect`) and of the
//! S3 sink's JSON lines and Arrow JSON; [`JsonValueOptions`] says how each of them writes.
//!
//! With `merge_repeated_keys`, an object whose keys repeat is written as a `serde_json` object
//! would hold it (each key once, at its first position, with its last value), so the text
//! equals serializing [`super::tree::value_to_json`]'s tree.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sluice_sdk::data::logical;
use sluice_sdk::{ConnectError, ConnectResult, Schema, SchemaType, Value};

use super::{BytesFormat, DecimalFormat, JsonValueOptions, MapObjects, NonFinite, NullDefault, StructFields};

/// Whether a null of `schema` is written as its default `o.null_default` (the default, if so).
pub(super) fn null_default<'s>(schema: &'s Schema, o: &JsonValueOptions) -> Option<&'s Value> {
    let d = schema.default_value.as_ref()?;
    match o.null_default {
        NullDefault::Always => Some(d),
        NullDefault::Required if !schema.optional => Some(d),
        _ => None,
    }
}

/// Whether a map is written as an object under `o.maps`.
pub(super) fn map_as_object(schema: Option<&Schema>, entries: &[(Value, Value)], o: &JsonValueOptions) -> bool {
    let string_keys = || entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
    match (o.maps, schema.and_then(|s| s.key_schema.as_deref())) {
        (MapObjects::ByKeySchema, Some(ks)) => ks.schema_type == SchemaType::String,
        _ => string_keys(),
    }
}

/// Whether a struct with `schema` is written with the schema's fields (else the value's own).
pub(super) fn schema_fields<'s>(schema: Option<&'s Schema>, o: &JsonValueOptions) -> Option<&'s Schema> {
    schema.filter(|s| o.struct_fields == StructFields::Schema || !s.fields.is_empty())
}

/// A Decimal's text at `scale` (its bytes are a two's-complement unscaled value).
pub(super) fn decimal_text(b: &[u8], scale: i32) -> ConnectResult<String> {
    let unscaled = logical::decode_unscaled(b).ok_or_else(|| ConnectError::data("Decimal value does not fit in 128 bits"))?;
    Ok(logical::decimal_to_string(unscaled, scale))
}

/// Bytes as lower-case hex.
pub(super) fn hex(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
    s
}

/// Writes `value` (of `schema`, if known) as JSON text into `out`.
pub fn write_value(out: &mut Vec<u8>, schema: Option<&Schema>, value: &Value, o: &JsonValueOptions) -> ConnectResult<()> {
    if value.is_null() {
        if let Some(s) = schema {
            if let Some(d) = null_default(s, o) {
                return write_value(out, Some(s), d, o);
            }
            if o.check_schema && !s.optional {
                return Err(ConnectError::data(format!(
                    "Conversion error: null value for field that is required and has no default value ({})",
                    s.schema_type.connect_name()
                )));
            }
        }
        out.extend_from_slice(b"null");
        return Ok(());
    }
    if o.check_schema
        && let Some(s) = schema
    {
        check_type(s, value)?;
    }
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int8(v) => write_int(out, i64::from(*v)),
        Value::Int16(v) => write_int(out, i64::from(*v)),
        Value::Int32(v) => write_int(out, i64::from(*v)),
        Value::Int64(v) => write_int(out, *v),
        Value::Float32(v) => write_float(out, *v as f64, o.non_finite),
        Value::Float64(v) => write_float(out, *v, o.non_finite),
        Value::Boolean(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        Value::String(s) => write_str(out, s),
        Value::Bytes(b) => match (schema.and_then(logical::decimal_scale), o.decimals) {
            (Some(scale), DecimalFormat::Numeric) => out.extend_from_slice(decimal_text(b, scale)?.as_bytes()),
            (Some(scale), DecimalFormat::NumericString) => write_str(out, &decimal_text(b, scale)?),
            (Some(_), DecimalFormat::Base64) => write_str(out, &B64.encode(b)),
            (None, _) => match o.bytes {
                BytesFormat::Base64 => write_str(out, &B64.encode(b)),
                BytesFormat::Hex => write_str(out, &hex(b)),
            },
        },
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item_schema, item, o)?;
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            let ks = schema.and_then(|s| s.key_schema.as_deref());
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            if map_as_object(schema, entries, o) {
                let items = entries.iter().map(|(k, v)| Entry { name: k.as_str().unwrap_or_default(), schema: vs, value: v });
                if o.merge_repeated_keys && !distinct(entries, |(k, _)| k.as_str().unwrap_or_default()) {
                    write_merged(out, items.collect(), o, false)?;
                } else {
                    write_object(out, items, o, false)?;
                }
            } else {
                out.push(b'[');
                for (i, (k, v)) in entries.iter().enumerate() {
                    out.extend_from_slice(if i > 0 { b",[" } else { b"[" });
                    write_value(out, ks, k, o)?;
                    out.push(b',');
                    write_value(out, vs, v, o)?;
                    out.push(b']');
                }
                out.push(b']');
            }
        }
        Value::Struct(st) => match schema_fields(schema, o) {
            Some(s) => {
                let items = s.fields.iter().enumerate().map(|(i, f)| Entry {
                    name: &f.name,
                    schema: Some(&f.schema),
                    value: st.get_at(i, &f.name).unwrap_or(&Value::Null),
                });
                if o.merge_repeated_keys && !distinct(&s.fields, |f| f.name.as_str()) {
                    write_merged(out, items.collect(), o, o.check_schema)?;
                } else {
                    write_object(out, items, o, o.check_schema)?;
                }
            }
            None => {
                let items = st.fields.iter().map(|(n, v)| Entry { name: n, schema: None, value: v });
                if o.merge_repeated_keys && !distinct(&st.fields, |(n, _)| n.as_str()) {
                    write_merged(out, items.collect(), o, false)?;
                } else {
                    write_object(out, items, o, false)?;
                }
            }
        },
    }
    Ok(())
}

/// One key of an object being written.
struct Entry<'a> {
    name: &'a str,
    schema: Option<&'a Schema>,
    value: &'a Value,
}

/// `{"name":value,...}`; with `name_errors`, an error names the field (`field 'x': ...`).
fn write_object<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = Entry<'a>>, o: &JsonValueOptions, name_errors: bool) -> ConnectResult<()> {
    out.push(b'{');
    for (i, e) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, e.name);
        out.push(b':');
        let written = write_value(out, e.schema, e.value, o);
        if name_errors {
            written.map_err(|err| ConnectError::data(format!("field '{}': {err}", e.name)))?;
        } else {
            written?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// An object whose keys repeat, as a JSON object holds it: each key at its first position,
/// with its last value.
fn write_merged(out: &mut Vec<u8>, items: Vec<Entry<'_>>, o: &JsonValueOptions, name_errors: bool) -> ConnectResult<()> {
    let merged = items.iter().enumerate().filter(|(i, e)| !items[..*i].iter().any(|b| b.name == e.name)).map(|(_, first)| {
        let last = items.iter().rev().find(|e| e.name == first.name).unwrap_or(first);
        Entry { name: last.name, schema: last.schema, value: last.value }
    });
    write_object(out, merged, o, name_errors)
}

/// Whether no key of `items` repeats (no allocation for up to 32 items: this runs per record).
pub(super) fn distinct<T>(items: &[T], key: impl for<'a> Fn(&'a T) -> &'a str) -> bool {
    if items.len() <= 32 {
        items.iter().enumerate().all(|(i, a)| !items[..i].iter().any(|b| key(b) == key(a)))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        items.iter().all(|i| seen.insert(key(i)))
    }
}

/// Type check of this level only; nested levels are checked as they are written.
fn check_type(schema: &Schema, value: &Value) -> ConnectResult<()> {
    let ok = schema.schema_type.holds(value);
    if ok { Ok(()) } else { Err(ConnectError::data(format!("Invalid type for {}: {}", schema.schema_type.connect_name(), value.type_name()))) }
}

/// An integer (as serde_json and Java print it).
fn write_int(out: &mut Vec<u8>, v: i64) {
    use std::io::Write;
    let _ = write!(out, "{v}");
}

/// A float: the shortest text that reads back the same (serde_json's); NaN and the
/// infinities as `non_finite` says.
fn write_float(out: &mut Vec<u8>, v: f64, non_finite: NonFinite) {
    if v.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        match non_finite {
            NonFinite::String => write_str(out, &v.to_string()),
            NonFinite::Null => out.extend_from_slice(b"null"),
        }
    }
}

/// A JSON string (serde_json's escaping).
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

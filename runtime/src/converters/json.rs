//! `org.apache.kafka.connect.json.JsonConverter`, byte for byte.
//!
//! With `schemas.enable=true` (the default) each message is the envelope
//! `{"schema": {...}, "payload": ...}` with Connect's JSON schema format; with `false` the
//! payload alone, and reading gives schemaless values (objects become maps, integers Int64,
//! other numbers Float64). Bytes and Decimals are base64 (`decimal.format=BASE64`, the
//! default) or, for Decimals, plain numbers (`NUMERIC`). Logical Date/Time/Timestamp values are
//! their integer encodings, as Connect writes them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value as Json};
use sluice_sdk::data::logical;
use sluice_sdk::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Converter, Importance, Props, Schema, SchemaRef, SchemaType,
    Struct, Validator, Value,
};

/// Schemas whose JSON form is cached, keyed by the schema's address (the cache holds the Arc,
/// so an address is never reused while cached).
type SchemaCache = HashMap<usize, (SchemaRef, Arc<Vec<u8>>)>;

/// How many schemas read from envelopes are remembered by their JSON text.
const READ_CACHE_SIZE: usize = 16;

/// The envelope `{"schema": ..., "payload": ...}`, its parts left as raw JSON text.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    schema: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    payload: &'a serde_json::value::RawValue,
}

pub struct JsonConverter {
    schemas_enable: bool,
    decimal_numeric: bool,
    replace_null_with_default: bool,
    cache_size: usize,
    cache: Mutex<SchemaCache>,
    /// Schemas read from envelopes, by their JSON text, most recent first: records of a topic
    /// share a few schemas, so each is parsed once (as Connect's converter caches them) and
    /// records keep sharing one `Arc<Schema>`.
    read_cache: Mutex<Vec<(Box<str>, SchemaRef)>>,
}

impl Default for JsonConverter {
    fn default() -> Self {
        JsonConverter {
            schemas_enable: true,
            decimal_numeric: false,
            replace_null_with_default: true,
            cache_size: 1000,
            cache: Mutex::new(HashMap::new()),
            read_cache: Mutex::new(Vec::new()),
        }
    }
}

fn data_err(msg: impl std::fmt::Display) -> ConnectError {
    ConnectError::data(msg)
}

impl Converter for JsonConverter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new("schemas.enable", ConfigType::Boolean).default("true").importance(Importance::High).doc("Include schemas within each of the serialized values and keys."))
            .define(
                ConfigKey::new("schemas.cache.size", ConfigType::Int)
                    .default("1000")
                    .importance(Importance::High)
                    .validator(Validator::at_least(0.0))
                    .doc("The maximum number of schemas that can be cached in this converter instance."),
            )
            .define(
                ConfigKey::new("decimal.format", ConfigType::String)
                    .default("BASE64")
                    .importance(Importance::Low)
                    .validator(Validator::one_of_ignore_case(&["BASE64", "NUMERIC"]))
                    .doc("Controls which format this converter will serialize decimals in."),
            )
            .define(
                ConfigKey::new("replace.null.with.default", ConfigType::Boolean)
                    .default("true")
                    .importance(Importance::Low)
                    .doc("Whether to replace fields that have a default value and that are null to the default value."),
            )
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> ConnectResult<()> {
        let cfg = self.config_def().parse(props)?;
        self.schemas_enable = cfg.boolean("schemas.enable")?;
        self.cache_size = cfg.int("schemas.cache.size")? as usize;
        self.decimal_numeric = cfg.string("decimal.format")?.eq_ignore_ascii_case("NUMERIC");
        self.replace_null_with_default = cfg.boolean("replace.null.with.default")?;
        Ok(())
    }

    fn from_connect(&self, _topic: &str, schema: Option<&SchemaRef>, value: &Value) -> ConnectResult<Option<Vec<u8>>> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(256);
        if self.schemas_enable {
            out.extend_from_slice(b"{\"schema\":");
            match schema {
                Some(s) => out.extend_from_slice(&self.schema_json(s)?),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"payload\":");
            self.write_value(&mut out, schema.map(|s| &**s), value)?;
            out.push(b'}');
        } else {
            self.write_value(&mut out, schema.map(|s| &**s), value)?;
        }
        Ok(Some(out))
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<(Option<SchemaRef>, Value)> {
        let Some(bytes) = bytes else { return Ok((None, Value::Null)) };
        // The fast path reads straight into Connect data; whatever it cannot read (errors
        // included) goes the tree-based way below, which gives Connect's messages.
        if !self.schemas_enable {
            if let Some(v) = super::json_read::read_schemaless(bytes) {
                return Ok((None, v));
            }
        } else if let Some(out) = super::json_read::read_envelope_known(bytes, &|rest| self.known_schema(rest)) {
            return Ok(out);
        } else if let Some(out) = super::json_read::read_envelope(bytes, &|text| self.read_schema(text)) {
            return Ok(out);
        }
        self.to_connect_via_tree(bytes)
    }
}

/// The error of bytes that are not (the expected) JSON, worded as Connect's.
fn serialization_err(e: serde_json::Error) -> ConnectError {
    data_err(format!("Converting byte[] to Kafka Connect data failed due to serialization error: {e}"))
}

impl JsonConverter {
    /// Reads a message through a `serde_json::Value` tree (the reference path, and the one that
    /// words the errors).
    fn to_connect_via_tree(&self, bytes: &[u8]) -> ConnectResult<(Option<SchemaRef>, Value)> {
        if !self.schemas_enable {
            let json: Json = serde_json::from_slice(bytes).map_err(serialization_err)?;
            return Ok((None, json_to_schemaless(&json)));
        }
        let envelope: Envelope<'_> = match serde_json::from_slice(bytes) {
            Ok(e) => e,
            // Valid JSON of another shape, or not JSON at all.
            Err(e) => return Err(serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_or_else(|_| serialization_err(e), |_| envelope_error())),
        };
        let schema = self.read_schema(envelope.schema.get())?;
        let payload: Json = serde_json::from_str(envelope.payload.get()).map_err(serialization_err)?;
        let value = match &schema {
            Some(s) => json_to_value(s, &payload)?,
            None => json_to_schemaless(&payload),
        };
        Ok((schema, value))
    }
}

fn envelope_error() -> ConnectError {
    data_err(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. \
         If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.",
    )
}

impl JsonConverter {
    /// A converter with `schemas.enable=false` and the other defaults.
    pub fn schemaless() -> JsonConverter {
        JsonConverter { schemas_enable: false, ..JsonConverter::default() }
    }

    /// The schema of an envelope from its JSON text (`null`: none), parsed once per text.
    fn read_schema(&self, text: &str) -> ConnectResult<Option<SchemaRef>> {
        if text == "null" {
            return Ok(None);
        }
        let mut cache = self.read_cache.lock().map_err(|_| ConnectError::fatal("JsonConverter schema cache poisoned"))?;
        if let Some(i) = cache.iter().position(|(t, _)| &**t == text) {
            return Ok(Some(cache[i].1.clone()));
        }
        let json: Json = serde_json::from_str(text).map_err(serialization_err)?;
        let schema = Arc::new(json_to_schema(&json)?);
        cache.insert(0, (text.into(), schema.clone()));
        cache.truncate(READ_CACHE_SIZE);
        Ok(Some(schema))
    }

    /// The cached schema whose JSON text `rest` starts with: the text's length and the schema.
    fn known_schema(&self, rest: &[u8]) -> Option<(usize, SchemaRef)> {
        let cache = self.read_cache.lock().ok()?;
        cache.iter().find(|(t, _)| rest.starts_with(t.as_bytes())).map(|(t, s)| (t.len(), s.clone()))
    }

    fn schema_json(&self, schema: &SchemaRef) -> ConnectResult<Arc<Vec<u8>>> {
        let key = Arc::as_ptr(schema) as usize;
        let mut cache = self.cache.lock().map_err(|_| ConnectError::fatal("JsonConverter schema cache poisoned"))?;
        if let Some((_, bytes)) = cache.get(&key) {
            return Ok(bytes.clone());
        }
        let bytes = Arc::new(serde_json::to_vec(&schema_to_json(schema)?).map_err(data_err)?);
        if self.cache_size > 0 {
            if cache.len() >= self.cache_size {
                cache.clear();
            }
            cache.insert(key, (schema.clone(), bytes.clone()));
        }
        Ok(bytes)
    }

    fn write_value(&self, out: &mut Vec<u8>, schema: Option<&Schema>, value: &Value) -> ConnectResult<()> {
        if value.is_null() {
            if let Some(s) = schema {
                if let (true, Some(d)) = (self.replace_null_with_default, &s.default_value) {
                    return self.write_value(out, Some(s), d);
                }
                if !s.optional {
                    return Err(data_err(format!("Conversion error: null value for field that is required and has no default value ({})", s.schema_type.connect_name())));
                }
            }
            out.extend_from_slice(b"null");
            return Ok(());
        }
        if let Some(s) = schema {
            s.validate_value_shallow(value)?;
        }
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Int8(v) => write_display(out, v),
            Value::Int16(v) => write_display(out, v),
            Value::Int32(v) => write_display(out, v),
            Value::Int64(v) => write_display(out, v),
            Value::Float32(v) => write_float(out, *v as f64),
            Value::Float64(v) => write_float(out, *v),
            Value::Boolean(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
            Value::String(s) => write_str(out, s),
            Value::Bytes(b) => match schema.and_then(logical::decimal_scale) {
                Some(scale) if self.decimal_numeric => {
                    let unscaled = logical::decode_unscaled(b).ok_or_else(|| data_err("Decimal value does not fit in 128 bits"))?;
                    out.extend_from_slice(logical::decimal_to_string(unscaled, scale).as_bytes());
                }
                _ => write_str(out, &B64.encode(b)),
            },
            Value::Array(items) => {
                let item_schema = schema.and_then(|s| s.value_schema.as_deref());
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_value(out, item_schema, item)?;
                }
                out.push(b']');
            }
            Value::Map(entries) => {
                let key_schema = schema.and_then(|s| s.key_schema.as_deref());
                let value_schema = schema.and_then(|s| s.value_schema.as_deref());
                let object_mode = match key_schema {
                    Some(ks) => ks.schema_type == SchemaType::String,
                    None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
                };
                if object_mode {
                    out.push(b'{');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_str(out, k.as_str().unwrap_or_default());
                        out.push(b':');
                        self.write_value(out, value_schema, v)?;
                    }
                    out.push(b'}');
                } else {
                    out.push(b'[');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.push(b'[');
                        self.write_value(out, key_schema, k)?;
                        out.push(b',');
                        self.write_value(out, value_schema, v)?;
                        out.push(b']');
                    }
                    out.push(b']');
                }
            }
            Value::Struct(st) => {
                out.push(b'{');
                match schema {
                    Some(s) => {
                        for (i, field) in s.fields.iter().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            write_str(out, &field.name);
                            out.push(b':');
                            let v = st.get_at(i, &field.name).unwrap_or(&Value::Null);
                            self.write_value(out, Some(&field.schema), v)
                                .map_err(|e| data_err(format!("field '{}': {e}", field.name)))?;
                        }
                    }
                    None => {
                        for (i, (name, v)) in st.fields.iter().enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            write_str(out, name);
                            out.push(b':');
                            self.write_value(out, None, v)?;
                        }
                    }
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

trait ShallowCheck {
    fn validate_value_shallow(&self, value: &Value) -> ConnectResult<()>;
}

impl ShallowCheck for Schema {
    /// Type check of this level only; nested levels are checked as they are written.
    fn validate_value_shallow(&self, value: &Value) -> ConnectResult<()> {
        let ok = matches!(
            (self.schema_type, value),
            (SchemaType::Int8, Value::Int8(_))
                | (SchemaType::Int16, Value::Int16(_))
                | (SchemaType::Int32, Value::Int32(_))
                | (SchemaType::Int64, Value::Int64(_))
                | (SchemaType::Float32, Value::Float32(_))
                | (SchemaType::Float64, Value::Float64(_))
                | (SchemaType::Boolean, Value::Boolean(_))
                | (SchemaType::String, Value::String(_))
                | (SchemaType::Bytes, Value::Bytes(_))
                | (SchemaType::Array, Value::Array(_))
                | (SchemaType::Map, Value::Map(_))
                | (SchemaType::Struct, Value::Struct(_))
        );
        if ok {
            Ok(())
        } else {
            Err(data_err(format!("Invalid type for {}: {}", self.schema_type.connect_name(), value.type_name())))
        }
    }
}

fn write_display(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    use std::io::Write;
    let _ = write!(out, "{v}");
}

fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        // serde_json prints the shortest representation that reads back the same.
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        write_str(out, &v.to_string());
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Connect's JSON schema format for `schema`.
pub fn schema_to_json(schema: &Schema) -> ConnectResult<Json> {
    let mut m = Map::new();
    m.insert("type".into(), Json::from(schema.schema_type.connect_name()));
    match schema.schema_type {
        SchemaType::Array => {
            let items = schema.value_schema.as_ref().ok_or_else(|| data_err("array schema without items"))?;
            m.insert("items".into(), schema_to_json(items)?);
        }
        SchemaType::Map => {
            let keys = schema.key_schema.as_ref().ok_or_else(|| data_err("map schema without keys"))?;
            let values = schema.value_schema.as_ref().ok_or_else(|| data_err("map schema without values"))?;
            m.insert("keys".into(), schema_to_json(keys)?);
            m.insert("values".into(), schema_to_json(values)?);
        }
        SchemaType::Struct => {
            let mut fields = Vec::with_capacity(schema.fields.len());
            for f in &schema.fields {
                let mut fj = schema_to_json(&f.schema)?;
                if let Json::Object(o) = &mut fj {
                    o.insert("field".into(), Json::from(f.name.clone()));
                }
                fields.push(fj);
            }
            m.insert("fields".into(), Json::Array(fields));
        }
        _ => {}
    }
    m.insert("optional".into(), Json::Bool(schema.optional));
    if let Some(n) = &schema.name {
        m.insert("name".into(), Json::from(n.clone()));
    }
    if let Some(v) = schema.version {
        m.insert("version".into(), Json::from(v));
    }
    if let Some(d) = &schema.doc {
        m.insert("doc".into(), Json::from(d.clone()));
    }
    if !schema.parameters.is_empty() {
        let p: Map<String, Json> = schema.parameters.iter().map(|(k, v)| (k.clone(), Json::from(v.clone()))).collect();
        m.insert("parameters".into(), Json::Object(p));
    }
    if let Some(d) = &schema.default_value {
        let conv = JsonConverter::schemaless();
        let mut buf = Vec::new();
        conv.write_value(&mut buf, Some(&Schema { default_value: None, ..schema.clone() }), d)?;
        m.insert("default".into(), serde_json::from_slice(&buf).map_err(data_err)?);
    }
    Ok(Json::Object(m))
}

/// Parses Connect's JSON schema format.
pub fn json_to_schema(j: &Json) -> ConnectResult<Schema> {
    let Json::Object(o) = j else { return Err(data_err(format!("Schema must be a JSON object, got {j}"))) };
    let type_name = o.get("type").and_then(Json::as_str).ok_or_else(|| data_err("Schema must contain 'type' field"))?;
    let ty = SchemaType::from_connect_name(type_name).ok_or_else(|| data_err(format!("Unknown schema type: {type_name}")))?;
    let mut s = Schema::of(ty);
    match ty {
        SchemaType::Array => {
            let items = o.get("items").ok_or_else(|| data_err("Array schema did not specify the items type"))?;
            s.value_schema = Some(Arc::new(json_to_schema(items)?));
        }
        SchemaType::Map => {
            let keys = o.get("keys").ok_or_else(|| data_err("Map schema did not specify the key type"))?;
            let values = o.get("values").ok_or_else(|| data_err("Map schema did not specify the value type"))?;
            s.key_schema = Some(Arc::new(json_to_schema(keys)?));
            s.value_schema = Some(Arc::new(json_to_schema(values)?));
        }
        SchemaType::Struct => {
            let fields = o.get("fields").and_then(Json::as_array).ok_or_else(|| data_err("Struct schema's \"fields\" argument is not an array."))?;
            for f in fields {
                let name = f.get("field").and_then(Json::as_str).ok_or_else(|| data_err("Struct schema's field name not specified properly"))?;
                s = s.field(name, json_to_schema(f)?);
            }
        }
        _ => {}
    }
    s.optional = o.get("optional").and_then(Json::as_bool).unwrap_or(false);
    s.name = o.get("name").and_then(Json::as_str).map(str::to_string);
    s.version = o.get("version").and_then(Json::as_i64).map(|v| v as i32);
    s.doc = o.get("doc").and_then(Json::as_str).map(str::to_string);
    if let Some(Json::Object(p)) = o.get("parameters") {
        for (k, v) in p {
            s.parameters.insert(k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    if let Some(d) = o.get("default")
        && !d.is_null()
    {
        s.default_value = Some(json_to_value(&s, d)?);
    }
    Ok(s)
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
                let v = json_to_value(&f.schema, o.get(&f.name).unwrap_or(&Json::Null))
                    .map_err(|e| data_err(format!("field '{}': {e}", f.name)))?;
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
pub(super) fn numeric_to_unscaled(text: &str, scale: i32) -> Option<i128> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(schemas: bool) -> JsonConverter {
        let mut c = JsonConverter::default();
        let mut p = Props::new();
        p.insert("schemas.enable".into(), schemas.to_string());
        c.configure(&p, false).unwrap();
        c
    }

    fn order_schema() -> SchemaRef {
        Schema::struct_builder()
            .name("Order")
            .field("id", Schema::int64())
            .field("amount", logical::decimal(2))
            .field("tags", Schema::array(Schema::string()))
            .field("attrs", Schema::map(Schema::string(), Schema::int32()).optional())
            .field("note", Schema::string().optional())
            .build()
    }

    fn order() -> Value {
        Value::Struct(
            Struct::new()
                .put("id", 7i64)
                .put("amount", Value::Bytes(logical::encode_unscaled(12345)))
                .put("tags", Value::Array(vec!["a".into()]))
                .put("attrs", Value::Map(vec![("x".into(), Value::Int32(1))]))
                .put("note", Value::Null),
        )
    }

    /// The fast read path gives what the tree-based one gives: the same values, or (by falling
    /// back to it) the same errors.
    #[test]
    fn the_fast_read_path_agrees_with_the_tree_based_one() {
        let schema = r#"{"type":"struct","optional":false,"fields":[
            {"field":"i8","type":"int8"},{"field":"i16","type":"int16","optional":true},{"field":"i32","type":"int32","optional":true,"default":5},
            {"field":"i64","type":"int64"},{"field":"f32","type":"float","optional":true},{"field":"f64","type":"double","optional":true},
            {"field":"b","type":"boolean","optional":true},{"field":"s","type":"string","optional":true},{"field":"by","type":"bytes","optional":true},
            {"field":"dec","type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},
            {"field":"arr","type":"array","optional":true,"items":{"type":"int32"}},
            {"field":"m","type":"map","optional":true,"keys":{"type":"string"},"values":{"type":"int64"}},
            {"field":"im","type":"map","optional":true,"keys":{"type":"int32"},"values":{"type":"string"}},
            {"field":"st","type":"struct","optional":true,"fields":[{"field":"x","type":"string"}]}]}"#;
        let payloads = [
            r#"{"i8":-8,"i16":300,"i32":null,"i64":9007199254740993,"f32":1.5,"f64":2,"b":true,"s":"h\u00e9\"llo","by":"AQI=","dec":123.45,"arr":[1,2],"m":{"a":1,"b":2},"im":[[1,"one"]],"st":{"x":"y"},"extra":[1,{"z":null}]}"#,
            r#"{"i8":1,"i64":-1,"f64":"NaN","f32":"Infinity","dec":"MDk=","st":null}"#,
            r#"{"i8":1,"i64":2,"dec":12}"#,
            r#"{"i8":1,"i64":2,"m":{"a":1,"a":2}}"#,
            r#"{"i8":1,"i64":2,"\u0069\u0038":3}"#,
            r#"{"i8":128,"i64":2}"#,
            r#"{"i8":1,"i64":18446744073709551615}"#,
            r#"{"i8":1,"i64":2.5}"#,
            r#"{"i8":1}"#,
            r#"{"i8":1,"i64":2,"dec":1.234}"#,
            r#"{"i8":1,"i64":2,"s":5}"#,
            r#"{"i8":1,"i64":2,"by":"not base64!"}"#,
            r#"{"i8":1,"i64":2,"st":{"x":null}}"#,
            r#"[1]"#,
            r#"null"#,
        ];
        let c = conv(true);
        let schemaless = conv(false);
        let show = |r: ConnectResult<(Option<SchemaRef>, Value)>| match r {
            Ok((s, v)) => format!("ok {:?} {v:?}", s.map(|s| s.schema_type)),
            Err(e) => format!("err {e}"),
        };
        let (mut fast_hits, mut known_hits) = (0, 0);
        for p in payloads {
            for env in [format!(r#"{{"schema":{schema},"payload":{p}}}"#), format!(r#"{{"payload":{p},"schema":{schema}}}"#), format!(r#"{{"schema":null,"payload":{p}}}"#)] {
                let b = env.as_bytes();
                assert_eq!(show(c.to_connect("t", Some(b))), show(c.to_connect_via_tree(b)), "{env}");
                let fast = super::super::json_read::read_envelope(b, &|t| c.read_schema(t)).is_some();
                let known = super::super::json_read::read_envelope_known(b, &|r| c.known_schema(r)).is_some();
                if env.starts_with(r#"{"schema":{"#) {
                    assert_eq!(known, fast, "a known schema text reads as the fast path does: {env}");
                }
                fast_hits += usize::from(fast);
                known_hits += usize::from(known);
            }
            assert_eq!(show(schemaless.to_connect("t", Some(p.as_bytes()))), show(schemaless.to_connect_via_tree(p.as_bytes())), "{p}");
        }
        assert!(fast_hits >= 12, "most envelopes take the fast path ({fast_hits})");
        assert!(known_hits >= 2, "envelopes of a known schema text skip its parsing ({known_hits})");
        let known = |tail: &str| format!(r#"{{"schema":{schema},"payload":{{"i8":1,"i64":2}}{tail}"#);
        for bad in [&b"{\"schema\":null,\"payload\":1,\"x\":2}"[..], b"{\"schema\":null}", b"{oops", b"{\"schema\":null,\"payload\":1} trailing"]
            .into_iter()
            .map(<[u8]>::to_vec)
            .chain(["}  \n", ",\"x\":2}", "} x", "", "}}", ",\"schema\":null}"].map(|t| known(t).into_bytes()))
        {
            assert_eq!(show(c.to_connect("t", Some(&bad))), show(c.to_connect_via_tree(&bad)), "{}", String::from_utf8_lossy(&bad));
        }
    }

    #[test]
    fn envelope_schemas_are_parsed_once_per_text_and_bad_envelopes_are_data_errors() {
        let c = conv(true);
        let bytes = c.from_connect("t", Some(&order_schema()), &order()).unwrap().unwrap();
        let (a, va) = c.to_connect("t", Some(&bytes)).unwrap();
        let (b, vb) = c.to_connect("t", Some(&bytes)).unwrap();
        assert!(Arc::ptr_eq(a.as_ref().unwrap(), b.as_ref().unwrap()), "one schema for the same text");
        assert_eq!((va, a.as_deref()), (vb, Some(&*order_schema())));
        let (none, v) = c.to_connect("t", Some(br#"{"schema": null, "payload": {"x": 1}}"#)).unwrap();
        assert!(none.is_none() && matches!(v, Value::Map(_)));
        for bad in [&br#"{"schema": null, "payload": 1, "extra": 2}"#[..], br#"{"payload": 1}"#, b"[1]"] {
            assert!(c.to_connect("t", Some(bad)).unwrap_err().to_string().contains("requires \"schema\" and \"payload\""));
        }
        assert!(c.to_connect("t", Some(b"{not json")).unwrap_err().to_string().contains("serialization error"));
    }

    #[test]
    fn envelope_matches_connect() {
        let bytes = conv(true).from_connect("t", Some(&Schema::int32().build()), &Value::Int32(5)).unwrap().unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), r#"{"schema":{"type":"int32","optional":false},"payload":5}"#);
        let bytes = conv(true).from_connect("t", Some(&order_schema()), &order()).unwrap().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"amount"}"#), "{text}");
        assert!(text.ends_with(r#""payload":{"id":7,"amount":"MDk=","tags":["a"],"attrs":{"x":1},"note":null}}"#), "{text}");
        let (schema, value) = conv(true).to_connect("t", Some(&bytes)).unwrap();
        assert_eq!(schema.as_deref(), Some(&*order_schema()));
        assert_eq!(value, order());
    }

    #[test]
    fn schemaless_round_trip() {
        let c = conv(false);
        let bytes = c.from_connect("t", Some(&order_schema()), &order()).unwrap().unwrap();
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), r#"{"id":7,"amount":"MDk=","tags":["a"],"attrs":{"x":1},"note":null}"#);
        let (schema, value) = c.to_connect("t", Some(&bytes)).unwrap();
        assert!(schema.is_none());
        let Value::Map(m) = value else { panic!("expected a map") };
        assert_eq!(m[0], (Value::from("id"), Value::Int64(7)));
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
        assert_eq!(c.to_connect("t", None).unwrap(), (None, Value::Null));
    }

    #[test]
    fn bad_input_is_a_data_error() {
        let cases: &[(&str, bool, &str)] = &[
            ("{not json", true, "serialization error"),
            (r#"{"a":1}"#, true, "requires \"schema\" and \"payload\""),
            (r#"{"schema":{"type":"int8","optional":false},"payload":300}"#, true, "Invalid value for int8"),
            (r#"{"schema":{"type":"nope"},"payload":1}"#, true, "Unknown schema type"),
            (r#"{"schema":{"type":"string","optional":false},"payload":null}"#, true, "Invalid null value"),
        ];
        for (input, schemas, msg) in cases {
            let err = conv(*schemas).to_connect("t", Some(input.as_bytes())).unwrap_err();
            assert!(matches!(err, ConnectError::Data(_)), "{input}: {err:?}");
            assert!(err.to_string().contains(msg), "{input}: {err}");
        }
        let err = conv(true).from_connect("t", Some(&Schema::int32().build()), &Value::from("x")).unwrap_err();
        assert!(err.to_string().contains("Invalid type for int32"), "{err}");
    }

    #[test]
    fn numeric_decimals() {
        let mut c = JsonConverter::default();
        let mut p = Props::new();
        p.insert("decimal.format".into(), "NUMERIC".into());
        c.configure(&p, false).unwrap();
        let s = logical::decimal(2).build();
        let bytes = c.from_connect("t", Some(&s), &Value::Bytes(logical::encode_unscaled(-12345))).unwrap().unwrap();
        assert!(String::from_utf8_lossy(&bytes).ends_with(r#""payload":-123.45}"#));
        let (_, v) = c.to_connect("t", Some(&bytes)).unwrap();
        assert_eq!(v, Value::Bytes(logical::encode_unscaled(-12345)));
    }
}

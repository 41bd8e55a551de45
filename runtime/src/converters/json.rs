//! `org.apache.kafka.connect.json.JsonConverter`, byte for byte.
//!
//! With `schemas.enable=true` (the default) each message is the envelope
//! `{"schema": {...}, "payload": ...}` with Connect's JSON schema format; with `false` the
//! payload alone, and reading gives schemaless values (objects become maps, integers Int64,
//! other numbers Float64). Bytes and Decimals are base64 (`decimal.format=BASE64`, the
//! default) or, for Decimals, plain numbers (`NUMERIC`). Logical Date/Time/Timestamp values are
//! their integer encodings, as Connect writes them.
//!
//! The JSON forms themselves (schema JSON, the value writer, the tree and fast read paths) are
//! `sluice_codecs::connect_json`'s; this module holds the converter: its config, the
//! envelope, the schema caches and Connect's envelope errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use sluice_codecs::connect_json::{JsonValueOptions, fast_read, json_to_schema, json_to_schemaless, json_to_value, schema_to_json, write_value};
use sluice_sdk::{ConfigDef, ConnectError, ConnectResult, Converter, Importance, Props, Schema, SchemaRef, Validator, Value, config_keys};

/// Schemas whose JSON form is cached, keyed by the schema's address (the cache holds the Arc,
/// so an address is never reused while cached).
type SchemaCache = HashMap<usize, (SchemaRef, Arc<Vec<u8>>)>;

/// How many schemas read from envelopes are remembered by their JSON text.
const READ_CACHE_SIZE: usize = 16;

config_keys! {
    fn config_def();
    SCHEMAS_ENABLE: Boolean = "schemas.enable" => default("true").importance(Importance::High).doc("Include schemas within each of the serialized values and keys.");
    SCHEMAS_CACHE_SIZE: Int = "schemas.cache.size" => default("1000")
        .importance(Importance::High)
        .validator(Validator::at_least(0.0))
        .doc("The maximum number of schemas that can be cached in this converter instance.");
    DECIMAL_FORMAT: String = "decimal.format" => default("BASE64")
        .importance(Importance::Low)
        .validator(Validator::one_of_ignore_case(&["BASE64", "NUMERIC"]))
        .doc("Controls which format this converter will serialize decimals in.");
    REPLACE_NULL_WITH_DEFAULT: Boolean = "replace.null.with.default" => default("true")
        .importance(Importance::Low)
        .doc("Whether to replace fields that have a default value and that are null to the default value.");
}

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
        config_def()
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> ConnectResult<()> {
        let cfg = self.config_def().parse(props)?;
        self.schemas_enable = cfg.value(SCHEMAS_ENABLE)?;
        self.cache_size = cfg.value(SCHEMAS_CACHE_SIZE)? as usize;
        self.decimal_numeric = cfg.value(DECIMAL_FORMAT)?.eq_ignore_ascii_case("NUMERIC");
        self.replace_null_with_default = cfg.value(REPLACE_NULL_WITH_DEFAULT)?;
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
            if let Some(v) = fast_read::read_schemaless(bytes) {
                return Ok((None, v));
            }
        } else if let Some(out) = fast_read::read_envelope_known(bytes, &|rest| self.known_schema(rest)) {
            return Ok(out);
        } else if let Some(out) = fast_read::read_envelope(bytes, &|text| self.read_schema(text)) {
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
    data_err(format!(
        "JsonConverter with {SCHEMAS_ENABLE} requires \"schema\" and \"payload\" fields and may not contain additional fields. \
         If you are trying to deserialize plain JSON data, set {SCHEMAS_ENABLE}=false in your converter configuration."
    ))
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
        write_value(out, schema, value, &JsonValueOptions::converter(self.decimal_numeric, self.replace_null_with_default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::Struct;
    use sluice_sdk::data::logical;

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
            for env in [
                format!(r#"{{"schema":{schema},"payload":{p}}}"#),
                format!(r#"{{"payload":{p},"schema":{schema}}}"#),
                format!(r#"{{"schema":null,"payload":{p}}}"#),
            ] {
                let b = env.as_bytes();
                assert_eq!(show(c.to_connect("t", Some(b))), show(c.to_connect_via_tree(b)), "{env}");
                let fast = super::fast_read::read_envelope(b, &|t| c.read_schema(t)).is_some();
                let known = super::fast_read::read_envelope_known(b, &|r| c.known_schema(r)).is_some();
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

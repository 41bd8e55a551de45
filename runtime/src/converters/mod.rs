//! Converters between Connect data and Kafka bytes: Connect's JsonConverter, StringConverter
//! and ByteArrayConverter, and header values (SimpleHeaderConverter's rules).

mod json;

pub use json::JsonConverter;
pub use sluice_codecs::connect_json::{json_to_schema, json_to_schemaless, json_to_value, schema_to_json};

use std::sync::LazyLock;

use sluice_sdk::{ConfigDef, ConnectError, ConnectResult, Converter, Importance, Props, Schema, SchemaRef, SchemaType, Validator, Value, config_keys};

config_keys! {
    /// `StringConverter`'s keys.
    fn string_converter_def();
    CONVERTER_ENCODING: String = "converter.encoding" => default("UTF8")
        .importance(Importance::High)
        .validator(Validator::one_of_ignore_case(&["UTF8", "UTF-8"]))
        .doc("The name of the Java character set to use for encoding strings as byte arrays.");
}

/// `org.apache.kafka.connect.storage.StringConverter`: any value as its string form (UTF-8).
#[derive(Default)]
pub struct StringConverter;

impl Converter for StringConverter {
    fn config_def(&self) -> ConfigDef {
        string_converter_def()
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> ConnectResult<()> {
        self.config_def().parse(props).map(|_| ())
    }

    fn from_connect(&self, _topic: &str, _schema: Option<&SchemaRef>, value: &Value) -> ConnectResult<Option<Vec<u8>>> {
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().to_vec()),
            other => Some(other.to_string().into_bytes()),
        })
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<(Option<SchemaRef>, Value)> {
        let schema = Some(OPTIONAL_STRING.clone());
        match bytes {
            None => Ok((schema, Value::Null)),
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) => Ok((schema, Value::String(s.to_string()))),
                Err(e) => Err(ConnectError::data(format!("Failed to deserialize string: {e}"))),
            },
        }
    }
}

/// Connect's `Schema.OPTIONAL_STRING_SCHEMA`, `OPTIONAL_BYTES_SCHEMA`, `STRING_SCHEMA` and
/// `BYTES_SCHEMA`: one schema shared by every record, as in Connect, so that what is cached per
/// schema (its JSON text at the WASM boundary, a converter's cache) is found again instead of
/// being built for every record.
static OPTIONAL_STRING: LazyLock<SchemaRef> = LazyLock::new(|| Schema::string().optional().build());
static OPTIONAL_BYTES: LazyLock<SchemaRef> = LazyLock::new(|| Schema::bytes().optional().build());
static STRING: LazyLock<SchemaRef> = LazyLock::new(|| Schema::string().build());
static BYTES: LazyLock<SchemaRef> = LazyLock::new(|| Schema::bytes().build());

/// `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes through unchanged.
#[derive(Default)]
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props, _is_key: bool) -> ConnectResult<()> {
        Ok(())
    }

    fn from_connect(&self, _topic: &str, schema: Option<&SchemaRef>, value: &Value) -> ConnectResult<Option<Vec<u8>>> {
        if let Some(s) = schema
            && s.schema_type != SchemaType::Bytes
        {
            return Err(ConnectError::data(format!("Invalid schema type for ByteArrayConverter: {}", s.schema_type.connect_name())));
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b.clone())),
            other => Err(ConnectError::data(format!("ByteArrayConverter is not compatible with objects of type {}", other.type_name()))),
        }
    }

    fn to_connect(&self, _topic: &str, bytes: Option<&[u8]>) -> ConnectResult<(Option<SchemaRef>, Value)> {
        let schema = Some(OPTIONAL_BYTES.clone());
        Ok((schema, bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec()))))
    }
}

/// A header value as bytes (SimpleHeaderConverter): strings as UTF-8, bytes raw, other values
/// as JSON text, null as no value.
pub fn header_to_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Bytes(b) => Some(b.clone()),
        other => {
            static SCHEMALESS: std::sync::OnceLock<JsonConverter> = std::sync::OnceLock::new();
            let conv = SCHEMALESS.get_or_init(JsonConverter::schemaless);
            conv.from_connect("", None, other).ok().flatten()
        }
    }
}

/// A header's bytes as a value: a string when they are UTF-8, bytes otherwise.
pub fn header_from_bytes(bytes: Option<&[u8]>) -> (Option<SchemaRef>, Value) {
    match bytes {
        None => (None, Value::Null),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (Some(STRING.clone()), Value::String(s.to_string())),
            Err(_) => (Some(BYTES.clone()), Value::Bytes(b.to_vec())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_and_bytes() {
        let s = StringConverter;
        assert_eq!(s.from_connect("t", None, &Value::Int32(5)).unwrap(), Some(b"5".to_vec()));
        assert_eq!(s.to_connect("t", Some(b"hi")).unwrap().1, Value::from("hi"));
        assert!(s.to_connect("t", Some(&[0xff, 0xfe])).is_err());
        let b = ByteArrayConverter;
        assert_eq!(b.from_connect("t", None, &Value::Bytes(vec![1, 2])).unwrap(), Some(vec![1, 2]));
        assert!(b.from_connect("t", Some(&Schema::string().build()), &Value::from("x")).is_err());
        assert_eq!(b.to_connect("t", None).unwrap().1, Value::Null);
        // One shared schema per converter kind, as Connect's OPTIONAL_*_SCHEMA.
        let (first, second) = (s.to_connect("t", Some(b"a")).unwrap().0.unwrap(), s.to_connect("t", None).unwrap().0.unwrap());
        assert!(std::sync::Arc::ptr_eq(&first, &second));
        assert_eq!(*first, *Schema::string().optional().build());
        let (first, second) = (b.to_connect("t", Some(b"a")).unwrap().0.unwrap(), b.to_connect("t", None).unwrap().0.unwrap());
        assert!(std::sync::Arc::ptr_eq(&first, &second));
        assert_eq!(*first, *Schema::bytes().optional().build());
    }

    #[test]
    fn headers() {
        assert_eq!(header_to_bytes(&Value::from("v")), Some(b"v".to_vec()));
        assert_eq!(header_to_bytes(&Value::Int64(3)), Some(b"3".to_vec()));
        assert_eq!(header_from_bytes(Some(b"v")).1, Value::from("v"));
        assert_eq!(header_from_bytes(Some(&[0xff])).1, Value::Bytes(vec![0xff]));
    }
}

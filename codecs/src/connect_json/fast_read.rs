//! The JsonConverter's fast read path: a message's JSON text straight into Connect data, guided
//! by the schema, with no `serde_json::Value` tree in between (no intermediate maps, no key
//! hashing, one pass over the text).
//!
//! It accepts exactly what [`super::read::json_to_value`] / [`super::read::json_to_schemaless`]
//! accept and gives the same values; anything else (a mismatch, an error, an envelope with its
//! keys in another order, a map written as `[[k, v], ...]`) makes it give up with `None`, and the
//! caller takes the tree-based path, which produces Connect's exact error messages.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sluice_sdk::data::logical;
use sluice_sdk::{ConnectResult, Schema, SchemaRef, SchemaType, Struct, Value};

/// Reads `{"schema": ..., "payload": ...}` (keys in that order, nothing else); `schema_of`
/// turns the schema's JSON text into the schema (`None` for `null`).
pub fn read_envelope(bytes: &[u8], schema_of: &dyn Fn(&str) -> ConnectResult<Option<SchemaRef>>) -> Option<(Option<SchemaRef>, Value)> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let out = EnvelopeSeed { schema_of }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// Reads an envelope written as `{"schema":SCHEMA,"payload":...}` whose SCHEMA text is one
/// `known` already read, byte for byte (as a producer writes every record of a schema): the
/// schema's text is compared, not parsed again. `known` gives the length of the known schema
/// text that `rest` starts with, and its schema. Anything else gives `None`.
pub fn read_envelope_known(bytes: &[u8], known: &dyn Fn(&[u8]) -> Option<(usize, SchemaRef)>) -> Option<(Option<SchemaRef>, Value)> {
    let rest = bytes.strip_prefix(b"{\"schema\":")?;
    // A known text is a whole JSON object, so the schema value ends exactly where it does.
    let (len, schema) = known(rest)?;
    let payload = rest.get(len..)?.strip_prefix(b",\"payload\":")?;
    let payload = payload.trim_ascii_end().strip_suffix(b"}")?;
    let mut de = serde_json::Deserializer::from_slice(payload);
    let value = Typed(&schema).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some((Some(schema), value))
}

/// Reads a schemaless JSON document (`schemas.enable=false`).
pub fn read_schemaless(bytes: &[u8]) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Schemaless.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

struct EnvelopeSeed<'f> {
    schema_of: &'f dyn Fn(&str) -> ConnectResult<Option<SchemaRef>>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = (Option<SchemaRef>, Value);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = (Option<SchemaRef>, Value);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JsonConverter envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if map.next_key::<&str>()? != Some("schema") {
            return Err(A::Error::custom("schema first"));
        }
        let raw: &RawValue = map.next_value()?;
        let schema = (self.schema_of)(raw.get()).map_err(A::Error::custom)?;
        if map.next_key::<&str>()? != Some("payload") {
            return Err(A::Error::custom("payload second"));
        }
        let value = match &schema {
            Some(s) => map.next_value_seed(Typed(s))?,
            None => map.next_value_seed(Schemaless)?,
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("extra field"));
        }
        Ok((schema, value))
    }
}

/// A value of a known schema (as `json_to_value`).
struct Typed<'s>(&'s Schema);

impl<'de> DeserializeSeed<'de> for Typed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn mismatch<E: serde::de::Error>() -> E {
    E::custom("mismatch")
}

impl Typed<'_> {
    fn int<E: serde::de::Error>(&self, v: i128) -> Result<Value, E> {
        let fits = |min: i64, max: i64| (i128::from(min)..=i128::from(max)).contains(&v);
        Ok(match self.0.schema_type {
            SchemaType::Int8 if fits(i8::MIN.into(), i8::MAX.into()) => Value::Int8(v as i8),
            SchemaType::Int16 if fits(i16::MIN.into(), i16::MAX.into()) => Value::Int16(v as i16),
            SchemaType::Int32 if fits(i32::MIN.into(), i32::MAX.into()) => Value::Int32(v as i32),
            SchemaType::Int64 if fits(i64::MIN, i64::MAX) => Value::Int64(v as i64),
            SchemaType::Float32 => Value::Float32(v as f64 as f32),
            SchemaType::Float64 => Value::Float64(v as f64),
            SchemaType::Bytes => self.decimal(&v.to_string())?,
            _ => return Err(mismatch()),
        })
    }

    /// A Decimal written as a JSON number (`decimal.format=NUMERIC`).
    fn decimal<E: serde::de::Error>(&self, text: &str) -> Result<Value, E> {
        let scale = logical::decimal_scale(self.0).ok_or_else(mismatch)?;
        let unscaled = super::read::numeric_to_unscaled(text, scale).ok_or_else(mismatch)?;
        Ok(Value::Bytes(logical::encode_unscaled(unscaled)))
    }
}

impl<'de> Visitor<'de> for Typed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} value", self.0.schema_type.connect_name())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        match (&self.0.default_value, self.0.optional) {
            (Some(d), _) => Ok(d.clone()),
            (None, true) => Ok(Value::Null),
            (None, false) => Err(mismatch()),
        }
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        if self.0.schema_type == SchemaType::Boolean { Ok(Value::Boolean(v)) } else { Err(mismatch()) }
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.int(v.into())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.int(v.into())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        match self.0.schema_type {
            SchemaType::Float32 => Ok(Value::Float32(v as f32)),
            SchemaType::Float64 => Ok(Value::Float64(v)),
            SchemaType::Bytes => self.decimal(&serde_json::Number::from_f64(v).ok_or_else(mismatch)?.to_string()),
            _ => Err(mismatch()),
        }
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        match self.0.schema_type {
            SchemaType::String => Ok(Value::String(v.to_string())),
            SchemaType::Bytes => B64.decode(v).map(Value::Bytes).map_err(|_| mismatch()),
            SchemaType::Float32 => v.parse::<f64>().map(|f| Value::Float32(f as f32)).map_err(|_| mismatch()),
            SchemaType::Float64 => v.parse::<f64>().map(Value::Float64).map_err(|_| mismatch()),
            _ => Err(mismatch()),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.0.schema_type != SchemaType::Array {
            return Err(mismatch());
        }
        let items = self.0.value_schema.as_deref().ok_or_else(mismatch)?;
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Typed(items))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let s = self.0;
        match s.schema_type {
            SchemaType::Struct => {
                let mut values: Vec<Option<Value>> = vec![None; s.fields.len()];
                // A key with escapes cannot be borrowed: an error, so the tree-based path reads it.
                while let Some(key) = map.next_key::<&'de str>()? {
                    match s.fields.iter().position(|f| f.name == key) {
                        Some(i) => values[i] = Some(map.next_value_seed(Typed(&s.fields[i].schema))?),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let mut st = Struct::with_capacity(s.fields.len());
                for (f, v) in s.fields.iter().zip(values) {
                    let v = match v {
                        Some(v) => v,
                        None => Typed(&f.schema).visit_unit()?,
                    };
                    st.fields.push((f.name.clone(), v));
                }
                Ok(Value::Struct(st))
            }
            SchemaType::Map => {
                let ks = s.key_schema.as_deref().ok_or_else(mismatch)?;
                if ks.schema_type != SchemaType::String {
                    return Err(mismatch());
                }
                let vs = s.value_schema.as_deref().ok_or_else(mismatch)?;
                let mut entries: Vec<(Value, Value)> = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    entries.push((Value::String(k), map.next_value_seed(Typed(vs))?));
                }
                distinct_keys(entries)
            }
            _ => Err(mismatch()),
        }
    }
}

/// A schemaless value (as `json_to_schemaless`): objects become maps with string keys, integers
/// Int64, other numbers Float64.
struct Schemaless;

impl<'de> DeserializeSeed<'de> for Schemaless {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Schemaless {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float64(v as f64), Value::Int64))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float64(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Schemaless)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(Value, Value)> = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            entries.push((Value::String(k), map.next_value_seed(Schemaless)?));
        }
        distinct_keys(entries)
    }
}

/// A JSON object's entries as a map, if no key repeats (a repeated key — the last one wins in
/// Connect — is left to the tree-based path).
fn distinct_keys<E: serde::de::Error>(entries: Vec<(Value, Value)>) -> Result<Value, E> {
    fn key(e: &(Value, Value)) -> &str {
        match &e.0 {
            Value::String(k) => k.as_str(),
            _ => "",
        }
    }
    let repeats = if entries.len() <= 32 {
        entries.iter().enumerate().any(|(i, a)| entries[..i].iter().any(|b| key(a) == key(b)))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        !entries.iter().all(|e| seen.insert(key(e)))
    };
    if repeats { Err(E::custom("repeated key")) } else { Ok(Value::Map(entries)) }
}

//! `JsonFormat` (one JSON value per line) and `ByteArrayFormat` (raw value bytes with a
//! separator), both optionally gzip-compressed. Gzip output has no timestamp or file name in
//! its header, so the same records compress to the same bytes.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Map, Value as Json};
use sluice_sdk::data::logical;
use sluice_sdk::{ConnectError, ConnectResult, Schema, SinkRecord, Value};

use super::RecordWriter;

enum Sink {
    Plain(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
}

/// Writes JSON lines, or raw bytes when `separator` is set (ByteArrayFormat).
pub struct JsonWriter {
    sink: Sink,
    separator: Option<Vec<u8>>,
    line: Vec<u8>,
    raw_bytes: usize,
}

impl JsonWriter {
    pub fn new(gzip_level: Option<u32>, separator: Option<Vec<u8>>) -> JsonWriter {
        let sink = match gzip_level {
            Some(level) => Sink::Gzip(GzEncoder::new(Vec::new(), Compression::new(level))),
            None => Sink::Plain(Vec::new()),
        };
        JsonWriter { sink, separator, line: Vec::with_capacity(256), raw_bytes: 0 }
    }
}

impl RecordWriter for JsonWriter {
    fn write(&mut self, record: &SinkRecord) -> ConnectResult<()> {
        self.line.clear();
        match &self.separator {
            None => {
                if let Sink::Plain(v) = &mut self.sink {
                    // Straight into the object: no line buffer to copy from.
                    let before = v.len();
                    write_json(v, record.value_schema.as_deref(), &record.value, false)?;
                    v.push(b'\n');
                    self.raw_bytes += v.len() - before;
                    return Ok(());
                }
                write_json(&mut self.line, record.value_schema.as_deref(), &record.value, false)?;
                self.line.push(b'\n');
            }
            Some(sep) => {
                match &record.value {
                    Value::Bytes(b) => self.line.extend_from_slice(b),
                    Value::String(s) => self.line.extend_from_slice(s.as_bytes()),
                    other => return Err(ConnectError::data(format!("ByteArrayFormat needs BYTES or STRING values, got {}", other.type_name()))),
                }
                self.line.extend_from_slice(sep);
            }
        }
        self.raw_bytes += self.line.len();
        match &mut self.sink {
            Sink::Plain(v) => v.extend_from_slice(&self.line),
            Sink::Gzip(g) => g.write_all(&self.line).map_err(ConnectError::fatal)?,
        }
        Ok(())
    }

    fn buffered_bytes(&self) -> usize {
        match &self.sink {
            Sink::Plain(v) => v.len(),
            // The compressed size lags; count a fraction of the input so limits still bite.
            Sink::Gzip(g) => g.get_ref().len().max(self.raw_bytes / 8),
        }
    }

    fn finish(self: Box<Self>) -> ConnectResult<Vec<u8>> {
        match self.sink {
            Sink::Plain(v) => Ok(v),
            Sink::Gzip(g) => g.finish().map_err(ConnectError::fatal),
        }
    }
}

/// Writes `value` as JSON text into `out`: the same text as serializing
/// [`value_to_json`]`(schema, value, arrow)`, without building the tree (no per-field maps or
/// key copies). Objects whose keys repeat take the tree's way, which keeps the first
/// position and the last value.
pub fn write_json(out: &mut Vec<u8>, schema: Option<&Schema>, value: &Value, arrow: bool) -> ConnectResult<()> {
    match value {
        Value::Null => match schema {
            Some(s) if !s.optional && s.default_value.is_some() => write_json(out, Some(s), s.default_value.as_ref().unwrap_or(&Value::Null), arrow)?,
            _ => out.extend_from_slice(b"null"),
        },
        Value::Int8(v) => int(out, i64::from(*v)),
        Value::Int16(v) => int(out, i64::from(*v)),
        Value::Int32(v) => int(out, i64::from(*v)),
        Value::Int64(v) => int(out, *v),
        Value::Float32(v) => float(out, *v as f64),
        Value::Float64(v) => float(out, *v),
        Value::Boolean(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        Value::String(s) => write_str(out, s),
        Value::Bytes(b) => match schema.and_then(logical::decimal_scale) {
            Some(scale) if arrow => {
                let unscaled = logical::decode_unscaled(b).ok_or_else(|| ConnectError::data("Decimal value does not fit in 128 bits"))?;
                write_str(out, &logical::decimal_to_string(unscaled, scale));
            }
            _ if arrow => {
                out.push(b'"');
                for x in b {
                    out.extend_from_slice(&[HEX[(x >> 4) as usize], HEX[(x & 15) as usize]]);
                }
                out.push(b'"');
            }
            _ => write_str(out, &B64.encode(b)),
        },
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item_schema, v, arrow)?;
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            match entries.iter().all(|(k, _)| k.as_str().is_some()) {
                true if distinct(entries, map_key) => write_object(out, entries.iter().map(|e| (map_key(e), (vs, &e.1))), arrow)?,
                true => to_writer(out, &value_to_json(schema, value, arrow)?)?,
                false => {
                    let ks = schema.and_then(|s| s.key_schema.as_deref());
                    out.push(b'[');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        out.extend_from_slice(if i > 0 { b",[" } else { b"[" });
                        write_json(out, ks, k, arrow)?;
                        out.push(b',');
                        write_json(out, vs, v, arrow)?;
                        out.push(b']');
                    }
                    out.push(b']');
                }
            }
        }
        Value::Struct(st) => match schema {
            Some(s) if !s.fields.is_empty() => {
                let fields = s.fields.iter().enumerate().map(|(i, f)| (f.name.as_str(), (Some(&*f.schema), st.get_at(i, &f.name).unwrap_or(&Value::Null))));
                if distinct(&s.fields, |f: &sluice_sdk::Field| f.name.as_str()) {
                    write_object(out, fields, arrow)?;
                } else {
                    to_writer(out, &value_to_json(schema, value, arrow)?)?;
                }
            }
            _ => {
                if distinct(&st.fields, |(n, _): &(String, Value)| n.as_str()) {
                    write_object(out, st.fields.iter().map(|(n, v)| (n.as_str(), (None, v))), arrow)?;
                } else {
                    to_writer(out, &value_to_json(schema, value, arrow)?)?;
                }
            }
        },
    }
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// An integer as serde_json prints it.
fn int(out: &mut Vec<u8>, n: i64) {
    let _ = serde_json::to_writer(out, &serde_json::Number::from(n));
}

/// A float as serde_json prints it (shortest round trip; a non-finite one is `null`).
fn float(out: &mut Vec<u8>, n: f64) {
    match serde_json::Number::from_f64(n) {
        Some(n) => {
            let _ = serde_json::to_writer(out, &n);
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(out, s);
}

fn to_writer(out: &mut Vec<u8>, j: &Json) -> ConnectResult<()> {
    serde_json::to_writer(out, j).map_err(ConnectError::data)
}

fn write_object<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = (&'a str, (Option<&'a Schema>, &'a Value))>, arrow: bool) -> ConnectResult<()> {
    out.push(b'{');
    for (i, (name, (schema, v))) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write_json(out, schema, v, arrow)?;
    }
    out.push(b'}');
    Ok(())
}

/// A map entry's key as an object key (entries are checked to have string keys first).
fn map_key(e: &(Value, Value)) -> &str {
    e.0.as_str().unwrap_or_default()
}

/// Whether no key of `items` repeats (no allocation for up to 32 items: this runs per record).
fn distinct<T>(items: &[T], key: impl for<'a> Fn(&'a T) -> &'a str) -> bool {
    if items.len() <= 32 {
        items.iter().enumerate().all(|(i, a)| !items[..i].iter().any(|b| key(b) == key(a)))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        items.iter().all(|i| seen.insert(key(i)))
    }
}

/// A Connect value as JSON, as `JsonConverter` with `schemas.enable=false` renders it: bytes
/// and Decimals in base64, Date/Time/Timestamp as numbers. With `arrow`, what Arrow's JSON
/// decoder reads instead: bytes in hex, Decimals as numeric strings.
pub fn value_to_json(schema: Option<&Schema>, value: &Value, arrow: bool) -> ConnectResult<Json> {
    let decimal_numeric = arrow;
    Ok(match value {
        Value::Null => match schema {
            Some(s) if !s.optional && s.default_value.is_some() => value_to_json(Some(s), s.default_value.as_ref().unwrap_or(&Value::Null), decimal_numeric)?,
            _ => Json::Null,
        },
        Value::Int8(v) => Json::from(*v),
        Value::Int16(v) => Json::from(*v),
        Value::Int32(v) => Json::from(*v),
        Value::Int64(v) => Json::from(*v),
        Value::Float32(v) => serde_json::Number::from_f64(*v as f64).map(Json::Number).unwrap_or(Json::Null),
        Value::Float64(v) => serde_json::Number::from_f64(*v).map(Json::Number).unwrap_or(Json::Null),
        Value::Boolean(v) => Json::Bool(*v),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => match schema.and_then(logical::decimal_scale) {
            Some(scale) if decimal_numeric => {
                let unscaled = logical::decode_unscaled(b).ok_or_else(|| ConnectError::data("Decimal value does not fit in 128 bits"))?;
                Json::String(logical::decimal_to_string(unscaled, scale))
            }
            _ if arrow => Json::String(b.iter().map(|x| format!("{x:02x}")).collect()),
            _ => Json::String(B64.encode(b)),
        },
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            Json::Array(items.iter().map(|v| value_to_json(item_schema, v, decimal_numeric)).collect::<ConnectResult<_>>()?)
        }
        Value::Map(entries) => {
            let vs = schema.and_then(|s| s.value_schema.as_deref());
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.as_str().unwrap_or_default().to_string(), value_to_json(vs, v, decimal_numeric)?);
                }
                Json::Object(m)
            } else {
                let ks = schema.and_then(|s| s.key_schema.as_deref());
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push(Json::Array(vec![value_to_json(ks, k, decimal_numeric)?, value_to_json(vs, v, decimal_numeric)?]));
                }
                Json::Array(out)
            }
        }
        Value::Struct(st) => {
            let mut m = Map::new();
            match schema {
                Some(s) if !s.fields.is_empty() => {
                    for (i, f) in s.fields.iter().enumerate() {
                        let v = st.get_at(i, &f.name).unwrap_or(&Value::Null);
                        m.insert(f.name.clone(), value_to_json(Some(&f.schema), v, decimal_numeric)?);
                    }
                }
                _ => {
                    for (name, v) in &st.fields {
                        m.insert(name.clone(), value_to_json(None, v, decimal_numeric)?);
                    }
                }
            }
            Json::Object(m)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::Struct;

    fn rec(value: Value) -> SinkRecord {
        super::super::test_record(0, None, value)
    }

    #[test]
    fn json_lines_and_gzip_are_deterministic() {
        let mut w = Box::new(JsonWriter::new(None, None));
        w.write(&rec(Value::Struct(Struct::new().put("a", 1i64).put("b", "x")))).unwrap();
        w.write(&rec(Value::String("s".into()))).unwrap();
        assert_eq!(w.finish().unwrap(), b"{\"a\":1,\"b\":\"x\"}\n\"s\"\n");
        let gz = |_: ()| {
            let mut w = Box::new(JsonWriter::new(Some(6), None));
            w.write(&rec(Value::Int64(5))).unwrap();
            w.finish().unwrap()
        };
        let (a, b) = (gz(()), gz(()));
        assert_eq!(a, b);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a[..]), &mut text).unwrap();
        assert_eq!(text, "5\n");
    }

    #[test]
    fn bytearray() {
        let mut w = Box::new(JsonWriter::new(None, Some(b"\n".to_vec())));
        w.write(&rec(Value::Bytes(vec![1, 2]))).unwrap();
        assert!(w.write(&rec(Value::Int32(1))).is_err());
        assert_eq!(w.finish().unwrap(), vec![1, 2, b'\n']);
    }

    #[test]
    fn decimals() {
        let s = logical::decimal(2);
        let v = Value::Bytes(logical::encode_unscaled(12345));
        assert_eq!(value_to_json(Some(&s), &v, true).unwrap(), Json::String("123.45".into()));
        assert_eq!(value_to_json(Some(&s), &v, false).unwrap(), Json::String(B64.encode(logical::encode_unscaled(12345))));
    }

    /// The direct writer prints what serializing the tree prints.
    #[test]
    fn direct_writer_matches_the_tree() {
        use sluice_sdk::Schema;
        let inner = Schema::struct_builder().field("x", Schema::float32()).field("b", Schema::bytes().optional());
        let schema = Schema::struct_builder()
            .field("id", Schema::int64())
            .field("name", Schema::string().optional())
            .field("amount", logical::decimal(2))
            .field("f", Schema::float64())
            .field("tags", Schema::array(Schema::string()))
            .field("m", Schema::map(Schema::string(), Schema::int32()))
            .field("pairs", Schema::map(Schema::int32(), Schema::boolean()))
            .field("inner", inner)
            .field("d", Schema::int16().default_value(Value::Int16(7)))
            .build();
        let v = Value::Struct(
            Struct::new()
                .put("id", -5i64)
                .put("name", "q\"u\u{1}\u{e9}")
                .put("amount", Value::Bytes(logical::encode_unscaled(-12345)))
                .put("f", Value::Float64(f64::NAN))
                .put("tags", Value::Array(vec![Value::String("a".into()), Value::Null]))
                .put("m", Value::Map(vec![(Value::String("k".into()), Value::Int32(1)), (Value::String("j".into()), Value::Int32(2))]))
                .put("pairs", Value::Map(vec![(Value::Int32(1), Value::Boolean(true))]))
                .put("inner", Value::Struct(Struct::new().put("x", Value::Float32(0.1)).put("b", Value::Bytes(vec![0, 255, 16]))))
                .put("d", Value::Null),
        );
        let repeated = Value::Map(vec![(Value::String("k".into()), Value::Int8(1)), (Value::String("k".into()), Value::Int8(2))]);
        let schemaless = Value::Struct(Struct::new().put("a", 1i64).put("z", Value::Float32(1.5)));
        for (s, v) in [(Some(&schema), &v), (None, &v), (None, &repeated), (None, &schemaless), (None, &Value::Null)] {
            for arrow in [false, true] {
                let mut out = Vec::new();
                write_json(&mut out, s.map(|s| &**s), v, arrow).unwrap();
                let tree = serde_json::to_vec(&value_to_json(s.map(|s| &**s), v, arrow).unwrap()).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(tree).unwrap());
            }
        }
    }
}

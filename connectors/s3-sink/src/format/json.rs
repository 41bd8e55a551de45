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
                let j = value_to_json(record.value_schema.as_deref(), &record.value, false)?;
                serde_json::to_writer(&mut self.line, &j).map_err(ConnectError::data)?;
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
}

//! `JsonFormat` (one JSON value per line) and `ByteArrayFormat` (raw value bytes with a
//! separator), both optionally gzip-compressed. Gzip output has no timestamp or file name in
//! its header, so the same records compress to the same bytes. The JSON of a value is
//! `sluice_codecs::connect_json`'s, with [`JsonValueOptions::json_lines`].

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use sluice_codecs::connect_json::{JsonValueOptions, write_value};
use sluice_sdk::{ConnectError, ConnectResult, SinkRecord, Value};

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
                    write_value(v, record.value_schema.as_deref(), &record.value, &JsonValueOptions::json_lines())?;
                    v.push(b'\n');
                    self.raw_bytes += v.len() - before;
                    return Ok(());
                }
                write_value(&mut self.line, record.value_schema.as_deref(), &record.value, &JsonValueOptions::json_lines())?;
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
}

//! Output formats (Confluent's `io.confluent.connect.s3.format.*`): a [`RecordWriter`] encodes
//! the records of one object into memory; the task uploads the bytes when the file rotates.
//!
//! - `JsonFormat`: one JSON document per line (the value as `JsonConverter` with
//!   `schemas.enable=false` writes it), optionally gzip (`s3.compression.type`). Schemaless OK.
//! - `ByteArrayFormat`: the raw value bytes (or string), `format.bytearray.separator` between.
//! - `AvroFormat`: an Avro object container file; the Connect schema is mapped as Confluent's
//!   `AvroData` does. Needs schemas.
//! - `ParquetFormat`: one Parquet file, codec `parquet.codec`. Needs schemas.
//!
//! Every writer is deterministic: the same records give the same bytes (Avro's sync marker is
//! derived from the object key; gzip headers carry no time).

mod avro;
mod json;
mod parquet;

use sluice_sdk::{ConnectError, ConnectResult, SchemaRef, SinkRecord};

use crate::config::{FORMAT_CLASS, S3SinkConfig};

/// What `format.class` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    Json,
    Avro,
    Parquet,
    ByteArray,
}

impl FormatKind {
    pub fn from_class(class: &str) -> ConnectResult<FormatKind> {
        let simple = class.rsplit('.').next().unwrap_or(class);
        match simple.trim_end_matches("Format").to_ascii_lowercase().as_str() {
            "json" => Ok(FormatKind::Json),
            "avro" => Ok(FormatKind::Avro),
            "parquet" => Ok(FormatKind::Parquet),
            "bytearray" => Ok(FormatKind::ByteArray),
            _ => Err(ConnectError::config(FORMAT_CLASS, format!("unknown format {class}: use JsonFormat, AvroFormat, ParquetFormat or ByteArrayFormat"))),
        }
    }

    /// Whether records must carry a value schema.
    pub fn needs_schema(self) -> bool {
        matches!(self, FormatKind::Avro | FormatKind::Parquet)
    }
}

/// Encodes the records of one object.
pub trait RecordWriter: Send {
    fn write(&mut self, record: &SinkRecord) -> ConnectResult<()>;
    /// Bytes held in memory so far (an estimate for columnar formats).
    fn buffered_bytes(&self) -> usize;
    /// The finished object.
    fn finish(self: Box<Self>) -> ConnectResult<Vec<u8>>;
}

/// A writer for one object whose records have `schema`; `key` names the object (Avro derives
/// its sync marker from it).
pub fn new_writer(cfg: &S3SinkConfig, schema: Option<&SchemaRef>, key: &str) -> ConnectResult<Box<dyn RecordWriter>> {
    let need = |what: &str| ConnectError::data(format!("{what} needs records with a value schema (use a converter with schemas)"));
    match cfg.format {
        FormatKind::Json => Ok(Box::new(json::JsonWriter::new(cfg.gzip_level, None))),
        FormatKind::ByteArray => Ok(Box::new(json::JsonWriter::new(cfg.gzip_level, Some(cfg.bytearray_separator.clone())))),
        FormatKind::Avro => Ok(Box::new(avro::AvroWriter::new(schema.ok_or_else(|| need("AvroFormat"))?, key)?)),
        FormatKind::Parquet => Ok(Box::new(parquet::ParquetWriter::new(schema.ok_or_else(|| need("ParquetFormat"))?, &cfg.parquet_codec)?)),
    }
}

/// A record at offset `offset` of `t`/0 with this value, for the writers' tests.
#[cfg(test)]
pub(crate) fn test_record(offset: i64, value_schema: Option<SchemaRef>, value: sluice_sdk::Value) -> SinkRecord {
    SinkRecord {
        topic: "t".into(),
        kafka_partition: 0,
        kafka_offset: offset,
        key_schema: None,
        key: sluice_sdk::Value::Null,
        value_schema,
        value,
        timestamp: None,
        timestamp_type: sluice_sdk::TimestampType::NoTimestamp,
        headers: sluice_sdk::Headers::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_classes() {
        assert_eq!(FormatKind::from_class("io.confluent.connect.s3.format.parquet.ParquetFormat").unwrap(), FormatKind::Parquet);
        assert_eq!(FormatKind::from_class("io.confluent.connect.s3.format.json.JsonFormat").unwrap(), FormatKind::Json);
        assert_eq!(FormatKind::from_class("io.confluent.connect.s3.format.avro.AvroFormat").unwrap(), FormatKind::Avro);
        assert_eq!(FormatKind::from_class("io.confluent.connect.s3.format.bytearray.ByteArrayFormat").unwrap(), FormatKind::ByteArray);
        assert!(FormatKind::from_class("x.CsvFormat").is_err());
    }
}

//! `ParquetFormat`: one Parquet file per object, written with the `parquet` crate's
//! `ArrowWriter` (codec `parquet.codec`).
//!
//! The value schema must be a STRUCT; its fields become columns: INT8..INT64, FLOAT32/64,
//! BOOLEAN, STRING (UTF8), BYTES (binary), Decimal (decimal128, precision from
//! `connect.decimal.precision` capped at 38), Date (date32), Time (time32 ms), Timestamp
//! (timestamp ms, UTC), ARRAY (list), MAP with string keys (map), nested STRUCT (group).
//! Records are rendered to JSON lines and decoded into Arrow batches of [`BATCH_ROWS`] by
//! `arrow-json`; a row group holds at most [`ROW_GROUP_ROWS`] rows.

use std::sync::Arc;

use arrow_json::reader::{Decoder, ReaderBuilder};
use arrow_schema::{DataType, Field, Fields, Schema as ArrowSchema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sluice_codecs::connect_json::{JsonValueOptions, write_value};
use sluice_sdk::data::logical;
use sluice_sdk::{ConnectError, ConnectResult, Schema, SchemaRef, SchemaType, SinkRecord};

use super::RecordWriter;

const BATCH_ROWS: usize = 8192;
const ROW_GROUP_ROWS: usize = 128 * 1024;

pub struct ParquetWriter {
    writer: ArrowWriter<Vec<u8>>,
    decoder: Decoder,
    schema: SchemaRef,
    pending: Vec<u8>,
    pending_rows: usize,
}

fn perr(e: impl std::fmt::Display) -> ConnectError {
    ConnectError::data(format!("parquet: {e}"))
}

impl ParquetWriter {
    pub fn new(schema: &SchemaRef, codec: &str) -> ConnectResult<ParquetWriter> {
        if schema.schema_type != SchemaType::Struct {
            return Err(ConnectError::data(format!("ParquetFormat needs STRUCT values, got {}", schema.schema_type.connect_name())));
        }
        let fields: Vec<Field> = schema.fields.iter().map(|f| arrow_field(&f.name, &f.schema)).collect::<ConnectResult<_>>()?;
        let arrow_schema = Arc::new(ArrowSchema::new(fields));
        let compression = match codec {
            "snappy" => Compression::SNAPPY,
            "gzip" => Compression::GZIP(GzipLevel::default()),
            "zstd" => Compression::ZSTD(ZstdLevel::default()),
            _ => Compression::UNCOMPRESSED,
        };
        let props = WriterProperties::builder().set_compression(compression).set_max_row_group_row_count(Some(ROW_GROUP_ROWS)).build();
        let writer = ArrowWriter::try_new(Vec::new(), arrow_schema.clone(), Some(props)).map_err(perr)?;
        let decoder = ReaderBuilder::new(arrow_schema).with_batch_size(BATCH_ROWS).with_strict_mode(true).build_decoder().map_err(perr)?;
        Ok(ParquetWriter { writer, decoder, schema: schema.clone(), pending: Vec::new(), pending_rows: 0 })
    }

    fn drain(&mut self) -> ConnectResult<()> {
        let mut at = 0;
        while at < self.pending.len() {
            let n = self.decoder.decode(&self.pending[at..]).map_err(perr)?;
            at += n;
            if let Some(batch) = self.decoder.flush().map_err(perr)? {
                self.writer.write(&batch).map_err(perr)?;
            }
            if n == 0 {
                break;
            }
        }
        if let Some(batch) = self.decoder.flush().map_err(perr)? {
            self.writer.write(&batch).map_err(perr)?;
        }
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }
}

impl RecordWriter for ParquetWriter {
    fn write(&mut self, record: &SinkRecord) -> ConnectResult<()> {
        if !matches!(record.value, sluice_sdk::Value::Struct(_)) {
            return Err(ConnectError::data("ParquetFormat cannot write a null or non-struct value"));
        }
        write_value(&mut self.pending, Some(&self.schema), &record.value, &JsonValueOptions::arrow())?;
        self.pending.push(b'\n');
        self.pending_rows += 1;
        if self.pending_rows >= BATCH_ROWS {
            self.drain()?;
        }
        Ok(())
    }

    fn buffered_bytes(&self) -> usize {
        self.pending.len() + self.writer.in_progress_size() + self.writer.inner().len()
    }

    fn finish(mut self: Box<Self>) -> ConnectResult<Vec<u8>> {
        self.drain()?;
        self.writer.into_inner().map_err(perr)
    }
}

fn arrow_field(name: &str, s: &Schema) -> ConnectResult<Field> {
    Ok(Field::new(name, arrow_type(s)?, s.optional))
}

fn arrow_type(s: &Schema) -> ConnectResult<DataType> {
    Ok(match (s.schema_type, s.name.as_deref()) {
        (SchemaType::Bytes, Some(logical::DECIMAL)) => {
            let scale: i8 = s.parameters.get(logical::DECIMAL_SCALE).and_then(|v| v.parse().ok()).unwrap_or(0);
            let precision: u8 = s.parameters.get("connect.decimal.precision").and_then(|v| v.parse().ok()).unwrap_or(38);
            DataType::Decimal128(precision.min(38), scale)
        }
        (SchemaType::Int32, Some(logical::DATE)) => DataType::Date32,
        (SchemaType::Int32, Some(logical::TIME)) => DataType::Time32(TimeUnit::Millisecond),
        (SchemaType::Int64, Some(logical::TIMESTAMP)) => DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        (SchemaType::Int8, _) => DataType::Int8,
        (SchemaType::Int16, _) => DataType::Int16,
        (SchemaType::Int32, _) => DataType::Int32,
        (SchemaType::Int64, _) => DataType::Int64,
        (SchemaType::Float32, _) => DataType::Float32,
        (SchemaType::Float64, _) => DataType::Float64,
        (SchemaType::Boolean, _) => DataType::Boolean,
        (SchemaType::String, _) => DataType::Utf8,
        (SchemaType::Bytes, _) => DataType::Binary,
        (SchemaType::Array, _) => {
            let item = s.value_schema.as_deref().ok_or_else(|| ConnectError::data("ARRAY schema without items"))?;
            DataType::List(Arc::new(arrow_field("element", item)?))
        }
        (SchemaType::Map, _) => match (s.key_schema.as_deref(), s.value_schema.as_deref()) {
            (Some(k), Some(v)) if k.schema_type == SchemaType::String => {
                let entries = Fields::from(vec![Field::new("key", DataType::Utf8, false), arrow_field("value", v)?]);
                DataType::Map(Arc::new(Field::new("key_value", DataType::Struct(entries), false)), false)
            }
            _ => return Err(ConnectError::data("ParquetFormat supports maps with STRING keys only")),
        },
        (SchemaType::Struct, _) => DataType::Struct(s.fields.iter().map(|f| arrow_field(&f.name, &f.schema)).collect::<ConnectResult<Vec<_>>>()?.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use sluice_sdk::{Struct, Value};

    #[test]
    fn reads_back_with_the_parquet_reader() {
        let schema = Schema::struct_builder()
            .field("id", Schema::int64())
            .field("name", Schema::string().optional())
            .field("amount", logical::decimal(2))
            .field("raw", Schema::bytes())
            .field("at", logical::timestamp())
            .field("tags", Schema::array(Schema::string()))
            .build();
        let mut w = Box::new(ParquetWriter::new(&schema, "zstd").unwrap());
        for i in 0..10_000i64 {
            let v = Struct::new()
                .put("id", i)
                .put("name", if i % 2 == 0 { Value::Null } else { Value::String(format!("n{i}")) })
                .put("amount", Value::Bytes(logical::encode_unscaled(i as i128 * 100 + 5)))
                .put("raw", Value::Bytes(vec![1, 2, 255]))
                .put("at", i * 1000)
                .put("tags", Value::Array(vec![Value::String("x".into())]));
            let r = super::super::test_record(i, Some(schema.clone()), Value::Struct(v));
            w.write(&r).unwrap();
        }
        let bytes = w.finish().unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 10_000);
        let rows: Vec<_> = reader.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
        let third: Vec<String> = rows[3].get_column_iter().map(|(name, v)| format!("{name}={v}")).collect();
        assert_eq!(&third[..3], ["id=3", "name=\"n3\"", "amount=3.05"]);
        assert_eq!(rows[2].get_column_iter().nth(1).map(|(_, v)| v.to_string()).as_deref(), Some("null"));
    }
}

//! `AvroFormat`: an Avro object container file (spec 1.11, codec `null`).
//!
//! The Connect schema becomes an Avro schema as Confluent's `AvroData` maps it, by
//! `sluice_codecs::avro::to_avro_schema` (the mapping the AvroConverter registers, with the
//! `connect.*` metadata and field defaults): optional → `["null", T]` (`[T, "null"]` for a field
//! with a non-null default); INT8/INT16 → `int` (with `connect.type`); Decimal →
//! `bytes`/`decimal` (precision from `connect.decimal.precision`, else 64); Date → `int`/`date`;
//! Time → `int`/`time-millis`; Timestamp → `long`/`timestamp-millis`; maps with string keys →
//! `map`, other maps → an array of `MapEntry` `{key, value}` records; unnamed structs →
//! `io.confluent.connect.avro.ConnectDefault`, then `ConnectDefault2`, `ConnectDefault3`, ....
//! The datum encoder writes straight from Connect values (no intermediate Avro values), so map
//! entries keep their order; the sync marker is derived from the object key. Both make the file
//! a function of its records alone. The schema is checked by `apache-avro` once per file.

use std::hash::{Hash, Hasher};

use sluice_codecs::avro::to_avro_schema;
use sluice_sdk::{ConnectError, ConnectResult, Schema, SchemaRef, SchemaType, SinkRecord, Value};

use super::RecordWriter;

const BLOCK_BYTES: usize = 64 * 1024;

pub struct AvroWriter {
    schema: SchemaRef,
    out: Vec<u8>,
    block: Vec<u8>,
    block_count: i64,
    marker: [u8; 16],
}

impl AvroWriter {
    pub fn new(schema: &SchemaRef, key: &str) -> ConnectResult<AvroWriter> {
        let text = to_avro_schema(schema).to_string();
        apache_avro::Schema::parse_str(&text).map_err(|e| ConnectError::data(format!("cannot map the Connect schema to Avro: {e}")))?;
        let marker = sync_marker(key);
        let mut out = Vec::with_capacity(BLOCK_BYTES);
        out.extend_from_slice(b"Obj\x01");
        write_long(&mut out, 2);
        for (k, v) in [("avro.codec", b"null".as_slice()), ("avro.schema", text.as_bytes())] {
            write_bytes(&mut out, k.as_bytes());
            write_bytes(&mut out, v);
        }
        write_long(&mut out, 0);
        out.extend_from_slice(&marker);
        Ok(AvroWriter { schema: schema.clone(), out, block: Vec::with_capacity(BLOCK_BYTES), block_count: 0, marker })
    }

    fn flush_block(&mut self) {
        if self.block_count == 0 {
            return;
        }
        write_long(&mut self.out, self.block_count);
        write_long(&mut self.out, self.block.len() as i64);
        self.out.extend_from_slice(&self.block);
        self.out.extend_from_slice(&self.marker);
        self.block.clear();
        self.block_count = 0;
    }
}

impl RecordWriter for AvroWriter {
    fn write(&mut self, record: &SinkRecord) -> ConnectResult<()> {
        let mark = self.block.len();
        if let Err(e) = encode(&self.schema, &record.value, false, &mut self.block) {
            self.block.truncate(mark);
            return Err(e);
        }
        self.block_count += 1;
        if self.block.len() >= BLOCK_BYTES {
            self.flush_block();
        }
        Ok(())
    }

    fn buffered_bytes(&self) -> usize {
        self.out.len() + self.block.len()
    }

    fn finish(mut self: Box<Self>) -> ConnectResult<Vec<u8>> {
        self.flush_block();
        Ok(self.out)
    }
}

fn sync_marker(key: &str) -> [u8; 16] {
    let mut marker = [0u8; 16];
    for (i, chunk) in marker.chunks_mut(8).enumerate() {
        // SipHash with fixed keys: the same key gives the same marker in every run.
        let mut h = std::hash::DefaultHasher::new();
        (i, key, "sluice-avro-sync").hash(&mut h);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    marker
}

fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

fn mismatch(s: &Schema, v: &Value) -> ConnectError {
    ConnectError::data(format!("value of type {} does not match schema type {}", v.type_name(), s.schema_type.connect_name()))
}

/// Avro binary encoding of `v` under the Avro schema [`to_avro_schema`] makes of `s`; `field`:
/// `s` is a record field's, whose union puts `"null"` last when it has a non-null default.
fn encode(s: &Schema, v: &Value, field: bool, out: &mut Vec<u8>) -> ConnectResult<()> {
    let v = match (v, &s.default_value) {
        (Value::Null, Some(d)) if !s.optional => d,
        _ => v,
    };
    if s.optional {
        let null_last = field && s.default_value.as_ref().is_some_and(|d| !d.is_null());
        let (null_branch, value_branch) = if null_last { (1, 0) } else { (0, 1) };
        if v.is_null() {
            write_long(out, null_branch);
            return Ok(());
        }
        write_long(out, value_branch);
    }
    match (s.schema_type, v) {
        (SchemaType::Int8, Value::Int8(x)) => write_long(out, *x as i64),
        (SchemaType::Int16, Value::Int16(x)) => write_long(out, *x as i64),
        (SchemaType::Int32, Value::Int32(x)) => write_long(out, *x as i64),
        (SchemaType::Int64, Value::Int64(x)) => write_long(out, *x),
        (SchemaType::Float32, Value::Float32(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (SchemaType::Float64, Value::Float64(x)) => out.extend_from_slice(&x.to_le_bytes()),
        (SchemaType::Boolean, Value::Boolean(x)) => out.push(*x as u8),
        (SchemaType::String, Value::String(x)) => write_bytes(out, x.as_bytes()),
        (SchemaType::Bytes, Value::Bytes(x)) => write_bytes(out, x),
        (SchemaType::Array, Value::Array(items)) => {
            let item = s.value_schema.as_deref().ok_or_else(|| mismatch(s, v))?;
            if !items.is_empty() {
                write_long(out, items.len() as i64);
                for it in items {
                    encode(item, it, false, out)?;
                }
            }
            write_long(out, 0);
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (ks, vs) = match (s.key_schema.as_deref(), s.value_schema.as_deref()) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(mismatch(s, v)),
            };
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                for (k, val) in entries {
                    encode(ks, k, false, out)?;
                    encode(vs, val, false, out)?;
                }
            }
            write_long(out, 0);
        }
        (SchemaType::Struct, Value::Struct(st)) => {
            for (i, f) in s.fields.iter().enumerate() {
                encode(&f.schema, st.get_at(i, &f.name).unwrap_or(&Value::Null), true, out)
                    .map_err(|e| ConnectError::data(format!("field '{}': {e}", f.name)))?;
            }
        }
        (_, Value::Null) => return Err(ConnectError::data(format!("null value for a required {} without default", s.schema_type.connect_name()))),
        _ => return Err(mismatch(s, v)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value as AV;
    use sluice_sdk::Struct;
    use sluice_sdk::data::logical;

    #[test]
    fn container_reads_back_with_apache_avro() {
        let schema = Schema::struct_builder()
            .name("test.Row")
            .field("id", Schema::int64())
            .field("name", Schema::string().optional())
            .field("amount", logical::decimal(2))
            .field("tags", Schema::map(Schema::string(), Schema::int32()))
            .field("at", logical::timestamp())
            .build();
        let mut w = Box::new(AvroWriter::new(&schema, "k").unwrap());
        for i in 0..3i64 {
            let v = Struct::new()
                .put("id", i)
                .put("name", if i == 1 { Value::Null } else { Value::String(format!("n{i}")) })
                .put("amount", Value::Bytes(logical::encode_unscaled(i as i128 * 100 + 5)))
                .put("tags", Value::Map(vec![(Value::String("a".into()), Value::Int32(i as i32))]))
                .put("at", i * 1000);
            let r = super::super::test_record(i, Some(schema.clone()), Value::Struct(v));
            w.write(&r).unwrap();
        }
        let bytes = w.finish().unwrap();
        let rows: Vec<AV> = apache_avro::Reader::new(&bytes[..]).unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 3);
        let AV::Record(fields) = &rows[1] else { panic!("not a record: {:?}", rows[1]) };
        assert_eq!(fields[0], ("id".to_string(), AV::Long(1)));
        assert_eq!(fields[1], ("name".to_string(), AV::Union(0, Box::new(AV::Null))));
        assert_eq!(fields[4], ("at".to_string(), AV::TimestampMillis(1000)));
    }

    /// Unions follow the mapping's order (a field with a non-null default puts null last),
    /// unnamed structs are numbered as Confluent does, and the file carries the mapping's schema.
    #[test]
    fn unions_and_unnamed_structs_follow_the_mapping() {
        let inner = Schema::struct_builder().field("x", Schema::int32());
        let schema = Schema::struct_builder()
            .field("n", Schema::int32().optional().default_value(Value::Int32(5)))
            .field("inner", inner.optional())
            .field("pairs", Schema::map(Schema::int32(), Schema::string()))
            .build();
        let mut w = Box::new(AvroWriter::new(&schema, "k").unwrap());
        let rows = [
            Struct::new()
                .put("n", Value::Null)
                .put("inner", Value::Struct(Struct::new().put("x", 1)))
                .put("pairs", Value::Map(vec![(Value::Int32(1), Value::from("one"))])),
            Struct::new().put("n", Value::Int32(7)).put("inner", Value::Null).put("pairs", Value::Map(vec![])),
        ];
        for (i, v) in rows.into_iter().enumerate() {
            w.write(&super::super::test_record(i as i64, Some(schema.clone()), Value::Struct(v))).unwrap();
        }
        let bytes = w.finish().unwrap();
        let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
        assert_eq!(reader.writer_schema().canonical_form(), apache_avro::Schema::parse(&to_avro_schema(&schema)).unwrap().canonical_form());
        let rows: Vec<AV> = reader.map(|r| r.unwrap()).collect();
        let AV::Record(first) = &rows[0] else { panic!("not a record: {:?}", rows[0]) };
        assert_eq!(first[0], ("n".to_string(), AV::Union(1, Box::new(AV::Null))));
        assert_eq!(first[1], ("inner".to_string(), AV::Union(1, Box::new(AV::Record(vec![("x".to_string(), AV::Int(1))])))));
        assert_eq!(
            first[2],
            ("pairs".to_string(), AV::Array(vec![AV::Record(vec![("key".to_string(), AV::Int(1)), ("value".to_string(), AV::String("one".into()))])]))
        );
        let AV::Record(second) = &rows[1] else { panic!("not a record: {:?}", rows[1]) };
        assert_eq!(second[0], ("n".to_string(), AV::Union(0, Box::new(AV::Int(7)))));
        assert_eq!(second[1], ("inner".to_string(), AV::Union(0, Box::new(AV::Null))));
        let text = to_avro_schema(&schema).to_string();
        assert!(text.contains(r#""name":"ConnectDefault","namespace":"io.confluent.connect.avro""#) && text.contains(r#""name":"ConnectDefault2""#), "{text}");
    }
}

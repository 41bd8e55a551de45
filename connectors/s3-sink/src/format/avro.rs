//! `AvroFormat`: an Avro object container file (spec 1.11, codec `null`).
//!
//! The Connect schema becomes an Avro schema as Confluent's `AvroData` maps it: optional →
//! `["null", T]` with default null; INT8/INT16 → `int` (with `connect.type`); Decimal →
//! `bytes`/`decimal` (precision from `connect.decimal.precision`, else 64); Date → `int`/`date`;
//! Time → `int`/`time-millis`; Timestamp → `long`/`timestamp-millis`; maps with string keys →
//! `map`, other maps → an array of `{key, value}` records; unnamed structs → `ConnectDefaultN`.
//! The datum encoder writes straight from Connect values (no intermediate Avro values), so map
//! entries keep their order; the sync marker is derived from the object key. Both make the file
//! a function of its records alone. The schema is checked by `apache-avro` once per file.

use std::hash::{Hash, Hasher};

use serde_json::{Value as Json, json};
use sluice_sdk::data::logical;
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
        let mut names = 0;
        let avro_json = avro_schema(schema, &mut names);
        let text = avro_json.to_string();
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
        if let Err(e) = encode(&self.schema, &record.value, &mut self.block) {
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

fn avro_name(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect();
    if out.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The Avro schema (JSON) of a Connect schema.
pub fn avro_schema(s: &Schema, names: &mut usize) -> Json {
    let base = match (s.schema_type, s.name.as_deref()) {
        (SchemaType::Bytes, Some(logical::DECIMAL)) => {
            let scale: i64 = s.parameters.get(logical::DECIMAL_SCALE).and_then(|v| v.parse().ok()).unwrap_or(0);
            let precision: i64 = s.parameters.get("connect.decimal.precision").and_then(|v| v.parse().ok()).unwrap_or(64);
            json!({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale, "connect.name": logical::DECIMAL})
        }
        (SchemaType::Int32, Some(logical::DATE)) => json!({"type": "int", "logicalType": "date", "connect.name": logical::DATE}),
        (SchemaType::Int32, Some(logical::TIME)) => json!({"type": "int", "logicalType": "time-millis", "connect.name": logical::TIME}),
        (SchemaType::Int64, Some(logical::TIMESTAMP)) => json!({"type": "long", "logicalType": "timestamp-millis", "connect.name": logical::TIMESTAMP}),
        (SchemaType::Int8, _) => json!({"type": "int", "connect.type": "int8"}),
        (SchemaType::Int16, _) => json!({"type": "int", "connect.type": "int16"}),
        (SchemaType::Int32, _) => json!("int"),
        (SchemaType::Int64, _) => json!("long"),
        (SchemaType::Float32, _) => json!("float"),
        (SchemaType::Float64, _) => json!("double"),
        (SchemaType::Boolean, _) => json!("boolean"),
        (SchemaType::String, _) => json!("string"),
        (SchemaType::Bytes, _) => json!("bytes"),
        (SchemaType::Array, _) => json!({"type": "array", "items": s.value_schema.as_deref().map(|v| avro_schema(v, names)).unwrap_or(json!("null"))}),
        (SchemaType::Map, _) => {
            let values = s.value_schema.as_deref().map(|v| avro_schema(v, names)).unwrap_or(json!("null"));
            match s.key_schema.as_deref() {
                Some(k) if k.schema_type == SchemaType::String && !k.optional => json!({"type": "map", "values": values}),
                k => {
                    *names += 1;
                    let key = k.map(|k| avro_schema(k, names)).unwrap_or(json!("null"));
                    json!({"type": "array", "items": {"type": "record", "name": format!("MapEntry{}", names), "namespace": "io.confluent.connect.avro",
                        "fields": [{"name": "key", "type": key}, {"name": "value", "type": values}]}})
                }
            }
        }
        (SchemaType::Struct, name) => {
            let name = match name {
                Some(n) => avro_name(n),
                None => {
                    *names += 1;
                    format!("io.confluent.connect.avro.ConnectDefault{names}")
                }
            };
            let fields: Vec<Json> = s
                .fields
                .iter()
                .map(|f| {
                    let t = avro_schema(&f.schema, names);
                    if f.schema.optional { json!({"name": avro_name(&f.name), "type": t, "default": null}) } else { json!({"name": avro_name(&f.name), "type": t}) }
                })
                .collect();
            let mut rec = json!({"type": "record", "name": name, "fields": fields});
            if let Some(doc) = &s.doc {
                rec["doc"] = json!(doc);
            }
            rec
        }
    };
    if s.optional { json!(["null", base]) } else { base }
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

/// Avro binary encoding of `v` under the Avro schema [`avro_schema`] makes of `s`.
fn encode(s: &Schema, v: &Value, out: &mut Vec<u8>) -> ConnectResult<()> {
    let v = match (v, &s.default_value) {
        (Value::Null, Some(d)) if !s.optional => d,
        _ => v,
    };
    if s.optional {
        if v.is_null() {
            write_long(out, 0);
            return Ok(());
        }
        write_long(out, 1);
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
                    encode(item, it, out)?;
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
                    encode(ks, k, out)?;
                    encode(vs, val, out)?;
                }
            }
            write_long(out, 0);
        }
        (SchemaType::Struct, Value::Struct(st)) => {
            for (i, f) in s.fields.iter().enumerate() {
                encode(&f.schema, st.get_at(i, &f.name).unwrap_or(&Value::Null), out)
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
}

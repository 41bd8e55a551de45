//! `InsertField$Key` / `InsertField$Value`: adds fields from the record's metadata (topic,
//! partition, offset, timestamp) or a static string. A field name ending in `!` is required
//! in the new schema, `?` (the default) optional. `offset.field` needs sink records.

use sluice_sdk::data::logical;
use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, Struct, Value, config_keys};

use crate::Smt;
use crate::util::{SchemaCache, Side, copy_struct_basics, get_or_null, map_put, push_field, require_map, require_struct, require_struct_schema};

const PURPOSE: &str = "field insertion";

config_keys! {
    fn config_def();
    TOPIC_FIELD: String = "topic.field" => default("").importance(Importance::Medium).doc("Field name for Kafka topic. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
    PARTITION_FIELD: String = "partition.field" => default("").importance(Importance::Medium).doc("Field name for Kafka partition. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
    OFFSET_FIELD: String = "offset.field" => default("").importance(Importance::Medium).doc("Field name for Kafka offset - only applicable to sink connectors. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
    TIMESTAMP_FIELD: String = "timestamp.field" => default("").importance(Importance::Medium).doc("Field name for record timestamp. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
    STATIC_FIELD: String = "static.field" => default("").importance(Importance::Medium).doc("Field name for static data field. Suffix with ! to make this a required field, or ? to keep it optional (the default).");
    STATIC_VALUE: String = "static.value" => default("").importance(Importance::Medium).doc("Static field value, if field name configured.");
}

#[derive(Debug, Clone, Default)]
struct FieldSpec {
    name: String,
    optional: bool,
}

impl FieldSpec {
    fn parse(spec: &str) -> Option<FieldSpec> {
        let spec = spec.trim();
        if spec.is_empty() {
            return None;
        }
        Some(match spec.strip_suffix('!') {
            Some(n) => FieldSpec { name: n.to_string(), optional: false },
            None => FieldSpec { name: spec.strip_suffix('?').unwrap_or(spec).to_string(), optional: true },
        })
    }

    fn schema(&self, s: Schema) -> sluice_sdk::SchemaRef {
        if self.optional { s.optional().build() } else { s.build() }
    }
}

/// A field to add: its spec, the schema constructor of its type, its value for this record.
type Addition<'a> = (&'a FieldSpec, fn() -> Schema, Value);

pub struct InsertField {
    side: Side,
    topic: Option<FieldSpec>,
    partition: Option<FieldSpec>,
    offset: Option<FieldSpec>,
    timestamp: Option<FieldSpec>,
    static_field: Option<FieldSpec>,
    static_value: String,
    cache: SchemaCache,
}

impl InsertField {
    pub fn new(side: Side) -> InsertField {
        InsertField {
            side,
            topic: None,
            partition: None,
            offset: None,
            timestamp: None,
            static_field: None,
            static_value: String::new(),
            cache: SchemaCache::default(),
        }
    }

    /// The fields to add, with their value for this record.
    fn additions<R: ConnectRecord>(&self, r: &R) -> ConnectResult<Vec<Addition<'_>>> {
        let mut out: Vec<Addition<'_>> = Vec::new();
        if let Some(f) = &self.topic {
            out.push((f, Schema::string, Value::String(r.topic().to_string())));
        }
        if let Some(f) = &self.partition {
            out.push((f, Schema::int32, r.kafka_partition().map_or(Value::Null, Value::Int32)));
        }
        if let Some(f) = &self.offset {
            let offset = r.kafka_offset().ok_or_else(|| ConnectError::data(format!("Only SinkRecord supported for [{PURPOSE}], found: SourceRecord")))?;
            out.push((f, Schema::int64, Value::Int64(offset)));
        }
        if let Some(f) = &self.timestamp {
            out.push((f, logical::timestamp, r.timestamp().map_or(Value::Null, Value::Int64)));
        }
        if let Some(f) = &self.static_field {
            out.push((f, Schema::string, Value::String(self.static_value.clone())));
        }
        Ok(out)
    }
}

impl Smt for InsertField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.topic = FieldSpec::parse(&c.value(TOPIC_FIELD)?);
        self.partition = FieldSpec::parse(&c.value(PARTITION_FIELD)?);
        self.offset = FieldSpec::parse(&c.value(OFFSET_FIELD)?);
        self.timestamp = FieldSpec::parse(&c.value(TIMESTAMP_FIELD)?);
        self.static_field = FieldSpec::parse(&c.value(STATIC_FIELD)?);
        self.static_value = c.value(STATIC_VALUE)?;
        if self.topic.is_none() && self.partition.is_none() && self.offset.is_none() && self.timestamp.is_none() && self.static_field.is_none() {
            return Err(ConnectError::config(TOPIC_FIELD, "No field insertion configured"));
        }
        if self.static_field.is_some() && self.static_value.is_empty() {
            return Err(ConnectError::config(STATIC_VALUE, format!("No value specified for static field: {STATIC_FIELD}")));
        }
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = self.side.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        let additions = self.additions(&record)?;
        match self.side.schema(&record) {
            None => {
                let mut m = require_map(value, PURPOSE)?.clone();
                for (f, _, v) in additions {
                    map_put(&mut m, &f.name, v);
                }
                self.side.set(&mut record, None, Value::Map(m));
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let updated = self.cache.get_or_build(&schema, || {
                    let schema = require_struct_schema(&schema, PURPOSE)?;
                    let mut out = copy_struct_basics(schema);
                    for f in &schema.fields {
                        push_field(&mut out, &f.name, f.schema.clone());
                    }
                    for (f, field_schema, _) in &additions {
                        push_field(&mut out, &f.name, f.schema(field_schema()));
                    }
                    Ok(out.build())
                })?;
                let mut new = Struct::with_capacity(updated.fields.len());
                for f in &schema.fields {
                    new.fields.push((f.name.clone(), get_or_null(s, &f.name).clone()));
                }
                for (f, _, v) in additions {
                    new.set(f.name.clone(), v);
                }
                self.side.set(&mut record, Some(updated), Value::Struct(new));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adapter;
    use crate::util::test_support::*;
    use sluice_sdk::Transform;

    fn configured(side: Side, p: &[(&str, &str)]) -> Adapter<InsertField> {
        let mut t = Adapter(InsertField::new(side));
        Transform::<sluice_sdk::SinkRecord>::configure(&mut t, &props(p)).unwrap();
        t
    }

    // Connect docs: static.field=data_source, static.value=test-file-source on a schemaless value.
    #[test]
    fn schemaless_static_and_metadata_fields() {
        let t = configured(
            Side::Value,
            &[
                ("static.field", "data_source"),
                ("static.value", "test-file-source"),
                ("topic.field", "topic_field!"),
                ("partition.field", "partition_field"),
                ("offset.field", "offset_field"),
                ("timestamp.field", "timestamp_field?"),
            ],
        );
        let r = sink(None, Value::Null, None, map(&[("magic", Value::Int64(42))]));
        let out = t.apply(r).unwrap().unwrap();
        assert_eq!(
            out.value,
            map(&[
                ("magic", Value::Int64(42)),
                ("topic_field", "test".into()),
                ("partition_field", Value::Int32(0)),
                ("offset_field", Value::Int64(42)),
                ("timestamp_field", Value::Int64(1_483_425_001_864)),
                ("data_source", "test-file-source".into()),
            ])
        );
    }

    #[test]
    fn schema_gets_the_new_fields_with_their_optionality() {
        let t = configured(
            Side::Value,
            &[("topic.field", "topic_field!"), ("timestamp.field", "ts"), ("static.field", "instance_id"), ("static.value", "my-instance-id")],
        );
        let schema = Schema::struct_builder().name("name").version(1).doc("doc").field("magic", Schema::int64().optional()).build();
        let r = sink(None, Value::Null, Some(schema), Value::Struct(Struct::new().put("magic", 42i64)));
        let out = t.apply(r).unwrap().unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!((s.name.as_deref(), s.version, s.doc.as_deref()), (Some("name"), Some(1), Some("doc")));
        let names: Vec<_> = s.fields.iter().map(|f| (f.name.as_str(), f.schema.optional)).collect();
        assert_eq!(names, vec![("magic", true), ("topic_field", false), ("ts", true), ("instance_id", true)]);
        assert_eq!(s.field_named("ts").unwrap().schema.name.as_deref(), Some(logical::TIMESTAMP));
        assert_eq!(
            out.value,
            Value::Struct(Struct::new().put("magic", 42i64).put("topic_field", "test").put("ts", 1_483_425_001_864i64).put("instance_id", "my-instance-id"))
        );
    }

    #[test]
    fn tombstones_pass_and_non_maps_fail() {
        let t = configured(Side::Value, &[("topic.field", "t")]);
        assert_eq!(t.apply(sink(None, Value::Null, None, Value::Null)).unwrap().unwrap().value, Value::Null);
        assert!(t.apply(sink(None, Value::Null, None, Value::from("x"))).is_err());
        let k = configured(Side::Key, &[("topic.field", "t")]);
        assert_eq!(k.apply(sink(None, map(&[]), None, Value::Null)).unwrap().unwrap().key, map(&[("t", "test".into())]));
    }
}

//! `Flatten$Key` / `Flatten$Value`: nested structs (or, schemaless, nested maps) become
//! top-level fields named by joining the path with `delimiter` (default `.`). Arrays and
//! (schema'd) maps are kept as they are.

use sluice_sdk::{ConfigDef, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, SchemaType, Struct, Value, config_keys};

use crate::Smt;
use crate::util::{SchemaCache, Side, copy_struct_basics, get_or_null, push_field, require_map, require_struct, require_struct_schema};

const PURPOSE: &str = "flattening";

config_keys! {
    fn config_def();
    DELIMITER: String = "delimiter" => default(".")
        .importance(Importance::Medium)
        .doc("Delimiter to insert between field names from the input record when generating field names for the output record");
}

pub struct Flatten {
    side: Side,
    delimiter: String,
    cache: SchemaCache,
}

impl Flatten {
    pub fn new(side: Side) -> Flatten {
        Flatten { side, delimiter: ".".into(), cache: SchemaCache::default() }
    }

    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() { field.to_string() } else { format!("{prefix}{}{field}", self.delimiter) }
    }

    fn flatten_map(&self, prefix: &str, m: &[(Value, Value)], out: &mut Vec<(Value, Value)>) {
        for (k, v) in m {
            let key = match k {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let name = self.name(prefix, &key);
            match v {
                Value::Map(inner) => self.flatten_map(&name, inner, out),
                other => out.push((Value::String(name), other.clone())),
            }
        }
    }

    fn flatten_schema(&self, prefix: &str, optional: bool, schema: &Schema, out: &mut Schema) {
        for f in &schema.fields {
            let name = self.name(prefix, &f.name);
            if f.schema.schema_type == SchemaType::Struct {
                self.flatten_schema(&name, optional || f.schema.optional, &f.schema, out);
            } else if optional && !f.schema.optional {
                let mut s = (*f.schema).clone();
                s.optional = true;
                push_field(out, &name, s.build());
            } else {
                push_field(out, &name, f.schema.clone());
            }
        }
    }

    fn flatten_struct(&self, prefix: &str, schema: &Schema, s: &Struct, out: &mut Struct) {
        for f in &schema.fields {
            let name = self.name(prefix, &f.name);
            let v = get_or_null(s, &f.name);
            match (f.schema.schema_type, v) {
                (SchemaType::Struct, Value::Struct(inner)) => self.flatten_struct(&name, &f.schema, inner, out),
                (SchemaType::Struct, _) => self.flatten_struct(&name, &f.schema, &Struct::new(), out),
                _ => out.fields.push((name, v.clone())),
            }
        }
    }
}

impl Smt for Flatten {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.delimiter = c.value(DELIMITER)?;
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = self.side.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        match self.side.schema(&record) {
            None => {
                let mut out = Vec::new();
                self.flatten_map("", require_map(value, PURPOSE)?, &mut out);
                self.side.set(&mut record, None, Value::Map(out));
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let updated = self.cache.get_or_build(&schema, || {
                    let schema = require_struct_schema(&schema, PURPOSE)?;
                    let mut out = copy_struct_basics(schema);
                    self.flatten_schema("", false, schema, &mut out);
                    Ok(out.build())
                })?;
                let mut out = Struct::with_capacity(updated.fields.len());
                self.flatten_struct("", &schema, s, &mut out);
                self.side.set(&mut record, Some(updated), Value::Struct(out));
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
    use sluice_sdk::{SinkRecord, Transform};

    fn configured(p: &[(&str, &str)]) -> Adapter<Flatten> {
        let mut t = Adapter(Flatten::new(Side::Value));
        Transform::<SinkRecord>::configure(&mut t, &props(p)).unwrap();
        t
    }

    // Connect docs: delimiter=_ on {"content": {"id": 42, "name": {"first": "David", "middle": null, "last": "Wong"}}}.
    #[test]
    fn doc_example_schemaless() {
        let v = map(&[(
            "content",
            map(&[("id", Value::Int64(42)), ("name", map(&[("first", "David".into()), ("middle", Value::Null), ("last", "Wong".into())]))]),
        )]);
        let out = configured(&[("delimiter", "_")]).apply(sink(None, Value::Null, None, v)).unwrap().unwrap();
        assert_eq!(
            out.value,
            map(&[
                ("content_id", Value::Int64(42)),
                ("content_name_first", "David".into()),
                ("content_name_middle", Value::Null),
                ("content_name_last", "Wong".into())
            ])
        );
    }

    #[test]
    fn nested_structs() {
        let name = Schema::struct_builder().field("first", Schema::string()).field("last", Schema::string()).optional();
        let schema = Schema::struct_builder().field("id", Schema::int32()).field("name", name).field("tags", Schema::array(Schema::string())).build();
        let v = Struct::new().put("id", 42).put("name", Struct::new().put("first", "David").put("last", "Wong")).put("tags", Value::Array(vec!["a".into()]));
        let out = configured(&[]).apply(sink(None, Value::Null, Some(schema), Value::Struct(v))).unwrap().unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!(
            s.fields.iter().map(|f| (f.name.as_str(), f.schema.optional)).collect::<Vec<_>>(),
            vec![("id", false), ("name.first", true), ("name.last", true), ("tags", false)]
        );
        assert_eq!(
            out.value,
            Value::Struct(Struct::new().put("id", 42).put("name.first", "David").put("name.last", "Wong").put("tags", Value::Array(vec!["a".into()])))
        );
    }
}

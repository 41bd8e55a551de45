//! `ValueToKey`: replaces the key with a struct (or, schemaless, a map) of the listed value
//! fields.

use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, Struct, Value, config_keys};

use crate::Smt;
use crate::util::{SchemaCache, get_or_null, map_get, non_empty_list, push_field, require_map, require_struct, require_struct_schema};

const PURPOSE: &str = "copying fields from value to key";

config_keys! {
    fn config_def();
    FIELDS: List = "fields" => importance(Importance::High).validator(non_empty_list()).doc("Field names on the record value to extract as the record key.");
}

#[derive(Default)]
pub struct ValueToKey {
    fields: Vec<String>,
    cache: SchemaCache,
}

impl Smt for ValueToKey {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.fields = c.value(FIELDS)?;
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = record.value();
        if value.is_null() {
            return Ok(Some(record));
        }
        match record.value_schema().cloned() {
            None => {
                let m = require_map(value, PURPOSE)?;
                let key = self.fields.iter().map(|f| (Value::from(f.as_str()), map_get(m, f).cloned().unwrap_or(Value::Null))).collect();
                record.set_key(None, Value::Map(key));
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let key_schema = self.cache.get_or_build(&schema, || {
                    let schema = require_struct_schema(&schema, PURPOSE)?;
                    let mut out = Schema::struct_builder();
                    for f in &self.fields {
                        let field = schema.field_named(f).ok_or_else(|| ConnectError::data(format!("Field does not exist: {f}")))?;
                        push_field(&mut out, f, field.schema.clone());
                    }
                    Ok(out.build())
                })?;
                let mut key = Struct::with_capacity(self.fields.len());
                for f in &self.fields {
                    key.fields.push((f.clone(), get_or_null(s, f).clone()));
                }
                record.set_key(Some(key_schema), Value::Struct(key));
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

    fn configured(fields: &str) -> Adapter<ValueToKey> {
        let mut t = Adapter(ValueToKey::default());
        Transform::<SinkRecord>::configure(&mut t, &props(&[("fields", fields)])).unwrap();
        t
    }

    // Connect docs: fields=userId,city,state.
    #[test]
    fn doc_example_schemaless_and_schema() {
        let v = map(&[("userId", Value::Int64(1)), ("city", "Seattle".into()), ("state", "WA".into()), ("item", "book".into())]);
        let out = configured("userId,city,state").apply(sink(None, Value::Null, None, v.clone())).unwrap().unwrap();
        assert_eq!(out.key, map(&[("userId", Value::Int64(1)), ("city", "Seattle".into()), ("state", "WA".into())]));
        assert_eq!(out.value, v);

        let schema =
            Schema::struct_builder().field("userId", Schema::int64()).field("city", Schema::string()).field("state", Schema::string().optional()).build();
        let s = Struct::new().put("userId", 1i64).put("city", "Seattle").put("state", "WA");
        let out = configured("state,userId").apply(sink(None, Value::Null, Some(schema), Value::Struct(s))).unwrap().unwrap();
        let ks = out.key_schema.unwrap();
        assert_eq!(ks.fields.iter().map(|f| (f.name.as_str(), f.schema.optional)).collect::<Vec<_>>(), vec![("state", true), ("userId", false)]);
        assert_eq!(out.key, Value::Struct(Struct::new().put("state", "WA").put("userId", 1i64)));
    }

    #[test]
    fn a_missing_field_in_the_schema_is_a_data_error() {
        let schema = Schema::struct_builder().field("a", Schema::int32()).build();
        let err = configured("b").apply(sink(None, Value::Null, Some(schema), Value::Struct(Struct::new().put("a", 1)))).unwrap_err();
        assert_eq!(err.to_string(), "Field does not exist: b");
    }
}

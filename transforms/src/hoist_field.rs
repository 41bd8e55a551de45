//! `HoistField$Key` / `HoistField$Value`: wraps the key or value in a struct (or, schemaless,
//! a map) with one field.

use sluice_sdk::{ConfigDef, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, Struct, Validator, Value, config_keys};

use crate::Smt;
use crate::util::{SchemaCache, Side, push_field};

config_keys! {
    fn config_def();
    FIELD: String = "field" => importance(Importance::Medium)
        .validator(Validator::NonEmptyString)
        .doc("Field name for the single field that will be created in the resulting Struct or Map.");
}

pub struct HoistField {
    side: Side,
    field: String,
    cache: SchemaCache,
}

impl HoistField {
    pub fn new(side: Side) -> HoistField {
        HoistField { side, field: String::new(), cache: SchemaCache::default() }
    }
}

impl Smt for HoistField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.field = c.value(FIELD)?;
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = self.side.value(&record).clone();
        match self.side.schema(&record) {
            None => self.side.set(&mut record, None, Value::Map(vec![(Value::from(self.field.as_str()), value)])),
            Some(schema) => {
                let updated = self.cache.get_or_build(&schema, || {
                    let mut out = Schema::struct_builder();
                    push_field(&mut out, &self.field, schema.clone());
                    Ok(out.build())
                })?;
                self.side.set(&mut record, Some(updated), Value::Struct(Struct::new().put(self.field.clone(), value)));
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

    // Connect docs: HoistField$Value with field=line turns "hello" into {"line": "hello"}.
    #[test]
    fn doc_example() {
        let mut t = Adapter(HoistField::new(Side::Value));
        Transform::<SinkRecord>::configure(&mut t, &props(&[("field", "line")])).unwrap();
        let out = t.apply(sink(None, Value::Null, None, "hello".into())).unwrap().unwrap();
        assert_eq!(out.value, map(&[("line", "hello".into())]));
        let out = t.apply(sink(None, Value::Null, Some(Schema::string().build()), "hello".into())).unwrap().unwrap();
        assert_eq!(out.value_schema.unwrap().fields[0].schema.schema_type, sluice_sdk::SchemaType::String);
        assert_eq!(out.value, Value::Struct(Struct::new().put("line", "hello")));
    }
}

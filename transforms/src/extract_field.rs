//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value with one of its
//! fields (and the field's schema).

use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Validator, Value, config_keys};

use crate::Smt;
use crate::util::{Side, get_or_null, map_get, require_map, require_struct};

const PURPOSE: &str = "field extraction";

config_keys! {
    fn config_def();
    FIELD: String = "field" => importance(Importance::Medium).validator(Validator::NonEmptyString).doc("Field name to extract.");
}

pub struct ExtractField {
    side: Side,
    field: String,
}

impl ExtractField {
    pub fn new(side: Side) -> ExtractField {
        ExtractField { side, field: String::new() }
    }
}

impl Smt for ExtractField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.field = c.value(FIELD)?;
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = self.side.value(&record);
        match self.side.schema(&record) {
            None => {
                let extracted = if value.is_null() { Value::Null } else { map_get(require_map(value, PURPOSE)?, &self.field).cloned().unwrap_or(Value::Null) };
                self.side.set(&mut record, None, extracted);
            }
            Some(schema) => {
                let field = schema.field_named(&self.field).ok_or_else(|| ConnectError::data(format!("Unknown field: {}", self.field)))?;
                let extracted = if value.is_null() { Value::Null } else { get_or_null(require_struct(value, PURPOSE)?, &self.field).clone() };
                let field_schema = field.schema.clone();
                self.side.set(&mut record, Some(field_schema), extracted);
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
    use sluice_sdk::{Schema, SinkRecord, Struct, Transform};

    fn configured(side: Side, field: &str) -> Adapter<ExtractField> {
        let mut t = Adapter(ExtractField::new(side));
        Transform::<SinkRecord>::configure(&mut t, &props(&[("field", field)])).unwrap();
        t
    }

    // Connect docs: ExtractField$Key with field=id turns {"id": 42, "cost": 4000} into 42.
    #[test]
    fn doc_example() {
        let out =
            configured(Side::Key, "id").apply(sink(None, map(&[("id", Value::Int64(42)), ("cost", Value::Int64(4000))]), None, Value::Null)).unwrap().unwrap();
        assert_eq!(out.key, Value::Int64(42));
        let schema = Schema::struct_builder().field("id", Schema::int32()).field("cost", Schema::int32()).build();
        let out = configured(Side::Value, "id")
            .apply(sink(None, Value::Null, Some(schema), Value::Struct(Struct::new().put("id", 42).put("cost", 4000))))
            .unwrap()
            .unwrap();
        assert_eq!((out.value_schema.unwrap().schema_type, out.value), (sluice_sdk::SchemaType::Int32, Value::Int32(42)));
    }

    #[test]
    fn nulls_and_unknown_fields() {
        assert_eq!(configured(Side::Value, "id").apply(sink(None, Value::Null, None, Value::Null)).unwrap().unwrap().value, Value::Null);
        assert_eq!(configured(Side::Value, "x").apply(sink(None, Value::Null, None, map(&[]))).unwrap().unwrap().value, Value::Null);
        let schema = Schema::struct_builder().field("id", Schema::int32()).build();
        let err = configured(Side::Value, "x").apply(sink(None, Value::Null, Some(schema), Value::Struct(Struct::new().put("id", 1)))).unwrap_err();
        assert_eq!(err.to_string(), "Unknown field: x");
    }
}

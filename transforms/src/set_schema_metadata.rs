//! `SetSchemaMetadata$Key` / `$Value`: sets the schema's name (`schema.name`) and/or version
//! (`schema.version`). Needs a schema.

use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Value, config_keys};

use crate::Smt;
use crate::util::Side;

config_keys! {
    fn config_def();
    SCHEMA_NAME: String = "schema.name" => default("").importance(Importance::High).doc("Schema name to set.");
    SCHEMA_VERSION: Int = "schema.version" => default("0").importance(Importance::High).doc("Schema version to set.");
    REPLACE_NULL_WITH_DEFAULT: Boolean = "replace.null.with.default" => default("true")
        .importance(Importance::Medium)
        .doc("Whether to replace fields that have a default value and that are null to the default value.");
}

pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
}

impl SetSchemaMetadata {
    pub fn new(side: Side) -> SetSchemaMetadata {
        SetSchemaMetadata { side, name: None, version: None }
    }
}

impl Smt for SetSchemaMetadata {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.name = Some(c.value(SCHEMA_NAME)?).filter(|n| !n.is_empty());
        self.version = Some(c.value(SCHEMA_VERSION)?).filter(|v| *v != 0);
        if self.name.is_none() && self.version.is_none() {
            return Err(ConnectError::config(SCHEMA_NAME, "Neither schema name nor version configured"));
        }
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let schema = self.side.schema(&record).ok_or_else(|| ConnectError::data("Schema required for [updating schema metadata]"))?;
        let mut updated = (*schema).clone();
        if let Some(n) = &self.name {
            updated.name = Some(n.clone());
        }
        if let Some(v) = self.version {
            updated.version = Some(v);
        }
        let value: Value = self.side.value(&record).clone();
        self.side.set(&mut record, Some(updated.build()), value);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adapter;
    use crate::util::test_support::*;
    use sluice_sdk::{Schema, SinkRecord, Struct, Transform};

    // Connect docs: schema.name=order-value, schema.version=2.
    #[test]
    fn doc_example() {
        let mut t = Adapter(SetSchemaMetadata::new(Side::Value));
        Transform::<SinkRecord>::configure(&mut t, &props(&[("schema.name", "order-value"), ("schema.version", "2")])).unwrap();
        let schema = Schema::struct_builder().field("id", Schema::int32()).build();
        let out = t.apply(sink(None, Value::Null, Some(schema), Value::Struct(Struct::new().put("id", 1)))).unwrap().unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!((s.name.as_deref(), s.version), (Some("order-value"), Some(2)));
        assert!(t.apply(sink(None, Value::Null, None, Value::Null)).is_err());
    }
}

//! `ReplaceField$Key` / `ReplaceField$Value`: keeps (`include`), drops (`exclude`) and renames
//! (`renames=old:new,...`) fields. The deprecated `whitelist`/`blacklist` keys still work.

use sluice_sdk::{ConfigDef, ConnectRecord, ConnectResult, Importance, ParsedConfig, Struct, Value, config_keys};

use crate::Smt;
use crate::util::{SchemaCache, Side, copy_struct_basics, get_or_null, key_name, parse_pairs, push_field, require_map, require_struct, require_struct_schema};

const PURPOSE: &str = "field replacement";

config_keys! {
    fn config_def();
    EXCLUDE: List = "exclude" => default("").importance(Importance::Medium).doc("Fields to exclude. This takes precedence over the fields to include.");
    INCLUDE: List = "include" => default("").importance(Importance::Medium).doc("Fields to include. If specified, only these fields will be used.");
    RENAMES: List = "renames" => default("")
        .importance(Importance::Medium)
        .doc("Field rename mappings.")
        .validator(sluice_sdk::Validator::Custom(std::sync::Arc::new(|v| match v {
            sluice_sdk::ConfigValue::List(items) => parse_pairs(&RENAMES, items).map(|_| ()).map_err(|e| e.to_string()),
            _ => Ok(()),
        })));
    BLACKLIST: List = "blacklist" => default("").importance(Importance::Low).doc("Deprecated. Use exclude instead.");
    WHITELIST: List = "whitelist" => default("").importance(Importance::Low).doc("Deprecated. Use include instead.");
}

pub struct ReplaceField {
    side: Side,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: Vec<(String, String)>,
    cache: SchemaCache,
}

impl ReplaceField {
    pub fn new(side: Side) -> ReplaceField {
        ReplaceField { side, exclude: Vec::new(), include: Vec::new(), renames: Vec::new(), cache: SchemaCache::default() }
    }

    fn filter(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name) && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.iter().find(|(from, _)| from == name).map_or(name, |(_, to)| to.as_str())
    }
}

impl Smt for ReplaceField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.exclude = c.value(EXCLUDE)?;
        self.exclude.extend(c.value(BLACKLIST)?);
        self.include = c.value(INCLUDE)?;
        self.include.extend(c.value(WHITELIST)?);
        self.renames = parse_pairs(&RENAMES, &c.value(RENAMES)?)?;
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = self.side.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        match self.side.schema(&record) {
            None => {
                let m = require_map(value, PURPOSE)?;
                let out: Vec<(Value, Value)> = m
                    .iter()
                    .filter(|(k, _)| key_name(k).is_none_or(|n| self.filter(n)))
                    .map(|(k, v)| match key_name(k) {
                        Some(n) => (Value::from(self.renamed(n)), v.clone()),
                        None => (k.clone(), v.clone()),
                    })
                    .collect();
                self.side.set(&mut record, None, Value::Map(out));
            }
            Some(schema) => {
                let s = require_struct(value, PURPOSE)?;
                let updated = self.cache.get_or_build(&schema, || {
                    let schema = require_struct_schema(&schema, PURPOSE)?;
                    let mut out = copy_struct_basics(schema);
                    for f in schema.fields.iter().filter(|f| self.filter(&f.name)) {
                        push_field(&mut out, self.renamed(&f.name), f.schema.clone());
                    }
                    Ok(out.build())
                })?;
                let mut new = Struct::with_capacity(updated.fields.len());
                for f in schema.fields.iter().filter(|f| self.filter(&f.name)) {
                    new.fields.push((self.renamed(&f.name).to_string(), get_or_null(s, &f.name).clone()));
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
    use sluice_sdk::{Schema, SinkRecord, Transform};

    fn configured(p: &[(&str, &str)]) -> Adapter<ReplaceField> {
        let mut t = Adapter(ReplaceField::new(Side::Value));
        Transform::<SinkRecord>::configure(&mut t, &props(p)).unwrap();
        t
    }

    // Connect docs: exclude=c2 / include=c1,c2 / renames=foo:c1,bar:c2.
    #[test]
    fn doc_examples_schemaless() {
        let v = map(&[("dont", "whatever".into()), ("abc", Value::Int32(42)), ("foo", Value::Boolean(true)), ("etc", "etc".into())]);
        let cases: &[(&[(&str, &str)], Value)] = &[
            (&[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")], map(&[("xyz", Value::Int32(42)), ("bar", Value::Boolean(true)), ("etc", "etc".into())])),
            (&[("include", "abc,foo")], map(&[("abc", Value::Int32(42)), ("foo", Value::Boolean(true))])),
            (&[("include", "abc,dont"), ("exclude", "dont")], map(&[("abc", Value::Int32(42))])),
            (&[("blacklist", "dont,abc,foo")], map(&[("etc", "etc".into())])),
        ];
        for (p, want) in cases {
            let out = configured(p).apply(sink(None, Value::Null, None, v.clone())).unwrap().unwrap();
            assert_eq!(&out.value, want, "{p:?}");
        }
    }

    #[test]
    fn schema_fields_are_filtered_and_renamed() {
        let t = configured(&[("include", "abc,foo,etc"), ("renames", "abc:xyz,foo:bar")]);
        let schema = Schema::struct_builder()
            .field("dont", Schema::string())
            .field("abc", Schema::int32())
            .field("foo", Schema::boolean())
            .field("etc", Schema::string())
            .build();
        let v = Struct::new().put("dont", "whatever").put("abc", 42).put("foo", true).put("etc", "etc");
        let out = t.apply(sink(None, Value::Null, Some(schema), Value::Struct(v))).unwrap().unwrap();
        let names: Vec<_> = out.value_schema.as_ref().unwrap().fields.iter().map(|f| f.name.clone()).collect();
        assert_eq!(names, vec!["xyz", "bar", "etc"]);
        assert_eq!(out.value, Value::Struct(Struct::new().put("xyz", 42).put("bar", true).put("etc", "etc")));
    }

    #[test]
    fn bad_renames_are_config_errors() {
        let mut t = Adapter(ReplaceField::new(Side::Value));
        let err = Transform::<SinkRecord>::configure(&mut t, &props(&[("renames", "abc")])).unwrap_err();
        assert!(matches!(err, sluice_sdk::ConnectError::Config { ref field, .. } if field == "renames"), "{err}");
    }
}

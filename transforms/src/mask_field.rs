//! `MaskField$Key` / `MaskField$Value`: replaces the listed fields with the "empty" value of
//! their type (0, false, "", empty array/map) or with `replacement`, parsed as the field's type.

use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Value, config_keys};

use crate::Smt;
use crate::util::{Side, key_name, non_empty_list, require_map, require_struct};

const PURPOSE: &str = "mask fields";

config_keys! {
    fn config_def();
    FIELDS: List = "fields" => importance(Importance::High).validator(non_empty_list()).doc("Names of fields to mask.");
    REPLACEMENT: String = "replacement" => default("")
        .importance(Importance::Low)
        .doc("Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only).");
}

pub struct MaskField {
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
}

impl MaskField {
    pub fn new(side: Side) -> MaskField {
        MaskField { side, fields: Vec::new(), replacement: None }
    }

    fn masked(&self, v: &Value) -> ConnectResult<Value> {
        let num_err = |r: &str| ConnectError::data(format!("Unable to convert {r} ({}) to number", v.type_name()));
        Ok(match (&self.replacement, v) {
            (_, Value::Null) => Value::Null,
            (None, Value::Boolean(_)) => Value::Boolean(false),
            (None, Value::Int8(_)) => Value::Int8(0),
            (None, Value::Int16(_)) => Value::Int16(0),
            (None, Value::Int32(_)) => Value::Int32(0),
            (None, Value::Int64(_)) => Value::Int64(0),
            (None, Value::Float32(_)) => Value::Float32(0.0),
            (None, Value::Float64(_)) => Value::Float64(0.0),
            (None, Value::String(_)) => Value::String(String::new()),
            (None, Value::Bytes(_)) => Value::Bytes(Vec::new()),
            (None, Value::Array(_)) => Value::Array(Vec::new()),
            (None, Value::Map(_)) => Value::Map(Vec::new()),
            (Some(r), Value::String(_)) => Value::String(r.clone()),
            (Some(r), Value::Int8(_)) => Value::Int8(r.trim().parse().map_err(|_| num_err(r))?),
            (Some(r), Value::Int16(_)) => Value::Int16(r.trim().parse().map_err(|_| num_err(r))?),
            (Some(r), Value::Int32(_)) => Value::Int32(r.trim().parse().map_err(|_| num_err(r))?),
            (Some(r), Value::Int64(_)) => Value::Int64(r.trim().parse().map_err(|_| num_err(r))?),
            (Some(r), Value::Float32(_)) => Value::Float32(r.trim().parse().map_err(|_| num_err(r))?),
            (Some(r), Value::Float64(_)) => Value::Float64(r.trim().parse().map_err(|_| num_err(r))?),
            (Some(_), other) => return Err(ConnectError::data(format!("Cannot mask value of type {} with custom replacement.", other.type_name()))),
            (None, other) => return Err(ConnectError::data(format!("Cannot mask value of type: {}", other.type_name()))),
        })
    }
}

impl Smt for MaskField {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.fields = c.value(FIELDS)?;
        self.replacement = Some(c.value(REPLACEMENT)?).filter(|r| !r.is_empty());
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let has_schema = self.side.has_schema(&record);
        // In place: only the masked fields change (Connect copies the struct or map first; the
        // result is the same, without copying every other field of every record).
        match self.side.value_mut(&mut record) {
            Value::Null => {}
            Value::Struct(s) if has_schema => {
                for (n, v) in s.fields.iter_mut() {
                    if self.fields.iter().any(|f| f == n) {
                        *v = self.masked(v)?;
                    }
                }
            }
            Value::Map(m) if !has_schema => {
                for (k, v) in m.iter_mut() {
                    if key_name(k).is_some_and(|n| self.fields.iter().any(|f| f == n)) {
                        *v = self.masked(v)?;
                    }
                }
            }
            // Not a struct (with a schema) or a map (without): Connect's DataException.
            other if has_schema => {
                require_struct(other, PURPOSE)?;
            }
            other => {
                require_map(other, PURPOSE)?;
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

    fn configured(p: &[(&str, &str)]) -> Adapter<MaskField> {
        let mut t = Adapter(MaskField::new(Side::Value));
        Transform::<SinkRecord>::configure(&mut t, &props(p)).unwrap();
        t
    }

    // Connect docs: fields=string_field / fields=ssn,replacement=***-***-**** / numbers with replacement.
    #[test]
    fn doc_examples() {
        let v = map(&[
            ("string_field", "sensitive".into()),
            ("int_field", Value::Int32(42)),
            ("ssn", "123-45-6789".into()),
            ("flag", Value::Boolean(true)),
            ("keep", "x".into()),
        ]);
        let cases: &[(&[(&str, &str)], Value)] = &[
            (
                &[("fields", "string_field,int_field,flag")],
                map(&[
                    ("string_field", "".into()),
                    ("int_field", Value::Int32(0)),
                    ("ssn", "123-45-6789".into()),
                    ("flag", Value::Boolean(false)),
                    ("keep", "x".into()),
                ]),
            ),
            (
                &[("fields", "ssn"), ("replacement", "***-***-****")],
                map(&[
                    ("string_field", "sensitive".into()),
                    ("int_field", Value::Int32(42)),
                    ("ssn", "***-***-****".into()),
                    ("flag", Value::Boolean(true)),
                    ("keep", "x".into()),
                ]),
            ),
            (
                &[("fields", "int_field"), ("replacement", "-1")],
                map(&[
                    ("string_field", "sensitive".into()),
                    ("int_field", Value::Int32(-1)),
                    ("ssn", "123-45-6789".into()),
                    ("flag", Value::Boolean(true)),
                    ("keep", "x".into()),
                ]),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(&configured(p).apply(sink(None, Value::Null, None, v.clone())).unwrap().unwrap().value, want, "{p:?}");
        }
        assert!(configured(&[("fields", "int_field"), ("replacement", "abc")]).apply(sink(None, Value::Null, None, v.clone())).is_err());
        assert!(configured(&[("fields", "flag"), ("replacement", "abc")]).apply(sink(None, Value::Null, None, v)).is_err());
    }

    #[test]
    fn schema_values_keep_their_schema() {
        let schema = Schema::struct_builder().field("id", Schema::int64()).field("name", Schema::string()).build();
        let out = configured(&[("fields", "name")])
            .apply(sink(None, Value::Null, Some(schema.clone()), Value::Struct(Struct::new().put("id", 1i64).put("name", "Anne"))))
            .unwrap()
            .unwrap();
        assert_eq!(out.value_schema, Some(schema));
        assert_eq!(out.value, Value::Struct(Struct::new().put("id", 1i64).put("name", "")));
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_a_data_error_and_null_passes() {
        let schema = Schema::struct_builder().field("name", Schema::string()).build();
        let t = configured(&[("fields", "name")]);
        let e = t.apply(sink(None, Value::Null, Some(schema.clone()), Value::String("x".into()))).expect_err("a string with a struct schema");
        assert!(e.to_string().contains("Only Struct objects supported for [mask fields]"), "{e}");
        let e = t.apply(sink(None, Value::Null, None, Value::Struct(Struct::new().put("name", "x")))).expect_err("a struct without a schema");
        assert!(e.to_string().contains("Only Map objects supported in absence of schema"), "{e}");
        assert_eq!(t.apply(sink(None, Value::Null, Some(schema), Value::Null)).unwrap().unwrap().value, Value::Null);
    }

    #[test]
    fn fields_are_required() {
        let mut t = Adapter(MaskField::new(Side::Value));
        assert!(Transform::<SinkRecord>::configure(&mut t, &props(&[])).is_err());
    }
}

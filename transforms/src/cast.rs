//! `Cast$Key` / `Cast$Value`: casts fields (`spec=field:type,...`) or the whole key/value
//! (`spec=type`) to int8, int16, int32, int64, float32, float64, boolean or string, with
//! Connect's rules: numbers truncate, booleans become 1/0, strings are parsed.

use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, SchemaRef, SchemaType, Value, config_keys};

use crate::Smt;
use crate::util::{FieldUpdate, SchemaCache, Side, update_fields};

const PURPOSE: &str = "cast types";
const TYPES: &[&str] = &["int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string"];

config_keys! {
    fn config_def();
    SPEC: List = "spec" => importance(Importance::High)
        .validator(sluice_sdk::Validator::Custom(std::sync::Arc::new(|v| match v {
            sluice_sdk::ConfigValue::List(items) => parse_spec(items).map(|_| ()).map_err(|e| match e {
                ConnectError::Config { message, .. } => message,
                other => other.to_string(),
            }),
            _ => Ok(()),
        })))
        .doc("List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string.");
}

pub struct Cast {
    side: Side,
    /// `None` as the field: the whole value.
    casts: Vec<(Option<String>, SchemaType)>,
    cache: SchemaCache,
}

impl Cast {
    pub fn new(side: Side) -> Cast {
        Cast { side, casts: Vec::new(), cache: SchemaCache::default() }
    }

    fn target(&self, field: &str) -> Option<SchemaType> {
        self.casts.iter().find(|(f, _)| f.as_deref() == Some(field)).map(|(_, t)| *t)
    }

    fn whole(&self) -> Option<SchemaType> {
        match self.casts.as_slice() {
            [(None, t)] => Some(*t),
            _ => None,
        }
    }
}

fn parse_type(field: &str, s: &str) -> ConnectResult<SchemaType> {
    let t = match s.trim() {
        "float32" => SchemaType::Float32,
        "float64" => SchemaType::Float64,
        other if TYPES.contains(&other) => SchemaType::from_connect_name(other).unwrap_or(SchemaType::String),
        other => return Err(ConnectError::config(field, format!("Invalid type found in casting spec: {other}"))),
    };
    Ok(t)
}

fn parse_spec(items: &[String]) -> ConnectResult<Vec<(Option<String>, SchemaType)>> {
    if items.is_empty() {
        return Err(ConnectError::config(SPEC, "Must specify at least one field to cast."));
    }
    let mut out = Vec::new();
    for item in items {
        match item.split_once(':') {
            Some((f, t)) => out.push((Some(f.trim().to_string()), parse_type(&SPEC, t)?)),
            None if items.len() == 1 => out.push((None, parse_type(&SPEC, item)?)),
            None => {
                return Err(ConnectError::config(
                    SPEC,
                    "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
                ));
            }
        }
    }
    Ok(out)
}

/// Casts one value (Connect's `Cast.castValueToType`).
pub fn cast_value(v: &Value, to: SchemaType) -> ConnectResult<Value> {
    let fail = || ConnectError::data(format!("Unexpected type in Cast transformation: {} to {}", v.type_name(), to.connect_name()));
    if v.is_null() {
        return Ok(Value::Null);
    }
    let as_f64 = || -> ConnectResult<f64> {
        Ok(match v {
            Value::Int8(x) => *x as f64,
            Value::Int16(x) => *x as f64,
            Value::Int32(x) => *x as f64,
            Value::Int64(x) => *x as f64,
            Value::Float32(x) => *x as f64,
            Value::Float64(x) => *x,
            Value::Boolean(b) => f64::from(u8::from(*b)),
            Value::String(s) => {
                s.trim().parse().map_err(|_| ConnectError::data(format!("Value ({s}) was not a valid number to cast to {}", to.connect_name())))?
            }
            _ => return Err(fail()),
        })
    };
    let as_i64 = || -> ConnectResult<i64> {
        Ok(match v {
            Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => v.as_i64().unwrap_or(0),
            Value::Float32(x) => *x as i64,
            Value::Float64(x) => *x as i64,
            Value::Boolean(b) => i64::from(*b),
            Value::String(s) => {
                s.trim().parse().map_err(|_| ConnectError::data(format!("Value ({s}) was not a valid number to cast to {}", to.connect_name())))?
            }
            _ => return Err(fail()),
        })
    };
    Ok(match to {
        SchemaType::Int8 => Value::Int8(as_i64()? as i8),
        SchemaType::Int16 => Value::Int16(as_i64()? as i16),
        SchemaType::Int32 => Value::Int32(as_i64()? as i32),
        SchemaType::Int64 => Value::Int64(as_i64()?),
        SchemaType::Float32 => Value::Float32(as_f64()? as f32),
        SchemaType::Float64 => Value::Float64(as_f64()?),
        SchemaType::Boolean => match v {
            Value::Boolean(b) => Value::Boolean(*b),
            Value::String(s) => Value::Boolean(s.trim().eq_ignore_ascii_case("true")),
            _ => Value::Boolean(as_f64()? != 0.0),
        },
        SchemaType::String => match v {
            Value::Struct(_) | Value::Map(_) | Value::Array(_) | Value::Bytes(_) => return Err(fail()),
            other => Value::String(other.to_string()),
        },
        _ => return Err(fail()),
    })
}

fn cast_schema(from: &Schema, to: SchemaType) -> SchemaRef {
    let mut s = Schema::of(to);
    s.optional = from.optional;
    s.build()
}

impl Smt for Cast {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.casts = parse_spec(&c.value(SPEC)?)?;
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = self.side.value(&record);
        let schema = self.side.schema(&record);
        if let Some(to) = self.whole() {
            let cast = cast_value(value, to)?;
            let new_schema = schema.map(|s| cast_schema(&s, to));
            self.side.set(&mut record, new_schema, cast);
            return Ok(Some(record));
        }
        update_fields(self.side, record, PURPOSE, &self.cache, self)
    }
}

impl FieldUpdate for Cast {
    fn new_schema(&self, name: &str, old: &Schema) -> Option<SchemaRef> {
        self.target(name).map(|to| cast_schema(old, to))
    }

    fn new_value(&self, name: &str, _schema: Option<&Schema>, value: &Value) -> ConnectResult<Value> {
        match self.target(name) {
            Some(to) => cast_value(value, to),
            None => Ok(value.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adapter;
    use crate::util::test_support::*;
    use sluice_sdk::{SinkRecord, Struct, Transform};

    fn configured(side: Side, spec: &str) -> Adapter<Cast> {
        let mut t = Adapter(Cast::new(side));
        Transform::<SinkRecord>::configure(&mut t, &props(&[("spec", spec)])).unwrap();
        t
    }

    // Connect docs: spec=ID:string,score:float64 turns {"ID": 46, "score": 4761} into {"ID": "46", "score": 4761.0}.
    #[test]
    fn doc_example() {
        let t = configured(Side::Value, "ID:string,score:float64");
        let out = t.apply(sink(None, Value::Null, None, map(&[("ID", Value::Int64(46)), ("score", Value::Int64(4761))]))).unwrap().unwrap();
        assert_eq!(out.value, map(&[("ID", "46".into()), ("score", Value::Float64(4761.0))]));
        let schema = Schema::struct_builder().field("ID", Schema::int32()).field("score", Schema::int32().optional()).build();
        let out = t.apply(sink(None, Value::Null, Some(schema), Value::Struct(Struct::new().put("ID", 46).put("score", 4761)))).unwrap().unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!(
            s.fields.iter().map(|f| (f.schema.schema_type, f.schema.optional)).collect::<Vec<_>>(),
            vec![(SchemaType::String, false), (SchemaType::Float64, true)]
        );
        assert_eq!(out.value, Value::Struct(Struct::new().put("ID", "46").put("score", 4761.0)));
    }

    #[test]
    fn value_casts_follow_connect() {
        let cases: &[(Value, SchemaType, Value)] = &[
            (Value::Float64(42.9), SchemaType::Int32, Value::Int32(42)),
            (Value::Boolean(true), SchemaType::Int8, Value::Int8(1)),
            (Value::from("42"), SchemaType::Int64, Value::Int64(42)),
            (Value::from("4.5"), SchemaType::Float32, Value::Float32(4.5)),
            (Value::Int32(0), SchemaType::Boolean, Value::Boolean(false)),
            (Value::from("TRUE"), SchemaType::Boolean, Value::Boolean(true)),
            (Value::Float64(4761.0), SchemaType::String, Value::from("4761.0")),
            (Value::Null, SchemaType::Int32, Value::Null),
        ];
        for (v, to, want) in cases {
            assert_eq!(&cast_value(v, *to).unwrap(), want, "{v:?} -> {to:?}");
        }
        assert!(cast_value(&Value::from("x"), SchemaType::Int32).is_err());
        let whole = configured(Side::Key, "int64").apply(sink(Some(Schema::string().build()), "7".into(), None, Value::Null)).unwrap().unwrap();
        assert_eq!((whole.key_schema.unwrap().schema_type, whole.key), (SchemaType::Int64, Value::Int64(7)));
    }

    #[test]
    fn bad_specs() {
        for spec in ["", "a:uuid", "int32,a:string"] {
            let mut t = Adapter(Cast::new(Side::Value));
            let err = Transform::<SinkRecord>::configure(&mut t, &props(&[("spec", spec)])).unwrap_err();
            assert!(matches!(err, ConnectError::Config { ref field, .. } if field == "spec"), "{spec}: {err}");
        }
    }
}

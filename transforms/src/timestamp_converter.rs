//! `TimestampConverter$Key` / `$Value`: converts a timestamp field (`field`; empty: the whole
//! key/value) between `string` (with `format`, a `SimpleDateFormat` pattern, UTC), `unix`
//! (an int64 in `unix.precision`), and Connect's logical `Date`, `Time` and `Timestamp`.

use sluice_sdk::data::logical;
use sluice_sdk::{
    ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, SchemaRef, SchemaType, Validator, Value, config_keys,
};

use crate::Smt;
use crate::time_format;
use crate::util::{FieldUpdate, SchemaCache, Side, update_fields};

const PURPOSE: &str = "converting timestamp formats";
const DAY_MS: i64 = 86_400_000;

config_keys! {
    fn config_def();
    FIELD: String = "field" => default("").importance(Importance::High).doc("The field containing the timestamp, or empty if the entire value is a timestamp");
    TARGET_TYPE: String = "target.type" => importance(Importance::High).validator(Validator::one_of(&["string", "unix", "Date", "Time", "Timestamp"])).doc("The desired timestamp representation: string, unix, Date, Time, or Timestamp");
    FORMAT: String = "format" => default("").importance(Importance::Medium).doc("A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string.");
    UNIX_PRECISION: String = "unix.precision" => default("milliseconds").importance(Importance::Low).validator(Validator::one_of(&["nanoseconds", "microseconds", "milliseconds", "seconds"])).doc("The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds.");
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

pub struct TimestampConverter {
    side: Side,
    field: String,
    target: Kind,
    format: String,
    precision: i64,
    cache: SchemaCache,
}

impl TimestampConverter {
    pub fn new(side: Side) -> TimestampConverter {
        TimestampConverter { side, field: String::new(), target: Kind::Timestamp, format: String::new(), precision: 1, cache: SchemaCache::default() }
    }

    fn kind_of(schema: Option<&Schema>, v: &Value) -> ConnectResult<Kind> {
        if let Some(s) = schema {
            return Ok(match (s.name.as_deref(), s.schema_type) {
                (Some(logical::TIMESTAMP), _) => Kind::Timestamp,
                (Some(logical::DATE), _) => Kind::Date,
                (Some(logical::TIME), _) => Kind::Time,
                (_, SchemaType::Int64) => Kind::Unix,
                (_, SchemaType::String) => Kind::String,
                (_, t) => return Err(ConnectError::data(format!("Schema {} does not correspond to a known timestamp type format", t.connect_name()))),
            });
        }
        Ok(match v {
            Value::Int64(_) | Value::Int32(_) => Kind::Unix,
            Value::String(_) => Kind::String,
            other => return Err(ConnectError::data(format!("TimestampConverter does not support {} objects as timestamps", other.type_name()))),
        })
    }

    fn to_ms(&self, kind: Kind, v: &Value) -> ConnectResult<i64> {
        let int = || v.as_i64().ok_or_else(|| ConnectError::data(format!("Expected an integer timestamp, found {}", v.type_name())));
        Ok(match kind {
            Kind::Timestamp | Kind::Time => int()?,
            Kind::Date => int()? * DAY_MS,
            Kind::Unix => {
                let n = int()?;
                match self.precision {
                    1000 => n * 1000,
                    -1000 => n / 1000,
                    -1_000_000 => n / 1_000_000,
                    _ => n,
                }
            }
            Kind::String => {
                let s = v.as_str().unwrap_or_default();
                time_format::parse(s, &self.format)
                    .ok_or_else(|| ConnectError::data(format!("Could not parse timestamp: value ({s}) does not match pattern ({})", self.format)))?
            }
        })
    }

    fn ms_to_target(&self, ms: i64) -> Value {
        match self.target {
            Kind::String => Value::String(time_format::format(ms, &self.format)),
            Kind::Unix => Value::Int64(match self.precision {
                1000 => ms.div_euclid(1000),
                -1000 => ms * 1000,
                -1_000_000 => ms * 1_000_000,
                _ => ms,
            }),
            Kind::Date => Value::Int32(ms.div_euclid(DAY_MS) as i32),
            Kind::Time => Value::Int32(ms.rem_euclid(DAY_MS) as i32),
            Kind::Timestamp => Value::Int64(ms),
        }
    }

    fn target_schema(&self, optional: bool) -> SchemaRef {
        let s = match self.target {
            Kind::String => Schema::string(),
            Kind::Unix => Schema::int64(),
            Kind::Date => logical::date(),
            Kind::Time => logical::time(),
            Kind::Timestamp => logical::timestamp(),
        };
        if optional { s.optional().build() } else { s.build() }
    }

    fn convert(&self, schema: Option<&Schema>, v: &Value) -> ConnectResult<Value> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let kind = Self::kind_of(schema, v)?;
        Ok(self.ms_to_target(self.to_ms(kind, v)?))
    }
}

impl Smt for TimestampConverter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.field = c.value(FIELD)?;
        self.target = match c.value(TARGET_TYPE)?.as_str() {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            _ => Kind::Timestamp,
        };
        self.format = c.value(FORMAT)?;
        if self.target == Kind::String && self.format.is_empty() {
            return Err(ConnectError::config(FORMAT, "TimestampConverter requires format option to be specified when using string timestamps"));
        }
        // Multiplier to milliseconds (positive) or divisor from them (negative).
        self.precision = match c.value(UNIX_PRECISION)?.as_str() {
            "seconds" => 1000,
            "microseconds" => -1000,
            "nanoseconds" => -1_000_000,
            _ => 1,
        };
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let schema = self.side.schema(&record);
        let value = self.side.value(&record);
        if self.field.is_empty() {
            let converted = self.convert(schema.as_deref(), value)?;
            let new_schema = schema.map(|s| self.target_schema(s.optional));
            self.side.set(&mut record, new_schema, converted);
            return Ok(Some(record));
        }
        update_fields(self.side, record, PURPOSE, &self.cache, self)
    }
}

impl FieldUpdate for TimestampConverter {
    fn new_schema(&self, name: &str, old: &Schema) -> Option<SchemaRef> {
        (name == self.field).then(|| self.target_schema(old.optional))
    }

    fn new_value(&self, name: &str, schema: Option<&Schema>, value: &Value) -> ConnectResult<Value> {
        if name == self.field { self.convert(schema, value) } else { Ok(value.clone()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adapter;
    use crate::util::test_support::*;
    use sluice_sdk::{SinkRecord, Struct, Transform};

    fn configured(p: &[(&str, &str)]) -> Adapter<TimestampConverter> {
        let mut t = Adapter(TimestampConverter::new(Side::Value));
        Transform::<SinkRecord>::configure(&mut t, &props(p)).unwrap();
        t
    }

    const MS: i64 = 1_483_425_001_864; // 2017-01-03 06:30:01.864 UTC

    // Kafka docs: field=event_date_long, target.type=string, format=yyyy-MM-dd ... and the reverse.
    #[test]
    fn doc_examples() {
        let cases: &[(&[(&str, &str)], Value, Value)] = &[
            (&[("field", "ts"), ("target.type", "string"), ("format", "yyyy-MM-dd HH:mm:ss.SSS")], Value::Int64(MS), "2017-01-03 06:30:01.864".into()),
            (&[("field", "ts"), ("target.type", "unix"), ("format", "yyyy-MM-dd HH:mm:ss.SSS")], "2017-01-03 06:30:01.864".into(), Value::Int64(MS)),
            (&[("field", "ts"), ("target.type", "Timestamp"), ("unix.precision", "seconds")], Value::Int64(MS / 1000), Value::Int64(MS / 1000 * 1000)),
            (&[("field", "ts"), ("target.type", "Date")], Value::Int64(MS), Value::Int32(17169)),
            (&[("field", "ts"), ("target.type", "Time")], Value::Int64(MS), Value::Int32(23_401_864)),
        ];
        for (p, input, want) in cases {
            let out = configured(p).apply(sink(None, Value::Null, None, map(&[("ts", input.clone()), ("other", Value::Int32(1))]))).unwrap().unwrap();
            assert_eq!(out.value, map(&[("ts", want.clone()), ("other", Value::Int32(1))]), "{p:?}");
        }
    }

    #[test]
    fn logical_types_in_schemas() {
        let t = configured(&[("target.type", "Timestamp")]);
        let out = t.apply(sink(None, Value::Null, Some(logical::date().build()), Value::Int32(17169))).unwrap().unwrap();
        assert_eq!(out.value_schema.unwrap().name.as_deref(), Some(logical::TIMESTAMP));
        assert_eq!(out.value, Value::Int64(17169 * DAY_MS));
        let schema = Schema::struct_builder().field("ts", logical::timestamp().optional()).build();
        let s = configured(&[("field", "ts"), ("target.type", "string"), ("format", "yyyyMMdd")]);
        let out = s.apply(sink(None, Value::Null, Some(schema), Value::Struct(Struct::new().put("ts", MS)))).unwrap().unwrap();
        assert_eq!(out.value, Value::Struct(Struct::new().put("ts", "20170103")));
        let fs = &out.value_schema.unwrap().fields[0].schema;
        assert_eq!((fs.schema_type, fs.optional), (SchemaType::String, true));
        let mut bad = Adapter(TimestampConverter::new(Side::Value));
        assert!(Transform::<SinkRecord>::configure(&mut bad, &props(&[("target.type", "string")])).is_err());
    }
}

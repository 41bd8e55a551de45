//! Debezium's mapping of Postgres column types to Connect schemas, and the conversion of a
//! column's text form (what pgoutput v1 and `::text` casts send) to a Connect value.
//!
//! Mapped (default `decimal.handling.mode=precise`, `time.precision.mode=adaptive`):
//! bool → boolean; int2/int4/int8 → int16/int32/int64; oid → int64; float4/float8 → float/double;
//! numeric(p,s) → `org.apache.kafka.connect.data.Decimal` (scale s, `connect.decimal.precision` p),
//! numeric without a scale → `io.debezium.data.VariableScaleDecimal`; text/varchar/char/name →
//! string; bytea → bytes; date → int32 `io.debezium.time.Date`; time(p) → `io.debezium.time.Time`
//! (ms, p ≤ 3) or `MicroTime` (µs); timestamp(p) → `io.debezium.time.Timestamp` (ms) or
//! `MicroTimestamp` (µs); timestamptz → `io.debezium.time.ZonedTimestamp` (ISO-8601 UTC string,
//! as many fraction digits as the column's precision); timetz → `io.debezium.time.ZonedTime`;
//! uuid → `io.debezium.data.Uuid`; json/jsonb → `io.debezium.data.Json`; enums →
//! `io.debezium.data.Enum` with `allowed` = the labels; one-dimensional arrays of these → array
//! of the optional element schema. Other types (interval, money, inet, ranges, ...) are sent as
//! their text form in a plain string: a documented difference from Debezium.
//!
//! The session that produces the text must use `TimeZone=UTC`, `DateStyle=ISO` and
//! `bytea_output=hex` (see `client::session_setup`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use sluice_sdk::data::logical;
use sluice_sdk::{Schema, Struct, Value};

use crate::config::{DecimalMode, TimePrecisionMode};

/// A column type, resolved from its OID, type modifier and (for enums and arrays) the catalog.
#[derive(Debug, Clone, PartialEq)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; `None` for an unconstrained numeric.
    Numeric(Option<(i32, i32)>),
    Text,
    Bytea,
    Date,
    /// Fractional-second precision (0–6).
    Time(i32),
    TimeTz,
    Timestamp(i32),
    TimestampTz(i32),
    Uuid,
    Json,
    /// The enum's labels in sort order.
    Enum(Vec<String>),
    Array(Box<PgType>),
    /// Anything else: its text form as a string.
    Other,
}

/// What the catalog says about a non-builtin type (see `catalog.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeInfo {
    /// Labels if the type (or, for an array, its element) is an enum.
    pub enum_labels: Option<Vec<String>>,
    /// The element type's OID if the type is an array.
    pub element_oid: Option<u32>,
}

fn precision_of(type_modifier: i32) -> i32 {
    if type_modifier < 0 { 6 } else { type_modifier.min(6) }
}

impl PgType {
    /// Resolves a column type. `info` comes from the catalog for types that need it.
    pub fn resolve(oid: u32, type_modifier: i32, info: &TypeInfo) -> PgType {
        match oid {
            16 => PgType::Bool,
            21 => PgType::Int2,
            23 => PgType::Int4,
            20 | 26 => PgType::Int8,
            700 => PgType::Float4,
            701 => PgType::Float8,
            1700 => {
                if type_modifier < 4 {
                    PgType::Numeric(None)
                } else {
                    let t = type_modifier - 4;
                    PgType::Numeric(Some(((t >> 16) & 0xffff, t & 0xffff)))
                }
            }
            25 | 1043 | 1042 | 18 | 19 => PgType::Text,
            17 => PgType::Bytea,
            1082 => PgType::Date,
            1083 => PgType::Time(precision_of(type_modifier)),
            1266 => PgType::TimeTz,
            1114 => PgType::Timestamp(precision_of(type_modifier)),
            1184 => PgType::TimestampTz(precision_of(type_modifier)),
            2950 => PgType::Uuid,
            114 | 3802 => PgType::Json,
            _ => match (&info.enum_labels, info.element_oid) {
                (labels, Some(elem)) => {
                    let elem_info = TypeInfo { enum_labels: labels.clone(), element_oid: None };
                    // The element's modifier is the array's (e.g. numeric(10,2)[]).
                    PgType::Array(Box::new(PgType::resolve(elem, type_modifier, &elem_info)))
                }
                (Some(labels), None) => PgType::Enum(labels.clone()),
                (None, None) => PgType::Other,
            },
        }
    }

    /// Whether the catalog must be asked about this OID (not a builtin scalar).
    pub fn needs_catalog(oid: u32) -> bool {
        !matches!(oid, 16 | 21 | 23 | 20 | 26 | 700 | 701 | 1700 | 25 | 1043 | 1042 | 18 | 19 | 17 | 1082 | 1083 | 1266 | 1114 | 1184 | 2950 | 114 | 3802)
    }
}

/// How values are represented (the connector's `*.handling.mode` settings).
#[derive(Debug, Clone, Copy)]
pub struct TypeMapping {
    pub decimal: DecimalMode,
    pub time: TimePrecisionMode,
}

fn named(s: Schema, name: &str) -> Schema {
    s.name(name).version(1)
}

/// `io.debezium.data.VariableScaleDecimal`.
fn variable_scale_decimal() -> Schema {
    Schema::struct_builder()
        .name("io.debezium.data.VariableScaleDecimal")
        .version(1)
        .doc("Variable scaled decimal")
        .field("scale", Schema::int32())
        .field("value", Schema::bytes())
}

impl TypeMapping {
    /// The (required) Connect schema of a column of type `t`.
    pub fn schema(&self, t: &PgType) -> Schema {
        let adaptive = self.time == TimePrecisionMode::Adaptive;
        match t {
            PgType::Bool => Schema::boolean(),
            PgType::Int2 => Schema::int16(),
            PgType::Int4 => Schema::int32(),
            PgType::Int8 => Schema::int64(),
            PgType::Float4 => Schema::float32(),
            PgType::Float8 => Schema::float64(),
            PgType::Numeric(ps) => match (self.decimal, ps) {
                (DecimalMode::Double, _) => Schema::float64(),
                (DecimalMode::String, _) => Schema::string(),
                (DecimalMode::Precise, Some((p, s))) => logical::decimal(*s).parameter("connect.decimal.precision", p.to_string()),
                (DecimalMode::Precise, None) => variable_scale_decimal(),
            },
            PgType::Text | PgType::Other => Schema::string(),
            PgType::Bytea => Schema::bytes(),
            PgType::Date if adaptive => named(Schema::int32(), "io.debezium.time.Date"),
            PgType::Date => logical::date(),
            PgType::Time(p) if adaptive && *p <= 3 => named(Schema::int32(), "io.debezium.time.Time"),
            PgType::Time(_) if adaptive => named(Schema::int64(), "io.debezium.time.MicroTime"),
            PgType::Time(_) => logical::time(),
            PgType::TimeTz => named(Schema::string(), "io.debezium.time.ZonedTime"),
            PgType::Timestamp(p) if adaptive && *p <= 3 => named(Schema::int64(), "io.debezium.time.Timestamp"),
            PgType::Timestamp(_) if adaptive => named(Schema::int64(), "io.debezium.time.MicroTimestamp"),
            PgType::Timestamp(_) => logical::timestamp(),
            PgType::TimestampTz(_) => named(Schema::string(), "io.debezium.time.ZonedTimestamp"),
            PgType::Uuid => named(Schema::string(), "io.debezium.data.Uuid"),
            PgType::Json => named(Schema::string(), "io.debezium.data.Json"),
            PgType::Enum(labels) => named(Schema::string(), "io.debezium.data.Enum").parameter("allowed", labels.join(",")),
            PgType::Array(elem) => Schema::array(self.schema(elem).optional()),
        }
    }

    /// Converts a column's text form to a value of [`TypeMapping::schema`].
    pub fn value(&self, t: &PgType, text: &str) -> Result<Value, String> {
        let adaptive = self.time == TimePrecisionMode::Adaptive;
        let bad = |what: &str| format!("cannot read {text:?} as {what}");
        Ok(match t {
            PgType::Bool => Value::Boolean(text == "t" || text == "true"),
            PgType::Int2 => Value::Int16(text.parse().map_err(|_| bad("int2"))?),
            PgType::Int4 => Value::Int32(text.parse().map_err(|_| bad("int4"))?),
            PgType::Int8 => Value::Int64(text.parse().map_err(|_| bad("int8"))?),
            PgType::Float4 => Value::Float32(parse_float(text).ok_or_else(|| bad("float4"))? as f32),
            PgType::Float8 => Value::Float64(parse_float(text).ok_or_else(|| bad("float8"))?),
            PgType::Numeric(ps) => match self.decimal {
                DecimalMode::String => Value::String(text.to_string()),
                DecimalMode::Double => Value::Float64(parse_float(text).ok_or_else(|| bad("numeric"))?),
                DecimalMode::Precise if text == "NaN" || text.ends_with("Infinity") => Value::Null,
                DecimalMode::Precise => {
                    let (unscaled, scale) = parse_decimal(text).ok_or_else(|| bad("numeric"))?;
                    match ps {
                        Some((_, s)) => Value::Bytes(logical::encode_unscaled(rescale(unscaled, scale, *s).ok_or_else(|| bad("numeric"))?)),
                        None => Value::Struct(Struct::with_capacity(2).put("scale", scale).put("value", Value::Bytes(logical::encode_unscaled(unscaled)))),
                    }
                }
            },
            PgType::Text | PgType::Other | PgType::Uuid | PgType::Json | PgType::Enum(_) => Value::String(text.to_string()),
            PgType::Bytea => Value::Bytes(parse_bytea(text).ok_or_else(|| bad("bytea"))?),
            PgType::Date => Value::Int32(parse_date(text).ok_or_else(|| bad("date"))?),
            PgType::Time(p) => {
                let us = parse_time_us(text).ok_or_else(|| bad("time"))?;
                match (adaptive, *p <= 3) {
                    (true, true) | (false, _) => Value::Int32((us / 1000) as i32),
                    (true, false) => Value::Int64(us),
                }
            }
            PgType::TimeTz => Value::String(zoned_time(text).ok_or_else(|| bad("timetz"))?),
            PgType::Timestamp(p) => {
                let us = parse_timestamp_us(text).ok_or_else(|| bad("timestamp"))?;
                if adaptive && *p > 3 { Value::Int64(us) } else { Value::Int64(us.div_euclid(1000)) }
            }
            PgType::TimestampTz(p) => Value::String(zoned_timestamp(text, *p).ok_or_else(|| bad("timestamptz"))?),
            PgType::Array(elem) => {
                let items = parse_array(text).ok_or_else(|| bad("array"))?;
                Value::Array(items.into_iter().map(|i| i.map_or(Ok(Value::Null), |s| self.value(elem, &s))).collect::<Result<Vec<_>, _>>()?)
            }
        })
    }
}

/// The value Debezium gives a required column whose value is missing (a key-only old tuple).
pub fn fallback(schema: &Schema) -> Value {
    use sluice_sdk::SchemaType::*;
    match schema.schema_type {
        Int8 => Value::Int8(0),
        Int16 => Value::Int16(0),
        Int32 => Value::Int32(0),
        Int64 => Value::Int64(0),
        Float32 => Value::Float32(0.0),
        Float64 => Value::Float64(0.0),
        Boolean => Value::Boolean(false),
        String => Value::String(std::string::String::new()),
        Bytes if schema.name.as_deref() == Some(logical::DECIMAL) => Value::Bytes(vec![0]),
        Bytes => Value::Bytes(Vec::new()),
        Array => Value::Array(Vec::new()),
        Map => Value::Map(Vec::new()),
        Struct => Value::Struct(sluice_sdk::Struct::new()),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// `-123.4500` → (-1234500, 4).
fn parse_decimal(s: &str) -> Option<(i128, i32)> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v: i128 = 0;
    for c in int.chars().chain(frac.chars()) {
        v = v.checked_mul(10)?.checked_add(c.to_digit(10)? as i128)?;
    }
    Some((if neg { -v } else { v }, frac.len() as i32))
}

fn rescale(unscaled: i128, from: i32, to: i32) -> Option<i128> {
    if to >= from { unscaled.checked_mul(10i128.checked_pow((to - from) as u32)?) } else { Some(unscaled / 10i128.checked_pow((from - to) as u32)?) }
}

fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    let hex = s.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok()).collect()
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn parse_date(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    i32::try_from((d - epoch()).num_days()).ok()
}

fn parse_time_us(s: &str) -> Option<i64> {
    if s == "24:00:00" {
        return Some(86_400_000_000);
    }
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok()?;
    Some(t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64)
}

fn parse_timestamp_us(s: &str) -> Option<i64> {
    Some(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()?.and_utc().timestamp_micros())
}

fn fraction(nanos: u32, digits: i32) -> String {
    if digits <= 0 {
        return String::new();
    }
    let s = format!("{:09}", nanos);
    format!(".{}", &s[..digits.clamp(1, 9) as usize])
}

/// `2024-01-02 03:04:05.12+02` → `2024-01-02T01:04:05.120000Z` (precision 6).
fn zoned_timestamp(s: &str, precision: i32) -> Option<String> {
    if let Some(fast) = zoned_timestamp_utc(s, precision) {
        return Some(fast);
    }
    let t = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z").ok()?.naive_utc();
    Some(format!("{}{}Z", t.format("%Y-%m-%dT%H:%M:%S"), fraction(t.nanosecond(), precision)))
}

/// [`zoned_timestamp`] for what a server in UTC sends (`YYYY-MM-DD HH:MM:SS[.f]+00`): only
/// the layout changes, so no calendar arithmetic (and no chrono format parsing) is needed.
/// `None` for anything else (another offset, BC, a 5-digit year), which the general path reads.
fn zoned_timestamp_utc(s: &str, precision: i32) -> Option<String> {
    let body = s.strip_suffix("+00")?;
    let b = body.as_bytes();
    let layout_ok = b.len() >= 19
        && b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !layout_ok {
        return None;
    }
    let digits = match &body[19..] {
        "" => "",
        f => f.strip_prefix('.').filter(|d| !d.is_empty() && d.len() <= 9 && d.bytes().all(|c| c.is_ascii_digit()))?,
    };
    let mut out = String::with_capacity(32);
    out.push_str(&body[..10]);
    out.push('T');
    out.push_str(&body[11..19]);
    if precision > 0 {
        let p = precision.clamp(1, 9) as usize;
        out.push('.');
        out.push_str(&digits[..p.min(digits.len())]);
        out.extend(std::iter::repeat_n('0', p.saturating_sub(digits.len())));
    }
    out.push('Z');
    Some(out)
}

/// `03:04:05.5+02` → `01:04:05.5Z` (Debezium's ZonedTime, in UTC).
fn zoned_time(s: &str) -> Option<String> {
    let split = s.rfind(['+', '-'])?;
    let (time, offset) = s.split_at(split);
    let t = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?;
    let sign: i64 = if offset.starts_with('-') { -1 } else { 1 };
    let mut secs = 0i64;
    for (i, part) in offset[1..].split(':').enumerate() {
        secs += part.parse::<i64>().ok()? * [3600, 60, 1].get(i)?;
    }
    let utc = t - chrono::Duration::seconds(sign * secs);
    let frac = if utc.nanosecond() == 0 { String::new() } else { fraction(utc.nanosecond(), 9).trim_end_matches('0').to_string() };
    Some(format!("{}{frac}Z", utc.format("%H:%M:%S")))
}

/// A one-dimensional array literal (`{1,NULL,"a b","q\"x"}`) into its elements.
pub fn parse_array(s: &str) -> Option<Vec<Option<String>>> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Some(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut item = String::new();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            out.push(Some(item));
        } else {
            let mut item = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' {
                    return None; // multi-dimensional arrays are not supported
                }
                item.push(c);
                chars.next();
            }
            out.push(if item == "NULL" { None } else { Some(item) });
        }
        match chars.next() {
            Some(',') => continue,
            None => return Some(out),
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: TypeMapping = TypeMapping { decimal: DecimalMode::Precise, time: TimePrecisionMode::Adaptive };

    #[test]
    fn utc_timestamps_take_the_fast_path_with_the_same_text() {
        let general = |s: &str, p: i32| {
            let t = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z").ok()?.naive_utc();
            Some(format!("{}{}Z", t.format("%Y-%m-%dT%H:%M:%S"), fraction(t.nanosecond(), p)))
        };
        for s in ["2026-01-01 00:00:00+00", "2024-02-29 23:59:59.5+00", "1999-12-31 01:02:03.123456+00", "2024-01-02 03:04:05.12+02", "0001-01-01 00:00:00+00"]
        {
            for p in [0, 3, 6, 9] {
                assert_eq!(zoned_timestamp(s, p), general(s, p), "{s} at precision {p}");
            }
        }
        assert!(zoned_timestamp_utc("2024-01-02 03:04:05.12+02", 6).is_none());
        assert!(zoned_timestamp_utc("2024-01-02 03:04:05+00 BC", 6).is_none());
        assert_eq!(zoned_timestamp_utc("2024-01-02 03:04:05.5+00", 6).as_deref(), Some("2024-01-02T03:04:05.500000Z"));
    }

    #[test]
    fn converts_text_forms() {
        let n = TypeInfo::default();
        let cases: Vec<(PgType, &str, Value)> = vec![
            (PgType::Bool, "t", Value::Boolean(true)),
            (PgType::Int2, "-7", Value::Int16(-7)),
            (PgType::Int8, "9007199254740993", Value::Int64(9_007_199_254_740_993)),
            (PgType::Float4, "1.5", Value::Float32(1.5)),
            (PgType::Float8, "-Infinity", Value::Float64(f64::NEG_INFINITY)),
            (PgType::resolve(1700, (10 << 16) + 2 + 4, &n), "-123.45", Value::Bytes(logical::encode_unscaled(-12345))),
            (PgType::resolve(1700, (10 << 16) + 3 + 4, &n), "1.5", Value::Bytes(logical::encode_unscaled(1500))),
            (
                PgType::resolve(1700, -1, &n),
                "3.14159",
                Value::Struct(Struct::new().put("scale", 5).put("value", Value::Bytes(logical::encode_unscaled(314159)))),
            ),
            (PgType::Bytea, "\\x00ff10", Value::Bytes(vec![0, 255, 16])),
            (PgType::Date, "2024-03-01", Value::Int32(19783)),
            (PgType::Date, "1969-12-31", Value::Int32(-1)),
            (PgType::Time(6), "01:02:03.000004", Value::Int64(3_723_000_004)),
            (PgType::Time(3), "01:02:03.5", Value::Int32(3_723_500)),
            (PgType::Timestamp(6), "1970-01-01 00:00:01.000002", Value::Int64(1_000_002)),
            (PgType::Timestamp(3), "1970-01-01 00:00:01.25", Value::Int64(1_250)),
            (PgType::TimestampTz(6), "2024-01-02 03:04:05.12+02", Value::String("2024-01-02T01:04:05.120000Z".into())),
            (PgType::TimestampTz(0), "2024-01-02 03:04:05+00", Value::String("2024-01-02T03:04:05Z".into())),
            (PgType::TimeTz, "03:04:05.5+02", Value::String("01:04:05.5Z".into())),
            (
                PgType::resolve(1007, -1, &TypeInfo { enum_labels: None, element_oid: Some(23) }),
                "{1,NULL,3}",
                Value::Array(vec![Value::Int32(1), Value::Null, Value::Int32(3)]),
            ),
        ];
        for (t, text, want) in cases {
            assert_eq!(M.value(&t, text).unwrap(), want, "{t:?} {text}");
            M.schema(&t).optional().validate_value(&want).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        }
        assert!(M.value(&PgType::Int4, "x").is_err());
    }

    #[test]
    fn schemas_carry_debezium_names() {
        let mood = PgType::resolve(99999, -1, &TypeInfo { enum_labels: Some(vec!["sad".into(), "ok".into()]), element_oid: None });
        let s = M.schema(&mood);
        assert_eq!((s.name.as_deref(), s.parameters.get("allowed").map(String::as_str)), (Some("io.debezium.data.Enum"), Some("sad,ok")));
        let d = M.schema(&PgType::resolve(1700, (10 << 16) + 2 + 4, &TypeInfo::default()));
        assert_eq!(d.parameters.get("scale").map(String::as_str), Some("2"));
        assert_eq!(d.parameters.get("connect.decimal.precision").map(String::as_str), Some("10"));
        assert_eq!(M.schema(&PgType::Uuid).name.as_deref(), Some("io.debezium.data.Uuid"));
        assert_eq!(M.schema(&PgType::Json).name.as_deref(), Some("io.debezium.data.Json"));
        assert_eq!(M.schema(&PgType::Timestamp(6)).name.as_deref(), Some("io.debezium.time.MicroTimestamp"));
        let c = TypeMapping { decimal: DecimalMode::String, time: TimePrecisionMode::Connect };
        assert_eq!(c.schema(&PgType::Timestamp(6)).name.as_deref(), Some(logical::TIMESTAMP));
        assert_eq!(c.value(&PgType::Timestamp(6), "1970-01-01 00:00:01.999999").unwrap(), Value::Int64(1999));
    }

    #[test]
    fn parses_array_literals() {
        assert_eq!(parse_array("{}"), Some(vec![]));
        assert_eq!(
            parse_array(r#"{a,"b c","q\"x",NULL,"NULL"}"#),
            Some(vec![Some("a".into()), Some("b c".into()), Some("q\"x".into()), None, Some("NULL".into())])
        );
        assert_eq!(parse_array("{{1,2},{3,4}}"), None);
    }
}

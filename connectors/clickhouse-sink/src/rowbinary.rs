//! RowBinary encoding of one Connect [`Value`] into one ClickHouse column type.
//!
//! The column type comes from `DESCRIBE TABLE` (parsed by `clickhouse-types`); the Connect
//! schema, when the record has one, tells logical types apart (Decimal scale, Date,
//! Timestamp, Debezium's `MicroTimestamp`/`NanoTimestamp`). Schemaless values (JSON without
//! envelope) are converted by their shape: numbers, ISO-8601 strings for dates and times,
//! decimal strings, UUID strings. Wire format (ClickHouse `RowBinary`): little-endian fixed
//! width numbers, LEB128-length-prefixed strings and arrays, a null byte before `Nullable`
//! values, `Date` as days (UInt16), `DateTime` as seconds (UInt32), `DateTime64(p)` as 10^-p
//! ticks (Int64), `Decimal` as the unscaled integer of its width, `UUID` as two little-endian
//! UInt64 halves (high half first). `LowCardinality(T)` is written as `T`.
//!
//! Limits: Int256/UInt256/Decimal256, Variant, Dynamic, JSON, geo and aggregate-state columns
//! are refused with a clear error (a record for such a table goes to the DLQ).

use clickhouse_types::DataTypeNode;
use clickhouse_types::data_types::{DateTimePrecision, DecimalType, EnumType};
pub use clickhouse_types::put_leb128;
use sluice_sdk::data::logical;
use sluice_sdk::{Schema, Value};

/// Why a value cannot be written to a column.
pub type EncodeResult = Result<(), String>;

pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_leb128(&mut *out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Whether `ty` takes a RowBinary null marker.
pub fn is_nullable(ty: &DataTypeNode) -> bool {
    match ty {
        DataTypeNode::Nullable(_) => true,
        DataTypeNode::LowCardinality(inner) => is_nullable(inner),
        _ => false,
    }
}

/// Encodes `value` (with its Connect schema, if any) as a `ty` column value.
pub fn encode(value: &Value, schema: Option<&Schema>, ty: &DataTypeNode, out: &mut Vec<u8>) -> EncodeResult {
    use DataTypeNode as T;
    match ty {
        T::Nullable(inner) => {
            if value.is_null() {
                out.push(1);
                Ok(())
            } else {
                out.push(0);
                encode(value, schema, inner, out)
            }
        }
        T::LowCardinality(inner) | T::SimpleAggregateFunction(_, inner) => encode(value, schema, inner, out),
        _ if value.is_null() => match schema.and_then(|s| s.default_value.as_ref()) {
            Some(default) => encode(default, schema, ty, out),
            None => Err(format!("null value for the non-Nullable column type {ty}")),
        },
        T::Bool | T::UInt8 => int_in(value, 0, u8::MAX as i128).map(|v| out.push(v as u8)),
        T::UInt16 => int_in(value, 0, u16::MAX as i128).map(|v| out.extend_from_slice(&(v as u16).to_le_bytes())),
        T::UInt32 => int_in(value, 0, u32::MAX as i128).map(|v| out.extend_from_slice(&(v as u32).to_le_bytes())),
        T::UInt64 => int_in(value, 0, u64::MAX as i128).map(|v| out.extend_from_slice(&(v as u64).to_le_bytes())),
        T::UInt128 => int_in(value, 0, i128::MAX).map(|v| out.extend_from_slice(&(v as u128).to_le_bytes())),
        T::Int8 => int_in(value, i8::MIN as i128, i8::MAX as i128).map(|v| out.push(v as i8 as u8)),
        T::Int16 => int_in(value, i16::MIN as i128, i16::MAX as i128).map(|v| out.extend_from_slice(&(v as i16).to_le_bytes())),
        T::Int32 => int_in(value, i32::MIN as i128, i32::MAX as i128).map(|v| out.extend_from_slice(&(v as i32).to_le_bytes())),
        T::Int64 => int_in(value, i64::MIN as i128, i64::MAX as i128).map(|v| out.extend_from_slice(&(v as i64).to_le_bytes())),
        T::Int128 => int_in(value, i128::MIN, i128::MAX).map(|v| out.extend_from_slice(&v.to_le_bytes())),
        T::Float32 => float(value).map(|f| out.extend_from_slice(&(f as f32).to_le_bytes())),
        T::Float64 => float(value).map(|f| out.extend_from_slice(&f.to_le_bytes())),
        T::String => {
            match value {
                Value::String(s) => put_str(out, s.as_bytes()),
                Value::Bytes(b) => put_str(out, b),
                other => put_str(out, text(other, schema).as_bytes()),
            }
            Ok(())
        }
        T::FixedString(n) => {
            let bytes: Vec<u8> = match value {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Bytes(b) => b.clone(),
                other => text(other, schema).into_bytes(),
            };
            if bytes.len() > *n {
                return Err(format!("{} bytes do not fit FixedString({n})", bytes.len()));
            }
            out.extend_from_slice(&bytes);
            out.resize(out.len() + n - bytes.len(), 0);
            Ok(())
        }
        T::UUID => {
            let s = value.as_str().ok_or_else(|| format!("a {} value is not a UUID string", value.type_name()))?;
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            let v = (hex.len() == 32).then(|| u128::from_str_radix(&hex, 16).ok()).flatten().ok_or_else(|| format!("'{s}' is not a UUID"))?;
            out.extend_from_slice(&((v >> 64) as u64).to_le_bytes());
            out.extend_from_slice(&(v as u64).to_le_bytes());
            Ok(())
        }
        T::Date => {
            let days = epoch_days(value, schema)?;
            let d = u16::try_from(days).map_err(|_| format!("date {days} days from the epoch is out of the Date range"))?;
            out.extend_from_slice(&d.to_le_bytes());
            Ok(())
        }
        T::Date32 => {
            let days = epoch_days(value, schema)?;
            let d = i32::try_from(days).map_err(|_| format!("date {days} is out of the Date32 range"))?;
            out.extend_from_slice(&d.to_le_bytes());
            Ok(())
        }
        T::DateTime(_) => {
            let secs = epoch_ticks(value, schema, 0)?;
            let s = u32::try_from(secs).map_err(|_| format!("timestamp {secs} s is out of the DateTime range"))?;
            out.extend_from_slice(&s.to_le_bytes());
            Ok(())
        }
        T::DateTime64(p, _) => {
            let ticks = epoch_ticks(value, schema, precision_digits(p))?;
            out.extend_from_slice(&(ticks as i64).to_le_bytes());
            Ok(())
        }
        T::Decimal(_, scale, size) => {
            let unscaled = decimal(value, schema, *scale as u32)?;
            match size {
                DecimalType::Decimal32 => out.extend_from_slice(&i32::try_from(unscaled).map_err(|_| overflow(ty))?.to_le_bytes()),
                DecimalType::Decimal64 => out.extend_from_slice(&i64::try_from(unscaled).map_err(|_| overflow(ty))?.to_le_bytes()),
                DecimalType::Decimal128 => out.extend_from_slice(&unscaled.to_le_bytes()),
                DecimalType::Decimal256 => return Err("Decimal256 columns are not supported".into()),
            }
            Ok(())
        }
        T::Enum(kind, values) => {
            let code: i128 = match value {
                Value::String(s) => {
                    values.iter().find(|(_, name)| *name == s).map(|(k, _)| *k as i128).ok_or_else(|| format!("'{s}' is not a value of {ty}"))?
                }
                other => int_in(other, i16::MIN as i128, i16::MAX as i128)?,
            };
            match kind {
                EnumType::Enum8 => out.push(i8::try_from(code).map_err(|_| overflow(ty))? as u8),
                EnumType::Enum16 => out.extend_from_slice(&(code as i16).to_le_bytes()),
            }
            Ok(())
        }
        T::IPv4 => {
            let s = value.as_str().ok_or("IPv4 columns take strings")?;
            let ip: std::net::Ipv4Addr = s.parse().map_err(|_| format!("'{s}' is not an IPv4 address"))?;
            out.extend_from_slice(&u32::from(ip).to_le_bytes());
            Ok(())
        }
        T::Array(item) => {
            let items = match value {
                Value::Array(items) => items,
                other => return Err(format!("a {} value does not fit an Array column", other.type_name())),
            };
            put_leb128(&mut *out, items.len() as u64);
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            for v in items {
                encode(v, item_schema, item, out)?;
            }
            Ok(())
        }
        T::Map([k, v]) => {
            let entries: Vec<(Value, &Value)> = match value {
                Value::Map(entries) => entries.iter().map(|(k, v)| (k.clone(), v)).collect(),
                Value::Struct(s) => s.fields.iter().map(|(n, v)| (Value::String(n.clone()), v)).collect(),
                other => return Err(format!("a {} value does not fit a Map column", other.type_name())),
            };
            put_leb128(&mut *out, entries.len() as u64);
            let (ks, vs) = (schema.and_then(|s| s.key_schema.as_deref()), schema.and_then(|s| s.value_schema.as_deref()));
            for (key, val) in entries {
                encode(&key, ks, k, out)?;
                encode(val, vs, v, out)?;
            }
            Ok(())
        }
        T::Tuple(types) => {
            let Value::Struct(s) = value else { return Err(format!("a {} value does not fit a Tuple column", value.type_name())) };
            if s.fields.len() != types.len() {
                return Err(format!("a struct of {} fields does not fit {ty}", s.fields.len()));
            }
            for (i, ((name, v), t)) in s.fields.iter().zip(types).enumerate() {
                let fs = schema.and_then(|sc| sc.field_named(name).or(sc.fields.get(i))).map(|f| &*f.schema);
                encode(v, fs, t, out)?;
            }
            Ok(())
        }
        other => Err(format!("column type {other} is not supported by the sink")),
    }
}

/// The value a column gets when the record lacks it and the column has a DEFAULT expression:
/// null for Nullable, else the type's zero (RowBinary has no "use the default" marker before
/// ClickHouse 23.x's RowBinaryWithDefaults).
pub fn encode_zero(ty: &DataTypeNode, out: &mut Vec<u8>) {
    use DataTypeNode as T;
    let width = match ty {
        T::Nullable(_) => return out.push(1),
        T::LowCardinality(inner) | T::SimpleAggregateFunction(_, inner) => return encode_zero(inner, out),
        T::Tuple(items) => return items.iter().for_each(|t| encode_zero(t, out)),
        T::Enum(kind, values) => {
            let first = values.keys().min().copied().unwrap_or(0);
            return match kind {
                EnumType::Enum8 => out.push(first as i8 as u8),
                EnumType::Enum16 => out.extend_from_slice(&first.to_le_bytes()),
            };
        }
        T::Bool | T::UInt8 | T::Int8 | T::String | T::Array(_) | T::Map(_) => 1,
        T::UInt16 | T::Int16 | T::Date => 2,
        T::UInt32 | T::Int32 | T::Float32 | T::DateTime(_) | T::Date32 | T::IPv4 => 4,
        T::UInt64 | T::Int64 | T::Float64 | T::DateTime64(..) => 8,
        T::UInt128 | T::Int128 | T::UUID => 16,
        T::FixedString(n) => *n,
        T::Decimal(_, _, DecimalType::Decimal32) => 4,
        T::Decimal(_, _, DecimalType::Decimal64) => 8,
        T::Decimal(_, _, _) => 16,
        _ => 0,
    };
    out.resize(out.len() + width, 0);
}

fn overflow(ty: &DataTypeNode) -> String {
    format!("value out of range for {ty}")
}

fn precision_digits(p: &DateTimePrecision) -> u32 {
    p.to_string().parse().unwrap_or(3)
}

/// An integer from any numeric (or numeric string / boolean) value, checked against a range.
fn int_in(value: &Value, min: i128, max: i128) -> Result<i128, String> {
    let v: i128 = match value {
        Value::Int8(v) => (*v).into(),
        Value::Int16(v) => (*v).into(),
        Value::Int32(v) => (*v).into(),
        Value::Int64(v) => (*v).into(),
        Value::Boolean(b) => i128::from(*b),
        Value::Float32(f) if f.fract() == 0.0 => *f as i128,
        Value::Float64(f) if f.fract() == 0.0 => *f as i128,
        Value::String(s) => s.trim().parse().map_err(|_| format!("'{s}' is not an integer"))?,
        other => return Err(format!("a {} value is not an integer", other.type_name())),
    };
    if v < min || v > max {
        return Err(format!("{v} is out of range [{min}, {max}]"));
    }
    Ok(v)
}

fn float(value: &Value) -> Result<f64, String> {
    Ok(match value {
        Value::Float32(f) => (*f).into(),
        Value::Float64(f) => *f,
        Value::String(s) => s.trim().parse().map_err(|_| format!("'{s}' is not a number"))?,
        other => other.as_i64().ok_or_else(|| format!("a {} value is not a number", other.type_name()))? as f64,
    })
}

/// Text for a String column: JSON for nested values, plain text for scalars, decimals rendered.
fn text(value: &Value, schema: Option<&Schema>) -> String {
    if let (Value::Bytes(b), Some(scale)) = (value, schema.and_then(logical::decimal_scale))
        && let Some(u) = logical::decode_unscaled(b)
    {
        return logical::decimal_to_string(u, scale);
    }
    match value {
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => to_json(value).to_string(),
        other => other.to_string(),
    }
}

/// Connect value → JSON (structs and string-keyed maps become objects).
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Int8(v) => (*v).into(),
        Value::Int16(v) => (*v).into(),
        Value::Int32(v) => (*v).into(),
        Value::Int64(v) => (*v).into(),
        Value::Float32(v) => (*v).into(),
        Value::Float64(v) => (*v).into(),
        Value::Boolean(v) => (*v).into(),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.as_str().map(str::to_string).unwrap_or_else(|| k.to_string()), to_json(v))).collect()),
        Value::Struct(s) => J::Object(s.fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// Days since 1970-01-01 from a Connect Date (Int32 days), a timestamp, or a `YYYY-MM-DD...` string.
fn epoch_days(value: &Value, schema: Option<&Schema>) -> Result<i64, String> {
    let name = schema.and_then(|s| s.name.as_deref()).unwrap_or("");
    match value {
        Value::Int32(d) if name != logical::TIME => Ok((*d).into()),
        Value::Int64(_) => Ok(epoch_ticks(value, schema, 0)?.div_euclid(86_400) as i64),
        Value::String(s) => parse_datetime(s).map(|(days, _)| days).ok_or_else(|| format!("'{s}' is not a date")),
        other => Err(format!("a {} value is not a date", other.type_name())),
    }
}

/// Ticks of 10^-digits s since the epoch, from a Timestamp (ms), Debezium Micro/NanoTimestamp,
/// a Date (days) or an ISO-8601 string (`2026-01-02T03:04:05.678Z`, `2026-01-02 03:04:05`).
fn epoch_ticks(value: &Value, schema: Option<&Schema>, digits: u32) -> Result<i128, String> {
    let name = schema.and_then(|s| s.name.as_deref()).unwrap_or("");
    let (amount, unit_digits): (i128, u32) = match value {
        Value::Int64(v) if name.ends_with("NanoTimestamp") => ((*v).into(), 9),
        Value::Int64(v) if name.ends_with("MicroTimestamp") => ((*v).into(), 6),
        Value::Int64(v) => ((*v).into(), 3),
        Value::Int32(d) if name == logical::DATE || name == "io.debezium.time.Date" => (i128::from(*d) * 86_400, 0),
        Value::String(s) => {
            let (days, nanos) = parse_datetime(s).ok_or_else(|| format!("'{s}' is not a timestamp"))?;
            (i128::from(days) * 86_400_000_000_000 + i128::from(nanos), 9)
        }
        other => return Err(format!("a {} value is not a timestamp", other.type_name())),
    };
    Ok(rescale_floor(amount, unit_digits, digits))
}

fn rescale_floor(v: i128, from: u32, to: u32) -> i128 {
    if to >= from { v * 10i128.pow(to - from) } else { v.div_euclid(10i128.pow(from - to)) }
}

/// The unscaled value of a decimal with `scale`, from a Connect Decimal, a number or a string.
fn decimal(value: &Value, schema: Option<&Schema>, scale: u32) -> Result<i128, String> {
    match value {
        Value::Bytes(b) => {
            let from = schema.and_then(logical::decimal_scale).ok_or("bytes without a Decimal schema do not fit a Decimal column")?;
            let u = logical::decode_unscaled(b).ok_or("decimal bytes longer than 16")?;
            let from = u32::try_from(from).map_err(|_| "negative decimal scales are not supported")?;
            if from <= scale { Ok(u * 10i128.pow(scale - from)) } else { Ok(u / 10i128.pow(from - scale)) }
        }
        Value::Float32(_) | Value::Float64(_) => Ok((float(value)? * 10f64.powi(scale as i32)).round() as i128),
        Value::String(s) => parse_decimal(s, scale).ok_or_else(|| format!("'{s}' is not a decimal")),
        other => other.as_i64().map(|i| i128::from(i) * 10i128.pow(scale)).ok_or_else(|| format!("a {} value is not a decimal", other.type_name())),
    }
}

fn parse_decimal(s: &str, scale: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(scale as usize).collect();
    while digits.len() < scale as usize {
        digits.push('0');
    }
    let v: i128 = format!("{int}{digits}")
        .trim_start_matches('0')
        .parse()
        .or_else(|_| if int.chars().chain(digits.chars()).all(|c| c == '0') { Ok(0) } else { Err(()) })
        .ok()?;
    Some(if neg { -v } else { v })
}

/// Days since the epoch of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD[(T| )HH:MM:SS[.frac]][Z|±HH:MM]` → (days since the epoch, nanoseconds into the day, UTC).
fn parse_datetime(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let num = |a: usize, b: usize| s.get(a..b).and_then(|t| t.parse::<i64>().ok());
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if s.get(4..5) != Some("-") || s.get(7..8) != Some("-") || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    if s.len() == 10 {
        return Some((days, 0));
    }
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = s.get(19..)?;
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.chars().take_while(char::is_ascii_digit).count();
        let digits: String = frac[..n].chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().ok()?;
        rest = &frac[n..];
    }
    let offset_secs = match rest {
        "" | "Z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let (oh, om) = (tz[1..3].parse::<i64>().ok()?, tz[4..6].parse::<i64>().ok()?);
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let day_nanos = ((h * 3600 + mi * 60 + sec - offset_secs) * 1_000_000_000) + nanos;
    Some((days + day_nanos.div_euclid(86_400_000_000_000), day_nanos.rem_euclid(86_400_000_000_000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: Value, schema: Option<&Schema>, ty: &str) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        encode(&v, schema, &DataTypeNode::new(ty).map_err(|e| e.to_string())?, &mut out)?;
        Ok(out)
    }

    #[test]
    fn scalars() {
        assert_eq!(enc(Value::Int32(-2), None, "Int32").unwrap(), (-2i32).to_le_bytes());
        assert_eq!(enc(Value::Int64(7), None, "UInt16").unwrap(), 7u16.to_le_bytes());
        assert!(enc(Value::Int64(-1), None, "UInt8").is_err());
        assert_eq!(enc("x".into(), None, "Nullable(String)").unwrap(), vec![0, 1, b'x']);
        assert_eq!(enc(Value::Null, None, "Nullable(String)").unwrap(), vec![1]);
        assert!(enc(Value::Null, None, "String").is_err());
        assert_eq!(enc("ab".into(), None, "FixedString(3)").unwrap(), vec![b'a', b'b', 0]);
        assert_eq!(enc(Value::Boolean(true), None, "UInt8").unwrap(), vec![1]);
        assert_eq!(enc("b".into(), None, "Enum8('a' = 1, 'b' = 2)").unwrap(), vec![2]);
    }

    #[test]
    fn dates_and_times() {
        let ts = logical::timestamp();
        // 2026-01-01T00:00:01.5Z
        let ms = 1_767_225_601_500i64;
        assert_eq!(enc(Value::Int64(ms), Some(&ts), "DateTime").unwrap(), 1_767_225_601u32.to_le_bytes());
        assert_eq!(enc(Value::Int64(ms), Some(&ts), "DateTime64(6)").unwrap(), (ms * 1000).to_le_bytes());
        assert_eq!(enc("2026-01-01T00:00:01.5Z".into(), None, "DateTime64(3)").unwrap(), ms.to_le_bytes());
        assert_eq!(enc("2026-01-01 02:00:01+02:00".into(), None, "DateTime").unwrap(), 1_767_225_601u32.to_le_bytes());
        assert_eq!(enc(Value::Int32(20454), Some(&logical::date()), "Date").unwrap(), 20454u16.to_le_bytes());
        assert_eq!(enc("2026-01-01".into(), None, "Date").unwrap(), 20454u16.to_le_bytes());
        let micro = Schema::int64().name("io.debezium.time.MicroTimestamp");
        assert_eq!(enc(Value::Int64(ms * 1000), Some(&micro), "DateTime").unwrap(), 1_767_225_601u32.to_le_bytes());
    }

    #[test]
    fn decimals_uuid_arrays() {
        let d2 = logical::decimal(2);
        let bytes = Value::Bytes(logical::encode_unscaled(12345));
        assert_eq!(enc(bytes, Some(&d2), "Decimal(18, 4)").unwrap(), 1_234_500i64.to_le_bytes());
        assert_eq!(enc("-1.5".into(), None, "Decimal(9, 2)").unwrap(), (-150i32).to_le_bytes());
        assert_eq!(enc(Value::Float64(2.25), None, "Decimal(38, 1)").unwrap(), 23i128.to_le_bytes());
        let u = enc("00112233-4455-6677-8899-aabbccddeeff".into(), None, "UUID").unwrap();
        assert_eq!(u[..8], 0x0011223344556677u64.to_le_bytes());
        assert_eq!(u[8..], 0x8899aabbccddeeffu64.to_le_bytes());
        let arr = enc(Value::Array(vec![Value::Int64(1), Value::Null]), None, "Array(Nullable(Int16))").unwrap();
        assert_eq!(arr, vec![2, 0, 1, 0, 1]);
        assert_eq!(enc(Value::Map(vec![("k".into(), Value::Int64(1))]), None, "String").unwrap(), [&[7u8][..], br#"{"k":1}"#].concat());
    }
}

//! Partitioners (Confluent's `io.confluent.connect.storage.partitioner.*`): the directory an
//! object goes to, below `topics.dir/TOPIC/`. `DefaultPartitioner` → `partition=N`;
//! `FieldPartitioner` → `f1=v1/f2=v2` from `partition.field.name`; `TimeBasedPartitioner`
//! (and its `Hourly`/`Daily` presets) → the record's timestamp, floored to
//! `partition.duration.ms` in `timezone`, formatted with the Joda-style `path.format`.
//!
//! Timestamps come from `timestamp.extractor`: `Record` (Kafka timestamp), `RecordField`
//! (`timestamp.field`: an Int64/Timestamp in ms or an ISO-8601 string) or `Wallclock`. Only the
//! first two give the same path for the same record in every run.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use sluice_sdk::{ConnectError, ConnectResult, SinkRecord, Value};

use crate::config::{PARTITION_DURATION, PARTITION_FIELD, PARTITIONER_CLASS, PATH_FORMAT, TIMESTAMP_EXTRACTOR};

const HOURLY_FORMAT: &str = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";
const DAILY_FORMAT: &str = "'year'=YYYY/'month'=MM/'day'=dd";

/// What `partitioner.class` names.
#[derive(Debug, Clone)]
pub enum PartitionerKind {
    Default,
    Field {
        fields: Vec<String>,
    },
    /// `path_format` is already translated to chrono's strftime syntax.
    TimeBased {
        path_format: String,
        duration_ms: i64,
        timezone: Tz,
    },
}

/// The last segment of a Java class name (`a.b.C$D` → `C$D`).
fn simple_name(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

impl PartitionerKind {
    pub fn from_config(class: &str, fields: &[String], path_format: &str, duration_ms: i64, timezone: Tz) -> ConnectResult<PartitionerKind> {
        let time_based = |format: &str, duration: i64| -> ConnectResult<PartitionerKind> {
            if format.trim().is_empty() {
                return Err(ConnectError::config(PATH_FORMAT, format!("{PATH_FORMAT} must be set for TimeBasedPartitioner")));
            }
            if duration <= 0 {
                return Err(ConnectError::config(PARTITION_DURATION, format!("{PARTITION_DURATION} must be positive for TimeBasedPartitioner")));
            }
            Ok(PartitionerKind::TimeBased { path_format: joda_to_strftime(format)?, duration_ms: duration, timezone })
        };
        match simple_name(class) {
            "DefaultPartitioner" | "Default" => Ok(PartitionerKind::Default),
            "FieldPartitioner" | "Field" => {
                if fields.is_empty() {
                    return Err(ConnectError::config(PARTITION_FIELD, format!("{PARTITION_FIELD} must name at least one field for FieldPartitioner")));
                }
                Ok(PartitionerKind::Field { fields: fields.to_vec() })
            }
            "TimeBasedPartitioner" | "TimeBased" => time_based(path_format, duration_ms),
            "HourlyPartitioner" | "Hourly" => time_based(HOURLY_FORMAT, 3_600_000),
            "DailyPartitioner" | "Daily" => time_based(DAILY_FORMAT, 86_400_000),
            other => Err(ConnectError::config(PARTITIONER_CLASS, format!("unknown partitioner {other}"))),
        }
    }

    /// The encoded partition (the directories between `TOPIC/` and the file name).
    pub fn encode(&self, record: &SinkRecord, extractor: &TimestampExtractor, delim: &str) -> ConnectResult<String> {
        match self {
            PartitionerKind::Default => Ok(format!("partition={}", record.kafka_partition)),
            PartitionerKind::Field { fields } => {
                let mut parts = Vec::with_capacity(fields.len());
                for f in fields {
                    let v = field_value(&record.value, f)
                        .ok_or_else(|| ConnectError::data(format!("record at offset {} has no field '{f}' to partition by", record.kafka_offset)))?;
                    let text = match v {
                        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) | Value::Boolean(_) | Value::String(_) => v.to_string(),
                        other => {
                            return Err(ConnectError::data(format!(
                                "field '{f}' is a {}; FieldPartitioner takes integers, booleans and strings",
                                other.type_name()
                            )));
                        }
                    };
                    parts.push(format!("{f}={text}"));
                }
                Ok(parts.join(delim))
            }
            PartitionerKind::TimeBased { path_format, duration_ms, timezone } => {
                let ts = extractor.extract(record)?;
                let floored = floor_in_zone(ts, *duration_ms, timezone);
                let t: DateTime<Tz> =
                    timezone.timestamp_millis_opt(floored).single().ok_or_else(|| ConnectError::data(format!("timestamp {ts} out of range")))?;
                Ok(t.format(path_format).to_string())
            }
        }
    }
}

/// Confluent's `TimeBasedPartitioner.getPartition`: floor in local time, back to UTC millis.
fn floor_in_zone(ts: i64, duration: i64, tz: &Tz) -> i64 {
    let offset_ms = match tz.timestamp_millis_opt(ts).single() {
        Some(t) => t.offset().fix().local_minus_utc() as i64 * 1000,
        None => 0,
    };
    let local = ts + offset_ms;
    local.div_euclid(duration) * duration - offset_ms
}

/// Translates a Joda-Time pattern (`'year'=YYYY/'month'=MM`) into chrono's strftime syntax.
pub fn joda_to_strftime(pattern: &str) -> ConnectResult<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a literal quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) != Some(&'\'') {
                        break;
                    }
                    i += 1;
                }
                if chars[i] == '%' {
                    out.push('%');
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            let spec = match (c, n) {
                ('Y' | 'y' | 'x', 2) => "%y",
                ('Y' | 'y' | 'x', _) => "%Y",
                ('M', 1 | 2) => "%m",
                ('M', 3) => "%b",
                ('M', _) => "%B",
                ('d', _) => "%d",
                ('D', _) => "%j",
                ('H', _) => "%H",
                ('k', _) => "%H",
                ('h', _) => "%I",
                ('m', _) => "%M",
                ('s', _) => "%S",
                ('S', _) => "%3f",
                ('a', _) => "%p",
                ('E', 1..=3) => "%a",
                ('E', _) => "%A",
                ('w', _) => "%V",
                ('Z', _) => "%z",
                _ => return Err(ConnectError::config(PATH_FORMAT, format!("unsupported pattern letter '{c}' in {PATH_FORMAT} {pattern}"))),
            };
            out.push_str(spec);
            i += n;
            continue;
        }
        if c == '%' {
            out.push('%');
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

/// Looks up a (dotted) field in a struct or a string-keyed map.
pub fn field_value<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = value;
    for name in path.split('.') {
        cur = match cur {
            Value::Struct(s) => s.get(name)?,
            Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(name)).map(|(_, v)| v)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// `timestamp.extractor`.
#[derive(Debug, Clone)]
pub enum TimestampExtractor {
    Wallclock,
    Record,
    RecordField(String),
}

impl TimestampExtractor {
    pub fn from_config(name: &str, field: &str) -> ConnectResult<TimestampExtractor> {
        let simple = simple_name(name);
        let simple = simple.rsplit('$').next().unwrap_or(simple);
        match simple.trim_end_matches("TimestampExtractor") {
            "Wallclock" => Ok(TimestampExtractor::Wallclock),
            "Record" => Ok(TimestampExtractor::Record),
            "RecordField" => Ok(TimestampExtractor::RecordField(field.to_string())),
            _ => Err(ConnectError::config(TIMESTAMP_EXTRACTOR, format!("unknown timestamp extractor {name}: use Wallclock, Record or RecordField"))),
        }
    }

    /// Whether the same record always yields the same timestamp.
    pub fn deterministic(&self) -> bool {
        !matches!(self, TimestampExtractor::Wallclock)
    }

    /// The record's timestamp in ms since the epoch.
    pub fn extract(&self, record: &SinkRecord) -> ConnectResult<i64> {
        match self {
            TimestampExtractor::Wallclock => Ok(Utc::now().timestamp_millis()),
            TimestampExtractor::Record => {
                record.timestamp.ok_or_else(|| ConnectError::data(format!("record at offset {} has no timestamp", record.kafka_offset)))
            }
            TimestampExtractor::RecordField(f) => match field_value(&record.value, f) {
                Some(Value::Int64(ms)) => Ok(*ms),
                Some(Value::Int32(v)) => Ok(*v as i64),
                Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                    .map(|t| t.timestamp_millis())
                    .map_err(|e| ConnectError::data(format!("field '{f}' = '{s}' is not an ISO-8601 timestamp: {e}"))),
                Some(other) => Err(ConnectError::data(format!("timestamp field '{f}' is a {}", other.type_name()))),
                None => Err(ConnectError::data(format!("record at offset {} has no timestamp field '{f}'", record.kafka_offset))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::{Headers, Struct, TimestampType};

    fn rec(value: Value, ts: i64) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 3,
            kafka_offset: 7,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value,
            timestamp: Some(ts),
            timestamp_type: TimestampType::CreateTime,
            headers: Headers::new(),
        }
    }

    #[test]
    fn joda_patterns() {
        for (joda, strf) in [
            ("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", "year=%Y/month=%m/day=%d/hour=%H"),
            ("YYYY-MM-dd", "%Y-%m-%d"),
            ("'dt'=yyyyMMdd'T'HHmm", "dt=%Y%m%dT%H%M"),
            ("'it''s'", "it's"),
        ] {
            assert_eq!(joda_to_strftime(joda).unwrap(), strf, "{joda}");
        }
        assert!(joda_to_strftime("QQ").is_err());
    }

    #[test]
    fn partitions() {
        let r = rec(Value::Struct(Struct::new().put("country", "de").put("n", 5i64)), 1_767_229_384_000); // 2026-01-01T01:03:04Z
        let x = TimestampExtractor::Record;
        assert_eq!(PartitionerKind::Default.encode(&r, &x, "/").unwrap(), "partition=3");
        let f = PartitionerKind::Field { fields: vec!["country".into(), "n".into()] };
        assert_eq!(f.encode(&r, &x, "/").unwrap(), "country=de/n=5");
        let hourly = PartitionerKind::from_config("io.confluent.connect.storage.partitioner.HourlyPartitioner", &[], "", -1, chrono_tz::UTC).unwrap();
        assert_eq!(hourly.encode(&r, &x, "/").unwrap(), "year=2026/month=01/day=01/hour=01");
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let daily = PartitionerKind::from_config("TimeBasedPartitioner", &[], "'dt'=YYYY-MM-dd", 86_400_000, berlin).unwrap();
        // 2025-12-31T23:30Z is already 2026-01-01 in Berlin.
        assert_eq!(daily.encode(&rec(Value::Null, 1_767_223_800_000), &x, "/").unwrap(), "dt=2026-01-01");
        assert!(f.encode(&rec(Value::Null, 0), &x, "/").is_err());
    }

    #[test]
    fn extractors() {
        let r = rec(Value::Struct(Struct::new().put("ts", 42i64).put("iso", "2026-01-01T00:00:01Z")), 9);
        assert_eq!(TimestampExtractor::from_config("Record", "").unwrap().extract(&r).unwrap(), 9);
        assert_eq!(TimestampExtractor::RecordField("ts".into()).extract(&r).unwrap(), 42);
        assert_eq!(TimestampExtractor::RecordField("iso".into()).extract(&r).unwrap(), 1_767_225_601_000);
        let cls = "io.confluent.connect.storage.partitioner.TimeBasedPartitioner$RecordFieldTimestampExtractor";
        assert!(matches!(TimestampExtractor::from_config(cls, "ts").unwrap(), TimestampExtractor::RecordField(_)));
    }
}

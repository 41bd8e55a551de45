//! `RegexRouter` (renames topics that fully match `regex` to `replacement`, with `$1`-style
//! group references as Java's `Matcher.replaceFirst`) and `TimestampRouter` (topic from
//! `topic.format` with `${topic}` and `${timestamp}`, the latter formatted with
//! `timestamp.format`, a `SimpleDateFormat` pattern, in UTC).

use regex::Regex;
use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Validator, config_keys};

use crate::Smt;
use crate::time_format;

config_keys! {
    /// `RegexRouter`'s keys.
    fn regex_router_def();
    REGEX: String = "regex" => importance(Importance::High)
        .validator(Validator::Custom(std::sync::Arc::new(|v| match v {
            sluice_sdk::ConfigValue::String(s) => Regex::new(s).map(|_| ()).map_err(|e| format!("Invalid regex: {e}")),
            _ => Ok(()),
        })))
        .doc("Regular expression to use for matching.");
    REPLACEMENT: String = "replacement" => importance(Importance::High).doc("Replacement string.");
}

#[derive(Default)]
pub struct RegexRouter {
    regex: Option<Regex>,
    replacement: String,
}

/// Java's replacement syntax (`$1`, `${name}`, `\$`) in the `regex` crate's (`${1}`, `$$`).
fn java_replacement(java: &str) -> String {
    let mut out = String::new();
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                out.push_str("${");
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    out.push(d);
                    chars.next();
                }
                out.push('}');
            }
            other => out.push(other),
        }
    }
    out
}

impl Smt for RegexRouter {
    fn config_def(&self) -> ConfigDef {
        regex_router_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        let regex = c.value(REGEX)?;
        self.regex = Some(Regex::new(&format!("^(?:{regex})$")).map_err(|e| ConnectError::config(REGEX, format!("Invalid regex: {e}")))?);
        self.replacement = java_replacement(&c.value(REPLACEMENT)?);
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        if let Some(re) = &self.regex
            && re.is_match(record.topic())
        {
            let topic = re.replace(record.topic(), self.replacement.as_str()).into_owned();
            record.set_topic(topic);
        }
        Ok(Some(record))
    }
}

/// `TimestampRouter`'s defaults, shared by its keys and [`TimestampRouter::default`].
const DEFAULT_TOPIC_FORMAT: &str = "${topic}-${timestamp}";
const DEFAULT_TIMESTAMP_FORMAT: &str = "yyyyMMdd";

config_keys! {
    /// `TimestampRouter`'s keys.
    fn timestamp_router_def();
    TOPIC_FORMAT: String = "topic.format" => default(DEFAULT_TOPIC_FORMAT)
        .importance(Importance::High)
        .doc("Format string which can contain ${topic} and ${timestamp} as placeholders for the topic and timestamp, respectively.");
    TIMESTAMP_FORMAT: String = "timestamp.format" => default(DEFAULT_TIMESTAMP_FORMAT)
        .importance(Importance::High)
        .doc("Format string for the timestamp that is compatible with java.text.SimpleDateFormat.");
}

pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: String,
}

impl Default for TimestampRouter {
    fn default() -> TimestampRouter {
        TimestampRouter { topic_format: DEFAULT_TOPIC_FORMAT.into(), timestamp_format: DEFAULT_TIMESTAMP_FORMAT.into() }
    }
}

impl Smt for TimestampRouter {
    fn config_def(&self) -> ConfigDef {
        timestamp_router_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.topic_format = c.value(TOPIC_FORMAT)?;
        self.timestamp_format = c.value(TIMESTAMP_FORMAT)?;
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let ts = record.timestamp().ok_or_else(|| ConnectError::data(format!("Timestamp missing on record from topic {}", record.topic())))?;
        let topic = self.topic_format.replace("${topic}", record.topic()).replace("${timestamp}", &time_format::format(ts, &self.timestamp_format));
        record.set_topic(topic);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adapter;
    use crate::util::test_support::*;
    use sluice_sdk::{SinkRecord, Transform, Value};

    fn route<T: Smt>(t: T, p: &[(&str, &str)], topic: &str) -> String {
        let mut t = Adapter(t);
        Transform::<SinkRecord>::configure(&mut t, &props(p)).unwrap();
        let mut r = sink(None, Value::Null, None, Value::Null);
        r.topic = topic.into();
        t.apply(r).unwrap().unwrap().topic
    }

    // Kafka docs (RegexRouter) and Confluent's examples.
    #[test]
    fn regex_router_doc_examples() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("(.*)-(\\d\\d?)", "$1", "foo-1", "foo"),
            ("([^.]+)\\.([^.]+)\\.([^.]+)", "$3", "dbserver1.inventory.customers", "customers"),
            ("(.*)customers_avro_(.*)", "$1customers_$2", "my-customers_avro_topic", "my-customers_topic"),
            ("(.*)", "prefix-$1-suffix", "orders", "prefix-orders-suffix"),
            ("foo", "bar", "foobar", "foobar"), // must match the whole topic
            ("(.*)", "\\$$1", "t", "$t"),
        ];
        for (regex, replacement, topic, want) in cases {
            assert_eq!(route(RegexRouter::default(), &[("regex", regex), ("replacement", replacement)], topic), *want, "{regex} {replacement}");
        }
    }

    // Kafka docs (TimestampRouter): topic.format=${topic}-${timestamp}, timestamp.format=yyyyMMdd.
    #[test]
    fn timestamp_router_doc_examples() {
        assert_eq!(route(TimestampRouter::default(), &[], "test"), "test-20170103");
        assert_eq!(
            route(TimestampRouter::default(), &[("topic.format", "foo-${topic}-${timestamp}"), ("timestamp.format", "yyyy-MM")], "test"),
            "foo-test-2017-01"
        );
        let mut t = Adapter(TimestampRouter::default());
        Transform::<SinkRecord>::configure(&mut t, &props(&[])).unwrap();
        let mut r = sink(None, Value::Null, None, Value::Null);
        r.timestamp = None;
        assert!(t.apply(r).is_err());
    }
}

//! Connect's predicates: `TopicNameMatches` (`pattern`, the whole topic must match),
//! `HasHeaderKey` (`name`) and `RecordIsTombstone` (null value). `negate` is applied by the
//! runtime's transform chain.

use regex::Regex;
use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Validator, config_keys};

use crate::Condition;

config_keys! {
    /// `TopicNameMatches`' keys.
    fn topic_name_matches_def();
    PATTERN: String = "pattern" => importance(Importance::Medium)
        .validator(Validator::Custom(std::sync::Arc::new(|v| match v {
            sluice_sdk::ConfigValue::String(s) if s.is_empty() => Err("String must be non-empty".into()),
            sluice_sdk::ConfigValue::String(s) => Regex::new(s).map(|_| ()).map_err(|e| format!("entry must be a valid regex: {e}")),
            _ => Ok(()),
        })))
        .doc("A Java regular expression for matching against the name of a record's topic.");
}

#[derive(Default)]
pub struct TopicNameMatches {
    pattern: Option<Regex>,
}

impl Condition for TopicNameMatches {
    fn config_def(&self) -> ConfigDef {
        topic_name_matches_def()
    }
    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        let p = c.value(PATTERN)?;
        self.pattern = Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| ConnectError::config(PATTERN, e.to_string()))?);
        Ok(())
    }
    fn test<R: ConnectRecord>(&self, record: &R) -> bool {
        self.pattern.as_ref().is_some_and(|p| p.is_match(record.topic()))
    }
}

config_keys! {
    /// `HasHeaderKey`'s keys.
    fn has_header_key_def();
    NAME: String = "name" => importance(Importance::Medium).validator(Validator::NonEmptyString).doc("The header name.");
}

#[derive(Default)]
pub struct HasHeaderKey {
    name: String,
}

impl Condition for HasHeaderKey {
    fn config_def(&self) -> ConfigDef {
        has_header_key_def()
    }
    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.name = c.value(NAME)?;
        Ok(())
    }
    fn test<R: ConnectRecord>(&self, record: &R) -> bool {
        record.headers().iter().any(|h| h.key == self.name)
    }
}

pub struct RecordIsTombstone;

impl Condition for RecordIsTombstone {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _c: &ParsedConfig) -> ConnectResult<()> {
        Ok(())
    }
    fn test<R: ConnectRecord>(&self, record: &R) -> bool {
        record.value().is_null()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adapter;
    use crate::util::test_support::*;
    use sluice_sdk::{Predicate, SinkRecord, Value};

    fn configured<T: Condition>(t: T, p: &[(&str, &str)]) -> Adapter<T> {
        let mut a = Adapter(t);
        Predicate::<SinkRecord>::configure(&mut a, &props(p)).unwrap();
        a
    }

    #[test]
    fn predicates_as_documented() {
        let mut r = sink(None, Value::Null, None, Value::Null);
        r.topic = "foo-1".into();
        let foo = configured(TopicNameMatches::default(), &[("pattern", "foo.*")]);
        let bar = configured(TopicNameMatches::default(), &[("pattern", "bar|foo")]);
        assert!(foo.test(&r));
        assert!(!bar.test(&r), "the whole topic must match");
        assert!(configured(RecordIsTombstone, &[]).test(&r));
        let has = configured(HasHeaderKey::default(), &[("name", "trace")]);
        assert!(!has.test(&r));
        r.headers.add_string("trace", "1");
        assert!(has.test(&r));
        let mut bad = Adapter(TopicNameMatches::default());
        assert!(Predicate::<SinkRecord>::configure(&mut bad, &props(&[("pattern", "(")])).is_err());
    }
}

//! The transformation chain of a connector (Connect's `TransformationChain`), built from its
//! config: `transforms=a,b`, `transforms.a.type=CLASS`, `transforms.a.*` (the transform's own
//! keys), `transforms.a.predicate=p`, `transforms.a.negate=true`, `predicates=p`,
//! `predicates.p.type=CLASS`, `predicates.p.*`. A stage whose predicate does not hold (or, with
//! `negate`, holds) passes the record on untouched. Config errors name the full key
//! (`transforms.a.regex`).

use std::collections::HashMap;
use std::sync::Arc;

use sluice_sdk::config::{parse_list, strip_prefix};
use sluice_sdk::{ConnectError, ConnectRecord, ConnectResult, Predicate, Props, SinkRecord, SourceRecord, Transform};

use crate::plugins::{Plugins, PredicatePlugin, TransformPlugin};

/// A record type the chain can be built for: picks the source or sink constructor.
pub trait ChainRecord: ConnectRecord {
    fn new_transform(p: &TransformPlugin) -> Box<dyn Transform<Self>>;
    fn new_predicate(p: &PredicatePlugin) -> Box<dyn Predicate<Self>>;
}

impl ChainRecord for SourceRecord {
    fn new_transform(p: &TransformPlugin) -> Box<dyn Transform<Self>> {
        (p.source)()
    }
    fn new_predicate(p: &PredicatePlugin) -> Box<dyn Predicate<Self>> {
        (p.source)()
    }
}

impl ChainRecord for SinkRecord {
    fn new_transform(p: &TransformPlugin) -> Box<dyn Transform<Self>> {
        (p.sink)()
    }
    fn new_predicate(p: &PredicatePlugin) -> Box<dyn Predicate<Self>> {
        (p.sink)()
    }
}

struct Stage<R> {
    class: &'static str,
    transform: Box<dyn Transform<R>>,
    predicate: Option<Arc<dyn Predicate<R>>>,
    negate: bool,
}

/// A transform that failed on a record: its class (for the DLQ header) and the error.
#[derive(Debug)]
pub struct StageError {
    pub class: &'static str,
    pub error: ConnectError,
}

/// The configured transforms of a connector, in order.
pub struct TransformChain<R> {
    stages: Vec<Stage<R>>,
}

/// Renames a transform's own config error to the connector key (`regex` → `transforms.a.regex`).
fn prefixed(prefix: &str, e: ConnectError) -> ConnectError {
    match e {
        ConnectError::Config { field, message } => ConnectError::Config { field: format!("{prefix}{field}"), message },
        other => ConnectError::config(prefix.trim_end_matches('.'), other.to_string()),
    }
}

fn aliases(props: &Props, key: &str) -> ConnectResult<Vec<String>> {
    let list = parse_list(props.get(key).map(String::as_str).unwrap_or(""));
    let mut seen = std::collections::HashSet::new();
    for a in &list {
        if a.is_empty() {
            return Err(ConnectError::config(key, format!("Invalid value {} for configuration {key}: empty alias", props.get(key).map_or("", |s| s.as_str()))));
        }
        if !seen.insert(a) {
            return Err(ConnectError::config(key, format!("Duplicate alias provided: {a}")));
        }
    }
    Ok(list)
}

fn class_of<'a>(props: &'a Props, key: &str) -> ConnectResult<&'a str> {
    props
        .get(key)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConnectError::config(key, format!("Missing required configuration \"{key}\" which has no default value.")))
}

impl<R: ChainRecord> TransformChain<R> {
    /// A chain with no transforms.
    pub fn empty() -> TransformChain<R> {
        TransformChain { stages: Vec::new() }
    }

    /// Builds and configures the chain of a connector config.
    pub fn from_props(plugins: &Plugins, props: &Props) -> ConnectResult<TransformChain<R>> {
        let mut predicates: HashMap<String, Arc<dyn Predicate<R>>> = HashMap::new();
        for alias in aliases(props, "predicates")? {
            let prefix = format!("predicates.{alias}.");
            let type_key = format!("{prefix}type");
            let plugin = plugins.predicate(class_of(props, &type_key)?).map_err(|e| ConnectError::config(&type_key, e.to_string()))?;
            let mut p = R::new_predicate(plugin);
            p.configure(&strip_prefix(props, &prefix)).map_err(|e| prefixed(&prefix, e))?;
            predicates.insert(alias, Arc::from(p));
        }
        let mut stages = Vec::new();
        for alias in aliases(props, "transforms")? {
            let prefix = format!("transforms.{alias}.");
            let type_key = format!("{prefix}type");
            let plugin = plugins.transformation(class_of(props, &type_key)?).map_err(|e| ConnectError::config(&type_key, e.to_string()))?;
            let own = strip_prefix(props, &prefix);
            let mut transform = R::new_transform(plugin);
            transform.configure(&own).map_err(|e| prefixed(&prefix, e))?;
            let predicate = match own.get("predicate").map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => None,
                Some(p) => Some(
                    predicates
                        .get(p)
                        .cloned()
                        .ok_or_else(|| ConnectError::config(format!("{prefix}predicate"), format!("Predicate '{p}' is not defined in 'predicates'")))?,
                ),
            };
            let negate = match own.get("negate").map(|s| s.trim().to_ascii_lowercase()) {
                None => false,
                Some(v) if v == "true" => true,
                Some(v) if v == "false" || v.is_empty() => false,
                Some(v) => {
                    return Err(ConnectError::config(
                        format!("{prefix}negate"),
                        format!("Invalid value {v} for configuration {prefix}negate: Expected value to be either true or false"),
                    ));
                }
            };
            if negate && predicate.is_none() {
                return Err(ConnectError::config(format!("{prefix}negate"), "negate is only allowed together with a predicate"));
            }
            stages.push(Stage { class: plugin.class, transform, predicate, negate });
        }
        Ok(TransformChain { stages })
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Runs the record through every stage; `None` if a stage dropped it.
    pub fn apply(&self, mut record: R) -> Result<Option<R>, StageError> {
        for s in &self.stages {
            if let Some(p) = &s.predicate
                && p.test(&record) == s.negate
            {
                continue;
            }
            match s.transform.apply(record) {
                Ok(Some(r)) => record = r,
                Ok(None) => return Ok(None),
                Err(error) => return Err(StageError { class: s.class, error }),
            }
        }
        Ok(Some(record))
    }

    /// Runs a batch through every stage, one result per input in order (what [`Self::apply`]
    /// gives for each record). Each stage sees the records still alive in one call
    /// ([`Transform::apply_batch`], [`Predicate::test_batch`]), so a WASM stage crosses its
    /// boundary once per batch, not once per record.
    pub fn apply_batch(&self, records: Vec<R>) -> Vec<Result<Option<R>, StageError>> {
        let mut out: Vec<Result<Option<R>, StageError>> = records.into_iter().map(|r| Ok(Some(r))).collect();
        for s in &self.stages {
            let live: Vec<usize> = out.iter().enumerate().filter(|(_, r)| matches!(r, Ok(Some(_)))).map(|(i, _)| i).collect();
            let chosen: Vec<usize> = match &s.predicate {
                None => live,
                Some(p) => {
                    let refs: Vec<&R> = live.iter().filter_map(|&i| out[i].as_ref().ok().and_then(Option::as_ref)).collect();
                    let answers = p.test_batch(&refs);
                    live.into_iter().zip(answers).filter(|(_, holds)| *holds != s.negate).map(|(i, _)| i).collect()
                }
            };
            if chosen.is_empty() {
                continue;
            }
            let input: Vec<R> = chosen.iter().filter_map(|&i| std::mem::replace(&mut out[i], Ok(None)).ok().flatten()).collect();
            let results = s.transform.apply_batch(input);
            let n = results.len();
            if n != chosen.len() {
                let error = || StageError {
                    class: s.class,
                    error: ConnectError::fatal(format!("transform {} returned {n} results for {} records", s.class, chosen.len())),
                };
                chosen.iter().for_each(|&i| out[i] = Err(error()));
                continue;
            }
            for (i, r) in chosen.into_iter().zip(results) {
                out[i] = r.map_err(|error| StageError { class: s.class, error });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::{Headers, TimestampType, Value};

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn record(topic: &str) -> SinkRecord {
        SinkRecord {
            topic: topic.into(),
            kafka_partition: 0,
            kafka_offset: 7,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value: Value::Map(vec![("id".into(), Value::Int64(1)), ("secret".into(), "s".into())]),
            timestamp: Some(0),
            timestamp_type: TimestampType::CreateTime,
            headers: Headers::new(),
        }
    }

    // Kafka docs ("Predicates"): drop records of topics matching foo.*, and route the rest.
    #[test]
    fn chain_with_predicates_as_in_connect_docs() {
        let p = Plugins::builtin();
        let chain = TransformChain::<SinkRecord>::from_props(
            &p,
            &props(&[
                ("transforms", "Filter, mask, route"),
                ("transforms.Filter.type", "org.apache.kafka.connect.transforms.Filter"),
                ("transforms.Filter.predicate", "IsFoo"),
                ("transforms.mask.type", "MaskField$Value"),
                ("transforms.mask.fields", "secret"),
                ("transforms.mask.predicate", "IsBar"),
                ("transforms.mask.negate", "true"),
                ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
                ("transforms.route.regex", "(.*)"),
                ("transforms.route.replacement", "out-$1"),
                ("predicates", "IsFoo,IsBar"),
                ("predicates.IsFoo.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
                ("predicates.IsFoo.pattern", "foo.*"),
                ("predicates.IsBar.type", "TopicNameMatches"),
                ("predicates.IsBar.pattern", "bar"),
            ]),
        )
        .unwrap();
        assert!(chain.apply(record("foo-1")).unwrap().is_none(), "filtered by IsFoo");
        let bar = chain.apply(record("bar")).unwrap().unwrap();
        assert_eq!((bar.topic.as_str(), bar.value.to_string()), ("out-bar", "{id=1, secret=s}".to_string()), "negated: not masked");
        let other = chain.apply(record("baz")).unwrap().unwrap();
        assert_eq!((other.topic.as_str(), other.value.to_string()), ("out-baz", "{id=1, secret=}".to_string()));

        // A batch gives, per record and in order, what one-by-one application gives.
        let mut bad = record("qux");
        bad.value = Value::Int32(3); // MaskField$Value needs a struct or map
        let batch = vec![record("foo-1"), record("bar"), bad.clone(), record("baz"), record("foo-2")];
        let one_by_one: Vec<String> = batch.iter().cloned().map(|r| format!("{:?}", chain.apply(r).map_err(|e| (e.class, e.error.to_string())))).collect();
        let batched: Vec<String> = chain.apply_batch(batch).into_iter().map(|r| format!("{:?}", r.map_err(|e| (e.class, e.error.to_string())))).collect();
        assert_eq!(batched, one_by_one);
        assert!(batched[2].contains("MaskField"), "the failing stage is named: {}", batched[2]);
        assert!(batched[3].contains("out-baz"), "records after a failed one go on: {}", batched[3]);
    }

    #[test]
    fn config_errors_name_the_key() {
        let p = Plugins::builtin();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("transforms", "a")], "transforms.a.type"),
            (&[("transforms", "a"), ("transforms.a.type", "Nope")], "transforms.a.type"),
            (&[("transforms", "a"), ("transforms.a.type", "RegexRouter"), ("transforms.a.replacement", "x")], "transforms.a.regex"),
            (
                &[("transforms", "a"), ("transforms.a.type", "RegexRouter"), ("transforms.a.regex", "("), ("transforms.a.replacement", "x")],
                "transforms.a.regex",
            ),
            (&[("transforms", "a"), ("transforms.a.type", "Filter"), ("transforms.a.predicate", "p")], "transforms.a.predicate"),
            (&[("transforms", "a"), ("transforms.a.type", "Filter"), ("transforms.a.negate", "true")], "transforms.a.negate"),
            (&[("transforms", "a,a"), ("transforms.a.type", "Filter")], "transforms"),
            (&[("predicates", "p"), ("predicates.p.type", "TopicNameMatches")], "predicates.p.pattern"),
            (&[("predicates", "p"), ("predicates.p.type", "Nope")], "predicates.p.type"),
        ];
        for (pairs, field) in cases {
            match TransformChain::<SourceRecord>::from_props(&p, &props(pairs)) {
                Err(ConnectError::Config { field: f, .. }) => assert_eq!(f, *field, "{pairs:?}"),
                Err(e) => panic!("{pairs:?}: not a config error: {e}"),
                Ok(_) => panic!("{pairs:?}: accepted"),
            }
        }
    }
}

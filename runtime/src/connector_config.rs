//! The keys every connector config has, whatever the plugin (Connect's `ConnectorConfig`,
//! `SourceConnectorConfig`, `SinkConnectorConfig`), and the validation of a whole connector
//! config: these keys plus the plugin's own `ConfigDef`.

use sluice_sdk::{ConfigDef, ConfigType, ConfigValueInfo, ConnectError, ConnectResult, Importance, ParsedConfig, Props, Validator, config_keys};

use sluice_sdk::{SinkRecord, SourceRecord};

use crate::executor::errors::{DLQ_TOPIC_NAME, error_def};
use crate::executor::transform_chain::TransformChain;
use crate::plugins::{ConnectorFactory, ConnectorPlugin, Plugins};

const COMMON: &str = "Common";
const GROUP_TRANSFORMS: &str = "Transforms";
const TOPIC_CREATION: &str = "Topic Creation";

config_keys! {
    /// The keys every connector has, before the `errors.*` ones ([`common_def`]).
    fn common_keys();
    pub NAME: String = "name" => importance(Importance::High).group(COMMON, 1).validator(Validator::NonEmptyString).doc("Globally unique name to use for this connector.");
    pub CONNECTOR_CLASS: String = "connector.class" => importance(Importance::High).group(COMMON, 2).doc("Name or alias of the class for this connector.");
    pub TASKS_MAX: Int = "tasks.max" => default("1")
        .importance(Importance::High)
        .group(COMMON, 3)
        .validator(Validator::at_least(1.0))
        .doc("Maximum number of tasks to use for this connector.");
    pub KEY_CONVERTER: Class = "key.converter" => default("")
        .importance(Importance::Low)
        .group(COMMON, 4)
        .doc("Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. Empty: the worker's.");
    pub VALUE_CONVERTER: Class = "value.converter" => default("").importance(Importance::Low).group(COMMON, 5).doc("Converter class for values. Empty: the worker's.");
    pub HEADER_CONVERTER: Class = "header.converter" => default("").importance(Importance::Low).group(COMMON, 6).doc("HeaderConverter class. Empty: the worker's.");
    pub TRANSFORMS: List = "transforms" => default("").importance(Importance::Low).group(GROUP_TRANSFORMS, 1).doc("Aliases for the transformations to be applied to records.");
    pub PREDICATES: List = "predicates" => default("").importance(Importance::Low).group("Predicates", 1).doc("Aliases for the predicates used by transformations.");
}

config_keys! {
    /// The keys of sink connectors only, before the dead letter queue ones ([`sink_def`]).
    fn sink_keys();
    pub TOPICS: List = "topics" => default("").importance(Importance::High).group(COMMON, 4).doc("List of topics to consume, separated by commas");
    pub TOPICS_REGEX: String = "topics.regex" => default("").importance(Importance::High).group(COMMON, 4).doc("Regular expression giving topics to consume.");
}

config_keys! {
    /// The keys of source connectors only ([`source_def`]).
    fn source_keys();
    pub TOPIC_CREATION_GROUPS: List = "topic.creation.groups" => default("")
        .importance(Importance::Low)
        .group(TOPIC_CREATION, 1)
        .doc("Groups of configurations for topics created by source connectors");
    pub TOPIC_CREATION_REPLICATION_FACTOR: Short = "topic.creation.default.replication.factor" => default("-2")
        .importance(Importance::Low)
        .group(TOPIC_CREATION, 2)
        .doc("Replication factor for new topics; -1 for the broker's default. Unset: the connector's topics are not created by Sluice.");
    pub TOPIC_CREATION_PARTITIONS: Int = "topic.creation.default.partitions" => default("-2")
        .importance(Importance::Low)
        .group(TOPIC_CREATION, 3)
        .doc("Partitions of new topics; -1 for the broker's default. Unset: the connector's topics are not created by Sluice.");
    pub EXACTLY_ONCE_SUPPORT: String = "exactly.once.support" => default("requested")
        .importance(Importance::Medium)
        .validator(Validator::one_of_ignore_case(&["requested", "required"]))
        .doc("Whether exactly-once support is required for the connector.");
    pub TRANSACTION_BOUNDARY: String = "transaction.boundary" => default("poll")
        .importance(Importance::Medium)
        .validator(Validator::one_of_ignore_case(&["poll", "interval", "connector"]))
        .doc("Transaction boundaries for exactly-once source connectors.");
    pub OFFSETS_STORAGE_TOPIC: String = "offsets.storage.topic" => default("")
        .importance(Importance::Low)
        .doc("The name of a separate offsets topic to use for this connector.");
}

/// Keys of every connector.
pub fn common_def() -> ConfigDef {
    common_keys().merge(&error_def(false))
}

/// Keys of sink connectors on top of [`common_def`].
pub fn sink_def() -> ConfigDef {
    common_def().merge(&sink_keys()).merge(&error_def(true))
}

/// Keys of source connectors on top of [`common_def`].
pub fn source_def() -> ConfigDef {
    common_def().merge(&source_keys())
}

/// The definition of a plugin's whole config: the runtime's keys plus the plugin's own.
pub fn full_def(plugin: &ConnectorPlugin) -> ConfigDef {
    match &plugin.factory {
        ConnectorFactory::Source { connector, .. } => source_def().merge(&connector().config_def()),
        ConnectorFactory::Sink { connector, .. } => sink_def().merge(&connector().config_def()),
    }
}

/// A connector config that passed validation.
pub struct ValidatedConnectorConfig {
    pub plugin: ConnectorPlugin,
    pub parsed: ParsedConfig,
}

/// The plugin a config names in `connector.class`.
pub fn plugin_of(plugins: &Plugins, props: &Props) -> ConnectResult<ConnectorPlugin> {
    let class =
        props.get(CONNECTOR_CLASS.name()).map(|c| c.trim()).filter(|c| !c.is_empty()).ok_or_else(|| {
            ConnectError::config(CONNECTOR_CLASS, format!("Missing required configuration \"{CONNECTOR_CLASS}\" which has no default value."))
        })?;
    plugins.connector(class).cloned().map_err(|e| ConnectError::config(CONNECTOR_CLASS, e.to_string()))
}

/// Validates every key of a connector config (after config providers were applied): the
/// runtime's keys, the plugin's keys and the plugin's own `validate`, the converters, and
/// `topics` vs `topics.regex` for sinks. Returns the definition used and one result per key
/// (with all its errors), in definition order — what the validate endpoint reports — followed by
/// entries for transform/predicate keys (`transforms.X.*`) that have errors.
pub fn validate_all(plugins: &Plugins, plugin: &ConnectorPlugin, props: &Props) -> (ConfigDef, Vec<ConfigValueInfo>) {
    let def = full_def(plugin);
    let mut results = def.validate(props);
    let plugin_results = match &plugin.factory {
        ConnectorFactory::Source { connector, .. } => connector().validate(props),
        ConnectorFactory::Sink { connector, .. } => connector().validate(props),
    };
    for r in plugin_results {
        for e in r.errors {
            add_error(&mut results, &r.name, e);
        }
    }
    // The transformation chain: every `transforms.X.*` / `predicates.Y.*` key, named in errors
    // (reported under `transforms` when the key itself is not a defined one).
    let chain = match &plugin.factory {
        ConnectorFactory::Source { .. } => TransformChain::<SourceRecord>::from_props(plugins, props).map(|_| ()),
        ConnectorFactory::Sink { .. } => TransformChain::<SinkRecord>::from_props(plugins, props).map(|_| ()),
    };
    if let Err(e) = chain {
        let (field, message) = match e {
            ConnectError::Config { field, message } => (field, message),
            other => (TRANSFORMS.to_string(), other.to_string()),
        };
        if def.key(&field).is_some() {
            add_error(&mut results, &field, message);
        } else {
            // A key of a transform or predicate (`transforms.X.type`, ...): its own entry.
            results.push(ConfigValueInfo {
                name: field.clone(),
                value: props.get(&field).cloned(),
                recommended_values: Vec::new(),
                errors: vec![message],
                visible: true,
            });
        }
    }
    for key in [KEY_CONVERTER, VALUE_CONVERTER] {
        if let Some(name) = props.get(key.name()).map(|s| s.trim()).filter(|s| !s.is_empty())
            && let Err(e) = plugins.converter(name)
        {
            add_error(&mut results, &key, e.to_string());
        }
    }
    if matches!(plugin.factory, ConnectorFactory::Source { .. }) {
        check_exactly_once_keys(&mut results, props);
    }
    if matches!(plugin.factory, ConnectorFactory::Sink { .. }) {
        let get = |k: &str| props.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
        let topics = sluice_sdk::config::parse_list(&get(&TOPICS));
        let regex = get(&TOPICS_REGEX);
        match (topics.is_empty(), regex.is_empty()) {
            (true, true) => add_error(&mut results, &TOPICS, format!("Must configure one of {TOPICS} or {TOPICS_REGEX}")),
            (false, false) => add_error(&mut results, &TOPICS, format!("{TOPICS} and {TOPICS_REGEX} are mutually exclusive options, but both are set.")),
            (true, false) => {
                if let Err(e) = regex::Regex::new(&regex) {
                    add_error(&mut results, &TOPICS_REGEX, format!("Invalid regex: {e}"));
                }
            }
            (false, true) => {
                let dlq = get(&DLQ_TOPIC_NAME);
                if !dlq.is_empty() && topics.contains(&dlq) {
                    add_error(
                        &mut results,
                        &TOPICS,
                        format!(
                            "The DLQ topic '{dlq}' may not be included in the list of topics ('{TOPICS}'=[{}]) consumed by the connector",
                            topics.join(", ")
                        ),
                    );
                }
            }
        }
    }
    (def, results)
}

/// Adds `message` to the errors of `field` (once).
fn add_error(results: &mut [ConfigValueInfo], field: &str, message: String) {
    if let Some(r) = results.iter_mut().find(|r| r.name == field)
        && !r.errors.contains(&message)
    {
        r.errors.push(message);
    }
}

/// Sluice runs no exactly-once source connectors (KIP-618) yet. Connect accepts `requested`
/// (the default) and ignores the transaction keys when the worker has exactly-once source
/// support disabled, so they may stay; asking for what cannot be given is an error.
fn check_exactly_once_keys(results: &mut [ConfigValueInfo], props: &Props) {
    let get = |k: &str| props.get(k).map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
    if get(&EXACTLY_ONCE_SUPPORT) == "required" {
        add_error(results, &EXACTLY_ONCE_SUPPORT, "Sluice does not run exactly-once source connectors (KIP-618) yet, so 'required' cannot be met; remove the key or set it to 'requested' (at-least-once delivery)".into());
    }
    let boundary = get(&TRANSACTION_BOUNDARY);
    if !boundary.is_empty() && boundary != "poll" {
        add_error(
            results,
            &TRANSACTION_BOUNDARY,
            format!("'{boundary}' needs exactly-once source support (KIP-618), which Sluice does not run yet; remove the key"),
        );
    }
}

/// Validates a connector config and returns the first problem as an error naming its field
/// (the `sluice standalone` command line); see [`validate_all`] for every problem.
pub fn validate(plugins: &Plugins, props: &Props) -> ConnectResult<ValidatedConnectorConfig> {
    let plugin = plugin_of(plugins, props)?;
    let (def, results) = validate_all(plugins, &plugin, props);
    if let Some(bad) = results.into_iter().find(|r| !r.errors.is_empty()) {
        return Err(ConnectError::config(&bad.name, bad.errors.join("; ")));
    }
    let parsed = def.parse(props)?;
    Ok(ValidatedConnectorConfig { plugin, parsed })
}

/// A copy of `props` with the values of PASSWORD keys replaced by `[hidden]` (config provider
/// references such as `${file:...}` are not secrets and stay).
pub fn mask_passwords(plugin: Option<&ConnectorPlugin>, props: &Props) -> Props {
    let Some(plugin) = plugin else { return props.clone() };
    let def = full_def(plugin);
    props
        .iter()
        .map(|(k, v)| {
            let secret = def.key(k).is_some_and(|key| key.config_type == ConfigType::Password) && !v.trim_start().starts_with("${");
            (k.clone(), if secret { "[hidden]".to_string() } else { v.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn bad_configs_name_the_field() {
        let p = Plugins::builtin();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("name", "x")], "connector.class"),
            (&[("name", "x"), ("connector.class", "Nope")], "connector.class"),
            (&[("name", "x"), ("connector.class", "FileStreamSink")], "topics"),
            (&[("name", "x"), ("connector.class", "FileStreamSink"), ("topics", "a"), ("topics.regex", "b")], "topics"),
            (&[("name", "x"), ("connector.class", "FileStreamSink"), ("topics.regex", "(")], "topics.regex"),
            (&[("name", "x"), ("connector.class", "FileStreamSink"), ("topics", "a"), ("tasks.max", "zero")], "tasks.max"),
            (&[("name", "x"), ("connector.class", "FileStreamSink"), ("topics", "a"), ("value.converter", "Foo")], "value.converter"),
            (&[("name", "x"), ("connector.class", "FileStreamSource")], "topic"),
            (&[("name", "x"), ("connector.class", "Datagen"), ("topic", "t"), ("max.records", "many")], "max.records"),
        ];
        for (pairs, field) in cases {
            match validate(&p, &props(pairs)) {
                Err(ConnectError::Config { field: f, .. }) => assert_eq!(f, *field, "{pairs:?}"),
                Err(e) => panic!("{pairs:?}: not a config error: {e}"),
                Ok(_) => panic!("{pairs:?}: accepted"),
            }
        }
        assert!(validate(&p, &props(&[("name", "x"), ("connector.class", "FileStreamSink"), ("topics", "a")])).is_ok());
    }

    #[test]
    fn transform_and_error_keys_are_validated() {
        let p = Plugins::builtin();
        let base = [("name", "x"), ("connector.class", "FileStreamSink"), ("topics", "a")];
        let with = |extra: &[(&str, &str)]| props(&base.iter().chain(extra.iter()).copied().collect::<Vec<_>>());
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("transforms", "r")], "transforms.r.type"),
            (
                &[("transforms", "r"), ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"), ("transforms.r.regex", "(")],
                "transforms.r.regex",
            ),
            (&[("transforms", "f"), ("transforms.f.type", "Filter"), ("transforms.f.predicate", "missing")], "transforms.f.predicate"),
            (&[("predicates", "t"), ("predicates.t.type", "TopicNameMatches")], "predicates.t.pattern"),
            (&[("errors.tolerance", "some")], "errors.tolerance"),
            (&[("errors.retry.timeout", "-5")], "errors.retry.timeout"),
            (&[("errors.deadletterqueue.topic.name", "a")], "topics"),
        ];
        for (extra, field) in cases {
            match validate(&p, &with(extra)) {
                Err(ConnectError::Config { field: f, .. }) => assert_eq!(f, *field, "{extra:?}"),
                Err(e) => panic!("{extra:?}: not a config error: {e}"),
                Ok(_) => panic!("{extra:?}: accepted"),
            }
        }
        let good = with(&[
            ("transforms", "unwrap,route"),
            ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
            ("transforms.unwrap.delete.handling.mode", "rewrite"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "(.*)"),
            ("transforms.route.replacement", "$1-out"),
            ("transforms.route.predicate", "isA"),
            ("predicates", "isA"),
            ("predicates.isA.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
            ("predicates.isA.pattern", "a"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ]);
        assert!(validate(&p, &good).is_ok());
    }

    #[test]
    fn exactly_once_source_keys_ask_only_for_what_runs() {
        let p = Plugins::builtin();
        let base = [("name", "x"), ("connector.class", "FileStreamSource"), ("topic", "t"), ("file", "/tmp/in.txt")];
        let with = |extra: &[(&str, &str)]| props(&base.iter().chain(extra.iter()).copied().collect::<Vec<_>>());
        for ok in [&[][..], &[("exactly.once.support", "requested")], &[("transaction.boundary", "poll")]] {
            assert!(validate(&p, &with(ok)).is_ok(), "{ok:?}");
        }
        let cases: &[(&[(&str, &str)], &str, &str)] = &[
            (&[("exactly.once.support", "REQUIRED")], "exactly.once.support", "does not run exactly-once source connectors"),
            (&[("transaction.boundary", "interval")], "transaction.boundary", "needs exactly-once source support"),
        ];
        for (extra, field, says) in cases {
            match validate(&p, &with(extra)) {
                Err(ConnectError::Config { field: f, message }) => assert!(f == *field && message.contains(says), "{extra:?}: {f}: {message}"),
                Err(e) => panic!("{extra:?}: not a config error: {e}"),
                Ok(_) => panic!("{extra:?}: accepted"),
            }
        }
    }
}

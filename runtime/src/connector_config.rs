//! The keys every connector config has, whatever the plugin (Connect's `ConnectorConfig`,
//! `SourceConnectorConfig`, `SinkConnectorConfig`), and the validation of a whole connector
//! config: these keys plus the plugin's own `ConfigDef`.

use sluice_sdk::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, ParsedConfig, Props, Validator};

use crate::plugins::{ConnectorFactory, ConnectorPlugin, Plugins};

const COMMON: &str = "Common";
const TRANSFORMS: &str = "Transforms";
const ERRORS: &str = "Error Handling";
const TOPIC_CREATION: &str = "Topic Creation";

/// Keys of every connector.
pub fn common_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new("name", ConfigType::String).importance(Importance::High).group(COMMON, 1).validator(Validator::NonEmptyString).doc("Globally unique name to use for this connector."))
        .define(
            ConfigKey::new("connector.class", ConfigType::String)
                .importance(Importance::High)
                .group(COMMON, 2)
                .doc("Name or alias of the class for this connector."),
        )
        .define(
            ConfigKey::new("tasks.max", ConfigType::Int)
                .default("1")
                .importance(Importance::High)
                .group(COMMON, 3)
                .validator(Validator::at_least(1.0))
                .doc("Maximum number of tasks to use for this connector."),
        )
        .define(ConfigKey::new("key.converter", ConfigType::Class).default("").importance(Importance::Low).group(COMMON, 4).doc("Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. Empty: the worker's."))
        .define(ConfigKey::new("value.converter", ConfigType::Class).default("").importance(Importance::Low).group(COMMON, 5).doc("Converter class for values. Empty: the worker's."))
        .define(ConfigKey::new("header.converter", ConfigType::Class).default("").importance(Importance::Low).group(COMMON, 6).doc("HeaderConverter class. Empty: the worker's."))
        .define(ConfigKey::new("transforms", ConfigType::List).default("").importance(Importance::Low).group(TRANSFORMS, 1).doc("Aliases for the transformations to be applied to records."))
        .define(ConfigKey::new("predicates", ConfigType::List).default("").importance(Importance::Low).group("Predicates", 1).doc("Aliases for the predicates used by transformations."))
        .define(ConfigKey::new("errors.retry.timeout", ConfigType::Long).default("0").importance(Importance::Medium).group(ERRORS, 1).validator(Validator::at_least(-1.0)).doc("The maximum duration in milliseconds that a failed operation will be reattempted. 0: no retries; -1: infinite retries."))
        .define(ConfigKey::new("errors.retry.delay.max.ms", ConfigType::Long).default("60000").importance(Importance::Medium).group(ERRORS, 2).validator(Validator::at_least(1.0)).doc("The maximum duration in milliseconds between consecutive retry attempts."))
        .define(ConfigKey::new("errors.tolerance", ConfigType::String).default("none").importance(Importance::Medium).group(ERRORS, 3).validator(Validator::one_of(&["none", "all"])).doc("Behavior for tolerating errors during connector operation. 'none' fails the task; 'all' skips problematic records."))
        .define(ConfigKey::new("errors.log.enable", ConfigType::Boolean).default("false").importance(Importance::Medium).group(ERRORS, 4).doc("Log each error and the details of the failed operation."))
        .define(ConfigKey::new("errors.log.include.messages", ConfigType::Boolean).default("false").importance(Importance::Medium).group(ERRORS, 5).doc("Include the record that caused the failure in the log."))
}

/// Keys of sink connectors on top of [`common_def`].
pub fn sink_def() -> ConfigDef {
    common_def()
        .define(ConfigKey::new("topics", ConfigType::List).default("").importance(Importance::High).group(COMMON, 4).doc("List of topics to consume, separated by commas"))
        .define(ConfigKey::new("topics.regex", ConfigType::String).default("").importance(Importance::High).group(COMMON, 4).doc("Regular expression giving topics to consume."))
        .define(ConfigKey::new("errors.deadletterqueue.topic.name", ConfigType::String).default("").importance(Importance::Medium).group(ERRORS, 6).doc("The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error."))
        .define(ConfigKey::new("errors.deadletterqueue.topic.replication.factor", ConfigType::Short).default("3").importance(Importance::Medium).group(ERRORS, 7).doc("Replication factor used to create the dead letter queue topic when it doesn't already exist."))
        .define(ConfigKey::new("errors.deadletterqueue.context.headers.enable", ConfigType::Boolean).default("false").importance(Importance::Medium).group(ERRORS, 8).doc("If true, add headers containing error context to the messages written to the dead letter queue."))
}

/// Keys of source connectors on top of [`common_def`].
pub fn source_def() -> ConfigDef {
    common_def()
        .define(ConfigKey::new("topic.creation.groups", ConfigType::List).default("").importance(Importance::Low).group(TOPIC_CREATION, 1).doc("Groups of configurations for topics created by source connectors"))
        .define(ConfigKey::new("topic.creation.default.replication.factor", ConfigType::Short).default("-2").importance(Importance::Low).group(TOPIC_CREATION, 2).doc("Replication factor for new topics; -1 for the broker's default. Unset: the connector's topics are not created by Sluice."))
        .define(ConfigKey::new("topic.creation.default.partitions", ConfigType::Int).default("-2").importance(Importance::Low).group(TOPIC_CREATION, 3).doc("Partitions of new topics; -1 for the broker's default. Unset: the connector's topics are not created by Sluice."))
        .define(ConfigKey::new("exactly.once.support", ConfigType::String).default("requested").importance(Importance::Medium).validator(Validator::one_of_ignore_case(&["requested", "required"])).doc("Whether exactly-once support is required for the connector."))
        .define(ConfigKey::new("transaction.boundary", ConfigType::String).default("poll").importance(Importance::Medium).validator(Validator::one_of_ignore_case(&["poll", "interval", "connector"])).doc("Transaction boundaries for exactly-once source connectors."))
        .define(ConfigKey::new("offsets.storage.topic", ConfigType::String).default("").importance(Importance::Low).doc("The name of a separate offsets topic to use for this connector."))
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

/// Validates a connector config (after config providers were applied) and returns the first
/// problem as an error naming its field. Checks the runtime's keys, the plugin's keys and the
/// plugin's own `validate`, the converters, and `topics` vs `topics.regex` for sinks.
pub fn validate(plugins: &Plugins, props: &Props) -> ConnectResult<ValidatedConnectorConfig> {
    let class = props.get("connector.class").filter(|c| !c.trim().is_empty()).ok_or_else(|| {
        ConnectError::config("connector.class", "Missing required configuration \"connector.class\" which has no default value.")
    })?;
    let plugin = plugins.connector(class.trim()).map_err(|e| ConnectError::config("connector.class", e.to_string()))?.clone();
    let parsed = match &plugin.factory {
        ConnectorFactory::Source { .. } => source_def().parse(props)?,
        ConnectorFactory::Sink { .. } => sink_def().parse(props)?,
    };
    let plugin_results = match &plugin.factory {
        ConnectorFactory::Source { connector, .. } => connector().validate(props),
        ConnectorFactory::Sink { connector, .. } => connector().validate(props),
    };
    if let Some(bad) = plugin_results.into_iter().find(|r| !r.errors.is_empty()) {
        return Err(ConnectError::config(&bad.name, bad.errors.join("; ")));
    }
    for key in ["key.converter", "value.converter", "header.converter"] {
        let name = parsed.string(key)?;
        if key != "header.converter" && !name.is_empty() {
            plugins.converter(&name).map_err(|e| ConnectError::config(key, e.to_string()))?;
        }
    }
    if matches!(plugin.factory, ConnectorFactory::Sink { .. }) {
        let topics = parsed.list("topics")?;
        let regex = parsed.string("topics.regex")?;
        match (topics.is_empty(), regex.is_empty()) {
            (true, true) => return Err(ConnectError::config("topics", "Must configure one of topics or topics.regex")),
            (false, false) => return Err(ConnectError::config("topics", "topics and topics.regex are mutually exclusive options, but both are set.")),
            (true, false) => {
                regex::Regex::new(&regex).map_err(|e| ConnectError::config("topics.regex", format!("Invalid regex: {e}")))?;
            }
            (false, true) => {
                let dlq = parsed.string("errors.deadletterqueue.topic.name")?;
                if !dlq.is_empty() && topics.contains(&dlq) {
                    return Err(ConnectError::config("topics", format!("The DLQ topic '{dlq}' may not be included in the list of topics ('topics'=[{}]) consumed by the connector", topics.join(", "))));
                }
            }
        }
    }
    Ok(ValidatedConnectorConfig { plugin, parsed })
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
}

//! Worker properties with Kafka Connect's keys (`WorkerConfig`, `StandaloneConfig`,
//! `DistributedConfig`), loaded from a `.properties` file with config providers applied.

use std::path::Path;

use sluice_sdk::config_keys::{Key, KeyKind};
use sluice_sdk::{ConfigDef, ConnectError, ConnectResult, Importance, Props, Validator, config_keys};

use crate::config_provider::ConfigProviders;

/// Which herder the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Distributed,
}

/// Prefixes of keys that are passed on rather than defined here.
const PASS_THROUGH_PREFIXES: &[&str] = &[
    "producer.",
    "consumer.",
    "admin.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "config.providers.",
    "listeners.",
    "metrics.",
    "sluice.",
    "schema.registry.",
];

config_keys! {
    /// Keys of every worker, standalone or distributed.
    pub fn common_def();
    pub BOOTSTRAP_SERVERS: List = "bootstrap.servers" => default("localhost:9092").importance(Importance::High).doc("A list of host/port pairs used to establish the initial connection to the Kafka cluster.");
    pub KEY_CONVERTER: Class = "key.converter" => default("org.apache.kafka.connect.json.JsonConverter").importance(Importance::High).doc("Converter class for keys written to or read from Kafka.");
    pub VALUE_CONVERTER: Class = "value.converter" => default("org.apache.kafka.connect.json.JsonConverter").importance(Importance::High).doc("Converter class for values written to or read from Kafka.");
    pub HEADER_CONVERTER: Class = "header.converter" => default("org.apache.kafka.connect.storage.SimpleHeaderConverter").importance(Importance::Low).doc("HeaderConverter class.");
    pub OFFSET_FLUSH_INTERVAL_MS: Long = "offset.flush.interval.ms" => default("60000").importance(Importance::Low).validator(Validator::at_least(1.0)).doc("Interval at which to try committing offsets for tasks.");
    pub OFFSET_FLUSH_TIMEOUT_MS: Long = "offset.flush.timeout.ms" => default("5000").importance(Importance::Low).validator(Validator::at_least(1.0)).doc("Maximum number of milliseconds to wait for records to flush before an offset commit is cancelled.");
    pub TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS: Long = "task.shutdown.graceful.timeout.ms" => default("5000").importance(Importance::Low).validator(Validator::at_least(0.0)).doc("Amount of time to wait for tasks to shutdown gracefully.");
    pub LISTENERS: List = "listeners" => default("http://:8083").importance(Importance::Low).doc("List of comma-separated URIs the REST API will listen on.");
    pub REST_ADVERTISED_HOST_NAME: String = "rest.advertised.host.name" => default("").importance(Importance::Low).doc("Hostname given out to other workers to connect to.");
    pub REST_ADVERTISED_PORT: Int = "rest.advertised.port" => default("0").importance(Importance::Low).doc("Port given out to other workers to connect to.");
    pub REST_ADVERTISED_LISTENER: String = "rest.advertised.listener" => default("").importance(Importance::Low).doc("Advertised listener (HTTP or HTTPS).");
    pub PLUGIN_PATH: List = "plugin.path" => default("").importance(Importance::Low).doc("List of paths separated by commas that contain plugins.");
    pub TOPIC_CREATION_ENABLE: Boolean = "topic.creation.enable" => default("true").importance(Importance::Low).doc("Whether to allow automatic creation of topics used by source connectors.");
    pub CONFIG_PROVIDERS: List = "config.providers" => default("").importance(Importance::Low).doc("Names of ConfigProviders to use.");
    pub CLIENT_ID: String = "client.id" => default("").importance(Importance::Low).doc("An id string to pass to the server when making requests.");
    pub CONNECTOR_CLIENT_CONFIG_OVERRIDE_POLICY: String = "connector.client.config.override.policy" => default("All").importance(Importance::Medium).validator(Validator::one_of(&["All", "None", "Principal"])).doc("Which client configs connectors may override (producer.override.*, consumer.override.*).");
    pub ACCESS_CONTROL_ALLOW_ORIGIN: String = "access.control.allow.origin" => default("").importance(Importance::Low).doc("Value to set the Access-Control-Allow-Origin header to for REST API requests.");
    pub SSL_KEYSTORE_LOCATION: String = "ssl.keystore.location" => default("").importance(Importance::High).doc("For an https:// listener: a PEM file with the certificate chain and the private key (also read as listeners.https.ssl.keystore.location).");
    pub SSL_KEYSTORE_TYPE: String = "ssl.keystore.type" => default("PEM").importance(Importance::Medium).validator(Validator::one_of_ignore_case(&["PEM"])).doc("Only PEM keystores are supported.");
    pub REST_AUTHENTICATION_BASIC_FILE: String = "rest.authentication.basic.file" => default("").importance(Importance::Medium).doc("Enables HTTP basic authentication of the REST API: a file of `user: password` lines (Jetty's PropertyFileLoginModule format).");
    pub REST_AUTHENTICATION_BEARER_FILE: String = "rest.authentication.bearer.file" => default("").importance(Importance::Medium).doc("Enables bearer-token authentication of the REST API: a file with one accepted token per line.");
    pub ACCESS_CONTROL_ALLOW_METHODS: String = "access.control.allow.methods" => default("").importance(Importance::Low).doc("Methods allowed for cross-origin requests.");
    pub TEST_PLUGINS_ENABLE: Boolean = "sluice.test.plugins.enable" => default("false").importance(Importance::Low).doc("Also offer Sluice's test-only plugins (io.sluice.connect.testkit.TestSinkConnector: slow puts, errant records, retriable failures). For tests and benchmarks, not for production.");
}

config_keys! {
    /// The keys only `connect-standalone` worker configs have.
    pub fn standalone_keys();
    pub OFFSET_STORAGE_FILE_FILENAME: String = "offset.storage.file.filename" => importance(Importance::High).validator(Validator::NonEmptyString).doc("File to store source connector offsets in.");
}

/// Keys of `connect-standalone` worker configs.
pub fn standalone_def() -> ConfigDef {
    common_def().merge(&standalone_keys())
}

config_keys! {
    /// The keys only `connect-distributed` worker configs have.
    pub fn distributed_keys();
    pub GROUP_ID: String = "group.id" => importance(Importance::High).validator(Validator::NonEmptyString).doc("A unique string that identifies the Connect cluster group this worker belongs to.");
    pub CONFIG_STORAGE_TOPIC: String = "config.storage.topic" => importance(Importance::High).validator(Validator::NonEmptyString).doc("The name of the Kafka topic where connector configurations are stored.");
    pub OFFSET_STORAGE_TOPIC: String = "offset.storage.topic" => importance(Importance::High).validator(Validator::NonEmptyString).doc("The name of the Kafka topic where source connector offsets are stored.");
    pub STATUS_STORAGE_TOPIC: String = "status.storage.topic" => importance(Importance::High).validator(Validator::NonEmptyString).doc("The name of the Kafka topic where connector and task status are stored.");
    pub CONFIG_STORAGE_REPLICATION_FACTOR: Short = "config.storage.replication.factor" => default("3").importance(Importance::Low).doc("Replication factor used when creating the configuration storage topic.");
    pub OFFSET_STORAGE_REPLICATION_FACTOR: Short = "offset.storage.replication.factor" => default("3").importance(Importance::Low).doc("Replication factor used when creating the offset storage topic.");
    pub OFFSET_STORAGE_PARTITIONS: Int = "offset.storage.partitions" => default("25").importance(Importance::Low).doc("The number of partitions used when creating the offset storage topic.");
    pub STATUS_STORAGE_REPLICATION_FACTOR: Short = "status.storage.replication.factor" => default("3").importance(Importance::Low).doc("Replication factor used when creating the status storage topic.");
    pub STATUS_STORAGE_PARTITIONS: Int = "status.storage.partitions" => default("5").importance(Importance::Low).doc("The number of partitions used when creating the status storage topic.");
    pub SESSION_TIMEOUT_MS: Int = "session.timeout.ms" => default("10000").importance(Importance::High).doc("The timeout used to detect worker failures.");
    pub HEARTBEAT_INTERVAL_MS: Int = "heartbeat.interval.ms" => default("3000").importance(Importance::High).doc("The expected time between heartbeats to the group coordinator.");
    pub REBALANCE_TIMEOUT_MS: Int = "rebalance.timeout.ms" => default("60000").importance(Importance::High).doc("The maximum allowed time for each worker to join the group once a rebalance has begun.");
    pub SCHEDULED_REBALANCE_MAX_DELAY_MS: Int = "scheduled.rebalance.max.delay.ms" => default("300000").importance(Importance::Low).doc("The maximum delay that is scheduled in order to wait for the return of one or more departed workers before rebalancing and reassigning their connectors and tasks.");
    pub CONNECT_PROTOCOL: String = "connect.protocol" => default("sessioned").importance(Importance::Low).validator(Validator::one_of(&["eager", "compatible", "sessioned"])).doc("Compatibility mode for Kafka Connect Protocol.");
    pub EXACTLY_ONCE_SOURCE_SUPPORT: String = "exactly.once.source.support" => default("disabled").importance(Importance::High).validator(Validator::one_of_ignore_case(&["disabled", "enabled", "preparing"])).doc("Exactly-once source support (KIP-618). Sluice does not run exactly-once source connectors yet: only 'disabled' is accepted.");
}

/// Keys of `connect-distributed` worker configs.
pub fn distributed_def() -> ConfigDef {
    common_def().merge(&distributed_keys())
}

/// A loaded worker config.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub mode: Mode,
    pub parsed: sluice_sdk::ParsedConfig,
    pub providers: ConfigProviders,
}

impl WorkerConfig {
    /// Reads, resolves and validates a worker properties file.
    pub fn load(path: &Path, mode: Mode) -> ConnectResult<WorkerConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| ConnectError::fatal(format!("cannot read worker config {}: {e}", path.display())))?;
        WorkerConfig::from_props(crate::properties::parse(&text), mode)
    }

    /// Resolves config providers in `raw` and validates it.
    pub fn from_props(raw: Props, mode: Mode) -> ConnectResult<WorkerConfig> {
        let providers = ConfigProviders::from_worker_props(&raw)?;
        let props = providers.resolve(&raw)?;
        let def = match mode {
            Mode::Standalone => standalone_def(),
            Mode::Distributed => distributed_def(),
        };
        let parsed = def.parse(&props)?;
        if let Ok(eos) = parsed.value(EXACTLY_ONCE_SOURCE_SUPPORT)
            && !eos.eq_ignore_ascii_case("disabled")
        {
            return Err(ConnectError::config(
                EXACTLY_ONCE_SOURCE_SUPPORT,
                format!(
                    "'{eos}' is not supported: Sluice does not run exactly-once source connectors (KIP-618) yet; remove the key or set it to 'disabled' (at-least-once delivery)"
                ),
            ));
        }
        for key in props.keys() {
            if def.key(key).is_none() && !PASS_THROUGH_PREFIXES.iter().any(|p| key.starts_with(p)) {
                tracing::warn!("The configuration '{key}' was supplied but isn't a known config.");
            }
        }
        Ok(WorkerConfig { mode, parsed, providers })
    }

    /// The value of a worker key (its default when unset; every key read here has one or is
    /// required, so the fallback to the type's zero only covers a key of the other mode).
    pub fn get<K: KeyKind>(&self, key: Key<K>) -> K::Value
    where
        K::Value: Default,
    {
        self.parsed.value(key).unwrap_or_default()
    }

    pub fn bootstrap_servers(&self) -> String {
        self.get(BOOTSTRAP_SERVERS).join(",")
    }

    /// Client overrides such as `producer.linger.ms` (prefix removed).
    pub fn client_overrides(&self, prefix: &str) -> Props {
        self.parsed.originals_with_prefix(prefix)
    }

    /// The first `listeners` entry as (host, port, TLS files); `http://:8083` binds all
    /// interfaces; `https://` needs `ssl.keystore.location` (a PEM with chain and key).
    pub fn rest_listener(&self) -> ConnectResult<(String, u16, Option<sluice_rest_api::TlsFiles>)> {
        let listeners = self.parsed.value(LISTENERS)?;
        let first = listeners.first().ok_or_else(|| ConnectError::config("listeners", "at least one listener is required"))?;
        let (rest, tls) = if let Some(r) = first.strip_prefix("http://") {
            (r, None)
        } else if let Some(r) = first.strip_prefix("https://") {
            let own = self.parsed.originals().get("listeners.https.ssl.keystore.location").cloned();
            let pem = own.or_else(|| Some(self.get(SSL_KEYSTORE_LOCATION))).filter(|p| !p.trim().is_empty()).ok_or_else(|| {
                ConnectError::config(
                    "ssl.keystore.location",
                    "an https:// listener needs ssl.keystore.location: a PEM file with the certificate chain and private key",
                )
            })?;
            let pem = std::path::PathBuf::from(pem.trim());
            (r, Some(sluice_rest_api::TlsFiles { cert: pem.clone(), key: pem }))
        } else {
            return Err(ConnectError::config("listeners", format!("unsupported listener '{first}': use http:// or https://")));
        };
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| ConnectError::config("listeners", format!("listener '{first}' has no port")))?;
        let port = port.trim_end_matches('/').parse().map_err(|_| ConnectError::config("listeners", format!("listener '{first}' has an invalid port")))?;
        let host = if host.is_empty() { "0.0.0.0".to_string() } else { host.trim_matches(['[', ']']).to_string() };
        Ok((host, port, tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn standalone_needs_offset_file_and_names_bad_keys() {
        let err = WorkerConfig::from_props(props(&[]), Mode::Standalone).unwrap_err();
        assert!(matches!(&err, ConnectError::Config { field, .. } if field == "offset.storage.file.filename"), "{err}");
        let err =
            WorkerConfig::from_props(props(&[("offset.storage.file.filename", "/tmp/x"), ("offset.flush.interval.ms", "soon")]), Mode::Standalone).unwrap_err();
        assert!(matches!(&err, ConnectError::Config { field, .. } if field == "offset.flush.interval.ms"), "{err}");
        let w =
            WorkerConfig::from_props(props(&[("offset.storage.file.filename", "/tmp/x"), ("listeners", "http://127.0.0.1:18083")]), Mode::Standalone).unwrap();
        let (host, port, tls) = w.rest_listener().unwrap();
        assert_eq!((host.as_str(), port, tls.is_none()), ("127.0.0.1", 18083, true));
        assert_eq!(w.bootstrap_servers(), "localhost:9092");
    }

    #[test]
    fn distributed_needs_group_and_topics() {
        let err = WorkerConfig::from_props(props(&[]), Mode::Distributed).unwrap_err();
        assert!(matches!(&err, ConnectError::Config { field, .. } if field == "group.id"), "{err}");
    }
}

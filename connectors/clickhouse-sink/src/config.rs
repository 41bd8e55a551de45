//! The sink's configuration: one [`ConfigDef`] with the official ClickHouse Kafka Connect
//! sink's key names where it has them (`hostname`, `port`, `ssl`, `database`, `username`,
//! `password`, `topic2TableMap`, `tableRefreshInterval`, `exactlyOnce`, `clickhouseSettings`,
//! `bufferCount`, `bufferFlushTime`), JDBC-sink names for schema evolution (`auto.create`,
//! `auto.evolve`), and Sluice's own for what the official sink lacks (`validation`, `debezium.*`).

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_sdk::config::Importance::{High, Low, Medium};
use sluice_sdk::{ConnectError, ConnectResult, Props, Validator, config_keys};

const GROUP: &str = "ClickHouse";

config_keys! {
    /// Every key of the sink.
    pub fn config_def();
    pub HOSTNAME: String = "hostname" => importance(High).validator(Validator::NonEmptyString).doc("The hostname or IP address of the ClickHouse server");
    pub PORT: Int = "port" => default("8443").importance(High).doc("The ClickHouse HTTP(S) port: 8443 for HTTPS (the official default), 8123 for plain HTTP").group(GROUP, 0).validator(Validator::between(1.0, 65535.0));
    pub SSL: Boolean = "ssl" => default("true").importance(High).doc("Connect with HTTPS (TLS 1.2/1.3, server certificate checked against the system's trust store, or the PEM file in SSL_CERT_FILE); false for plain HTTP").group(GROUP, 0);
    pub DATABASE: String = "database" => default("default").importance(High).doc("ClickHouse database name").group(GROUP, 0);
    pub USERNAME: String = "username" => default("default").importance(High).doc("ClickHouse user").group(GROUP, 0);
    pub PASSWORD: Password = "password" => default("").importance(High).doc("ClickHouse password").group(GROUP, 0);
    pub TOPIC2_TABLE_MAP: String = "topic2TableMap" => default("").importance(Medium).doc("Comma-separated topic=table pairs (`orders=orders_v2,users=u`); unmapped topics go to the table named like the topic").group(GROUP, 0);
    pub TABLE_REFRESH_INTERVAL: Long = "tableRefreshInterval" => default("0").importance(Low).doc("Seconds between re-reading the table descriptions (DESCRIBE TABLE); 0 re-reads only when an insert fails on a changed table").group(GROUP, 0).validator(Validator::at_least(0.0));
    pub EXACTLY_ONCE: Boolean = "exactlyOnce" => default("false").importance(High).doc("Exactly-once delivery: per-partition batches and the inserted offset ranges kept in a state table in ClickHouse, checked on start and replay").group(GROUP, 0);
    pub EXACTLY_ONCE_STATE_TABLE: String = "exactlyOnce.state.table" => default("sluice_connect_state").importance(Low).doc("The state table (in `database`) holding, per connector and topic-partition, the last inserted offset range").group(GROUP, 0);
    pub CLICKHOUSE_SETTINGS: String = "clickhouseSettings" => default("").importance(Low).doc("Comma-separated ClickHouse settings sent with every insert (`max_insert_threads=2,insert_quorum=2`)").group(GROUP, 0);
    pub BUFFER_COUNT: Long = "bufferCount" => default("100000").importance(Medium).doc("Rows per INSERT: a table's buffer is inserted when it holds this many rows (batches across put() calls)").group(GROUP, 0).validator(Validator::at_least(1.0));
    pub BUFFER_FLUSH_TIME: Long = "bufferFlushTime" => default("1000").importance(Medium).doc("Linger in ms: a buffer is inserted at the latest this long after its first row arrived").group(GROUP, 0).validator(Validator::at_least(0.0));
    pub VALIDATION: String = "validation" => default("auto").importance(Low).doc("Server-side type validation of inserts (RowBinaryWithNamesAndTypes): true, false (plain RowBinary, for servers before 22.x such as 18.16), or auto (on when the server supports it)").group(GROUP, 0).validator(Validator::one_of_ignore_case(&["auto", "true", "false"]));
    pub COMPRESSION: String = "compression" => default("lz4").importance(Low).doc("HTTP body compression of inserts: lz4 or none").group(GROUP, 0).validator(Validator::one_of_ignore_case(&["lz4", "none"]));
    pub AUTO_CREATE: Boolean = "auto.create" => default("false").importance(Medium).doc("Create a missing table from the record's value schema (MergeTree, or ReplacingMergeTree for Debezium change events)").group(GROUP, 0);
    pub AUTO_EVOLVE: Boolean = "auto.evolve" => default("false").importance(Medium).doc("Create missing tables and add Nullable columns for new fields of the record's value schema").group(GROUP, 0);
    pub DEBEZIUM_UNWRAP: Boolean = "debezium.unwrap" => default("true").importance(Medium).doc("Write Debezium change events (op/before/after/source) as rows: the row state plus a version and a delete-marker column, for ReplacingMergeTree").group(GROUP, 0);
    pub DEBEZIUM_VERSION_COLUMN: String = "debezium.version.column" => default("_version").importance(Low).doc("Column receiving the row version: source.lsn when the event has one, else the Kafka offset").group(GROUP, 0);
    pub DEBEZIUM_DELETED_COLUMN: String = "debezium.deleted.column" => default("_is_deleted").importance(Low).doc("Column receiving 1 for deletes and 0 otherwise").group(GROUP, 0);
    pub ERRORS_TOLERANCE: String = "errors.tolerance" => default("none").importance(Medium).doc("none: a record that cannot be written fails the task; all: it is skipped (and sent to the DLQ when configured)").group(GROUP, 0).validator(Validator::one_of_ignore_case(&["none", "all"]));
}

/// Whether inserts carry names and types for the server to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    Auto,
    On,
    Off,
}

/// The parsed configuration of a task.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub url: String,
    pub database: String,
    pub username: String,
    pub password: String,
    pub topic_to_table: BTreeMap<String, String>,
    pub table_refresh: Option<Duration>,
    pub exactly_once: bool,
    pub state_table: String,
    pub settings: Vec<(String, String)>,
    pub buffer_count: usize,
    pub linger: Duration,
    pub validation: Validation,
    pub lz4: bool,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub unwrap: bool,
    pub version_column: String,
    pub deleted_column: String,
    pub tolerate_errors: bool,
}

/// `a=b,c=d` → pairs; `field` names the key in errors.
fn pairs(field: &str, s: &str) -> ConnectResult<Vec<(String, String)>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => Err(ConnectError::config(field, format!("'{p}' is not a key=value pair"))),
        })
        .collect()
}

impl SinkConfig {
    pub fn parse(props: &Props) -> ConnectResult<SinkConfig> {
        let cfg = config_def().parse(props)?;
        let refresh = cfg.value(TABLE_REFRESH_INTERVAL)?;
        let validation = match cfg.value(VALIDATION)?.to_ascii_lowercase().as_str() {
            "true" => Validation::On,
            "false" => Validation::Off,
            _ => Validation::Auto,
        };
        let auto_evolve = cfg.value(AUTO_EVOLVE)?;
        Ok(SinkConfig {
            url: format!("{}://{}:{}", if cfg.value(SSL)? { "https" } else { "http" }, cfg.value(HOSTNAME)?.trim(), cfg.value(PORT)?),
            database: cfg.value(DATABASE)?,
            username: cfg.value(USERNAME)?,
            password: cfg.value(PASSWORD)?.value().to_string(),
            topic_to_table: pairs(TOPIC2_TABLE_MAP.name(), &cfg.value(TOPIC2_TABLE_MAP)?)?.into_iter().collect(),
            table_refresh: (refresh > 0).then(|| Duration::from_secs(refresh as u64)),
            exactly_once: cfg.value(EXACTLY_ONCE)?,
            state_table: cfg.value(EXACTLY_ONCE_STATE_TABLE)?,
            settings: pairs(CLICKHOUSE_SETTINGS.name(), &cfg.value(CLICKHOUSE_SETTINGS)?)?,
            buffer_count: cfg.value(BUFFER_COUNT)?.max(1) as usize,
            linger: Duration::from_millis(cfg.value(BUFFER_FLUSH_TIME)?.max(0) as u64),
            validation,
            lz4: cfg.value(COMPRESSION)?.eq_ignore_ascii_case("lz4"),
            auto_create: cfg.value(AUTO_CREATE)? || auto_evolve,
            auto_evolve,
            unwrap: cfg.value(DEBEZIUM_UNWRAP)?,
            version_column: cfg.value(DEBEZIUM_VERSION_COLUMN)?,
            deleted_column: cfg.value(DEBEZIUM_DELETED_COLUMN)?,
            tolerate_errors: cfg.value(ERRORS_TOLERANCE)?.eq_ignore_ascii_case("all"),
        })
    }

    /// The table a topic's records go to.
    pub fn table_for(&self, topic: &str) -> String {
        self.topic_to_table.get(topic).cloned().unwrap_or_else(|| topic.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn official_names_parse() {
        let c = SinkConfig::parse(&props(&[
            ("hostname", "127.0.0.1"),
            ("port", "8123"),
            ("ssl", "false"),
            ("topic2TableMap", "a=t1, b=t2"),
            ("clickhouseSettings", "insert_quorum=2"),
            ("exactlyOnce", "true"),
        ]))
        .unwrap();
        assert_eq!(c.url, "http://127.0.0.1:8123");
        assert_eq!(c.table_for("a"), "t1");
        assert_eq!(c.table_for("zz"), "zz");
        assert_eq!(c.settings, vec![("insert_quorum".to_string(), "2".to_string())]);
        assert!(c.exactly_once && c.buffer_count >= 10_000);
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = SinkConfig::parse(&props(&[("hostname", "h"), ("ssl", "false"), ("topic2TableMap", "oops")])).unwrap_err();
        assert!(e.to_string().contains("topic2TableMap"), "{e}");
        let e = SinkConfig::parse(&props(&[("hostname", "h"), ("port", "70000")])).unwrap_err();
        assert!(e.to_string().contains("port"), "{e}");
    }

    #[test]
    fn ssl_is_https_and_on_by_default_as_in_the_official_sink() {
        assert_eq!(SinkConfig::parse(&props(&[("hostname", "ch.example.com")])).unwrap().url, "https://ch.example.com:8443");
    }
}

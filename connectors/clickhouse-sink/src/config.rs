//! The sink's configuration: one [`ConfigDef`] with the official ClickHouse Kafka Connect
//! sink's key names where it has them (`hostname`, `port`, `ssl`, `database`, `username`,
//! `password`, `topic2TableMap`, `tableRefreshInterval`, `exactlyOnce`, `clickhouseSettings`,
//! `bufferCount`, `bufferFlushTime`), JDBC-sink names for schema evolution (`auto.create`,
//! `auto.evolve`), and Sluice's own for what the official sink lacks (`validation`, `debezium.*`).

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_sdk::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, Props, Validator};

pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    let key = |name: &str, ty: ConfigType, default: &str, imp: Importance, doc: &str| {
        ConfigKey::new(name, ty).default(default).importance(imp).doc(doc).group("ClickHouse", 0)
    };
    ConfigDef::new()
        .define(ConfigKey::new("hostname", String).importance(Importance::High).validator(Validator::NonEmptyString).doc("The hostname or IP address of the ClickHouse server"))
        .define(key("port", Int, "8443", Importance::High, "The ClickHouse HTTP(S) port: 8443 for HTTPS (the official default), 8123 for plain HTTP").validator(Validator::between(1.0, 65535.0)))
        .define(key("ssl", Boolean, "true", Importance::High, "Connect with HTTPS (TLS 1.2/1.3, server certificate checked against the system's trust store, or the PEM file in SSL_CERT_FILE); false for plain HTTP"))
        .define(key("database", String, "default", Importance::High, "ClickHouse database name"))
        .define(key("username", String, "default", Importance::High, "ClickHouse user"))
        .define(key("password", Password, "", Importance::High, "ClickHouse password"))
        .define(key("topic2TableMap", String, "", Importance::Medium, "Comma-separated topic=table pairs (`orders=orders_v2,users=u`); unmapped topics go to the table named like the topic"))
        .define(key("tableRefreshInterval", Long, "0", Importance::Low, "Seconds between re-reading the table descriptions (DESCRIBE TABLE); 0 re-reads only when an insert fails on a changed table").validator(Validator::at_least(0.0)))
        .define(key("exactlyOnce", Boolean, "false", Importance::High, "Exactly-once delivery: per-partition batches and the inserted offset ranges kept in a state table in ClickHouse, checked on start and replay"))
        .define(key("exactlyOnce.state.table", String, "sluice_connect_state", Importance::Low, "The state table (in `database`) holding, per connector and topic-partition, the last inserted offset range"))
        .define(key("clickhouseSettings", String, "", Importance::Low, "Comma-separated ClickHouse settings sent with every insert (`max_insert_threads=2,insert_quorum=2`)"))
        .define(key("bufferCount", Long, "100000", Importance::Medium, "Rows per INSERT: a table's buffer is inserted when it holds this many rows (batches across put() calls)").validator(Validator::at_least(1.0)))
        .define(key("bufferFlushTime", Long, "1000", Importance::Medium, "Linger in ms: a buffer is inserted at the latest this long after its first row arrived").validator(Validator::at_least(0.0)))
        .define(key("validation", String, "auto", Importance::Low, "Server-side type validation of inserts (RowBinaryWithNamesAndTypes): true, false (plain RowBinary, for servers before 22.x such as 18.16), or auto (on when the server supports it)").validator(Validator::one_of_ignore_case(&["auto", "true", "false"])))
        .define(key("compression", String, "lz4", Importance::Low, "HTTP body compression of inserts: lz4 or none").validator(Validator::one_of_ignore_case(&["lz4", "none"])))
        .define(key("auto.create", Boolean, "false", Importance::Medium, "Create a missing table from the record's value schema (MergeTree, or ReplacingMergeTree for Debezium change events)"))
        .define(key("auto.evolve", Boolean, "false", Importance::Medium, "Create missing tables and add Nullable columns for new fields of the record's value schema"))
        .define(key("debezium.unwrap", Boolean, "true", Importance::Medium, "Write Debezium change events (op/before/after/source) as rows: the row state plus a version and a delete-marker column, for ReplacingMergeTree"))
        .define(key("debezium.version.column", String, "_version", Importance::Low, "Column receiving the row version: source.lsn when the event has one, else the Kafka offset"))
        .define(key("debezium.deleted.column", String, "_is_deleted", Importance::Low, "Column receiving 1 for deletes and 0 otherwise"))
        .define(key("errors.tolerance", String, "none", Importance::Medium, "none: a record that cannot be written fails the task; all: it is skipped (and sent to the DLQ when configured)").validator(Validator::one_of_ignore_case(&["none", "all"])))
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
        let refresh = cfg.long("tableRefreshInterval")?;
        let validation = match cfg.string("validation")?.to_ascii_lowercase().as_str() {
            "true" => Validation::On,
            "false" => Validation::Off,
            _ => Validation::Auto,
        };
        let auto_evolve = cfg.boolean("auto.evolve")?;
        Ok(SinkConfig {
            url: format!("{}://{}:{}", if cfg.boolean("ssl")? { "https" } else { "http" }, cfg.string("hostname")?.trim(), cfg.int("port")?),
            database: cfg.string("database")?,
            username: cfg.string("username")?,
            password: cfg.password("password")?.value().to_string(),
            topic_to_table: pairs("topic2TableMap", &cfg.string("topic2TableMap")?)?.into_iter().collect(),
            table_refresh: (refresh > 0).then(|| Duration::from_secs(refresh as u64)),
            exactly_once: cfg.boolean("exactlyOnce")?,
            state_table: cfg.string("exactlyOnce.state.table")?,
            settings: pairs("clickhouseSettings", &cfg.string("clickhouseSettings")?)?,
            buffer_count: cfg.long("bufferCount")?.max(1) as usize,
            linger: Duration::from_millis(cfg.long("bufferFlushTime")?.max(0) as u64),
            validation,
            lz4: cfg.string("compression")?.eq_ignore_ascii_case("lz4"),
            auto_create: cfg.boolean("auto.create")? || auto_evolve,
            auto_evolve,
            unwrap: cfg.boolean("debezium.unwrap")?,
            version_column: cfg.string("debezium.version.column")?,
            deleted_column: cfg.string("debezium.deleted.column")?,
            tolerate_errors: cfg.string("errors.tolerance")?.eq_ignore_ascii_case("all"),
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

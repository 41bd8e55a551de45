//! The connector's configuration, declared once with Debezium's key names
//! (`io.debezium.connector.postgresql.PostgresConnectorConfig`), and the typed view the task uses.

use std::time::Duration;

use regex::Regex;
use sluice_sdk::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, Props, Validator};

/// `snapshot.mode`: when the connector reads the tables' current rows (op `r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no stored offset, then stream.
    Initial,
    /// Snapshot when there is no stored offset, then stop (no streaming).
    InitialOnly,
    /// Never snapshot; stream from the slot (Debezium's `no_data`, formerly `never`).
    NoData,
    /// Snapshot at every start, then stream.
    Always,
    /// Snapshot when there is no offset or the slot is missing, then stream.
    WhenNeeded,
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationMode {
    AllTables,
    Filtered,
    Disabled,
}

/// `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalMode {
    Precise,
    Double,
    String,
}

/// `time.precision.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecisionMode {
    /// `adaptive` (and `adaptive_time_microseconds`): ms or µs schemas by column precision.
    Adaptive,
    /// `connect`: Connect's Date/Time/Timestamp (millisecond precision).
    Connect,
}

pub const HOSTNAME: &str = "database.hostname";
pub const PORT: &str = "database.port";
pub const USER: &str = "database.user";
pub const PASSWORD: &str = "database.password";
pub const DBNAME: &str = "database.dbname";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const SCHEMA_INCLUDE: &str = "schema.include.list";
pub const SCHEMA_EXCLUDE: &str = "schema.exclude.list";
pub const TABLE_INCLUDE: &str = "table.include.list";
pub const TABLE_EXCLUDE: &str = "table.exclude.list";
pub const COLUMN_EXCLUDE: &str = "column.exclude.list";
pub const SLOT_NAME: &str = "slot.name";
pub const PUBLICATION_NAME: &str = "publication.name";
pub const PUBLICATION_MODE: &str = "publication.autocreate.mode";
pub const PLUGIN_NAME: &str = "plugin.name";
pub const SNAPSHOT_MODE: &str = "snapshot.mode";
pub const HEARTBEAT_INTERVAL: &str = "heartbeat.interval.ms";
pub const HEARTBEAT_QUERY: &str = "heartbeat.action.query";
pub const HEARTBEAT_PREFIX: &str = "topic.heartbeat.prefix";
pub const DECIMAL_MODE: &str = "decimal.handling.mode";
pub const TIME_MODE: &str = "time.precision.mode";
pub const TOMBSTONES: &str = "tombstones.on.delete";
pub const MAX_BATCH: &str = "max.batch.size";
pub const MAX_QUEUE: &str = "max.queue.size";
pub const POLL_INTERVAL: &str = "poll.interval.ms";
pub const UNAVAILABLE_PLACEHOLDER: &str = "unavailable.value.placeholder";
pub const SKIPPED_OPERATIONS: &str = "skipped.operations";
pub const MAX_RETRIES: &str = "errors.max.retries";
pub const PROVIDE_TRANSACTION_METADATA: &str = "provide.transaction.metadata";
pub const TOPIC_TRANSACTION: &str = "topic.transaction";

fn key(name: &str, t: ConfigType, importance: Importance, doc: &str) -> ConfigKey {
    ConfigKey::new(name, t).importance(importance).doc(doc)
}

/// Every key the connector understands.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    ConfigDef::new()
        .define(key(HOSTNAME, String, High, "Resolvable hostname or IP address of the Postgres server").validator(Validator::NonEmptyString))
        .define(key(PORT, Int, High, "Port of the Postgres server").default("5432").validator(Validator::between(1.0, 65535.0)))
        .define(key(USER, String, High, "Name of the Postgres user (needs the REPLICATION attribute)").validator(Validator::NonEmptyString))
        .define(key(PASSWORD, Password, High, "Password of the Postgres user").default(""))
        .define(key(DBNAME, String, High, "Name of the database to capture").validator(Validator::NonEmptyString))
        .define(
            key(TOPIC_PREFIX, String, High, "Logical name of the server: the prefix of every topic (PREFIX.SCHEMA.TABLE) and schema name")
                .validator(Validator::NonEmptyString),
        )
        .define(key(SCHEMA_INCLUDE, List, Medium, "Regular expressions matching the schemas to capture (empty: all but system schemas)").default(""))
        .define(key(SCHEMA_EXCLUDE, List, Medium, "Regular expressions matching schemas not to capture").default(""))
        .define(key(TABLE_INCLUDE, List, Medium, "Regular expressions matching SCHEMA.TABLE identifiers to capture (empty: all)").default(""))
        .define(key(TABLE_EXCLUDE, List, Medium, "Regular expressions matching SCHEMA.TABLE identifiers not to capture").default(""))
        .define(key(COLUMN_EXCLUDE, List, Medium, "Regular expressions matching SCHEMA.TABLE.COLUMN identifiers left out of events").default(""))
        .define(key(SLOT_NAME, String, High, "Name of the logical replication slot (created if missing)").default("debezium").validator(Validator::NonEmptyString))
        .define(key(PUBLICATION_NAME, String, High, "Name of the publication pgoutput reads").default("dbz_publication").validator(Validator::NonEmptyString))
        .define(
            key(PUBLICATION_MODE, String, Medium, "all_tables: create the publication FOR ALL TABLES; filtered: FOR TABLE the captured tables; disabled: it must exist")
                .default("all_tables")
                .validator(Validator::one_of(&["all_tables", "filtered", "disabled"])),
        )
        .define(key(PLUGIN_NAME, String, Medium, "Logical decoding plugin; only pgoutput").default("pgoutput").validator(Validator::one_of(&["pgoutput"])))
        .define(
            key(SNAPSHOT_MODE, String, Medium, "initial, initial_only, no_data (or never), always, when_needed")
                .default("initial")
                .validator(Validator::one_of(&["initial", "initial_only", "no_data", "never", "always", "when_needed"])),
        )
        .define(
            key(HEARTBEAT_INTERVAL, Int, Medium, "Interval of heartbeat records (0: none); they let the slot advance while the captured tables are idle")
                .default("0")
                .validator(Validator::at_least(0.0)),
        )
        .define(key(HEARTBEAT_QUERY, String, Low, "A statement run at each heartbeat, e.g. an UPDATE of a heartbeat table").default(""))
        .define(key(HEARTBEAT_PREFIX, String, Low, "Heartbeat records go to PREFIX.<topic.prefix>").default("__debezium-heartbeat"))
        .define(
            key(DECIMAL_MODE, String, Medium, "precise: Connect Decimal; double: float64; string: text")
                .default("precise")
                .validator(Validator::one_of(&["precise", "double", "string"])),
        )
        .define(
            key(TIME_MODE, String, Medium, "adaptive: io.debezium.time.* by column precision; connect: Connect's Date/Time/Timestamp")
                .default("adaptive")
                .validator(Validator::one_of(&["adaptive", "adaptive_time_microseconds", "connect"])),
        )
        .define(key(TOMBSTONES, Boolean, Medium, "Send a tombstone (null value) after each delete event").default("true"))
        .define(key(MAX_BATCH, Int, Low, "Maximum records returned by one poll").default("2048").validator(Validator::at_least(1.0)))
        .define(key(MAX_QUEUE, Int, Low, "Records decoded ahead of the runtime (bounded queue)").default("8192").validator(Validator::at_least(1.0)))
        .define(key(POLL_INTERVAL, Long, Low, "Wait between reads of the slot when it had nothing new").default("500").validator(Validator::at_least(1.0)))
        .define(key(SKIPPED_OPERATIONS, List, Low, "Operations not emitted: c, u, d, t, or none (Debezium's default skips truncates)").default("t"))
        .define(
            key(MAX_RETRIES, Int, Low, "Consecutive failed reconnections to Postgres before the task fails (-1: no limit)")
                .default("6")
                .validator(Validator::at_least(-1.0)),
        )
        .define(
            key(PROVIDE_TRANSACTION_METADATA, Boolean, Low, "Send BEGIN/END events of each transaction to PREFIX.<topic.transaction> and add a transaction block to every change event")
                .default("false"),
        )
        .define(key(TOPIC_TRANSACTION, String, Low, "Transaction metadata events go to <topic.prefix>.NAME").default("transaction").validator(Validator::NonEmptyString))
        .define(key(UNAVAILABLE_PLACEHOLDER, String, Low, "Value given to unchanged TOASTed columns the server did not send").default("__debezium_unavailable_value"))
}

/// Include/exclude regular expressions, anchored as Debezium anchors them (full match).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    schema_include: Vec<Regex>,
    schema_exclude: Vec<Regex>,
    table_include: Vec<Regex>,
    table_exclude: Vec<Regex>,
    column_exclude: Vec<Regex>,
}

fn regexes(field: &str, list: Vec<String>) -> ConnectResult<Vec<Regex>> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Regex::new(&format!("^(?:{})$", s.trim())).map_err(|e| ConnectError::config(field, format!("bad regular expression {s}: {e}"))))
        .collect()
}

impl Filters {
    /// Whether `schema.table` is captured (system schemas never are).
    pub fn table(&self, schema: &str, table: &str) -> bool {
        if schema == "pg_catalog" || schema == "information_schema" || schema.starts_with("pg_toast") {
            return false;
        }
        let id = format!("{schema}.{table}");
        let any = |rs: &[Regex], s: &str| rs.iter().any(|r| r.is_match(s));
        (self.schema_include.is_empty() || any(&self.schema_include, schema))
            && !any(&self.schema_exclude, schema)
            && (self.table_include.is_empty() || any(&self.table_include, &id))
            && !any(&self.table_exclude, &id)
    }

    /// Whether `schema.table.column` is left out of events.
    pub fn column_excluded(&self, schema: &str, table: &str, column: &str) -> bool {
        !self.column_exclude.is_empty() && self.column_exclude.iter().any(|r| r.is_match(&format!("{schema}.{table}.{column}")))
    }
}

/// The typed configuration of a connector and its task.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    pub topic_prefix: String,
    pub filters: Filters,
    pub slot: String,
    pub publication: String,
    pub publication_mode: PublicationMode,
    pub snapshot_mode: SnapshotMode,
    pub heartbeat_interval: Option<Duration>,
    pub heartbeat_query: Option<String>,
    pub heartbeat_topic: String,
    pub decimal_mode: DecimalMode,
    pub time_mode: TimePrecisionMode,
    pub tombstones: bool,
    pub max_batch: usize,
    pub max_queue: usize,
    pub poll_interval: Duration,
    pub unavailable_placeholder: String,
    /// Operation codes (`c`, `u`, `d`, `t`) not emitted.
    pub skipped_operations: Vec<String>,
    /// `None`: retry forever.
    pub max_retries: Option<u32>,
    /// Where BEGIN/END events go when `provide.transaction.metadata` is on.
    pub transaction_topic: Option<String>,
}

impl PostgresConfig {
    pub fn parse(props: &Props) -> ConnectResult<PostgresConfig> {
        let c = config_def().parse(props)?;
        let topic_prefix = c.string(TOPIC_PREFIX)?;
        let heartbeat_ms = c.int(HEARTBEAT_INTERVAL)?;
        let query = c.string(HEARTBEAT_QUERY)?;
        Ok(PostgresConfig {
            host: c.string(HOSTNAME)?,
            port: c.int(PORT)? as u16,
            user: c.string(USER)?,
            password: c.password(PASSWORD)?.value().to_string(),
            dbname: c.string(DBNAME)?,
            filters: Filters {
                schema_include: regexes(SCHEMA_INCLUDE, c.list(SCHEMA_INCLUDE)?)?,
                schema_exclude: regexes(SCHEMA_EXCLUDE, c.list(SCHEMA_EXCLUDE)?)?,
                table_include: regexes(TABLE_INCLUDE, c.list(TABLE_INCLUDE)?)?,
                table_exclude: regexes(TABLE_EXCLUDE, c.list(TABLE_EXCLUDE)?)?,
                column_exclude: regexes(COLUMN_EXCLUDE, c.list(COLUMN_EXCLUDE)?)?,
            },
            slot: c.string(SLOT_NAME)?,
            publication: c.string(PUBLICATION_NAME)?,
            publication_mode: match c.string(PUBLICATION_MODE)?.as_str() {
                "filtered" => PublicationMode::Filtered,
                "disabled" => PublicationMode::Disabled,
                _ => PublicationMode::AllTables,
            },
            snapshot_mode: match c.string(SNAPSHOT_MODE)?.as_str() {
                "initial_only" => SnapshotMode::InitialOnly,
                "no_data" | "never" => SnapshotMode::NoData,
                "always" => SnapshotMode::Always,
                "when_needed" => SnapshotMode::WhenNeeded,
                _ => SnapshotMode::Initial,
            },
            heartbeat_interval: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms as u64)),
            heartbeat_query: (!query.trim().is_empty()).then_some(query),
            heartbeat_topic: format!("{}.{topic_prefix}", c.string(HEARTBEAT_PREFIX)?),
            decimal_mode: match c.string(DECIMAL_MODE)?.as_str() {
                "double" => DecimalMode::Double,
                "string" => DecimalMode::String,
                _ => DecimalMode::Precise,
            },
            time_mode: if c.string(TIME_MODE)? == "connect" { TimePrecisionMode::Connect } else { TimePrecisionMode::Adaptive },
            tombstones: c.boolean(TOMBSTONES)?,
            max_batch: c.int(MAX_BATCH)? as usize,
            max_queue: c.int(MAX_QUEUE)? as usize,
            poll_interval: Duration::from_millis(c.long(POLL_INTERVAL)? as u64),
            unavailable_placeholder: c.string(UNAVAILABLE_PLACEHOLDER)?,
            skipped_operations: c.list(SKIPPED_OPERATIONS)?.into_iter().map(|o| o.trim().to_string()).filter(|o| o != "none" && !o.is_empty()).collect(),
            max_retries: u32::try_from(c.int(MAX_RETRIES)?).ok(),
            transaction_topic: if c.boolean(PROVIDE_TRANSACTION_METADATA)? { Some(format!("{topic_prefix}.{}", c.string(TOPIC_TRANSACTION)?)) } else { None },
            topic_prefix,
        })
    }

    /// A libpq-style connection config.
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        // Named after the slot, so an operator can tell the connector's sessions apart.
        let app = format!("sluice-cdc:{}", self.slot);
        c.host(&self.host).port(self.port).user(&self.user).dbname(&self.dbname).application_name(&app);
        c.connect_timeout(Duration::from_secs(10));
        if !self.password.is_empty() {
            c.password(&self.password);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Props {
        [(HOSTNAME, "h"), (USER, "u"), (DBNAME, "d"), (TOPIC_PREFIX, "srv")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn filters_follow_debezium_lists() {
        let mut p = base();
        p.insert(TABLE_INCLUDE.into(), "public\\.orders.*,inv\\.items".into());
        p.insert(TABLE_EXCLUDE.into(), "public\\.orders_old".into());
        p.insert(COLUMN_EXCLUDE.into(), "public\\.orders\\.secret".into());
        let c = PostgresConfig::parse(&p).unwrap();
        let cases = [("public", "orders", true), ("public", "orders_2", true), ("public", "orders_old", false), ("inv", "items", true), ("inv", "items2", false), ("pg_catalog", "pg_class", false)];
        for (s, t, want) in cases {
            assert_eq!(c.filters.table(s, t), want, "{s}.{t}");
        }
        assert!(c.filters.column_excluded("public", "orders", "secret"));
        assert!(!c.filters.column_excluded("public", "orders", "id"));
        assert_eq!(c.heartbeat_topic, "__debezium-heartbeat.srv");
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
    }

    #[test]
    fn bad_values_name_their_field() {
        let mut p = base();
        p.insert(SNAPSHOT_MODE.into(), "sometimes".into());
        match PostgresConfig::parse(&p) {
            Err(ConnectError::Config { field, .. }) => assert_eq!(field, SNAPSHOT_MODE),
            other => panic!("{other:?}"),
        }
        let mut p = base();
        p.insert(TABLE_INCLUDE.into(), "(".into());
        assert!(matches!(PostgresConfig::parse(&p), Err(ConnectError::Config { field, .. }) if field == TABLE_INCLUDE));
    }
}

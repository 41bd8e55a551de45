//! The connector's configuration, declared once with Debezium's key names
//! (`io.debezium.connector.postgresql.PostgresConnectorConfig`), and the typed view the task uses.

use std::time::Duration;

use regex::Regex;
use sluice_sdk::config::Importance::{High, Low, Medium};
use sluice_sdk::{ConnectError, ConnectResult, Props, Validator, config_keys};

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

config_keys! {
    /// Every key the connector understands.
    pub fn config_def();
    pub HOSTNAME: String = "database.hostname" => importance(High).doc("Resolvable hostname or IP address of the Postgres server").validator(Validator::NonEmptyString);
    pub PORT: Int = "database.port" => importance(High).doc("Port of the Postgres server").default("5432").validator(Validator::between(1.0, 65535.0));
    pub USER: String = "database.user" => importance(High).doc("Name of the Postgres user (needs the REPLICATION attribute)").validator(Validator::NonEmptyString);
    pub PASSWORD: Password = "database.password" => importance(High).doc("Password of the Postgres user").default("");
    pub DBNAME: String = "database.dbname" => importance(High).doc("Name of the database to capture").validator(Validator::NonEmptyString);
    pub TOPIC_PREFIX: String = "topic.prefix" => importance(High).doc("Logical name of the server: the prefix of every topic (PREFIX.SCHEMA.TABLE) and schema name").validator(Validator::NonEmptyString);
    pub SCHEMA_INCLUDE: List = "schema.include.list" => importance(Medium).doc("Regular expressions matching the schemas to capture (empty: all but system schemas)").default("");
    pub SCHEMA_EXCLUDE: List = "schema.exclude.list" => importance(Medium).doc("Regular expressions matching schemas not to capture").default("");
    pub TABLE_INCLUDE: List = "table.include.list" => importance(Medium).doc("Regular expressions matching SCHEMA.TABLE identifiers to capture (empty: all)").default("");
    pub TABLE_EXCLUDE: List = "table.exclude.list" => importance(Medium).doc("Regular expressions matching SCHEMA.TABLE identifiers not to capture").default("");
    pub COLUMN_EXCLUDE: List = "column.exclude.list" => importance(Medium).doc("Regular expressions matching SCHEMA.TABLE.COLUMN identifiers left out of events").default("");
    pub SLOT_NAME: String = "slot.name" => importance(High).doc("Name of the logical replication slot (created if missing)").default("debezium").validator(Validator::NonEmptyString);
    pub PUBLICATION_NAME: String = "publication.name" => importance(High).doc("Name of the publication pgoutput reads").default("dbz_publication").validator(Validator::NonEmptyString);
    pub PUBLICATION_MODE: String = "publication.autocreate.mode" => importance(Medium).doc("all_tables: create the publication FOR ALL TABLES; filtered: FOR TABLE the captured tables; disabled: it must exist").default("all_tables").validator(Validator::one_of(&["all_tables", "filtered", "disabled"]));
    pub PLUGIN_NAME: String = "plugin.name" => importance(Medium).doc("Logical decoding plugin; only pgoutput").default("pgoutput").validator(Validator::one_of(&["pgoutput"]));
    pub SNAPSHOT_MODE: String = "snapshot.mode" => importance(Medium).doc("initial, initial_only, no_data (or never), always, when_needed").default("initial").validator(Validator::one_of(&["initial", "initial_only", "no_data", "never", "always", "when_needed"]));
    pub HEARTBEAT_INTERVAL: Int = "heartbeat.interval.ms" => importance(Medium).doc("Interval of heartbeat records (0: none); they let the slot advance while the captured tables are idle").default("0").validator(Validator::at_least(0.0));
    pub HEARTBEAT_QUERY: String = "heartbeat.action.query" => importance(Low).doc("A statement run at each heartbeat, e.g. an UPDATE of a heartbeat table").default("");
    pub HEARTBEAT_PREFIX: String = "topic.heartbeat.prefix" => importance(Low).doc("Heartbeat records go to PREFIX.<topic.prefix>").default("__debezium-heartbeat");
    pub DECIMAL_MODE: String = "decimal.handling.mode" => importance(Medium).doc("precise: Connect Decimal; double: float64; string: text").default("precise").validator(Validator::one_of(&["precise", "double", "string"]));
    pub TIME_MODE: String = "time.precision.mode" => importance(Medium).doc("adaptive: io.debezium.time.* by column precision; connect: Connect's Date/Time/Timestamp").default("adaptive").validator(Validator::one_of(&["adaptive", "adaptive_time_microseconds", "connect"]));
    pub TOMBSTONES: Boolean = "tombstones.on.delete" => importance(Medium).doc("Send a tombstone (null value) after each delete event").default("true");
    pub MAX_BATCH: Int = "max.batch.size" => importance(Low).doc("Maximum records returned by one poll").default("2048").validator(Validator::at_least(1.0));
    pub MAX_QUEUE: Int = "max.queue.size" => importance(Low).doc("Records decoded ahead of the runtime (bounded queue)").default("8192").validator(Validator::at_least(1.0));
    pub POLL_INTERVAL: Long = "poll.interval.ms" => importance(Low).doc("Wait between reads of the slot when it had nothing new").default("500").validator(Validator::at_least(1.0));
    pub SKIPPED_OPERATIONS: List = "skipped.operations" => importance(Low).doc("Operations not emitted: c, u, d, t, or none (Debezium's default skips truncates)").default("t");
    pub MAX_RETRIES: Int = "errors.max.retries" => importance(Low).doc("Consecutive failed reconnections to Postgres before the task fails (-1: no limit)").default("6").validator(Validator::at_least(-1.0));
    pub PROVIDE_TRANSACTION_METADATA: Boolean = "provide.transaction.metadata" => importance(Low).doc("Send BEGIN/END events of each transaction to PREFIX.<topic.transaction> and add a transaction block to every change event").default("false");
    pub TOPIC_TRANSACTION: String = "topic.transaction" => importance(Low).doc("Transaction metadata events go to <topic.prefix>.NAME").default("transaction").validator(Validator::NonEmptyString);
    pub UNAVAILABLE_PLACEHOLDER: String = "unavailable.value.placeholder" => importance(Low).doc("Value given to unchanged TOASTed columns the server did not send").default("__debezium_unavailable_value");
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
        let topic_prefix = c.value(TOPIC_PREFIX)?;
        let heartbeat_ms = c.value(HEARTBEAT_INTERVAL)?;
        let query = c.value(HEARTBEAT_QUERY)?;
        Ok(PostgresConfig {
            host: c.value(HOSTNAME)?,
            port: c.value(PORT)? as u16,
            user: c.value(USER)?,
            password: c.value(PASSWORD)?.value().to_string(),
            dbname: c.value(DBNAME)?,
            filters: Filters {
                schema_include: regexes(SCHEMA_INCLUDE.name(), c.value(SCHEMA_INCLUDE)?)?,
                schema_exclude: regexes(SCHEMA_EXCLUDE.name(), c.value(SCHEMA_EXCLUDE)?)?,
                table_include: regexes(TABLE_INCLUDE.name(), c.value(TABLE_INCLUDE)?)?,
                table_exclude: regexes(TABLE_EXCLUDE.name(), c.value(TABLE_EXCLUDE)?)?,
                column_exclude: regexes(COLUMN_EXCLUDE.name(), c.value(COLUMN_EXCLUDE)?)?,
            },
            slot: c.value(SLOT_NAME)?,
            publication: c.value(PUBLICATION_NAME)?,
            publication_mode: match c.value(PUBLICATION_MODE)?.as_str() {
                "filtered" => PublicationMode::Filtered,
                "disabled" => PublicationMode::Disabled,
                _ => PublicationMode::AllTables,
            },
            snapshot_mode: match c.value(SNAPSHOT_MODE)?.as_str() {
                "initial_only" => SnapshotMode::InitialOnly,
                "no_data" | "never" => SnapshotMode::NoData,
                "always" => SnapshotMode::Always,
                "when_needed" => SnapshotMode::WhenNeeded,
                _ => SnapshotMode::Initial,
            },
            heartbeat_interval: (heartbeat_ms > 0).then(|| Duration::from_millis(heartbeat_ms as u64)),
            heartbeat_query: (!query.trim().is_empty()).then_some(query),
            heartbeat_topic: format!("{}.{topic_prefix}", c.value(HEARTBEAT_PREFIX)?),
            decimal_mode: match c.value(DECIMAL_MODE)?.as_str() {
                "double" => DecimalMode::Double,
                "string" => DecimalMode::String,
                _ => DecimalMode::Precise,
            },
            time_mode: if c.value(TIME_MODE)? == "connect" { TimePrecisionMode::Connect } else { TimePrecisionMode::Adaptive },
            tombstones: c.value(TOMBSTONES)?,
            max_batch: c.value(MAX_BATCH)? as usize,
            max_queue: c.value(MAX_QUEUE)? as usize,
            poll_interval: Duration::from_millis(c.value(POLL_INTERVAL)? as u64),
            unavailable_placeholder: c.value(UNAVAILABLE_PLACEHOLDER)?,
            skipped_operations: c.value(SKIPPED_OPERATIONS)?.into_iter().map(|o| o.trim().to_string()).filter(|o| o != "none" && !o.is_empty()).collect(),
            max_retries: u32::try_from(c.value(MAX_RETRIES)?).ok(),
            transaction_topic: if c.value(PROVIDE_TRANSACTION_METADATA)? { Some(format!("{topic_prefix}.{}", c.value(TOPIC_TRANSACTION)?)) } else { None },
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
        let cases = [
            ("public", "orders", true),
            ("public", "orders_2", true),
            ("public", "orders_old", false),
            ("inv", "items", true),
            ("inv", "items2", false),
            ("pg_catalog", "pg_class", false),
        ];
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

//! `ClickHouseSinkConnector`: Kafka topics → ClickHouse tables, in large RowBinary batches,
//! with typed mapping, Debezium change events as ReplacingMergeTree rows, schema evolution and
//! exactly-once delivery through a state table kept in ClickHouse itself.
//!
//! Registered as `com.clickhouse.kafka.connect.ClickHouseSinkConnector` (aliases
//! `ClickHouseSinkConnector`, `ClickHouseSink`), so configs written for ClickHouse's official
//! Kafka Connect sink keep working: `hostname`, `port`, `ssl`, `database`, `username`,
//! `password`, `topic2TableMap`, `tableRefreshInterval`, `exactlyOnce`, `clickhouseSettings`,
//! `bufferCount`, `bufferFlushTime`, `errors.tolerance` (see [`config`]).
//!
//! **Batching.** Records are buffered across `put` calls, one buffer per table (per
//! topic-partition with `exactlyOnce`), and a buffer becomes one `INSERT` when it holds
//! `bufferCount` rows (100 000 by default) or its oldest row is `bufferFlushTime` ms old
//! (1 s). Under load every insert is `bufferCount` rows; never one insert per record.
//!
//! **Wire format.** Rows are dynamic (their columns come from a cached `DESCRIBE TABLE`), so
//! the crate's typed `Insert<T: Row>` does not fit. Each batch is encoded here, column by
//! column, straight into one RowBinary body ([`rowbinary`]) and sent with the `clickhouse`
//! crate's `insert_formatted_with` (HTTP, LZ4-compressed, pooled connections). That is one
//! pass over the records and one allocation per batch — as fast as the crate's own typed
//! inserts — and works on every server version. With `validation` on (the default on servers
//! that have it, 22.1+) the body is `RowBinaryWithNamesAndTypes`: the server checks every
//! column's name and type against the table before it writes anything. On older servers
//! (18.16 here) it is plain `RowBinary` with an explicit column list.
//!
//! **Mapping** ([`row`]): struct fields and schemaless map keys go to columns of the same name;
//! fields without a column are ignored; a missing field becomes NULL (Nullable), the type's zero
//! (DEFAULT columns), or an errant record. Types: integers (range-checked), floats, strings and
//! bytes, Nullable, Array, Map, Tuple, LowCardinality, Enum (by name or number), Decimal
//! (rescaled), Date/DateTime/DateTime64 from Connect Date/Timestamp, Debezium Micro/Nano
//! timestamps or ISO-8601 strings, UUID strings; nested values into String columns as JSON.
//! The description is refreshed when an insert fails on a changed table, and every
//! `tableRefreshInterval` seconds if set.
//!
//! **Change events** ([`row`], [`evolve`]): Debezium envelopes become rows for a
//! `ReplacingMergeTree(_version)` table ordered by the key: inserts and updates write `after`,
//! deletes write `before` with `_is_deleted = 1`; `_version` is `source.lsn`, else the Kafka
//! offset. Current state: `SELECT * FROM t FINAL WHERE _is_deleted = 0`.
//!
//! **Exactly-once** ([`state`]): per-partition batches; the state table holds the last batch's
//! offset range and whether its insert finished (BEFORE/AFTER). On start and after every
//! rebalance the task rewinds or skips each partition to match it, so a replay inserts nothing
//! twice. The one window is a crash after the rows landed but before AFTER was written: the
//! task then rebuilds exactly the same batch and inserts it again with the same
//! `insert_deduplication_token`, which the server drops (ClickHouse 22.2+, for Replicated
//! tables or MergeTree with `non_replicated_deduplication_window`). What 18.16 guarantees:
//! no loss and no duplicates, except for that window (one HTTP round trip per batch) where a
//! crash can repeat that one batch, as it lacks the dedup token.
//!
//! `ssl=true` (the default, as in the official sink) speaks HTTPS through rustls, checking the
//! server against the system trust store (or `SSL_CERT_FILE`).
//!
//! Limits: Int256/Decimal256, Variant, Dynamic, JSON and geo
//! columns are refused; exactly-once covers one task per partition (as Connect assigns them).

pub mod client;
pub mod config;
pub mod evolve;
pub mod row;
pub mod rowbinary;
pub mod state;
pub mod task;

use std::sync::Arc;

use sluice_sdk::{ConfigDef, ConnectResult, Connector, ConnectorContext, Props, SinkConnector, async_trait};

pub use task::ClickHouseSinkTask;

/// The official connector's class name, under which this one is registered.
pub const CLASS: &str = "com.clickhouse.kafka.connect.ClickHouseSinkConnector";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The connector: validates the config and hands each task a copy.
#[derive(Default)]
pub struct ClickHouseSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for ClickHouseSinkConnector {
    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    async fn start(&mut self, props: Props, _ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()> {
        config::SinkConfig::parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }

    async fn stop(&mut self) {}
}

impl SinkConnector for ClickHouseSinkConnector {}

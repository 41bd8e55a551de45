//! Postgres CDC source, a drop-in for Debezium's `io.debezium.connector.postgresql.PostgresConnector`:
//! an initial snapshot of the captured tables, then every committed change read from a logical
//! replication slot with the `pgoutput` plugin, as Debezium change events (same topics, keys,
//! envelope, Connect schemas and type mapping), so consumers of Debezium's topics don't notice.
//!
//! Protocol: the slot is read with `pg_logical_slot_peek_binary_changes` over an ordinary
//! connection (`tokio-postgres` cannot speak the streaming replication protocol) and pgoutput v1
//! is decoded here ([`pgoutput`]); the slot is advanced with `pg_replication_slot_advance` only
//! to the end of a transaction whose records the broker acknowledged ([`task`]). Offsets
//! (`{"server": PREFIX}` → `{lsn, lsn_commit, event, txId, ts_usec, lsn_flush}` or Debezium's
//! snapshot offsets) make a restart resume exactly after the last stored record ([`offset`]).
//!
//! Configuration: Debezium's keys ([`config`]): `database.hostname/port/user/password/dbname`,
//! `topic.prefix`, `schema.include.list`, `table.include.list`/`table.exclude.list`,
//! `column.exclude.list`, `slot.name`, `publication.name`, `publication.autocreate.mode`,
//! `plugin.name` (pgoutput), `snapshot.mode`, `heartbeat.interval.ms`, `heartbeat.action.query`,
//! `decimal.handling.mode`, `time.precision.mode`, `tombstones.on.delete`, `skipped.operations`,
//! `max.batch.size`, `max.queue.size`, `poll.interval.ms`, `unavailable.value.placeholder`.
//! The server needs `wal_level=logical` and a user with REPLICATION (validation checks both).
//!
//! Limits and differences from Debezium:
//! - Unchanged TOASTed values: with `REPLICA IDENTITY FULL` they are taken from the old tuple;
//!   otherwise the column carries `unavailable.value.placeholder` (`__debezium_unavailable_value`)
//!   — in string, bytes and string-array columns; other types get null (or their zero value
//!   when NOT NULL). As with Debezium, consumers must treat the placeholder as "unchanged".
//! - With the default replica identity, `before` is null on updates and holds only the key
//!   (other NOT NULL columns get Debezium's zero fallback) on deletes.
//! - Types beyond the mapped ones ([`types`]) are sent as their text form; column default
//!   values are not carried in the schemas; multi-dimensional arrays are not supported.
//! - Each peek re-reads the WAL not yet confirmed to the slot, so keep the worker's
//!   `offset.flush.interval.ms` short (a few seconds) under sustained load.
//! - Without heartbeats (`heartbeat.interval.ms=0`, Debezium's default) the slot does not move
//!   while the captured tables are idle, even if other tables are written: WAL is retained.
//! - One task per connector (`tasks.max` beyond 1 is ignored), as with Debezium.

pub mod client;
pub mod config;
pub mod envelope;
pub mod offset;
pub mod pgoutput;
pub mod snapshot;
pub mod stream;
pub mod task;
pub mod types;

use std::sync::Arc;

use sluice_sdk::{ConfigDef, ConfigValueInfo, ConnectResult, Connector, ConnectorContext, Props, SourceConnector, async_trait};

pub use task::PostgresSourceTask;

/// Debezium's class name, under which the connector is registered.
pub const CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";
pub const VERSION: &str = envelope::VERSION;

/// The connector: validates against the server and hands its config to one task.
#[derive(Default)]
pub struct PostgresConnector {
    props: Props,
}

#[async_trait]
impl Connector for PostgresConnector {
    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    /// The ConfigDef's checks, then (if they pass) the server's: reachable, credentials,
    /// `wal_level=logical`, replication privilege, and that the include lists match tables.
    fn validate(&self, props: &Props) -> Vec<ConfigValueInfo> {
        let mut infos = config::config_def().validate(props);
        if infos.iter().any(|i| !i.errors.is_empty()) {
            return infos;
        }
        let Ok(cfg) = config::PostgresConfig::parse(props) else { return infos };
        // validate() is synchronous: run the checks on a thread with its own runtime.
        let errors = std::thread::spawn(move || -> Vec<(&'static str, String)> {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return vec![(config::HOSTNAME.name(), format!("cannot check the server: {e}"))],
            };
            rt.block_on(async {
                let mut errors = client::check_server(&cfg).await;
                if errors.is_empty()
                    && let Ok(c) = client::connect(&cfg).await
                {
                    match client::captured_tables(&c, &cfg).await {
                        Ok(t) if t.is_empty() => errors.push((config::TABLE_INCLUDE.name(), "No table matches the include lists".to_string())),
                        Ok(_) => {}
                        Err(e) => errors.push((config::HOSTNAME.name(), e.to_string())),
                    }
                }
                errors
            })
        })
        .join()
        .unwrap_or_else(|_| vec![(config::HOSTNAME.name(), "server check panicked".to_string())]);
        for (field, message) in errors {
            if let Some(info) = infos.iter_mut().find(|i| i.name == field) {
                info.errors.push(message);
            }
        }
        infos
    }

    async fn start(&mut self, props: Props, _ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()> {
        config::PostgresConfig::parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }

    async fn stop(&mut self) {}
}

impl SourceConnector for PostgresConnector {}

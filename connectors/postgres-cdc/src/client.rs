//! Talking to Postgres with `tokio-postgres`: connections with the session settings the text
//! conversions rely on, server checks for validation, the publication and the replication slot,
//! and catalog look-ups that turn a Relation message into a [`TableSchema`].
//!
//! Errors: a failed connection or a lost server is [`ConnectError::Retriable`]; a missing slot
//! with a stored offset, or missing privileges, is fatal with what to do.

use std::collections::HashMap;

use sluice_sdk::{ConnectError, ConnectResult};
use tokio_postgres::types::PgLsn;
use tokio_postgres::{Client, NoTls};

use crate::config::{PostgresConfig, PublicationMode};
use crate::envelope::{Column, TableSchema};
use crate::pgoutput::{Relation, format_lsn};
use crate::types::{PgType, TypeInfo, TypeMapping};

/// Settings the text forms in `types.rs` depend on.
const SESSION_SETUP: &str =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET bytea_output = 'hex'; SET extra_float_digits = 3; SET IntervalStyle = 'postgres'";

/// A database error as the SPI's error: connection trouble is retriable, the rest fatal.
pub fn pg_error(context: &str, e: tokio_postgres::Error) -> ConnectError {
    let msg = match e.as_db_error() {
        Some(db) => format!("{context}: {} ({})", db.message(), db.code().code()),
        None => format!("{context}: {e}"),
    };
    let transient = match e.as_db_error() {
        None => true,
        // connection_exception, operator_intervention (admin shutdown, cannot connect now)
        Some(db) => db.code().code().starts_with("08") || db.code().code().starts_with("57") || db.code().code() == "55006",
    };
    if transient || e.is_closed() { ConnectError::Retriable(msg) } else { ConnectError::Fatal(msg) }
}

/// Opens a connection and applies the session settings; the connection runs on its own task.
pub async fn connect(cfg: &PostgresConfig) -> ConnectResult<Client> {
    let (client, connection) =
        cfg.pg_config().connect(NoTls).await.map_err(|e| pg_error(&format!("Cannot connect to Postgres at {}:{}", cfg.host, cfg.port), e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    client.batch_execute(SESSION_SETUP).await.map_err(|e| pg_error("session setup", e))?;
    Ok(client)
}

/// Server-side checks for validation: each failure names the config field it concerns.
pub async fn check_server(cfg: &PostgresConfig) -> Vec<(&'static str, String)> {
    use crate::config::{HOSTNAME, PASSWORD, USER};
    let client = match cfg.pg_config().connect(NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
        }
        Err(e) => {
            let text = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
            let field = if text.contains("password") || text.contains("authentication") {
                PASSWORD.name()
            } else if text.contains("role") {
                USER.name()
            } else {
                HOSTNAME.name()
            };
            return vec![(field, format!("Unable to connect: {text}"))];
        }
    };
    let mut errors = Vec::new();
    match client.query_one("SELECT current_setting('wal_level')", &[]).await {
        Ok(row) if row.get::<_, String>(0) == "logical" => {}
        Ok(row) => errors.push((HOSTNAME.name(), format!("Postgres server wal_level property must be 'logical' but is: '{}'", row.get::<_, String>(0)))),
        Err(e) => errors.push((HOSTNAME.name(), format!("cannot read wal_level: {e}"))),
    }
    match client.query_one("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user", &[]).await {
        Ok(row) if row.get::<_, bool>(0) => {}
        Ok(_) => errors.push((USER.name(), format!("Postgres roles LOGIN and REPLICATION are not assigned to user: {}", cfg.user))),
        Err(e) => errors.push((USER.name(), format!("cannot read the user's roles: {e}"))),
    }
    errors
}

/// The tables the filters capture: (oid, schema, table).
pub async fn captured_tables(client: &Client, cfg: &PostgresConfig) -> ConnectResult<Vec<(u32, String, String)>> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 2, 3",
            &[],
        )
        .await
        .map_err(|e| pg_error("listing tables", e))?;
    Ok(rows.iter().map(|r| (r.get::<_, u32>(0), r.get(1), r.get(2))).filter(|(_, s, t): &(u32, String, String)| cfg.filters.table(s, t)).collect())
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A quoted `schema.table`.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// Creates (or, when `filtered`, updates) the publication per `publication.autocreate.mode`.
pub async fn ensure_publication(client: &Client, cfg: &PostgresConfig) -> ConnectResult<()> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&cfg.publication])
        .await
        .map_err(|e| pg_error("reading publications", e))?
        .is_some();
    let publication = quote_ident(&cfg.publication);
    let sql = match (cfg.publication_mode, exists) {
        (PublicationMode::Disabled, false) => {
            return Err(ConnectError::config(
                crate::config::PUBLICATION_NAME,
                format!("Publication '{}' does not exist and {} is disabled", cfg.publication, crate::config::PUBLICATION_MODE),
            ));
        }
        (PublicationMode::Disabled, true) | (PublicationMode::AllTables, true) => return Ok(()),
        (PublicationMode::AllTables, false) => format!("CREATE PUBLICATION {publication} FOR ALL TABLES"),
        (PublicationMode::Filtered, _) => {
            let tables = captured_tables(client, cfg).await?;
            if tables.is_empty() {
                return Err(ConnectError::config(crate::config::TABLE_INCLUDE, "No table matches the include lists: nothing to capture"));
            }
            let list = tables.iter().map(|(_, s, t)| qualified(s, t)).collect::<Vec<_>>().join(", ");
            if exists { format!("ALTER PUBLICATION {publication} SET TABLE {list}") } else { format!("CREATE PUBLICATION {publication} FOR TABLE {list}") }
        }
    };
    tracing::info!(%sql, "configuring publication");
    client.batch_execute(&sql).await.map_err(|e| pg_error("creating the publication", e))
}

/// The slot's `confirmed_flush_lsn`, or `None` if the slot does not exist.
pub async fn slot_position(client: &Client, slot: &str) -> ConnectResult<Option<u64>> {
    let row = client
        .query_opt("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .map_err(|e| pg_error("reading the replication slot", e))?;
    Ok(row.map(|r| r.get::<_, Option<PgLsn>>(0).map(u64::from).unwrap_or(0)))
}

/// Creates the pgoutput slot; returns its consistent point.
pub async fn create_slot(client: &Client, slot: &str) -> ConnectResult<u64> {
    let row = client
        .query_one("SELECT lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", &[&slot])
        .await
        .map_err(|e| pg_error(&format!("creating replication slot '{slot}'"), e))?;
    let lsn = u64::from(row.get::<_, PgLsn>(0));
    tracing::info!(slot, lsn = %format_lsn(lsn), "created replication slot");
    Ok(lsn)
}

/// Confirms everything before `lsn` to the slot, so Postgres may recycle that WAL.
pub async fn advance_slot(client: &Client, slot: &str, lsn: u64) -> ConnectResult<()> {
    client
        .query_one("SELECT pg_replication_slot_advance($1, $2)", &[&slot, &PgLsn::from(lsn)])
        .await
        .map_err(|e| pg_error(&format!("advancing replication slot '{slot}' to {}", format_lsn(lsn)), e))?;
    Ok(())
}

/// The message telling the user what to do when the slot is gone.
pub fn slot_missing(slot: &str) -> ConnectError {
    ConnectError::fatal(format!(
        "The replication slot '{slot}' does not exist (dropped by hand?): changes since the last stored offset are lost to this connector. \
         Delete the connector's offsets (or choose a new slot.name) and restart it to take a new snapshot, or use snapshot.mode=when_needed."
    ))
}

/// Per-column facts the Relation message lacks.
struct CatalogColumn {
    not_null: bool,
    primary_key: bool,
    info: TypeInfo,
}

/// Builds the schema of a table from its Relation message and the catalog.
pub async fn table_schema(client: &Client, cfg: &PostgresConfig, rel: &Relation, mapping: TypeMapping) -> ConnectResult<TableSchema> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.attnotnull, \
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)), \
               CASE WHEN t.typcategory = 'A' THEN t.typelem END, \
               (SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder) FROM pg_enum e \
                  WHERE e.enumtypid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END) \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped",
            &[&rel.id],
        )
        .await
        .map_err(|e| pg_error("reading the table's columns", e))?;
    let mut catalog: HashMap<String, CatalogColumn> = HashMap::new();
    for r in rows {
        let labels: Option<String> = r.get(4);
        let elem: Option<u32> = r.get(3);
        catalog.insert(
            r.get(0),
            CatalogColumn {
                not_null: r.get(1),
                primary_key: r.get(2),
                info: TypeInfo { enum_labels: labels.map(|l| l.split(',').map(str::to_string).collect()), element_oid: elem },
            },
        );
    }
    let columns = rel
        .columns
        .iter()
        .map(|c| {
            let cat = catalog.get(&c.name);
            let info = cat.map(|k| k.info.clone()).unwrap_or_default();
            Column {
                name: c.name.clone(),
                pg_type: PgType::resolve(c.type_oid, c.type_modifier, &info),
                optional: !cat.is_some_and(|k| k.not_null),
                primary_key: cat.is_some_and(|k| k.primary_key),
                excluded: cfg.filters.column_excluded(&rel.namespace, &rel.name, &c.name),
            }
        })
        .collect();
    Ok(TableSchema::new(&cfg.topic_prefix, &rel.namespace, &rel.name, columns, mapping))
}

/// The Relation-like description of a table from the catalog (for the snapshot).
pub async fn relation_of(client: &Client, oid: u32, schema: &str, table: &str) -> ConnectResult<Relation> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, a.atttypmod FROM pg_attribute a \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )
        .await
        .map_err(|e| pg_error("reading the table's columns", e))?;
    Ok(Relation {
        id: oid,
        namespace: schema.to_string(),
        name: table.to_string(),
        replica_identity: b'd',
        columns: rows.iter().map(|r| crate::pgoutput::RelationColumn { key: false, name: r.get(0), type_oid: r.get(1), type_modifier: r.get(2) }).collect(),
    })
}

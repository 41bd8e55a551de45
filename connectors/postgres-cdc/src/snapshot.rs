//! The initial snapshot: every captured table read in one `REPEATABLE READ` transaction and
//! sent as `op: r` events (`source.snapshot` = `"true"`, `"last"` on the very last record).
//!
//! No change is lost between snapshot and streaming: the replication slot exists before the
//! snapshot transaction starts, and streaming starts at the slot's position. Duplicates are
//! possible: a change committed after the slot was created but before the snapshot transaction
//! took its snapshot appears in the snapshot (op `r`) *and* in the stream (op `c`/`u`/`d`);
//! applying events in order still yields the right final state. A snapshot interrupted by a
//! crash is started over (as Debezium does), so its records may repeat as well.

use futures::{StreamExt, pin_mut};
use sluice_sdk::{ConnectResult, SourceRecord, Struct, Value};
use tokio_postgres::Client;
use tokio_postgres::types::PgLsn;

use crate::client::{self, pg_error, qualified};
use crate::config::PostgresConfig;
use crate::envelope::{Op, SourceInfo};
use crate::offset;
use crate::pgoutput::Datum;
use crate::stream::{Out, now_us};
use crate::types::TypeMapping;

pub async fn run(db: &Client, catalog: &Client, cfg: &PostgresConfig, mapping: TypeMapping, out: &mut Out) -> ConnectResult<()> {
    db.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(|e| pg_error("starting the snapshot", e))?;
    let row = db
        .query_one("SELECT pg_current_wal_lsn(), txid_snapshot_xmin(txid_current_snapshot())::int8", &[])
        .await
        .map_err(|e| pg_error("starting the snapshot", e))?;
    let lsn = u64::from(row.get::<_, PgLsn>(0));
    let xid: i64 = row.get(1);
    let started = now_us();
    let partition = offset::partition(&cfg.topic_prefix);
    let tables = client::captured_tables(db, cfg).await?;
    tracing::info!(tables = tables.len(), "snapshot started");
    let mut held: Option<SourceRecord> = None;
    let mut count = 0u64;
    for (oid, schema, table) in tables {
        let rel = client::relation_of(catalog, oid, &schema, &table).await?;
        let t = client::table_schema(catalog, cfg, &rel, mapping).await?;
        let cols = rel.columns.iter().map(|c| format!("\"{}\"::text", c.name.replace('"', "\"\""))).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT {} FROM {}", if cols.is_empty() { "1" } else { &cols }, qualified(&schema, &table));
        let rows = db.query_raw(sql.as_str(), std::iter::empty::<&str>()).await.map_err(|e| pg_error(&format!("reading {schema}.{table}"), e))?;
        pin_mut!(rows);
        let info = SourceInfo { ts_ms: started / 1000, snapshot: "true", tx_id: Some(xid), lsn: Some(lsn as i64), sequence: None };
        let source = t.source(&cfg.topic_prefix, &cfg.dbname, &info);
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| pg_error(&format!("reading {schema}.{table}"), e))?;
            let tuple: Vec<Datum> = (0..rel.columns.len()).map(|i| row.get::<_, Option<&str>>(i).map_or(Datum::Null, |s| Datum::Text(s.to_string()))).collect();
            let after = t.row(&tuple, None, &cfg.unavailable_placeholder).map_err(sluice_sdk::ConnectError::data)?;
            let key = t.key(&after);
            let value = t.envelope(Op::Read, None, Some(after), source.clone(), now_us() / 1000);
            let record =
                SourceRecord::new(partition.clone(), offset::snapshot(lsn, xid, started, false), t.topic.clone(), Some(t.envelope_schema.clone()), value)
                    .with_key(t.key_schema.clone(), key);
            if let Some(prev) = held.replace(record) {
                out.push(prev).await?;
            }
            count += 1;
        }
    }
    db.batch_execute("COMMIT").await.map_err(|e| pg_error("ending the snapshot", e))?;
    if let Some(mut last) = held {
        mark_last(&mut last.value);
        last.source_offset = offset::snapshot(lsn, xid, started, true);
        out.push(last).await?;
    }
    tracing::info!(records = count, "snapshot finished");
    Ok(())
}

/// Sets `source.snapshot` to `"last"`.
fn mark_last(envelope: &mut Value) {
    if let Value::Struct(Struct { fields }) = envelope
        && let Some((_, Value::Struct(source))) = fields.iter_mut().find(|(n, _)| n == "source")
    {
        source.set("snapshot", "last");
    }
}

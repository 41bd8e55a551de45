//! The change stream: a background reader that (optionally) snapshots, then polls the slot
//! with `pg_logical_slot_peek_binary_changes` (pgoutput v1), decodes the messages and turns them
//! into Debezium change events, handed to the task through a bounded queue.
//!
//! Peeking never consumes the slot: the task advances it (`pg_replication_slot_advance`) only
//! once the runtime reports records acknowledged. Each peek therefore re-reads what is not yet
//! confirmed; records at or before the last position handed out are skipped, so the queue sees
//! every change exactly once per reader. Each peek reads up to the WAL flush point taken just
//! before it, so after a peek every commit below that point has been decoded — which makes that
//! point a safe heartbeat position.
//!
//! The last record of each transaction is held back until its Commit message arrives, so that it
//! can carry the commit's end LSN (`lsn_flush`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, pin_mut};
use sluice_sdk::{ConnectError, ConnectResult, OffsetMap, SourceRecord, Struct, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_postgres::types::PgLsn;

use crate::client::{self, pg_error};
use crate::config::PostgresConfig;
use crate::envelope::{LogicalMessages, Op, SourceInfo, TableSchema, TransactionMetadata, heartbeat_schemas, set_transaction, source_block, transaction_block};
use crate::offset::{self, Position};
use crate::pgoutput::{self, Datum, Message, PG_EPOCH_OFFSET_US, Relation};
use crate::snapshot;
use crate::types::TypeMapping;

/// What the reader should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub snapshot: bool,
    /// Stop after the snapshot (`snapshot.mode=initial_only`).
    pub snapshot_only: bool,
    /// Skip streamed records at or before this position.
    pub after: Position,
}

type Batch = ConnectResult<Vec<SourceRecord>>;

/// A running reader; dropping it stops the reader.
pub struct ChangeStream {
    rx: mpsc::Receiver<Batch>,
    handle: JoinHandle<()>,
}

impl ChangeStream {
    /// Starts the reader. `acknowledged` is the slot position the task may confirm (see
    /// [`crate::task`]); the reader advances the slot to it between peeks, since Postgres
    /// refuses to advance a slot while a peek is reading it.
    pub fn start(cfg: Arc<PostgresConfig>, plan: Plan, acknowledged: Arc<AtomicU64>) -> ChangeStream {
        let depth = (cfg.max_queue / cfg.max_batch).max(1);
        let (tx, rx) = mpsc::channel(depth);
        let handle = tokio::spawn(async move {
            let out = Out { tx, batch: Vec::with_capacity(cfg.max_batch), max: cfg.max_batch };
            if let Err(e) = run(cfg, plan, acknowledged, out.clone_sender()).await {
                let _ = out.tx.send(Err(e)).await;
            }
        });
        ChangeStream { rx, handle }
    }

    /// The next batch; `None` once the reader finished (after a snapshot-only run).
    /// Cancellation-safe.
    pub async fn next(&mut self) -> Option<Batch> {
        self.rx.recv().await
    }
}

impl Drop for ChangeStream {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// The reader's side of the queue, batching records.
pub struct Out {
    tx: mpsc::Sender<Batch>,
    batch: Vec<SourceRecord>,
    max: usize,
}

impl Out {
    fn clone_sender(&self) -> Out {
        Out { tx: self.tx.clone(), batch: Vec::with_capacity(self.max), max: self.max }
    }

    pub async fn push(&mut self, r: SourceRecord) -> ConnectResult<()> {
        self.batch.push(r);
        if self.batch.len() >= self.max { self.flush().await } else { Ok(()) }
    }

    pub async fn flush(&mut self) -> ConnectResult<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max));
        self.tx.send(Ok(b)).await.map_err(|_| ConnectError::fatal("the task stopped reading changes"))
    }
}

pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

async fn run(cfg: Arc<PostgresConfig>, plan: Plan, acknowledged: Arc<AtomicU64>, mut out: Out) -> ConnectResult<()> {
    let mapping = TypeMapping { decimal: cfg.decimal_mode, time: cfg.time_mode };
    let peek = client::connect(&cfg).await?;
    let catalog = client::connect(&cfg).await?;
    if plan.snapshot {
        snapshot::run(&peek, &catalog, &cfg, mapping, &mut out).await?;
        out.flush().await?;
        if plan.snapshot_only {
            tracing::info!("snapshot.mode=initial_only: snapshot done, not streaming");
            return Ok(());
        }
    }
    let mut d = Decoder::new(cfg.clone(), mapping, plan.after);
    let mut last_heartbeat = Instant::now();
    let mut confirmed = 0u64;
    loop {
        let target = acknowledged.load(Ordering::Acquire);
        if target > confirmed {
            match client::advance_slot(&peek, &cfg.slot, target).await {
                Ok(()) => {
                    tracing::debug!(lsn = %pgoutput::format_lsn(target), "advanced replication slot");
                    confirmed = target;
                }
                Err(e) if is_busy(&e) => tracing::debug!(error = %e, "slot busy; advancing later"),
                // Already there (advanced at start, or by an earlier reader of this task).
                Err(e) if e.to_string().contains("minimum is") => confirmed = target,
                Err(e) => return Err(e),
            }
        }
        let emitted_before = d.emitted;
        let flush = match peek_round(&peek, &catalog, &mut d, &mut out).await {
            Ok(f) => f,
            Err(e) if is_busy(&e) => {
                // Someone else (a manual peek, or pg_recvlogical) is reading the slot right now.
                tracing::debug!(error = %e, "slot busy; reading later");
                tokio::time::sleep(cfg.poll_interval).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        out.flush().await?;
        if let Some(interval) = cfg.heartbeat_interval
            && last_heartbeat.elapsed() >= interval
        {
            last_heartbeat = Instant::now();
            heartbeat(&catalog, &cfg, flush, &mut d, &mut out).await?;
        }
        if d.emitted == emitted_before {
            tokio::time::sleep(cfg.poll_interval).await;
        } else {
            // The next peek re-decodes everything the slot has not confirmed: give the runtime
            // up to poll.interval.ms to acknowledge this round first, so Postgres does not
            // decode the same WAL over and over while the records are still on their way.
            let deadline = Instant::now() + cfg.poll_interval;
            while acknowledged.load(Ordering::Acquire) < d.last_flush && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One `peek` of the slot up to the current flush point; returns that point.
async fn peek_round(peek: &Client, catalog: &Client, d: &mut Decoder, out: &mut Out) -> ConnectResult<u64> {
    let flush: PgLsn = peek.query_one("SELECT pg_current_wal_flush_lsn()", &[]).await.map_err(|e| pg_error("reading the WAL position", e))?.get(0);
    let slot = d.cfg.slot.clone();
    let publication = d.cfg.publication.clone();
    let rows = peek
        .query_raw(
            "SELECT lsn, data FROM pg_logical_slot_peek_binary_changes($1, $2, NULL, 'proto_version', '1', 'publication_names', $3, 'messages', 'true')",
            [&slot as &(dyn tokio_postgres::types::ToSql + Sync), &flush, &publication],
        )
        .await
        .map_err(|e| slot_error(&slot, e))?;
    pin_mut!(rows);
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| slot_error(&slot, e))?;
        let lsn: PgLsn = row.get(0);
        let data: &[u8] = row.get(1);
        let msg = pgoutput::decode(data).map_err(|e| ConnectError::fatal(format!("at LSN {lsn}: {e}")))?;
        d.handle(catalog, u64::from(lsn), msg, out).await?;
    }
    Ok(u64::from(flush))
}

/// `object_in_use` (55006): the slot is being read by another session.
fn is_busy(e: &ConnectError) -> bool {
    e.to_string().contains("(55006)")
}

fn slot_error(slot: &str, e: tokio_postgres::Error) -> ConnectError {
    if e.as_db_error().is_some_and(|db| db.code().code() == "42704") { client::slot_missing(slot) } else { pg_error("reading the replication slot", e) }
}

async fn heartbeat(catalog: &Client, cfg: &PostgresConfig, flush: u64, d: &mut Decoder, out: &mut Out) -> ConnectResult<()> {
    if let Some(q) = &cfg.heartbeat_query {
        catalog.batch_execute(q).await.map_err(|e| pg_error("running heartbeat.action.query", e))?;
    }
    let pos = Position { commit_lsn: flush, event: 0 };
    if pos <= d.after {
        return Ok(());
    }
    d.after = pos;
    let (ks, vs) = heartbeat_schemas();
    let now = now_us();
    let record = SourceRecord::new(
        d.partition.clone(),
        offset::heartbeat(flush, now),
        cfg.heartbeat_topic.clone(),
        Some(vs),
        Value::Struct(Struct::new().put("ts_ms", now / 1000)),
    )
    .with_key(Some(ks), Value::Struct(Struct::new().put("serverName", cfg.topic_prefix.clone())));
    out.push(record).await?;
    out.flush().await
}

/// The open transaction.
struct Tx {
    xid: u32,
    commit_lsn: u64,
    ts_us: i64,
    event: u64,
    /// Transaction metadata: Debezium's Postgres transaction id, `txId:LSN` (here the commit
    /// LSN, the same on BEGIN, the change events and END); whether BEGIN was sent; change
    /// events per `SCHEMA.TABLE`.
    id: String,
    began: bool,
    collections: Vec<(String, u64)>,
}

/// A relation as last described, and its schema if captured.
struct Known {
    relation: Relation,
    table: Option<Arc<TableSchema>>,
}

/// pgoutput messages → change events.
pub struct Decoder {
    cfg: Arc<PostgresConfig>,
    mapping: TypeMapping,
    partition: OffsetMap,
    relations: HashMap<u32, Known>,
    messages: LogicalMessages,
    transactions: Option<TransactionMetadata>,
    tx: Option<Tx>,
    /// The last record of the open transaction, held until the next one or the Commit.
    held: Option<SourceRecord>,
    last_commit_end: u64,
    /// The slot position the last record handed out allows (end of its transaction).
    last_flush: u64,
    /// Records at or before this position were handed out already.
    after: Position,
    /// Records handed out by this decoder.
    pub emitted: u64,
}

impl Decoder {
    pub fn new(cfg: Arc<PostgresConfig>, mapping: TypeMapping, after: Position) -> Decoder {
        Decoder {
            partition: offset::partition(&cfg.topic_prefix),
            messages: LogicalMessages::new(&cfg.topic_prefix),
            transactions: cfg.transaction_topic.clone().map(TransactionMetadata::new),
            cfg,
            mapping,
            relations: HashMap::new(),
            tx: None,
            held: None,
            last_commit_end: 0,
            last_flush: 0,
            after,
            emitted: 0,
        }
    }

    async fn handle(&mut self, catalog: &Client, lsn: u64, msg: Message, out: &mut Out) -> ConnectResult<()> {
        match msg {
            Message::Begin { final_lsn, timestamp, xid } => {
                let id = if self.transactions.is_some() { format!("{xid}:{final_lsn}") } else { String::new() };
                self.tx = Some(Tx { xid, commit_lsn: final_lsn, ts_us: timestamp + PG_EPOCH_OFFSET_US, event: 0, id, began: false, collections: Vec::new() });
            }
            Message::Commit { end_lsn, .. } => {
                self.end_transaction(lsn, out).await?;
                if let Some(held) = self.held.take() {
                    let SourceRecord { source_offset, .. } = &held;
                    let offset = offset::with_flush(source_offset.clone(), end_lsn);
                    out.push(SourceRecord { source_offset: offset, ..held }).await?;
                    self.last_flush = end_lsn;
                }
                self.last_commit_end = end_lsn;
                self.tx = None;
            }
            Message::Relation(rel) => {
                if self.relations.get(&rel.id).is_some_and(|k| k.relation == rel) {
                    return Ok(());
                }
                let table = if self.cfg.filters.table(&rel.namespace, &rel.name) {
                    let t = client::table_schema(catalog, &self.cfg, &rel, self.mapping).await?;
                    tracing::info!(table = %t.topic, columns = t.columns.len(), "table schema (re)loaded from a Relation message");
                    Some(Arc::new(t))
                } else {
                    None
                };
                self.relations.insert(rel.id, Known { relation: rel, table });
            }
            Message::Insert { relation, new } => {
                if let Some(t) = self.table(relation) {
                    let after = self.row(&t, &new, None)?;
                    self.emit(&t, lsn, Op::Create, None, Some(after), out).await?;
                }
            }
            Message::Update { relation, old, new } => {
                if let Some(t) = self.table(relation) {
                    // With REPLICA IDENTITY FULL the old tuple has the unchanged TOASTed values.
                    let full_old = old.as_deref();
                    let before = match &old {
                        Some(o) => Some(self.row(&t, o, None)?),
                        None => None,
                    };
                    let after = self.row(&t, &new, full_old)?;
                    let key_changed = before.as_ref().is_some_and(|b| t.key_schema.is_some() && t.key(b) != t.key(&after));
                    if key_changed {
                        // Debezium: a primary key change is a delete (+ tombstone) and a create.
                        self.emit(&t, lsn, Op::Delete, before, None, out).await?;
                        self.emit(&t, lsn, Op::Create, None, Some(after), out).await?;
                    } else {
                        self.emit(&t, lsn, Op::Update, before, Some(after), out).await?;
                    }
                }
            }
            Message::Delete { relation, old } => {
                if let Some(t) = self.table(relation) {
                    let before = self.row(&t, &old, None)?;
                    self.emit(&t, lsn, Op::Delete, Some(before), None, out).await?;
                }
            }
            Message::Truncate { relations, .. } => {
                for relation in relations {
                    if let Some(t) = self.table(relation) {
                        self.emit(&t, lsn, Op::Truncate, None, None, out).await?;
                    }
                }
            }
            Message::Message { transactional, prefix, content, .. } => self.logical_message(lsn, transactional, prefix, content, out).await?,
            Message::Type { .. } | Message::Origin { .. } => {}
        }
        Ok(())
    }

    /// A `pg_logical_emit_message` message → `PREFIX.message` (Debezium's shape). A
    /// transactional one is an event of its transaction; a non-transactional one arrives on its
    /// own, between transactions, at a WAL position above every commit decoded before it.
    async fn logical_message(&mut self, lsn: u64, transactional: bool, prefix: String, content: Vec<u8>, out: &mut Out) -> ConnectResult<()> {
        let (pos, xid, ts_us) = if transactional && self.tx.is_some() {
            match self.next_position() {
                Some((pos, xid, ts_us)) => (pos, Some(xid), ts_us),
                None => return Ok(()),
            }
        } else {
            let pos = Position { commit_lsn: lsn, event: 0 };
            if pos <= self.after {
                return Ok(());
            }
            self.after = pos;
            (pos, None, now_us())
        };
        let info = SourceInfo {
            ts_ms: ts_us / 1000,
            snapshot: "false",
            tx_id: xid.map(i64::from),
            lsn: Some(lsn as i64),
            sequence: Some(format!("[\"{}\",\"{lsn}\"]", self.last_commit_end)),
        };
        let source = source_block(&self.cfg.topic_prefix, &self.cfg.dbname, "", "", &info);
        let m = &self.messages;
        let record = SourceRecord::new(
            self.partition.clone(),
            offset::streaming(lsn, pos, xid.unwrap_or(0), ts_us),
            m.topic.clone(),
            Some(m.value_schema.clone()),
            m.value(&prefix, content, source, now_us() / 1000),
        )
        .with_key(Some(m.key_schema.clone()), m.key(&prefix));
        if xid.is_some() {
            // Part of the transaction: held like its row events, so the last one carries the commit.
            return self.hold(record, out).await;
        }
        out.push(record).await?;
        self.emitted += 1;
        Ok(())
    }

    fn table(&self, relation: u32) -> Option<Arc<TableSchema>> {
        self.relations.get(&relation).and_then(|k| k.table.clone())
    }

    fn row(&self, t: &TableSchema, tuple: &[Datum], fill: Option<&[Datum]>) -> ConnectResult<Struct> {
        t.row(tuple, fill, &self.cfg.unavailable_placeholder).map_err(ConnectError::data)
    }

    /// Numbers the next record of the open transaction; `None` if it was handed out before.
    fn next_position(&mut self) -> Option<(Position, u32, i64)> {
        let tx = self.tx.as_mut()?;
        tx.event += 1;
        let pos = Position { commit_lsn: tx.commit_lsn, event: tx.event };
        if pos <= self.after {
            return None;
        }
        self.after = pos;
        Some((pos, tx.xid, tx.ts_us))
    }

    async fn emit(&mut self, t: &TableSchema, lsn: u64, op: Op, before: Option<Struct>, after: Option<Struct>, out: &mut Out) -> ConnectResult<()> {
        if self.cfg.skipped_operations.iter().any(|s| s == op.code()) {
            return Ok(());
        }
        let tombstone = op == Op::Delete && self.cfg.tombstones && t.key_schema.is_some();
        let key = match (op, &before, &after) {
            (Op::Truncate, _, _) => Value::Null,
            (_, _, Some(a)) => t.key(a),
            (_, Some(b), None) => t.key(b),
            _ => Value::Null,
        };
        let block = self.transaction_event(t, lsn, out).await?;
        if let Some((pos, xid, ts_us)) = self.next_position() {
            let info = SourceInfo {
                ts_ms: ts_us / 1000,
                snapshot: "false",
                tx_id: Some(xid as i64),
                lsn: Some(lsn as i64),
                sequence: Some(format!("[\"{}\",\"{lsn}\"]", self.last_commit_end)),
            };
            let mut value = t.envelope(op, before, after, t.source(&self.cfg.topic_prefix, &self.cfg.dbname, &info), now_us() / 1000);
            if let Some(block) = block {
                set_transaction(&mut value, block);
            }
            let record =
                SourceRecord::new(self.partition.clone(), offset::streaming(lsn, pos, xid, ts_us), t.topic.clone(), Some(t.envelope_schema.clone()), value)
                    .with_key(if op == Op::Truncate { None } else { t.key_schema.clone() }, key.clone());
            self.hold(record, out).await?;
        }
        if tombstone && let Some((pos, xid, ts_us)) = self.next_position() {
            let record = SourceRecord::new(self.partition.clone(), offset::streaming(lsn, pos, xid, ts_us), t.topic.clone(), None, Value::Null)
                .with_key(t.key_schema.clone(), key);
            self.hold(record, out).await?;
        }
        Ok(())
    }

    /// With transaction metadata on: counts a change event of `t` in the open transaction
    /// (sending BEGIN before its first one) and returns the event's `transaction` block.
    async fn transaction_event(&mut self, t: &TableSchema, lsn: u64, out: &mut Out) -> ConnectResult<Option<Value>> {
        let (Some(meta), Some(tx)) = (&self.transactions, &mut self.tx) else { return Ok(None) };
        let begin = (!tx.began).then(|| {
            tx.began = true;
            (meta.key(&tx.id), meta.begin(&tx.id, tx.ts_us / 1000))
        });
        let per_table = match tx.collections.iter_mut().find(|(c, _)| *c == t.data_collection) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                tx.collections.push((t.data_collection.clone(), 1));
                1
            }
        };
        let total: u64 = tx.collections.iter().map(|(_, n)| n).sum();
        let block = transaction_block(&tx.id, total, per_table);
        if let Some((key, value)) = begin {
            self.transaction_record(lsn, key, value, out).await?;
        }
        Ok(Some(block))
    }

    /// With transaction metadata on: END after the last change event of a transaction that had any.
    async fn end_transaction(&mut self, lsn: u64, out: &mut Out) -> ConnectResult<()> {
        let (Some(meta), Some(tx)) = (&self.transactions, &self.tx) else { return Ok(()) };
        if !tx.began {
            return Ok(());
        }
        let (key, value) = (meta.key(&tx.id), meta.end(&tx.id, tx.ts_us / 1000, &tx.collections));
        self.transaction_record(lsn, key, value, out).await
    }

    /// A BEGIN or END record at the next position of the open transaction (skipped if it was
    /// handed out before a restart, like any other record).
    async fn transaction_record(&mut self, lsn: u64, key: Value, value: Value, out: &mut Out) -> ConnectResult<()> {
        let Some(meta) = &self.transactions else { return Ok(()) };
        let (topic, ks, vs) = (meta.topic.clone(), meta.key_schema.clone(), meta.value_schema.clone());
        if let Some((pos, xid, ts_us)) = self.next_position() {
            let record = SourceRecord::new(self.partition.clone(), offset::streaming(lsn, pos, xid, ts_us), topic, Some(vs), value).with_key(Some(ks), key);
            self.hold(record, out).await?;
        }
        Ok(())
    }

    async fn hold(&mut self, record: SourceRecord, out: &mut Out) -> ConnectResult<()> {
        if let Some(prev) = self.held.replace(record) {
            out.push(prev).await?;
        }
        self.emitted += 1;
        Ok(())
    }
}

/// How long the task waits for a batch before returning an empty poll.
pub const POLL_WAIT: Duration = Duration::from_millis(500);

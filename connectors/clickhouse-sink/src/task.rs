//! The sink task: buffers records per table (per topic-partition in exactly-once mode) across
//! `put` calls and inserts a buffer when it holds `bufferCount` rows or its first row is
//! `bufferFlushTime` old; `pre_commit` reports only what is inserted.
//!
//! Pipelining (at-least-once mode): a full buffer is encoded, then its INSERT runs in the
//! background while the next buffer fills; at most one insert is in flight, and the next flush,
//! `pre_commit`, `close` and `stop` wait for it first. Offsets count as inserted only once it
//! succeeded; a failed insert puts its records back in front of their buffer. In exactly-once
//! mode every insert completes before `put` goes on, so batch boundaries stay exactly as
//! the state table recorded them.
//!
//! Failure handling: a temporary ClickHouse error makes `put` return `Retriable`, so the
//! runtime retries the same batch with backoff; the task remembers the next offset it accepted
//! per partition and drops what it already holds, so the retry buffers nothing twice. While
//! ClickHouse is down the buffers stop growing at `bufferCount` (`put` keeps failing), which
//! stops consumption: memory stays bounded. `pre_commit` never fails on a temporary error (it
//! returns the offsets inserted so far). Records that cannot be converted go to the errant
//! record reporter (DLQ), or are skipped/fail the task per `errors.tolerance` when the runtime
//! has no reporter. A rebalance drops the buffers of revoked partitions: they are consumed
//! again from the committed offsets.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_sdk::{ConnectError, ConnectResult, Props, Schema, SinkRecord, SinkTask, SinkTaskContext, TopicPartition, Value, async_trait};

use crate::client::{Ch, ChError, Column, ErrorKind};
use crate::config::SinkConfig;
use crate::evolve::{TableDesign, add_column_sql, create_table_sql};
use crate::row::{BatchEncoder, Row, row_of};
use crate::state::{BatchState, StateTable};

/// The key of a buffer: the table and, in exactly-once mode, the partition.
type BufferKey = (String, Option<TopicPartition>);

struct Buffer {
    records: Vec<SinkRecord>,
    /// Per partition: the first and last offset the buffer covers (also of records dropped as errant).
    ranges: BTreeMap<TopicPartition, (i64, i64)>,
    since: Instant,
}

impl Buffer {
    /// Appends a record of partition `tp`; returns how many records the buffer holds.
    fn add(&mut self, tp: &TopicPartition, rec: SinkRecord) -> usize {
        let offset = rec.kafka_offset;
        self.records.push(rec);
        match self.ranges.get_mut(tp) {
            Some(range) => range.1 = offset,
            None => {
                self.ranges.insert(tp.clone(), (offset, offset));
            }
        }
        self.records.len()
    }
}

/// An insert running in the background (at most one).
struct InFlight {
    key: BufferKey,
    buf: Buffer,
    rows: usize,
    started: Instant,
    handle: tokio::task::JoinHandle<Result<(), ChError>>,
}

struct TableInfo {
    columns: Arc<Vec<Column>>,
    fetched: Instant,
}

struct Running {
    cfg: SinkConfig,
    ch: Ch,
    ctx: Arc<dyn SinkTaskContext>,
    state: Option<StateTable>,
    tables: HashMap<String, TableInfo>,
    buffers: HashMap<BufferKey, Buffer>,
    /// Per partition: the next offset to accept (older records are replays of what we hold).
    accepted: HashMap<TopicPartition, i64>,
    /// Per partition: one past the last offset inserted.
    inserted: HashMap<TopicPartition, i64>,
    /// Exactly-once: a batch whose insert may not have finished, rebuilt exactly.
    recovery: HashMap<TopicPartition, (i64, i64)>,
    in_flight: Option<InFlight>,
    /// The partition and buffer of the last record accepted (a batch holds long runs of one
    /// partition: no key to build and clone per record).
    route: Option<(TopicPartition, BufferKey)>,
    batches: u64,
    rows: u64,
}

/// The ClickHouse sink task.
#[derive(Default)]
pub struct ClickHouseSinkTask {
    running: Option<Running>,
}

impl ClickHouseSinkTask {
    fn running(&mut self) -> ConnectResult<&mut Running> {
        self.running.as_mut().ok_or_else(|| ConnectError::fatal("the task is not started"))
    }
}

#[async_trait]
impl SinkTask for ClickHouseSinkTask {
    async fn start(&mut self, props: Props, ctx: Arc<dyn SinkTaskContext>) -> ConnectResult<()> {
        let cfg = SinkConfig::parse(&props)?;
        let ch = Ch::connect(&cfg).await?;
        let state = if cfg.exactly_once {
            let st = StateTable { table: cfg.state_table.clone(), connector: ctx.connector().to_string() };
            st.ensure(&ch).await.map_err(|e| e.into_connect("cannot create the exactly-once state table"))?;
            Some(st)
        } else {
            None
        };
        self.running = Some(Running {
            cfg,
            ch,
            ctx,
            state,
            tables: HashMap::new(),
            buffers: HashMap::new(),
            accepted: HashMap::new(),
            inserted: HashMap::new(),
            recovery: HashMap::new(),
            in_flight: None,
            route: None,
            batches: 0,
            rows: 0,
        });
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        // Records of these partitions may already be buffered: the runtime can hand them to
        // `put` before it reports the assignment. They are kept (see `resume_from_state`).
        let r = self.running()?;
        if r.state.is_some() {
            r.resume_from_state(partitions).await?;
        }
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        let r = self.running()?;
        r.flush_due(false).await?;
        for rec in records {
            r.accept(rec).await?;
        }
        // Have pre_commit called soon: so that a lingering buffer is inserted even if no more
        // data comes, and a finished background insert gets its offsets committed. Not while an
        // insert is still running: pre_commit would wait for it and stall consumption.
        let finished = r.in_flight.as_ref().map(|f| f.handle.is_finished());
        if finished.unwrap_or(!r.buffers.is_empty()) {
            r.ctx.request_commit();
        }
        Ok(())
    }

    async fn pre_commit(&mut self, offsets: &HashMap<TopicPartition, i64>) -> ConnectResult<HashMap<TopicPartition, i64>> {
        let r = self.running()?;
        let flushed = match r.settle().await {
            Ok(()) => r.flush_due(false).await,
            Err(e) => Err(e),
        };
        match flushed {
            Err(e) if e.is_retriable() => tracing::warn!(error = %e, "insert failed; it is retried"),
            other => other?,
        }
        if !r.buffers.is_empty() {
            r.ctx.request_commit();
        }
        let held: HashSet<&TopicPartition> =
            r.buffers.values().chain(r.in_flight.as_ref().map(|f| &f.buf)).flat_map(|b| b.ranges.keys()).chain(r.recovery.keys()).collect();
        Ok(offsets
            .iter()
            .filter_map(|(tp, next)| if held.contains(tp) { r.inserted.get(tp).map(|o| (tp.clone(), *o)) } else { Some((tp.clone(), *next)) })
            .collect())
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        let r = self.running()?;
        if let Err(e) = r.settle().await {
            tracing::warn!(error = %e, "the last insert failed; its records are consumed again");
        }
        for tp in partitions {
            r.forget(tp);
        }
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(mut r) = self.running.take() {
            if let Err(e) = r.settle().await {
                tracing::warn!(error = %e, "the last insert failed; its records are consumed again");
            }
            let avg = r.rows.checked_div(r.batches).unwrap_or(0);
            tracing::info!(batches = r.batches, rows = r.rows, avg_rows_per_insert = avg, "ClickHouse sink task stopped");
        }
    }
}

impl Running {
    /// Drops everything held for a revoked partition.
    fn forget(&mut self, tp: &TopicPartition) {
        self.accepted.remove(tp);
        self.inserted.remove(tp);
        self.recovery.remove(tp);
        self.forget_buffered(tp);
    }

    /// Drops a partition's buffered records older than `start`; returns the offsets left (first, last).
    fn drop_before(&mut self, tp: &TopicPartition, start: i64) -> Option<(i64, i64)> {
        let key = (self.cfg.table_for(&tp.topic), Some(tp.clone()));
        let buf = self.buffers.get_mut(&key)?;
        buf.records.retain(|r| r.kafka_offset >= start);
        let kept = buf.records.first().zip(buf.records.last()).map(|(a, b)| (a.kafka_offset, b.kafka_offset));
        match kept {
            Some(range) => {
                buf.ranges.insert(tp.clone(), range);
            }
            None => {
                self.buffers.remove(&key);
            }
        }
        kept
    }

    /// Drops a partition's buffered records.
    fn forget_buffered(&mut self, tp: &TopicPartition) {
        self.buffers.retain(|(_, key_tp), buf| {
            if key_tp.as_ref() == Some(tp) {
                return false;
            }
            if buf.ranges.remove(tp).is_some() {
                buf.records.retain(|r| !(r.topic == tp.topic && r.kafka_partition == tp.partition));
            }
            !buf.ranges.is_empty()
        });
    }

    /// Exactly-once: reads the state table and rewinds/skips each partition to match it.
    async fn resume_from_state(&mut self, partitions: &[TopicPartition]) -> ConnectResult<()> {
        let Some(st) = &self.state else { return Ok(()) };
        let mut attempt = 0u32;
        let states = loop {
            match st.load(&self.ch).await {
                Ok(s) => break s,
                Err(e) if e.kind == ErrorKind::Temporary && attempt < 30 => {
                    tracing::warn!(error = %e, "cannot read the exactly-once state; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into_connect("cannot read the exactly-once state table")),
            }
        };
        let mut reset = HashMap::new();
        let mut complete = Vec::new();
        for tp in partitions {
            let (start, recovery) = match states.get(tp) {
                Some(BatchState::After { max }) => (max + 1, None),
                Some(BatchState::Before { min, max }) => {
                    tracing::info!(partition = %tp, min, max, "the last insert may be incomplete; rebuilding the same batch");
                    (*min, Some((*min, *max)))
                }
                None => continue,
            };
            self.inserted.insert(tp.clone(), start);
            if let Some(range) = recovery {
                self.recovery.insert(tp.clone(), range);
            }
            // Keep what is already buffered only if it continues exactly at `start` (and, when
            // rebuilding a batch, does not go past its end).
            let kept = self.drop_before(tp, start);
            let keep = kept.is_some_and(|(first, last)| first == start && recovery.is_none_or(|(_, max)| last <= max));
            if let (true, Some((_, last)), Some((_, max))) = (keep, kept, recovery)
                && last == max
            {
                complete.push(tp.clone());
            }
            if !keep {
                self.forget_buffered(tp);
                self.accepted.insert(tp.clone(), start);
                reset.insert(tp.clone(), start);
            }
        }
        if !reset.is_empty() {
            tracing::info!(partitions = ?reset, "exactly-once: resuming from the state table");
            self.ctx.reset_offsets(reset);
        }
        for tp in complete {
            let key = (self.cfg.table_for(&tp.topic), Some(tp.clone()));
            self.finish_recovery(&key, &tp).await?;
        }
        Ok(())
    }

    /// Takes one record into its buffer, inserting buffers that are full (or, in recovery,
    /// complete). Records older than what the partition already accepted are dropped.
    async fn accept(&mut self, rec: SinkRecord) -> ConnectResult<()> {
        let (tp, key) = match self.route.take() {
            Some(route) if route.0.partition == rec.kafka_partition && route.0.topic == rec.topic => route,
            _ => {
                let tp = TopicPartition::new(&rec.topic, rec.kafka_partition);
                let key: BufferKey = (self.cfg.table_for(&rec.topic), self.state.is_some().then(|| tp.clone()));
                (tp, key)
            }
        };
        let result = self.accept_routed(rec, &tp, &key).await;
        self.route = Some((tp, key));
        result
    }

    async fn accept_routed(&mut self, rec: SinkRecord, tp: &TopicPartition, key: &BufferKey) -> ConnectResult<()> {
        if self.accepted.get(tp).is_some_and(|next| rec.kafka_offset < *next) {
            return Ok(());
        }
        let recovery = self.recovery.get(tp).copied();
        if let Some((_, max)) = recovery
            && rec.kafka_offset > max
        {
            self.finish_recovery(key, tp).await?;
        }
        let offset = rec.kafka_offset;
        let buffered = match self.buffers.get_mut(key) {
            Some(buf) => buf.add(tp, rec),
            None => {
                let mut buf = Buffer { records: Vec::new(), ranges: BTreeMap::new(), since: Instant::now() };
                let n = buf.add(tp, rec);
                self.buffers.insert(key.clone(), buf);
                n
            }
        };
        let full = buffered >= self.cfg.buffer_count;
        match self.accepted.get_mut(tp) {
            Some(next) => *next = offset + 1,
            None => {
                self.accepted.insert(tp.clone(), offset + 1);
            }
        }
        match recovery {
            Some((_, max)) if offset >= max => self.finish_recovery(key, tp).await,
            Some(_) => Ok(()),
            None if full => self.flush(key).await,
            None => Ok(()),
        }
    }

    async fn finish_recovery(&mut self, key: &BufferKey, tp: &TopicPartition) -> ConnectResult<()> {
        if self.buffers.contains_key(key) {
            self.flush(key).await?;
        }
        self.recovery.remove(tp);
        Ok(())
    }

    /// Inserts the buffers that are full or older than the linger (all of them if `force`).
    async fn flush_due(&mut self, force: bool) -> ConnectResult<()> {
        let due: Vec<BufferKey> = self
            .buffers
            .iter()
            .filter(|(key, b)| {
                let in_recovery = key.1.as_ref().is_some_and(|tp| self.recovery.contains_key(tp));
                !in_recovery && (force || b.records.len() >= self.cfg.buffer_count || b.since.elapsed() >= self.cfg.linger)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.flush(&key).await?;
        }
        Ok(())
    }

    /// Inserts one buffer: waits for the insert in flight, then starts this one (in the
    /// background in at-least-once mode; to completion in exactly-once mode). On failure the
    /// records stay buffered for the next attempt.
    async fn flush(&mut self, key: &BufferKey) -> ConnectResult<()> {
        self.settle().await?;
        self.start_insert(key).await?;
        if self.state.is_some() { self.settle().await } else { Ok(()) }
    }

    /// Encodes the buffer under `key` and spawns its insert.
    async fn start_insert(&mut self, key: &BufferKey) -> ConnectResult<()> {
        let Some(mut buf) = self.buffers.remove(key) else { return Ok(()) };
        let encoded = match self.columns(&key.0, &buf.records).await {
            Ok(columns) => self.encode(&key.0, &columns, &mut buf),
            Err(e) => Err(e),
        };
        let (sql, body, rows) = match encoded {
            Ok(x) => x,
            Err(e) => {
                self.restore(key.clone(), buf);
                return Err(e);
            }
        };
        let ranges: Vec<(TopicPartition, i64, i64)> = buf.ranges.iter().map(|(tp, (a, b))| (tp.clone(), *a, *b)).collect();
        let (ch, state, settings) = (self.ch.clone(), self.state.clone(), self.cfg.settings.clone());
        let handle = tokio::spawn(async move { insert_with_state(&ch, state.as_ref(), settings, &sql, body, rows, &ranges).await });
        self.in_flight = Some(InFlight { key: key.clone(), buf, rows, started: Instant::now(), handle });
        Ok(())
    }

    /// Waits for the insert in flight. Success: its offsets count as inserted. Failure: its
    /// records go back in front of their buffer; a failure on the table's shape describes the
    /// table again and retries once at once.
    async fn settle(&mut self) -> ConnectResult<()> {
        let mut refreshed = false;
        while let Some(f) = self.in_flight.take() {
            let result = f
                .handle
                .await
                .unwrap_or_else(|e| Err(ChError { code: None, message: format!("the insert task ended abnormally: {e}"), kind: ErrorKind::Temporary }));
            let table = f.key.0.clone();
            match result {
                Ok(()) => {
                    tracing::info!(table, rows = f.rows, ms = f.started.elapsed().as_millis() as u64, "inserted batch");
                    for (tp, (_, max)) in &f.buf.ranges {
                        self.inserted.insert(tp.clone(), max + 1);
                    }
                    self.batches += 1;
                    self.rows += f.rows as u64;
                }
                Err(e) if e.kind == ErrorKind::SchemaChanged && !refreshed => {
                    tracing::warn!(table, error = %e, "insert failed on the table's shape; describing it again");
                    self.tables.remove(&table);
                    refreshed = true;
                    self.restore(f.key.clone(), f.buf);
                    self.start_insert(&f.key).await?;
                }
                Err(e) => {
                    self.restore(f.key, f.buf);
                    return Err(e.into_connect(&format!("insert into {table} failed")));
                }
            }
        }
        Ok(())
    }

    /// Puts a buffer whose insert did not happen back, in front of what was buffered since.
    fn restore(&mut self, key: BufferKey, mut buf: Buffer) {
        if let Some(newer) = self.buffers.remove(&key) {
            buf.records.extend(newer.records);
            for (tp, (first, last)) in newer.ranges {
                buf.ranges.entry(tp).and_modify(|r| r.1 = last).or_insert((first, last));
            }
        }
        self.buffers.insert(key, buf);
    }

    /// Encodes the buffer; records that cannot be written are reported and removed from it.
    fn encode(&self, table: &str, columns: &[Column], buf: &mut Buffer) -> ConnectResult<(String, Vec<u8>, usize)> {
        let mut bad: Vec<(usize, String)> = Vec::new();
        let (sql, body, rows) = {
            let mut rows: Vec<Row<'_>> = Vec::with_capacity(buf.records.len());
            let mut row_index = Vec::with_capacity(buf.records.len());
            for (i, rec) in buf.records.iter().enumerate() {
                match row_of(rec, self.cfg.unwrap) {
                    Ok(Some(row)) => {
                        rows.push(row);
                        row_index.push(i);
                    }
                    Ok(None) => {}
                    Err(e) => bad.push((i, e)),
                }
            }
            let mut enc = BatchEncoder::new(columns, &rows, &self.cfg.version_column, &self.cfg.deleted_column, buf.records.len() * 64);
            if self.ch.validation {
                enc.body = enc.header();
            }
            for (row, i) in rows.iter().zip(row_index) {
                if let Err(e) = enc.push(row) {
                    bad.push((i, e));
                }
            }
            (enc.statement(&self.ch.qualified(table), self.ch.validation), std::mem::take(&mut enc.body), enc.rows)
        };
        if !bad.is_empty() {
            bad.sort_by_key(|(i, _)| *i);
            for (i, msg) in &bad {
                self.errant(&buf.records[*i], format!("cannot write to {table}: {msg}"))?;
            }
            let drop: HashSet<usize> = bad.iter().map(|(i, _)| *i).collect();
            let mut i = 0;
            buf.records.retain(|_| {
                i += 1;
                !drop.contains(&(i - 1))
            });
        }
        Ok((sql, body, rows))
    }

    /// A record that cannot be written: to the DLQ, skipped, or failing the task.
    fn errant(&self, record: &SinkRecord, message: String) -> ConnectResult<()> {
        let err = ConnectError::data(message);
        match self.ctx.errant_record_reporter() {
            Some(reporter) => reporter.report(record, &err),
            None if self.cfg.tolerate_errors => {
                tracing::warn!(topic = %record.topic, partition = record.kafka_partition, offset = record.kafka_offset, error = %err, "skipping a record (errors.tolerance=all)");
                Ok(())
            }
            None => Err(err),
        }
    }

    /// The table's columns: cached, described, created or evolved as configured.
    async fn columns(&mut self, table: &str, records: &[SinkRecord]) -> ConnectResult<Arc<Vec<Column>>> {
        let fresh = |t: &TableInfo| self.cfg.table_refresh.is_none_or(|every| t.fetched.elapsed() < every);
        if let Some(cached) = self.tables.get(table).filter(|t| fresh(t)).map(|t| t.columns.clone())
            && (!self.cfg.auto_evolve || !self.evolve(table, &cached, records).await?)
        {
            return Ok(cached);
        }
        let mut columns = match self.describe(table).await? {
            Some(cols) => cols,
            None if self.cfg.auto_create => {
                let sql = self
                    .create_sql(table, records)
                    .ok_or_else(|| ConnectError::fatal(format!("table {table} does not exist and the records carry no schema to create it from")))?;
                tracing::info!(table, sql, "creating table");
                self.ch.execute(&sql).await.map_err(|e| e.into_connect(&format!("cannot create table {table}")))?;
                self.describe(table).await?.ok_or_else(|| ConnectError::fatal(format!("table {table} vanished after creation")))?
            }
            None => {
                return Err(ConnectError::fatal(format!(
                    "table {}.{table} does not exist: create it, map the topic with topic2TableMap, or set auto.create=true",
                    self.cfg.database
                )));
            }
        };
        if self.cfg.auto_evolve && self.evolve(table, &columns, records).await? {
            columns = self.describe(table).await?.unwrap_or(columns);
        }
        let columns = Arc::new(columns);
        self.tables.insert(table.to_string(), TableInfo { columns: columns.clone(), fetched: Instant::now() });
        Ok(columns)
    }

    async fn describe(&self, table: &str) -> ConnectResult<Option<Vec<Column>>> {
        self.ch.describe(table).await.map_err(|e| e.into_connect(&format!("cannot describe table {table}")))
    }

    /// The row schema of the first record that has one, and whether records are change events.
    fn create_sql(&self, table: &str, records: &[SinkRecord]) -> Option<String> {
        let rec = records.iter().find(|r| r.value_schema.is_some() && !r.value.is_null())?;
        let schema = rec.value_schema.as_deref()?;
        let is_change = self.cfg.unwrap && sluice_codecs::debezium::is_change_event(&rec.value);
        let row_schema: &Schema = if is_change { &schema.field_named("after").or(schema.field_named("before"))?.schema } else { schema };
        let keys: Vec<String> = match (&rec.key, rec.key_schema.as_deref()) {
            (Value::Struct(_), Some(ks)) => ks.fields.iter().map(|f| f.name.clone()).filter(|k| row_schema.field_named(k).is_some()).collect(),
            _ => Vec::new(),
        };
        let change = is_change.then_some((self.cfg.version_column.as_str(), self.cfg.deleted_column.as_str(), keys));
        Some(create_table_sql(&self.ch, table, &TableDesign { row_schema, change }))
    }

    /// Adds columns for fields the table lacks; returns whether it changed the table.
    async fn evolve(&self, table: &str, columns: &[Column], records: &[SinkRecord]) -> ConnectResult<bool> {
        let known: HashSet<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let mut seen = HashSet::new();
        let mut added = Vec::new();
        for rec in records {
            let Ok(Some(row)) = row_of(rec, self.cfg.unwrap) else { continue };
            let Some(schema) = row.fields.schema() else { continue };
            if !seen.insert(schema as *const Schema as usize) {
                continue;
            }
            for f in &schema.fields {
                if !known.contains(f.name.as_str()) && !added.iter().any(|(n, _)| *n == f.name) {
                    added.push((f.name.clone(), add_column_sql(&self.ch, table, &f.name, &f.schema)));
                }
            }
        }
        for (name, sql) in &added {
            tracing::info!(table, column = %name, sql, "adding column (auto.evolve)");
            match self.ch.execute(sql).await {
                Ok(()) => {}
                Err(e) if e.code == Some(15) || e.code == Some(44) => {} // added meanwhile by another task
                Err(e) => return Err(e.into_connect(&format!("cannot add column {name} to {table}"))),
            }
        }
        Ok(!added.is_empty())
    }
}

/// Writes BEFORE, the rows, AFTER (exactly-once), or only the rows.
async fn insert_with_state(
    ch: &Ch,
    state: Option<&StateTable>,
    mut settings: Vec<(String, String)>,
    sql: &str,
    body: Vec<u8>,
    rows: usize,
    ranges: &[(TopicPartition, i64, i64)],
) -> Result<(), ChError> {
    if let Some(st) = state {
        st.write(ch, ranges, false).await?;
        if rows > 0 {
            if ch.version.dedup_token()
                && let [(tp, min, max)] = ranges
            {
                settings.push(("insert_deduplicate".into(), "1".into()));
                settings.push(("insert_deduplication_token".into(), format!("{}-{}-{}-{min}-{max}", st.connector, tp.topic, tp.partition)));
            }
            ch.insert(sql, body.into(), &settings).await?;
        }
        st.write(ch, ranges, true).await
    } else if rows > 0 {
        ch.insert(sql, body.into(), &settings).await
    } else {
        Ok(())
    }
}

//! The source task: prepares the publication and slot, decides from the stored offset whether
//! to snapshot and where to resume, hands out the [`ChangeStream`]'s batches, and advances the
//! slot when the runtime reports records acknowledged.
//!
//! Slot safety: `commit_record` sees acknowledged records in order; each `lsn_flush` it sees is a
//! point all of whose earlier changes are in Kafka. `commit` (called after the runtime stored
//! the offsets) publishes the highest such point, and the reader advances the slot to it before
//! its next peek (Postgres refuses to advance a slot while it is being read). A crash between the two replays at
//! most the unstored window; the stored offset's position filters the replay, so duplicates come
//! only from records acknowledged but whose offsets were not yet stored.
//!
//! Failures: when Postgres goes away the reader is restarted from the last position handed out,
//! with the runtime's backoff, up to `errors.max.retries` consecutive failures; then the task
//! fails with the last error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sluice_sdk::{ConnectError, ConnectResult, OffsetMap, Props, RecordMetadata, SourceRecord, SourceTask, SourceTaskContext, async_trait};

use crate::client;
use crate::config::{PostgresConfig, SnapshotMode};
use crate::offset::{self, Position, Resume};
use crate::stream::{ChangeStream, POLL_WAIT, Plan};

/// The Postgres CDC source task (one per connector, as with Debezium).
#[derive(Default)]
pub struct PostgresSourceTask {
    cfg: Option<Arc<PostgresConfig>>,
    stream: Option<ChangeStream>,
    /// What a restarted reader must do: updated with every batch handed out.
    plan: Option<Plan>,
    failures: u32,
    /// The highest slot position acknowledged so far (`commit_record`).
    acknowledged: u64,
    /// What the reader may confirm to the slot: `acknowledged` as of the last `commit`.
    shared_ack: Arc<AtomicU64>,
    finished: bool,
}

impl PostgresSourceTask {
    fn cfg(&self) -> ConnectResult<&Arc<PostgresConfig>> {
        self.cfg.as_ref().ok_or_else(|| ConnectError::fatal("task not started"))
    }

    /// Updates the restart plan from the last record handed out.
    fn track(&mut self, last: &SourceRecord) {
        let Some(plan) = self.plan.as_mut() else { return };
        match offset::resume(Some(&last.source_offset)) {
            Resume::Stream { after, .. } => {
                plan.snapshot = false;
                plan.after = after;
            }
            Resume::SnapshotIncomplete | Resume::Fresh => {}
        }
    }
}

#[async_trait]
impl SourceTask for PostgresSourceTask {
    async fn start(&mut self, props: Props, ctx: SourceTaskContext) -> ConnectResult<()> {
        let cfg = Arc::new(PostgresConfig::parse(&props)?);
        let control = client::connect(&cfg).await?;
        client::ensure_publication(&control, &cfg).await?;
        let stored = ctx.offset_reader.offset(&offset::partition(&cfg.topic_prefix));
        let resume = offset::resume(stored.as_ref());
        let slot = client::slot_position(&control, &cfg.slot).await?;
        let mode = cfg.snapshot_mode;
        let snapshot_allowed = mode != SnapshotMode::NoData;
        let mut plan = Plan { snapshot: false, snapshot_only: mode == SnapshotMode::InitialOnly, after: Position::default() };
        match (resume, slot) {
            (Resume::Fresh, slot) => {
                if slot.is_none() {
                    client::create_slot(&control, &cfg.slot).await?;
                }
                plan.snapshot = snapshot_allowed;
            }
            (Resume::SnapshotIncomplete, slot) => {
                if slot.is_none() {
                    client::create_slot(&control, &cfg.slot).await?;
                }
                plan.snapshot = snapshot_allowed;
            }
            (Resume::Stream { .. }, None) if mode == SnapshotMode::WhenNeeded => {
                tracing::warn!(slot = %cfg.slot, "replication slot missing; snapshot.mode=when_needed takes a new snapshot");
                client::create_slot(&control, &cfg.slot).await?;
                plan.snapshot = true;
            }
            (Resume::Stream { .. }, None) => return Err(client::slot_missing(&cfg.slot)),
            (Resume::Stream { after, flush }, Some(confirmed)) => {
                plan.after = after;
                plan.snapshot = mode == SnapshotMode::Always;
                if let Some(f) = flush.filter(|&f| f > confirmed) {
                    // Acknowledged and stored before the last stop, but the slot never heard.
                    client::advance_slot(&control, &cfg.slot, f).await?;
                }
                if mode == SnapshotMode::InitialOnly {
                    self.finished = true;
                }
            }
        }
        tracing::info!(slot = %cfg.slot, publication = %cfg.publication, snapshot = plan.snapshot, after = ?plan.after, "postgres cdc task starting");
        if !self.finished {
            self.stream = Some(ChangeStream::start(cfg.clone(), plan, self.shared_ack.clone()));
        }
        self.plan = Some(plan);
        self.cfg = Some(cfg);
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let Some(stream) = self.stream.as_mut() else {
            tokio::time::sleep(POLL_WAIT).await;
            return Ok(Vec::new());
        };
        let next = match tokio::time::timeout(POLL_WAIT, stream.next()).await {
            Err(_) => return Ok(Vec::new()),
            Ok(n) => n,
        };
        match next {
            Some(Ok(batch)) => {
                self.failures = 0;
                if let Some(last) = batch.last() {
                    self.track(last);
                }
                Ok(batch)
            }
            None => {
                self.stream = None;
                self.finished = true;
                Ok(Vec::new())
            }
            Some(Err(e)) => {
                self.stream = None;
                let cfg = self.cfg()?.clone();
                let exhausted = cfg.max_retries.is_some_and(|m| self.failures >= m);
                if !e.is_retriable() || exhausted {
                    let tries = if e.is_retriable() { format!(" (gave up after {} retries)", self.failures) } else { String::new() };
                    return Err(ConnectError::fatal(format!("{e}{tries}")));
                }
                self.failures += 1;
                tracing::warn!(error = %e, attempt = self.failures, "postgres change stream failed; restarting it");
                if let Some(plan) = self.plan {
                    self.stream = Some(ChangeStream::start(cfg, plan, self.shared_ack.clone()));
                }
                Err(e)
            }
        }
    }

    async fn commit_record(&mut self, source_offset: &OffsetMap, _metadata: &RecordMetadata) -> ConnectResult<()> {
        if let Some(f) = offset::flush_of(source_offset) {
            self.acknowledged = self.acknowledged.max(f);
        }
        Ok(())
    }

    async fn commit(&mut self) -> ConnectResult<()> {
        // The offsets are stored: the reader may now confirm this position to the slot.
        self.shared_ack.fetch_max(self.acknowledged, Ordering::AcqRel);
        Ok(())
    }

    async fn stop(&mut self) {
        self.stream = None;
    }
}

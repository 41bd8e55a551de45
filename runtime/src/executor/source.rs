//! The source executor (Connect's `WorkerSourceTask`): `poll` → convert → produce → track
//! acknowledgements → store offsets.
//!
//! Offsets: every record is registered in a [`SubmittedRecords`] queue before it is sent. The
//! producer's delivery callback marks it acknowledged. Every `offset.flush.interval.ms` (and
//! at stop) the acknowledged *prefix* of the queue is taken and, per source partition, the
//! offset of its last record is stored; so a stored offset never runs ahead of a record the
//! broker has not acknowledged, and a crash replays at most the unflushed window (at-least-once).
//!
//! Each polled record runs through the connector's [`TransformChain`] and is converted; a
//! failure follows `errors.*` ([`super::errors`]): retried if retriable, then fail the task or
//! skip the record (its offset still counts). Source connectors have no dead letter queue, as
//! in Connect.
//!
//! Backpressure: the producer's queue is bounded (`queue.buffering.max.kbytes`, 32 MiB unless
//! overridden; Java's `buffer.memory` given as `producer.override.buffer.memory` or the worker's
//! `producer.buffer.memory` is honoured too; `queue.buffering.max.messages` bounds the records);
//! when it is full the executor waits before polling again, so memory per task stays bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use sluice_rest_api::ConnectorState;
use sluice_sdk::{ConnectError, ConnectResult, OffsetMap, RecordMetadata, SourceRecord, SourceTask, SourceTaskContext};
use tokio::sync::watch;

use super::errors::{ErrorConfig, ErrorHandler, Failure, OpError, Stage};
use super::transform_chain::{StageError, TransformChain};
use super::{TaskSpec, WorkerContext};
use crate::converters::header_to_bytes;
use crate::kafka::{TopicCreator, producer_config};

struct Submitted {
    partition: OffsetMap,
    offset: OffsetMap,
    acked: Option<RecordMetadata>,
}

#[derive(Default)]
struct Queue {
    /// Sequence number of `entries[0]`.
    base: u64,
    entries: VecDeque<Submitted>,
    failure: Option<String>,
}

/// Records sent but not yet committed, in send order (Connect's `SubmittedRecords`).
#[derive(Default)]
pub struct SubmittedRecords {
    queue: Mutex<Queue>,
}

impl SubmittedRecords {
    /// Registers a record; `acked` for records that are not sent (filtered out) but whose
    /// offsets still count. Returns its sequence number.
    pub fn submit(&self, partition: OffsetMap, offset: OffsetMap, acked: Option<RecordMetadata>) -> u64 {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let seq = q.base + q.entries.len() as u64;
        q.entries.push_back(Submitted { partition, offset, acked });
        seq
    }

    /// Drops the record with this sequence number again (it could not be sent).
    pub fn retract_last(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.entries.pop_back();
    }

    fn ack(&self, seq: u64, meta: RecordMetadata) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(idx) = seq.checked_sub(q.base)
            && let Some(e) = q.entries.get_mut(idx as usize)
        {
            e.acked = Some(meta);
        }
    }

    fn fail(&self, message: String) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.failure.get_or_insert(message);
    }

    /// The first delivery failure, if any.
    pub fn failure(&self) -> Option<String> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).failure.clone()
    }

    /// Records sent and not yet acknowledged or committed.
    pub fn pending(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).entries.len()
    }

    /// Removes the acknowledged prefix; returns the last offset per source partition within it,
    /// and the removed records' offsets with their metadata (for `commit_record`).
    pub fn take_committable(&self) -> (Vec<(OffsetMap, OffsetMap)>, Vec<(OffsetMap, RecordMetadata)>) {
        let popped: Vec<Submitted> = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let n = q.entries.iter().take_while(|e| e.acked.is_some()).count();
            q.base += n as u64;
            q.entries.drain(..n).collect()
        };
        // Per source partition, the index of its last record (records of one partition are
        // usually consecutive and built alike, so the cheap in-order comparison hits first).
        let mut last: Vec<usize> = Vec::new();
        for (i, e) in popped.iter().enumerate() {
            if e.partition.is_empty() && e.offset.is_empty() {
                continue; // a source without offsets (stdin)
            }
            match last.iter_mut().rev().find(|j| same_partition(&popped[**j].partition, &e.partition)) {
                Some(j) => *j = i,
                None => last.push(i),
            }
        }
        let latest = last.iter().map(|&i| (popped[i].partition.clone(), popped[i].offset.clone())).collect();
        let acked = popped.into_iter().filter_map(|e| e.acked.map(|m| (e.offset, m))).collect();
        (latest, acked)
    }
}

/// Equal source partitions; compares in order first (no hashing), then as maps.
fn same_partition(a: &OffsetMap, b: &OffsetMap) -> bool {
    a.len() == b.len() && (a.iter().zip(b.iter()).all(|(x, y)| x == y) || a == b)
}

/// The producer context: delivery reports update the [`SubmittedRecords`].
struct AckContext {
    submitted: Arc<SubmittedRecords>,
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        match result {
            Ok(m) => self.submitted.ack(seq as u64, RecordMetadata { topic: m.topic().to_string(), partition: m.partition(), offset: m.offset() }),
            Err((e, m)) => self.submitted.fail(format!("Failed to send a record to {}-{}: {e}", m.topic(), m.partition())),
        }
    }
}

/// Runs a source task until `shutdown` turns true or the task fails.
pub async fn run(ctx: Arc<WorkerContext>, spec: TaskSpec, task: Box<dyn SourceTask>, shutdown: watch::Receiver<bool>, paused: watch::Receiver<bool>) {
    let (connector, id) = (spec.connector.clone(), spec.task_id);
    match execute(&ctx, spec, task, shutdown, paused).await {
        Ok(()) => ctx.task_status(&connector, id, ConnectorState::Unassigned, None),
        Err(e) => ctx.task_status(&connector, id, ConnectorState::Failed, Some(format!("{}: {e}", e.class_name()))),
    }
}

struct SourceExecutor<'a> {
    ctx: &'a WorkerContext,
    spec: TaskSpec,
    task: Box<dyn SourceTask>,
    producer: ThreadedProducer<AckContext>,
    submitted: Arc<SubmittedRecords>,
    key_converter: Box<dyn sluice_sdk::Converter>,
    value_converter: Box<dyn sluice_sdk::Converter>,
    key_class: String,
    value_class: String,
    chain: TransformChain<SourceRecord>,
    topics: TopicCreator,
    /// Topics already reported as used by the connector (`GET /connectors/{name}/topics`).
    reported_topics: std::collections::HashSet<String>,
    errors: ErrorHandler,
    /// Per source partition, the latest offset whose record (and every record before it) the
    /// broker acknowledged, waiting for the next offset flush. Acknowledged records leave
    /// [`SubmittedRecords`] after every poll batch, so memory holds only what is in flight.
    committable: Vec<(OffsetMap, OffsetMap)>,
}

async fn execute(
    ctx: &WorkerContext,
    spec: TaskSpec,
    task: Box<dyn SourceTask>,
    mut shutdown: watch::Receiver<bool>,
    mut paused: watch::Receiver<bool>,
) -> ConnectResult<()> {
    let submitted = Arc::new(SubmittedRecords::default());
    let client_id = format!("connector-producer-{}-{}", spec.connector, spec.task_id);
    let mut pcfg = producer_config(&ctx.config, &spec.connector_props, &client_id);
    if pcfg.get("queue.buffering.max.kbytes").is_none() {
        let java_buffer_memory = spec
            .connector_props
            .get("producer.override.buffer.memory")
            .cloned()
            .or_else(|| ctx.config.client_overrides("producer.").get("buffer.memory").cloned())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let kbytes = java_buffer_memory.map_or(32768, |b| (b / 1024).max(1));
        pcfg.set("queue.buffering.max.kbytes", kbytes.to_string());
    }
    let producer: ThreadedProducer<AckContext> =
        pcfg.create_with_context(AckContext { submitted: submitted.clone() }).map_err(|e| ConnectError::fatal(format!("cannot create producer: {e}")))?;
    let mut exec = SourceExecutor {
        ctx,
        key_converter: ctx.converter(&spec.connector_props, crate::worker_config::KEY_CONVERTER)?,
        value_converter: ctx.converter(&spec.connector_props, crate::worker_config::VALUE_CONVERTER)?,
        key_class: ctx.converter_class(&spec.connector_props, crate::worker_config::KEY_CONVERTER),
        value_class: ctx.converter_class(&spec.connector_props, crate::worker_config::VALUE_CONVERTER),
        chain: TransformChain::from_props(&ctx.plugins, &spec.connector_props)?,
        topics: TopicCreator::new(&ctx.config, &spec.connector_props)?,
        reported_topics: std::collections::HashSet::new(),
        errors: ErrorHandler::new(ErrorConfig::from_props(&spec.connector_props), &spec.connector, spec.task_id, None),
        spec,
        task,
        producer,
        submitted,
        committable: Vec::new(),
    };
    let task_ctx = SourceTaskContext {
        connector: exec.spec.connector.clone(),
        task_id: exec.spec.task_id as usize,
        offset_reader: ctx.offsets.reader(&exec.spec.connector),
    };
    exec.task.start(exec.spec.task_props.clone(), task_ctx).await?;
    ctx.task_status(&exec.spec.connector, exec.spec.task_id, ConnectorState::Running, None);
    tracing::info!(connector = %exec.spec.connector, task = exec.spec.task_id, "source task started");

    let result = exec.poll_loop(&mut shutdown, &mut paused).await;
    let finish = exec.finish().await;
    result.and(finish)
}

impl SourceExecutor<'_> {
    async fn poll_loop(&mut self, shutdown: &mut watch::Receiver<bool>, paused: &mut watch::Receiver<bool>) -> ConnectResult<()> {
        let flush_interval = Duration::from_millis(self.ctx.config.get(crate::worker_config::OFFSET_FLUSH_INTERVAL_MS).max(1) as u64);
        let mut last_flush = Instant::now();
        let mut poll_errors = 0u32;
        while !*shutdown.borrow() {
            if let Some(f) = self.submitted.failure() {
                return Err(ConnectError::fatal(f));
            }
            if last_flush.elapsed() >= flush_interval {
                self.commit_offsets().await?;
                last_flush = Instant::now();
            }
            if *paused.borrow_and_update() {
                self.pause_until_resumed(shutdown, paused).await?;
                continue;
            }
            let batch = tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                r = self.task.poll() => r,
            };
            let batch = match batch {
                Ok(b) => {
                    poll_errors = 0;
                    b
                }
                Err(e) if e.is_retriable() => {
                    tracing::warn!(error = %e, "retriable error from poll; retrying");
                    tokio::time::sleep(super::backoff(poll_errors, Duration::from_secs(10))).await;
                    poll_errors += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            // The chain runs once over the batch (a WASM stage crosses its boundary once), unless
            // failed transforms are to be retried, which goes record by record.
            let mut transformed =
                if self.chain.is_empty() || self.errors.config.retries() || batch.len() < 2 { Vec::new() } else { self.chain.apply_batch(batch.clone()) }
                    .into_iter();
            for record in batch {
                if *shutdown.borrow() {
                    // Not sent, so its offset is not committed: it is polled again after restart.
                    break;
                }
                self.send(record, transformed.next(), shutdown).await?;
            }
            self.drain_acknowledged().await?;
        }
        Ok(())
    }

    /// PAUSED: no polling; what was sent is still acknowledged and committed.
    async fn pause_until_resumed(&mut self, shutdown: &mut watch::Receiver<bool>, paused: &mut watch::Receiver<bool>) -> ConnectResult<()> {
        let (connector, id) = (self.spec.connector.clone(), self.spec.task_id);
        self.ctx.task_status(&connector, id, ConnectorState::Paused, None);
        tracing::info!(connector = %connector, task = id, "source task paused");
        let producer = &self.producer;
        let _ = tokio::task::block_in_place(|| producer.flush(Duration::from_secs(5)));
        self.commit_offsets().await?;
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => {}
            _ = paused.wait_for(|p| !*p) => {
                self.ctx.task_status(&connector, id, ConnectorState::Running, None);
                tracing::info!(connector = %connector, task = id, "source task resumed");
            }
        }
        Ok(())
    }

    /// Transforms (unless `transformed` already holds the chain's result for it), converts and
    /// produces one record; a record dropped or skipped counts as done at once.
    async fn send(
        &mut self,
        record: SourceRecord,
        transformed: Option<Result<Option<SourceRecord>, StageError>>,
        shutdown: &watch::Receiver<bool>,
    ) -> ConnectResult<()> {
        let describe = |r: &SourceRecord| {
            format!(
                "sourcePartition={}, sourceOffset={}, topic='{}'",
                serde_json::Value::Object(r.source_partition.clone()),
                serde_json::Value::Object(r.source_offset.clone()),
                r.topic
            )
        };
        let include = self.errors.config.log_include_messages;
        let record = if self.chain.is_empty() {
            record
        } else {
            let failure = || Failure { location: describe(&record), raw: None, message: include.then(|| format!("{record:?}")) };
            let chain = &self.chain;
            let out = match transformed {
                Some(Ok(out)) => out,
                Some(Err(e)) => {
                    // As `ErrorHandler::execute` without retries: tolerated (logged, DLQ) or fatal.
                    self.errors.fail(Stage::Transformation, e.class, failure(), &e.error)?;
                    None
                }
                None => self.errors.execute(Stage::Transformation, "", failure, || chain.apply(record.clone()).map_err(OpError::from)).await?.flatten(),
            };
            match out {
                Some(r) => r,
                None => {
                    // Dropped by a transform or skipped: its offset still counts as done.
                    let meta = RecordMetadata { topic: record.topic, partition: -1, offset: -1 };
                    self.submitted.submit(record.source_partition, record.source_offset, Some(meta));
                    return Ok(());
                }
            }
        };
        let failure = || Failure { location: describe(&record), raw: None, message: include.then(|| format!("{record:?}")) };
        let (kc, vc, errors) = (&self.key_converter, &self.value_converter, &self.errors);
        let key_bytes = errors
            .execute(Stage::KeyConverter, &self.key_class, failure, || Ok(kc.from_connect(&record.topic, record.key_schema.as_ref(), &record.key)?))
            .await?;
        let value_bytes = match key_bytes {
            None => None,
            Some(_) => {
                errors
                    .execute(Stage::ValueConverter, &self.value_class, failure, || {
                        Ok(vc.from_connect(&record.topic, record.value_schema.as_ref(), &record.value)?)
                    })
                    .await?
            }
        };
        let SourceRecord { source_partition, source_offset, topic, kafka_partition, timestamp, headers, .. } = record;
        let (Some(key_bytes), Some(value_bytes)) = (key_bytes, value_bytes) else {
            self.submitted.submit(source_partition, source_offset, Some(RecordMetadata { topic, partition: -1, offset: -1 }));
            return Ok(());
        };
        self.topics.ensure(&topic).await?;
        if !self.reported_topics.contains(&topic) {
            self.ctx.status.add_topic(&self.spec.connector, &topic);
            self.reported_topics.insert(topic.clone());
        }
        let seq = self.submitted.submit(source_partition, source_offset, None);
        let mut rec: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(&topic, seq as usize);
        if !headers.is_empty() {
            // librdkafka allocates a header list per record: only when there are headers.
            let mut kafka_headers = OwnedHeaders::new_with_capacity(headers.len());
            for h in headers.iter() {
                let bytes = header_to_bytes(&h.value);
                kafka_headers = kafka_headers.insert(KafkaHeader { key: &h.key, value: bytes.as_deref() });
            }
            rec = rec.headers(kafka_headers);
        }
        if let Some(k) = key_bytes.as_deref() {
            rec = rec.key(k);
        }
        if let Some(v) = value_bytes.as_deref() {
            rec = rec.payload(v);
        }
        if let Some(p) = kafka_partition {
            rec = rec.partition(p);
        }
        if let Some(ts) = timestamp {
            rec = rec.timestamp(ts);
        }
        let mut waited = 0u32;
        loop {
            match self.producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    if *shutdown.borrow() && waited > 100 {
                        self.submitted.retract_last();
                        return Ok(());
                    }
                    rec = r;
                    waited += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((e, _)) => {
                    self.submitted.retract_last();
                    return Err(ConnectError::fatal(format!("Failed to send a record to topic '{topic}': {e}")));
                }
            }
        }
    }

    /// Takes the acknowledged prefix out of the submitted records: tells the task
    /// (`commit_record`) and keeps the latest offset per source partition for the next flush.
    async fn drain_acknowledged(&mut self) -> ConnectResult<usize> {
        let (offsets, acked) = self.submitted.take_committable();
        for (offset, meta) in &acked {
            self.task.commit_record(offset, meta).await?;
        }
        for (partition, offset) in offsets {
            match self.committable.iter_mut().find(|(p, _)| same_partition(p, &partition)) {
                Some(slot) => slot.1 = offset,
                None => self.committable.push((partition, offset)),
            }
        }
        Ok(acked.len())
    }

    /// Stores the offsets of the acknowledged prefix, then tells the task. A failed write to
    /// the offset store is logged and the offsets are tried again at the next flush (as
    /// Connect's `OffsetStorageWriter`): a broker hiccup costs at most duplicates after a
    /// restart, never the task.
    async fn commit_offsets(&mut self) -> ConnectResult<()> {
        let records = self.drain_acknowledged().await?;
        if self.committable.is_empty() {
            return Ok(());
        }
        let offsets = self.committable.clone();
        let started = Instant::now();
        if let Err(e) = self.ctx.offsets.put(&self.spec.connector, offsets).await {
            tracing::error!(connector = %self.spec.connector, task = self.spec.task_id, error = %e, "failed to flush source offsets to storage; retrying at the next flush");
            return Ok(());
        }
        self.committable.clear();
        tracing::debug!(connector = %self.spec.connector, task = self.spec.task_id, records, ms = started.elapsed().as_millis() as u64, "committed source offsets");
        self.task.commit().await
    }

    /// Flushes the producer (bounded by `task.shutdown.graceful.timeout.ms`), commits what was
    /// acknowledged, and stops the task.
    async fn finish(&mut self) -> ConnectResult<()> {
        let timeout = Duration::from_millis(self.ctx.config.get(crate::worker_config::TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS).max(0) as u64);
        let producer = &self.producer;
        let flushed = tokio::task::block_in_place(|| producer.flush(timeout));
        if let Err(e) = flushed {
            tracing::warn!(error = %e, pending = self.submitted.pending(), "producer flush incomplete at stop; unacknowledged records will be re-polled after restart");
        }
        let committed = self.commit_offsets().await;
        self.task.stop().await;
        self.errors.log_counts();
        tracing::info!(connector = %self.spec.connector, task = self.spec.task_id, "source task stopped");
        committed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::offset_map;

    fn meta(o: i64) -> Option<RecordMetadata> {
        Some(RecordMetadata { topic: "t".into(), partition: 0, offset: o })
    }

    #[test]
    fn only_the_acknowledged_prefix_is_committable() {
        let s = SubmittedRecords::default();
        let (a, b) = (offset_map!("p" => "a"), offset_map!("p" => "b"));
        let s0 = s.submit(a.clone(), offset_map!("o" => 1), None);
        let s1 = s.submit(b.clone(), offset_map!("o" => 1), None);
        let s2 = s.submit(a.clone(), offset_map!("o" => 2), None);
        s.ack(s1, meta(1).unwrap());
        s.ack(s2, meta(2).unwrap());
        assert!(s.take_committable().0.is_empty(), "record 0 is not acknowledged yet");
        s.ack(s0, meta(0).unwrap());
        let (offsets, acked) = s.take_committable();
        assert_eq!(offsets, vec![(a.clone(), offset_map!("o" => 2)), (b, offset_map!("o" => 1))]);
        assert_eq!(acked.len(), 3);
        assert_eq!(s.pending(), 0);
        let s3 = s.submit(a, offset_map!("o" => 3), None);
        assert_eq!(s3, 3);
    }
}

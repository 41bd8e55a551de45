//! The sink executor (Connect's `WorkerSinkTask`): consume (group `connect-NAME`) → convert →
//! `put` → `pre_commit` → commit consumer offsets.
//!
//! Offsets: the executor tracks, per partition, one past the last record handed to `put`.
//! Every `offset.flush.interval.ms`, on request, on revocation and at stop it asks the task
//! (`pre_commit`, which flushes by default) which offsets are safe and commits exactly those,
//! so a crash replays at most what was put since the last commit (at-least-once).
//!
//! Batches hold at most `consumer.max.poll.records` records (500, as Connect), and the next
//! batch is fetched only after `put` returned, so a slow task slows consumption instead of
//! growing a buffer. A `Retriable` error from `put` retries the same batch with backoff.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::{ClientContext, Offset, Timestamp, TopicPartitionList};
use sluice_rest_api::ConnectorState;
use sluice_sdk::{
    ConnectError, ConnectResult, ErrantRecordReporter, Headers, SinkRecord, SinkTask, SinkTaskContext, TimestampType, TopicPartition,
};
use tokio::sync::{mpsc, watch};

use super::{ErrorPolicy, TaskSpec, WorkerContext};
use crate::converters::header_from_bytes;
use crate::kafka::consumer_config;

enum RebalanceEvent {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
}

fn tpl_to_vec(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements().iter().map(|e| TopicPartition::new(e.topic(), e.partition())).collect()
}

/// Consumer context: forwards rebalances to the executor loop.
struct SinkConsumerContext {
    events: mpsc::UnboundedSender<RebalanceEvent>,
}

impl ClientContext for SinkConsumerContext {}

impl ConsumerContext for SinkConsumerContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let _ = self.events.send(RebalanceEvent::Revoked(tpl_to_vec(tpl)));
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let _ = self.events.send(RebalanceEvent::Assigned(tpl_to_vec(tpl)));
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "consumer rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "consumer offset commit failed; it is retried at the next commit");
        }
    }
}

enum ContextRequest {
    Pause(Vec<TopicPartition>),
    Resume(Vec<TopicPartition>),
    Reset(HashMap<TopicPartition, i64>),
}

/// The [`SinkTaskContext`] handed to the task; requests are applied by the executor loop.
struct ExecutorSinkContext {
    connector: String,
    task_id: usize,
    assignment: Mutex<Vec<TopicPartition>>,
    requests: Mutex<Vec<ContextRequest>>,
    commit_requested: AtomicBool,
}

impl ExecutorSinkContext {
    fn push(&self, r: ContextRequest) {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    }
}

impl SinkTaskContext for ExecutorSinkContext {
    fn connector(&self) -> &str {
        &self.connector
    }
    fn task_id(&self) -> usize {
        self.task_id
    }
    fn assignment(&self) -> Vec<TopicPartition> {
        self.assignment.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn pause(&self, partitions: &[TopicPartition]) {
        self.push(ContextRequest::Pause(partitions.to_vec()));
    }
    fn resume(&self, partitions: &[TopicPartition]) {
        self.push(ContextRequest::Resume(partitions.to_vec()));
    }
    fn request_commit(&self) {
        self.commit_requested.store(true, Ordering::Relaxed);
    }
    fn reset_offsets(&self, offsets: HashMap<TopicPartition, i64>) {
        self.push(ContextRequest::Reset(offsets));
    }
    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        None
    }
}

/// Runs a sink task until `shutdown` turns true or the task fails.
pub async fn run(ctx: Arc<WorkerContext>, spec: TaskSpec, task: Box<dyn SinkTask>, shutdown: watch::Receiver<bool>) {
    let (connector, id) = (spec.connector.clone(), spec.task_id);
    match execute(&ctx, spec, task, shutdown).await {
        Ok(()) => ctx.task_status(&connector, id, ConnectorState::Unassigned, None),
        Err(e) => ctx.task_status(&connector, id, ConnectorState::Failed, Some(format!("{}: {e}", e.class_name()))),
    }
}

struct SinkExecutor {
    spec: TaskSpec,
    task: Box<dyn SinkTask>,
    consumer: StreamConsumer<SinkConsumerContext>,
    events: mpsc::UnboundedReceiver<RebalanceEvent>,
    task_ctx: Arc<ExecutorSinkContext>,
    key_converter: Box<dyn sluice_sdk::Converter>,
    value_converter: Box<dyn sluice_sdk::Converter>,
    errors: ErrorPolicy,
    /// Per partition: one past the last record handed to `put`.
    current: HashMap<TopicPartition, i64>,
    /// Per partition: the last offset committed.
    committed: HashMap<TopicPartition, i64>,
    max_poll_records: usize,
}

async fn execute(ctx: &WorkerContext, spec: TaskSpec, task: Box<dyn SinkTask>, mut shutdown: watch::Receiver<bool>) -> ConnectResult<()> {
    let client_id = format!("connector-consumer-{}-{}", spec.connector, spec.task_id);
    let (tx, rx) = mpsc::unbounded_channel();
    let ccfg = consumer_config(&ctx.config, &spec.connector, &spec.connector_props, &client_id);
    let consumer: StreamConsumer<SinkConsumerContext> =
        ccfg.create_with_context(SinkConsumerContext { events: tx }).map_err(|e| ConnectError::fatal(format!("cannot create consumer: {e}")))?;
    let max_poll_records = spec
        .connector_props
        .get("consumer.override.max.poll.records")
        .cloned()
        .or_else(|| ctx.config.client_overrides("consumer.").get("max.poll.records").cloned())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(500)
        .max(1);
    let topics = sluice_sdk::config::parse_list(spec.connector_props.get("topics").map(String::as_str).unwrap_or(""));
    let regex = spec.connector_props.get("topics.regex").map(|s| s.trim().to_string()).unwrap_or_default();
    if !regex.is_empty() {
        let pattern = if regex.starts_with('^') { regex } else { format!("^{regex}") };
        consumer.subscribe(&[&pattern])
    } else {
        consumer.subscribe(&topics.iter().map(String::as_str).collect::<Vec<_>>())
    }
    .map_err(|e| ConnectError::fatal(format!("cannot subscribe: {e}")))?;

    let task_ctx = Arc::new(ExecutorSinkContext {
        connector: spec.connector.clone(),
        task_id: spec.task_id as usize,
        assignment: Mutex::new(Vec::new()),
        requests: Mutex::new(Vec::new()),
        commit_requested: AtomicBool::new(false),
    });
    let mut exec = SinkExecutor {
        key_converter: ctx.converter(&spec.connector_props, "key.converter")?,
        value_converter: ctx.converter(&spec.connector_props, "value.converter")?,
        errors: ErrorPolicy::from_props(&spec.connector_props),
        spec,
        task,
        consumer,
        events: rx,
        task_ctx,
        current: HashMap::new(),
        committed: HashMap::new(),
        max_poll_records,
    };
    exec.task.start(exec.spec.task_props.clone(), exec.task_ctx.clone()).await?;
    ctx.task_status(&exec.spec.connector, exec.spec.task_id, ConnectorState::Running, None);
    tracing::info!(connector = %exec.spec.connector, task = exec.spec.task_id, "sink task started");

    let flush_interval = Duration::from_millis(ctx.config.long("offset.flush.interval.ms").max(1) as u64);
    let result = exec.consume_loop(&mut shutdown, flush_interval).await;
    let finish = exec.finish(result.is_ok()).await;
    result.and(finish)
}

impl SinkExecutor {
    async fn consume_loop(&mut self, shutdown: &mut watch::Receiver<bool>, flush_interval: Duration) -> ConnectResult<()> {
        let mut last_commit = Instant::now();
        while !*shutdown.borrow() {
            self.handle_rebalances().await?;
            self.apply_requests();
            if last_commit.elapsed() >= flush_interval || self.task_ctx.commit_requested.swap(false, Ordering::Relaxed) {
                self.commit(CommitMode::Async).await?;
                last_commit = Instant::now();
            }
            let first = tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                m = tokio::time::timeout(Duration::from_millis(500), self.consumer.recv()) => m,
            };
            let mut batch = Vec::new();
            let mut skipped = Vec::new();
            match first {
                Err(_) => continue, // nothing for a while: go round for commits and rebalances
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "consumer error");
                    continue;
                }
                Ok(Ok(m)) => self.convert_into(&m, &mut batch, &mut skipped)?,
            }
            while batch.len() < self.max_poll_records {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(m)) => self.convert_into(&m, &mut batch, &mut skipped)?,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "consumer error");
                        break;
                    }
                    None => break,
                }
            }
            // A rebalance delivered during `recv` must reach the task (`open`) before `put`.
            self.handle_rebalances().await?;
            self.put(batch, shutdown).await?;
            // Skipped records count as consumed once the batch around them was put.
            for (tp, next) in skipped {
                let slot = self.current.entry(tp).or_insert(next);
                *slot = (*slot).max(next);
            }
        }
        Ok(())
    }

    /// Converts one consumed message and appends it to `batch` (or applies errors.tolerance).
    /// A skipped record's next offset goes to `skipped`.
    fn convert_into(&self, m: &BorrowedMessage<'_>, batch: &mut Vec<SinkRecord>, skipped: &mut Vec<(TopicPartition, i64)>) -> ConnectResult<()> {
        let topic = m.topic();
        let tp = TopicPartition::new(topic, m.partition());
        let converted = self
            .key_converter
            .to_connect(topic, m.key())
            .map_err(|e| ("KEY_CONVERTER", e))
            .and_then(|k| self.value_converter.to_connect(topic, m.payload()).map(|v| (k, v)).map_err(|e| ("VALUE_CONVERTER", e)));
        match converted {
            Ok(((key_schema, key), (value_schema, value))) => {
                let mut headers = Headers::new();
                if let Some(hs) = m.headers() {
                    for h in hs.iter() {
                        let (schema, value) = header_from_bytes(h.value);
                        headers.add(h.key, schema, value);
                    }
                }
                let (timestamp, timestamp_type) = match m.timestamp() {
                    Timestamp::NotAvailable => (None, TimestampType::NoTimestamp),
                    Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
                    Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
                };
                batch.push(SinkRecord {
                    topic: topic.to_string(),
                    kafka_partition: m.partition(),
                    kafka_offset: m.offset(),
                    key_schema,
                    key,
                    value_schema,
                    value,
                    timestamp,
                    timestamp_type,
                    headers,
                });
            }
            Err((stage, e)) => {
                let location = format!("topic '{topic}' partition {} offset {}", m.partition(), m.offset());
                self.errors.on_record_error(stage, &location, e)?;
                skipped.push((tp, m.offset() + 1));
            }
        }
        Ok(())
    }

    /// Hands a batch to the task, retrying retriable errors with backoff until stopped.
    async fn put(&mut self, batch: Vec<SinkRecord>, shutdown: &watch::Receiver<bool>) -> ConnectResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut next: HashMap<TopicPartition, i64> = HashMap::new();
        for r in &batch {
            next.insert(TopicPartition::new(&r.topic, r.kafka_partition), r.kafka_offset + 1);
        }
        let mut attempt = 0;
        loop {
            match self.task.put(batch.clone()).await {
                Ok(()) => break,
                Err(e) if e.is_retriable() && !*shutdown.borrow() => {
                    let wait = super::backoff(attempt, Duration::from_secs(10));
                    tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "retriable error from put; retrying the batch");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        self.current.extend(next);
        Ok(())
    }

    async fn handle_rebalances(&mut self) -> ConnectResult<()> {
        while let Ok(event) = self.events.try_recv() {
            match event {
                RebalanceEvent::Assigned(tps) => {
                    tracing::info!(connector = %self.spec.connector, task = self.spec.task_id, partitions = ?tps, "partitions assigned");
                    self.task_ctx.assignment.lock().unwrap_or_else(|p| p.into_inner()).extend(tps.iter().cloned());
                    self.task.open(&tps).await?;
                }
                RebalanceEvent::Revoked(tps) => {
                    tracing::info!(connector = %self.spec.connector, task = self.spec.task_id, partitions = ?tps, "partitions revoked");
                    self.task_ctx.assignment.lock().unwrap_or_else(|p| p.into_inner()).retain(|tp| !tps.contains(tp));
                    self.task.close(&tps).await?;
                    for tp in &tps {
                        self.current.remove(tp);
                        self.committed.remove(tp);
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_requests(&mut self) {
        let requests = std::mem::take(&mut *self.task_ctx.requests.lock().unwrap_or_else(|p| p.into_inner()));
        for r in requests {
            let result = match r {
                ContextRequest::Pause(tps) => self.consumer.pause(&to_tpl(tps.iter().map(|tp| (tp, Offset::Invalid)))),
                ContextRequest::Resume(tps) => self.consumer.resume(&to_tpl(tps.iter().map(|tp| (tp, Offset::Invalid)))),
                ContextRequest::Reset(offsets) => {
                    let mut res = Ok(());
                    for (tp, off) in offsets {
                        if let Err(e) = self.consumer.seek(&tp.topic, tp.partition, Offset::Offset(off), Duration::from_secs(5)) {
                            res = Err(e);
                        } else {
                            self.current.insert(tp, off);
                        }
                    }
                    res
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not apply a sink task context request");
            }
        }
    }

    /// Asks the task which offsets are safe and commits them.
    async fn commit(&mut self, mode: CommitMode) -> ConnectResult<()> {
        if self.current.is_empty() {
            return Ok(());
        }
        let safe = self.task.pre_commit(&self.current).await?;
        let changed: Vec<(&TopicPartition, &i64)> = safe.iter().filter(|(tp, off)| self.committed.get(*tp) != Some(*off)).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let tpl = to_tpl(changed.iter().map(|(tp, off)| (*tp, Offset::Offset(**off))));
        let consumer = &self.consumer;
        let res = match mode {
            CommitMode::Sync => tokio::task::block_in_place(|| consumer.commit(&tpl, CommitMode::Sync)),
            CommitMode::Async => consumer.commit(&tpl, CommitMode::Async),
        };
        match res {
            Ok(()) => {
                for (tp, off) in safe {
                    self.committed.insert(tp, off);
                }
            }
            Err(e) => tracing::warn!(error = %e, "offset commit failed; records since the last commit may be redelivered"),
        }
        Ok(())
    }

    /// Commits (synchronously) if the loop ended cleanly, closes the partitions, stops the task.
    async fn finish(&mut self, clean: bool) -> ConnectResult<()> {
        let committed = if clean { self.commit(CommitMode::Sync).await } else { Ok(()) };
        let assignment = self.task_ctx.assignment();
        let closed = self.task.close(&assignment).await;
        self.task.stop().await;
        self.consumer.unsubscribe();
        tracing::info!(connector = %self.spec.connector, task = self.spec.task_id, "sink task stopped");
        committed.and(closed)
    }
}

fn to_tpl<'a>(entries: impl Iterator<Item = (&'a TopicPartition, Offset)>) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (tp, off) in entries {
        if let Err(e) = tpl.add_partition_offset(&tp.topic, tp.partition, off) {
            tracing::warn!(error = %e, partition = %tp, "bad offset for partition list");
        }
    }
    tpl
}

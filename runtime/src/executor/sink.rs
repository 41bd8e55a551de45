//! The sink executor (Connect's `WorkerSinkTask`): consume (group `connect-NAME`) → convert →
//! `put` → `pre_commit` → commit consumer offsets.
//!
//! Offsets: the executor tracks, per partition, one past the last record handed to `put`.
//! Every `offset.flush.interval.ms`, on request, on revocation and at stop it asks the task
//! (`pre_commit`, which flushes by default) which offsets are safe and commits exactly those,
//! so a crash replays at most what was put since the last commit (at-least-once).
//!
//! Each consumed record is converted (key, value) and run through the connector's
//! [`TransformChain`]; failures follow the connector's `errors.*` policy ([`super::errors`]):
//! fail the task, or skip the record and send it to the dead letter queue ([`super::dlq`]).
//! Sink tasks get a KIP-610 errant record reporter when a DLQ topic or `errors.log.enable` is
//! configured, as in Connect.
//!
//! Pipelining: a consumed batch is detached from the consumer and converted and transformed
//! on rayon's pool (one thread per core, shared by the worker's tasks) while the executor
//! hands the previous batch to `put`, so conversion and the task's own work overlap. At most
//! one batch is being prepared; a record that failed there is converted again on the executor
//! under the error policy, in order.
//!
//! Backpressure and memory: batches hold at most `consumer.max.poll.records` records (500, as
//! Connect), and while one is put at most one more is taken from the consumer (only what it
//! already fetched), so a slow task slows consumption instead of growing a buffer. What the consumer prefetches meanwhile is bounded
//! by `queued.max.messages.kbytes` (16 MiB per task unless overridden with
//! `consumer.override.queued.max.messages.kbytes`); the fetcher resumes 10 ms after the queue
//! drains below that (`fetch.queue.backoff.ms`, 1 s in librdkafka by default). A `Retriable`
//! error from `put` pauses the task's partitions, retries the same batch with backoff, and
//! resumes them after it succeeded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Headers as _, Message, OwnedMessage};
use rdkafka::{ClientContext, Offset, Timestamp, TopicPartitionList};
use sluice_rest_api::ConnectorState;
use sluice_sdk::{
    ConnectError, ConnectResult, ErrantRecordReporter, Headers, SchemaRef, SinkRecord, SinkTask, SinkTaskContext, TimestampType, TopicPartition,
    Value,
};
use tokio::sync::{mpsc, oneshot, watch};

use super::dlq::{DeadLetterQueue, RawRecord};
use super::errors::{ErrorConfig, ErrorHandler, Failure, OpError, Stage, WorkerErrantRecordReporter};
use super::transform_chain::{StageError, TransformChain};
use super::{TaskSpec, WorkerContext};
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
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
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
        self.reporter.clone()
    }
}

/// Runs a sink task until `shutdown` turns true or the task fails.
pub async fn run(ctx: Arc<WorkerContext>, spec: TaskSpec, task: Box<dyn SinkTask>, shutdown: watch::Receiver<bool>, paused: watch::Receiver<bool>) {
    let (connector, id) = (spec.connector.clone(), spec.task_id);
    match execute(&ctx, spec, task, shutdown, paused).await {
        Ok(()) => ctx.task_status(&connector, id, ConnectorState::Unassigned, None),
        Err(e) => ctx.task_status(&connector, id, ConnectorState::Failed, Some(format!("{}: {e}", e.class_name()))),
    }
}

/// What turns a consumed message into a sink record (shared by reference across awaits, so
/// it holds nothing that is not `Sync`).
struct SinkPipeline {
    key_converter: Arc<dyn sluice_sdk::Converter>,
    value_converter: Arc<dyn sluice_sdk::Converter>,
    key_class: String,
    value_class: String,
    chain: TransformChain<SinkRecord>,
    errors: Arc<ErrorHandler>,
}

struct SinkExecutor {
    spec: TaskSpec,
    status: Arc<crate::status::StatusStore>,
    worker_id: String,
    /// Whether the connector is PAUSED (every partition paused, the group kept).
    is_paused: bool,
    task: Box<dyn SinkTask>,
    consumer: StreamConsumer<SinkConsumerContext>,
    events: mpsc::UnboundedReceiver<RebalanceEvent>,
    task_ctx: Arc<ExecutorSinkContext>,
    pipeline: Arc<SinkPipeline>,
    /// Partitions the task itself paused (kept paused when a retry resumes the others).
    task_paused: std::collections::HashSet<TopicPartition>,
    /// Per partition: one past the last record handed to `put`.
    current: HashMap<TopicPartition, i64>,
    /// Per partition: the last offset committed.
    committed: HashMap<TopicPartition, i64>,
    max_poll_records: usize,
    /// Consecutive retriable failures of `put` (for the backoff); 0 after a success.
    put_retries: u32,
}

async fn execute(
    ctx: &WorkerContext,
    spec: TaskSpec,
    task: Box<dyn SinkTask>,
    mut shutdown: watch::Receiver<bool>,
    mut paused: watch::Receiver<bool>,
) -> ConnectResult<()> {
    let client_id = format!("connector-consumer-{}-{}", spec.connector, spec.task_id);
    let (tx, rx) = mpsc::unbounded_channel();
    let mut ccfg = consumer_config(&ctx.config, &spec.connector, &spec.connector_props, &client_id);
    if ccfg.get("queued.max.messages.kbytes").is_none() {
        ccfg.set("queued.max.messages.kbytes", "16384");
    }
    // When its prefetch queue is full librdkafka waits `fetch.queue.backoff.ms` (1 s by default)
    // before fetching again; a sink that drains the queue faster than that would then idle.
    // Measured (`bench/run transforms`): 0.55 of a raw consumer with the default, 0.98 with 10 ms.
    if ccfg.get("fetch.queue.backoff.ms").is_none() {
        ccfg.set("fetch.queue.backoff.ms", "10");
    }
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

    let key_converter: Arc<dyn sluice_sdk::Converter> = Arc::from(ctx.converter(&spec.connector_props, "key.converter")?);
    let value_converter: Arc<dyn sluice_sdk::Converter> = Arc::from(ctx.converter(&spec.connector_props, "value.converter")?);
    let error_config = ErrorConfig::from_props(&spec.connector_props);
    let dlq = DeadLetterQueue::create(&ctx.config, &spec.connector, spec.task_id, &spec.connector_props, &error_config).await?.map(Arc::new);
    let with_reporter = dlq.is_some() || error_config.log_enable;
    let errors = Arc::new(ErrorHandler::new(error_config, &spec.connector, spec.task_id, dlq));
    let reporter: Option<Arc<dyn ErrantRecordReporter>> = with_reporter.then(|| {
        Arc::new(WorkerErrantRecordReporter {
            handler: errors.clone(),
            key_converter: key_converter.clone(),
            value_converter: value_converter.clone(),
            class: spec.connector_props.get("connector.class").cloned().unwrap_or_default(),
        }) as Arc<dyn ErrantRecordReporter>
    });
    let task_ctx = Arc::new(ExecutorSinkContext {
        connector: spec.connector.clone(),
        task_id: spec.task_id as usize,
        assignment: Mutex::new(Vec::new()),
        requests: Mutex::new(Vec::new()),
        commit_requested: AtomicBool::new(false),
        reporter,
    });
    let pipeline = SinkPipeline {
        key_class: ctx.converter_class(&spec.connector_props, "key.converter"),
        value_class: ctx.converter_class(&spec.connector_props, "value.converter"),
        chain: TransformChain::from_props(&ctx.plugins, &spec.connector_props)?,
        key_converter,
        value_converter,
        errors,
    };
    let mut exec = SinkExecutor {
        status: ctx.status.clone(),
        worker_id: ctx.worker_id.clone(),
        is_paused: false,
        pipeline: Arc::new(pipeline),
        task_paused: std::collections::HashSet::new(),
        spec,
        task,
        consumer,
        events: rx,
        task_ctx,
        current: HashMap::new(),
        committed: HashMap::new(),
        max_poll_records,
        put_retries: 0,
    };
    exec.task.start(exec.spec.task_props.clone(), exec.task_ctx.clone()).await?;
    ctx.task_status(&exec.spec.connector, exec.spec.task_id, ConnectorState::Running, None);
    tracing::info!(connector = %exec.spec.connector, task = exec.spec.task_id, "sink task started");

    let flush_interval = Duration::from_millis(ctx.config.long("offset.flush.interval.ms").max(1) as u64);
    let result = exec.consume_loop(&mut shutdown, &mut paused, flush_interval).await;
    let finish = exec.finish(result.is_ok()).await;
    result.and(finish)
}

/// Batches at least this long are prepared in parallel over rayon's pool.
const PARALLEL_MIN: usize = 128;

/// Records converted and then transformed together (the unit of parallel work).
const CHAIN_SLICE: usize = 64;

/// What preparing did with one consumed message.
enum Prep {
    /// Conversion failed: done again on the executor under the error policy.
    Failed,
    /// Converted; the chain is run on the executor (record by record, as it retries).
    Converted(SinkRecord),
    /// Converted and transformed (`None`: dropped by a transform).
    Transformed(Result<Option<SinkRecord>, StageError>),
}

/// A consumed batch, detached from the consumer, with what preparing made of each message.
struct Prepared {
    msgs: Vec<OwnedMessage>,
    preps: Vec<Prep>,
}

impl SinkPipeline {
    /// Starts converting and transforming `msgs` on rayon's pool; a panic there comes back as
    /// an error.
    fn spawn_prepare(self: &Arc<Self>, msgs: Vec<OwnedMessage>) -> oneshot::Receiver<Result<Prepared, String>> {
        let (tx, rx) = oneshot::channel();
        let pipeline = self.clone();
        rayon::spawn(move || {
            let preps = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pipeline.prepare(&msgs)));
            let out = preps.map(|preps| Prepared { msgs, preps }).map_err(|p| {
                p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "panic".into())
            });
            let _ = tx.send(out);
        });
        rx
    }

    /// Prepares `msgs` on the calling thread (the outcome is ready at once).
    fn prepare_here(&self, msgs: Vec<OwnedMessage>) -> oneshot::Receiver<Result<Prepared, String>> {
        let (tx, rx) = oneshot::channel();
        let preps = self.prepare(&msgs);
        let _ = tx.send(Ok(Prepared { msgs, preps }));
        rx
    }

    /// Converts every message it can (in parallel for a long batch; records stay in order) and
    /// runs the chain over each slice of [`CHAIN_SLICE`] converted records right after
    /// converting it, while they are in the converting thread's cache
    /// ([`TransformChain::apply_batch`]; a WASM stage crosses its boundary once per slice) —
    /// unless failed transforms are to be retried (`errors.retry.timeout`), which needs each
    /// record's input kept.
    fn prepare(&self, msgs: &[OwnedMessage]) -> Vec<Prep> {
        use rayon::prelude::*;
        let convert = |m: &OwnedMessage| {
            let topic = m.topic();
            let (key_schema, key) = self.key_converter.to_connect(topic, m.key()).ok()?;
            let (value_schema, value) = self.value_converter.to_connect(topic, m.payload()).ok()?;
            Some(sink_record(m, key_schema, key, value_schema, value))
        };
        let slice = |chunk: &[OwnedMessage]| -> Vec<Prep> {
            let converted: Vec<Option<SinkRecord>> = chunk.iter().map(convert).collect();
            if self.chain.is_empty() {
                return converted.into_iter().map(|r| r.map_or(Prep::Failed, |r| Prep::Transformed(Ok(Some(r))))).collect();
            }
            if self.errors.config.retries() {
                return converted.into_iter().map(|r| r.map_or(Prep::Failed, Prep::Converted)).collect();
            }
            let ok: Vec<bool> = converted.iter().map(Option::is_some).collect();
            let mut out = self.chain.apply_batch(converted.into_iter().flatten().collect()).into_iter();
            ok.into_iter().map(|ok| if ok { out.next().map_or(Prep::Failed, Prep::Transformed) } else { Prep::Failed }).collect()
        };
        if msgs.len() < PARALLEL_MIN {
            return msgs.chunks(CHAIN_SLICE).flat_map(slice).collect();
        }
        let slices: Vec<Vec<Prep>> = msgs.par_chunks(CHAIN_SLICE).map(slice).collect();
        slices.into_iter().flatten().collect()
    }

    /// The records of a prepared batch into `batch`, in order; a record skipped (tolerated
    /// error) or dropped by a transform has its next offset put in `skipped`.
    async fn finish(&self, prepared: Prepared, batch: &mut Vec<SinkRecord>, skipped: &mut Vec<(TopicPartition, i64)>) -> ConnectResult<()> {
        let next = |m: &OwnedMessage| (TopicPartition::new(m.topic(), m.partition()), m.offset() + 1);
        for (m, prep) in prepared.msgs.iter().zip(prepared.preps) {
            let out = match prep {
                Prep::Transformed(Ok(r)) => r,
                Prep::Transformed(Err(e)) => {
                    // As `ErrorHandler::execute` without retries: tolerated (logged, DLQ) or fatal.
                    self.errors.fail(Stage::Transformation, e.class, self.failure(m), &e.error)?;
                    None
                }
                Prep::Converted(r) => self.transform(m, r).await?,
                Prep::Failed => match self.convert(m).await? {
                    Some(r) => self.transform(m, r).await?,
                    None => None,
                },
            };
            match out {
                Some(r) => batch.push(r),
                None => skipped.push(next(m)),
            }
        }
        // Freed on the pool: the executor's thread is the pipeline's serial stage.
        let msgs = prepared.msgs;
        rayon::spawn(move || drop(msgs));
        Ok(())
    }

    /// What the error policy reports about a consumed message that failed.
    fn failure(&self, m: &impl Message) -> Failure {
        let raw = raw_record(m);
        let message = self.errors.config.log_include_messages.then(|| format!("{raw:?}"));
        Failure { location: raw.location(), raw: Some(raw), message }
    }

    /// The transformation chain over one record under the error policy, with retries.
    async fn transform(&self, m: &impl Message, record: SinkRecord) -> ConnectResult<Option<SinkRecord>> {
        if self.chain.is_empty() {
            return Ok(Some(record));
        }
        let retries = self.errors.config.retries();
        let mut input = Some(record);
        let out = self
            .errors
            .execute(Stage::Transformation, "", || self.failure(m), || {
                let r = if retries { input.clone() } else { input.take() };
                let r = r.ok_or_else(|| OpError::from(ConnectError::fatal("transformation input already consumed")))?;
                Ok(self.chain.apply(r)?)
            })
            .await?;
        Ok(out.flatten())
    }

    /// Key and value conversion under the error policy: the record, or `None` if skipped.
    async fn convert(&self, m: &impl Message) -> ConnectResult<Option<SinkRecord>> {
        let topic = m.topic();
        let failure = || self.failure(m);
        let errors = &self.errors;
        let Some((key_schema, key)) = errors.execute(Stage::KeyConverter, &self.key_class, failure, || Ok(self.key_converter.to_connect(topic, m.key())?)).await? else {
            return Ok(None);
        };
        let Some((value_schema, value)) =
            errors.execute(Stage::ValueConverter, &self.value_class, failure, || Ok(self.value_converter.to_connect(topic, m.payload())?)).await?
        else {
            return Ok(None);
        };
        Ok(Some(sink_record(m, key_schema, key, value_schema, value)))
    }
}

/// The sink record of a consumed message, given its converted key and value.
fn sink_record(m: &impl Message, key_schema: Option<SchemaRef>, key: Value, value_schema: Option<SchemaRef>, value: Value) -> SinkRecord {
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
    SinkRecord {
        topic: m.topic().to_string(),
        kafka_partition: m.partition(),
        kafka_offset: m.offset(),
        key_schema,
        key,
        value_schema,
        value,
        timestamp,
        timestamp_type,
        headers,
    }
}

impl SinkExecutor {
    async fn consume_loop(&mut self, shutdown: &mut watch::Receiver<bool>, paused: &mut watch::Receiver<bool>, flush_interval: Duration) -> ConnectResult<()> {
        let mut last_commit = Instant::now();
        // The batch being prepared on rayon's pool while the one before it is put.
        let mut preparing: Option<oneshot::Receiver<Result<Prepared, String>>> = None;
        while !*shutdown.borrow() {
            self.handle_rebalances().await?;
            self.apply_requests();
            let want_paused = *paused.borrow_and_update();
            if want_paused != self.is_paused {
                self.set_paused(want_paused);
            }
            if last_commit.elapsed() >= flush_interval || self.task_ctx.commit_requested.swap(false, Ordering::Relaxed) {
                self.commit(CommitMode::Async).await?;
                last_commit = Instant::now();
            }
            // With a batch in preparation, take only what is already fetched, then put that batch.
            let Some(msgs) = self.poll(preparing.is_none(), shutdown).await else { break };
            let next = match msgs.len() {
                0 => None,
                // A short batch is prepared right here: pipelining pays off for volume, and
                // each thread that touches records keeps its own allocator pages.
                n if n < PARALLEL_MIN => Some(self.pipeline.prepare_here(msgs)),
                _ => Some(self.pipeline.spawn_prepare(msgs)),
            };
            let Some(current) = std::mem::replace(&mut preparing, next) else { continue };
            let prepared = outcome(current).await?;
            if let Some(rewound) = self.deliver(prepared, shutdown).await? {
                // The batch comes again, and so does everything consumed after it.
                if let Some(after) = preparing.take() {
                    let after = outcome(after).await?;
                    self.rewind(after.msgs.iter().filter(|m| !rewound.iter().any(|tp| tp.partition == m.partition() && tp.topic == m.topic())));
                }
            }
        }
        Ok(())
    }

    /// Up to `max.poll.records` messages, detached from the consumer: with `wait`, waits up to
    /// 500 ms for the first; else takes only what is already fetched. `None`: shutdown.
    async fn poll(&mut self, wait: bool, shutdown: &mut watch::Receiver<bool>) -> Option<Vec<OwnedMessage>> {
        let mut msgs = Vec::new();
        let mut early = Vec::new();
        // One stream for the whole batch: `recv` registers and drops a waker per message.
        let mut stream = self.consumer.stream();
        if wait {
            let first = tokio::select! {
                biased;
                _ = shutdown.changed() => return None,
                m = tokio::time::timeout(Duration::from_millis(500), stream.next()) => m,
            };
            match first {
                Err(_) | Ok(None) => return Some(msgs), // nothing for a while: go round for commits and rebalances
                Ok(Some(Err(e))) => {
                    tracing::warn!(error = %e, "consumer error");
                    return Some(msgs);
                }
                Ok(Some(Ok(m))) if self.is_paused => early.push(m),
                Ok(Some(Ok(m))) => msgs.push(m.detach()),
            }
        }
        while msgs.len() + early.len() < self.max_poll_records {
            match stream.next().now_or_never().flatten() {
                Some(Ok(m)) if self.is_paused => early.push(m),
                Some(Ok(m)) => msgs.push(m.detach()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer error");
                    break;
                }
                None => break,
            }
        }
        drop(stream);
        // Fetched before the pause took effect: read again after the resume.
        self.rewind(early.iter());
        Some(msgs)
    }

    /// Seeks each partition of `msgs` back to its first offset among them.
    fn rewind<'m, M: Message + 'm>(&self, msgs: impl Iterator<Item = &'m M>) {
        let mut first: Vec<(TopicPartition, i64)> = Vec::new();
        for m in msgs {
            match first.iter_mut().find(|(tp, _)| tp.partition == m.partition() && tp.topic == m.topic()) {
                Some((_, o)) => *o = (*o).min(m.offset()),
                None => first.push((TopicPartition::new(m.topic(), m.partition()), m.offset())),
            }
        }
        for (tp, offset) in first {
            if let Err(e) = self.consumer.seek(&tp.topic, tp.partition, Offset::Offset(offset), Duration::from_secs(5)) {
                tracing::warn!(error = %e, partition = %tp, offset, "could not rewind a partition");
            }
        }
    }

    /// Finishes a prepared batch and hands it to the task. `Some(partitions)`: `put` failed
    /// retriably and those partitions were rewound to the batch's first offsets.
    async fn deliver(&mut self, prepared: Prepared, shutdown: &watch::Receiver<bool>) -> ConnectResult<Option<Vec<TopicPartition>>> {
        let (mut batch, mut skipped) = (Vec::with_capacity(prepared.msgs.len()), Vec::new());
        self.pipeline.finish(prepared, &mut batch, &mut skipped).await?;
        // A rebalance delivered during `recv` must reach the task (`open`) before `put`.
        self.handle_rebalances().await?;
        if let Some(rewound) = self.put(batch, shutdown).await? {
            return Ok(Some(rewound));
        }
        // Skipped records count as consumed once the batch around them was put.
        for (tp, next) in skipped {
            let slot = self.current.entry(tp).or_insert(next);
            *slot = (*slot).max(next);
        }
        Ok(None)
    }

    /// Hands a batch to the task. A retriable error pauses the partitions, waits (exponential
    /// backoff), and rewinds each partition to the batch's first offset, so the same records
    /// are consumed and handed over again — no copy of the batch is kept for the retry.
    /// Returns the partitions rewound, or `None` if the batch was delivered.
    async fn put(&mut self, batch: Vec<SinkRecord>, shutdown: &watch::Receiver<bool>) -> ConnectResult<Option<Vec<TopicPartition>>> {
        if batch.is_empty() {
            return Ok(None);
        }
        // Per partition: (first offset, one past the last). A batch holds runs of few
        // partitions, so a short list beats hashing (and allocating) a key per record.
        let mut ranges: Vec<(TopicPartition, i64, i64)> = Vec::new();
        let mut at = 0;
        for r in &batch {
            let same = |(tp, ..): &(TopicPartition, i64, i64)| tp.partition == r.kafka_partition && tp.topic == r.topic;
            if !ranges.get(at).is_some_and(same) {
                at = match ranges.iter().position(same) {
                    Some(i) => i,
                    None => {
                        ranges.push((TopicPartition::new(&r.topic, r.kafka_partition), r.kafka_offset, r.kafka_offset));
                        ranges.len() - 1
                    }
                };
            }
            ranges[at].2 = r.kafka_offset + 1;
        }
        match self.task.put(batch).await {
            Ok(()) => {
                if self.put_retries > 0 {
                    self.put_retries = 0;
                    self.pause_all(false);
                }
                self.current.extend(ranges.into_iter().map(|(tp, _, next)| (tp, next)));
                Ok(None)
            }
            Err(e) if e.is_retriable() && !*shutdown.borrow() => {
                let wait = super::backoff(self.put_retries, Duration::from_secs(10));
                tracing::warn!(error = %e, attempt = self.put_retries, wait_ms = wait.as_millis() as u64, "retriable error from put; pausing the partitions and redelivering the batch");
                self.pause_all(true);
                self.put_retries += 1;
                tokio::time::sleep(wait).await;
                for (tp, offset, _) in &ranges {
                    if let Err(e) = self.consumer.seek(&tp.topic, tp.partition, Offset::Offset(*offset), Duration::from_secs(10)) {
                        return Err(ConnectError::retriable(format!("cannot rewind {tp} to offset {offset} to redeliver a batch: {e}")));
                    }
                }
                self.pause_all(false);
                Ok(Some(ranges.into_iter().map(|(tp, ..)| tp).collect()))
            }
            Err(e) => Err(e),
        }
    }

    /// PAUSED (the connector's target state): the consumer stays in its group but fetches nothing.
    fn set_paused(&mut self, paused: bool) {
        self.is_paused = paused;
        self.pause_all(paused);
        let state = if paused { ConnectorState::Paused } else { ConnectorState::Running };
        self.status.put_task(&self.spec.connector, self.spec.task_id, crate::status::Status { state, trace: None, worker_id: self.worker_id.clone() });
        tracing::info!(connector = %self.spec.connector, task = self.spec.task_id, paused, "sink task pause state changed");
    }

    /// Pauses (or resumes) every assigned partition, except that partitions the task paused
    /// itself stay paused, and nothing resumes while the connector is PAUSED.
    fn pause_all(&self, pause: bool) {
        if !pause && self.is_paused {
            return;
        }
        let tps: Vec<TopicPartition> = self.task_ctx.assignment().into_iter().filter(|tp| !self.task_paused.contains(tp)).collect();
        let tpl = to_tpl(tps.iter().map(|tp| (tp, Offset::Invalid)));
        let res = if pause { self.consumer.pause(&tpl) } else { self.consumer.resume(&tpl) };
        if let Err(e) = res {
            tracing::warn!(error = %e, pause, "could not pause/resume partitions");
        }
    }

    async fn handle_rebalances(&mut self) -> ConnectResult<()> {
        while let Ok(event) = self.events.try_recv() {
            match event {
                RebalanceEvent::Assigned(tps) => {
                    tracing::info!(connector = %self.spec.connector, task = self.spec.task_id, partitions = ?tps, "partitions assigned");
                    self.task_ctx.assignment.lock().unwrap_or_else(|p| p.into_inner()).extend(tps.iter().cloned());
                    for tp in &tps {
                        self.status.add_topic(&self.spec.connector, &tp.topic);
                    }
                    if self.is_paused
                        && let Err(e) = self.consumer.pause(&to_tpl(tps.iter().map(|tp| (tp, Offset::Invalid))))
                    {
                        tracing::warn!(error = %e, "could not pause newly assigned partitions");
                    }
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
                ContextRequest::Pause(tps) => {
                    self.task_paused.extend(tps.iter().cloned());
                    self.consumer.pause(&to_tpl(tps.iter().map(|tp| (tp, Offset::Invalid))))
                }
                ContextRequest::Resume(tps) => {
                    for tp in &tps {
                        self.task_paused.remove(tp);
                    }
                    self.consumer.resume(&to_tpl(tps.iter().map(|tp| (tp, Offset::Invalid))))
                }
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
        // Records sent to the DLQ must be acknowledged before the offsets past them are committed.
        if let Some(dlq) = &self.pipeline.errors.dlq {
            dlq.flush(Duration::from_secs(30))?;
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
                tracing::debug!(connector = %self.spec.connector, task = self.spec.task_id, offsets = ?changed, sync = matches!(mode, CommitMode::Sync), "committed consumer offsets");
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
        self.pipeline.errors.log_counts();
        tracing::info!(connector = %self.spec.connector, task = self.spec.task_id, "sink task stopped");
        committed.and(closed)
    }
}

/// The outcome of a batch's preparation.
async fn outcome(rx: oneshot::Receiver<Result<Prepared, String>>) -> ConnectResult<Prepared> {
    match rx.await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(panic)) => Err(ConnectError::fatal(format!("converting or transforming a batch panicked: {panic}"))),
        Err(_) => Err(ConnectError::fatal("the conversion of a batch was lost")),
    }
}

/// A consumed message as owned bytes (only built for a record that failed).
fn raw_record(m: &impl Message) -> RawRecord {
    RawRecord {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        timestamp: m.timestamp().to_millis(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers: m.headers().map(|hs| hs.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))).collect()).unwrap_or_default(),
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

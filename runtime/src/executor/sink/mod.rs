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

mod context;
mod offsets;
mod prepare;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use sluice_rest_api::ConnectorState;
use sluice_sdk::{ConnectError, ConnectResult, ErrantRecordReporter, SinkRecord, SinkTask, SinkTaskContext, TopicPartition};
use tokio::sync::{mpsc, oneshot, watch};

use super::dlq::DeadLetterQueue;
use super::errors::{ErrorConfig, ErrorHandler, ErrorReporter, WorkerErrantRecordReporter};
use super::transform_chain::TransformChain;
use super::{TaskSpec, WorkerContext};
use crate::kafka::consumer_config;
use context::{ContextRequest, ExecutorSinkContext, RebalanceEvent, SinkConsumerContext};
use prepare::{PARALLEL_MIN, Prepared, SinkPipeline, outcome};

/// Runs a sink task until `shutdown` turns true or the task fails.
pub async fn run(ctx: Arc<WorkerContext>, spec: TaskSpec, task: Box<dyn SinkTask>, shutdown: watch::Receiver<bool>, paused: watch::Receiver<bool>) {
    let (connector, id) = (spec.connector.clone(), spec.task_id);
    match execute(&ctx, spec, task, shutdown, paused).await {
        Ok(()) => ctx.task_status(&connector, id, ConnectorState::Unassigned, None),
        Err(e) => ctx.task_status(&connector, id, ConnectorState::Failed, Some(format!("{}: {e}", e.class_name()))),
    }
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

    let key_converter: Arc<dyn sluice_sdk::Converter> = Arc::from(ctx.converter(&spec.connector_props, crate::worker_config::KEY_CONVERTER)?);
    let value_converter: Arc<dyn sluice_sdk::Converter> = Arc::from(ctx.converter(&spec.connector_props, crate::worker_config::VALUE_CONVERTER)?);
    let error_config = ErrorConfig::from_props(&spec.connector_props);
    let dlq = DeadLetterQueue::create(&ctx.config, &spec.connector, spec.task_id, &spec.connector_props, &error_config)
        .await?
        .map(|dlq| Arc::new(dlq) as Arc<dyn ErrorReporter>);
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
        key_class: ctx.converter_class(&spec.connector_props, crate::worker_config::KEY_CONVERTER),
        value_class: ctx.converter_class(&spec.connector_props, crate::worker_config::VALUE_CONVERTER),
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

    let flush_interval = Duration::from_millis(ctx.config.get(crate::worker_config::OFFSET_FLUSH_INTERVAL_MS).max(1) as u64);
    let result = exec.consume_loop(&mut shutdown, &mut paused, flush_interval).await;
    let finish = exec.finish(result.is_ok()).await;
    result.and(finish)
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
                    self.rewind(after.msgs.iter().filter(|m| offsets::outside(&rewound, m.topic(), m.partition())));
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
        for (tp, offset) in offsets::rewind_points(msgs.map(|m| (m.topic(), m.partition(), m.offset()))) {
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
        offsets::advance_skipped(&mut self.current, skipped);
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
        let ranges = offsets::batch_ranges(batch.iter().map(|r| (r.topic.as_str(), r.kafka_partition, r.kafka_offset)));
        match self.task.put(batch).await {
            Ok(()) => {
                if self.put_retries > 0 {
                    self.put_retries = 0;
                    self.pause_all(false);
                }
                offsets::advance_put(&mut self.current, ranges);
                Ok(None)
            }
            Err(e) if e.is_retriable() && !*shutdown.borrow() => {
                let wait = super::backoff(self.put_retries, Duration::from_secs(10));
                tracing::warn!(error = %e, attempt = self.put_retries, wait_ms = wait.as_millis() as u64, "retriable error from put; pausing the partitions and redelivering the batch");
                self.pause_all(true);
                self.put_retries += 1;
                tokio::time::sleep(wait).await;
                for offsets::OffsetRange { partition: tp, first: offset, .. } in &ranges {
                    if let Err(e) = self.consumer.seek(&tp.topic, tp.partition, Offset::Offset(*offset), Duration::from_secs(10)) {
                        return Err(ConnectError::retriable(format!("cannot rewind {tp} to offset {offset} to redeliver a batch: {e}")));
                    }
                }
                self.pause_all(false);
                Ok(Some(ranges.into_iter().map(|r| r.partition).collect()))
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
                    offsets::revoke(&mut self.current, &mut self.committed, &tps);
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
                ContextRequest::Reset(positions) => {
                    let mut res = Ok(());
                    for (tp, off) in positions {
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
        self.pipeline.errors.flush(Duration::from_secs(30))?;
        let safe = self.task.pre_commit(&self.current).await?;
        let changed = offsets::to_commit(&safe, &self.committed);
        if changed.is_empty() {
            return Ok(());
        }
        let tpl = to_tpl(changed.iter().map(|(tp, off)| (*tp, Offset::Offset(*off))));
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

fn to_tpl<'a>(entries: impl Iterator<Item = (&'a TopicPartition, Offset)>) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (tp, off) in entries {
        if let Err(e) = tpl.add_partition_offset(&tp.topic, tp.partition, off) {
            tracing::warn!(error = %e, partition = %tp, "bad offset for partition list");
        }
    }
    tpl
}

//! The prepare stage of the sink pipeline: a consumed batch, detached from the consumer, is
//! converted (key, value, headers) and run through the connector's transformation chain on
//! rayon's pool while the executor puts the batch before it; what failed there is done again on
//! the executor under the error policy, in order ([`SinkPipeline::finish`]).

use std::sync::Arc;

use rdkafka::Timestamp;
use rdkafka::message::{Headers as _, Message, OwnedMessage};
use sluice_sdk::{ConnectError, ConnectResult, Headers, SchemaRef, SinkRecord, TimestampType, TopicPartition, Value};
use tokio::sync::oneshot;

use crate::converters::header_from_bytes;
use crate::executor::errors::{ErrorHandler, Failure, OpError, RawRecord, Stage};
use crate::executor::transform_chain::{StageError, TransformChain};

/// What turns a consumed message into a sink record (shared by reference across awaits, so
/// it holds nothing that is not `Sync`).
pub(super) struct SinkPipeline {
    pub(super) key_converter: Arc<dyn sluice_sdk::Converter>,
    pub(super) value_converter: Arc<dyn sluice_sdk::Converter>,
    pub(super) key_class: String,
    pub(super) value_class: String,
    pub(super) chain: TransformChain<SinkRecord>,
    pub(super) errors: Arc<ErrorHandler>,
}

/// Batches at least this long are prepared in parallel over rayon's pool.
pub(super) const PARALLEL_MIN: usize = 128;

/// Records converted and then transformed together (the unit of parallel work).
const CHAIN_SLICE: usize = 64;

/// What preparing did with one consumed message.
pub(super) enum Prep {
    /// Conversion failed: done again on the executor under the error policy.
    Failed,
    /// Converted; the chain is run on the executor (record by record, as it retries).
    Converted(SinkRecord),
    /// Converted and transformed (`None`: dropped by a transform).
    Transformed(Result<Option<SinkRecord>, StageError>),
}

/// A consumed batch, detached from the consumer, with what preparing made of each message.
pub(super) struct Prepared {
    pub(super) msgs: Vec<OwnedMessage>,
    pub(super) preps: Vec<Prep>,
}

impl SinkPipeline {
    /// Starts converting and transforming `msgs` on rayon's pool; a panic there comes back as
    /// an error.
    pub(super) fn spawn_prepare(self: &Arc<Self>, msgs: Vec<OwnedMessage>) -> oneshot::Receiver<Result<Prepared, String>> {
        let (tx, rx) = oneshot::channel();
        let pipeline = self.clone();
        rayon::spawn(move || {
            let preps = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pipeline.prepare(&msgs)));
            let out = preps
                .map(|preps| Prepared { msgs, preps })
                .map_err(|p| p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "panic".into()));
            let _ = tx.send(out);
        });
        rx
    }

    /// Prepares `msgs` on the calling thread (the outcome is ready at once).
    pub(super) fn prepare_here(&self, msgs: Vec<OwnedMessage>) -> oneshot::Receiver<Result<Prepared, String>> {
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
    pub(super) async fn finish(&self, prepared: Prepared, batch: &mut Vec<SinkRecord>, skipped: &mut Vec<(TopicPartition, i64)>) -> ConnectResult<()> {
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
            .execute(
                Stage::Transformation,
                "",
                || self.failure(m),
                || {
                    let r = if retries { input.clone() } else { input.take() };
                    let r = r.ok_or_else(|| OpError::from(ConnectError::fatal("transformation input already consumed")))?;
                    Ok(self.chain.apply(r)?)
                },
            )
            .await?;
        Ok(out.flatten())
    }

    /// Key and value conversion under the error policy: the record, or `None` if skipped.
    async fn convert(&self, m: &impl Message) -> ConnectResult<Option<SinkRecord>> {
        let topic = m.topic();
        let failure = || self.failure(m);
        let errors = &self.errors;
        let Some((key_schema, key)) =
            errors.execute(Stage::KeyConverter, &self.key_class, failure, || Ok(self.key_converter.to_connect(topic, m.key())?)).await?
        else {
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

/// The outcome of a batch's preparation.
pub(super) async fn outcome(rx: oneshot::Receiver<Result<Prepared, String>>) -> ConnectResult<Prepared> {
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

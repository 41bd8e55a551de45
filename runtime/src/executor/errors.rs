//! Error handling for records (Connect's `RetryWithToleranceOperator`, `LogReporter`,
//! `WorkerErrantRecordReporter`), driven by the connector's `errors.*` keys:
//!
//! - an operation on a record (key/value conversion, the transformation chain) that fails with
//!   a `Retriable` error is retried with exponential backoff (300 ms doubling, capped at
//!   `errors.retry.delay.max.ms`) for up to `errors.retry.timeout` ms (0: never, -1: forever);
//! - a failure that remains follows `errors.tolerance`: `none` fails the task with a message
//!   naming the stage, the class and the record (topic, partition, offset); `all` skips the
//!   record, logs it when `errors.log.enable` (with the record when
//!   `errors.log.include.messages`), and, for sink connectors, sends the original record to the
//!   dead letter queue ([`super::dlq`]);
//! - sink tasks report records that fail inside `put` through the [`ErrantRecordReporter`]
//!   (KIP-610), which applies the same policy (the record is re-serialized with the
//!   connector's converters for the DLQ).
//!
//! Counters (failed, skipped, retried, sent to the DLQ) are kept per task and logged at stop.
//!
//! Where a tolerated failure goes besides the log is an [`ErrorReporter`] (Connect's
//! interface of the same name): the dead letter queue ([`super::dlq`]) implements it, so this
//! module does not know Kafka. The `errors.*` keys and their defaults are declared once, in
//! [`error_def`], which the connector config's definition includes and [`ErrorConfig`] reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use sluice_sdk::{
    ConfigDef, ConnectError, ConnectResult, Converter, ErrantRecordReporter, Importance, Key, KeyKind, ParsedConfig, Props, SinkRecord, Validator, config_keys,
};

use crate::converters::header_to_bytes;

/// Where in the pipeline a record failed (Connect's `Stage`; the names go into the DLQ header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }
}

/// The first retry waits this long (Connect's `RETRIES_DELAY_MIN_MS`).
const RETRY_DELAY_MIN: Duration = Duration::from_millis(300);

const ERRORS: &str = "Error Handling";

config_keys! {
    /// The `errors.*` keys of every connector (Connect's `ConnectorConfig`).
    fn error_keys();
    pub RETRY_TIMEOUT: Long = "errors.retry.timeout" => default("0")
        .importance(Importance::Medium)
        .group(ERRORS, 1)
        .validator(Validator::at_least(-1.0))
        .doc("The maximum duration in milliseconds that a failed operation will be reattempted. 0: no retries; -1: infinite retries.");
    pub RETRY_DELAY_MAX_MS: Long = "errors.retry.delay.max.ms" => default("60000")
        .importance(Importance::Medium)
        .group(ERRORS, 2)
        .validator(Validator::at_least(1.0))
        .doc("The maximum duration in milliseconds between consecutive retry attempts.");
    pub TOLERANCE: String = "errors.tolerance" => default("none")
        .importance(Importance::Medium)
        .group(ERRORS, 3)
        .validator(Validator::one_of(&["none", "all"]))
        .doc("Behavior for tolerating errors during connector operation. 'none' fails the task; 'all' skips problematic records.");
    pub LOG_ENABLE: Boolean = "errors.log.enable" => default("false")
        .importance(Importance::Medium)
        .group(ERRORS, 4)
        .doc("Log each error and the details of the failed operation.");
    pub LOG_INCLUDE_MESSAGES: Boolean = "errors.log.include.messages" => default("false")
        .importance(Importance::Medium)
        .group(ERRORS, 5)
        .doc("Include the record that caused the failure in the log.");
}

config_keys! {
    /// The dead letter queue keys of sink connectors (Connect's `SinkConnectorConfig`).
    fn dlq_keys();
    pub DLQ_TOPIC_NAME: String = "errors.deadletterqueue.topic.name" => default("")
        .importance(Importance::Medium)
        .group(ERRORS, 6)
        .doc("The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error.");
    pub DLQ_REPLICATION_FACTOR: Short = "errors.deadletterqueue.topic.replication.factor" => default("3")
        .importance(Importance::Medium)
        .group(ERRORS, 7)
        .doc("Replication factor used to create the dead letter queue topic when it doesn't already exist.");
    pub DLQ_CONTEXT_HEADERS_ENABLE: Boolean = "errors.deadletterqueue.context.headers.enable" => default("false")
        .importance(Importance::Medium)
        .group(ERRORS, 8)
        .doc("If true, add headers containing error context to the messages written to the dead letter queue.");
}

/// The `errors.*` keys of a connector (Connect's `ConnectorConfig` and, with `sink`, the
/// dead letter queue keys of `SinkConnectorConfig`): the one place their defaults live.
pub fn error_def(sink: bool) -> ConfigDef {
    let def = error_keys();
    if sink { def.merge(&dlq_keys()) } else { def }
}

/// The `errors.*` settings of a connector.
#[derive(Debug, Clone)]
pub struct ErrorConfig {
    pub tolerate_all: bool,
    /// `None`: retry forever (`-1`); zero: no retries.
    pub retry_timeout: Option<Duration>,
    pub retry_delay_max: Duration,
    pub log_enable: bool,
    pub log_include_messages: bool,
    pub dlq_topic: String,
    pub dlq_replication_factor: i16,
    pub dlq_context_headers: bool,
}

impl ErrorConfig {
    /// Reads the keys with [`error_def`]'s defaults. The whole connector config was validated
    /// before a task starts ([`crate::connector_config::validate`]); a value that still does
    /// not parse falls back to the default.
    pub fn from_props(props: &Props) -> ErrorConfig {
        let def = error_def(true);
        // Every key of `error_def` has a default, so parsing no properties cannot fail.
        let parsed = def.parse(props).or_else(|_| def.parse(&Props::new())).ok();
        let p = parsed.as_ref();
        fn read<K: KeyKind>(p: Option<&ParsedConfig>, key: Key<K>) -> K::Value
        where
            K::Value: Default,
        {
            p.and_then(|p| p.value(key).ok()).unwrap_or_default()
        }
        let timeout = read(p, RETRY_TIMEOUT);
        ErrorConfig {
            tolerate_all: read(p, TOLERANCE) == "all",
            retry_timeout: if timeout < 0 { None } else { Some(Duration::from_millis(timeout as u64)) },
            retry_delay_max: Duration::from_millis(read(p, RETRY_DELAY_MAX_MS).max(1) as u64),
            log_enable: read(p, LOG_ENABLE),
            log_include_messages: read(p, LOG_INCLUDE_MESSAGES),
            dlq_topic: read(p, DLQ_TOPIC_NAME),
            dlq_replication_factor: read(p, DLQ_REPLICATION_FACTOR),
            dlq_context_headers: read(p, DLQ_CONTEXT_HEADERS_ENABLE),
        }
    }

    /// Whether retries are configured (so an operation's input must be kept for a retry).
    pub fn retries(&self) -> bool {
        self.retry_timeout != Some(Duration::ZERO)
    }
}

/// A record as it was consumed (or as a sink record re-serialized), for the DLQ.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl RawRecord {
    /// Connect's rendering of a consumed record's position, for error messages.
    pub fn location(&self) -> String {
        format!("topic='{}', partition={}, offset={}, timestamp={}", self.topic, self.partition, self.offset, self.timestamp.unwrap_or(-1))
    }
}

/// A failure the policy tolerated, as a reporter sees it.
pub struct Report<'a> {
    pub raw: &'a RawRecord,
    pub stage: Stage,
    /// The class that failed (converter, transform or connector class).
    pub class: &'a str,
    pub error: &'a ConnectError,
    pub connector: &'a str,
    pub task_id: u32,
}

/// Where a tolerated failure of a consumed record is sent besides the log (Connect's
/// `ErrorReporter`; the dead letter queue is one).
pub trait ErrorReporter: Send + Sync {
    /// Sends the failed record on; may return before it arrived (see [`ErrorReporter::flush`]).
    fn report(&self, report: Report<'_>) -> ConnectResult<()>;

    /// Waits until everything reported so far arrived; called before the sink commits
    /// consumer offsets, so an offset is never committed ahead of its failed record.
    fn flush(&self, timeout: Duration) -> ConnectResult<()>;
}

/// Describes a failed record, built only when something failed.
pub struct Failure {
    /// `topic='t', partition=0, offset=5` or the source record's topic and offset.
    pub location: String,
    /// The record as consumed (sinks), for the DLQ.
    pub raw: Option<RawRecord>,
    /// The record's contents, for `errors.log.include.messages`.
    pub message: Option<String>,
}

/// An operation's error, with the class that raised it when it is not the stage's own
/// (a transform within the chain).
#[derive(Debug)]
pub struct OpError {
    pub class: Option<&'static str>,
    pub error: ConnectError,
}

impl From<ConnectError> for OpError {
    fn from(error: ConnectError) -> OpError {
        OpError { class: None, error }
    }
}

impl From<super::transform_chain::StageError> for OpError {
    fn from(e: super::transform_chain::StageError) -> OpError {
        OpError { class: Some(e.class), error: e.error }
    }
}

/// Per-task error counters (Connect's `ErrorHandlingMetrics`).
#[derive(Debug, Default)]
pub struct ErrorCounts {
    pub record_failures: AtomicU64,
    pub records_skipped: AtomicU64,
    pub retries: AtomicU64,
    pub dlq_produce_requests: AtomicU64,
}

/// Applies the error policy of one task.
pub struct ErrorHandler {
    pub config: ErrorConfig,
    pub connector: String,
    pub task_id: u32,
    pub counts: ErrorCounts,
    /// Where tolerated failures of consumed records go (the dead letter queue), if anywhere.
    pub reporter: Option<Arc<dyn ErrorReporter>>,
}

impl ErrorHandler {
    pub fn new(config: ErrorConfig, connector: &str, task_id: u32, reporter: Option<Arc<dyn ErrorReporter>>) -> ErrorHandler {
        ErrorHandler { config, connector: connector.to_string(), task_id, counts: ErrorCounts::default(), reporter }
    }

    /// Waits for the reporter (see [`ErrorReporter::flush`]).
    pub fn flush(&self, timeout: Duration) -> ConnectResult<()> {
        match &self.reporter {
            Some(r) => r.flush(timeout),
            None => Ok(()),
        }
    }

    /// Runs `op`, retrying `Retriable` errors within `errors.retry.timeout`. `Ok(Some)` is the
    /// result, `Ok(None)` a failure tolerated (skip the record), `Err` fails the task.
    pub async fn execute<T>(
        &self,
        stage: Stage,
        class: &str,
        failure: impl FnOnce() -> Failure,
        mut op: impl FnMut() -> Result<T, OpError>,
    ) -> ConnectResult<Option<T>> {
        // The clock is read only once something failed: this runs twice per record.
        let mut started = None;
        let mut delay = RETRY_DELAY_MIN;
        loop {
            match op() {
                Ok(v) => return Ok(Some(v)),
                Err(e) if e.error.is_retriable() && self.may_retry(*started.get_or_insert_with(Instant::now), delay) => {
                    self.counts.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(stage = stage.name(), error = %e.error, wait_ms = delay.as_millis() as u64, "retriable error; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.config.retry_delay_max);
                }
                Err(e) => return self.fail(stage, e.class.unwrap_or(class), failure(), &e.error).map(|()| None),
            }
        }
    }

    fn may_retry(&self, started: Instant, delay: Duration) -> bool {
        match self.config.retry_timeout {
            None => true,
            Some(t) => started.elapsed() + delay <= t,
        }
    }

    /// Handles a record that failed for good: `Ok` if tolerated (logged, sent to the DLQ),
    /// `Err` ("Tolerance exceeded ...") if the task must fail.
    pub fn fail(&self, stage: Stage, class: &str, failure: Failure, error: &ConnectError) -> ConnectResult<()> {
        self.counts.record_failures.fetch_add(1, Ordering::Relaxed);
        let what = format!(
            "Executing stage '{}' with class '{class}', where {} record is {{{}}}",
            stage.name(),
            if failure.raw.is_some() { "consumed" } else { "source" },
            failure.location
        );
        if !self.config.tolerate_all {
            return Err(ConnectError::fatal(format!("Tolerance exceeded in error handler: {what}: {}: {error}", error.class_name())));
        }
        self.counts.records_skipped.fetch_add(1, Ordering::Relaxed);
        if self.config.log_enable {
            match failure.message.as_deref().filter(|_| self.config.log_include_messages) {
                Some(m) => tracing::error!(connector = %self.connector, task = self.task_id, record = m, "Error encountered in task. {what}: {error}"),
                None => tracing::error!(connector = %self.connector, task = self.task_id, "Error encountered in task. {what}: {error}"),
            }
        }
        if let (Some(reporter), Some(raw)) = (&self.reporter, &failure.raw) {
            self.counts.dlq_produce_requests.fetch_add(1, Ordering::Relaxed);
            reporter.report(Report { raw, stage, class, error, connector: &self.connector, task_id: self.task_id })?;
        }
        Ok(())
    }

    /// Logs the counters (at task stop).
    pub fn log_counts(&self) {
        let c = &self.counts;
        let failures = c.record_failures.load(Ordering::Relaxed);
        if failures > 0 || c.retries.load(Ordering::Relaxed) > 0 {
            tracing::info!(
                connector = %self.connector,
                task = self.task_id,
                failures,
                skipped = c.records_skipped.load(Ordering::Relaxed),
                retries = c.retries.load(Ordering::Relaxed),
                dlq = c.dlq_produce_requests.load(Ordering::Relaxed),
                "record errors of this task"
            );
        }
    }
}

/// The KIP-610 reporter handed to sink tasks: applies the task's error policy to a record that
/// failed inside `put`, re-serializing it with the connector's converters for the DLQ.
pub struct WorkerErrantRecordReporter {
    pub handler: Arc<ErrorHandler>,
    pub key_converter: Arc<dyn Converter>,
    pub value_converter: Arc<dyn Converter>,
    /// The task's class (the connector class), for `__connect.errors.class.name`.
    pub class: String,
}

impl ErrantRecordReporter for WorkerErrantRecordReporter {
    fn report(&self, record: &SinkRecord, error: &ConnectError) -> ConnectResult<()> {
        let key = self.key_converter.from_connect(&record.topic, record.key_schema.as_ref(), &record.key)?;
        let value = self.value_converter.from_connect(&record.topic, record.value_schema.as_ref(), &record.value)?;
        let raw = RawRecord {
            topic: record.topic.clone(),
            partition: record.kafka_partition,
            offset: record.kafka_offset,
            timestamp: record.timestamp,
            key,
            value,
            headers: record.headers.iter().map(|h| (h.key.clone(), header_to_bytes(&h.value))).collect(),
        };
        let failure = Failure { location: raw.location(), message: Some(format!("{record:?}")), raw: Some(raw) };
        self.handler.fail(Stage::TaskPut, &self.class, failure, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(pairs: &[(&str, &str)]) -> ErrorHandler {
        let props: Props = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ErrorHandler::new(ErrorConfig::from_props(&props), "c", 0, None)
    }

    fn failure() -> Failure {
        Failure { location: "topic='t', partition=1, offset=5".into(), raw: None, message: None }
    }

    #[test]
    fn error_config_takes_its_defaults_from_error_def() {
        let c = ErrorConfig::from_props(&Props::new());
        assert!(!c.tolerate_all && !c.log_enable && !c.log_include_messages && !c.dlq_context_headers);
        assert_eq!(c.retry_timeout, Some(Duration::ZERO));
        assert_eq!(c.retry_delay_max, Duration::from_millis(60_000));
        assert_eq!((c.dlq_topic.as_str(), c.dlq_replication_factor), ("", 3));
        let props: Props = [("errors.retry.timeout", "-1"), ("errors.tolerance", " all "), ("errors.deadletterqueue.topic.replication.factor", "1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let c = ErrorConfig::from_props(&props);
        assert_eq!((c.retry_timeout, c.tolerate_all, c.dlq_replication_factor), (None, true, 1));
    }

    #[tokio::test]
    async fn tolerance_none_fails_naming_the_record() {
        let h = handler(&[]);
        let err = h.execute(Stage::ValueConverter, "JsonConverter", failure, || Err::<(), _>(ConnectError::data("bad json").into())).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("Tolerance exceeded") && msg.contains("VALUE_CONVERTER") && msg.contains("partition=1, offset=5") && msg.contains("bad json"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn tolerance_all_skips_and_counts() {
        let h = handler(&[("errors.tolerance", "all"), ("errors.log.enable", "true")]);
        let r = h.execute(Stage::Transformation, "X", failure, || Err::<(), _>(ConnectError::data("no").into())).await.unwrap();
        assert!(r.is_none());
        assert_eq!(h.counts.records_skipped.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retriable_errors_are_retried_with_backoff_until_the_timeout() {
        let h = handler(&[("errors.retry.timeout", "5000"), ("errors.retry.delay.max.ms", "1000")]);
        let mut calls = 0;
        let started = tokio::time::Instant::now();
        let r = h
            .execute(Stage::Transformation, "X", failure, || {
                calls += 1;
                if calls < 4 { Err(ConnectError::retriable("later").into()) } else { Ok(calls) }
            })
            .await
            .unwrap();
        assert_eq!(r, Some(4));
        // 300 + 600 + 1000 (capped) ms of backoff.
        assert_eq!(started.elapsed(), Duration::from_millis(1900));
        let mut calls = 0;
        let err = h
            .execute(Stage::Transformation, "X", failure, || {
                calls += 1;
                Err::<(), _>(ConnectError::retriable("never").into())
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("never"));
        assert!((5..=8).contains(&calls), "{calls} attempts within 5 s");
        let none = handler(&[]);
        let mut calls = 0;
        let _ = none
            .execute(Stage::Transformation, "X", failure, || {
                calls += 1;
                Err::<(), _>(ConnectError::retriable("x").into())
            })
            .await;
        assert_eq!(calls, 1, "errors.retry.timeout=0: no retries");
    }
}

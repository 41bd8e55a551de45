//! `TestSinkConnector` (`io.sluice.connect.testkit.TestSinkConnector`): a sink for testing
//! the runtime's backpressure and error handling with a real connector.
//!
//! - `file`: appends each record's value (as FileStreamSink renders it) as one line; empty:
//!   records are discarded;
//! - `put.delay.ms`: sleeps this long in every `put` (a slow external system);
//! - `errant.value.regex`: records whose rendered value matches are not written but reported
//!   through the KIP-610 errant record reporter (to the DLQ, per `errors.*`); without a
//!   reporter the task fails with a `Data` error, as a sink should.
//!
//! Limits: for tests and demos only; one `write` per `put`, no rotation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use sluice_sdk::{
    ConfigDef, ConnectError, ConnectResult, Connector, ConnectorContext, ErrantRecordReporter, Importance, Props, SinkConnector, SinkRecord, SinkTask,
    SinkTaskContext, Validator, async_trait, config_keys,
};

/// The class name under which the connector is registered.
pub const CLASS: &str = "io.sluice.connect.testkit.TestSinkConnector";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

config_keys! {
    fn config_def();
    FILE: String = "file" => default("").importance(Importance::High).doc("File to append record values to; empty: discard them.");
    RETRIABLE_FAILURES: Int = "retriable.failures" => default("0").importance(Importance::Medium).validator(Validator::at_least(0.0)).doc("The first N put() calls fail with a retriable error (the runtime must redeliver the same records).");
    PUT_DELAY: Long = "put.delay.ms" => default("0").importance(Importance::Medium).validator(Validator::at_least(0.0)).doc("Milliseconds every put() sleeps.");
    ERRANT_VALUE_REGEX: String = "errant.value.regex" => default("")
        .importance(Importance::Medium)
        .validator(Validator::Custom(Arc::new(|v| match v {
            sluice_sdk::ConfigValue::String(s) => Regex::new(s).map(|_| ()).map_err(|e| format!("Invalid regex: {e}")),
            _ => Ok(()),
        })))
        .doc("Records whose value matches are reported to the errant record reporter instead of written.");
}

#[derive(Default)]
pub struct TestSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for TestSinkConnector {
    fn version(&self) -> String {
        VERSION.to_string()
    }
    fn config_def(&self) -> ConfigDef {
        config_def()
    }
    async fn start(&mut self, props: Props, _ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()> {
        config_def().parse(&props)?;
        self.props = props;
        Ok(())
    }
    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks])
    }
    async fn stop(&mut self) {}
}

impl SinkConnector for TestSinkConnector {}

#[derive(Default)]
pub struct TestSinkTask {
    file: Option<File>,
    delay: Duration,
    errant: Option<Regex>,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
    buf: Vec<u8>,
    /// put() calls still to fail with a retriable error.
    failures_left: i32,
}

#[async_trait]
impl SinkTask for TestSinkTask {
    async fn start(&mut self, props: Props, ctx: Arc<dyn SinkTaskContext>) -> ConnectResult<()> {
        let cfg = config_def().parse(&props)?;
        let name = cfg.value(FILE)?;
        if !name.is_empty() {
            self.file = Some(OpenOptions::new().create(true).append(true).open(&name).map_err(|e| ConnectError::fatal(format!("cannot open '{name}': {e}")))?);
        }
        self.delay = Duration::from_millis(cfg.value(PUT_DELAY)?.max(0) as u64);
        let pattern = cfg.value(ERRANT_VALUE_REGEX)?;
        self.errant = if pattern.is_empty() { None } else { Some(Regex::new(&pattern).map_err(|e| ConnectError::config(ERRANT_VALUE_REGEX, e.to_string()))?) };
        self.reporter = ctx.errant_record_reporter();
        self.failures_left = cfg.value(RETRIABLE_FAILURES)?;
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.failures_left > 0 {
            self.failures_left -= 1;
            return Err(ConnectError::retriable(format!("test failure: {} more to come", self.failures_left)));
        }
        self.buf.clear();
        for r in &records {
            let line = r.value.to_string();
            if let Some(re) = &self.errant
                && re.is_match(&line)
            {
                let err = ConnectError::data(format!("errant value at {}-{}@{}", r.topic, r.kafka_partition, r.kafka_offset));
                match &self.reporter {
                    Some(rep) => rep.report(r, &err)?,
                    None => return Err(err),
                }
                continue;
            }
            self.buf.extend_from_slice(line.as_bytes());
            self.buf.push(b'\n');
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(&self.buf)?;
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &std::collections::HashMap<sluice_sdk::TopicPartition, i64>) -> ConnectResult<()> {
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
        }
        Ok(())
    }

    async fn stop(&mut self) {
        self.file = None;
    }
}

//! The dead letter queue of a sink connector (Connect's `DeadLetterQueueReporter`): records
//! that failed conversion, transformation or `put` are produced, with their original key,
//! value, headers and timestamp, to `errors.deadletterqueue.topic.name` (created with one
//! partition and `errors.deadletterqueue.topic.replication.factor` if missing). With
//! `errors.deadletterqueue.context.headers.enable` each record carries Connect's headers
//! `__connect.errors.{topic,partition,offset,connector.name,task.id,stage,class.name,
//! exception.class.name,exception.message,exception.stacktrace}` (UTF-8 strings; the
//! "stacktrace" is the error's class and message, Sluice has no Java stack).
//!
//! Sends are asynchronous; [`DeadLetterQueue::flush`] waits for them and is called before the
//! sink commits consumer offsets, so an offset is never committed ahead of its DLQ record.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header as KafkaHeader, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use sluice_sdk::{ConnectError, ConnectResult, Props};

use super::errors::{ErrorConfig, ErrorReporter, RawRecord, Report, Stage};
use crate::kafka::{admin_client, create_topics, producer_config};
use crate::worker_config::WorkerConfig;

pub const ERROR_HEADER_PREFIX: &str = "__connect.errors.";

/// The `__connect.errors.*` headers of a failed record, in Connect's order.
pub fn context_headers(raw: &RawRecord, stage: Stage, class: &str, error: &ConnectError, connector: &str, task_id: u32) -> Vec<(String, String)> {
    [
        ("topic", raw.topic.clone()),
        ("partition", raw.partition.to_string()),
        ("offset", raw.offset.to_string()),
        ("connector.name", connector.to_string()),
        ("task.id", task_id.to_string()),
        ("stage", stage.name().to_string()),
        ("class.name", class.to_string()),
        ("exception.class.name", error.class_name().to_string()),
        ("exception.message", error.to_string()),
        ("exception.stacktrace", format!("{}: {error}", error.class_name())),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{ERROR_HEADER_PREFIX}{k}"), v))
    .collect()
}

struct DlqContext {
    failure: Mutex<Option<String>>,
}

impl ClientContext for DlqContext {}

impl ProducerContext for DlqContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            tracing::error!(topic = m.topic(), error = %e, "Could not produce message to dead letter queue");
            self.failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e.to_string());
        }
    }
}

/// The DLQ producer of one sink task.
pub struct DeadLetterQueue {
    topic: String,
    context_headers: bool,
    producer: ThreadedProducer<DlqContext>,
}

impl DeadLetterQueue {
    /// The DLQ of a sink task, if `errors.deadletterqueue.topic.name` is set; creates the topic.
    pub async fn create(worker: &WorkerConfig, connector: &str, task_id: u32, props: &Props, config: &ErrorConfig) -> ConnectResult<Option<DeadLetterQueue>> {
        if config.dlq_topic.is_empty() {
            return Ok(None);
        }
        let admin = admin_client(worker)?;
        create_topics(&admin, &[(config.dlq_topic.as_str(), 1, i32::from(config.dlq_replication_factor), Vec::new())])
            .await
            .map_err(|e| ConnectError::fatal(format!("Could not initialize dead letter queue with topic={}: {e}", config.dlq_topic)))?;
        let producer = producer_config(worker, props, &format!("connector-dlq-producer-{connector}-{task_id}"))
            .create_with_context(DlqContext { failure: Mutex::new(None) })
            .map_err(|e| ConnectError::fatal(format!("cannot create the dead letter queue producer: {e}")))?;
        Ok(Some(DeadLetterQueue { topic: config.dlq_topic.clone(), context_headers: config.dlq_context_headers, producer }))
    }
}

impl ErrorReporter for DeadLetterQueue {
    /// Sends a failed record (does not wait for the broker; see [`DeadLetterQueue::flush`]).
    fn report(&self, report: Report<'_>) -> ConnectResult<()> {
        let Report { raw, stage, class, error, connector, task_id } = report;
        let extra = if self.context_headers { context_headers(raw, stage, class, error, connector, task_id) } else { Vec::new() };
        let mut headers = OwnedHeaders::new_with_capacity(raw.headers.len() + extra.len());
        for (k, v) in &raw.headers {
            headers = headers.insert(KafkaHeader { key: k, value: v.as_deref() });
        }
        for (k, v) in &extra {
            headers = headers.insert(KafkaHeader { key: k, value: Some(v.as_bytes()) });
        }
        let mut rec: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::with_opaque_to(&self.topic, ()).headers(headers);
        if let Some(k) = raw.key.as_deref() {
            rec = rec.key(k);
        }
        if let Some(v) = raw.value.as_deref() {
            rec = rec.payload(v);
        }
        if let Some(ts) = raw.timestamp {
            rec = rec.timestamp(ts);
        }
        for _ in 0..5000 {
            match self.producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((e, _)) => return Err(ConnectError::fatal(format!("Could not produce message to dead letter queue. topic={}: {e}", self.topic))),
            }
        }
        Err(ConnectError::retriable(format!("the dead letter queue producer stayed full (topic={})", self.topic)))
    }

    /// Waits until every record sent so far is acknowledged; fails if any delivery failed.
    fn flush(&self, timeout: Duration) -> ConnectResult<()> {
        if self.producer.in_flight_count() > 0 {
            tokio::task::block_in_place(|| self.producer.flush(timeout))
                .map_err(|e| ConnectError::fatal(format!("dead letter queue flush failed (topic={}): {e}", self.topic)))?;
        }
        match self.producer.context().failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(f) => Err(ConnectError::fatal(format!("Could not produce message to dead letter queue. topic={}: {f}", self.topic))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_headers_have_connects_names() {
        let raw = RawRecord { topic: "orders".into(), partition: 2, offset: 17, timestamp: None, key: None, value: Some(b"{oops".to_vec()), headers: vec![] };
        let h = context_headers(&raw, Stage::ValueConverter, "org.apache.kafka.connect.json.JsonConverter", &ConnectError::data("bad"), "sink", 0);
        let names: Vec<_> = h.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "__connect.errors.topic",
                "__connect.errors.partition",
                "__connect.errors.offset",
                "__connect.errors.connector.name",
                "__connect.errors.task.id",
                "__connect.errors.stage",
                "__connect.errors.class.name",
                "__connect.errors.exception.class.name",
                "__connect.errors.exception.message",
                "__connect.errors.exception.stacktrace",
            ]
        );
        assert_eq!(h[1].1, "2");
        assert_eq!(h[5].1, "VALUE_CONVERTER");
        assert_eq!(h[7].1, "org.apache.kafka.connect.errors.DataException");
    }
}

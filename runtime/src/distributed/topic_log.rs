//! A Kafka topic read as a log of key/value updates (Connect's `KafkaBasedLog`): one thread
//! consumes every partition from the beginning and hands each record to a callback; a producer
//! appends. The config, offset and status stores are built on it.
//!
//! Read-to-end: ListOffsets "latest" is not trusted (the test broker answers less than the
//! end); a reader is at the end when, after a fetch that started after the request, its
//! position in every partition reached the high watermark librdkafka cached from fetch
//! responses (`get_watermark_offsets`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_sdk::{ConnectError, ConnectResult};
use tokio::sync::{oneshot, watch};

use crate::worker_config::WorkerConfig;

/// A record handed to the callback: partition, offset, key, value (`None` = tombstone).
pub type Apply = Box<dyn FnMut(i32, i64, Option<&[u8]>, Option<&[u8]>) + Send>;

/// How long after a read-to-end request the reader waits for a fresh fetch response.
const FRESH_FETCH: Duration = Duration::from_millis(300);

/// A topic read and written as a log.
pub struct TopicLog {
    pub topic: String,
    producer: FutureProducer,
    waiters: std::sync::mpsc::Sender<(Instant, oneshot::Sender<()>)>,
    positions: Arc<Mutex<HashMap<i32, i64>>>,
    progress: watch::Receiver<u64>,
    stop: Arc<AtomicBool>,
}

impl TopicLog {
    /// Starts reading `topic` (which must exist) from the beginning.
    pub fn start(config: &WorkerConfig, topic: &str, mut apply: Apply) -> ConnectResult<TopicLog> {
        let servers = config.bootstrap_servers();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .set("group.id", format!("sluice-log-{topic}"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100")
            .create()
            .map_err(|e| ConnectError::fatal(format!("cannot create a consumer for {topic}: {e}")))?;
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(15))
            .map_err(|e| ConnectError::retriable(format!("cannot read metadata of {topic}: {e}")))?;
        let partitions: Vec<i32> = metadata.topics().iter().filter(|t| t.name() == topic).flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
        if partitions.is_empty() {
            return Err(ConnectError::fatal(format!("internal topic {topic} has no partitions")));
        }
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(topic, *p, Offset::Beginning).map_err(|e| ConnectError::fatal(e.to_string()))?;
        }
        consumer.assign(&tpl).map_err(|e| ConnectError::fatal(format!("cannot assign {topic}: {e}")))?;
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &servers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "0")
            .create()
            .map_err(|e| ConnectError::fatal(format!("cannot create a producer for {topic}: {e}")))?;

        let (wait_tx, wait_rx) = std::sync::mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        let positions = Arc::new(Mutex::new(HashMap::new()));
        let (progress_tx, progress) = watch::channel(0u64);
        let stop = Arc::new(AtomicBool::new(false));
        let (t, pos, stop2) = (topic.to_string(), positions.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("log-{topic}"))
            .spawn(move || {
                let mut pending: Vec<(Instant, oneshot::Sender<()>)> = Vec::new();
                let mut count = 0u64;
                while !stop2.load(Ordering::Acquire) {
                    match consumer.poll(Duration::from_millis(50)) {
                        Some(Ok(m)) => {
                            apply(m.partition(), m.offset(), m.key(), m.payload());
                            if let Ok(mut p) = pos.lock() {
                                p.insert(m.partition(), m.offset() + 1);
                            }
                            count += 1;
                            let _ = progress_tx.send(count);
                        }
                        Some(Err(e)) => tracing::warn!(topic = %t, error = %e, "error reading internal topic"),
                        None => {}
                    }
                    while let Ok(w) = wait_rx.try_recv() {
                        pending.push(w);
                    }
                    if pending.iter().any(|(since, _)| since.elapsed() >= FRESH_FETCH) && at_end(&consumer, &t, &partitions, &pos) {
                        let (ready, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(since, _)| since.elapsed() >= FRESH_FETCH);
                        pending = rest;
                        for (_, tx) in ready {
                            let _ = tx.send(());
                        }
                    }
                }
            })
            .map_err(|e| ConnectError::fatal(format!("cannot start the reader of {topic}: {e}")))?;
        Ok(TopicLog { topic: topic.to_string(), producer, waiters: wait_tx, positions, progress, stop })
    }

    /// Waits until every record written before the call has been applied.
    pub async fn read_to_end(&self, timeout: Duration) -> ConnectResult<()> {
        let (tx, rx) = oneshot::channel();
        self.waiters.send((Instant::now(), tx)).map_err(|_| ConnectError::fatal(format!("the reader of {} stopped", self.topic)))?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(ConnectError::fatal(format!("the reader of {} stopped", self.topic))),
            Err(_) => Err(ConnectError::retriable(format!("timed out reading {} to its end", self.topic))),
        }
    }

    /// Appends a record (`None` = tombstone); returns its partition and offset once acknowledged.
    pub async fn send(&self, key: &[u8], value: Option<&[u8]>) -> ConnectResult<(i32, i64)> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(e, _)| ConnectError::retriable(format!("cannot write to {}: {e}", self.topic)))
    }

    /// Waits until the record at `offset` of `partition` has been applied.
    pub async fn wait_applied(&self, partition: i32, offset: i64, timeout: Duration) -> ConnectResult<()> {
        let mut progress = self.progress.clone();
        let applied = || self.positions.lock().map(|p| p.get(&partition).copied().unwrap_or(0) > offset).unwrap_or(false);
        let wait = async {
            while !applied() {
                if progress.changed().await.is_err() {
                    break;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| ConnectError::retriable(format!("timed out waiting to read back a record of {}", self.topic)))
    }

    /// The next offset to read in `partition`.
    pub fn position(&self, partition: i32) -> i64 {
        self.positions.lock().map(|p| p.get(&partition).copied().unwrap_or(0)).unwrap_or(0)
    }
}

impl Drop for TopicLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The watermarks librdkafka cached from the last fetch response of a partition
/// (`rd_kafka_get_watermark_offsets`, which the rdkafka crate does not wrap); no request is made.
fn cached_watermarks(consumer: &BaseConsumer, topic: &str, partition: i32) -> Option<(i64, i64)> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` lives; the topic is a NUL-terminated
    // string that outlives the call; low/high point to live i64s.
    let err = unsafe { rdkafka::bindings::rd_kafka_get_watermark_offsets(consumer.client().native_ptr(), topic.as_ptr(), partition, &mut low, &mut high) };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some((low, high))
}

fn at_end(consumer: &BaseConsumer, topic: &str, partitions: &[i32], positions: &Mutex<HashMap<i32, i64>>) -> bool {
    let Ok(pos) = positions.lock() else { return false };
    partitions.iter().all(|p| match cached_watermarks(consumer, topic, *p) {
        Some((low, high)) => pos.get(p).copied().unwrap_or(0).max(low.max(0)) >= high,
        None => false,
    })
}

/// Creates the internal topics unless they exist (`cleanup.policy=compact`; brokers without
/// compaction ignore it).
pub async fn create_internal_topics(config: &WorkerConfig) -> ConnectResult<()> {
    let admin = crate::kafka::admin_client(config)?;
    use crate::worker_config as wc;
    let rf = |v: i16| i32::from(v.max(1));
    let compact = vec![("cleanup.policy".to_string(), "compact".to_string())];
    let topics = [
        (config.get(wc::CONFIG_STORAGE_TOPIC), 1, rf(config.get(wc::CONFIG_STORAGE_REPLICATION_FACTOR))),
        (config.get(wc::OFFSET_STORAGE_TOPIC), config.get(wc::OFFSET_STORAGE_PARTITIONS).max(1), rf(config.get(wc::OFFSET_STORAGE_REPLICATION_FACTOR))),
        (config.get(wc::STATUS_STORAGE_TOPIC), config.get(wc::STATUS_STORAGE_PARTITIONS).max(1), rf(config.get(wc::STATUS_STORAGE_REPLICATION_FACTOR))),
    ];
    let specs: Vec<_> = topics.iter().map(|(t, p, r)| (t.as_str(), *p, *r, compact.clone())).collect();
    crate::kafka::create_topics(&admin, &specs).await
}

//! The registry's storage: the single-partition Kafka topic `_schemas` (compacted where the
//! broker compacts), read from the beginning by every worker and applied to a [`State`].
//!
//! Reading to the end never trusts ListOffsets (this broker answers it wrongly): to catch up,
//! a worker writes a NOOP record and waits until its consumer has applied that record's offset,
//! which the producer's acknowledgement gives exactly. Writes work the same way — produce, then
//! wait until the record has been read back — so that after `write` returns, this worker's
//! state includes it, and a registration can see whether its record won (see
//! [`State::apply`]). Two workers registering at once pick the same next id; the log orders
//! their records, the first wins everywhere, and the loser retries with the next id.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::TopicPartitionList;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;
use tokio::sync::watch;

use crate::error::RegistryError;
use crate::state::{RecordKey, State};

/// How long a write waits for its record to be acknowledged and read back.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The Kafka-backed store of one worker.
pub struct Store {
    state: Arc<RwLock<State>>,
    /// The next offset the consumer will apply.
    applied: watch::Receiver<i64>,
    producer: FutureProducer,
    topic: String,
    /// One registration at a time per worker (other workers are handled by the log).
    pub(crate) write_lock: tokio::sync::Mutex<()>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn store_err(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Store(format!("{what}: {e}"))
}

impl Store {
    /// Creates `topic` if needed (1 partition, compacted), starts reading it and returns once
    /// the log has been read to its end.
    pub async fn open(bootstrap: &str, topic: &str) -> Result<Arc<Store>, RegistryError> {
        create_topic(bootstrap, topic).await?;
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create()
            .map_err(|e| store_err("cannot create the _schemas producer", e))?;
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "sluice-schema-registry")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .map_err(|e| store_err("cannot create the _schemas consumer", e))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning).map_err(|e| store_err("bad partition", e))?;
        consumer.assign(&tpl).map_err(|e| store_err("cannot assign _schemas", e))?;

        let state = Arc::new(RwLock::new(State::default()));
        let (applied_tx, applied) = watch::channel(0i64);
        let reader = {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    match consumer.recv().await {
                        Ok(m) => {
                            if let Some(key) = m.key()
                                && let Ok(mut st) = state.write()
                            {
                                st.apply(key, m.payload());
                            }
                            let _ = applied_tx.send(m.offset() + 1);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "error reading _schemas; retrying");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            })
        };
        let store = Arc::new(Store { state, applied, producer, topic: topic.to_string(), write_lock: tokio::sync::Mutex::new(()), reader });
        store.sync().await?;
        Ok(store)
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Result<T, RegistryError> {
        let st = self.state.read().map_err(|_| RegistryError::Store("state lock poisoned".into()))?;
        Ok(f(&st))
    }

    /// Catches up with every record written before this call (by any worker).
    pub async fn sync(&self) -> Result<(), RegistryError> {
        self.write(&RecordKey::Noop { magic: 0 }, None::<&()>).await
    }

    /// Writes one record and waits until this worker has applied it.
    pub async fn write(&self, key: &RecordKey, value: Option<&impl Serialize>) -> Result<(), RegistryError> {
        let key = serde_json::to_vec(key).map_err(|e| store_err("cannot encode key", e))?;
        let value = value.map(serde_json::to_vec).transpose().map_err(|e| store_err("cannot encode value", e))?;
        let mut record = FutureRecord::<Vec<u8>, Vec<u8>>::to(&self.topic).key(&key).partition(0);
        if let Some(v) = &value {
            record = record.payload(v);
        }
        let (_, offset) = self
            .producer
            .send(record, WRITE_TIMEOUT)
            .await
            .map(|d| (d.partition, d.offset))
            .map_err(|(e, _)| RegistryError::Timeout(format!("cannot write to {}: {e}", self.topic)))?;
        let mut applied = self.applied.clone();
        tokio::time::timeout(WRITE_TIMEOUT, applied.wait_for(|next| *next > offset))
            .await
            .map_err(|_| RegistryError::Timeout(format!("record at offset {offset} of {} was not read back", self.topic)))?
            .map_err(|_| RegistryError::Store("the _schemas reader stopped".into()))?;
        Ok(())
    }
}

async fn create_topic(bootstrap: &str, topic: &str) -> Result<(), RegistryError> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().map_err(|e| store_err("cannot create admin client", e))?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let compacted = NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact");
    let results = admin.create_topics([&compacted], &opts).await.map_err(|e| store_err("CreateTopics failed", e))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                tracing::warn!(%code, topic, "cannot create a compacted _schemas topic; creating a plain one");
                let plain = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
                for r in admin.create_topics([&plain], &opts).await.map_err(|e| store_err("CreateTopics failed", e))? {
                    match r {
                        Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((t, code)) => return Err(store_err(&format!("cannot create topic {t}"), code)),
                    }
                }
            }
        }
    }
    Ok(())
}

//! Source offsets in the offset topic (Connect's `KafkaOffsetBackingStore`): key
//! `["NAME",{partition}]`, value `{offset}` (JSON), partitioned by the key's murmur2 hash like
//! Java's producer. Every worker reads the whole topic into its [`OffsetStore`], so a task that
//! moves resumes from the offsets its previous owner committed (the herder reads the topic to
//! its end before starting a task).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use sluice_sdk::{ConnectError, ConnectResult};

use super::topic_log::TopicLog;
use crate::offset_store::{OffsetBackingStore, OffsetStore};
use crate::worker_config::WorkerConfig;

/// Writes go to the offset topic; reads arrive through the topic's reader.
pub struct KafkaOffsetBackingStore {
    log: Arc<OnceLock<Arc<TopicLog>>>,
}

#[async_trait]
impl OffsetBackingStore for KafkaOffsetBackingStore {
    fn load(&self) -> ConnectResult<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(Vec::new())
    }

    async fn write(&self, entries: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> ConnectResult<()> {
        let log = self.log.get().ok_or_else(|| ConnectError::retriable("the offset topic is not open yet"))?;
        let sends = entries.iter().map(|(k, v)| log.send(k, v.as_deref()));
        for r in futures::future::join_all(sends).await {
            r?;
        }
        Ok(())
    }
}

/// Opens the offset store on the offset topic and reads it to its end.
pub async fn open(config: &WorkerConfig) -> ConnectResult<(Arc<OffsetStore>, Arc<TopicLog>)> {
    let cell = Arc::new(OnceLock::new());
    let store = Arc::new(OffsetStore::open(Box::new(KafkaOffsetBackingStore { log: cell.clone() }))?);
    let reader = store.clone();
    let log = Arc::new(TopicLog::start(
        config,
        &config.get(crate::worker_config::OFFSET_STORAGE_TOPIC),
        Box::new(move |_p, _o, key, value| {
            if let Some(k) = key {
                reader.apply_serialized(k, value);
            }
        }),
    )?);
    let _ = cell.set(log.clone());
    log.read_to_end(Duration::from_secs(60)).await?;
    Ok((store, log))
}

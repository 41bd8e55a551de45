//! `GET/PATCH/DELETE /connectors/{name}/offsets` (KIP-875). Sources: the worker's offset
//! store. Sinks: the committed offsets of the consumer group `connect-NAME`, shown as
//! `{"kafka_topic", "kafka_partition"}` → `{"kafka_offset"}`.
//!
//! Limit: resetting a single sink partition (`"offset": null`) needs Kafka's OffsetDelete API,
//! which librdkafka does not expose; it is refused with a 400 (DELETE resets all partitions).

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{Value as Json, json};
use sluice_rest_api::{ConnectorOffset, ConnectorOffsets, Message, RestError};
use sluice_sdk::{OffsetMap, Props};

use crate::executor::WorkerContext;
use crate::plugins::{ConnectorFactory, ConnectorPlugin};

const TIMEOUT: Duration = Duration::from_secs(10);

fn is_sink(plugin: &ConnectorPlugin) -> bool {
    matches!(plugin.factory, ConnectorFactory::Sink { .. })
}

fn group_consumer(ctx: &WorkerContext, name: &str) -> Result<BaseConsumer, RestError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", ctx.config.bootstrap_servers()).set("group.id", format!("connect-{name}")).set("enable.auto.commit", "false");
    cfg.create().map_err(|e| RestError::internal(format!("cannot create a Kafka consumer: {e}")))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, RestError> + Send + 'static) -> Result<T, RestError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RestError::internal(e.to_string()))?
}

fn message(altered: bool) -> Message {
    let what = if altered { "altered" } else { "reset" };
    Message {
        message: format!(
            "The Connect framework-managed offsets for this connector have been {what} successfully. However, if this connector manages offsets externally, they will need to be manually {what} in the system that the connector uses."
        ),
    }
}

/// The committed offsets of a connector.
pub async fn get(ctx: &WorkerContext, name: &str, plugin: &ConnectorPlugin, config: &Props) -> Result<ConnectorOffsets, RestError> {
    if !is_sink(plugin) {
        let mut offsets: Vec<ConnectorOffset> =
            ctx.offsets.connector_offsets(name).into_iter().map(|(partition, offset)| ConnectorOffset { partition, offset: Some(offset) }).collect();
        offsets.sort_by_key(|o| Json::Object(o.partition.clone()).to_string());
        return Ok(ConnectorOffsets { offsets });
    }
    let consumer = group_consumer(ctx, name)?;
    let topics = sluice_sdk::config::parse_list(config.get("topics").map(String::as_str).unwrap_or(""));
    let regex = config.get("topics.regex").map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    blocking(move || {
        let metadata = consumer.fetch_metadata(None, TIMEOUT).map_err(|e| RestError::internal(format!("cannot read topic metadata: {e}")))?;
        let pattern = regex.as_deref().and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok());
        let mut tpl = TopicPartitionList::new();
        for t in metadata.topics() {
            let wanted = topics.iter().any(|n| n == t.name()) || pattern.as_ref().is_some_and(|p| p.is_match(t.name()));
            if wanted {
                for p in t.partitions() {
                    tpl.add_partition(t.name(), p.id());
                }
            }
        }
        let committed = consumer.committed_offsets(tpl, TIMEOUT).map_err(|e| RestError::internal(format!("cannot read committed offsets: {e}")))?;
        let offsets = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(ConnectorOffset {
                    partition: json!({"kafka_topic": e.topic(), "kafka_partition": e.partition()}).as_object().cloned().unwrap_or_default(),
                    offset: json!({"kafka_offset": o}).as_object().cloned(),
                }),
                _ => None,
            })
            .collect();
        Ok(ConnectorOffsets { offsets })
    })
    .await
}

fn sink_partition(p: &OffsetMap) -> Result<(String, i32), RestError> {
    let topic =
        p.get("kafka_topic").and_then(Json::as_str).ok_or_else(|| RestError::bad_request("Sink connector partitions must contain a string 'kafka_topic'"))?;
    let partition = p
        .get("kafka_partition")
        .and_then(Json::as_i64)
        .and_then(|v| i32::try_from(v).ok())
        .filter(|v| *v >= 0)
        .ok_or_else(|| RestError::bad_request("Sink connector partitions must contain a non-negative integer 'kafka_partition'"))?;
    Ok((topic.to_string(), partition))
}

/// Alters offsets of a STOPPED connector.
pub async fn alter(ctx: &WorkerContext, name: &str, plugin: &ConnectorPlugin, _config: &Props, new: ConnectorOffsets) -> Result<Message, RestError> {
    if new.offsets.is_empty() {
        return Err(RestError::bad_request("The offsets to be altered may not be empty"));
    }
    if !is_sink(plugin) {
        if new.offsets.iter().any(|o| o.partition.is_empty()) {
            return Err(RestError::bad_request("Source partitions may not be empty"));
        }
        let entries = new.offsets.into_iter().map(|o| (o.partition, o.offset)).collect();
        ctx.offsets.apply(name, entries).await.map_err(|e| RestError::internal(e.to_string()))?;
        return Ok(message(true));
    }
    let mut tpl = TopicPartitionList::new();
    for o in &new.offsets {
        let (topic, partition) = sink_partition(&o.partition)?;
        let offset = match &o.offset {
            None => {
                return Err(RestError::bad_request(
                    "Resetting a single sink partition's offset is not supported; DELETE /connectors/{name}/offsets resets all of them",
                ));
            }
            Some(off) => off
                .get("kafka_offset")
                .and_then(Json::as_i64)
                .filter(|v| *v >= 0)
                .ok_or_else(|| RestError::bad_request("Sink connector offsets must contain a non-negative integer 'kafka_offset'"))?,
        };
        tpl.add_partition_offset(&topic, partition, Offset::Offset(offset)).map_err(|e| RestError::bad_request(e.to_string()))?;
    }
    let consumer = group_consumer(ctx, name)?;
    blocking(move || {
        consumer.commit(&tpl, CommitMode::Sync).map_err(|e| match e.rdkafka_error_code() {
            Some(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition) => RestError::bad_request(format!("cannot alter offsets: {e}")),
            _ => RestError::internal(format!("cannot commit the new offsets: {e}")),
        })
    })
    .await?;
    Ok(message(true))
}

/// Resets all offsets of a STOPPED connector.
pub async fn reset(ctx: &WorkerContext, name: &str, plugin: &ConnectorPlugin, _config: &Props) -> Result<Message, RestError> {
    if !is_sink(plugin) {
        let entries = ctx.offsets.connector_offsets(name).into_iter().map(|(p, _)| (p, None)).collect();
        ctx.offsets.apply(name, entries).await.map_err(|e| RestError::internal(e.to_string()))?;
        return Ok(message(false));
    }
    let admin = crate::kafka::admin_client(&ctx.config).map_err(|e| RestError::internal(e.to_string()))?;
    let group = format!("connect-{name}");
    let results = admin
        .delete_groups(&[group.as_str()], &rdkafka::admin::AdminOptions::new().operation_timeout(Some(TIMEOUT)))
        .await
        .map_err(|e| RestError::internal(format!("cannot delete consumer group {group}: {e}")))?;
    for r in results {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::GroupIdNotFound)) => {}
            Err((g, code)) => return Err(RestError::internal(format!("cannot delete consumer group {g}: {code}"))),
        }
    }
    Ok(message(false))
}

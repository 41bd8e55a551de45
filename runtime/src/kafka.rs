//! Kafka clients as the worker configures them: producer, consumer and admin configs built
//! from worker properties (`producer.*`, `consumer.*`, `admin.*`) and connector overrides
//! (`producer.override.*`, `consumer.override.*`), and topic creation for source connectors.
//!
//! Client keys are passed to librdkafka, which shares most names with Kafka's Java client;
//! Java-only keys (serializers, `buffer.memory`, ...) are dropped with a warning instead of
//! failing the worker.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use sluice_sdk::{ConnectError, ConnectResult, Props};

use crate::worker_config::WorkerConfig;

/// Java client keys librdkafka does not know.
const JAVA_ONLY: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "buffer.memory",
    "max.block.ms",
    "interceptor.classes",
    "partitioner.class",
    "max.poll.records",
    "metric.reporters",
    "security.providers",
    "default.api.timeout.ms",
    "exclude.internal.topics",
    "client.dns.lookup",
];

fn apply(cfg: &mut ClientConfig, props: &Props) {
    for (k, v) in props {
        if JAVA_ONLY.contains(&k.as_str()) {
            tracing::warn!(key = %k, "ignoring a Java client setting that librdkafka does not have");
            continue;
        }
        cfg.set(k, v);
    }
}

/// `producer.override.*` / `consumer.override.*` keys of a connector config.
pub fn connector_overrides(connector_props: &Props, prefix: &str) -> Props {
    sluice_sdk::config::strip_prefix(connector_props, prefix)
}

/// The producer of a source task: ordered, idempotent, Java-compatible partitioning.
pub fn producer_config(worker: &WorkerConfig, connector_props: &Props, client_id: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", worker.bootstrap_servers())
        .set("client.id", client_id)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        // Kafka's Java client hashes keys with murmur2; keep records in the same partitions.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("compression.type", "none");
    apply(&mut cfg, &worker.client_overrides("producer."));
    apply(&mut cfg, &connector_overrides(connector_props, "producer.override."));
    cfg
}

/// The consumer of a sink task, in the connector's group `connect-NAME`.
pub fn consumer_config(worker: &WorkerConfig, connector: &str, connector_props: &Props, client_id: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", worker.bootstrap_servers())
        .set("client.id", client_id)
        .set("group.id", format!("connect-{connector}"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // A sink may start before its topic exists (or new topics match topics.regex): look
        // again every few seconds rather than librdkafka's 5 minutes.
        .set("topic.metadata.refresh.interval.ms", "5000");
    apply(&mut cfg, &worker.client_overrides("consumer."));
    apply(&mut cfg, &connector_overrides(connector_props, "consumer.override."));
    cfg
}

/// An admin client with the worker's `admin.*` settings.
pub fn admin_client(worker: &WorkerConfig) -> ConnectResult<AdminClient<DefaultClientContext>> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", worker.bootstrap_servers());
    apply(&mut cfg, &worker.client_overrides("admin."));
    cfg.create().map_err(|e| ConnectError::fatal(format!("cannot create Kafka admin client: {e}")))
}

/// Creates topics (with the partitions and replication given) unless they exist.
pub async fn create_topics(admin: &AdminClient<DefaultClientContext>, topics: &[(&str, i32, i32, Vec<(String, String)>)]) -> ConnectResult<()> {
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions, replication, configs)| {
            let mut t = NewTopic::new(name, *partitions, TopicReplication::Fixed(*replication));
            for (k, v) in configs {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(new.iter(), &opts).await.map_err(|e| ConnectError::retriable(format!("CreateTopics failed: {e}")))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(ConnectError::retriable(format!("cannot create topic {topic}: {code}"))),
        }
    }
    Ok(())
}

/// Topic creation for one source connector (`topic.creation.default.*`, KIP-158): creates
/// each topic the first time a record for it is seen. Disabled unless the worker allows it and
/// the connector sets both `topic.creation.default.replication.factor` and `.partitions`.
pub struct TopicCreator {
    admin: Option<AdminClient<DefaultClientContext>>,
    partitions: i32,
    replication: i32,
    configs: Vec<(String, String)>,
    seen: HashSet<String>,
}

impl TopicCreator {
    pub fn new(worker: &WorkerConfig, connector_props: &Props) -> ConnectResult<TopicCreator> {
        let get = |k: &str| connector_props.get(k).and_then(|v| v.trim().parse::<i32>().ok());
        let enabled = worker.get(crate::worker_config::TOPIC_CREATION_ENABLE);
        let (replication, partitions) = (get("topic.creation.default.replication.factor"), get("topic.creation.default.partitions"));
        let configs: Vec<(String, String)> = sluice_sdk::config::strip_prefix(connector_props, "topic.creation.default.")
            .into_iter()
            .filter(|(k, _)| k != "replication.factor" && k != "partitions" && k != "include" && k != "exclude")
            .collect();
        match (enabled, replication, partitions) {
            (true, Some(r), Some(p)) => Ok(TopicCreator { admin: Some(admin_client(worker)?), partitions: p, replication: r, configs, seen: HashSet::new() }),
            _ => Ok(TopicCreator { admin: None, partitions: 0, replication: 0, configs, seen: HashSet::new() }),
        }
    }

    /// Makes sure `topic` exists before the first record is sent to it.
    pub async fn ensure(&mut self, topic: &str) -> ConnectResult<()> {
        let Some(admin) = &self.admin else { return Ok(()) };
        if self.seen.contains(topic) {
            return Ok(());
        }
        create_topics(admin, &[(topic, self.partitions, self.replication, self.configs.clone())]).await?;
        tracing::info!(topic, partitions = self.partitions, replication = self.replication, "created topic for source connector");
        self.seen.insert(topic.to_string());
        Ok(())
    }
}

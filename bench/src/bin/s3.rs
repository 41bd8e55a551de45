//! `bench/run s3 [RECORDS]`: Kafka → S3 with the S3 sink (JsonFormat and ParquetFormat, one
//! task, `flush.size` 25 000 per partition) against a raw consume of the same topic in the same
//! run (one rdkafka consumer, assigned all partitions from the start).
//!
//! The topic holds RECORDS (default 400 000) Connect JSON envelopes (schema + a 7-field
//! payload) over 4 partitions. Startup (process, consumer group join) is excluded on both sides:
//! the raw side counts from its first message; the sink side from the moment its first object
//! appears to the moment the last one does, over the records of every object after the first
//! poll. Peak RSS is the worker's VmHWM.
//!
//! For scale, two in-process references: a raw consume that also parses each payload into a
//! `serde_json::Value`, and the worker's `JsonConverter::to_connect` alone over the same
//! envelopes on one thread (no Kafka): the least any sink that converts these records does.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice_bench::{BenchTopics, CpuMeter, Poll, Properties, Row, Worker, bench_dir, env, print_table, standalone_worker, unique};

const PARTITIONS: i32 = 4;
const FLUSH: u64 = 25_000;

fn envelope(i: u64) -> String {
    let country = ["de", "fr", "us", "jp"][(i % 4) as usize];
    let note = if i.is_multiple_of(3) { None } else { Some("deliver to the back door") };
    serde_json::json!({
        "schema": {"type": "struct", "name": "bench.Order", "optional": false, "fields": [
            {"field": "id", "type": "int64", "optional": false},
            {"field": "customer", "type": "string", "optional": false},
            {"field": "country", "type": "string", "optional": false},
            {"field": "amount", "type": "double", "optional": false},
            {"field": "quantity", "type": "int32", "optional": false},
            {"field": "note", "type": "string", "optional": true},
            {"field": "ordered_at", "type": "int64", "optional": false, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1}
        ]},
        "payload": {"id": i, "customer": format!("customer-{}", i % 10_000), "country": country,
            "amount": (i % 100_000) as f64 / 100.0, "quantity": (i % 7) as i32, "note": note,
            "ordered_at": 1_767_225_600_000u64 + i}
    })
    .to_string()
}

fn produce(topic: &str, n: u64) -> Result<u64> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", env("SLUICE_BOOTSTRAP_SERVERS"))
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("compression.type", "lz4")
        .create()?;
    let mut bytes = 0;
    for i in 0..n {
        let payload = envelope(i);
        bytes += payload.len() as u64;
        let mut rec = Some(BaseRecord::<(), String>::to(topic).partition((i % PARTITIONS as u64) as i32).payload(&payload));
        while let Some(r) = rec.take() {
            if let Err((_, r)) = producer.send(r) {
                producer.poll(Duration::from_millis(20));
                rec = Some(r);
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(bytes)
}

/// One rdkafka consumer reads every partition from the start; timed from the first message.
/// With `parse`, each payload is also parsed into a `serde_json::Value` (the least any JSON
/// reader does). Fetching is tuned as the sink's consumer is (`fetch.queue.backoff.ms=10`):
/// with librdkafka's 1 s default this baseline swings widely from run to run.
fn raw_consume(topic: &str, n: u64, parse: bool) -> Result<Row> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", env("SLUICE_BOOTSTRAP_SERVERS"))
        .set("group.id", unique("bench-raw"))
        .set("enable.auto.commit", "false")
        .set("fetch.queue.backoff.ms", "10")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let (mut count, mut bytes, mut start, mut cpu) = (0u64, 0u64, None, None);
    let deadline = Instant::now() + Duration::from_secs(300);
    while count < n {
        if Instant::now() > deadline {
            bail!("raw consume read only {count} of {n}");
        }
        if let Some(m) = consumer.poll(Duration::from_millis(500)) {
            let m = m?;
            if start.is_none() {
                start = Some(Instant::now());
                cpu = Some(CpuMeter::start(std::process::id()));
            }
            count += 1;
            bytes += m.payload().map_or(0, |p| p.len() as u64);
            if parse {
                std::hint::black_box(serde_json::from_slice::<serde_json::Value>(m.payload().unwrap_or_default()).ok());
            }
        }
    }
    let elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
    let name = if parse { "raw consume + JSON parse (reference)" } else { "raw consume (rdkafka, 1 consumer)" };
    // The first message opened the window: the records after it were read in it.
    Ok(Row::new(name, count - 1, bytes, elapsed).cpu(cpu.and_then(|c: CpuMeter| c.read(elapsed))))
}

/// The least a JsonConverter sink does per record, in-process on one thread: the worker's
/// `JsonConverter::to_connect` over every envelope (a ceiling for any sink that converts).
fn convert_only(n: u64) -> Result<Row> {
    use sluice_sdk::Converter;
    let converter = sluice_runtime::converters::JsonConverter::default();
    let payloads: Vec<String> = (0..n.min(100_000)).map(envelope).collect();
    let (mut count, mut bytes) = (0u64, 0u64);
    let started = Instant::now();
    let cpu = CpuMeter::start(std::process::id());
    while count < n {
        for p in &payloads {
            std::hint::black_box(converter.to_connect("bench", Some(p.as_bytes()))?);
            bytes += p.len() as u64;
        }
        count += payloads.len() as u64;
    }
    let elapsed = started.elapsed();
    Ok(Row::new("JsonConverter::to_connect only (in-process, 1 thread)", count, bytes, elapsed).cpu(cpu.read(elapsed)))
}

struct S3 {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

impl S3 {
    fn new() -> S3 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let creds = aws_credential_types::Credentials::new(env("SLUICE_S3_ACCESS_KEY"), env("SLUICE_S3_SECRET_KEY"), None, None, "bench");
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(env("SLUICE_S3_REGION")))
            .endpoint_url(env("SLUICE_S3_ENDPOINT"))
            .force_path_style(true)
            .credentials_provider(creds)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        S3 { rt, client: aws_sdk_s3::Client::from_conf(conf) }
    }

    fn create_bucket(&self, b: &str) -> Result<()> {
        self.rt.block_on(self.client.create_bucket().bucket(b).send()).context("create bucket")?;
        Ok(())
    }

    /// Object keys and sizes.
    fn objects(&self, b: &str) -> Result<BTreeMap<String, u64>> {
        let out = self.rt.block_on(self.client.list_objects_v2().bucket(b).send()).context("list bucket")?;
        Ok(out.contents().iter().map(|o| (o.key().unwrap_or_default().to_string(), o.size().unwrap_or(0) as u64)).collect())
    }
}

/// Runs a worker with the S3 sink in `format` until every object is there.
fn sink_run(s3: &S3, topic: &str, n: u64, topic_bytes: u64, format: &str, label: &str) -> Result<(Row, u64)> {
    let dir = bench_dir("s3")?;
    let bucket = unique("bench-s3");
    s3.create_bucket(&bucket)?;
    let worker = standalone_worker(&dir, &env("SLUICE_BOOTSTRAP_SERVERS"))?
        .set("consumer.session.timeout.ms", 6000)
        .set("consumer.heartbeat.interval.ms", 1000)
        .set("consumer.max.poll.records", 5000)
        .write(&dir.join("worker.properties"))?;
    let connector = Properties::new()
        .set("name", unique("bench-s3"))
        .set("connector.class", "S3SinkConnector")
        .set("topics", topic)
        .set("key.converter", "org.apache.kafka.connect.storage.StringConverter")
        .set("value.converter", "org.apache.kafka.connect.json.JsonConverter")
        .set("value.converter.schemas.enable", "true")
        .set("s3.bucket.name", &bucket)
        .set("s3.region", env("SLUICE_S3_REGION"))
        .set("store.url", env("SLUICE_S3_ENDPOINT"))
        .set("aws.access.key.id", env("SLUICE_S3_ACCESS_KEY"))
        .set("aws.secret.access.key", env("SLUICE_S3_SECRET_KEY"))
        .set("format.class", format)
        .set("flush.size", FLUSH)
        .write(&dir.join("s3.properties"))?;
    let mut w = Worker::standalone(&dir, &worker, &[&connector])?;
    let expected = n / FLUSH;
    // Progress in records: every object holds FLUSH of them.
    let mut stored = 0u64;
    let window = w.measure(expected * FLUSH, Duration::from_secs(600), Poll::every(20), || {
        let objects = s3.objects(&bucket)?;
        stored = objects.values().sum();
        Ok(objects.len() as u64 * FLUSH)
    })?;
    w.stop();
    let records = n - window.at_first;
    let bytes = topic_bytes / n * records;
    Ok((Row::new(label, records, bytes, window.steady).rss(window.peak_rss_mib).cpu(window.cpu), stored))
}

fn main() -> Result<()> {
    let n: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(400_000);
    let n = n / (FLUSH * PARTITIONS as u64) * FLUSH * PARTITIONS as u64;
    let mut topics = BenchTopics::new(&env("SLUICE_BOOTSTRAP_SERVERS"));
    let topic = topics.name("bench-s3");
    println!("producing {n} records to {topic} ({PARTITIONS} partitions)...");
    let bytes = produce(&topic, n)?;
    println!("{:.1} MiB of Connect JSON envelopes (avg {} B)", bytes as f64 / 1_048_576.0, bytes / n);
    let raw = raw_consume(&topic, n, false)?;
    let parsed = raw_consume(&topic, n, true)?;
    let convert = convert_only(n)?;
    let s3 = S3::new();
    let (json, json_stored) = sink_run(&s3, &topic, n, bytes, "io.confluent.connect.s3.format.json.JsonFormat", "sluice S3 sink, JsonFormat")?;
    let (parquet, pq_stored) =
        sink_run(&s3, &topic, n, bytes, "io.confluent.connect.s3.format.parquet.ParquetFormat", "sluice S3 sink, ParquetFormat (snappy)")?;
    print_table("Kafka → S3 (s3s-fs), one task, MiB/s of consumed Kafka payload", &[raw, parsed, convert, json, parquet], |i| (i > 1).then_some(0));
    println!("stored: JSON {:.1} MiB, Parquet {:.1} MiB", json_stored as f64 / 1_048_576.0, pq_stored as f64 / 1_048_576.0);
    Ok(())
}

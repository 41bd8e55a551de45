//! Standalone throughput: datagen → Kafka and Kafka → file sink, each against raw rdkafka.
//!
//! 1. raw producer: the same records (datagen values as schemaless JSON, same keys) sent with
//!    rdkafka using the producer settings Sluice uses;
//! 2. Sluice source: `sluice standalone` with the datagen connector (JsonConverter);
//! 3. raw consumer: rdkafka reading the topic Sluice wrote;
//! 4. Sluice sink: `sluice standalone` with FileStreamSink (StringConverter) on that topic.
//!
//! Producer rates come from the records' CreateTime stamps (first to last), the same clock for
//! both; the consumer baseline from its own clock on the finished topic (first record to the
//! last); the sink from the output file's growth (first bytes seen to the expected size, over
//! the records written after those first bytes), so consumer-group joins are not counted.
//! CPU per record is the raw consumer's (this process) and the sink worker's over the same
//! windows. Each pipeline runs alone, one after the other.
//! Usage: bench/run standalone [--records N] [--payload-bytes B]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Timestamp};
use sluice_bench::{BenchTopics, CpuMeter, CpuUse, Poll, Properties, Row, Worker, bench_dir, env, print_table, standalone_worker, unique, wait_until};
use sluice_runtime::converters::JsonConverter;
use sluice_sdk::Converter;

struct Args {
    records: u64,
    payload_bytes: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args { records: 500_000, payload_bytes: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--records" => a.records = v.parse()?,
            "--payload-bytes" => a.payload_bytes = v.parse()?,
            _ => bail!("unknown argument {k}"),
        }
    }
    Ok(a)
}

const KEY_SPACE: u64 = 1000;
const PARTITIONS: i32 = 4;

fn create_topic(bootstrap: &str, topic: &str) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<_> = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(admin.create_topics(&[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))], &AdminOptions::new()))?;
    Ok(())
}

/// The raw consumer's own time (from its first record to the last) and CPU (this process's).
struct Consumed {
    elapsed: Duration,
    cpu: Option<CpuUse>,
}

/// CreateTime span, the consume and the byte count of the first `n` records of a topic, read with rdkafka.
fn consume(bootstrap: &str, topic: &str, n: u64) -> anyhow::Result<(Duration, Consumed, u64)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("bench-raw"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()?;
    c.subscribe(&[topic])?;
    let (mut count, mut bytes) = (0u64, 0u64);
    let (mut first_ts, mut last_ts) = (i64::MAX, i64::MIN);
    let mut started: Option<(Instant, CpuMeter)> = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while count < n {
        if Instant::now() > deadline {
            bail!("only {count} of {n} records in {topic}");
        }
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                started.get_or_insert_with(|| (Instant::now(), CpuMeter::start(std::process::id())));
                count += 1;
                bytes += m.payload_len() as u64;
                if let Timestamp::CreateTime(t) = m.timestamp() {
                    first_ts = first_ts.min(t);
                    last_ts = last_ts.max(t);
                }
            }
            Some(Err(e)) => bail!("consume: {e}"),
            None => {}
        }
    }
    let consumed = match started {
        Some((at, cpu)) => Consumed { elapsed: at.elapsed(), cpu: cpu.read(at.elapsed()) },
        None => Consumed { elapsed: Duration::ZERO, cpu: None },
    };
    Ok((Duration::from_millis((last_ts - first_ts).max(1) as u64), consumed, bytes))
}

fn worker(dir: &Path, name: &str, bootstrap: &str) -> anyhow::Result<std::path::PathBuf> {
    standalone_worker(dir, bootstrap)?
        .set("offset.storage.file.filename", dir.join(format!("{name}-offsets.json")).display())
        .set("offset.flush.interval.ms", "1000")
        .set("key.converter", "org.apache.kafka.connect.storage.StringConverter")
        .set("value.converter", "org.apache.kafka.connect.json.JsonConverter")
        .set("value.converter.schemas.enable", "false")
        .set("consumer.session.timeout.ms", "6000")
        .write(&dir.join(format!("{name}-worker.properties")))
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    let dir = bench_dir("standalone")?;
    let mut rows = Vec::new();

    // 1. Raw producer.
    let mut topics = BenchTopics::new(&bootstrap);
    let raw_topic = topics.name("bench-raw");
    create_topic(&bootstrap, &raw_topic)?;
    let conv = JsonConverter::schemaless();
    let schema = sluice_connector_datagen::value_schema(a.payload_bytes > 0);
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("queue.buffering.max.kbytes", "32768")
        .create()?;
    for g in 0..a.records {
        let (key, value) = sluice_connector_datagen::generate(g, KEY_SPACE, a.payload_bytes);
        let key = key.as_str().unwrap_or_default().to_string();
        let payload = conv.from_connect(&raw_topic, Some(&schema), &value)?.unwrap_or_default();
        let mut rec = BaseRecord::<str, [u8]>::to(&raw_topic).key(&key).payload(&payload);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    let (span, _, bytes) = consume(&bootstrap, &raw_topic, a.records)?;
    rows.push(Row::new("raw rdkafka producer", a.records, bytes, span));

    // 2. Sluice source: datagen → Kafka.
    let topic = topics.name("bench-sluice");
    create_topic(&bootstrap, &topic)?;
    let src_worker = worker(&dir, "source", &bootstrap)?;
    let src = Properties::new()
        .set("name", unique("bench-gen"))
        .set("connector.class", "io.sluice.connect.datagen.DatagenConnector")
        .set("tasks.max", 1)
        .set("topic", &topic)
        .set("max.records", a.records)
        .set("key.space", KEY_SPACE)
        .set("payload.bytes", a.payload_bytes)
        .write(&dir.join("datagen.properties"))?;
    let mut source = Worker::start("standalone", &dir, &[&src_worker, &src], "source.log", &[])?;
    // Done when the committed source offset says every record was acknowledged.
    let offsets_file = dir.join("source-offsets.json");
    let want = format!("{{\\\"next\\\":{}}}", a.records);
    wait_until(Duration::from_secs(300), "the datagen connector to finish", || {
        std::fs::read_to_string(&offsets_file).unwrap_or_default().contains(&want).then_some(())
    })
    .with_context(|| format!("see {}", source.log().display()))?;
    source.check_running()?;
    let rss = source.stop();
    // 3. Raw consumer, reading the finished topic (so only consuming is timed).
    let (span, consumed, bytes) = consume(&bootstrap, &topic, a.records)?;
    rows.push(Row::new("sluice datagen → Kafka", a.records, bytes, span).rss(rss));
    rows.push(Row::new("raw rdkafka consumer", a.records, bytes, consumed.elapsed).cpu(consumed.cpu));

    // 4. Sluice sink: Kafka → file.
    let out = dir.join("sink.txt");
    let sink_worker = worker(&dir, "sink", &bootstrap)?;
    let sink = Properties::new()
        .set("name", unique("bench-sink"))
        .set("connector.class", "FileStreamSink")
        .set("topics", &topic)
        .set("file", out.display())
        .set("value.converter", "org.apache.kafka.connect.storage.StringConverter")
        .write(&dir.join("sink.properties"))?;
    let expected = bytes + a.records; // one newline per record
    let mut sink = Worker::start("standalone", &dir, &[&sink_worker, &sink], "sink.log", &[])?;
    // Bytes, not lines: the window opens at the first byte, the records in it are those after
    // the bytes already there (each record's bytes and its newline, on average).
    let window = sink.measure(expected, Duration::from_secs(300), Poll::every(5), || Ok(std::fs::metadata(&out).map_or(0, |m| m.len())))?;
    sink.stop();
    let counted = a.records - window.at_first * a.records / expected.max(1);
    rows.push(Row::new("sluice Kafka → file sink", counted, bytes * counted / a.records.max(1), window.steady).rss(window.peak_rss_mib).cpu(window.cpu));

    print_table(
        &format!("standalone: {} records of ~{} bytes, one worker, {PARTITIONS} partitions", a.records, bytes / a.records.max(1)),
        &rows,
        |i| match i {
            1 => Some(0),
            3 => Some(2),
            _ => None,
        },
    );
    println!("target: ratio ≥ 0.80 for both pipelines");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

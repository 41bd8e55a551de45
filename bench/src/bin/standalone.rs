//! Standalone throughput: datagen → Kafka and Kafka → file sink, each against raw rdkafka.
//!
//! 1. raw producer: the same records (datagen values as schemaless JSON, same keys) sent with
//!    rdkafka using the producer settings Sluice uses;
//! 2. Sluice source: `sluice standalone` with the datagen connector (JsonConverter);
//! 3. raw consumer: rdkafka reading the topic Sluice wrote;
//! 4. Sluice sink: `sluice standalone` with FileStreamSink (StringConverter) on that topic.
//!
//! Producer rates come from the records' CreateTime stamps (first to last), the same clock for
//! both; the consumer baseline from its own clock on the finished topic; the sink from the
//! output file's growth (first byte to the expected size), so consumer-group joins are not
//! counted. Each pipeline runs alone, one after the other.
//! Usage: bench/run standalone [--records N] [--payload-bytes B]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Timestamp};
use sluice_bench::{BenchTopics, Row, env, peak_rss_mib, print_table, sluice_bin, unique};
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

/// CreateTime span and byte count of the first `n` records of a topic, read with rdkafka.
fn consume(bootstrap: &str, topic: &str, n: u64) -> anyhow::Result<(Duration, Duration, u64)> {
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
    let mut started: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while count < n {
        if Instant::now() > deadline {
            bail!("only {count} of {n} records in {topic}");
        }
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                started.get_or_insert_with(Instant::now);
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
    let consumed = started.map(|s| s.elapsed()).unwrap_or_default();
    Ok((Duration::from_millis((last_ts - first_ts).max(1) as u64), consumed, bytes))
}

fn write_props(path: &Path, pairs: &[(&str, String)]) -> anyhow::Result<()> {
    let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn worker(dir: &Path, name: &str, bootstrap: &str) -> anyhow::Result<std::path::PathBuf> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let path = dir.join(format!("{name}-worker.properties"));
    write_props(
        &path,
        &[
            ("bootstrap.servers", bootstrap.to_string()),
            ("offset.storage.file.filename", dir.join(format!("{name}-offsets.json")).display().to_string()),
            ("offset.flush.interval.ms", "1000".into()),
            ("listeners", format!("http://127.0.0.1:{port}")),
            ("key.converter", "org.apache.kafka.connect.storage.StringConverter".into()),
            ("value.converter", "org.apache.kafka.connect.json.JsonConverter".into()),
            ("value.converter.schemas.enable", "false".into()),
            ("consumer.session.timeout.ms", "6000".into()),
        ],
    )?;
    Ok(path)
}

fn spawn(dir: &Path, worker: &Path, connector: &Path, log: &str) -> anyhow::Result<Child> {
    Ok(Command::new(sluice_bin())
        .args(["standalone"])
        .arg(worker)
        .arg(connector)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(log))?)
        .spawn()?)
}

fn stop(mut child: Child) -> Option<f64> {
    let rss = peak_rss_mib(child.id());
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    rss
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    let dir = std::env::temp_dir().join(unique("sluice-bench"));
    std::fs::create_dir_all(&dir)?;
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
    rows.push(Row { name: "raw rdkafka producer".into(), records: a.records, bytes, elapsed: span, peak_rss_mib: None });

    // 2. Sluice source: datagen → Kafka.
    let topic = topics.name("bench-sluice");
    create_topic(&bootstrap, &topic)?;
    let src_worker = worker(&dir, "source", &bootstrap)?;
    let src = dir.join("datagen.properties");
    write_props(
        &src,
        &[
            ("name", unique("bench-gen")),
            ("connector.class", "io.sluice.connect.datagen.DatagenConnector".into()),
            ("tasks.max", "1".into()),
            ("topic", topic.clone()),
            ("max.records", a.records.to_string()),
            ("key.space", KEY_SPACE.to_string()),
            ("payload.bytes", a.payload_bytes.to_string()),
        ],
    )?;
    let child = spawn(&dir, &src_worker, &src, "source.log")?;
    // Done when the committed source offset says every record was acknowledged.
    let offsets_file = dir.join("source-offsets.json");
    let want = format!("{{\\\"next\\\":{}}}", a.records);
    let deadline = Instant::now() + Duration::from_secs(300);
    while !std::fs::read_to_string(&offsets_file).unwrap_or_default().contains(&want) {
        if Instant::now() > deadline {
            bail!("the datagen connector did not finish in time (see {})", dir.join("source.log").display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss = stop(child);
    // 3. Raw consumer, reading the finished topic (so only consuming is timed).
    let (span, consumed, bytes) = consume(&bootstrap, &topic, a.records)?;
    rows.push(Row { name: "sluice datagen → Kafka".into(), records: a.records, bytes, elapsed: span, peak_rss_mib: rss });
    rows.push(Row { name: "raw rdkafka consumer".into(), records: a.records, bytes, elapsed: consumed, peak_rss_mib: None });

    // 4. Sluice sink: Kafka → file.
    let out = dir.join("sink.txt");
    let sink_worker = worker(&dir, "sink", &bootstrap)?;
    let sink = dir.join("sink.properties");
    write_props(
        &sink,
        &[
            ("name", unique("bench-sink")),
            ("connector.class", "FileStreamSink".into()),
            ("topics", topic.clone()),
            ("file", out.display().to_string()),
            ("value.converter", "org.apache.kafka.connect.storage.StringConverter".into()),
        ],
    )?;
    let expected = bytes + a.records; // one newline per record
    let child = spawn(&dir, &sink_worker, &sink, "sink.log")?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut started = None;
    loop {
        let len = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        if len > 0 && started.is_none() {
            started = Some(Instant::now());
        }
        if len >= expected {
            break;
        }
        if Instant::now() > deadline {
            bail!("the file sink wrote {len} of {expected} bytes");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
    let rss = stop(child);
    rows.push(Row { name: "sluice Kafka → file sink".into(), records: a.records, bytes, elapsed, peak_rss_mib: rss });

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

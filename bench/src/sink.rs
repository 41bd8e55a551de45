//! A Kafka → sink pipeline measured the same way by several benchmarks: fill a topic, read it
//! with a raw consumer (the baseline), then through `sluice standalone` with the test sink.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

use crate::{CpuMeter, Poll, Properties, Row, Worker, bench_dir, standalone_worker, unique};

/// Creates `topic` (one partition) and writes `n` records `value(i)` keyed by `i`; returns the value bytes.
pub fn produce(bootstrap: &str, topic: &str, n: u64, value: impl Fn(u64) -> Vec<u8>) -> Result<u64> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let rt = tokio::runtime::Runtime::new()?;
    for r in rt.block_on(admin.create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new()))? {
        r.map_err(|(t, e)| anyhow::anyhow!("create {t}: {e}"))?;
    }
    let producer: ThreadedProducer<DefaultProducerContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "20").set("queue.buffering.max.messages", "1000000").create()?;
    let mut bytes = 0;
    for i in 0..n {
        let v = value(i);
        bytes += v.len() as u64;
        let key = i.to_string();
        let mut rec: BaseRecord<'_, str, [u8]> = BaseRecord::to(topic).partition(0).key(key.as_str()).payload(v.as_slice());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(bytes)
}

/// The baseline: a plain consumer in this process that reads and parses every value (its CPU
/// is this process's).
pub fn raw_consume(bootstrap: &str, topic: &str, n: u64, bytes: u64) -> Result<Row> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).set("group.id", unique("raw")).create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let started = Instant::now();
    let cpu = CpuMeter::start(std::process::id());
    let mut seen = 0;
    while seen < n {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("raw consumer saw only {seen} of {n}");
        }
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m?;
            let _ = serde_json::from_slice::<serde_json::Value>(m.payload().unwrap_or_default());
            seen += 1;
        }
    }
    let elapsed = started.elapsed();
    Ok(Row::new("raw rdkafka consumer + JSON parse", n, bytes, elapsed).cpu(cpu.read(elapsed)))
}

/// Counts the lines of a file that only grows, reading only what was appended since the last
/// call (re-reading the whole output every poll would compete with the worker for the CPU).
pub struct LineCounter {
    path: std::path::PathBuf,
    read: u64,
    lines: u64,
}

impl LineCounter {
    pub fn new(path: &std::path::Path) -> LineCounter {
        LineCounter { path: path.to_path_buf(), read: 0, lines: 0 }
    }

    pub fn lines(&mut self) -> u64 {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else { return self.lines };
        if f.seek(SeekFrom::Start(self.read)).is_err() {
            return self.lines;
        }
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.read += n as u64;
            self.lines += buf[..n].iter().filter(|&&c| c == b'\n').count() as u64;
        }
        self.lines
    }
}

/// Runs a sluice standalone worker (plus `worker_extra` properties) with one
/// TestSinkConnector (plus `extra` properties) and waits for `expect` lines; the row's window
/// runs from the first line written to the last (see [`Worker::measure`]), its records are
/// those written in it (scaled from lines to records when some go to a DLQ instead).
#[allow(clippy::too_many_arguments)]
pub fn sluice_sink(
    name: &str,
    bootstrap: &str,
    topic: &str,
    records: u64,
    bytes: u64,
    expect: u64,
    worker_extra: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Result<Row> {
    let dir = bench_dir("sink")?;
    let out = dir.join("out.txt");
    let worker = standalone_worker(&dir, bootstrap)?
        .set("key.converter", "org.apache.kafka.connect.storage.StringConverter")
        .set("value.converter", "org.apache.kafka.connect.json.JsonConverter")
        .set("value.converter.schemas.enable", "false")
        .set("consumer.session.timeout.ms", "6000")
        .set("consumer.heartbeat.interval.ms", "1000")
        .set("sluice.test.plugins.enable", "true")
        .extend(worker_extra.iter().copied())
        .write(&dir.join("worker.properties"))?;
    let sink = Properties::new()
        .set("name", unique("sink"))
        .set("connector.class", "io.sluice.connect.testkit.TestSinkConnector")
        .set("topics", topic)
        .set("file", out.display())
        .extend(extra.iter().copied())
        .write(&dir.join("sink.properties"))?;
    let mut w = Worker::standalone(&dir, &worker, &[&sink])?;
    let mut counter = LineCounter::new(&out);
    let poll = Poll { before_first: Duration::from_millis(5), after_first: Duration::from_millis(20) };
    let window = w.measure(expect, Duration::from_secs(300), poll, || Ok(counter.lines())).with_context(|| name.to_string())?;
    let _ = w.kill();
    // The output (about a gigabyte per run) goes at once: left behind, a bench's runs pile up
    // dirty pages the kernel writes back while later runs are measured.
    let _ = std::fs::remove_dir_all(&dir);
    let counted = records - window.at_first * records / expect.max(1);
    Ok(Row::new(name, counted, bytes * counted / records.max(1), window.steady).rss(window.peak_rss_mib).cpu(window.cpu))
}

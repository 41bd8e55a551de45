//! A Kafka → sink pipeline measured the same way by several benchmarks: fill a topic, read it
//! with a raw consumer (the baseline), then through `sluice standalone` with the test sink.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

use crate::{Row, peak_rss_mib, sluice_bin, unique};

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

/// The baseline: a plain consumer that reads and parses every value.
pub fn raw_consume(bootstrap: &str, topic: &str, n: u64, bytes: u64) -> Result<Row> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).set("group.id", unique("raw")).create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let started = Instant::now();
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
    Ok(Row { name: "raw rdkafka consumer + JSON parse".into(), records: n, bytes, elapsed: started.elapsed(), peak_rss_mib: None })
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
/// TestSinkConnector (plus `extra` properties) and waits for `expect` lines; the time runs from
/// the first line written to the last.
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
    let dir = std::env::temp_dir().join("sluice-bench").join(unique("transforms"));
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("out.txt");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut worker = std::fs::File::create(dir.join("worker.properties"))?;
    writeln!(worker, "bootstrap.servers={bootstrap}\noffset.storage.file.filename={}\nlisteners=http://127.0.0.1:{port}", dir.join("offsets").display())?;
    writeln!(
        worker,
        "key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable=false"
    )?;
    writeln!(worker, "consumer.session.timeout.ms=6000\nconsumer.heartbeat.interval.ms=1000\nsluice.test.plugins.enable=true")?;
    for (k, v) in worker_extra {
        writeln!(worker, "{k}={v}")?;
    }
    let mut conn = std::fs::File::create(dir.join("sink.properties"))?;
    writeln!(conn, "name={}\nconnector.class=io.sluice.connect.testkit.TestSinkConnector\ntopics={topic}\nfile={}", unique("sink"), out.display())?;
    for (k, v) in extra {
        writeln!(conn, "{k}={v}")?;
    }
    let log = std::fs::File::create(dir.join("worker.log"))?;
    let mut child = Command::new(sluice_bin())
        .arg("standalone")
        .arg(dir.join("worker.properties"))
        .arg(dir.join("sink.properties"))
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("spawn sluice")?;
    // Time from the first line written (the group join takes seconds on this broker) to the last.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut counter = LineCounter::new(&out);
    while counter.lines() == 0 {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{name}: nothing written; see {}", dir.join("worker.log").display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let cpu = crate::CpuMeter::start(child.id());
    let first = counter.lines();
    let mut peak = None;
    while counter.lines() < expect {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{name}: only {} of {expect} lines; see {}", counter.lines(), dir.join("worker.log").display());
        }
        peak = peak_rss_mib(child.id()).or(peak);
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let counted = records - first * records / expect.max(1);
    cpu.report(&format!("{name}, worker"), counted, elapsed);
    let _ = child.kill();
    let _ = child.wait();
    // The output (about a gigabyte per run) goes at once: left behind, a bench's runs pile up
    // dirty pages the kernel writes back while later runs are measured.
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Row { name: name.into(), records: counted, bytes: bytes * counted / records.max(1), elapsed, peak_rss_mib: peak })
}

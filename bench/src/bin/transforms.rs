//! Benchmark of the transformation chain and error handling: Debezium-style change events
//! (schemaless JSON) consumed from Kafka by a sink, (1) with a raw rdkafka consumer that only
//! parses the JSON (the baseline), (2) through `sluice` with no transforms, (3) through
//! `sluice` with a typical CDC chain — ExtractNewRecordState, ReplaceField, MaskField,
//! InsertField, a Filter with a predicate, RegexRouter — and (4) the same with 1% poison
//! records and `errors.tolerance=all` + a DLQ. Run: `bench/run transforms [RECORDS]`.

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
use sluice_bench::{Row, env, peak_rss_mib, print_table, sluice_bin, unique};

fn event(i: u64, poison: bool) -> Vec<u8> {
    if poison {
        return format!("{{not json {i}").into_bytes();
    }
    let row = |name: &str| format!(r#"{{"id":{i},"first_name":"{name}","last_name":"Walker","email":"user{i}@example.com","ssn":"123-45-{:04}"}}"#, i % 10_000);
    let op = if i.is_multiple_of(10) { "u" } else { "c" };
    format!(
        r#"{{"before":{},"after":{},"source":{{"version":"2.5","connector":"postgresql","name":"db","ts_ms":1700000000000,"db":"shop","schema":"public","table":"customers","lsn":{i}}},"op":"{op}","ts_ms":1700000000123}}"#,
        if op == "u" { row("Old") } else { "null".to_string() },
        row("Anne")
    )
    .into_bytes()
}

fn produce(bootstrap: &str, topic: &str, n: u64, poison_every: Option<u64>) -> Result<u64> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let rt = tokio::runtime::Runtime::new()?;
    for r in rt.block_on(admin.create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new()))? {
        r.map_err(|(t, e)| anyhow::anyhow!("create {t}: {e}"))?;
    }
    let producer: ThreadedProducer<DefaultProducerContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "20").set("queue.buffering.max.messages", "1000000").create()?;
    let mut bytes = 0;
    for i in 0..n {
        let v = event(i, poison_every.is_some_and(|p| i % p == p - 1));
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
fn raw_consume(bootstrap: &str, topic: &str, n: u64, bytes: u64) -> Result<Row> {
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

fn lines(path: &std::path::Path) -> u64 {
    std::fs::read(path).map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64).unwrap_or(0)
}

/// Runs a sluice standalone worker with one TestSinkConnector and waits for `expect` lines.
fn sluice_sink(name: &str, bootstrap: &str, topic: &str, records: u64, bytes: u64, expect: u64, extra: &[(&str, &str)]) -> Result<Row> {
    let dir = std::env::temp_dir().join("sluice-bench").join(unique("transforms"));
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("out.txt");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut worker = std::fs::File::create(dir.join("worker.properties"))?;
    writeln!(worker, "bootstrap.servers={bootstrap}\noffset.storage.file.filename={}\nlisteners=http://127.0.0.1:{port}", dir.join("offsets").display())?;
    writeln!(worker, "key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable=false")?;
    writeln!(worker, "consumer.session.timeout.ms=6000\nconsumer.heartbeat.interval.ms=1000")?;
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
    while lines(&out) == 0 {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{name}: nothing written; see {}", dir.join("worker.log").display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let first = lines(&out);
    let mut peak = None;
    while lines(&out) < expect {
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("{name}: only {} of {expect} lines; see {}", lines(&out), dir.join("worker.log").display());
        }
        peak = peak_rss_mib(child.id()).or(peak);
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let counted = records - first * records / expect.max(1);
    Ok(Row { name: name.into(), records: counted, bytes: bytes * counted / records.max(1), elapsed, peak_rss_mib: peak })
}

fn main() -> Result<()> {
    let n: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    let (clean, dirty) = (unique("bench-cdc"), unique("bench-cdc-poison"));
    let bytes = produce(&bootstrap, &clean, n, None)?;
    let dirty_bytes = produce(&bootstrap, &dirty, n, Some(100))?;
    let chain: &[(&str, &str)] = &[
        ("transforms", "unwrap,keep,mask,insert,dropTest,route"),
        ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
        ("transforms.unwrap.add.fields", "op,table,lsn"),
        ("transforms.keep.type", "org.apache.kafka.connect.transforms.ReplaceField$Value"),
        ("transforms.keep.exclude", "last_name"),
        ("transforms.mask.type", "org.apache.kafka.connect.transforms.MaskField$Value"),
        ("transforms.mask.fields", "ssn"),
        ("transforms.insert.type", "org.apache.kafka.connect.transforms.InsertField$Value"),
        ("transforms.insert.offset.field", "kafka_offset"),
        ("transforms.dropTest.type", "org.apache.kafka.connect.transforms.Filter"),
        ("transforms.dropTest.predicate", "isTest"),
        ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
        ("transforms.route.regex", "bench-(.*)"),
        ("transforms.route.replacement", "$1"),
        ("predicates", "isTest"),
        ("predicates.isTest.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
        ("predicates.isTest.pattern", "test-.*"),
    ];
    let mut with_dlq: Vec<(&str, &str)> = chain.to_vec();
    let dlq = unique("bench-dlq");
    with_dlq.extend([
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", dlq.as_str()),
        ("errors.deadletterqueue.topic.replication.factor", "1"),
        ("errors.deadletterqueue.context.headers.enable", "true"),
    ]);
    let rows = vec![
        raw_consume(&bootstrap, &clean, n, bytes)?,
        sluice_sink("sluice sink, no transforms", &bootstrap, &clean, n, bytes, n, &[])?,
        sluice_sink("sluice sink, 6-stage CDC transform chain", &bootstrap, &clean, n, bytes, n, chain)?,
        sluice_sink("  + 1% poison records to the DLQ", &bootstrap, &dirty, n, dirty_bytes, n - n / 100, &with_dlq)?,
    ];
    print_table(&format!("Transforms and error handling: {n} Debezium-style JSON change events (≈{} B each), one partition", bytes / n.max(1)), &rows, |i| (i > 0).then_some(0));
    Ok(())
}

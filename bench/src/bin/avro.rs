//! `bench/run avro`: the AvroConverter against the JsonConverter (the baseline) on the same
//! datagen records, with the registry served by the release `sluice` binary.
//!
//! 1. Converters in-process: `from_connect` (serialize) and `to_connect` (deserialize) of
//!    200k records, one thread, and the registry calls they made.
//! 2. The worker: datagen (200k records) → converter → Kafka → FileStreamSink (same converter)
//!    through the release `sluice` binary, timed until the sink file has every line; registry
//!    requests counted by the registry itself (`GET /metrics`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice_bench::sink::LineCounter;
use sluice_bench::{Row, env, print_table, sluice_bin, unique};
use sluice_runtime::converters::JsonConverter;
use sluice_schema_registry::AvroConverter;
use sluice_sdk::{Converter, Props};

const IN_PROCESS: u64 = 200_000;
const PIPELINE: u64 = 200_000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(18081)
}

fn write_props(path: &Path, props: &BTreeMap<&str, String>) -> anyhow::Result<()> {
    let mut f = std::fs::File::create(path)?;
    for (k, v) in props {
        writeln!(f, "{k}={v}")?;
    }
    Ok(())
}

fn registry_requests(base: &str) -> u64 {
    let text = reqwest::blocking::get(format!("{base}/metrics")).and_then(|r| r.text()).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("schema_registry_requests_total ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

fn converter(name: &str, registry: &str) -> anyhow::Result<Box<dyn Converter>> {
    let mut props = Props::new();
    let mut c: Box<dyn Converter> = if name == "avro" {
        props.insert("schema.registry.url".into(), registry.into());
        Box::new(AvroConverter::default())
    } else {
        props.insert("schemas.enable".into(), "true".into());
        Box::new(JsonConverter::default())
    };
    c.configure(&props, false)?;
    Ok(c)
}

/// (serialize row, deserialize row, registry calls) for one converter.
fn in_process(name: &str, registry: &str, topic: &str) -> anyhow::Result<(Row, Row, u64)> {
    let schema = sluice_connector_datagen::value_schema(false);
    let values: Vec<_> = (0..IN_PROCESS).map(|g| sluice_connector_datagen::generate(g, 1000, 0).1).collect();
    let before = registry_requests(registry);
    let conv = converter(name, registry)?;
    let start = Instant::now();
    let mut encoded = Vec::with_capacity(values.len());
    let mut bytes = 0u64;
    for v in &values {
        let b = conv.from_connect(topic, Some(&schema), v)?.unwrap_or_default();
        bytes += b.len() as u64;
        encoded.push(b);
    }
    let ser = Row { name: format!("{name}: from_connect (serialize)"), records: IN_PROCESS, bytes, elapsed: start.elapsed(), peak_rss_mib: None };
    let reader = converter(name, registry)?;
    let start = Instant::now();
    for b in &encoded {
        let (_, v) = reader.to_connect(topic, Some(b))?;
        std::hint::black_box(v);
    }
    let de = Row { name: format!("{name}: to_connect (deserialize)"), records: IN_PROCESS, bytes, elapsed: start.elapsed(), peak_rss_mib: None };
    // Each /metrics request counts itself: the later one is not a converter call.
    Ok((ser, de, registry_requests(registry).saturating_sub(before + 1)))
}

/// datagen → converter → Kafka → file sink through the release worker.
fn pipeline(name: &str, bootstrap: &str) -> anyhow::Result<(Row, u64)> {
    let dir = std::env::temp_dir().join(unique(&format!("sluice-bench-avro-{name}")));
    std::fs::create_dir_all(&dir)?;
    let (rest, reg) = (free_port(), free_port());
    let registry = format!("http://127.0.0.1:{reg}");
    let class = if name == "avro" { "io.confluent.connect.avro.AvroConverter" } else { "org.apache.kafka.connect.json.JsonConverter" };
    let topic = unique(&format!("bench-{name}"));
    let out = dir.join("sink.txt");
    let worker = BTreeMap::from([
        ("bootstrap.servers", bootstrap.to_string()),
        ("offset.storage.file.filename", dir.join("offsets").display().to_string()),
        ("listeners", format!("http://127.0.0.1:{rest}")),
        ("schema.registry.listeners", registry.clone()),
        ("schema.registry.topic", unique("_schemas-bench")),
        ("key.converter", "org.apache.kafka.connect.storage.StringConverter".into()),
        ("value.converter", class.into()),
        ("value.converter.schema.registry.url", registry.clone()),
        ("consumer.session.timeout.ms", "6000".into()),
        ("consumer.heartbeat.interval.ms", "1000".into()),
    ]);
    let source = BTreeMap::from([
        ("name", unique("bench-gen")),
        ("connector.class", "io.sluice.connect.datagen.DatagenConnector".into()),
        ("tasks.max", "1".into()),
        ("topic", topic.clone()),
        ("max.records", PIPELINE.to_string()),
        ("topic.creation.default.replication.factor", "1".into()),
        ("topic.creation.default.partitions", "1".into()),
    ]);
    let sink =
        BTreeMap::from([("name", unique("bench-sink")), ("connector.class", "FileStreamSink".into()), ("topics", topic), ("file", out.display().to_string())]);
    write_props(&dir.join("worker.properties"), &worker)?;
    write_props(&dir.join("source.properties"), &source)?;
    write_props(&dir.join("sink.properties"), &sink)?;
    let log = std::fs::File::create(dir.join("worker.log"))?;
    let start = Instant::now();
    let mut child = Command::new(sluice_bin())
        .args(["standalone", "worker.properties", "source.properties", "sink.properties"])
        .current_dir(&dir)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    let deadline = start + Duration::from_secs(300);
    let mut done = false;
    let mut counter = LineCounter::new(&out);
    while Instant::now() < deadline {
        let lines = counter.lines();
        if lines >= PIPELINE {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    let calls = registry_requests(&registry).saturating_sub(1);
    let rss = sluice_bench::peak_rss_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    anyhow::ensure!(done, "the {name} pipeline did not deliver {PIPELINE} records in time; see {}", dir.display());
    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    Ok((Row { name: format!("worker: datagen → {name} → Kafka → file sink"), records: PIPELINE, bytes, elapsed, peak_rss_mib: rss }, calls))
}

fn main() -> anyhow::Result<()> {
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    // A registry for the in-process runs, served by the release binary (no connectors).
    let dir = std::env::temp_dir().join(unique("sluice-bench-avro-registry"));
    std::fs::create_dir_all(&dir)?;
    let (rest, reg) = (free_port(), free_port());
    let registry = format!("http://127.0.0.1:{reg}");
    write_props(
        &dir.join("worker.properties"),
        &BTreeMap::from([
            ("bootstrap.servers", bootstrap.clone()),
            ("offset.storage.file.filename", dir.join("offsets").display().to_string()),
            ("listeners", format!("http://127.0.0.1:{rest}")),
            ("schema.registry.listeners", registry.clone()),
            ("schema.registry.topic", unique("_schemas-bench")),
        ]),
    )?;
    let mut child = Command::new(sluice_bin())
        .args(["standalone", "worker.properties"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(dir.join("worker.log"))?))
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking::get(format!("{registry}/subjects")).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the registry did not start; see {}", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }

    let topic = unique("bench-in-process");
    let (json_ser, json_de, _) = in_process("json", &registry, &topic)?;
    let (avro_ser, avro_de, avro_calls) = in_process("avro", &registry, &topic)?;
    let _ = child.kill();
    let _ = child.wait();
    print_table(
        &format!("Converters in-process, {IN_PROCESS} datagen records, one thread (ratio: Avro / JSON with schemas)"),
        &[json_ser, avro_ser, json_de, avro_de],
        |i| match i {
            1 => Some(0),
            3 => Some(2),
            _ => None,
        },
    );
    println!(
        "registry calls, in-process Avro (serialize + deserialize): {avro_calls} for {IN_PROCESS} records = {:.1} per 100k",
        avro_calls as f64 * 100_000.0 / IN_PROCESS as f64
    );

    let (json_row, _) = pipeline("json", &bootstrap)?;
    let (avro_row, pipeline_calls) = pipeline("avro", &bootstrap)?;
    print_table("The release worker, end to end (ratio: Avro / JSON)", &[json_row, avro_row], |i| (i == 1).then_some(0));
    println!(
        "registry requests served during the Avro pipeline: {pipeline_calls} for {PIPELINE} records = {:.1} per 100k (one registration + one fetch per schema)",
        pipeline_calls as f64 * 100_000.0 / PIPELINE as f64
    );
    Ok(())
}

//! `bench/run avro`: the AvroConverter against the JsonConverter (the baseline) on the same
//! datagen records, with the registry served by the release `sluice` binary.
//!
//! 1. Converters in-process: `from_connect` (serialize) and `to_connect` (deserialize) of
//!    200k records, one thread, and the registry calls they made.
//! 2. The worker: datagen (200k records) → converter → Kafka → FileStreamSink (same converter)
//!    through the release `sluice` binary, timed until the sink file has every line; registry
//!    requests counted by the registry itself (`GET /metrics`).

use std::time::{Duration, Instant};

use anyhow::Context;
use sluice_bench::sink::LineCounter;
use sluice_bench::{CpuMeter, Poll, Properties, Row, Worker, bench_dir, env, free_port, get_text, print_table, standalone_worker, unique, wait_until};
use sluice_runtime::converters::JsonConverter;
use sluice_schema_registry::AvroConverter;
use sluice_sdk::{Converter, Props};

const IN_PROCESS: u64 = 200_000;
const PIPELINE: u64 = 200_000;

fn registry_requests(base: &str) -> u64 {
    let text = get_text(&format!("{base}/metrics")).unwrap_or_default();
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
    let cpu = CpuMeter::start(std::process::id());
    let mut encoded = Vec::with_capacity(values.len());
    let mut bytes = 0u64;
    for v in &values {
        let b = conv.from_connect(topic, Some(&schema), v)?.unwrap_or_default();
        bytes += b.len() as u64;
        encoded.push(b);
    }
    let ser = Row::new(format!("{name}: from_connect (serialize)"), IN_PROCESS, bytes, start.elapsed()).cpu(cpu.read(start.elapsed()));
    let reader = converter(name, registry)?;
    let start = Instant::now();
    let cpu = CpuMeter::start(std::process::id());
    for b in &encoded {
        let (_, v) = reader.to_connect(topic, Some(b))?;
        std::hint::black_box(v);
    }
    let de = Row::new(format!("{name}: to_connect (deserialize)"), IN_PROCESS, bytes, start.elapsed()).cpu(cpu.read(start.elapsed()));
    // Each /metrics request counts itself: the later one is not a converter call.
    Ok((ser, de, registry_requests(registry).saturating_sub(before + 1)))
}

/// datagen → converter → Kafka → file sink through the release worker.
fn pipeline(name: &str, bootstrap: &str) -> anyhow::Result<(Row, u64)> {
    let dir = bench_dir(&format!("avro-{name}"))?;
    let registry = format!("http://127.0.0.1:{}", free_port()?);
    let class = if name == "avro" { "io.confluent.connect.avro.AvroConverter" } else { "org.apache.kafka.connect.json.JsonConverter" };
    let topic = unique(&format!("bench-{name}"));
    let out = dir.join("sink.txt");
    let worker = standalone_worker(&dir, bootstrap)?
        .set("schema.registry.listeners", &registry)
        .set("schema.registry.topic", unique("_schemas-bench"))
        .set("key.converter", "org.apache.kafka.connect.storage.StringConverter")
        .set("value.converter", class)
        .set("value.converter.schema.registry.url", &registry)
        .set("consumer.session.timeout.ms", 6000)
        .set("consumer.heartbeat.interval.ms", 1000)
        .write(&dir.join("worker.properties"))?;
    let source = Properties::new()
        .set("name", unique("bench-gen"))
        .set("connector.class", "io.sluice.connect.datagen.DatagenConnector")
        .set("tasks.max", 1)
        .set("topic", &topic)
        .set("max.records", PIPELINE)
        .set("topic.creation.default.replication.factor", 1)
        .set("topic.creation.default.partitions", 1)
        .write(&dir.join("source.properties"))?;
    let sink = Properties::new()
        .set("name", unique("bench-sink"))
        .set("connector.class", "FileStreamSink")
        .set("topics", &topic)
        .set("file", out.display())
        .write(&dir.join("sink.properties"))?;
    let mut w = Worker::standalone(&dir, &worker, &[&source, &sink])?;
    let mut counter = LineCounter::new(&out);
    // End to end: from the process start (the source generates the records it then sinks).
    let window = w.measure(PIPELINE, Duration::from_secs(300), Poll::every(20), || Ok(counter.lines()))?;
    let calls = registry_requests(&registry).saturating_sub(1);
    w.kill();
    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let row = Row::new(format!("worker: datagen → {name} → Kafka → file sink"), PIPELINE, bytes, window.total).rss(window.peak_rss_mib);
    Ok((row, calls))
}

fn main() -> anyhow::Result<()> {
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    // A registry for the in-process runs, served by the release binary (no connectors).
    let dir = bench_dir("avro-registry")?;
    let registry = format!("http://127.0.0.1:{}", free_port()?);
    let worker = standalone_worker(&dir, &bootstrap)?
        .set("schema.registry.listeners", &registry)
        .set("schema.registry.topic", unique("_schemas-bench"))
        .write(&dir.join("worker.properties"))?;
    let child = Worker::standalone(&dir, &worker, &[])?;
    wait_until(Duration::from_secs(30), "the registry", || get_text(&format!("{registry}/subjects")))
        .with_context(|| format!("see {}", child.log().display()))?;

    let topic = unique("bench-in-process");
    let (json_ser, json_de, _) = in_process("json", &registry, &topic)?;
    let (avro_ser, avro_de, avro_calls) = in_process("avro", &registry, &topic)?;
    child.kill();
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

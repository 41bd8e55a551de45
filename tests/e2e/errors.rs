//! Transforms, error tolerance, the dead letter queue and backpressure against the real broker:
//! poison records fail the task naming the record (`errors.tolerance=none`) or go to the DLQ
//! with Connect's `__connect.errors.*` headers while the pipeline goes on (`all`); sink tasks
//! report records that fail in `put` through the errant record reporter; a slow sink keeps the
//! worker's memory bounded.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use crate::support::*;

fn create_topic(topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let res = rt.block_on(admin.create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new())).expect("create topic");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("cannot create {t}: {e}"));
    }
}

/// A record to produce: value bytes and string headers.
type TestRecord<'a> = (Vec<u8>, Vec<(&'a str, &'a str)>);

/// Produces `(value, headers)` records, in order, to partition 0.
fn produce(topic: &str, records: &[TestRecord<'_>]) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).set("linger.ms", "5").create().expect("producer");
    for (value, headers) in records {
        let mut hs = OwnedHeaders::new();
        for (k, v) in headers {
            hs = hs.insert(Header { key: k, value: Some(*v) });
        }
        let rec: BaseRecord<'_, str, [u8]> = BaseRecord::to(topic).partition(0).key("k").payload(value.as_slice()).headers(hs);
        producer.send(rec).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

fn task_state(w: &Worker, connector: &str) -> Option<(String, String)> {
    let (_, body) = w.get(&format!("/connectors/{connector}/status"))?;
    let t = body["tasks"].get(0)?;
    Some((t["state"].as_str()?.to_string(), t["trace"].as_str().unwrap_or("").to_string()))
}

#[test]
fn poison_record_with_tolerance_none_fails_the_task_naming_topic_partition_offset() {
    let dir = scratch("poison-none");
    let topic = unique("poison");
    create_topic(&topic);
    let good = |i: i32| (format!(r#"{{"id":{i}}}"#).into_bytes(), vec![]);
    produce(&topic, &[good(0), good(1), good(2), (b"{not json".to_vec(), vec![]), good(4)]);
    let name = unique("sink");
    let sink = props(&[("name", &name), ("connector.class", "FileStreamSink"), ("topics", &topic), ("file", &dir.join("out.txt").display().to_string())]);
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[sink]);
    w.start();
    let trace = wait_for(Duration::from_secs(60), &format!("the task to fail\n{}", w.log()), || match task_state(&w, &name) {
        Some((state, trace)) if state == "FAILED" => Some(trace),
        _ => None,
    });
    for part in ["Tolerance exceeded", "VALUE_CONVERTER", "org.apache.kafka.connect.json.JsonConverter", &format!("topic='{topic}'"), "partition=0", "offset=3"]
    {
        assert!(trace.contains(part), "the trace does not mention {part}: {trace}");
    }
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn poison_records_with_tolerance_all_go_to_the_dlq_with_context_headers_and_the_pipeline_goes_on() {
    let dir = scratch("poison-all");
    let (topic, dlq) = (unique("poison"), unique("dlq"));
    create_topic(&topic);
    let schema = r#"{"type":"struct","fields":[{"field":"id","type":"int32"},{"field":"secret","type":"string"}]}"#;
    let good = |i: i32| format!(r#"{{"schema":{schema},"payload":{{"id":{i},"secret":"s{i}"}}}}"#).into_bytes();
    let mut records = Vec::new();
    let mut poison_offsets = Vec::new();
    let mut want_lines = Vec::new();
    for i in 0..30 {
        match i % 10 {
            3 => {
                poison_offsets.push(records.len());
                records.push((b"{not json".to_vec(), vec![("trace-id", "t1")]));
            }
            6 => {
                // Schema mismatch: a string payload for an int32 schema.
                poison_offsets.push(records.len());
                records.push((br#"{"schema":{"type":"int32"},"payload":"abc"}"#.to_vec(), vec![]));
            }
            8 => records.push((good(i), vec![("skip", "yes")])), // dropped by Filter + HasHeaderKey
            _ => {
                records.push((good(i), vec![]));
                want_lines.push(format!("Struct{{id={i},secret=,source=e2e}}"));
            }
        }
    }
    produce(&topic, &records);
    let name = unique("sink");
    let out = dir.join("out.txt");
    let sink = props(&[
        ("name", &name),
        ("connector.class", "org.apache.kafka.connect.file.FileStreamSinkConnector"),
        ("topics", &topic),
        ("file", &out.display().to_string()),
        ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
        ("value.converter.schemas.enable", "true"),
        ("transforms", "dropSkipped,mask,insert"),
        ("transforms.dropSkipped.type", "org.apache.kafka.connect.transforms.Filter"),
        ("transforms.dropSkipped.predicate", "hasSkip"),
        ("transforms.mask.type", "org.apache.kafka.connect.transforms.MaskField$Value"),
        ("transforms.mask.fields", "secret"),
        ("transforms.insert.type", "InsertField$Value"),
        ("transforms.insert.static.field", "source"),
        ("transforms.insert.static.value", "e2e"),
        ("predicates", "hasSkip"),
        ("predicates.hasSkip.type", "org.apache.kafka.connect.transforms.predicates.HasHeaderKey"),
        ("predicates.hasSkip.name", "skip"),
        ("errors.tolerance", "all"),
        ("errors.log.enable", "true"),
        ("errors.log.include.messages", "true"),
        ("errors.deadletterqueue.topic.name", &dlq),
        ("errors.deadletterqueue.topic.replication.factor", "1"),
        ("errors.deadletterqueue.context.headers.enable", "true"),
    ]);
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[sink]);
    w.start();
    wait_for(Duration::from_secs(60), &format!("the good records in the sink file\n{}", w.log()), || (lines(&out).len() >= want_lines.len()).then_some(()));
    let dead = consume(&dlq, poison_offsets.len());
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(lines(&out), want_lines, "good records, transformed, in order; the skipped ones filtered");
    assert_eq!(task_state(&w, &name).map(|s| s.0).as_deref(), Some("RUNNING"));
    assert_eq!(dead.len(), poison_offsets.len(), "one DLQ record per poison record");
    for (m, offset) in dead.iter().zip(&poison_offsets) {
        assert_eq!(m.payload(), Some(records[*offset].0.as_slice()), "the original bytes");
        let expect = [
            ("__connect.errors.topic", topic.clone()),
            ("__connect.errors.partition", "0".to_string()),
            ("__connect.errors.offset", offset.to_string()),
            ("__connect.errors.connector.name", name.clone()),
            ("__connect.errors.task.id", "0".to_string()),
            ("__connect.errors.stage", "VALUE_CONVERTER".to_string()),
            ("__connect.errors.class.name", "org.apache.kafka.connect.json.JsonConverter".to_string()),
            ("__connect.errors.exception.class.name", "org.apache.kafka.connect.errors.DataException".to_string()),
        ];
        for (k, v) in expect {
            assert_eq!(header(m, k).as_deref(), Some(v.as_str()), "{k}");
        }
        assert!(header(m, "__connect.errors.exception.message").is_some_and(|s| !s.is_empty()));
        assert!(header(m, "__connect.errors.exception.stacktrace").is_some());
    }
    assert_eq!(header(&dead[0], "trace-id").as_deref(), Some("t1"), "original headers are kept");
    assert_eq!(want_lines.len() + poison_offsets.len() + 3, records.len(), "written + DLQ + filtered = produced");
    assert!(w.log().contains("Error encountered in task"), "errors.log.enable logs each failure");
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn sink_put_failures_reported_through_the_errant_record_reporter_reach_the_dlq() {
    let dir = scratch("errant");
    let (topic, dlq) = (unique("errant"), unique("dlq"));
    create_topic(&topic);
    let records: Vec<TestRecord<'_>> =
        (0..12).map(|i| (format!(r#"{{"n":{i},"v":"{}"}}"#, if i % 5 == 2 { "bad" } else { "ok" }).into_bytes(), vec![])).collect();
    produce(&topic, &records);
    let name = unique("testsink");
    let out = dir.join("out.txt");
    let sink = props(&[
        ("name", &name),
        ("connector.class", "io.sluice.connect.testkit.TestSinkConnector"),
        ("topics", &topic),
        ("file", &out.display().to_string()),
        ("errant.value.regex", "v=bad"),
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", &dlq),
        ("errors.deadletterqueue.topic.replication.factor", "1"),
        ("errors.deadletterqueue.context.headers.enable", "true"),
    ]);
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[sink]);
    w.start();
    wait_for(Duration::from_secs(60), &format!("the good records\n{}", w.log()), || (lines(&out).len() >= 10).then_some(()));
    let dead = consume(&dlq, 2);
    assert_eq!(lines(&out).len(), 10);
    for (m, offset) in dead.iter().zip([2, 7]) {
        let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap_or_default()).expect("DLQ value is JSON");
        assert_eq!(v, serde_json::json!({"n": offset, "v": "bad"}), "re-serialized with the connector's converter");
        assert_eq!(header(m, "__connect.errors.stage").as_deref(), Some("TASK_PUT"));
        assert_eq!(header(m, "__connect.errors.offset"), Some(offset.to_string()));
        assert_eq!(header(m, "__connect.errors.class.name").as_deref(), Some("io.sluice.connect.testkit.TestSinkConnector"));
    }
    assert_eq!(task_state(&w, &name).map(|s| s.0).as_deref(), Some("RUNNING"));
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn source_transforms_reshape_and_route_records_before_conversion() {
    let dir = scratch("source-smt");
    let topic = unique("orders");
    let routed = format!("{topic}-routed");
    // The sink subscribes at once; a topic that appears later is only seen at the consumer's
    // next metadata refresh (minutes), so create it first.
    create_topic(&routed);
    let (source_name, sink_name) = (unique("gen"), unique("sink"));
    let out = dir.join("out.txt");
    let source = props(&[
        ("name", &source_name),
        ("connector.class", "io.sluice.connect.datagen.DatagenConnector"),
        ("topic", &topic),
        ("max.records", "50"),
        ("topic.creation.default.replication.factor", "1"),
        ("topic.creation.default.partitions", "1"),
        ("transforms", "keep,route,dropOdd"),
        ("transforms.keep.type", "org.apache.kafka.connect.transforms.ReplaceField$Value"),
        ("transforms.keep.include", "seq,customer"),
        ("transforms.keep.renames", "customer:who"),
        ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
        ("transforms.route.regex", "(.*)"),
        ("transforms.route.replacement", "$1-routed"),
        ("transforms.dropOdd.type", "Filter"),
        ("transforms.dropOdd.predicate", "oddKey"),
        ("predicates", "oddKey"),
        ("predicates.oddKey.type", "TopicNameMatches"),
        ("predicates.oddKey.pattern", ".*-routed"),
        ("transforms.dropOdd.negate", "true"),
    ]);
    let sink = props(&[
        ("name", &sink_name),
        ("connector.class", "FileStreamSink"),
        ("topics", &routed),
        ("file", &out.display().to_string()),
        ("value.converter", "org.apache.kafka.connect.storage.StringConverter"),
    ]);
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[source, sink]);
    w.start();
    wait_for(Duration::from_secs(90), &format!("the routed records\n{}", w.log()), || (lines(&out).len() >= 50).then_some(()));
    std::thread::sleep(Duration::from_millis(1000));
    let got = lines(&out);
    assert_eq!(got.len(), 50, "the negated predicate keeps every routed record");
    for l in &got {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        let keys: Vec<_> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        assert_eq!(keys, vec!["seq", "who"], "{l}");
    }
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn source_conversion_failures_follow_errors_tolerance() {
    // ByteArrayConverter cannot write datagen's structs: every record fails VALUE_CONVERTER.
    let dir = scratch("source-errors");
    let (strict, tolerant) = (unique("strict"), unique("tolerant"));
    let source = |name: &str, tolerance: &str| {
        props(&[
            ("name", name),
            ("connector.class", "io.sluice.connect.datagen.DatagenConnector"),
            ("topic", &unique("never")),
            ("max.records", "20"),
            ("value.converter", "org.apache.kafka.connect.converters.ByteArrayConverter"),
            ("errors.tolerance", tolerance),
            ("errors.log.enable", "true"),
        ])
    };
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[source(&strict, "none"), source(&tolerant, "all")]);
    w.start();
    let trace = wait_for(Duration::from_secs(60), &format!("the strict task to fail\n{}", w.log()), || match task_state(&w, &strict) {
        Some((state, trace)) if state == "FAILED" => Some(trace),
        _ => None,
    });
    for part in ["Tolerance exceeded", "VALUE_CONVERTER", "org.apache.kafka.connect.converters.ByteArrayConverter", "sourceOffset={\"next\":1}"] {
        assert!(trace.contains(part), "the trace does not mention {part}: {trace}");
    }
    // The tolerant one skips all 20 records, stays RUNNING and commits past them.
    wait_for(Duration::from_secs(30), "the tolerant source's offsets", || {
        let offsets = std::fs::read_to_string(dir.join("offsets.json")).ok()?;
        (offsets.contains(&tolerant) && offsets.contains(r#"{\"next\":20}"#)).then_some(())
    });
    assert_eq!(task_state(&w, &tolerant).map(|s| s.0).as_deref(), Some("RUNNING"));
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn bad_transform_and_error_configs_exit_non_zero_naming_the_key() {
    let dir = scratch("bad-smt");
    write_props(&dir.join("worker.properties"), &worker_props(&dir, free_port()));
    let sink = |extra: &[(&str, &str)]| {
        let mut p = props(&[("name", "bad"), ("connector.class", "FileStreamSink"), ("topics", "t"), ("file", "out.txt")]);
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    };
    let cases: &[(&[(&str, &str)], &[&str])] = &[
        (&[("transforms", "route"), ("transforms.route.type", "RegexRouter"), ("transforms.route.regex", "(")], &["transforms.route.regex"]),
        (
            &[("transforms", "x"), ("transforms.x.type", "com.example.Nope")],
            &["transforms.x.type", "com.example.Nope", "org.apache.kafka.connect.transforms.InsertField$Value"],
        ),
        (&[("transforms", "f"), ("transforms.f.type", "Filter"), ("transforms.f.predicate", "p")], &["transforms.f.predicate"]),
        (&[("errors.retry.timeout", "soon")], &["errors.retry.timeout"]),
        (&[("errors.deadletterqueue.topic.name", "t")], &["topics", "DLQ"]),
    ];
    for (i, (extra, expected)) in cases.iter().enumerate() {
        let file = format!("c{i}.properties");
        write_props(&dir.join(&file), &sink(extra));
        let (code, stderr) = run_sluice(&dir, &["standalone", "worker.properties", &file]);
        assert!(matches!(code, Some(c) if c != 0), "{extra:?} exited {code:?}; stderr: {stderr}");
        for e in *expected {
            assert!(stderr.contains(e), "{extra:?}: stderr does not mention {e}:\n{stderr}");
        }
    }
}

/// Resident set size of a process, in bytes.
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

#[test]
fn slow_sink_keeps_worker_memory_bounded_while_the_producer_keeps_writing() {
    let dir = scratch("backpressure");
    let topic = unique("bulk");
    create_topic(&topic);
    let (source_name, sink) = (unique("gen"), unique("slow"));
    // ~4 KB records as fast as the source can go; the sink takes 100 records per 200 ms.
    let source = props(&[
        ("name", &source_name),
        ("connector.class", "io.sluice.connect.datagen.DatagenConnector"),
        ("topic", &topic),
        ("payload.bytes", "4000"),
        ("max.records", "60000"),
        ("producer.override.buffer.memory", "4194304"),
    ]);
    let slow = props(&[
        ("name", &sink),
        ("connector.class", "io.sluice.connect.testkit.TestSinkConnector"),
        ("topics", &topic),
        ("put.delay.ms", "200"),
        ("consumer.override.max.poll.records", "100"),
        ("consumer.override.queued.max.messages.kbytes", "4096"),
        ("consumer.override.fetch.max.bytes", "1048576"),
        ("consumer.override.max.partition.fetch.bytes", "1048576"),
    ]);
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[source, slow]);
    w.start();
    w.wait_running(&sink, 1);
    let pid = w.pid().expect("worker pid");
    let started = Instant::now();
    let mut peak = 0;
    while started.elapsed() < Duration::from_secs(20) {
        peak = peak.max(rss(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    let produced_mb = 60_000 * 4000 / (1 << 20);
    println!("peak worker RSS {} MiB while ~{produced_mb} MiB were produced and a slow sink consumed", peak >> 20);
    // Bounds: 4 MiB producer queue + 4 MiB consumer prefetch + 1 MiB fetch + two 100-record
    // batches (one put, one prepared), on top of the debug worker's own baseline. Measured peaks:
    // 85-87 MiB alone, up to 95 MiB while the rest of the suite loads both cores (the allocator
    // holds more when threads lag). Unbounded, the ~228 MiB backlog would be held on top of the
    // baseline (~300 MiB): the bound sits between, with room for a loaded CI machine.
    let bound = 128 << 20;
    assert!(peak > 0 && peak < bound, "peak RSS {} MiB exceeds {} MiB", peak >> 20, bound >> 20);
    assert_eq!(task_state(&w, &sink).map(|s| s.0).as_deref(), Some("RUNNING"));
    assert_eq!(w.terminate(), Some(0));
}

//! Standalone mode against the real broker: datagen → Kafka → file sink, crash and restart,
//! Kafka's quickstart files, bad configs, the minimal REST API.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use crate::support::*;

const KEY_SPACE: u64 = 100;

/// One task: these tests count every record a sink reads at the tail, and the test broker can
/// skip a batch for such a reader while two producers write one partition (ARCHITECTURE.md,
/// Testing). Several source tasks moving and restarting are covered in `distributed`.
fn datagen(name: &str, topic: &str, records: u64, rate: u64) -> BTreeMap<String, String> {
    props(&[
        ("name", name),
        ("connector.class", "io.sluice.connect.datagen.DatagenConnector"),
        ("tasks.max", "1"),
        ("topic", topic),
        ("max.records", &records.to_string()),
        ("records.per.second", &rate.to_string()),
        ("key.space", &KEY_SPACE.to_string()),
        ("topic.creation.default.replication.factor", "1"),
        ("topic.creation.default.partitions", "4"),
    ])
}

fn file_sink(name: &str, topic: &str, file: &Path) -> BTreeMap<String, String> {
    props(&[
        ("name", name),
        ("connector.class", "FileStreamSink"),
        ("topics", topic),
        ("file", &file.display().to_string()),
        ("value.converter", "org.apache.kafka.connect.storage.StringConverter"),
    ])
}

/// The `seq` of each line the file sink wrote (datagen values as schemaless JSON).
fn seqs(path: &Path) -> Vec<u64> {
    lines(path)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("sink line is not JSON ({e}): {l}"));
            v["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {l}"))
        })
        .collect()
}

/// Waits until the sink file holds every `seq` below `n`; on timeout, says which are missing
/// and whether the topic holds them.
fn wait_for_every_seq(timeout: Duration, out: &Path, topic: &str, n: u64) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let got: HashSet<u64> = lines(out).iter().filter_map(|l| seq_of(l)).collect();
        if got.len() as u64 >= n {
            return;
        }
        if std::time::Instant::now() > deadline {
            let missing: Vec<u64> = (0..n).filter(|s| !got.contains(s)).collect();
            panic!("timed out after {timeout:?}: {} of {n} records in the sink file; {}", got.len(), missing_report(topic, &missing));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn datagen_to_file_sink_delivers_every_record_in_order_per_key() {
    let dir = scratch("order");
    let topic = unique("orders");
    let out = dir.join("sink.jsonl");
    let n = 20_000u64;
    let port = free_port();
    let (gen_name, sink_name) = (unique("gen"), unique("sink"));
    let mut w = Worker::new(&dir, worker_props(&dir, port), &[datagen(&gen_name, &topic, n, 0), file_sink(&sink_name, &topic, &out)]);
    w.start();
    w.wait_running(&gen_name, 1);
    wait_for_every_seq(Duration::from_secs(120), &out, &topic, n);
    std::thread::sleep(Duration::from_millis(1500)); // nothing more may arrive
    let got = seqs(&out);
    assert_eq!(got.len() as u64, n, "a run without crash delivers each record once");
    assert_eq!(got.iter().copied().collect::<HashSet<_>>(), (0..n).collect::<HashSet<_>>(), "every record arrives");
    // One key lives in one partition, so its records must arrive in the order produced.
    let mut last: HashMap<u64, u64> = HashMap::new();
    for s in got {
        if let Some(prev) = last.insert(s % KEY_SPACE, s) {
            assert!(s > prev, "key k{} went back from seq {prev} to {s}", s % KEY_SPACE);
        }
    }
    assert_eq!(w.terminate(), Some(0), "SIGTERM stops the worker cleanly");
    let offsets = std::fs::read_to_string(dir.join("offsets.json")).expect("offsets file written");
    let key = format!(r#"[\"{gen_name}\",{{\"task\":0,\"tasks\":1}}]"#);
    assert!(offsets.contains(&key) && offsets.contains(r#"{\"next\":20000}"#), "{offsets}");
}

#[test]
fn kill_during_load_loses_nothing_and_bounds_duplicates() {
    let dir = scratch("kill");
    let topic = unique("orders");
    let out = dir.join("sink.jsonl");
    let (n, rate) = (60_000u64, 5_000u64);
    let flush = Duration::from_millis(500);
    let port = free_port();
    let mut w = Worker::new(&dir, worker_props(&dir, port), &[datagen(&unique("gen"), &topic, n, rate), file_sink(&unique("sink"), &topic, &out)]);
    w.start();
    // Kill in steady state: the sink joins its group a few seconds after the source starts and
    // then catches up at full speed; kill once it has been following the source for a while.
    wait_for(Duration::from_secs(120), "the sink to start writing", || (!lines(&out).is_empty()).then_some(()));
    std::thread::sleep(Duration::from_secs(3));
    wait_for(Duration::from_secs(120), "a third of the records in the sink", || (lines(&out).len() as u64 >= n / 3).then_some(()));
    w.kill9();
    let at_kill = lines(&out).len() as u64;
    assert!(at_kill < n, "the worker was killed mid-run ({at_kill} of {n} delivered)");
    w.start();
    wait_for_every_seq(Duration::from_secs(180), &out, &topic, n);
    std::thread::sleep(Duration::from_millis(1500));
    let got = seqs(&out);
    assert_eq!(got.iter().copied().collect::<HashSet<_>>(), (0..n).collect::<HashSet<_>>(), "no record lost");
    let duplicates = got.len() as u64 - n;
    // Uncommitted windows at the kill: the source re-produces what was sent since its last
    // offset flush, the sink re-writes what was put since its last consumer commit; each is at
    // most rate × (flush interval + one commit round), 1 s here.
    let window = rate * (flush.as_millis() as u64 + 500) / 1000;
    println!("kill -9 at {at_kill}/{n} delivered: {duplicates} duplicates (bound {})", 2 * window);
    assert!(duplicates <= 2 * window, "{duplicates} duplicates exceed the uncommitted windows ({window} per side)");
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn kafka_quickstart_file_connectors_run_unchanged() {
    let dir = scratch("quickstart");
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/quickstart");
    for f in ["connect-file-source.properties", "connect-file-sink.properties"] {
        std::fs::copy(here.join(f), dir.join(f)).expect("copy quickstart file");
    }
    let first: Vec<String> = (0..50).map(|i| format!("line {i} {}", unique("q"))).collect();
    std::fs::write(dir.join("test.txt"), first.join("\n") + "\n").expect("write test.txt");
    let port = free_port();
    let mut worker = worker_props(&dir, port);
    worker.insert("value.converter.schemas.enable".into(), "true".into());
    write_props(&dir.join("connect-standalone.properties"), &worker);
    let mut w = Worker::from_files(&dir, port, "connect-standalone.properties", &["connect-file-source.properties", "connect-file-sink.properties"]);
    let sink = dir.join("test.sink.txt");
    w.start();
    // The topic may have several partitions (the broker's default), so compare as sets.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    wait_for(Duration::from_secs(90), "the quickstart lines in test.sink.txt", || (lines(&sink).len() >= first.len()).then_some(()));
    assert_eq!(sorted(lines(&sink)), sorted(first.clone()));
    assert_eq!(w.terminate(), Some(0));

    // The source continues after its committed position: only new lines are sent.
    let more: Vec<String> = (0..5).map(|i| format!("more {i}")).collect();
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.join("test.txt")).expect("open");
    std::io::Write::write_all(&mut f, (more.join("\n") + "\n").as_bytes()).expect("append");
    w.start();
    let want: Vec<String> = first.iter().chain(more.iter()).cloned().collect();
    wait_for(Duration::from_secs(90), "the appended lines", || (lines(&sink).len() >= want.len()).then_some(()));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sorted(lines(&sink)), sorted(want), "no line twice, none lost");
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn bad_configs_exit_non_zero_naming_the_key() {
    let dir = scratch("badcfg");
    let port = free_port();
    let good_worker = worker_props(&dir, port);
    write_props(&dir.join("good-worker.properties"), &good_worker);
    let mut bad_worker = good_worker.clone();
    bad_worker.insert("offset.flush.interval.ms".into(), "soon".into());
    write_props(&dir.join("bad-worker.properties"), &bad_worker);
    let sink = |extra: &[(&str, &str)]| {
        let mut p = props(&[("name", "bad"), ("connector.class", "FileStreamSink"), ("topics", "t"), ("file", "out.txt")]);
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    };
    write_props(&dir.join("tasks.properties"), &sink(&[("tasks.max", "zero")]));
    let mut no_topics = sink(&[]);
    no_topics.remove("topics");
    write_props(&dir.join("topics.properties"), &no_topics);
    write_props(&dir.join("class.properties"), &sink(&[("connector.class", "com.example.NoSuchConnector")]));
    std::fs::write(dir.join("json.json"), r#"{"name":"j","config":{"connector.class":"FileStreamSink","topics":"t","errors.tolerance":"some"}}"#)
        .expect("write");

    let cases: &[(&[&str], &[&str])] = &[
        (&["standalone", "bad-worker.properties"], &["offset.flush.interval.ms", "soon"]),
        (&["standalone", "good-worker.properties", "tasks.properties"], &["tasks.max", "zero"]),
        (&["standalone", "good-worker.properties", "topics.properties"], &["topics"]),
        (&["standalone", "good-worker.properties", "json.json"], &["errors.tolerance"]),
        (
            &["standalone", "good-worker.properties", "class.properties"],
            &["com.example.NoSuchConnector", "org.apache.kafka.connect.file.FileStreamSinkConnector", "io.sluice.connect.datagen.DatagenConnector"],
        ),
        (&["standalone", "missing-worker.properties"], &["missing-worker.properties"]),
    ];
    for (args, expected) in cases {
        let (code, stderr) = run_sluice(&dir, args);
        assert!(matches!(code, Some(c) if c != 0), "{args:?} exited {code:?}; stderr: {stderr}");
        for e in *expected {
            assert!(stderr.contains(e), "{args:?}: stderr does not mention {e}:\n{stderr}");
        }
    }
}

#[test]
fn rest_api_lists_connectors_and_statuses() {
    let dir = scratch("rest");
    let topic = unique("orders");
    let port = free_port();
    let (gen_name, sink_name) = (unique("gen"), unique("sink"));
    let mut w = Worker::new(&dir, worker_props(&dir, port), &[datagen(&gen_name, &topic, 100, 0), file_sink(&sink_name, &topic, &dir.join("o.txt"))]);
    w.start();
    w.wait_running(&gen_name, 1);
    w.wait_running(&sink_name, 1);
    let (code, root) = w.get("/").expect("GET /");
    assert_eq!(code, 200);
    assert!(root["version"].is_string() && root["commit"].is_string(), "{root}");
    let (_, list) = w.get("/connectors").expect("GET /connectors");
    assert_eq!(list, serde_json::json!([gen_name, sink_name]));
    let (_, status) = w.get(&format!("/connectors/{sink_name}/status")).expect("status");
    assert_eq!(status["type"], "sink");
    assert_eq!(status["connector"]["worker_id"], format!("127.0.0.1:{port}"));
    assert_eq!(status["tasks"][0]["id"], 0);
    let (code, err) = w.get("/connectors/nope/status").expect("404");
    assert_eq!(code, 404);
    assert_eq!(err, serde_json::json!({"error_code": 404, "message": "Connector nope not found"}));
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn retriable_put_failures_redeliver_the_same_records() {
    let dir = scratch("retry");
    let topic = unique("orders");
    let out = dir.join("sink.jsonl");
    let n = 3_000u64;
    let port = free_port();
    let sink = props(&[
        ("name", &unique("retry-sink")),
        ("connector.class", "io.sluice.connect.testkit.TestSinkConnector"),
        ("topics", &topic),
        ("file", &out.display().to_string()),
        ("retriable.failures", "3"),
        ("value.converter", "org.apache.kafka.connect.storage.StringConverter"),
    ]);
    let mut w = Worker::new(&dir, worker_props(&dir, port), &[datagen(&unique("gen"), &topic, n, 0), sink]);
    w.start();
    wait_for(Duration::from_secs(120), "all records despite three failed puts", || (lines(&out).len() as u64 >= n).then_some(()));
    std::thread::sleep(Duration::from_millis(1500));
    let got = seqs(&out);
    assert_eq!(got.len() as u64, n, "failed puts wrote nothing, and each record was redelivered exactly once");
    assert_eq!(got.iter().copied().collect::<HashSet<_>>(), (0..n).collect::<HashSet<_>>());
    assert!(w.log().contains("redelivering the batch"), "the retries happened");
    assert_eq!(w.terminate(), Some(0));
}

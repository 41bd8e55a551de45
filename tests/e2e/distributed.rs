//! Distributed mode against the real broker: `sluice distributed` worker processes on loopback
//! forming clusters through the broker's group coordinator. Rebalances take seconds on the
//! test broker, so one cluster is shared by the assertions of a scenario (create through any
//! worker, even spread, kill -9 failover, minimal moves on join, update/delete propagation).
//!
//! "Never restarted" is checked in the workers' logs: a task that does not move logs neither
//! `source task stopped` nor a second `source task started`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const SESSION_MS: u64 = 6000;

/// A cluster's shared settings: group and internal topics.
struct ClusterSpec {
    group: String,
    prefix: String,
    delay_ms: u64,
}

impl ClusterSpec {
    fn new(name: &str, delay_ms: u64) -> ClusterSpec {
        let group = unique(name);
        ClusterSpec { prefix: group.clone(), group, delay_ms }
    }

    fn worker(&self, dir: &Path) -> Worker {
        self.worker_with(dir, &[])
    }

    /// A worker with extra worker properties.
    fn worker_with(&self, dir: &Path, extra: &[(&str, &str)]) -> Worker {
        let port = free_port();
        let mut p = props(&[
            ("bootstrap.servers", &bootstrap()),
            ("group.id", &self.group),
            ("config.storage.topic", &format!("{}-configs", self.prefix)),
            ("offset.storage.topic", &format!("{}-offsets", self.prefix)),
            ("status.storage.topic", &format!("{}-status", self.prefix)),
            ("config.storage.replication.factor", "1"),
            ("offset.storage.replication.factor", "1"),
            ("status.storage.replication.factor", "1"),
            ("offset.storage.partitions", "5"),
            ("status.storage.partitions", "2"),
            ("listeners", &format!("http://127.0.0.1:{port}")),
            ("key.converter", "org.apache.kafka.connect.storage.StringConverter"),
            ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
            ("value.converter.schemas.enable", "false"),
            ("offset.flush.interval.ms", "500"),
            ("session.timeout.ms", &SESSION_MS.to_string()),
            ("heartbeat.interval.ms", "1000"),
            ("scheduled.rebalance.max.delay.ms", &self.delay_ms.to_string()),
            ("consumer.session.timeout.ms", "6000"),
            ("consumer.heartbeat.interval.ms", "1000"),
        ]);
        p.extend(props(extra));
        let wdir = dir.join(format!("w{port}"));
        std::fs::create_dir_all(&wdir).expect("worker dir");
        let mut w = Worker::distributed(&wdir, p);
        w.start();
        w
    }
}

fn wait_healthy(w: &Worker) {
    wait_for(Duration::from_secs(60), &format!("worker {} to be healthy\n{}", w.rest_port, w.log()), || {
        matches!(w.http("GET", "/health", None), Ok((200, _))).then_some(())
    });
}

fn id(w: &Worker) -> String {
    format!("127.0.0.1:{}", w.rest_port)
}

fn datagen(name: &str, topic: &str, tasks: u32, rate: u64) -> Value {
    json!({"name": name, "config": {
        "connector.class": "io.sluice.connect.datagen.DatagenConnector",
        "tasks.max": tasks.to_string(), "topic": topic, "max.records": "-1",
        "records.per.second": rate.to_string(), "key.space": "100",
        "topic.creation.default.replication.factor": "1", "topic.creation.default.partitions": "3",
    }})
}

/// Creates a connector through `w`, retrying while the cluster answers 409 (rebalancing).
fn create(w: &Worker, body: Value) {
    wait_for(Duration::from_secs(60), "the connector to be created", || {
        let (code, resp) = w.json("POST", "/connectors", Some(body.clone()));
        assert!(code == 201 || code == 409, "POST /connectors answered {code}: {resp}");
        (code == 201).then_some(())
    });
}

/// task id → worker id, when the connector and `tasks` tasks are RUNNING.
fn running_tasks(w: &Worker, name: &str, tasks: usize) -> Option<BTreeMap<u64, String>> {
    let (code, body) = w.get(&format!("/connectors/{name}/status"))?;
    let list = body["tasks"].as_array()?;
    let running: BTreeMap<u64, String> =
        list.iter().filter(|t| t["state"] == "RUNNING").filter_map(|t| Some((t["id"].as_u64()?, t["worker_id"].as_str()?.to_string()))).collect();
    (code == 200 && body["connector"]["state"] == "RUNNING" && running.len() == tasks && list.len() == tasks).then_some(running)
}

fn per_worker(owners: &BTreeMap<u64, String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for w in owners.values() {
        *out.entry(w.clone()).or_insert(0) += 1;
    }
    out
}

/// The worker's log without ANSI colours.
fn plain_log(w: &Worker) -> String {
    let log = w.log();
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// How often the worker logged `what` (e.g. "source task stopped") for connector `name`.
fn count(w: &Worker, what: &str, name: &str) -> usize {
    plain_log(w).lines().filter(|l| l.contains(what) && l.contains(&format!("connector={name} "))).count()
}

#[test]
fn cluster_spreads_fails_over_moves_minimally_and_propagates_configs() {
    let dir = scratch("dist-cluster");
    let spec = ClusterSpec::new("dist", 2000);
    let mut workers: Vec<Worker> = (0..3).map(|_| spec.worker(&dir)).collect();
    workers.iter().for_each(wait_healthy);
    let name = unique("gen");
    let topic = unique("dist-topic");

    // Created through the last worker (forwarded to the leader if it is not the leader).
    create(&workers[2], datagen(&name, &topic, 6, 20));
    let owners = wait_for(Duration::from_secs(60), "6 tasks RUNNING on 3 workers", || {
        running_tasks(&workers[0], &name, 6).filter(|o| per_worker(o).values().all(|n| *n == 2) && per_worker(o).len() == 3)
    });
    for w in &workers {
        let (code, list) = w.json("GET", "/connectors", None);
        assert_eq!((code, list), (200, json!([name])), "every worker lists the connector");
        assert_eq!(w.json("GET", &format!("/connectors/{name}/tasks"), None).1.as_array().map(Vec::len), Some(6));
    }

    // kill -9 one worker: its tasks run elsewhere within session timeout + delay (+ rebalance).
    let victim = workers.remove(2);
    let victim_id = id(&victim);
    let mut victim = victim;
    let killed_at = Instant::now();
    victim.kill9();
    let budget = Duration::from_millis(SESSION_MS + spec.delay_ms) + Duration::from_secs(25);
    let after = wait_for(budget, "the killed worker's tasks RUNNING on the survivors", || {
        running_tasks(&workers[0], &name, 6).filter(|o| !o.values().any(|w| *w == victim_id))
    });
    let failover = killed_at.elapsed();
    eprintln!("failover after kill -9: {failover:?}");
    assert_eq!(per_worker(&after).values().copied().collect::<Vec<_>>(), vec![3, 3], "{after:?}");
    for w in &workers {
        assert_eq!(count(w, "source task stopped", &name), 0, "a survivor stopped a task:\n{}", plain_log(w));
        let mine: Vec<u64> = owners.iter().filter(|(_, o)| **o == id(w)).map(|(t, _)| *t).collect();
        for t in mine {
            assert_eq!(after[&t], id(w), "task {t} moved away from a survivor");
        }
    }

    // A fourth worker joins: exactly one task moves from each survivor to it (3,3 → 2,2,2).
    workers.push(spec.worker(&dir));
    wait_healthy(&workers[2]);
    let joined = wait_for(Duration::from_secs(60), "6 tasks spread 2/2/2 after the join", || {
        running_tasks(&workers[0], &name, 6).filter(|o| per_worker(o).len() == 3 && per_worker(o).values().all(|n| *n == 2))
    });
    let stops: usize = workers[..2].iter().map(|w| count(w, "source task stopped", &name)).sum();
    assert_eq!(stops, 2, "only the two moved tasks stopped");
    let moved: BTreeSet<u64> = joined.iter().filter(|(t, w)| after[*t] != **w).map(|(t, _)| *t).collect();
    assert_eq!(moved.len(), 2, "{after:?} → {joined:?}");

    // A config update through the new worker reaches every worker; tasks pick it up.
    let mut cfg = datagen(&name, &topic, 6, 20)["config"].clone();
    cfg["records.per.second"] = json!("30");
    wait_for(Duration::from_secs(30), "the config update", || {
        let (code, _) = workers[2].json("PUT", &format!("/connectors/{name}/config"), Some(cfg.clone()));
        (code == 200).then_some(())
    });
    for w in &workers {
        wait_for(Duration::from_secs(20), "the updated config on every worker", || {
            (w.json("GET", &format!("/connectors/{name}/config"), None).1["records.per.second"] == "30").then_some(())
        });
    }
    wait_for(Duration::from_secs(60), "tasks RUNNING after the update", || running_tasks(&workers[1], &name, 6));

    // Delete through the first worker: gone everywhere, its tasks stop.
    wait_for(Duration::from_secs(30), "the delete", || {
        let (code, _) = workers[0].http("DELETE", &format!("/connectors/{name}"), None).ok()?;
        (code == 204).then_some(())
    });
    for w in &workers {
        wait_for(Duration::from_secs(20), "the connector gone on every worker", || {
            (w.json("GET", "/connectors", None).1 == json!([]) && w.json("GET", &format!("/connectors/{name}/status"), None).0 == 404).then_some(())
        });
    }
    wait_for(Duration::from_secs(30), "every task stopped after the delete", || {
        let started: usize = workers.iter().map(|w| count(w, "source task started", &name)).sum();
        let stopped: usize = workers.iter().map(|w| count(w, "source task stopped", &name)).sum();
        (started == stopped).then_some(())
    });
}

#[test]
fn two_groups_on_one_broker_stay_apart() {
    let dir = scratch("dist-groups");
    let (a, b) = (ClusterSpec::new("grp-a", 0), ClusterSpec::new("grp-b", 0));
    let wa: Vec<Worker> = (0..2).map(|_| a.worker(&dir)).collect();
    let wb = b.worker(&dir);
    wa.iter().for_each(wait_healthy);
    wait_healthy(&wb);
    let (na, nb) = (unique("in-a"), unique("in-b"));
    create(&wa[1], datagen(&na, &unique("ta"), 2, 5));
    create(&wb, datagen(&nb, &unique("tb"), 2, 5));
    let oa = wait_for(Duration::from_secs(60), "a's tasks on both of a's workers", || running_tasks(&wa[0], &na, 2).filter(|o| per_worker(o).len() == 2));
    let ob = wait_for(Duration::from_secs(60), "b's tasks", || running_tasks(&wb, &nb, 2));
    let a_ids: BTreeSet<String> = wa.iter().map(id).collect();
    assert!(oa.values().all(|w| a_ids.contains(w)), "{oa:?}");
    assert!(ob.values().all(|w| *w == id(&wb)), "{ob:?}");
    assert_eq!(wa[0].json("GET", "/connectors", None).1, json!([na]));
    assert_eq!(wb.json("GET", "/connectors", None).1, json!([nb]));
}

#[test]
fn worker_that_cannot_reach_the_broker_fails_clearly() {
    let dir = scratch("dist-nobroker");
    let port = free_port();
    let file: PathBuf = dir.join("worker.properties");
    write_props(
        &file,
        &props(&[
            ("bootstrap.servers", "127.0.0.1:1"),
            ("group.id", "g"),
            ("config.storage.topic", "c"),
            ("offset.storage.topic", "o"),
            ("status.storage.topic", "s"),
            ("listeners", &format!("http://127.0.0.1:{port}")),
        ]),
    );
    let started = Instant::now();
    let (code, stderr) = run_sluice(&dir, &["distributed", file.to_str().expect("utf-8 path")]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("cannot reach Kafka at bootstrap.servers=127.0.0.1:1"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(40));
}

/// The `(src, seq)` pairs of the records in a sink file.
fn sourced_seqs(path: &Path) -> BTreeSet<(String, u64)> {
    lines(path)
        .iter()
        .filter_map(|l| {
            let v = serde_json::from_str::<Value>(l).ok()?;
            Some((v["src"].as_str()?.to_string(), v["seq"].as_u64()?))
        })
        .collect()
}

/// Two source tasks and a sink task move while every worker restarts in turn; every record
/// arrives. Each source task writes its own topic: the test broker can skip a batch for a reader
/// at the tail while two producers write one partition (ARCHITECTURE.md, Testing).
#[test]
fn rolling_restart_under_load_loses_no_record() {
    let dir = scratch("dist-rolling");
    let spec = ClusterSpec::new("roll", 0);
    let mut workers: Vec<Worker> = (0..3).map(|_| spec.worker(&dir)).collect();
    workers.iter().for_each(wait_healthy);
    let per_source = 6_000u64;
    let topics = [unique("roll-topic-a"), unique("roll-topic-b")];
    let out = dir.join("sink.jsonl");
    let sources: Vec<Value> = ["a", "b"]
        .iter()
        .zip(&topics)
        .map(|(src, topic)| {
            let mut source = datagen(&unique(&format!("roll-gen-{src}")), topic, 1, 150);
            let c = &mut source["config"];
            c["max.records"] = json!(per_source.to_string());
            c["transforms"] = json!("src");
            c["transforms.src.type"] = json!("org.apache.kafka.connect.transforms.InsertField$Value");
            c["transforms.src.static.field"] = json!("src");
            c["transforms.src.static.value"] = json!(src);
            source
        })
        .collect();
    let sink = json!({"name": unique("roll-sink"), "config": {
        "connector.class": "FileStreamSink", "tasks.max": "1", "topics": topics.join(","),
        "file": out.display().to_string(), "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    }});
    for (i, source) in sources.into_iter().enumerate() {
        create(&workers[i], source);
    }
    create(&workers[2], sink);
    wait_for(Duration::from_secs(60), "records flowing into the sink file", || (!sourced_seqs(&out).is_empty()).then_some(()));
    // Restart every worker in turn (SIGTERM: tasks stop and commit, the worker leaves).
    for w in workers.iter_mut() {
        assert_eq!(w.terminate(), Some(0), "a clean exit on SIGTERM");
        // Offset commits are logged at debug: what a failure here needs to be understood.
        w.env.push(("RUST_LOG".into(), "info,sluice_runtime::executor=debug".into()));
        w.start();
        wait_healthy(w);
    }
    let n = 2 * per_source;
    let deadline = Instant::now() + Duration::from_secs(90);
    let got = loop {
        let s = sourced_seqs(&out);
        if s.len() as u64 >= n || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if got.len() as u64 == n {
        return;
    }
    // Where the missing records are: never produced (source side) or produced and not written
    // (sink side).
    let mut report = Vec::new();
    for (src, topic) in ["a", "b"].iter().zip(&topics) {
        let missing: Vec<u64> = (0..per_source).filter(|s| !got.contains(&(src.to_string(), *s))).collect();
        report.push(format!("source {src}: {}", missing_report(topic, &missing)));
    }
    for w in &workers {
        eprintln!("---- {} ----\n{}", w.rest_port, plain_log(w));
    }
    panic!("{} of {n} records in the sink file\n{}", got.len(), report.join("\n"));
}

/// Waits until the connector and all `tasks` tasks are in `state`.
fn wait_state(w: &Worker, name: &str, state: &str, tasks: usize) {
    wait_for(Duration::from_secs(60), &format!("{name} {state} with {tasks} tasks\n{}", plain_log(w)), || {
        let (code, s) = w.get(&format!("/connectors/{name}/status"))?;
        let t = s["tasks"].as_array()?;
        (code == 200 && s["connector"]["state"] == state && t.len() == tasks && t.iter().all(|t| t["state"] == state)).then_some(())
    });
}

/// Retries a write while the cluster answers 409 (a rebalance is in progress).
fn write(w: &Worker, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    wait_for(Duration::from_secs(60), &format!("{method} {path}"), || {
        let r = w.json(method, path, body.clone());
        (r.0 != 409).then_some(r)
    })
}

#[test]
fn rest_lifecycle_on_a_one_worker_cluster() {
    let dir = scratch("dist-rest");
    let spec = ClusterSpec::new("dist-rest", 0);
    // The worker also serves the schema registry, as a standalone one does.
    let registry = format!("http://127.0.0.1:{}", free_port());
    let schemas = format!("{}-schemas", spec.prefix);
    let w = spec.worker_with(&dir, &[("schema.registry.listeners", &registry), ("schema.registry.topic", &schemas)]);
    wait_healthy(&w);
    let subject = format!("{registry}/subjects/{}-value/versions", unique("dist"));
    let (code, body) = wait_for(Duration::from_secs(30), "the registry of a distributed worker", || {
        http_request(&subject, "POST", Some(r#"{"schema": "\"string\""}"#), &[]).ok()
    });
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"id\""), "{body}");
    let (name, topic) = (unique("gen"), unique("dist-rest-topic"));
    create(&w, datagen(&name, &topic, 2, 100));
    wait_state(&w, &name, "RUNNING", 2);
    assert_eq!(write(&w, "PUT", &format!("/connectors/{name}/pause"), None).0, 202);
    wait_state(&w, &name, "PAUSED", 2);
    assert_eq!(write(&w, "PUT", &format!("/connectors/{name}/resume"), None).0, 202);
    wait_state(&w, &name, "RUNNING", 2);
    assert_eq!(write(&w, "POST", &format!("/connectors/{name}/tasks/1/restart"), None).0, 204);
    assert_eq!(write(&w, "POST", &format!("/connectors/{name}/restart"), None).0, 204);
    wait_state(&w, &name, "RUNNING", 2);

    // Offsets: written to the offset topic, altered only when STOPPED.
    wait_for(Duration::from_secs(30), "committed source offsets", || {
        let (_, o) = w.get(&format!("/connectors/{name}/offsets"))?;
        (o["offsets"].as_array()?.len() == 2).then_some(())
    });
    let (code, err) =
        write(&w, "PATCH", &format!("/connectors/{name}/offsets"), Some(json!({"offsets": [{"partition": {"task": 0, "tasks": 2}, "offset": {"next": 5}}]})));
    assert_eq!(code, 400, "{err}");
    assert_eq!(write(&w, "PUT", &format!("/connectors/{name}/stop"), None).0, 202);
    wait_for(Duration::from_secs(30), "STOPPED with no tasks", || {
        let (_, s) = w.get(&format!("/connectors/{name}/status"))?;
        (s["connector"]["state"] == "STOPPED" && s["tasks"] == json!([])).then_some(())
    });
    let (_, offsets) = w.json("GET", &format!("/connectors/{name}/offsets"), None);
    assert!(offsets["offsets"].as_array().is_some_and(|o| o.iter().any(|o| o["partition"] == json!({"task": 0, "tasks": 2}))), "{offsets}");
    let (code, msg) =
        write(&w, "PATCH", &format!("/connectors/{name}/offsets"), Some(json!({"offsets": [{"partition": {"task": 0, "tasks": 2}, "offset": {"next": 5}}]})));
    assert_eq!(code, 200, "{msg}");
    let (_, offsets) = w.json("GET", &format!("/connectors/{name}/offsets"), None);
    assert!(offsets["offsets"].as_array().is_some_and(|o| o.contains(&json!({"partition": {"task": 0, "tasks": 2}, "offset": {"next": 5}}))), "{offsets}");
    assert_eq!(write(&w, "PUT", &format!("/connectors/{name}/resume"), None).0, 202);
    wait_state(&w, &name, "RUNNING", 2);

    // Created paused; duplicates are refused; deletes are final.
    let paused = unique("paused");
    let mut body = datagen(&paused, &topic, 1, 10);
    body["initial_state"] = json!("PAUSED");
    create(&w, body.clone());
    wait_state(&w, &paused, "PAUSED", 1);
    wait_for(Duration::from_secs(30), "409 for a duplicate", || {
        let (code, err) = w.json("POST", "/connectors", Some(body.clone()));
        assert_eq!(code, 409, "{err}");
        err["message"].as_str()?.contains("already exists").then_some(())
    });
    for n in [&name, &paused] {
        assert_eq!(write(&w, "DELETE", &format!("/connectors/{n}"), None).0, 204);
    }
    assert_eq!(w.json("GET", &format!("/connectors/{name}"), None).0, 404);
    assert_eq!(w.json("GET", "/connectors", None).1, json!([]));
}

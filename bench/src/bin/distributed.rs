//! Distributed mode: failover and rebalance cost of a `sluice distributed` cluster.
//!
//! 1. three workers (scheduled.rebalance.max.delay.ms=0, session.timeout.ms=6000) run a datagen
//!    connector with 6 tasks (2 per worker);
//! 2. `kill -9` one worker: time until all 6 tasks are RUNNING on the survivors, against the
//!    floor any group protocol has (the session timeout that detects the crash);
//! 3. a fourth worker joins: how many tasks moved and how many task stops happened on the
//!    workers, against an eager protocol, which stops every task on every rebalance.
//!
//! Usage: bench/run distributed

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use sluice_bench::{Properties, Worker, bench_dir, env, free_port, print_text_table, rest, unique, wait_until};

const SESSION_MS: u64 = 6000;
const TASKS: usize = 6;

/// A distributed worker this bench started, and its REST port.
struct Proc {
    worker: Worker,
    port: u16,
}

fn start(dir: &Path, group: &str) -> anyhow::Result<Proc> {
    let port = free_port()?;
    let cfg = Properties::new()
        .set("bootstrap.servers", env("SLUICE_BOOTSTRAP_SERVERS"))
        .set("group.id", group)
        .set("config.storage.topic", format!("{group}-configs"))
        .set("offset.storage.topic", format!("{group}-offsets"))
        .set("status.storage.topic", format!("{group}-status"))
        .set("config.storage.replication.factor", 1)
        .set("offset.storage.replication.factor", 1)
        .set("status.storage.replication.factor", 1)
        .set("listeners", format!("http://127.0.0.1:{port}"))
        .set("session.timeout.ms", SESSION_MS)
        .set("heartbeat.interval.ms", 1000)
        .set("scheduled.rebalance.max.delay.ms", 0)
        .set("value.converter.schemas.enable", "false")
        .write(&dir.join(format!("worker-{port}.properties")))?;
    let worker = Worker::start("distributed", dir, &[&cfg], &format!("worker-{port}.log"), &[("RUST_LOG", "info"), ("NO_COLOR", "1")])?;
    Ok(Proc { worker, port })
}

/// task → worker id when every task is RUNNING.
fn owners(port: u16, name: &str) -> Option<BTreeMap<u64, String>> {
    let (_, s) = rest(port, "GET", &format!("/connectors/{name}/status"), None)?;
    let tasks = s["tasks"].as_array()?;
    let running: BTreeMap<u64, String> =
        tasks.iter().filter(|t| t["state"] == "RUNNING").filter_map(|t| Some((t["id"].as_u64()?, t["worker_id"].as_str()?.to_string()))).collect();
    (running.len() == TASKS && tasks.len() == TASKS).then_some(running)
}

fn spread(o: &BTreeMap<u64, String>) -> Vec<usize> {
    let mut per: BTreeMap<&String, usize> = BTreeMap::new();
    for w in o.values() {
        *per.entry(w).or_default() += 1;
    }
    per.into_values().collect()
}

fn stops(p: &Proc) -> usize {
    std::fs::read_to_string(p.worker.log()).unwrap_or_default().lines().filter(|l| l.contains("source task stopped")).count()
}

fn main() -> anyhow::Result<()> {
    let dir = bench_dir("distributed")?;
    let group = unique("bench-dist");
    let mut workers: Vec<Proc> = (0..3).map(|_| start(&dir, &group)).collect::<anyhow::Result<_>>()?;
    for w in &workers {
        wait_until(Duration::from_secs(60), "a healthy worker", || matches!(rest(w.port, "GET", "/health", None), Some((200, _))).then_some(()))?;
    }
    let name = unique("gen");
    let body = json!({"name": name, "config": {"connector.class": "DatagenConnector", "tasks.max": TASKS.to_string(),
        "topic": unique("bench-dist"), "max.records": "-1", "records.per.second": "50",
        "topic.creation.default.replication.factor": "1", "topic.creation.default.partitions": "3"}});
    wait_until(Duration::from_secs(60), "the connector created", || {
        matches!(rest(workers[0].port, "POST", "/connectors", Some(&body)), Some((201, _))).then_some(())
    })?;
    wait_until(Duration::from_secs(90), "2 tasks on each worker", || owners(workers[0].port, &name).filter(|o| spread(o) == vec![2, 2, 2]))?;

    let victim = workers.pop().context("no worker")?;
    let victim_id = format!("127.0.0.1:{}", victim.port);
    let killed = Instant::now();
    victim.worker.kill(); // SIGKILL: the crash of the bench's name
    wait_until(Duration::from_secs(90), "the killed worker's tasks RUNNING elsewhere", || {
        owners(workers[0].port, &name).filter(|o| !o.values().any(|w| *w == victim_id))
    })?;
    let failover = killed.elapsed();
    let survivor_stops_after_kill: usize = workers.iter().map(stops).sum();

    let before = owners(workers[0].port, &name).context("status")?;
    let stops_before: usize = workers.iter().map(stops).sum();
    workers.push(start(&dir, &group)?);
    let joined_at = Instant::now();
    let after = wait_until(Duration::from_secs(90), "2/2/2 after the join", || owners(workers[0].port, &name).filter(|o| spread(o) == vec![2, 2, 2]))?;
    let join_time = joined_at.elapsed();
    let moved = after.iter().filter(|(t, w)| before.get(*t) != Some(*w)).count();
    let join_stops = workers.iter().map(stops).sum::<usize>() - stops_before;

    let secs = |d: Duration| format!("{:.1}s", d.as_secs_f64());
    let row = |m: &str, sluice: String, baseline: String| vec![m.to_string(), sluice, baseline];
    print_text_table(
        &format!("Distributed mode: 3 workers, 1 datagen connector with {TASKS} tasks, session.timeout.ms={SESSION_MS}, scheduled.rebalance.max.delay.ms=0"),
        &["measure", "sluice", "baseline"],
        &[
            row("kill -9 → its 2 tasks RUNNING on the survivors", secs(failover), secs(Duration::from_millis(SESSION_MS))),
            row("task stops on the survivors during the failover", survivor_stops_after_kill.to_string(), format!("{} (eager)", TASKS - 2)),
            row("4th worker joins → 2/2/2 RUNNING", secs(join_time), "-".into()),
            row("tasks moved by the join (minimal: 2)", moved.to_string(), "-".into()),
            row("task stops on the workers during the join", join_stops.to_string(), format!("{TASKS} (eager)")),
            row("task stops of tasks that did not move (target 0)", join_stops.saturating_sub(moved).to_string(), format!("{} (eager)", TASKS - moved)),
        ],
    );
    println!("(baseline of the failover: the session timeout, the earliest any group protocol detects the crash)");
    Ok(())
}

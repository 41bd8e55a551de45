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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sluice_bench::{env, sluice_bin, unique};

const SESSION_MS: u64 = 6000;
const TASKS: usize = 6;

struct Proc {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start(dir: &Path, group: &str) -> anyhow::Result<Proc> {
    let port = free_port()?;
    let cfg = dir.join(format!("worker-{port}.properties"));
    let props = [
        ("bootstrap.servers", env("SLUICE_BOOTSTRAP_SERVERS")),
        ("group.id", group.to_string()),
        ("config.storage.topic", format!("{group}-configs")),
        ("offset.storage.topic", format!("{group}-offsets")),
        ("status.storage.topic", format!("{group}-status")),
        ("config.storage.replication.factor", "1".into()),
        ("offset.storage.replication.factor", "1".into()),
        ("status.storage.replication.factor", "1".into()),
        ("listeners", format!("http://127.0.0.1:{port}")),
        ("session.timeout.ms", SESSION_MS.to_string()),
        ("heartbeat.interval.ms", "1000".into()),
        ("scheduled.rebalance.max.delay.ms", "0".into()),
        ("value.converter.schemas.enable", "false".into()),
    ];
    std::fs::write(&cfg, props.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>())?;
    let log = dir.join(format!("worker-{port}.log"));
    let out = std::fs::File::create(&log)?;
    let child = Command::new(sluice_bin())
        .arg("distributed")
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()
        .context("spawn sluice")?;
    Ok(Proc { child, port, log })
}

fn http(port: u16, method: &str, path: &str, body: Option<Value>) -> Option<(u16, Value)> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().ok()?;
    let mut req = client.request(reqwest::Method::from_bytes(method.as_bytes()).ok()?, format!("http://127.0.0.1:{port}{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().ok()?;
    let code = resp.status().as_u16();
    Some((code, resp.json().unwrap_or(Value::Null)))
}

fn wait<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// task → worker id when every task is RUNNING.
fn owners(port: u16, name: &str) -> Option<BTreeMap<u64, String>> {
    let (_, s) = http(port, "GET", &format!("/connectors/{name}/status"), None)?;
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
    std::fs::read_to_string(&p.log).unwrap_or_default().lines().filter(|l| l.contains("source task stopped")).count()
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(unique("sluice-bench-distributed"));
    std::fs::create_dir_all(&dir)?;
    let group = unique("bench-dist");
    let mut workers: Vec<Proc> = (0..3).map(|_| start(&dir, &group)).collect::<anyhow::Result<_>>()?;
    for w in &workers {
        wait(Duration::from_secs(60), "a healthy worker", || matches!(http(w.port, "GET", "/health", None), Some((200, _))).then_some(()))?;
    }
    let name = unique("gen");
    let body = json!({"name": name, "config": {"connector.class": "DatagenConnector", "tasks.max": TASKS.to_string(),
        "topic": unique("bench-dist"), "max.records": "-1", "records.per.second": "50",
        "topic.creation.default.replication.factor": "1", "topic.creation.default.partitions": "3"}});
    wait(Duration::from_secs(60), "the connector created", || {
        matches!(http(workers[0].port, "POST", "/connectors", Some(body.clone())), Some((201, _))).then_some(())
    })?;
    wait(Duration::from_secs(90), "2 tasks on each worker", || owners(workers[0].port, &name).filter(|o| spread(o) == vec![2, 2, 2]))?;

    let victim = workers.pop().context("no worker")?;
    let victim_id = format!("127.0.0.1:{}", victim.port);
    let killed = Instant::now();
    drop(victim);
    wait(Duration::from_secs(90), "the killed worker's tasks RUNNING elsewhere", || {
        owners(workers[0].port, &name).filter(|o| !o.values().any(|w| *w == victim_id))
    })?;
    let failover = killed.elapsed();
    let survivor_stops_after_kill: usize = workers.iter().map(stops).sum();

    let before = owners(workers[0].port, &name).context("status")?;
    let stops_before: usize = workers.iter().map(stops).sum();
    workers.push(start(&dir, &group)?);
    let joined_at = Instant::now();
    let after = wait(Duration::from_secs(90), "2/2/2 after the join", || owners(workers[0].port, &name).filter(|o| spread(o) == vec![2, 2, 2]))?;
    let join_time = joined_at.elapsed();
    let moved = after.iter().filter(|(t, w)| before.get(*t) != Some(*w)).count();
    let join_stops = workers.iter().map(stops).sum::<usize>() - stops_before;

    println!("\nDistributed mode: 3 workers, 1 datagen connector with {TASKS} tasks, session.timeout.ms={SESSION_MS}, scheduled.rebalance.max.delay.ms=0");
    println!("{:<58} {:>12} {:>22}", "measure", "sluice", "baseline");
    println!("{:<58} {:>11.1}s {:>21.1}s", "kill -9 → its 2 tasks RUNNING on the survivors", failover.as_secs_f64(), SESSION_MS as f64 / 1000.0);
    println!("{:<58} {:>12} {:>22}", "task stops on the survivors during the failover", survivor_stops_after_kill, format!("{} (eager)", TASKS - 2));
    println!("{:<58} {:>11.1}s {:>22}", "4th worker joins → 2/2/2 RUNNING", join_time.as_secs_f64(), "-");
    println!("{:<58} {:>12} {:>22}", "tasks moved by the join (minimal: 2)", moved, "-");
    println!("{:<58} {:>12} {:>22}", "task stops on the workers during the join", join_stops, format!("{TASKS} (eager)"));
    println!(
        "{:<58} {:>12} {:>22}",
        "task stops of tasks that did not move (target 0)",
        join_stops.saturating_sub(moved),
        format!("{} (eager)", TASKS - moved)
    );
    println!("(baseline of the failover: the session timeout, the earliest any group protocol detects the crash)");
    Ok(())
}

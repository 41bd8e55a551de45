//! What every end-to-end test needs: the services' addresses (from `dev/stack env`; a missing
//! one fails the test loudly), unique names, a `sluice` worker process to start, kill and
//! restart, and polling with a deadline.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A service address from the environment; panics with what to do when it is missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the end-to-end tests need the real services. Run them with `dev/test`, or `dev/stack up && eval \"$(dev/stack env)\"` first."
        )
    })
}

pub fn bootstrap() -> String {
    env("SLUICE_BOOTSTRAP_SERVERS")
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{}-{nanos:x}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("sluice-e2e").join(unique(name));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The `sluice` binary built by `dev/test` (SLUICE_BIN), or the one next to this test binary.
pub fn sluice_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SLUICE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let candidate = exe.parent().and_then(Path::parent).map(|d| d.join("sluice")).expect("target dir");
    assert!(candidate.exists(), "sluice binary not found at {}: run `cargo build --bin sluice` (dev/test does)", candidate.display());
    candidate
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Writes a properties file.
pub fn write_props(path: &Path, props: &BTreeMap<String, String>) {
    let mut f = std::fs::File::create(path).expect("create properties file");
    for (k, v) in props {
        writeln!(f, "{k}={v}").expect("write properties");
    }
}

pub fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` with `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A standalone worker process with its config files in `dir`.
pub struct Worker {
    pub dir: PathBuf,
    pub rest_port: u16,
    worker_file: PathBuf,
    connector_files: Vec<PathBuf>,
    child: Option<Child>,
    runs: u32,
    /// `standalone` or `distributed`.
    mode: &'static str,
    /// Extra environment variables of the process.
    pub env: Vec<(String, String)>,
}

/// Worker properties for a test: the real broker, a quick offset flush, the REST port.
pub fn worker_props(dir: &Path, rest_port: u16) -> BTreeMap<String, String> {
    props(&[
        ("bootstrap.servers", &bootstrap()),
        ("offset.storage.file.filename", &dir.join("offsets.json").display().to_string()),
        ("offset.flush.interval.ms", "500"),
        ("listeners", &format!("http://127.0.0.1:{rest_port}")),
        ("key.converter", "org.apache.kafka.connect.storage.StringConverter"),
        ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
        ("value.converter.schemas.enable", "false"),
        // The test broker delays a new group's first join by half the session timeout.
        ("consumer.session.timeout.ms", "6000"),
        ("consumer.heartbeat.interval.ms", "1000"),
        // The tests' TestSinkConnector is offered only when asked for.
        ("sluice.test.plugins.enable", "true"),
    ])
}

impl Worker {
    /// A worker for config files already in `dir` (paths relative to it work).
    pub fn from_files(dir: &Path, rest_port: u16, worker_file: &str, connector_files: &[&str]) -> Worker {
        Worker {
            dir: dir.to_path_buf(),
            rest_port,
            worker_file: PathBuf::from(worker_file),
            connector_files: connector_files.iter().map(PathBuf::from).collect(),
            child: None,
            runs: 0,
            mode: "standalone",
            env: Vec::new(),
        }
    }

    /// Writes the configs; call [`Worker::start`] to run it.
    pub fn new(dir: &Path, worker: BTreeMap<String, String>, connectors: &[BTreeMap<String, String>]) -> Worker {
        let rest_port = worker.get("listeners").and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse().ok()).unwrap_or(8083);
        let worker_file = dir.join("worker.properties");
        write_props(&worker_file, &worker);
        let connector_files = connectors
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let f = dir.join(format!("connector-{i}.properties"));
                write_props(&f, c);
                f
            })
            .collect();
        Worker { dir: dir.to_path_buf(), rest_port, worker_file, connector_files, child: None, runs: 0, mode: "standalone", env: Vec::new() }
    }

    /// A `sluice distributed` worker; its config is written to `dir/worker.properties`.
    pub fn distributed(dir: &Path, worker: BTreeMap<String, String>) -> Worker {
        let mut w = Worker::new(dir, worker, &[]);
        w.mode = "distributed";
        w
    }

    /// Starts (or restarts) the process; output goes to `worker-N.log` in the test's dir.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "worker already running");
        self.runs += 1;
        let log = std::fs::File::create(self.dir.join(format!("worker-{}.log", self.runs))).expect("log file");
        let child = Command::new(sluice_bin())
            .arg(self.mode)
            .arg(&self.worker_file)
            .args(&self.connector_files)
            .current_dir(&self.dir)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(log.try_clone().expect("log clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn sluice");
        self.child = Some(child);
    }

    /// The process id of the running worker.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9`: no shutdown hooks, no offset flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("worker did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The text of the current run's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("worker-{}.log", self.runs))).unwrap_or_default()
    }

    /// GET a REST path; returns (status, body) when the body is JSON.
    pub fn get(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        let (code, text) = self.http("GET", path, None).ok()?;
        Some((code, serde_json::from_str(&text).ok()?))
    }

    /// Any request with an optional raw body; returns (status, body text).
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String), String> {
        http_request(&format!("http://127.0.0.1:{}{path}", self.rest_port), method, body, &[])
    }

    /// A request whose answer must be JSON; panics with the body otherwise.
    pub fn json(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let text = body.map(|b| b.to_string());
        let (code, resp) = self.http(method, path, text.as_deref()).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if resp.is_empty() {
            return (code, serde_json::Value::Null);
        }
        (code, serde_json::from_str(&resp).unwrap_or_else(|e| panic!("{method} {path} answered {code} with non-JSON ({e}): {resp}")))
    }

    /// Waits until every task of `connector` is RUNNING.
    pub fn wait_running(&self, connector: &str, tasks: usize) {
        self.wait_running_within(connector, tasks, Duration::from_secs(60));
    }

    /// [`Worker::wait_running`] with a longer wait, for workers whose start compiles large plugins.
    pub fn wait_running_within(&self, connector: &str, tasks: usize, timeout: Duration) {
        wait_for(timeout, &format!("{connector} to run {tasks} tasks\n{}", self.log()), || {
            let (code, body) = self.get(&format!("/connectors/{connector}/status"))?;
            let running = body["tasks"].as_array()?.iter().filter(|t| t["state"] == "RUNNING").count();
            (code == 200 && body["connector"]["state"] == "RUNNING" && running == tasks).then_some(())
        });
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            // The test failed: show the end of the worker's log, so a CI failure explains itself.
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!("---- last {} lines of {} ----", tail.len(), self.dir.join(format!("worker-{}.log", self.runs)).display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Creates a topic on the real broker.
pub fn create_topic(name: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<_> = rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let res = rt.block_on(admin.create_topics(&[NewTopic::new(name, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())).expect("create topic");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
}

/// One HTTP request; `headers` are extra (name, value) pairs. Returns (status, body text).
pub fn http_request(url: &str, method: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Result<(u16, String), String> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string())?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = client.request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b.to_string());
    }
    let resp = req.send().map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    Ok((code, resp.text().map_err(|e| e.to_string())?))
}

/// Runs `sluice` with `args` to completion; returns (exit code, stderr).
pub fn run_sluice(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(sluice_bin()).args(args).current_dir(dir).output().expect("run sluice");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Lines of a text file (empty if it does not exist yet).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).map(|t| t.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// Reads partition 0 of `topic` from the start until `n` records arrived (or panics).
pub fn consume(topic: &str, n: usize) -> Vec<rdkafka::message::OwnedMessage> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("reader"))
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning).expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} records in {topic}", out.len());
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.detach());
        }
    }
    out
}

/// The last value of header `key`, as text.
pub fn header(m: &rdkafka::message::OwnedMessage, key: &str) -> Option<String> {
    use rdkafka::message::{Headers, Message};
    let hs = m.headers()?;
    hs.iter().filter(|h| h.key == key).last().and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The `seq` of a JSON line (datagen's records); `None` for a line that is not one, such as a
/// last line still half written.
pub fn seq_of(line: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(line).ok()?["seq"].as_u64()
}

/// `[3, 4, 5, 9]` as "3..=5 (3), 9..=9 (1)".
pub fn ranges(v: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(format!("{}..={} ({})", v[i], v[j], j - i + 1));
        i = j + 1;
    }
    out.join(", ")
}

/// Every value in every partition of `topic`, read from the start to the end (30 s at most).
pub fn topic_values(topic: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let consumer: BaseConsumer =
        rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap()).set("group.id", unique("reader")).create().expect("consumer");
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("topic metadata");
    let partitions: Vec<i32> = metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    let mut tpl = rdkafka::TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in partitions {
        let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("watermarks");
        ends.insert(p, high);
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut at: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ends.iter().any(|(p, high)| at.get(p).map_or(0, |o| o + 1) < *high) && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            at.insert(m.partition(), m.offset());
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out
}

/// Where records missing from a sink are: the ranges of their `seq`, and how many of them
/// `topic` holds (produced but not delivered) — the rest were never produced.
pub fn missing_report(topic: &str, missing: &[u64]) -> String {
    let in_topic: std::collections::HashSet<u64> = topic_values(topic).iter().filter_map(|v| seq_of(v)).collect();
    let produced = missing.iter().filter(|s| in_topic.contains(s)).count();
    format!("{} missing ({produced} of them in {topic}, which holds {} distinct): {}", missing.len(), in_topic.len(), ranges(missing))
}

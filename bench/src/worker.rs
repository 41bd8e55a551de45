//! Running the release `sluice` binary from a bench: free ports, `.properties` files, a worker
//! process started in its own directory and stopped by its PID, its REST API, and measuring
//! the window in which it does the work.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::measure::{CpuMeter, CpuUse, peak_rss_mib};
use crate::{sluice_bin, unique};

/// A TCP port on 127.0.0.1 free at the time of the call.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh directory under the system's temp dir, `prefix` in its name.
pub fn bench_dir(prefix: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("sluice-bench").join(unique(prefix));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// The keys of a `.properties` file, in order; setting a key again replaces its value.
#[derive(Clone, Debug, Default)]
pub struct Properties(Vec<(String, String)>);

impl Properties {
    pub fn new() -> Properties {
        Properties::default()
    }

    pub fn set(mut self, key: impl Display, value: impl Display) -> Properties {
        let (key, value) = (key.to_string(), value.to_string());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(kv) => kv.1 = value,
            None => self.0.push((key, value)),
        }
        self
    }

    pub fn extend<K: Display, V: Display>(self, pairs: impl IntoIterator<Item = (K, V)>) -> Properties {
        pairs.into_iter().fold(self, |p, (k, v)| p.set(k, v))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Writes the file; returns its path.
    pub fn write(&self, path: &Path) -> Result<PathBuf> {
        let text: String = self.0.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
        Ok(path.to_path_buf())
    }
}

/// What every standalone worker of a bench needs: the broker, an offsets file in `dir` and a
/// REST listener on a free port.
pub fn standalone_worker(dir: &Path, bootstrap: &str) -> Result<Properties> {
    Ok(Properties::new()
        .set("bootstrap.servers", bootstrap)
        .set("offset.storage.file.filename", dir.join("offsets.json").display())
        .set("listeners", format!("http://127.0.0.1:{}", free_port()?)))
}

/// A `sluice` process this bench started, its output in a log file. Dropping it kills it.
pub struct Worker {
    child: Child,
    log: PathBuf,
    started: Instant,
}

impl Worker {
    /// Starts `sluice MODE ARGS...` in `dir` (relative paths in the args and the properties
    /// resolve there), stdout and stderr to `dir/LOG_NAME`.
    pub fn start(mode: &str, dir: &Path, args: &[&Path], log_name: &str, env: &[(&str, &str)]) -> Result<Worker> {
        let log = dir.join(log_name);
        let out = std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let started = Instant::now();
        let child = Command::new(sluice_bin())
            .arg(mode)
            .args(args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .spawn()
            .context("spawn sluice")?;
        Ok(Worker { child, log, started })
    }

    /// `sluice standalone WORKER CONNECTOR...` with the log in `dir/worker.log`.
    pub fn standalone(dir: &Path, worker: &Path, connectors: &[&Path]) -> Result<Worker> {
        let args: Vec<&Path> = std::iter::once(worker).chain(connectors.iter().copied()).collect();
        Worker::start("standalone", dir, &args, "worker.log", &[])
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn log(&self) -> &Path {
        &self.log
    }
    /// Time since the process was started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
    pub fn peak_rss_mib(&self) -> Option<f64> {
        peak_rss_mib(self.pid())
    }

    /// An error if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("the worker exited ({status}); see {}", self.log.display()),
            None => Ok(()),
        }
    }

    /// Stops the process with SIGTERM (SIGKILL if it has not exited 10 s later); returns its
    /// peak RSS read just before.
    pub fn stop(mut self) -> Option<f64> {
        let rss = self.peak_rss_mib();
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        rss
    }

    /// Kills the process (SIGKILL) and waits for it; returns its peak RSS read just before.
    pub fn kill(mut self) -> Option<f64> {
        let rss = self.peak_rss_mib();
        let _ = self.child.kill();
        let _ = self.child.wait();
        rss
    }

    /// Polls `progress` (records done so far) until it reaches `target` or `timeout` passes (an
    /// error of `progress` ends the run).
    /// The measured window runs from the first poll that saw progress to the one that saw the
    /// target, so start-up and the consumer-group join (seconds on the test broker) are not in
    /// it; the worker's CPU and the machine's are metered over the same window.
    pub fn measure(&mut self, target: u64, timeout: Duration, poll: Poll, mut progress: impl FnMut() -> Result<u64>) -> Result<Window> {
        let deadline = Instant::now() + timeout;
        let mut first: Option<(Instant, u64, CpuMeter)> = None;
        loop {
            let done = progress()?;
            if done > 0 && first.is_none() {
                first = Some((Instant::now(), done, CpuMeter::start(self.pid())));
            }
            if done >= target {
                break;
            }
            if Instant::now() > deadline {
                bail!("the worker did {done} of {target} in {timeout:?}; see {}", self.log.display());
            }
            self.check_running()?;
            std::thread::sleep(if first.is_some() { poll.after_first } else { poll.before_first });
        }
        let total = self.uptime();
        let (steady, at_first, cpu) = match first {
            Some((at, done, meter)) => {
                let steady = at.elapsed();
                (steady, done, meter.read(steady))
            }
            None => (total, 0, None),
        };
        Ok(Window { total, steady, at_first, cpu, peak_rss_mib: self.peak_rss_mib() })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// How often [`Worker::measure`] polls, before the first progress and after it.
#[derive(Clone, Copy, Debug)]
pub struct Poll {
    pub before_first: Duration,
    pub after_first: Duration,
}

impl Poll {
    pub fn every(ms: u64) -> Poll {
        Poll { before_first: Duration::from_millis(ms), after_first: Duration::from_millis(ms) }
    }
}

/// What [`Worker::measure`] saw.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// From the process start to the target.
    pub total: Duration,
    /// From the first progress seen to the target.
    pub steady: Duration,
    /// The progress the first poll that saw any reported (done before the window opened).
    pub at_first: u64,
    /// The worker's and the machine's CPU over `steady`.
    pub cpu: Option<CpuUse>,
    pub peak_rss_mib: Option<f64>,
}

/// Calls `f` every 50 ms until it gives a value, for at most `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T> {
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

/// A JSON request to a worker's REST API on 127.0.0.1:`port`: (status, body, `null` if not JSON).
pub fn rest(port: u16, method: &str, path: &str, body: Option<&serde_json::Value>) -> Option<(u16, serde_json::Value)> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().ok()?;
    let mut req = client.request(reqwest::Method::from_bytes(method.as_bytes()).ok()?, format!("http://127.0.0.1:{port}{path}"));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().ok()?;
    let code = resp.status().as_u16();
    Some((code, resp.json().unwrap_or(serde_json::Value::Null)))
}

/// The body of a GET of `url`, if it answered.
pub fn get_text(url: &str) -> Option<String> {
    reqwest::blocking::get(url).and_then(|r| r.text()).ok()
}

//! Shared helpers of the benchmarks: environment, the `sluice` binary, peak RSS of a process,
//! and the result table.

pub mod sink;

use std::path::PathBuf;
use std::time::Duration;

/// A service address from `dev/stack env` (bench/run sets them).
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run benchmarks with bench/run"))
}

/// The release `sluice` binary bench/run built.
pub fn sluice_bin() -> PathBuf {
    PathBuf::from(env("SLUICE_BIN"))
}

/// Peak resident set size (VmHWM) of a running process, in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) a running process has used so far, in seconds (clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU time the whole machine has spent busy so far (all cores; not idle, not waiting on I/O), in seconds.
fn machine_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((ticks.iter().sum::<f64>() - idle) / 100.0)
}

/// The CPU a process (and the whole machine) spends over a measured window: started when the
/// window opens, reported (while the process still runs) when it closes.
pub struct CpuMeter {
    pid: u32,
    process: Option<f64>,
    machine: Option<f64>,
}

impl CpuMeter {
    pub fn start(pid: u32) -> CpuMeter {
        CpuMeter { pid, process: cpu_seconds(pid), machine: machine_cpu_seconds() }
    }

    /// Prints `label: CPU x µs/record, y cores busy (the machine: z)` for `records` in `elapsed`.
    pub fn report(&self, label: &str, records: u64, elapsed: Duration) {
        let Some(cpu) = cpu_seconds(self.pid).zip(self.process).map(|(end, start)| end - start) else { return };
        let secs = elapsed.as_secs_f64();
        let machine = machine_cpu_seconds().zip(self.machine).map_or(String::new(), |(end, start)| format!(" (the machine: {:.2})", (end - start) / secs));
        println!("  {label}: CPU {:.2} µs/record, {:.2} cores busy{machine}", cpu * 1e6 / records.max(1) as f64, cpu / secs);
    }
}

/// Topics a benchmark made, deleted when it ends (also on an error). The test broker keeps
/// every record in memory until its topic is deleted: a session of bench runs otherwise piles
/// up gigabytes in it, and later runs measure a slower machine.
pub struct BenchTopics {
    bootstrap: String,
    names: Vec<String>,
}

impl BenchTopics {
    pub fn new(bootstrap: &str) -> BenchTopics {
        BenchTopics { bootstrap: bootstrap.to_string(), names: Vec::new() }
    }

    /// A [`unique`] topic name, deleted with the others at the end.
    pub fn name(&mut self, prefix: &str) -> String {
        let name = unique(prefix);
        self.names.push(name.clone());
        name
    }
}

impl Drop for BenchTopics {
    fn drop(&mut self) {
        use rdkafka::admin::{AdminClient, AdminOptions};
        use rdkafka::client::DefaultClientContext;
        let (bootstrap, names) = (self.bootstrap.clone(), std::mem::take(&mut self.names));
        // On a thread of its own: some benches drop this inside their tokio runtime.
        let deleted = std::thread::spawn(move || -> anyhow::Result<()> {
            let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new().set("bootstrap.servers", &bootstrap).create()?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            for r in rt.block_on(admin.delete_topics(&names, &AdminOptions::new()))? {
                r.map_err(|(t, e)| anyhow::anyhow!("{t}: {e}"))?;
            }
            Ok(())
        })
        .join();
        match deleted {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not delete the bench's topics: {e}"),
            Err(_) => eprintln!("warning: deleting the bench's topics panicked"),
        }
    }
}

/// A name no earlier run used.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

/// One row of a result table.
pub struct Row {
    pub name: String,
    pub records: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub peak_rss_mib: Option<f64>,
}

impl Row {
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / 1_048_576.0 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Prints rows as a table; each row's ratio is against `baseline` (its index in `rows`).
pub fn print_table(title: &str, rows: &[Row], baseline_of: impl Fn(usize) -> Option<usize>) {
    println!("\n{title}");
    println!("{:<44} {:>10} {:>12} {:>9} {:>10} {:>8}", "pipeline", "records", "records/s", "MiB/s", "peak RSS", "ratio");
    for (i, r) in rows.iter().enumerate() {
        let ratio = baseline_of(i).map(|b| r.records_per_sec() / rows[b].records_per_sec());
        println!(
            "{:<44} {:>10} {:>12.0} {:>9.1} {:>10} {:>8}",
            r.name,
            r.records,
            r.records_per_sec(),
            r.mib_per_sec(),
            r.peak_rss_mib.map(|m| format!("{m:.0} MiB")).unwrap_or_else(|| "-".into()),
            ratio.map(|x| format!("{x:.2}")).unwrap_or_else(|| "baseline".into()),
        );
    }
}

//! The bench harness every `bench/src/bin` binary uses:
//!
//! - [`measure`]: CPU per record of a process and machine cores busy over a window
//!   ([`CpuMeter`]), peak RSS, result rows and the one table printer ([`print_table`]),
//!   medians and alternating (baseline, candidate) pairs of runs ([`Pairs`]);
//! - [`worker`]: free ports, `.properties` files, a `sluice` process started by the bench and
//!   stopped by its PID ([`Worker`]), the window in which it does the work
//!   ([`Worker::measure`]), its REST API;
//! - [`sink`]: the Kafka → test sink pipeline several benches share;
//! - here: the services' addresses ([`env`]), the binary bench/run built, unique names and
//!   topics deleted when a bench ends.

pub mod measure;
pub mod sink;
pub mod worker;

pub use measure::{CpuMeter, CpuUse, Pairs, Row, median, peak_rss_mib, print_table, print_text_table, run_pair};
pub use worker::{Poll, Properties, Window, Worker, bench_dir, free_port, get_text, rest, standalone_worker, wait_until};

use std::path::PathBuf;

/// A service address from `dev/stack env` (bench/run sets them).
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run benchmarks with bench/run"))
}

/// The release `sluice` binary bench/run built.
pub fn sluice_bin() -> PathBuf {
    PathBuf::from(env("SLUICE_BIN"))
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

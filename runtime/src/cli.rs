//! The `sluice` command line: `standalone`, `distributed`, `version`. It only parses the
//! arguments and dispatches: [`crate::standalone`] and [`crate::distributed`] run the workers.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{COMMIT, VERSION};

/// Sluice: a Kafka Connect–compatible connector runtime.
#[derive(Parser, Debug)]
#[command(name = "sluice", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: `text` or `json` (also SLUICE_LOG_FORMAT). Levels via RUST_LOG (default info).
    #[arg(long, global = true, env = "SLUICE_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one worker in this process, like `connect-standalone`: the connectors given as files
    /// start at once and more can be managed through Kafka Connect's REST API (`listeners`,
    /// default http://:8083); source offsets are kept in `offset.storage.file.filename`.
    /// Stops cleanly on SIGINT/SIGTERM (tasks stop, offsets flush).
    Standalone {
        /// Worker properties (Kafka Connect's keys: bootstrap.servers, key.converter, value.converter,
        /// offset.storage.file.filename, offset.flush.interval.ms, listeners, ...).
        worker: PathBuf,
        /// Connector configs: `.properties` files (Kafka's quickstart files work unchanged) or
        /// JSON (`{"name": ..., "config": {...}}` or a flat object).
        connectors: Vec<PathBuf>,
    },
    /// Run a worker that joins a cluster (`group.id`) and keeps configs, offsets and statuses in
    /// Kafka topics, like `connect-distributed`: workers with the same group.id share the
    /// connectors' tasks; any worker answers the REST API.
    Distributed {
        /// Worker properties (group.id, config.storage.topic, offset.storage.topic, status.storage.topic, ...).
        worker: PathBuf,
    },
    /// Print the version and exit.
    Version,
}

/// Sets up logging as the CLI asks.
pub fn init_logging(format: &str) {
    crate::logging::init(format);
}

/// Runs the command; the error (if any) is printed by `main`, which exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("sluice {VERSION} (commit {COMMIT})");
            Ok(())
        }
        Command::Standalone { worker, connectors } => crate::standalone::run(worker, connectors).await,
        Command::Distributed { worker } => crate::distributed::run(worker).await,
    }
}

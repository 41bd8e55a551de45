//! The `sluice` binary: parses the command line, sets up logging, runs the worker.

use clap::Parser;
use sluice_runtime::cli::{Cli, init_logging, run};

/// Records are many small allocations (values, schemas, offsets, converter buffers); under
/// glibc's allocator malloc/free took ~30% of a source task's CPU (`perf`, `bench/run standalone`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

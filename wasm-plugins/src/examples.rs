//! Builds the example plugins of `wasm-plugins/examples/` (for tests, the bench and the demo):
//! installs the `wasm32-wasip2` target with rustup if it is missing, then runs
//! `cargo build -p <example> --target wasm32-wasip2 --release` once per example (one at a
//! time, so that each gets only its own world feature of `sluice-guest`).

use std::path::PathBuf;
use std::process::Command;

/// The example crates and the `.wasm` each produces.
pub const EXAMPLES: [&str; 5] = ["mask-transform", "generator-source", "file-sink", "faulty-source", "http-sink"];

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(format!("{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr))) }
}

/// Builds the examples; returns the directory holding `mask_transform.wasm`,
/// `generator_source.wasm`, `file_sink.wasm`, `faulty_source.wasm` and `http_sink.wasm`. The build goes to
/// `$CARGO_TARGET_DIR/wasm-examples` (or `wasm-plugins/examples/target`).
pub fn build() -> Result<PathBuf, String> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/Cargo.toml");
    let target_dir = out_dir();
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output().map_err(|e| format!("cannot run rustup: {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for example in EXAMPLES {
        run(Command::new(&cargo)
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", example, "--manifest-path"])
            .arg(&manifest)
            // From the examples' directory, so that cargo reads their `.cargo/config.toml`.
            .current_dir(manifest.parent().unwrap_or(&manifest))
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"))?;
    }
    Ok(target_dir.join("wasm32-wasip2/release"))
}

/// Where the examples are built: `$CARGO_TARGET_DIR/wasm-examples`, else `examples/target`.
fn out_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d).join("wasm-examples"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/target"),
    }
}

/// The componentize-py release the Python example is built with.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Builds the Python example (`examples/python-uppercase/app.py`) into a component with
/// componentize-py, installed from PyPI into a virtualenv next to the Rust examples' build
/// (`$CARGO_TARGET_DIR/wasm-examples/componentize-py`) on first use. Returns the `.wasm` path.
pub fn build_python() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = out_dir();
    let venv = out_dir.join("componentize-py");
    let tool = venv.join("bin/componentize-py");
    if !tool.exists() {
        std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "--disable-pip-version-check", COMPONENTIZE_PY]))?;
    }
    let wasm = out_dir.join("python_uppercase.wasm");
    run(Command::new(&tool)
        .arg("-d")
        .arg(root.join("../sdk/wit"))
        .args(["-w", "transform", "componentize", "app", "-p"])
        .arg(root.join("examples/python-uppercase"))
        .arg("-o")
        .arg(&wasm)
        .env("PYTHONDONTWRITEBYTECODE", "1"))?;
    Ok(wasm)
}

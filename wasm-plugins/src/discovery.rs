//! Finding plugins: every `*.wasm` file in the worker's `plugin.path` entries (a directory is
//! searched recursively, a file is taken as is). Each is compiled (or loaded from the cache),
//! checked against the sluice:plugin worlds and asked for its `info`; a file that fails any
//! step is reported as invalid with the reason, and the worker carries on without it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::WasmRuntime;
use crate::plugin::WasmPlugin;

/// What was found at one path.
pub enum Discovered {
    Plugin(Arc<WasmPlugin>),
    Invalid { path: PathBuf, reason: String },
}

fn collect(path: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "wasm") {
            out.push(path.to_path_buf());
        }
        return;
    }
    if depth > 4 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        tracing::warn!(path = %path.display(), "plugin.path entry cannot be read; skipped");
        return;
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        collect(&child, depth + 1, out);
    }
}

/// Loads every WASM plugin under `paths` with the process-wide runtime.
pub fn discover(paths: &[PathBuf]) -> Vec<Discovered> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, 0, &mut files);
    }
    if files.is_empty() {
        return Vec::new();
    }
    let runtime = match WasmRuntime::shared() {
        Ok(r) => r,
        Err(e) => return files.into_iter().map(|path| Discovered::Invalid { path, reason: e.to_string() }).collect(),
    };
    files
        .into_iter()
        .map(|path| match WasmPlugin::load(runtime.clone(), &path) {
            Ok(p) => {
                tracing::info!(path = %path.display(), plugin = %p.name, kind = p.kind.name(), version = %p.version, cached = p.cached, load_ms = p.load_time.as_secs_f64() * 1000.0, "WASM plugin loaded");
                Discovered::Plugin(Arc::new(p))
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "invalid WASM plugin");
                Discovered::Invalid { path, reason }
            }
        })
        .collect()
}

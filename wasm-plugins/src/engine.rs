//! The wasmtime engine shared by every plugin of a worker: one [`Engine`] (Cranelift, pooling
//! allocator, epoch interruption), one epoch ticker thread, one [`Linker`] with WASI and the
//! Sluice host interface, and the on-disk cache of compiled components.
//!
//! Guest calls are CPU-bound and the host imports (log, offset) never block (outbound HTTP,
//! when granted, blocks the calling thread up to its timeouts: `http.rs`), so the engine is
//! synchronous: task calls run on tokio's blocking pool (see `instance.rs`), transforms inline.
//! The deadline of a call is counted in epoch ticks of [`TICK`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::state::HostState;

/// How often the epoch advances; the resolution of `wasm.call.timeout.ms`.
pub const TICK: Duration = Duration::from_millis(10);

/// The largest memory any instance may have; per-connector limits (`wasm.memory.max.bytes`)
/// are enforced below it by the store's limiter.
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

/// Errors setting up the engine or compiling a component.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot set up the WASM engine: {0}")]
    Setup(String),
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// The engine, linker and compiled-code cache.
pub struct WasmRuntime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
}

impl WasmRuntime {
    /// The process-wide runtime (the epoch ticker is a thread: one per process is enough).
    /// The compiled-code cache lives in `$SLUICE_WASM_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/sluice/wasm`, else `~/.cache/sluice/wasm`.
    pub fn shared() -> Result<Arc<WasmRuntime>, EngineError> {
        static SHARED: OnceLock<Result<Arc<WasmRuntime>, String>> = OnceLock::new();
        SHARED.get_or_init(|| WasmRuntime::new(default_cache_dir()).map(Arc::new).map_err(|e| e.to_string())).clone().map_err(EngineError::Setup)
    }

    /// A runtime with its own engine and ticker, caching compiled components in `cache_dir`.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<WasmRuntime, EngineError> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(500)
            .total_core_instances(2000)
            .total_memories(500)
            .total_tables(2000)
            .max_memories_per_component(4)
            .max_memory_size(MAX_MEMORY_BYTES);
        let mut config = Config::new();
        config.epoch_interruption(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool)).wasm_component_model(true);
        // Each pooled memory slot reserves 4 GiB of address space plus a 2 GiB guard (never
        // committed: 500 slots take 3 TiB of the 128 TiB a 64-bit process has), so that guest
        // loads and stores need no bounds checks; memory.grow is still capped by
        // `wasm.memory.max.bytes` (the store's limiter). `bench/run wasm`: ~10% faster guest code
        // than a 1 GiB reservation with explicit checks.
        config.memory_reservation(4 << 30).memory_guard_size(2 << 30);
        if std::env::var_os("SLUICE_WASM_PERFMAP").is_some() {
            // For `perf`: names the guest's functions in /tmp/perf-PID.map.
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| EngineError::Setup(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| EngineError::Setup(format!("{e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker).map_err(|e| EngineError::Setup(format!("{e:#}")))?;
        crate::bindings::source::sluice::plugin::host::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| EngineError::Setup(format!("{e:#}")))?;
        crate::bindings::source::sluice::plugin::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| EngineError::Setup(format!("{e:#}")))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| EngineError::Setup(e.to_string()))?;
        Ok(WasmRuntime { engine, linker, cache_dir })
    }

    /// Compiles `bytes`, or loads the compiled form from the cache (keyed by the SHA-256 of the
    /// bytes and the engine's compatibility hash). Returns the component and whether it came
    /// from the cache.
    pub fn compile(&self, bytes: &[u8]) -> Result<(Component, bool), EngineError> {
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        std::hash::Hash::hash(&self.engine.precompile_compatibility_hash(), &mut HashWriter(&mut hasher));
        let key = hex::encode(hasher.finalize());
        let cached = self.cache_dir.as_ref().map(|d| d.join(format!("{key}.cwasm")));
        if let Some(path) = &cached
            && path.exists()
        {
            // SAFETY: the file was written by `Component::serialize` of an engine with the same
            // compatibility hash (part of the name) into the worker's own cache directory.
            match unsafe { Component::deserialize_file(&self.engine, path) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable compiled-component cache entry"),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| EngineError::Compile(format!("{e:#}")))?;
        if let Some(path) = cached {
            store_in_cache(&component, &path);
        }
        Ok((component, false))
    }

    /// Reads and compiles a `.wasm` file.
    pub fn compile_file(&self, path: &Path) -> Result<(Component, bool), EngineError> {
        let bytes = std::fs::read(path).map_err(|source| EngineError::Read { path: path.to_path_buf(), source })?;
        self.compile(&bytes)
    }
}

fn store_in_cache(component: &Component, path: &Path) {
    let write = || -> Result<(), String> {
        let bytes = component.serialize().map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        // Write then rename, so a concurrent reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    };
    if let Err(e) = write() {
        tracing::warn!(path = %path.display(), error = %e, "cannot cache compiled component");
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("SLUICE_WASM_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("sluice/wasm"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sluice/wasm"))
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::hash::Hasher for HashWriter<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

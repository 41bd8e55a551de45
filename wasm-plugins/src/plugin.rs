//! A loaded plugin: the compiled component, what it says about itself (`info`), and a
//! pre-linked [`InstancePre`] from which every task or transform gets a fresh instance in
//! microseconds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sluice_sdk::{ConfigDef, ConnectResult, OffsetStorageReader};
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, types::ComponentItem};

use crate::bindings::{predicate::PredicatePre, sink::SinkPre, source::SourcePre, transform::TransformPre, types};
use crate::engine::WasmRuntime;
use crate::instance::Instance;
use crate::sandbox::{self, Sandbox};
use crate::state::HostState;

/// Which world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Source,
    Sink,
    Transform,
    Predicate,
}

impl PluginKind {
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Source => "source",
            PluginKind::Sink => "sink",
            PluginKind::Transform => "transformation",
            PluginKind::Predicate => "predicate",
        }
    }
}

/// The world-specific pre-instantiated form.
#[derive(Clone)]
pub(crate) enum Pre {
    Source(SourcePre<HostState>),
    Sink(SinkPre<HostState>),
    Transform(TransformPre<HostState>),
    Predicate(PredicatePre<HostState>),
}

/// A plugin found in `plugin.path`.
pub struct WasmPlugin {
    pub path: PathBuf,
    /// The class name users configure (`connector.class`, `transforms.X.type`).
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    /// The plugin's own keys plus the sandbox keys (`wasm.*`).
    pub config_def: ConfigDef,
    /// Whether the compiled code came from the on-disk cache.
    pub cached: bool,
    /// Time to compile (or load from cache), link and query `info`.
    pub load_time: std::time::Duration,
    pub(crate) runtime: Arc<WasmRuntime>,
    pub(crate) pre: Pre,
}

/// Which world the component's exports say it implements.
fn detect_kind(runtime: &WasmRuntime, component: &Component) -> Result<PluginKind, String> {
    let ty = component.component_type();
    let exports: Vec<String> =
        ty.exports(&runtime.engine).filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_))).map(|(n, _)| n.to_string()).collect();
    let has = |n: &str| exports.iter().any(|e| e == n);
    Ok(match () {
        _ if has("poll") => PluginKind::Source,
        _ if has("put") => PluginKind::Sink,
        _ if has("apply") => PluginKind::Transform,
        _ if has("test") => PluginKind::Predicate,
        _ => return Err(format!("exports none of the sluice:plugin worlds (source, sink, transform, predicate); it exports [{}]", exports.join(", "))),
    })
}

impl WasmPlugin {
    /// Compiles (or loads from cache) and links a component, and asks it for its `info`.
    pub fn load(runtime: Arc<WasmRuntime>, path: &Path) -> Result<WasmPlugin, String> {
        let started = Instant::now();
        let (component, cached) = runtime.compile_file(path).map_err(|e| e.to_string())?;
        let kind = detect_kind(&runtime, &component)?;
        let pre: InstancePre<HostState> =
            runtime.linker.instantiate_pre(&component).map_err(|e| format!("imports something the host does not provide: {e:#}"))?;
        let mismatch = |e: wasmtime::Error| format!("does not match the sluice:plugin/{} world: {e:#}", kind.name());
        let pre = match kind {
            PluginKind::Source => Pre::Source(SourcePre::new(pre).map_err(mismatch)?),
            PluginKind::Sink => Pre::Sink(SinkPre::new(pre).map_err(mismatch)?),
            PluginKind::Transform => Pre::Transform(TransformPre::new(pre).map_err(mismatch)?),
            PluginKind::Predicate => Pre::Predicate(PredicatePre::new(pre).map_err(mismatch)?),
        };
        let mut plugin = WasmPlugin {
            path: path.to_path_buf(),
            name: String::new(),
            version: String::new(),
            kind,
            config_def: ConfigDef::new(),
            cached,
            load_time: Default::default(),
            runtime,
            pre,
        };
        let info = plugin.info().map_err(|e| format!("info() failed: {e}"))?;
        let declared = match info.kind {
            types::PluginKind::Source => PluginKind::Source,
            types::PluginKind::Sink => PluginKind::Sink,
            types::PluginKind::Transform => PluginKind::Transform,
            types::PluginKind::Predicate => PluginKind::Predicate,
        };
        if declared != kind {
            return Err(format!("declares itself a {} but implements the {} world", declared.name(), kind.name()));
        }
        if info.name.trim().is_empty() {
            return Err("info() returned an empty name".into());
        }
        let mut def = ConfigDef::new();
        for k in info.config {
            def = def.define(sluice_wasm_abi::wire::config_key(&k.name, &k.config_type, k.default_value, &k.importance, &k.documentation));
        }
        plugin.name = info.name;
        plugin.version = info.version;
        plugin.config_def = def.merge(&sandbox::config_def());
        plugin.load_time = started.elapsed();
        Ok(plugin)
    }

    fn info(&self) -> ConnectResult<types::PluginInfo> {
        let tag = format!("{}", self.path.display());
        match &self.pre {
            Pre::Source(p) => self.instantiate(p, &Sandbox::default(), tag, None, |p, s| p.instantiate(s))?.call("info", |b, s| b.call_info(s)),
            Pre::Sink(p) => self.instantiate(p, &Sandbox::default(), tag, None, |p, s| p.instantiate(s))?.call("info", |b, s| b.call_info(s)),
            Pre::Transform(p) => self.instantiate(p, &Sandbox::default(), tag, None, |p, s| p.instantiate(s))?.call("info", |b, s| b.call_info(s)),
            Pre::Predicate(p) => self.instantiate(p, &Sandbox::default(), tag, None, |p, s| p.instantiate(s))?.call("info", |b, s| b.call_info(s)),
        }
    }

    /// A fresh instance with the grants of `sandbox`.
    pub(crate) fn instantiate<P, B>(
        &self,
        pre: &P,
        sandbox: &Sandbox,
        tag: String,
        offsets: Option<Arc<dyn OffsetStorageReader>>,
        make: impl FnOnce(&P, &mut Store<HostState>) -> wasmtime::Result<B>,
    ) -> ConnectResult<Instance<B>> {
        let (state, stderr) = HostState::new(sandbox, tag, offsets)?;
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        Instance::create(store, stderr, sandbox.call_timeout, self.name.clone(), |s| make(pre, s))
    }
}

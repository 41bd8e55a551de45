//! Logging through `tracing`, with levels that `PUT /admin/loggers/{logger}` changes at run time
//! (a reloadable `EnvFilter`). Logger names are `tracing` targets (`sluice_runtime::executor`,
//! `librdkafka`, ...); `root` is the default level.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use sluice_rest_api::LoggerLevel;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

const DEFAULT: &str = "info,librdkafka=warn,rdkafka=warn";

struct State {
    handle: reload::Handle<EnvFilter, Registry>,
    /// The directives from RUST_LOG (or the default) at start.
    base: String,
    /// Levels set through the REST API: logger → (level, set at ms).
    levels: BTreeMap<String, (String, i64)>,
}

static STATE: OnceLock<Mutex<State>> = OnceLock::new();

/// Sets up logging to stderr, as text or JSON.
pub fn init(format: &str) {
    let base = std::env::var("RUST_LOG").ok().filter(|s| EnvFilter::try_new(s).is_ok()).unwrap_or_else(|| DEFAULT.to_string());
    let (filter, handle) = reload::Layer::new(EnvFilter::new(&base));
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let result = if format.eq_ignore_ascii_case("json") { registry.with(fmt.json()).try_init() } else { registry.with(fmt).try_init() };
    if result.is_ok() {
        let _ = STATE.set(Mutex::new(State { handle, base, levels: BTreeMap::new() }));
    }
}

fn normalize(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "TRACE" => "TRACE",
        "DEBUG" => "DEBUG",
        "INFO" => "INFO",
        "WARN" => "WARN",
        "ERROR" | "FATAL" => "ERROR",
        "OFF" => "OFF",
        _ => return None,
    })
}

fn root_level(state: &State) -> String {
    if let Some((l, _)) = state.levels.get("root") {
        return l.clone();
    }
    state.base.split(',').find(|d| !d.contains('=')).and_then(normalize).unwrap_or("INFO").to_string()
}

/// Loggers with a level: `root` and those set through the API.
pub fn loggers() -> BTreeMap<String, LoggerLevel> {
    let Some(state) = STATE.get().and_then(|s| s.lock().ok()) else { return BTreeMap::new() };
    let mut out: BTreeMap<String, LoggerLevel> =
        state.levels.iter().map(|(k, (l, t))| (k.clone(), LoggerLevel { level: l.clone(), last_modified: Some(*t) })).collect();
    out.entry("root".into()).or_insert(LoggerLevel { level: root_level(&state), last_modified: None });
    out
}

/// The level that applies to `logger`: its own, the nearest parent's, or root's.
pub fn level_of(logger: &str) -> LoggerLevel {
    let Some(state) = STATE.get().and_then(|s| s.lock().ok()) else { return LoggerLevel { level: "INFO".into(), last_modified: None } };
    let mut name = logger;
    loop {
        if let Some((l, t)) = state.levels.get(name) {
            return LoggerLevel { level: l.clone(), last_modified: Some(*t) };
        }
        match name.rfind("::").or_else(|| name.rfind('.')) {
            Some(i) => name = &name[..i],
            None => return LoggerLevel { level: root_level(&state), last_modified: None },
        }
    }
}

/// Sets a logger's level; returns the affected loggers.
pub fn set_level(logger: &str, level: &str) -> Result<Vec<String>, String> {
    let level = normalize(level).ok_or_else(|| format!("Invalid log level '{level}': use one of TRACE, DEBUG, INFO, WARN, ERROR, OFF"))?;
    if logger.is_empty() || logger.contains([',', '=', ' ', '[', ']', '{', '}']) {
        return Err(format!("Invalid logger name '{logger}'"));
    }
    let state = STATE.get().ok_or("logging is not initialised")?;
    let mut state = state.lock().map_err(|_| "logging state poisoned")?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    state.levels.insert(logger.to_string(), (level.to_string(), now));
    let mut directives = vec![state.base.clone()];
    if let Some((root, _)) = state.levels.get("root") {
        directives.push(root.to_ascii_lowercase());
    }
    for (name, (l, _)) in state.levels.iter().filter(|(n, _)| n.as_str() != "root") {
        directives.push(format!("{name}={}", l.to_ascii_lowercase()));
    }
    let filter = EnvFilter::try_new(directives.join(",")).map_err(|e| format!("Invalid logger '{logger}': {e}"))?;
    state.handle.reload(filter).map_err(|e| e.to_string())?;
    tracing::info!(logger, level, "log level changed");
    let affected: Vec<String> = state.levels.keys().filter(|k| *k == logger || logger == "root" || k.starts_with(&format!("{logger}::"))).cloned().collect();
    Ok(affected)
}

//! What a plugin instance may do, from its connector's (or transform's) config. Nothing is
//! granted by default: no files, no network, no environment, 64 MiB of memory and 5 s per
//! call.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `wasm.allowed.dirs` | (none) | host directories the plugin may read and write, visible at the same path |
//! | `wasm.allowed.http.hosts` | (none) | hosts the plugin may send HTTP requests to through the host's client (`wasi:http`) |
//! | `wasm.allow.network` | false | outbound TCP/UDP and DNS (WASI sockets) |
//! | `wasm.call.timeout.ms` | 5000 | deadline of one call into the plugin (`poll`, `put`, `apply` of a batch...) |
//! | `wasm.memory.max.bytes` | 67108864 | the most linear memory one instance may grow to |

use std::path::PathBuf;
use std::time::Duration;

use crate::http::HttpGrant;
use sluice_sdk::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, Props, Validator};

pub const ALLOWED_DIRS: &str = "wasm.allowed.dirs";
pub const ALLOWED_HTTP_HOSTS: &str = "wasm.allowed.http.hosts";
pub const ALLOW_NETWORK: &str = "wasm.allow.network";
pub const CALL_TIMEOUT_MS: &str = "wasm.call.timeout.ms";
pub const MEMORY_MAX_BYTES: &str = "wasm.memory.max.bytes";

const GROUP: &str = "WASM sandbox";

/// The sandbox keys, merged into every WASM plugin's config definition.
pub fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(ALLOWED_DIRS, ConfigType::List)
                .default("")
                .importance(Importance::Medium)
                .group(GROUP, 1)
                .doc("Host directories the plugin may read and write, visible to it at the same path. Empty: no file system at all."),
        )
        .define(ConfigKey::new(ALLOWED_HTTP_HOSTS, ConfigType::List).default("").importance(Importance::Medium).group(GROUP, 2).doc(
            "Hosts the plugin may send HTTP and HTTPS requests to through the worker's HTTP client (wasi:http/outgoing-handler): \
             HOST (any port), HOST:PORT, or * for any. Empty: no HTTP at all.",
        ))
        .define(
            ConfigKey::new(ALLOW_NETWORK, ConfigType::Boolean)
                .default("false")
                .importance(Importance::Medium)
                .group(GROUP, 3)
                .doc("Whether the plugin may open outbound TCP/UDP sockets and resolve names."),
        )
        .define(
            ConfigKey::new(CALL_TIMEOUT_MS, ConfigType::Long)
                .default("5000")
                .importance(Importance::Low)
                .group(GROUP, 4)
                .validator(Validator::at_least(1.0))
                .doc("Deadline of one call into the plugin; a call that runs longer is interrupted and fails the task."),
        )
        .define(
            ConfigKey::new(MEMORY_MAX_BYTES, ConfigType::Long)
                .default("67108864")
                .importance(Importance::Low)
                .group(GROUP, 5)
                .validator(Validator::between(1.0, crate::engine::MAX_MEMORY_BYTES as f64))
                .doc("The most linear memory one plugin instance may use; growing past it fails the task."),
        )
}

/// The grants and limits of one instance.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub allowed_dirs: Vec<PathBuf>,
    pub http_hosts: HttpGrant,
    pub allow_network: bool,
    pub call_timeout: Duration,
    pub memory_max_bytes: usize,
}

impl Default for Sandbox {
    fn default() -> Sandbox {
        Sandbox {
            allowed_dirs: Vec::new(),
            http_hosts: HttpGrant::default(),
            allow_network: false,
            call_timeout: Duration::from_secs(5),
            memory_max_bytes: 64 << 20,
        }
    }
}

impl Sandbox {
    /// Reads the sandbox keys of a config; other keys are ignored.
    pub fn from_props(props: &Props) -> ConnectResult<Sandbox> {
        let def = config_def();
        let relevant: Props = props.iter().filter(|(k, _)| def.key(k).is_some()).map(|(k, v)| (k.clone(), v.clone())).collect();
        let parsed = def.parse(&relevant)?;
        let timeout = parsed.long(CALL_TIMEOUT_MS)?;
        let memory = parsed.long(MEMORY_MAX_BYTES)?;
        Ok(Sandbox {
            allowed_dirs: parsed.list(ALLOWED_DIRS)?.into_iter().filter(|d| !d.is_empty()).map(PathBuf::from).collect(),
            http_hosts: HttpGrant::parse(&parsed.list(ALLOWED_HTTP_HOSTS)?)?,
            allow_network: parsed.boolean(ALLOW_NETWORK)?,
            call_timeout: Duration::from_millis(u64::try_from(timeout).map_err(|_| ConnectError::config(CALL_TIMEOUT_MS, "must be positive"))?),
            memory_max_bytes: usize::try_from(memory).map_err(|_| ConnectError::config(MEMORY_MAX_BYTES, "must be positive"))?,
        })
    }
}

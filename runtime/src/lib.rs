//! The Sluice worker. A record's path through it:
//!
//! - source: [`executor::source`] polls the task → converts key/value/headers
//!   ([`converters`]) → produces with rdkafka → tracks acknowledgements → stores offsets
//!   ([`offset_store`]) once every earlier record of the task is acknowledged;
//! - sink: [`executor::sink`] consumes with rdkafka in group `connect-NAME` → converts → `put`
//!   → `pre_commit` → commits consumer offsets.
//!
//! [`herder`] owns connectors and their tasks (Connect's Herder) and implements the REST
//! API's trait; [`worker_config`], [`connector_config`], [`config_provider`] and
//! [`properties`] read configuration; [`plugins`] finds connectors and converters by name.

pub mod cli;
pub mod config_provider;
pub mod connector_config;
pub mod converters;
pub mod distributed;
pub mod executor;
pub mod herder;
pub mod kafka;
pub mod logging;
pub mod offset_store;
pub mod plugins;
pub mod process;
pub mod properties;
pub mod reference_docs;
pub mod schema_registry;
pub mod standalone;
pub mod status;
pub mod worker;
pub mod worker_config;

/// The version of this build (the workspace's), as `GET /` and `sluice version` report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit this binary was built from (`SLUICE_GIT_COMMIT` at build time), or "unknown".
pub const COMMIT: &str = match option_env!("SLUICE_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

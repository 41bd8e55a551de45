//! End-to-end tests against the real services started by `dev/stack` (one test binary; each
//! area is a module). Every test uses its own topics, files and connector names, so tests run
//! in parallel and again. A missing service fails the test; nothing is skipped.

mod cdc;
mod clickhouse;
mod distributed;
mod errors;
mod rest;
mod s3;
mod schema_registry;
mod standalone;
mod support;
mod wasm;
mod wasm_host;

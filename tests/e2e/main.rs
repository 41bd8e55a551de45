//! End-to-end tests against the real services started by `dev/stack` (one test binary; each
//! area is a module). Every test uses its own topics, files and connector names, so tests run
//! in parallel and again. A missing service fails the test; nothing is skipped.

mod errors;
mod distributed;
mod rest;
mod schema_registry;
mod s3;
mod cdc;
mod clickhouse;
mod standalone;
mod wasm;
mod wasm_host;
mod support;

//! The WASM plugin boundary's encodings (`sdk/wit/sluice.wit`), shared by the host
//! (`sluice-wasm-plugins`) and the guest SDK (`sluice-guest`) so that both sides read and write
//! exactly the same bytes:
//!
//! - [`wire`]: schemas as text (Connect's JSON schema form, remembered per schema) and the
//!   config keys a plugin declares,
//! - [`value_bytes`]: the compact binary form of a structured value, with the transform
//!   output's "unchanged" forms,
//! - [`record_batch`]: one buffer per batch of records, for transforms and predicates.
//!
//! A change to any of these forms is a change of the WIT package version.

pub mod record_batch;
pub mod value_bytes;
pub mod wire;

//! Single message transforms and predicates (Connect's `transforms` and `transforms.predicates`),
//! plus the converter traits (Connect's `storage.Converter` / `HeaderConverter`).

use crate::config::{ConfigDef, Props};
use crate::data::{SchemaRef, Value};
use crate::error::ConnectResult;
use crate::record::ConnectRecord;

/// A transform of one record into one record, or none (filtered out).
pub trait Transform<R: ConnectRecord>: Send + Sync {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, props: &Props) -> ConnectResult<()>;
    /// Errors are [`crate::ConnectError::Data`] for a record that cannot be transformed.
    fn apply(&self, record: R) -> ConnectResult<Option<R>>;

    /// Applies the transform to a batch, one result per input in order. The default calls
    /// [`Transform::apply`] per record; plugins behind a call boundary (WASM) override it to
    /// cross the boundary once per batch.
    fn apply_batch(&self, records: Vec<R>) -> Vec<ConnectResult<Option<R>>> {
        records.into_iter().map(|r| self.apply(r)).collect()
    }
}

/// A condition on a record, used with `transforms.X.predicate`.
pub trait Predicate<R: ConnectRecord>: Send + Sync {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, props: &Props) -> ConnectResult<()>;
    fn test(&self, record: &R) -> bool;

    /// Tests a batch, one answer per input in order. The default calls [`Predicate::test`] per
    /// record; plugins behind a call boundary (WASM) override it to cross it once per batch.
    fn test_batch(&self, records: &[&R]) -> Vec<bool> {
        records.iter().map(|r| self.test(r)).collect()
    }
}

/// Converts between Connect data and the bytes in Kafka, for keys or values.
pub trait Converter: Send + Sync {
    fn config_def(&self) -> ConfigDef;
    /// `props` are the converter's own keys (prefix already removed); `is_key` tells which side.
    fn configure(&mut self, props: &Props, is_key: bool) -> ConnectResult<()>;
    /// Connect data → bytes; `None` for a null value (a tombstone). Named as Connect's
    /// `Converter.fromConnectData`.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect(&self, topic: &str, schema: Option<&SchemaRef>, value: &Value) -> ConnectResult<Option<Vec<u8>>>;
    /// Bytes → Connect data; `None` bytes give a null value.
    fn to_connect(&self, topic: &str, bytes: Option<&[u8]>) -> ConnectResult<(Option<SchemaRef>, Value)>;
}

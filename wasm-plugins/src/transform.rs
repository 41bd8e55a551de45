//! WASM transforms and predicates as the SPI's [`Transform`] and [`Predicate`], for source and
//! sink records alike. A batch crosses the boundary in one call ([`Transform::apply_batch`]).
//! Calls run inline (they are bounded by `wasm.call.timeout.ms`). Each call takes an idle
//! configured instance (or builds one), so slices of a batch prepared on several threads cross
//! at once; instances are few (one per concurrent caller, at most [`MAX_IDLE`] kept). After a
//! trap the instance is dropped and the next call gets a fresh, re-configured one; the failed
//! batch's records get the trap as a fatal error.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Predicate, Props, Transform};

use crate::bindings::predicate::Predicate as PredicateWorld;
use crate::bindings::transform::Transform as TransformWorld;
use sluice_wasm_abi::record_batch::{BatchWriter, read_batch_over};

use crate::convert::{error_from_wit, props_to_wit};
use crate::instance::Instance;
use crate::plugin::{Pre, WasmPlugin};
use crate::sandbox::Sandbox;

fn copy_error(e: &ConnectError) -> ConnectError {
    match e {
        ConnectError::Config { field, message } => ConnectError::config(field.clone(), message.clone()),
        ConnectError::Retriable(m) => ConnectError::Retriable(m.clone()),
        ConnectError::Data(m) => ConnectError::Data(m.clone()),
        ConnectError::Fatal(m) => ConnectError::Fatal(m.clone()),
    }
}

/// Idle instances kept per transform or predicate.
const MAX_IDLE: usize = 4;

/// Configured instances plus what is needed to build more (or rebuild one after a trap).
struct Configured<B> {
    plugin: Arc<WasmPlugin>,
    props: Props,
    sandbox: Sandbox,
    idle: Mutex<Vec<Instance<B>>>,
}

impl<B> Configured<B> {
    fn new(plugin: Arc<WasmPlugin>) -> Configured<B> {
        Configured { plugin, props: Props::new(), sandbox: Sandbox::default(), idle: Mutex::new(Vec::new()) }
    }

    /// Runs `f` on an idle instance, building and configuring one if none is idle; the
    /// instance is idle again afterwards unless the call trapped.
    fn with<T>(
        &self,
        build: impl FnOnce(&WasmPlugin, &Sandbox, String) -> ConnectResult<Instance<B>>,
        configure: impl FnOnce(&mut Instance<B>, &Props) -> ConnectResult<()>,
        f: impl FnOnce(&mut Instance<B>) -> ConnectResult<T>,
    ) -> ConnectResult<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut inst = match idle {
            Some(inst) => inst,
            None => {
                let mut inst = build(&self.plugin, &self.sandbox, self.plugin.name.clone())?;
                configure(&mut inst, &self.props)?;
                inst
            }
        };
        let out = f(&mut inst);
        if !inst.trapped() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(inst);
            }
        }
        out
    }

    /// Drops every instance (the configuration changed).
    fn reset(&mut self) {
        self.idle.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

fn build_transform(plugin: &WasmPlugin, sandbox: &Sandbox, tag: String) -> ConnectResult<Instance<TransformWorld>> {
    let Pre::Transform(pre) = &plugin.pre else { return Err(ConnectError::fatal(format!("{} is not a transform plugin", plugin.name))) };
    plugin.instantiate(pre, sandbox, tag, None, |p, s| p.instantiate(s))
}

fn configure_transform(inst: &mut Instance<TransformWorld>, props: &Props) -> ConnectResult<()> {
    let wit = props_to_wit(props);
    inst.call("configure", |b, s| b.call_configure(s, &wit))?.map_err(error_from_wit)
}

/// A WASM transform (`transforms.X.type` = the plugin's name).
pub struct WasmTransform<R> {
    inner: Configured<TransformWorld>,
    _records: PhantomData<fn(R) -> R>,
}

impl<R> WasmTransform<R> {
    pub fn new(plugin: Arc<WasmPlugin>) -> WasmTransform<R> {
        WasmTransform { inner: Configured::new(plugin), _records: PhantomData }
    }
}

impl<R: ConnectRecord> Transform<R> for WasmTransform<R> {
    fn config_def(&self) -> ConfigDef {
        self.inner.plugin.config_def.clone()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.inner.sandbox = Sandbox::from_props(props)?;
        self.inner.props = props.clone();
        self.inner.reset();
        self.inner.with(build_transform, configure_transform, |_| Ok(()))
    }

    fn apply(&self, record: R) -> ConnectResult<Option<R>> {
        self.apply_batch(vec![record]).pop().unwrap_or(Ok(None))
    }

    fn apply_batch(&self, mut records: Vec<R>) -> Vec<ConnectResult<Option<R>>> {
        // Each chunk is transformed in place; the records move once, into the answer.
        let mut outcomes: Vec<ConnectResult<bool>> = Vec::with_capacity(records.len());
        let mut at = 0;
        while at < records.len() {
            let (batch, len) = write_chunk::<R, R>(&records[at..]);
            match self.apply_chunk(&mut records[at..at + len], batch) {
                Ok(present) => outcomes.extend(present.into_iter().map(Ok)),
                Err(e) => outcomes.extend((0..len).map(|_| Err(copy_error(&e)))),
            }
            at += len;
        }
        records.into_iter().zip(outcomes).map(|(r, outcome)| outcome.map(|present| present.then_some(r))).collect()
    }
}

/// How large a batch crosses the boundary in one call: both sides' copies of a chunk stay in
/// the CPU's cache (`bench/run wasm`: 1 KB records went 1.6 M/s in chunks of 100 and 1.0 M/s
/// in chunks of 1000).
const CHUNK_BYTES: usize = 64 * 1024;

/// The batch of the next chunk of `records`: records from the first until the batch holds
/// [`CHUNK_BYTES`], and the rest too if they are few (a slice of 64 records of 1 KB crosses in
/// one call, not in a call of 62 and a call of 2). Returns the batch and how many records it
/// holds (at least one, unless `records` is empty).
fn write_chunk<R: ConnectRecord, B: Borrow<R>>(records: &[B]) -> (Vec<u8>, usize) {
    let mut w = BatchWriter::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4);
    let mut len = 0;
    while len < records.len() && w.written() < CHUNK_BYTES {
        w.push(Some(records[len].borrow()));
        len += 1;
    }
    let left = records.len() - len;
    if left > 0 && left * 4 <= len {
        for r in &records[len..] {
            w.push(Some(r.borrow()));
        }
        len = records.len();
    }
    (w.finish(), len)
}

impl<R: ConnectRecord> WasmTransform<R> {
    /// Transforms `records` in place; per record, whether it is present (`false`: dropped).
    fn apply_chunk(&self, records: &mut [R], batch: Vec<u8>) -> ConnectResult<Vec<bool>> {
        let name = &self.inner.plugin.name;
        self.inner.with(build_transform, configure_transform, |inst| {
            let bytes = inst.call("apply", |b, s| b.call_apply(s, &batch))?.map_err(error_from_wit)?;
            // What the plugin returned, written over the records themselves (the partition
            // cannot be changed by a transform).
            read_batch_over(&bytes, records).map_err(|e| ConnectError::fatal(format!("WASM transform {name} returned a malformed record batch: {e}")))
        })
    }
}

fn build_predicate(plugin: &WasmPlugin, sandbox: &Sandbox, tag: String) -> ConnectResult<Instance<PredicateWorld>> {
    let Pre::Predicate(pre) = &plugin.pre else { return Err(ConnectError::fatal(format!("{} is not a predicate plugin", plugin.name))) };
    plugin.instantiate(pre, sandbox, tag, None, |p, s| p.instantiate(s))
}

fn configure_predicate(inst: &mut Instance<PredicateWorld>, props: &Props) -> ConnectResult<()> {
    let wit = props_to_wit(props);
    inst.call("configure", |b, s| b.call_configure(s, &wit))?.map_err(error_from_wit)
}

/// A WASM predicate (`predicates.X.type` = the plugin's name). A failing call logs the error
/// and answers false.
pub struct WasmPredicate<R> {
    inner: Configured<PredicateWorld>,
    _records: PhantomData<fn(R) -> R>,
}

impl<R> WasmPredicate<R> {
    pub fn new(plugin: Arc<WasmPlugin>) -> WasmPredicate<R> {
        WasmPredicate { inner: Configured::new(plugin), _records: PhantomData }
    }
}

impl<R: ConnectRecord> Predicate<R> for WasmPredicate<R> {
    fn config_def(&self) -> ConfigDef {
        self.inner.plugin.config_def.clone()
    }

    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        self.inner.sandbox = Sandbox::from_props(props)?;
        self.inner.props = props.clone();
        self.inner.reset();
        self.inner.with(build_predicate, configure_predicate, |_| Ok(()))
    }

    fn test(&self, record: &R) -> bool {
        self.test_batch(&[record]).first().copied().unwrap_or(false)
    }

    fn test_batch(&self, records: &[&R]) -> Vec<bool> {
        let mut out = Vec::with_capacity(records.len());
        let mut at = 0;
        while at < records.len() {
            let (batch, len) = write_chunk::<R, &R>(&records[at..]);
            out.extend(self.test_chunk(len, batch));
            at += len;
        }
        out
    }
}

impl<R: ConnectRecord> WasmPredicate<R> {
    /// Answers for the `records` records written in `batch`.
    fn test_chunk(&self, records: usize, batch: Vec<u8>) -> Vec<bool> {
        let out = self.inner.with(build_predicate, configure_predicate, |inst| inst.call("test", |b, s| b.call_test(s, &batch))?.map_err(error_from_wit));
        match out {
            Ok(answers) if answers.len() == records => answers,
            Ok(answers) => {
                tracing::error!(plugin = %self.inner.plugin.name, answers = answers.len(), records, "WASM predicate answered for a different number of records; treating them as not matching");
                vec![false; records]
            }
            Err(e) => {
                tracing::error!(plugin = %self.inner.plugin.name, error = %e, "WASM predicate failed; treating the records as not matching");
                vec![false; records]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CHUNK_BYTES, write_chunk};
    use sluice_sdk::{SinkRecord, TimestampType, Value};
    use sluice_wasm_abi::record_batch::read_batch;

    fn records(n: usize, bytes: usize) -> Vec<SinkRecord> {
        (0..n as i64)
            .map(|i| SinkRecord {
                topic: "t".into(),
                kafka_partition: 0,
                kafka_offset: i,
                key_schema: None,
                key: Value::Null,
                value_schema: None,
                value: Value::Bytes(vec![1; bytes]),
                timestamp: None,
                timestamp_type: TimestampType::NoTimestamp,
                headers: Default::default(),
            })
            .collect()
    }

    /// The chunk lengths `write_chunk` makes of `records`, checking each chunk's batch.
    fn chunks(records: &[SinkRecord]) -> Vec<usize> {
        let mut lens = Vec::new();
        let mut at = 0;
        while at < records.len() {
            let (batch, len) = write_chunk::<SinkRecord, SinkRecord>(&records[at..]);
            let read = read_batch(&batch).unwrap();
            assert_eq!(read.len(), len);
            assert!(read.iter().zip(&records[at..]).all(|(r, s)| r.as_ref().is_some_and(|r| r.value == s.value)));
            lens.push(len);
            at += len;
        }
        lens
    }

    #[test]
    fn chunks_are_about_chunk_bytes_and_a_short_tail_joins_the_last() {
        // 64 records of ~1 KB: one call, not 62 + 2.
        assert_eq!(chunks(&records(64, 1024)), vec![64]);
        // 100: a full chunk, then a tail long enough to cross on its own.
        let full = chunks(&records(100, 1024))[0];
        assert!((CHUNK_BYTES / 1100..=CHUNK_BYTES / 1024).contains(&full), "{full} records of ~1 KB in a chunk");
        assert_eq!(chunks(&records(100, 1024)), vec![full, 100 - full]);
        assert_eq!(chunks(&records(3, 10)), vec![3]);
        assert!(chunks(&[]).is_empty());
        // Records larger than a chunk cross one at a time.
        assert_eq!(chunks(&records(3, CHUNK_BYTES + 1)), vec![1, 1, 1]);
    }
}

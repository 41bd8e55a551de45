//! What the `export_*!` macros call: one plugin value per instance, kept in a global cell
//! (a component instance is single-threaded), plus the conversions of each world's exports.

use std::any::Any;
use std::cell::RefCell;

use sluice_sdk::ConnectResult;

use crate::bindings::sluice::plugin::types;
use crate::convert::*;

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` on the instance of `T`, creating it with `Default` on first use.
fn with<T: Default + 'static, R>(f: impl FnOnce(&mut T) -> R) -> R {
    INSTANCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if !slot.as_ref().is_some_and(|b| b.is::<T>()) {
            *slot = Some(Box::new(T::default()));
        }
        match slot.as_mut().and_then(|b| b.downcast_mut::<T>()) {
            Some(t) => f(t),
            None => unreachable!("the instance was just created with this type"),
        }
    })
}

fn wit<T>(r: ConnectResult<T>) -> Result<T, types::ConnectError> {
    r.map_err(error_to_wit)
}

/// The records of a batch from the host (every entry is present).
#[cfg(feature = "predicate")]
fn read_records(batch: &[u8]) -> ConnectResult<Vec<crate::Record>> {
    let records = sluice_wasm_abi::record_batch::read_trusted_batch(batch)
        .map_err(|e| sluice_sdk::ConnectError::fatal(format!("malformed record batch from the host: {e}")))?;
    Ok(records.into_iter().flatten().collect())
}

#[cfg(feature = "source")]
pub mod source {
    use super::*;
    use crate::plugins::SourcePlugin;

    pub fn info<T: SourcePlugin>() -> types::PluginInfo {
        plugin_info(T::NAME, T::VERSION, types::PluginKind::Source, T::config_def())
    }
    pub fn task_configs<T: SourcePlugin>(config: Vec<(String, String)>, max: u32) -> Result<Vec<Vec<(String, String)>>, types::ConnectError> {
        wit(T::task_configs(&props_from_wit(config), max as usize).map(|c| c.into_iter().map(props_to_wit).collect()))
    }
    pub fn start<T: SourcePlugin>(config: Vec<(String, String)>) -> Result<(), types::ConnectError> {
        wit(with(|t: &mut T| t.start(props_from_wit(config))))
    }
    pub fn poll<T: SourcePlugin>() -> Result<Vec<types::SourceRecord>, types::ConnectError> {
        let records = wit(with(|t: &mut T| t.poll()))?;
        Ok(records
            .into_iter()
            .map(|r| types::SourceRecord {
                source_partition: json_object(r.source_partition),
                source_offset: json_object(r.source_offset),
                topic: r.topic,
                partition: r.kafka_partition,
                key: data_to_wit(r.key_schema.as_ref(), r.key),
                value: data_to_wit(r.value_schema.as_ref(), r.value),
                timestamp: r.timestamp,
                headers: headers_to_wit(r.headers),
            })
            .collect())
    }
    pub fn commit<T: SourcePlugin>() -> Result<(), types::ConnectError> {
        wit(with(|t: &mut T| t.commit()))
    }
    pub fn stop<T: SourcePlugin>() {
        with(|t: &mut T| t.stop())
    }
}

#[cfg(feature = "sink")]
pub mod sink {
    use std::collections::HashMap;

    use super::*;
    use crate::plugins::SinkPlugin;
    use sluice_sdk::{SinkRecord, TimestampType, TopicPartition};

    pub fn info<T: SinkPlugin>() -> types::PluginInfo {
        plugin_info(T::NAME, T::VERSION, types::PluginKind::Sink, T::config_def())
    }
    pub fn task_configs<T: SinkPlugin>(config: Vec<(String, String)>, max: u32) -> Result<Vec<Vec<(String, String)>>, types::ConnectError> {
        wit(T::task_configs(&props_from_wit(config), max as usize).map(|c| c.into_iter().map(props_to_wit).collect()))
    }
    pub fn start<T: SinkPlugin>(config: Vec<(String, String)>) -> Result<(), types::ConnectError> {
        wit(with(|t: &mut T| t.start(props_from_wit(config))))
    }
    fn record(r: types::SinkRecord) -> ConnectResult<SinkRecord> {
        let (key_schema, key) = data_from_wit(r.key)?;
        let (value_schema, value) = data_from_wit(r.value)?;
        Ok(SinkRecord {
            topic: r.topic,
            kafka_partition: r.partition,
            kafka_offset: r.offset,
            key_schema,
            key,
            value_schema,
            value,
            timestamp: r.timestamp,
            timestamp_type: if r.timestamp.is_some() { TimestampType::CreateTime } else { TimestampType::NoTimestamp },
            headers: headers_from_wit(r.headers)?,
        })
    }
    pub fn put<T: SinkPlugin>(records: Vec<types::SinkRecord>) -> Result<(), types::ConnectError> {
        let records = wit(records.into_iter().map(record).collect::<ConnectResult<Vec<_>>>())?;
        wit(with(|t: &mut T| t.put(records)))
    }
    pub fn flush<T: SinkPlugin>(offsets: Vec<types::TopicPartitionOffset>) -> Result<(), types::ConnectError> {
        let offsets: HashMap<TopicPartition, i64> = offsets.into_iter().map(|o| (TopicPartition::new(o.topic, o.partition), o.offset)).collect();
        wit(with(|t: &mut T| t.flush(&offsets)))
    }
    pub fn stop<T: SinkPlugin>() {
        with(|t: &mut T| t.stop())
    }
}

#[cfg(feature = "transform")]
pub mod transform {
    use super::*;
    use crate::plugins::TransformPlugin;
    use sluice_wasm_abi::record_batch::{BatchReader, BatchWriter};

    pub fn info<T: TransformPlugin>() -> types::PluginInfo {
        plugin_info(T::NAME, T::VERSION, types::PluginKind::Transform, T::config_def())
    }
    pub fn configure<T: TransformPlugin>(config: Vec<(String, String)>) -> Result<(), types::ConnectError> {
        wit(with(|t: &mut T| t.configure(props_from_wit(config))))
    }
    pub fn apply<T: TransformPlugin>(batch: Vec<u8>) -> Result<Vec<u8>, types::ConnectError> {
        let malformed = |e: String| sluice_sdk::ConnectError::fatal(format!("malformed record batch from the host: {e}"));
        let mut records = BatchReader::new(&batch).map_err(malformed).map_err(error_to_wit)?;
        with(|t: &mut T| {
            // One record at a time, decoded into the one the transform returned before it and
            // written while in the cache; what the transform left as it was goes back as unchanged.
            let mut out = BatchWriter::with_capacity(batch.len() / 4);
            let mut scratch = None;
            while !records.is_empty() {
                let (r, (key, value)) = records.next_record_reusing(scratch.take()).map_err(malformed)?;
                let Some(r) = r else {
                    out.push::<crate::Record>(None);
                    continue;
                };
                scratch = t.apply(r)?;
                out.push_against(scratch.as_ref(), batch.get(key).zip(batch.get(value)));
            }
            Ok(out.finish())
        })
        .map_err(error_to_wit)
    }
}

#[cfg(feature = "predicate")]
pub mod predicate {
    use super::*;
    use crate::plugins::PredicatePlugin;

    pub fn info<T: PredicatePlugin>() -> types::PluginInfo {
        plugin_info(T::NAME, T::VERSION, types::PluginKind::Predicate, T::config_def())
    }
    pub fn configure<T: PredicatePlugin>(config: Vec<(String, String)>) -> Result<(), types::ConnectError> {
        wit(with(|t: &mut T| t.configure(props_from_wit(config))))
    }
    pub fn test<T: PredicatePlugin>(batch: Vec<u8>) -> Result<Vec<bool>, types::ConnectError> {
        let records = wit(read_records(&batch))?;
        Ok(with(|t: &mut T| records.iter().map(|r| t.test(r)).collect()))
    }
}

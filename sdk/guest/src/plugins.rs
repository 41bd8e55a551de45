//! The synchronous plugin traits a guest implements: the native SPI's shape without `async`
//! and without contexts (offsets come from [`crate::committed_offset`]).

use std::collections::HashMap;

use sluice_sdk::{ConfigDef, ConnectResult, Props, SinkRecord, SourceRecord, TopicPartition};

/// A source connector and its task in one type: the connector part (`task_configs`) runs
/// once at connector start, then each task gets its own instance.
pub trait SourcePlugin: Default + 'static {
    /// The class name users put in `connector.class`.
    const NAME: &'static str;
    const VERSION: &'static str = "0.1.0";
    fn config_def() -> ConfigDef {
        ConfigDef::new()
    }
    /// At most `max_tasks` task configs. Default: one task with the connector's config.
    fn task_configs(props: &Props, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![props.clone()])
    }
    fn start(&mut self, props: Props) -> ConnectResult<()>;
    /// The next batch; return an empty one (soon) when there is nothing.
    fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>>;
    fn commit(&mut self) -> ConnectResult<()> {
        Ok(())
    }
    fn stop(&mut self) {}
}

/// A sink connector and its task in one type.
pub trait SinkPlugin: Default + 'static {
    const NAME: &'static str;
    const VERSION: &'static str = "0.1.0";
    fn config_def() -> ConfigDef {
        ConfigDef::new()
    }
    fn task_configs(props: &Props, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![props.clone()])
    }
    fn start(&mut self, props: Props) -> ConnectResult<()>;
    fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()>;
    /// Make everything `put` so far durable; `offsets` are the next offsets per partition.
    fn flush(&mut self, _offsets: &HashMap<TopicPartition, i64>) -> ConnectResult<()> {
        Ok(())
    }
    fn stop(&mut self) {}
}

/// What a transform or predicate sees of a record (source and sink records alike).
pub use sluice_wasm_abi::record_batch::BatchRecord as Record;

/// A single message transform.
pub trait TransformPlugin: Default + 'static {
    /// The class name users put in `transforms.X.type`.
    const NAME: &'static str;
    const VERSION: &'static str = "0.1.0";
    fn config_def() -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _props: Props) -> ConnectResult<()> {
        Ok(())
    }
    /// The transformed record, or `None` to drop it.
    fn apply(&mut self, record: Record) -> ConnectResult<Option<Record>>;
}

/// A predicate for `transforms.X.predicate`.
pub trait PredicatePlugin: Default + 'static {
    const NAME: &'static str;
    const VERSION: &'static str = "0.1.0";
    fn config_def() -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _props: Props) -> ConnectResult<()> {
        Ok(())
    }
    fn test(&mut self, record: &Record) -> bool;
}

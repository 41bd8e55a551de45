//! Connectors and tasks, after Kafka Connect's `connector`, `source` and `sink` packages.
//!
//! A *connector* is configured once and splits its work into task configs; a *task* moves the
//! data. Connectors and tasks know nothing of Kafka clients, offset storage or converters: the
//! runtime drives them through these traits and hands them contexts for what they may ask.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{ConfigDef, ConfigValueInfo, Props};
use crate::error::ConnectResult;
use crate::record::{OffsetMap, RecordMetadata, SinkRecord, SourceRecord, TopicPartition};

/// What a connector may ask of the runtime.
pub trait ConnectorContext: Send + Sync {
    /// Asks the runtime to call [`Connector::task_configs`] again and restart the tasks
    /// (e.g. a source noticed new tables).
    fn request_task_reconfiguration(&self);
    /// Fails the connector with this message (from a background thread of the connector).
    fn raise_error(&self, message: String);
}

/// The part common to source and sink connectors.
///
/// Lifecycle: 1. `validate` (REST validation and before creation); 2. `start` with the
/// connector's config; 3. `task_configs(max_tasks)`, again whenever the connector requests
/// reconfiguration; 4. `stop`. A connector is not restarted after `stop`: the runtime builds
/// a new instance.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The plugin version, shown by `GET /connector-plugins`.
    fn version(&self) -> String;

    /// Every config key the connector understands.
    fn config_def(&self) -> ConfigDef;

    /// Validates a config. The default checks each key of [`Connector::config_def`]; override
    /// to add cross-field checks (keep the defaults by calling [`ConfigDef::validate`]).
    fn validate(&self, props: &Props) -> Vec<ConfigValueInfo> {
        self.config_def().validate(props)
    }

    /// Starts the connector. Errors fail the connector (and so no task is started).
    async fn start(&mut self, props: Props, ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()>;

    /// At most `max_tasks` task configs; one task is started per config.
    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>>;

    /// Stops the connector; must not fail.
    async fn stop(&mut self);
}

/// A connector whose tasks read an external system and produce to Kafka.
pub trait SourceConnector: Connector {}

/// A connector whose tasks consume from Kafka and write to an external system.
pub trait SinkConnector: Connector {}

/// Read access to committed source offsets.
pub trait OffsetStorageReader: Send + Sync {
    /// The last committed offset of one source partition, if any.
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap>;
}

/// What a source task may ask of the runtime.
pub struct SourceTaskContext {
    /// The connector's name.
    pub connector: String,
    /// The task's number within its connector (0-based).
    pub task_id: usize,
    pub offset_reader: Arc<dyn OffsetStorageReader>,
}

/// A task that pulls records from an external system.
///
/// Lifecycle: 1. `start` (read the committed offset from the context and seek there);
/// 2. `poll` repeatedly, each time returning a batch (possibly empty); 3. `commit_record` for
/// each record after the broker acknowledged it, and `commit` after the runtime stored offsets;
/// 4. `stop`.
///
/// Concurrency: the runtime calls the methods one at a time. A `poll` in progress may be
/// cancelled (its future dropped) when the task is stopped, so `poll` must be cancellation-safe:
/// records count as delivered only once `poll` returned them. `poll` should return within about
/// a second even with no data, so that a stop request is seen promptly.
#[async_trait]
pub trait SourceTask: Send {
    async fn start(&mut self, props: Props, ctx: SourceTaskContext) -> ConnectResult<()>;

    /// The next batch of records; empty when there is nothing now. Errors fail the task
    /// (a [`crate::ConnectError::Retriable`] is retried by the runtime first).
    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>>;

    /// Called after the runtime stored the offsets of acknowledged records; a source that keeps
    /// its own position upstream (a replication slot) advances it here. Default: nothing.
    async fn commit(&mut self) -> ConnectResult<()> {
        Ok(())
    }

    /// Called once per record after the broker acknowledged it. Default: nothing.
    async fn commit_record(&mut self, _source_offset: &OffsetMap, _metadata: &RecordMetadata) -> ConnectResult<()> {
        Ok(())
    }

    /// Stops the task; release resources. Called after the last `poll` returned or was cancelled.
    async fn stop(&mut self);
}

/// A record the sink task could not process, reported instead of failing (KIP-610).
pub trait ErrantRecordReporter: Send + Sync {
    /// Reports the record; the runtime logs it and/or sends it to the DLQ per `errors.*`.
    /// Fails if `errors.tolerance=none`, in which case the task should fail.
    fn report(&self, record: &SinkRecord, error: &crate::ConnectError) -> ConnectResult<()>;
}

/// What a sink task may ask of the runtime.
pub trait SinkTaskContext: Send + Sync {
    /// The connector's name.
    fn connector(&self) -> &str;
    /// The task's number within its connector (0-based).
    fn task_id(&self) -> usize;
    /// The partitions currently assigned to this task.
    fn assignment(&self) -> Vec<TopicPartition>;
    /// Stops fetching from these partitions until `resume` (backpressure).
    fn pause(&self, partitions: &[TopicPartition]);
    fn resume(&self, partitions: &[TopicPartition]);
    /// Asks for an offset commit (flush + commit) as soon as possible.
    fn request_commit(&self);
    /// Rewinds or skips: the next record of each partition will be read from this offset.
    fn reset_offsets(&self, offsets: HashMap<TopicPartition, i64>);
    /// The reporter for records that fail inside `put`; `None` if the runtime has none configured.
    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>>;
}

/// A task that writes records consumed from Kafka to an external system.
///
/// Lifecycle: 1. `start`; 2. `open` with the partitions assigned (again on each rebalance);
/// 3. `put` batches of records, repeatedly; 4. `pre_commit` (default: `flush`) before the
/// runtime commits consumer offsets; 5. `close` with partitions revoked, then `stop`.
///
/// A [`crate::ConnectError::Retriable`] from `put` means "retry the same batch later";
/// anything else fails the task. Records handed to `put` may be buffered; the runtime commits
/// only the offsets `pre_commit` returns.
#[async_trait]
pub trait SinkTask: Send {
    async fn start(&mut self, props: Props, ctx: Arc<dyn SinkTaskContext>) -> ConnectResult<()>;

    /// Partitions newly assigned to this task.
    async fn open(&mut self, _partitions: &[TopicPartition]) -> ConnectResult<()> {
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()>;

    /// Makes everything `put` so far durable.
    async fn flush(&mut self, _offsets: &HashMap<TopicPartition, i64>) -> ConnectResult<()> {
        Ok(())
    }

    /// Returns the offsets that are safe to commit: the next offset to read per partition.
    /// `offsets` holds, per partition, one past the last record handed to `put`. Default:
    /// `flush` then those offsets.
    async fn pre_commit(&mut self, offsets: &HashMap<TopicPartition, i64>) -> ConnectResult<HashMap<TopicPartition, i64>> {
        self.flush(offsets).await?;
        Ok(offsets.clone())
    }

    /// Partitions revoked from this task; drop their buffers.
    async fn close(&mut self, _partitions: &[TopicPartition]) -> ConnectResult<()> {
        Ok(())
    }

    async fn stop(&mut self);
}

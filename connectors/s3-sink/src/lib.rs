//! The S3 sink, a drop-in for Confluent's `io.confluent.connect.s3.S3SinkConnector`: the same
//! config keys, format and partitioner class names, and object layout, so existing connector
//! configs and the tools that read their buckets keep working.
//!
//! **Objects**: `topics.dir/TOPIC/ENCODED_PARTITION/TOPIC+KAFKA_PARTITION+START_OFFSET.EXT`,
//! the start offset zero-padded to `filename.offset.zero.pad.width` (10); `directory.delim` and
//! `file.delim` replace `/` and `+`. Extensions: `.json` (`.json.gz` with
//! `s3.compression.type=gzip`), `.avro`, `.snappy.parquet` (`.CODEC.parquet`, `.parquet` when
//! uncompressed), `format.bytearray.extension` (`.bin`). Formats: [`format`]; partitioners
//! (Default, Field, TimeBased, Hourly, Daily): [`partitioner`].
//!
//! **Exactly-once**: object names and contents depend on the records alone (with `flush.size`,
//! `rotate.interval.ms` and a `Record`/`RecordField` timestamp extractor), so a replay
//! overwrites an object with the same bytes. Consumer offsets are committed only for uploaded
//! records (`pre_commit`); at start the task recovers each partition's position from the bucket
//! (commit metadata of its newest object; an incomplete commit is written again) and rewinds
//! the consumer there; single PUTs and
//! multipart uploads make objects appear whole or not at all. Timing-based rotations
//! (`rotate.schedule.interval.ms`, the `Wallclock` extractor, `buffer.total.max.bytes`) give
//! no duplicates but may cut files at other places after a crash.
//!
//! **Schemas**: with `schema.compatibility=NONE` any change of the value schema closes the open
//! files; with BACKWARD/FORWARD/FULL only a newer version does, and records of an older version
//! are written with the newer schema (missing fields take their default or null), so
//! interleaved versions (v1, v2, v1, v2 ...) produce one file per commit instead of one per
//! change. With NONE, interleaved versions do produce tiny files: use BACKWARD for them.
//!
//! **Memory**: a partition's open files are committed early when they hold
//! `buffer.partition.max.bytes`; when the task holds more than `buffer.total.max.bytes`, its
//! largest partition is committed. Objects up to `s3.part.size` go up in one PUT, larger ones
//! as multipart uploads of that part size.
//!
//! **Limits**: credentials come from `aws.access.key.id`/`aws.secret.access.key` or the
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` environment (no profile
//! files, SSO or instance roles); no server-side encryption or ACL options; the `locale` key is
//! accepted but month/day names are English; recovery lists all objects under `TOPIC/`.

pub mod config;
pub mod format;
pub mod partitioner;
mod storage;
mod task;

use std::sync::Arc;

use sluice_sdk::{ConfigDef, ConfigValueInfo, ConnectResult, Connector, ConnectorContext, Props, SinkConnector, async_trait};

pub use storage::{COMMIT_FILES_META, CommitMeta, FIRST_OFFSET_META, NEXT_OFFSET_META};
pub use task::S3SinkTask;

/// The class name under which the connector is registered (Confluent's).
pub const CLASS: &str = "io.confluent.connect.s3.S3SinkConnector";
/// The version reported by `GET /connector-plugins`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `S3SinkConnector`: every task gets the connector's config; the runtime's consumer group
/// spreads the partitions.
#[derive(Default)]
pub struct S3SinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for S3SinkConnector {
    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, props: &Props) -> Vec<ConfigValueInfo> {
        let mut infos = config::config_def().validate(props);
        if infos.iter().all(|i| i.errors.is_empty())
            && let Err(sluice_sdk::ConnectError::Config { field, message }) = config::S3SinkConfig::parse(props)
            && let Some(info) = infos.iter_mut().find(|i| i.name == field)
        {
            info.errors.push(message);
        }
        infos
    }

    async fn start(&mut self, props: Props, _ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()> {
        config::S3SinkConfig::parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks])
    }

    async fn stop(&mut self) {}
}

impl SinkConnector for S3SinkConnector {}

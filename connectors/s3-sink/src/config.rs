//! The connector's configuration: one [`ConfigDef`] with the key names, defaults and class
//! names of Confluent's `kafka-connect-s3` and `kafka-connect-storage-common`, parsed once
//! into [`S3SinkConfig`]. Keys Confluent does not have (the buffer limits) are Sluice's own
//! and documented as such.

use sluice_sdk::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, Props, Validator};

use crate::format::FormatKind;
use crate::partitioner::{PartitionerKind, TimestampExtractor};

pub const S3_BUCKET: &str = "s3.bucket.name";
pub const S3_REGION: &str = "s3.region";
pub const STORE_URL: &str = "store.url";
pub const ACCESS_KEY: &str = "aws.access.key.id";
pub const SECRET_KEY: &str = "aws.secret.access.key";
pub const PATH_STYLE: &str = "s3.path.style.access.enabled";
pub const PART_SIZE: &str = "s3.part.size";
pub const COMPRESSION: &str = "s3.compression.type";
pub const COMPRESSION_LEVEL: &str = "s3.compression.level";
pub const PARQUET_CODEC: &str = "parquet.codec";
pub const TOPICS_DIR: &str = "topics.dir";
pub const DIRECTORY_DELIM: &str = "directory.delim";
pub const FILE_DELIM: &str = "file.delim";
pub const ZERO_PAD: &str = "filename.offset.zero.pad.width";
pub const FORMAT_CLASS: &str = "format.class";
pub const BYTEARRAY_EXTENSION: &str = "format.bytearray.extension";
pub const BYTEARRAY_SEPARATOR: &str = "format.bytearray.separator";
pub const PARTITIONER_CLASS: &str = "partitioner.class";
pub const PARTITION_FIELD: &str = "partition.field.name";
pub const PATH_FORMAT: &str = "path.format";
pub const PARTITION_DURATION: &str = "partition.duration.ms";
pub const LOCALE: &str = "locale";
pub const TIMEZONE: &str = "timezone";
pub const TIMESTAMP_EXTRACTOR: &str = "timestamp.extractor";
pub const TIMESTAMP_FIELD: &str = "timestamp.field";
pub const FLUSH_SIZE: &str = "flush.size";
pub const ROTATE_INTERVAL: &str = "rotate.interval.ms";
pub const ROTATE_SCHEDULE_INTERVAL: &str = "rotate.schedule.interval.ms";
pub const NULL_VALUES: &str = "behavior.on.null.values";
pub const SCHEMA_COMPATIBILITY: &str = "schema.compatibility";
pub const RETRY_BACKOFF: &str = "s3.retry.backoff.ms";
pub const PART_RETRIES: &str = "s3.part.retries";
pub const BUFFER_PARTITION_MAX: &str = "buffer.partition.max.bytes";
pub const BUFFER_TOTAL_MAX: &str = "buffer.total.max.bytes";

const MIB: i64 = 1024 * 1024;

/// Every key of the S3 sink.
pub fn config_def() -> ConfigDef {
    let s = |name: &str| ConfigKey::new(name, ConfigType::String);
    let l = |name: &str| ConfigKey::new(name, ConfigType::Long);
    let i = |name: &str| ConfigKey::new(name, ConfigType::Int);
    ConfigDef::new()
        .define(s(S3_BUCKET).importance(Importance::High).validator(Validator::NonEmptyString).doc("The S3 Bucket."))
        .define(s(S3_REGION).default("us-west-2").doc("The AWS region to be used the connector."))
        .define(s(STORE_URL).default("").importance(Importance::High).doc("Store's connection URL, if applicable (an S3-compatible endpoint such as http://127.0.0.1:9000)."))
        .define(s(ACCESS_KEY).default("").importance(Importance::High).doc("The AWS access key ID. Empty: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN from the environment."))
        .define(ConfigKey::new(SECRET_KEY, ConfigType::Password).default("").importance(Importance::High).doc("The secret access key."))
        .define(ConfigKey::new(PATH_STYLE, ConfigType::Boolean).default("true").doc("Use path-style access (bucket in the path, not the host name)."))
        .define(i(PART_SIZE).default((25 * MIB).to_string()).validator(Validator::between(5.0 * MIB as f64, i32::MAX as f64)).doc("The Part Size in S3 Multi-part Uploads."))
        .define(s(COMPRESSION).default("none").validator(Validator::one_of(&["none", "gzip"])).doc("Compression type for files written to S3 (JSON and byte-array formats)."))
        .define(i(COMPRESSION_LEVEL).default("-1").validator(Validator::between(-1.0, 9.0)).doc("Compression level for gzip; -1 is the default level."))
        .define(s(PARQUET_CODEC).default("snappy").validator(Validator::one_of(&["none", "uncompressed", "snappy", "gzip", "zstd"])).doc("The Parquet compression codec."))
        .define(s(TOPICS_DIR).default("topics").importance(Importance::High).doc("Top level directory to store the data ingested from Kafka."))
        .define(s(DIRECTORY_DELIM).default("/").doc("Directory delimiter pattern"))
        .define(s(FILE_DELIM).default("+").doc("File delimiter pattern"))
        .define(i(ZERO_PAD).default("10").validator(Validator::at_least(0.0)).doc("Width to zero-pad offsets in store's filenames if offsets are too short in order to provide fixed-width filenames that can be ordered by simple lexicographic sorting."))
        .define(ConfigKey::new(FORMAT_CLASS, ConfigType::Class).importance(Importance::High).doc("The format class to use when writing data to the store (io.confluent.connect.s3.format.{json.JsonFormat, avro.AvroFormat, parquet.ParquetFormat, bytearray.ByteArrayFormat})."))
        .define(s(BYTEARRAY_EXTENSION).default(".bin").doc("Output file extension for ByteArrayFormat."))
        .define(s(BYTEARRAY_SEPARATOR).default("\\n").doc("String inserted between records for ByteArrayFormat (escapes \\n, \\r, \\t understood)."))
        .define(ConfigKey::new(PARTITIONER_CLASS, ConfigType::Class).default("io.confluent.connect.storage.partitioner.DefaultPartitioner").importance(Importance::High).doc("The partitioner to use when writing data to the store."))
        .define(ConfigKey::new(PARTITION_FIELD, ConfigType::List).default("").doc("The name of the partitioning field when FieldPartitioner is used."))
        .define(s(PATH_FORMAT).default("").doc("Joda-style pattern of the TimeBasedPartitioner's directories, e.g. 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH."))
        .define(l(PARTITION_DURATION).default("-1").doc("The duration of a partition in milliseconds, used by TimeBasedPartitioner."))
        .define(s(LOCALE).default("").doc("The locale to use when partitioning with TimeBasedPartitioner (only the Gregorian calendar is supported)."))
        .define(s(TIMEZONE).default("").doc("The timezone to use when partitioning with TimeBasedPartitioner (an IANA name such as UTC or Europe/Berlin)."))
        .define(s(TIMESTAMP_EXTRACTOR).default("Wallclock").doc("The extractor that gets the timestamp for records: Wallclock, Record, RecordField."))
        .define(s(TIMESTAMP_FIELD).default("timestamp").doc("The record field used by the RecordField extractor (dots for nested fields)."))
        .define(i(FLUSH_SIZE).importance(Importance::High).validator(Validator::at_least(1.0)).doc("Number of records written to store before invoking file commits."))
        .define(l(ROTATE_INTERVAL).default("-1").importance(Importance::High).doc("Rotate a file when the extracted timestamp of a record is this much later than the file's first one (deterministic with Record/RecordField extractors)."))
        .define(l(ROTATE_SCHEDULE_INTERVAL).default("-1").doc("Rotate open files at this wall-clock interval, aligned to the timezone's midnight (not deterministic)."))
        .define(s(NULL_VALUES).default("fail").validator(Validator::one_of_ignore_case(&["fail", "ignore"])).doc("How to handle records with a null value (tombstones)."))
        .define(s(SCHEMA_COMPATIBILITY).default("NONE").validator(Validator::one_of_ignore_case(&["NONE", "BACKWARD", "FORWARD", "FULL"])).doc("The schema compatibility rule to use when the connector is observing schema changes."))
        .define(l(RETRY_BACKOFF).default("200").validator(Validator::at_least(0.0)).doc("How long to wait in milliseconds before attempting the first retry of a failed S3 request."))
        .define(i(PART_RETRIES).default("3").validator(Validator::at_least(0.0)).doc("Maximum number of retry attempts for failed requests."))
        .define(l(BUFFER_PARTITION_MAX).default((64 * MIB).to_string()).validator(Validator::at_least(1.0)).doc("Sluice: bytes buffered per Kafka partition before its files are committed early."))
        .define(l(BUFFER_TOTAL_MAX).default((256 * MIB).to_string()).validator(Validator::at_least(1.0)).doc("Sluice: bytes buffered by the task in total before the largest partition's files are committed early."))
}

/// `schema.compatibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaCompatibility {
    None,
    Backward,
    Forward,
    Full,
}

/// The parsed configuration of one task.
#[derive(Debug, Clone)]
pub struct S3SinkConfig {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    pub path_style: bool,
    pub part_size: usize,
    pub gzip_level: Option<u32>,
    pub parquet_codec: String,
    pub topics_dir: String,
    pub directory_delim: String,
    pub file_delim: String,
    pub zero_pad: usize,
    pub format: FormatKind,
    pub bytearray_extension: String,
    pub bytearray_separator: Vec<u8>,
    pub partitioner: PartitionerKind,
    pub extractor: TimestampExtractor,
    pub flush_size: u64,
    pub rotate_interval_ms: Option<i64>,
    pub rotate_schedule_interval_ms: Option<i64>,
    pub timezone: chrono_tz::Tz,
    pub ignore_null_values: bool,
    pub schema_compatibility: SchemaCompatibility,
    pub retry_backoff_ms: u64,
    pub retries: u32,
    pub buffer_partition_max: usize,
    pub buffer_total_max: usize,
}

fn positive(v: i64) -> Option<i64> {
    (v > 0).then_some(v)
}

fn unescape(s: &str) -> Vec<u8> {
    s.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t").into_bytes()
}

impl S3SinkConfig {
    pub fn parse(props: &Props) -> ConnectResult<S3SinkConfig> {
        let c = config_def().parse(props)?;
        let format = FormatKind::from_class(&c.string(FORMAT_CLASS)?)?;
        let tz_name = c.string(TIMEZONE)?;
        let timezone = if tz_name.is_empty() {
            chrono_tz::UTC
        } else {
            tz_name.parse::<chrono_tz::Tz>().map_err(|e| ConnectError::config(TIMEZONE, format!("Invalid timezone {tz_name}: {e}")))?
        };
        let extractor = TimestampExtractor::from_config(&c.string(TIMESTAMP_EXTRACTOR)?, &c.string(TIMESTAMP_FIELD)?)?;
        let partitioner = PartitionerKind::from_config(
            &c.string(PARTITIONER_CLASS)?,
            &c.list(PARTITION_FIELD)?,
            &c.string(PATH_FORMAT)?,
            c.long(PARTITION_DURATION)?,
            timezone,
        )?;
        let gzip_level = match c.string(COMPRESSION)?.as_str() {
            "gzip" => Some(match c.int(COMPRESSION_LEVEL)? {
                -1 => 6,
                n => n as u32,
            }),
            _ => None,
        };
        if gzip_level.is_some() && !matches!(format, FormatKind::Json | FormatKind::ByteArray) {
            return Err(ConnectError::config(COMPRESSION, "gzip applies to JsonFormat and ByteArrayFormat; use parquet.codec or Avro's own codecs"));
        }
        let schema_compatibility = match c.string(SCHEMA_COMPATIBILITY)?.to_ascii_uppercase().as_str() {
            "BACKWARD" => SchemaCompatibility::Backward,
            "FORWARD" => SchemaCompatibility::Forward,
            "FULL" => SchemaCompatibility::Full,
            _ => SchemaCompatibility::None,
        };
        let endpoint = c.string(STORE_URL)?;
        let rotate_interval_ms = positive(c.long(ROTATE_INTERVAL)?);
        if rotate_interval_ms.is_some() && matches!(extractor, TimestampExtractor::Wallclock) && !matches!(partitioner, PartitionerKind::TimeBased { .. }) {
            tracing::warn!("rotate.interval.ms with the Wallclock extractor rotates by wall-clock time: file boundaries are not deterministic");
        }
        Ok(S3SinkConfig {
            bucket: c.string(S3_BUCKET)?,
            region: c.string(S3_REGION)?,
            endpoint: (!endpoint.is_empty()).then_some(endpoint),
            access_key: c.string(ACCESS_KEY)?,
            secret_key: c.password(SECRET_KEY)?.value().to_string(),
            path_style: c.boolean(PATH_STYLE)?,
            part_size: c.int(PART_SIZE)? as usize,
            gzip_level,
            parquet_codec: c.string(PARQUET_CODEC)?,
            topics_dir: c.string(TOPICS_DIR)?,
            directory_delim: c.string(DIRECTORY_DELIM)?,
            file_delim: c.string(FILE_DELIM)?,
            zero_pad: c.int(ZERO_PAD)? as usize,
            format,
            bytearray_extension: c.string(BYTEARRAY_EXTENSION)?,
            bytearray_separator: unescape(&c.string(BYTEARRAY_SEPARATOR)?),
            partitioner,
            extractor,
            flush_size: c.int(FLUSH_SIZE)? as u64,
            rotate_interval_ms,
            rotate_schedule_interval_ms: positive(c.long(ROTATE_SCHEDULE_INTERVAL)?),
            timezone,
            ignore_null_values: c.string(NULL_VALUES)?.eq_ignore_ascii_case("ignore"),
            schema_compatibility,
            retry_backoff_ms: c.long(RETRY_BACKOFF)? as u64,
            retries: c.int(PART_RETRIES)? as u32,
            buffer_partition_max: c.long(BUFFER_PARTITION_MAX)? as usize,
            buffer_total_max: c.long(BUFFER_TOTAL_MAX)? as usize,
        })
    }

    /// The file extension of the configured format, with its compression.
    pub fn extension(&self) -> String {
        let gz = if self.gzip_level.is_some() { ".gz" } else { "" };
        match self.format {
            FormatKind::Json => format!(".json{gz}"),
            FormatKind::Avro => ".avro".to_string(),
            FormatKind::Parquet => match self.parquet_codec.as_str() {
                "none" | "uncompressed" => ".parquet".to_string(),
                codec => format!(".{codec}.parquet"),
            },
            FormatKind::ByteArray => format!("{}{gz}", self.bytearray_extension),
        }
    }
}

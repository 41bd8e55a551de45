//! The connector's configuration: one [`ConfigDef`] with the key names, defaults and class
//! names of Confluent's `kafka-connect-s3` and `kafka-connect-storage-common`, parsed once
//! into [`S3SinkConfig`]. Keys Confluent does not have (the buffer limits) are Sluice's own
//! and documented as such.

use sluice_sdk::config::Importance::High;
use sluice_sdk::{ConnectError, ConnectResult, Props, Validator, config_keys};

use crate::format::FormatKind;
use crate::partitioner::{PartitionerKind, TimestampExtractor};

const MIB: i64 = 1024 * 1024;

config_keys! {
    /// Every key of the S3 sink.
    pub fn config_def();
    pub S3_BUCKET: String = "s3.bucket.name" => importance(High).validator(Validator::NonEmptyString).doc("The S3 Bucket.");
    pub S3_REGION: String = "s3.region" => default("us-west-2").doc("The AWS region to be used the connector.");
    pub STORE_URL: String = "store.url" => default("").importance(High).doc("Store's connection URL, if applicable (an S3-compatible endpoint such as http://127.0.0.1:9000).");
    pub ACCESS_KEY: String = "aws.access.key.id" => default("").importance(High).doc("The AWS access key ID. Empty: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN from the environment.");
    pub SECRET_KEY: Password = "aws.secret.access.key" => default("").importance(High).doc("The secret access key.");
    pub PATH_STYLE: Boolean = "s3.path.style.access.enabled" => default("true").doc("Use path-style access (bucket in the path, not the host name).");
    pub PART_SIZE: Int = "s3.part.size" => default((25 * MIB).to_string()).validator(Validator::between(5.0 * MIB as f64, i32::MAX as f64)).doc("The Part Size in S3 Multi-part Uploads.");
    pub COMPRESSION: String = "s3.compression.type" => default("none").validator(Validator::one_of(&["none", "gzip"])).doc("Compression type for files written to S3 (JSON and byte-array formats).");
    pub COMPRESSION_LEVEL: Int = "s3.compression.level" => default("-1").validator(Validator::between(-1.0, 9.0)).doc("Compression level for gzip; -1 is the default level.");
    pub PARQUET_CODEC: String = "parquet.codec" => default("snappy").validator(Validator::one_of(&["none", "uncompressed", "snappy", "gzip", "zstd"])).doc("The Parquet compression codec.");
    pub TOPICS_DIR: String = "topics.dir" => default("topics").importance(High).doc("Top level directory to store the data ingested from Kafka.");
    pub DIRECTORY_DELIM: String = "directory.delim" => default("/").doc("Directory delimiter pattern");
    pub FILE_DELIM: String = "file.delim" => default("+").doc("File delimiter pattern");
    pub ZERO_PAD: Int = "filename.offset.zero.pad.width" => default("10").validator(Validator::at_least(0.0)).doc("Width to zero-pad offsets in store's filenames if offsets are too short in order to provide fixed-width filenames that can be ordered by simple lexicographic sorting.");
    pub FORMAT_CLASS: Class = "format.class" => importance(High).doc("The format class to use when writing data to the store (io.confluent.connect.s3.format.{json.JsonFormat, avro.AvroFormat, parquet.ParquetFormat, bytearray.ByteArrayFormat}).");
    pub BYTEARRAY_EXTENSION: String = "format.bytearray.extension" => default(".bin").doc("Output file extension for ByteArrayFormat.");
    pub BYTEARRAY_SEPARATOR: String = "format.bytearray.separator" => default("\\n").doc("String inserted between records for ByteArrayFormat (escapes \\n, \\r, \\t understood).");
    pub PARTITIONER_CLASS: Class = "partitioner.class" => default("io.confluent.connect.storage.partitioner.DefaultPartitioner").importance(High).doc("The partitioner to use when writing data to the store.");
    pub PARTITION_FIELD: List = "partition.field.name" => default("").doc("The name of the partitioning field when FieldPartitioner is used.");
    pub PATH_FORMAT: String = "path.format" => default("").doc("Joda-style pattern of the TimeBasedPartitioner's directories, e.g. 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH.");
    pub PARTITION_DURATION: Long = "partition.duration.ms" => default("-1").doc("The duration of a partition in milliseconds, used by TimeBasedPartitioner.");
    pub LOCALE: String = "locale" => default("").doc("The locale to use when partitioning with TimeBasedPartitioner (only the Gregorian calendar is supported).");
    pub TIMEZONE: String = "timezone" => default("").doc("The timezone to use when partitioning with TimeBasedPartitioner (an IANA name such as UTC or Europe/Berlin).");
    pub TIMESTAMP_EXTRACTOR: String = "timestamp.extractor" => default("Wallclock").doc("The extractor that gets the timestamp for records: Wallclock, Record, RecordField.");
    pub TIMESTAMP_FIELD: String = "timestamp.field" => default("timestamp").doc("The record field used by the RecordField extractor (dots for nested fields).");
    pub FLUSH_SIZE: Int = "flush.size" => importance(High).validator(Validator::at_least(1.0)).doc("Number of records written to store before invoking file commits.");
    pub ROTATE_INTERVAL: Long = "rotate.interval.ms" => default("-1").importance(High).doc("Rotate a file when the extracted timestamp of a record is this much later than the file's first one (deterministic with Record/RecordField extractors).");
    pub ROTATE_SCHEDULE_INTERVAL: Long = "rotate.schedule.interval.ms" => default("-1").doc("Rotate open files at this wall-clock interval, aligned to the timezone's midnight (not deterministic).");
    pub NULL_VALUES: String = "behavior.on.null.values" => default("fail").validator(Validator::one_of_ignore_case(&["fail", "ignore"])).doc("How to handle records with a null value (tombstones).");
    pub SCHEMA_COMPATIBILITY: String = "schema.compatibility" => default("NONE").validator(Validator::one_of_ignore_case(&["NONE", "BACKWARD", "FORWARD", "FULL"])).doc("The schema compatibility rule to use when the connector is observing schema changes.");
    pub RETRY_BACKOFF: Long = "s3.retry.backoff.ms" => default("200").validator(Validator::at_least(0.0)).doc("How long to wait in milliseconds before attempting the first retry of a failed S3 request.");
    pub PART_RETRIES: Int = "s3.part.retries" => default("3").validator(Validator::at_least(0.0)).doc("Maximum number of retry attempts for failed requests.");
    pub BUFFER_PARTITION_MAX: Long = "buffer.partition.max.bytes" => default((64 * MIB).to_string()).validator(Validator::at_least(1.0)).doc("Sluice: bytes buffered per Kafka partition before its files are committed early.");
    pub BUFFER_TOTAL_MAX: Long = "buffer.total.max.bytes" => default((256 * MIB).to_string()).validator(Validator::at_least(1.0)).doc("Sluice: bytes buffered by the task in total before the largest partition's files are committed early.");
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
        let format = FormatKind::from_class(&c.value(FORMAT_CLASS)?)?;
        let tz_name = c.value(TIMEZONE)?;
        let timezone = if tz_name.is_empty() {
            chrono_tz::UTC
        } else {
            tz_name.parse::<chrono_tz::Tz>().map_err(|e| ConnectError::config(TIMEZONE, format!("Invalid timezone {tz_name}: {e}")))?
        };
        let extractor = TimestampExtractor::from_config(&c.value(TIMESTAMP_EXTRACTOR)?, &c.value(TIMESTAMP_FIELD)?)?;
        let partitioner = PartitionerKind::from_config(
            &c.value(PARTITIONER_CLASS)?,
            &c.value(PARTITION_FIELD)?,
            &c.value(PATH_FORMAT)?,
            c.value(PARTITION_DURATION)?,
            timezone,
        )?;
        let gzip_level = match c.value(COMPRESSION)?.as_str() {
            "gzip" => Some(match c.value(COMPRESSION_LEVEL)? {
                -1 => 6,
                n => n as u32,
            }),
            _ => None,
        };
        if gzip_level.is_some() && !matches!(format, FormatKind::Json | FormatKind::ByteArray) {
            return Err(ConnectError::config(COMPRESSION, "gzip applies to JsonFormat and ByteArrayFormat; use parquet.codec or Avro's own codecs"));
        }
        let schema_compatibility = match c.value(SCHEMA_COMPATIBILITY)?.to_ascii_uppercase().as_str() {
            "BACKWARD" => SchemaCompatibility::Backward,
            "FORWARD" => SchemaCompatibility::Forward,
            "FULL" => SchemaCompatibility::Full,
            _ => SchemaCompatibility::None,
        };
        let endpoint = c.value(STORE_URL)?;
        let rotate_interval_ms = positive(c.value(ROTATE_INTERVAL)?);
        if rotate_interval_ms.is_some() && matches!(extractor, TimestampExtractor::Wallclock) && !matches!(partitioner, PartitionerKind::TimeBased { .. }) {
            tracing::warn!("{ROTATE_INTERVAL} with the Wallclock extractor rotates by wall-clock time: file boundaries are not deterministic");
        }
        Ok(S3SinkConfig {
            bucket: c.value(S3_BUCKET)?,
            region: c.value(S3_REGION)?,
            endpoint: (!endpoint.is_empty()).then_some(endpoint),
            access_key: c.value(ACCESS_KEY)?,
            secret_key: c.value(SECRET_KEY)?.value().to_string(),
            path_style: c.value(PATH_STYLE)?,
            part_size: c.value(PART_SIZE)? as usize,
            gzip_level,
            parquet_codec: c.value(PARQUET_CODEC)?,
            topics_dir: c.value(TOPICS_DIR)?,
            directory_delim: c.value(DIRECTORY_DELIM)?,
            file_delim: c.value(FILE_DELIM)?,
            zero_pad: c.value(ZERO_PAD)? as usize,
            format,
            bytearray_extension: c.value(BYTEARRAY_EXTENSION)?,
            bytearray_separator: unescape(&c.value(BYTEARRAY_SEPARATOR)?),
            partitioner,
            extractor,
            flush_size: c.value(FLUSH_SIZE)? as u64,
            rotate_interval_ms,
            rotate_schedule_interval_ms: positive(c.value(ROTATE_SCHEDULE_INTERVAL)?),
            timezone,
            ignore_null_values: c.value(NULL_VALUES)?.eq_ignore_ascii_case("ignore"),
            schema_compatibility,
            retry_backoff_ms: c.value(RETRY_BACKOFF)? as u64,
            retries: c.value(PART_RETRIES)? as u32,
            buffer_partition_max: c.value(BUFFER_PARTITION_MAX)? as usize,
            buffer_total_max: c.value(BUFFER_TOTAL_MAX)? as usize,
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

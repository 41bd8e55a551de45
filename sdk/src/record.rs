//! Records as they cross the SPI: [`SourceRecord`] (from a source task towards Kafka) and
//! [`SinkRecord`] (from Kafka towards a sink task), with Connect-style [`Headers`].
//! [`ConnectRecord`] is what both share, so one transform works on either.

use serde_json::{Map, Value as Json};

use crate::data::{SchemaRef, Value};

/// A source partition or a source offset: a JSON object, as Connect stores them in its offset
/// topic (`["connector", {partition}]` → `{offset}`).
pub type OffsetMap = Map<String, Json>;

/// One header: a key and a value with an optional schema (Connect's `Header`).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

/// Ordered headers; keys may repeat, as in Kafka.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Appends a header.
    pub fn add(&mut self, key: impl Into<String>, schema: Option<SchemaRef>, value: Value) {
        self.0.push(Header { key: key.into(), schema, value });
    }

    /// Appends a string header.
    pub fn add_string(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.add(key, None, Value::String(value.into()));
    }

    /// The last header with this key.
    pub fn last_with_name(&self, key: &str) -> Option<&Header> {
        self.0.iter().rev().find(|h| h.key == key)
    }

    /// Removes every header with this key.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|h| h.key != key);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A record produced by a source task.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Which stream of the source this record came from (a file, a table, a slot...).
    pub source_partition: OffsetMap,
    /// The position in that stream *after* this record: on restart the task is handed the last
    /// committed offset and continues after it.
    pub source_offset: OffsetMap,
    pub topic: String,
    /// `None`: the producer's partitioner chooses (murmur2 of the key bytes, as Kafka's Java client).
    pub kafka_partition: Option<i32>,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    /// Milliseconds since the epoch; `None` lets the producer stamp the record.
    pub timestamp: Option<i64>,
    pub headers: Headers,
}

impl SourceRecord {
    /// A record with no key, headers or explicit partition.
    pub fn new(source_partition: OffsetMap, source_offset: OffsetMap, topic: impl Into<String>, value_schema: Option<SchemaRef>, value: Value) -> SourceRecord {
        SourceRecord {
            source_partition,
            source_offset,
            topic: topic.into(),
            kafka_partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Headers::new(),
        }
    }

    pub fn with_key(mut self, key_schema: Option<SchemaRef>, key: Value) -> SourceRecord {
        self.key_schema = key_schema;
        self.key = key;
        self
    }
}

/// Kafka's timestamp type of a consumed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    NoTimestamp,
    CreateTime,
    LogAppendTime,
}

/// A record consumed from Kafka and handed to a sink task.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub topic: String,
    pub kafka_partition: i32,
    /// The record's own offset in its partition (not the next one to read).
    pub kafka_offset: i64,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    pub timestamp: Option<i64>,
    pub timestamp_type: TimestampType,
    pub headers: Headers,
}

/// What source and sink records share (Connect's `ConnectRecord<R>`): transforms and
/// predicates are written once against this trait.
pub trait ConnectRecord: Clone + Send + Sync + 'static {
    fn topic(&self) -> &str;
    fn set_topic(&mut self, topic: String);
    fn kafka_partition(&self) -> Option<i32>;
    /// The record's offset in its Kafka partition: only sink records have one.
    fn kafka_offset(&self) -> Option<i64> {
        None
    }
    fn key_schema(&self) -> Option<&SchemaRef>;
    fn key(&self) -> &Value;
    fn set_key(&mut self, schema: Option<SchemaRef>, key: Value);
    fn value_schema(&self) -> Option<&SchemaRef>;
    fn value(&self) -> &Value;
    fn set_value(&mut self, schema: Option<SchemaRef>, value: Value);
    /// The key in place (its schema unchanged): for taking parts out of it.
    fn key_mut(&mut self) -> &mut Value;
    /// The value in place (its schema unchanged).
    fn value_mut(&mut self) -> &mut Value;
    fn timestamp(&self) -> Option<i64>;
    fn set_timestamp(&mut self, timestamp: Option<i64>);
    fn headers(&self) -> &Headers;
    fn headers_mut(&mut self) -> &mut Headers;
}

/// Implements [`ConnectRecord`] for a struct with the usual field names (`topic`, `key_schema`,
/// `key`, `value_schema`, `value`, `timestamp`, `headers`); the partition expression is given.
/// Exported (hidden) for the guest SDK's transform record.
#[doc(hidden)]
#[macro_export]
macro_rules! connect_record_impl {
    ($ty:ty, |$s:ident| $partition:expr) => {
        $crate::connect_record_impl!($ty, |$s| $partition, None);
    };
    ($ty:ty, |$s:ident| $partition:expr, $offset:expr) => {
        impl $crate::ConnectRecord for $ty {
            fn topic(&self) -> &str {
                &self.topic
            }
            fn set_topic(&mut self, topic: String) {
                self.topic = topic;
            }
            fn kafka_partition(&self) -> Option<i32> {
                let $s = self;
                $partition
            }
            fn kafka_offset(&self) -> Option<i64> {
                #[allow(unused_variables)]
                let $s = self;
                $offset
            }
            fn key_schema(&self) -> Option<&$crate::SchemaRef> {
                self.key_schema.as_ref()
            }
            fn key(&self) -> &$crate::Value {
                &self.key
            }
            fn set_key(&mut self, schema: Option<$crate::SchemaRef>, key: $crate::Value) {
                self.key_schema = schema;
                self.key = key;
            }
            fn value_schema(&self) -> Option<&$crate::SchemaRef> {
                self.value_schema.as_ref()
            }
            fn value(&self) -> &$crate::Value {
                &self.value
            }
            fn set_value(&mut self, schema: Option<$crate::SchemaRef>, value: $crate::Value) {
                self.value_schema = schema;
                self.value = value;
            }
            fn key_mut(&mut self) -> &mut $crate::Value {
                &mut self.key
            }
            fn value_mut(&mut self) -> &mut $crate::Value {
                &mut self.value
            }
            fn timestamp(&self) -> Option<i64> {
                self.timestamp
            }
            fn set_timestamp(&mut self, timestamp: Option<i64>) {
                self.timestamp = timestamp;
            }
            fn headers(&self) -> &$crate::Headers {
                &self.headers
            }
            fn headers_mut(&mut self) -> &mut $crate::Headers {
                &mut self.headers
            }
        }
    };
}

connect_record_impl!(SourceRecord, |s| s.kafka_partition, None);
connect_record_impl!(SinkRecord, |s| Some(s.kafka_partition), Some(s.kafka_offset));

/// A Kafka topic-partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Where the broker stored an acknowledged source record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

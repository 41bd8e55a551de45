//! The file connectors of Kafka's quickstart, with the same class names, config keys and
//! semantics as `FileStreamSourceConnector` / `FileStreamSinkConnector`, so Kafka's own
//! `connect-file-source.properties` and `connect-file-sink.properties` run unchanged.
//!
//! - Source: tails a text file (or stdin when `file` is unset), one STRING record per line, up to
//!   `batch.size` lines per poll. Source partition `{"filename": FILE}`, offset `{"position": N}`
//!   = the byte position after the line, so a restart continues after the last committed line.
//!   A line without its newline yet is held back until the newline arrives.
//! - Sink: appends each record's value, rendered as Java's `toString()` would, as one line to
//!   `file` (stdout when unset). Each `put` is written with one `write` call, so a crash never
//!   leaves half a line.
//!
//! Limits: one source task per file (as in Kafka); no file rotation handling.

mod sink;
mod source;

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};

/// The Java class name of the source connector.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
/// The Java class name of the sink connector.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";
/// The version reported for both connectors.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

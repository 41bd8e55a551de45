//! The one error type of the SPI. Each variant says what the runtime does with it.

/// An error raised by a connector, task, converter or transform.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A configuration value is wrong. At creation it is a 400 naming `field`; at start it
    /// fails the connector or task with this message.
    #[error("Invalid value for configuration {field}: {message}")]
    Config { field: String, message: String },
    /// A temporary condition (broker or database unreachable, timeout). The runtime retries the
    /// same call with backoff until `errors.retry.timeout`, then fails the task.
    #[error("{0}")]
    Retriable(String),
    /// One record cannot be processed (conversion, transform, schema mismatch). The runtime
    /// follows `errors.tolerance`: fail the task, or skip the record and report it to the DLQ.
    #[error("{0}")]
    Data(String),
    /// Anything else: the task fails with this message and stays FAILED until restarted.
    #[error("{0}")]
    Fatal(String),
}

impl ConnectError {
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> ConnectError {
        ConnectError::Config { field: field.into(), message: message.into() }
    }

    pub fn fatal(message: impl std::fmt::Display) -> ConnectError {
        ConnectError::Fatal(message.to_string())
    }

    pub fn retriable(message: impl std::fmt::Display) -> ConnectError {
        ConnectError::Retriable(message.to_string())
    }

    pub fn data(message: impl std::fmt::Display) -> ConnectError {
        ConnectError::Data(message.to_string())
    }

    /// Whether the runtime should retry the call that failed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ConnectError::Retriable(_))
    }

    /// Connect's exception class name for this kind of error, used in status traces and in
    /// the `__connect.errors.exception.class.name` DLQ header.
    pub fn class_name(&self) -> &'static str {
        match self {
            ConnectError::Config { .. } => "org.apache.kafka.common.config.ConfigException",
            ConnectError::Retriable(_) => "org.apache.kafka.connect.errors.RetriableException",
            ConnectError::Data(_) => "org.apache.kafka.connect.errors.DataException",
            ConnectError::Fatal(_) => "org.apache.kafka.connect.errors.ConnectException",
        }
    }
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> ConnectError {
        use std::io::ErrorKind::*;
        match e.kind() {
            Interrupted | WouldBlock | TimedOut => ConnectError::Retriable(e.to_string()),
            _ => ConnectError::Fatal(e.to_string()),
        }
    }
}

/// The SPI's result type.
pub type ConnectResult<T> = Result<T, ConnectError>;

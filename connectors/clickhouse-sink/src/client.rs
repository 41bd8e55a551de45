//! The ClickHouse side: a thin layer over the `clickhouse` crate's HTTP client (queries as raw
//! bytes, inserts of pre-encoded RowBinary bodies via `insert_formatted_with`), table
//! descriptions, the server's version and what it supports, and the retry policy: which server
//! errors are temporary (retried by the runtime), which mean the table changed (re-DESCRIBE and
//! retry once) and which are fatal.

use bytes::Bytes;
use clickhouse::{Client, Compression};
use clickhouse_types::DataTypeNode;
use sluice_sdk::ConnectError;

use crate::config::{SinkConfig, Validation};

/// A failed ClickHouse call.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ChError {
    /// ClickHouse's exception code (`Code: 60` → 60), if the server answered.
    pub code: Option<u32>,
    pub message: String,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Unreachable, overloaded, timed out: retry later.
    Temporary,
    /// The table or its columns differ from what we encoded for: describe again.
    SchemaChanged,
    Fatal,
}

/// How long one request may take before it counts as a temporary failure.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Server codes that say "try again later" (network, timeouts, memory, too many parts, replicas).
const TEMPORARY_CODES: &[u32] = &[3, 159, 164, 202, 203, 209, 210, 241, 242, 252, 285, 319, 425, 999, 1000];
/// Server codes that say the insert does not match the table.
const SCHEMA_CODES: &[u32] = &[8, 10, 16, 27, 33, 47, 53, 60, 81, 117];

impl ChError {
    fn from_client(e: clickhouse::error::Error) -> ChError {
        use clickhouse::error::Error as E;
        let message = e.to_string();
        let code = message.split("Code: ").nth(1).and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()).and_then(|d| d.parse().ok());
        let kind = match (&e, code) {
            (E::Network(_) | E::TimedOut, _) => ErrorKind::Temporary,
            (_, Some(c)) if TEMPORARY_CODES.contains(&c) => ErrorKind::Temporary,
            (_, Some(c)) if SCHEMA_CODES.contains(&c) => ErrorKind::SchemaChanged,
            (E::BadResponse(m), None) if m.contains("503") || m.contains("502") || m.contains("504") => ErrorKind::Temporary,
            _ => ErrorKind::Fatal,
        };
        ChError { code, message, kind }
    }

    /// The SPI error: temporary → Retriable, else Fatal.
    pub fn into_connect(self, what: &str) -> ConnectError {
        match self.kind {
            ErrorKind::Temporary => ConnectError::retriable(format!("{what}: {}", self.message)),
            _ => ConnectError::fatal(format!("{what}: {}", self.message)),
        }
    }
}

pub type ChResult<T> = Result<T, ChError>;

/// `name` as a ClickHouse identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// `s` as a ClickHouse string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// How a column gets its value (DESCRIBE's `default_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultKind {
    None,
    Default,
    /// MATERIALIZED, ALIAS, EPHEMERAL: never inserted.
    Computed,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    pub ty: DataTypeNode,
    pub default: DefaultKind,
}

/// What the server can do, from `SELECT version()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion(pub u32, pub u32);

impl ServerVersion {
    pub fn parse(s: &str) -> ServerVersion {
        let mut it = s.trim().split('.').map(|p| p.parse().unwrap_or(0));
        ServerVersion(it.next().unwrap_or(0), it.next().unwrap_or(0))
    }
    /// `insert_deduplication_token` (22.2).
    pub fn dedup_token(self) -> bool {
        self >= ServerVersion(22, 2)
    }
    /// RowBinaryWithNamesAndTypes as an input format with type checks (the crate's validation).
    pub fn names_and_types(self) -> bool {
        self >= ServerVersion(22, 1)
    }
    /// DateTime64, Bool, Map without experimental flags.
    pub fn modern_types(self) -> bool {
        self >= ServerVersion(22, 1)
    }
    /// ReplacingMergeTree(version, is_deleted) (23.2).
    pub fn replacing_is_deleted(self) -> bool {
        self >= ServerVersion(23, 2)
    }
}

/// A connection to one ClickHouse server (a pool: clones share it).
#[derive(Clone)]
pub struct Ch {
    client: Client,
    pub version: ServerVersion,
    /// Inserts carry column names and types (RowBinaryWithNamesAndTypes).
    pub validation: bool,
    pub database: String,
}

impl Ch {
    /// Connects and asks the server's version. Unreachable → Retriable.
    pub async fn connect(cfg: &SinkConfig) -> Result<Ch, ConnectError> {
        let client = Client::default()
            .with_url(&cfg.url)
            .with_user(&cfg.username)
            .with_password(&cfg.password)
            .with_compression(if cfg.lz4 { Compression::Lz4 } else { Compression::None })
            .with_validation(false);
        let mut ch = Ch { client, version: ServerVersion(0, 0), validation: false, database: cfg.database.clone() };
        let v = ch.query_text("SELECT version()").await.map_err(|e| e.into_connect(&format!("cannot reach ClickHouse at {}", cfg.url)))?;
        ch.version = ServerVersion::parse(&v);
        ch.validation = match cfg.validation {
            Validation::On => true,
            Validation::Off => false,
            Validation::Auto => ch.version.names_and_types(),
        };
        ch.client = ch.client.clone().with_validation(ch.validation);
        tracing::info!(server = v.trim(), validation = ch.validation, "connected to ClickHouse");
        Ok(ch)
    }

    /// `db`.`table`
    pub fn qualified(&self, table: &str) -> String {
        format!("{}.{}", ident(&self.database), ident(table))
    }

    /// Runs a statement and returns its output as text (TabSeparated).
    pub async fn query_text(&self, sql: &str) -> ChResult<String> {
        self.query_bytes(sql, "TabSeparated").await.map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    async fn query_bytes(&self, sql: &str, format: &str) -> ChResult<Vec<u8>> {
        let timed_out = || ChError { code: None, message: format!("no answer within {REQUEST_TIMEOUT:?}"), kind: ErrorKind::Temporary };
        tokio::time::timeout(REQUEST_TIMEOUT, self.query_bytes_inner(sql, format)).await.map_err(|_| timed_out())?
    }

    async fn query_bytes_inner(&self, sql: &str, format: &str) -> ChResult<Vec<u8>> {
        let mut cursor = self.client.query_raw(sql).fetch_bytes(format).map_err(ChError::from_client)?;
        let mut out = Vec::new();
        while let Some(chunk) = cursor.next().await.map_err(ChError::from_client)? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Runs a query and parses each JSONEachRow line.
    pub async fn query_json(&self, sql: &str) -> ChResult<Vec<serde_json::Value>> {
        let bytes = self.query_bytes(sql, "JSONEachRow").await?;
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| ChError { code: None, message: format!("bad JSONEachRow line {l}: {e}"), kind: ErrorKind::Fatal }))
            .collect()
    }

    /// Runs a DDL or other statement without output.
    pub async fn execute(&self, sql: &str) -> ChResult<()> {
        tracing::debug!(sql, "ClickHouse statement");
        let timed_out = || ChError { code: None, message: format!("no answer within {REQUEST_TIMEOUT:?}"), kind: ErrorKind::Temporary };
        tokio::time::timeout(REQUEST_TIMEOUT, self.client.query_raw(sql).execute()).await.map_err(|_| timed_out())?.map_err(ChError::from_client)
    }

    /// The insertable and computed columns of a table; `None` if it does not exist.
    pub async fn describe(&self, table: &str) -> ChResult<Option<Vec<Column>>> {
        let rows = match self.query_json(&format!("DESCRIBE TABLE {}", self.qualified(table))).await {
            Ok(rows) => rows,
            Err(e) if e.code == Some(60) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut columns = Vec::with_capacity(rows.len());
        for row in rows {
            let name = row["name"].as_str().unwrap_or_default().to_string();
            let type_name = row["type"].as_str().unwrap_or_default().to_string();
            let ty = DataTypeNode::new(&type_name).map_err(|e| ChError {
                code: None,
                message: format!("column {name} of {table}: cannot parse type {type_name}: {e}"),
                kind: ErrorKind::Fatal,
            })?;
            let default = match row["default_type"].as_str().unwrap_or_default() {
                "" => DefaultKind::None,
                "DEFAULT" => DefaultKind::Default,
                _ => DefaultKind::Computed,
            };
            columns.push(Column { name, type_name, ty, default });
        }
        Ok(Some(columns))
    }

    /// Sends one INSERT whose body is already encoded (`sql` ends in `FORMAT ...`).
    pub async fn insert(&self, sql: &str, body: Bytes, settings: &[(String, String)]) -> ChResult<()> {
        let mut insert = self.client.insert_formatted_with(sql).with_timeouts(Some(REQUEST_TIMEOUT), Some(REQUEST_TIMEOUT));
        for (k, v) in settings {
            insert = insert.with_setting(k, v);
        }
        insert.send(body).await.map_err(ChError::from_client)?;
        insert.end().await.map_err(ChError::from_client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_quoting() {
        assert!(!ServerVersion::parse("18.16.1").dedup_token());
        assert!(ServerVersion::parse("24.3.1.5").dedup_token());
        assert_eq!(ident("a`b"), "`a\\`b`");
        assert_eq!(literal("it's"), "'it\\'s'");
    }
}

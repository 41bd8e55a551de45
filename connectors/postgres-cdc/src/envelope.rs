//! Debezium's change event shape (targeting Debezium 2.5 with the JsonConverter):
//!
//! - key: struct `PREFIX.SCHEMA.TABLE.Key` of the primary key columns (no key without one);
//! - value: struct `PREFIX.SCHEMA.TABLE.Envelope` (version 1) with `before` and `after`
//!   (optional `PREFIX.SCHEMA.TABLE.Value`), `source` (`io.debezium.connector.postgresql.Source`),
//!   `op` (`c`, `u`, `d`, `r`, `t`), `ts_ms` (when the connector processed the event) and
//!   `transaction` (optional `event.block`: `{id, total_order, data_collection_order}` when
//!   `provide.transaction.metadata` is on, otherwise null);
//! - a tombstone (same key, null value) after each delete when `tombstones.on.delete`.
//!
//! Nullable columns are optional fields; `NOT NULL` columns are required and, when a key-only
//! old tuple leaves them out, get Debezium's fallback (0, "", false...).

use std::sync::Arc;

use sluice_sdk::{Schema, SchemaRef, Struct, Value};

use crate::pgoutput::Datum;
use crate::types::{PgType, TypeMapping, fallback};

pub const CONNECTOR: &str = "postgresql";
/// `source.version`: the Debezium release whose events these match, tagged with Sluice's.
pub const VERSION: &str = concat!("2.5.4.Final+sluice.", env!("CARGO_PKG_VERSION"));

/// One column of a captured table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub pg_type: PgType,
    pub optional: bool,
    pub primary_key: bool,
    /// Left out of events by `column.exclude.list`.
    pub excluded: bool,
}

/// A captured table's shape and the schemas of its events. Rebuilt when a Relation message
/// shows a different column list (ALTER TABLE).
#[derive(Debug)]
pub struct TableSchema {
    pub schema: String,
    pub table: String,
    /// `SCHEMA.TABLE`, Debezium's data collection name (transaction metadata).
    pub data_collection: String,
    pub topic: String,
    pub columns: Vec<Column>,
    pub key_schema: Option<SchemaRef>,
    pub row_schema: SchemaRef,
    pub envelope_schema: SchemaRef,
    mapping: TypeMapping,
}

/// `io.debezium.connector.postgresql.Source`.
pub fn source_schema() -> Schema {
    Schema::struct_builder()
        .name("io.debezium.connector.postgresql.Source")
        .field("version", Schema::string())
        .field("connector", Schema::string())
        .field("name", Schema::string())
        .field("ts_ms", Schema::int64())
        .field(
            "snapshot",
            Schema::string()
                .optional()
                .name("io.debezium.data.Enum")
                .version(1)
                .parameter("allowed", "true,last,false,incremental")
                .default_value(Value::String("false".into())),
        )
        .field("db", Schema::string())
        .field("sequence", Schema::string().optional())
        .field("schema", Schema::string())
        .field("table", Schema::string())
        .field("txId", Schema::int64().optional())
        .field("lsn", Schema::int64().optional())
        .field("xmin", Schema::int64().optional())
}

fn transaction_schema() -> Schema {
    Schema::struct_builder()
        .name("event.block")
        .version(1)
        .optional()
        .field("id", Schema::string())
        .field("total_order", Schema::int64())
        .field("data_collection_order", Schema::int64())
}

/// Where an event came from: the `source` block's variable part.
#[derive(Debug, Clone, Default)]
pub struct SourceInfo {
    /// Commit time (streaming) or snapshot time, ms since the epoch.
    pub ts_ms: i64,
    /// `"true"`, `"last"` or `"false"`.
    pub snapshot: &'static str,
    pub tx_id: Option<i64>,
    pub lsn: Option<i64>,
    /// Debezium's `["last commit LSN","this event's LSN"]`.
    pub sequence: Option<String>,
}

/// The operation of a change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
    Read,
    Truncate,
}

impl Op {
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
            Op::Truncate => "t",
        }
    }
}

/// Avro-safe name part, as Debezium's `SchemaNameAdjuster` makes it.
fn adjust(s: &str) -> String {
    s.chars().enumerate().map(|(i, c)| if c.is_ascii_alphanumeric() || c == '_' || (c == '-' && i > 0) { c } else { '_' }).collect()
}

impl TableSchema {
    pub fn new(prefix: &str, schema: &str, table: &str, columns: Vec<Column>, mapping: TypeMapping) -> TableSchema {
        let base = format!("{}.{}.{}", adjust(prefix), adjust(schema), adjust(table));
        let mut row = Schema::struct_builder();
        let mut key = Schema::struct_builder();
        for c in columns.iter().filter(|c| !c.excluded) {
            let s = mapping.schema(&c.pg_type);
            if c.primary_key {
                key = key.field(&c.name, s.clone());
            }
            row = row.field(&c.name, if c.optional { s.optional() } else { s });
        }
        let row_schema = row.name(format!("{base}.Value")).optional().build();
        let key_schema = (!key.fields.is_empty()).then(|| key.name(format!("{base}.Key")).build());
        let envelope_schema = Schema::struct_builder()
            .name(format!("{base}.Envelope"))
            .version(1)
            .field("before", (*row_schema).clone())
            .field("after", (*row_schema).clone())
            .field("source", source_schema())
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .field("transaction", transaction_schema())
            .build();
        TableSchema {
            topic: format!("{prefix}.{schema}.{table}"),
            data_collection: format!("{schema}.{table}"),
            schema: schema.to_string(),
            table: table.to_string(),
            columns,
            key_schema,
            row_schema,
            envelope_schema,
            mapping,
        }
    }

    /// The row struct of a tuple. `fill` supplies values the tuple lacks (an unchanged TOASTed
    /// column): the old tuple's value with REPLICA IDENTITY FULL, otherwise `placeholder`.
    pub fn row(&self, tuple: &[Datum], fill: Option<&[Datum]>, placeholder: &str) -> Result<Struct, String> {
        let mut s = Struct::with_capacity(self.columns.len());
        for (i, c) in self.columns.iter().enumerate() {
            if c.excluded {
                continue;
            }
            let datum = match tuple.get(i) {
                Some(Datum::Unchanged) => match fill.and_then(|f| f.get(i)) {
                    Some(d @ Datum::Text(_)) => d,
                    _ => {
                        s.fields.push((c.name.clone(), self.unavailable(c, placeholder)));
                        continue;
                    }
                },
                Some(d) => d,
                None => &Datum::Null,
            };
            let v = match datum {
                Datum::Text(t) => self.mapping.value(&c.pg_type, t).map_err(|e| format!("column {}.{}.{}: {e}", self.schema, self.table, c.name))?,
                _ if c.optional => Value::Null,
                _ => fallback(&self.mapping.schema(&c.pg_type)),
            };
            s.fields.push((c.name.clone(), v));
        }
        Ok(s)
    }

    /// Debezium's `unavailable.value.placeholder` in the column's own type.
    fn unavailable(&self, c: &Column, placeholder: &str) -> Value {
        let schema = self.mapping.schema(&c.pg_type);
        match schema.schema_type {
            sluice_sdk::SchemaType::String => Value::String(placeholder.to_string()),
            sluice_sdk::SchemaType::Bytes => Value::Bytes(placeholder.as_bytes().to_vec()),
            sluice_sdk::SchemaType::Array if schema.value_schema.as_ref().is_some_and(|e| e.schema_type == sluice_sdk::SchemaType::String) => {
                Value::Array(vec![Value::String(placeholder.to_string())])
            }
            _ if c.optional => Value::Null,
            _ => fallback(&schema),
        }
    }

    /// The key struct taken from a row struct (primary key columns).
    pub fn key(&self, row: &Struct) -> Value {
        if self.key_schema.is_none() {
            return Value::Null;
        }
        let mut k = Struct::with_capacity(2);
        for c in self.columns.iter().filter(|c| c.primary_key && !c.excluded) {
            k.fields.push((c.name.clone(), row.get(&c.name).cloned().unwrap_or(Value::Null)));
        }
        Value::Struct(k)
    }

    /// The envelope value of one change.
    pub fn envelope(&self, op: Op, before: Option<Struct>, after: Option<Struct>, source: Value, now_ms: i64) -> Value {
        Value::Struct(Struct {
            fields: vec![
                ("before".into(), before.map_or(Value::Null, Value::Struct)),
                ("after".into(), after.map_or(Value::Null, Value::Struct)),
                ("source".into(), source),
                ("op".into(), Value::String(op.code().into())),
                ("ts_ms".into(), Value::Int64(now_ms)),
                ("transaction".into(), Value::Null),
            ],
        })
    }

    /// The `source` block of an event of this table.
    pub fn source(&self, prefix: &str, db: &str, info: &SourceInfo) -> Value {
        source_block(prefix, db, &self.schema, &self.table, info)
    }
}

/// A `source` block; `schema` and `table` are empty for logical decoding messages.
pub fn source_block(prefix: &str, db: &str, schema: &str, table: &str, info: &SourceInfo) -> Value {
    Value::Struct(Struct {
        fields: vec![
            ("version".into(), Value::String(VERSION.into())),
            ("connector".into(), Value::String(CONNECTOR.into())),
            ("name".into(), Value::String(prefix.into())),
            ("ts_ms".into(), Value::Int64(info.ts_ms)),
            ("snapshot".into(), Value::String(info.snapshot.into())),
            ("db".into(), Value::String(db.into())),
            ("sequence".into(), info.sequence.clone().map_or(Value::Null, Value::String)),
            ("schema".into(), Value::String(schema.into())),
            ("table".into(), Value::String(table.into())),
            ("txId".into(), info.tx_id.map_or(Value::Null, Value::Int64)),
            ("lsn".into(), info.lsn.map_or(Value::Null, Value::Int64)),
            ("xmin".into(), Value::Null),
        ],
    })
}

/// Logical decoding messages (`pg_logical_emit_message`) as Debezium's
/// `LogicalDecodingMessageMonitor` sends them to `PREFIX.message`: key
/// `io.debezium.connector.postgresql.MessageKey {prefix}`, value
/// `io.debezium.connector.postgresql.MessageValue {op: "m", ts_ms, source, transaction,
/// message {prefix, content}}` with the content as bytes (`binary.handling.mode=bytes`).
pub struct LogicalMessages {
    pub topic: String,
    pub key_schema: SchemaRef,
    pub value_schema: SchemaRef,
}

impl LogicalMessages {
    pub fn new(prefix: &str) -> LogicalMessages {
        let key = Schema::struct_builder().name("io.debezium.connector.postgresql.MessageKey").version(1).field("prefix", Schema::string().optional());
        let block = Schema::struct_builder()
            .name("io.debezium.connector.postgresql.Message")
            .version(1)
            .field("prefix", Schema::string().optional())
            .field("content", Schema::bytes().optional());
        let value = Schema::struct_builder()
            .name("io.debezium.connector.postgresql.MessageValue")
            .version(1)
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .field("source", source_schema())
            .field("transaction", transaction_schema())
            .field("message", block);
        LogicalMessages { topic: format!("{prefix}.message"), key_schema: Arc::new(key), value_schema: Arc::new(value) }
    }

    pub fn key(&self, prefix: &str) -> Value {
        Value::Struct(Struct::new().put("prefix", prefix.to_string()))
    }

    pub fn value(&self, prefix: &str, content: Vec<u8>, source: Value, now_ms: i64) -> Value {
        Value::Struct(Struct {
            fields: vec![
                ("op".into(), Value::String("m".into())),
                ("ts_ms".into(), Value::Int64(now_ms)),
                ("source".into(), source),
                ("transaction".into(), Value::Null),
                ("message".into(), Value::Struct(Struct::new().put("prefix", prefix.to_string()).put("content", Value::Bytes(content)))),
            ],
        })
    }
}

/// Transaction metadata (`provide.transaction.metadata`) as Debezium's `TransactionMonitor`
/// sends it to `PREFIX.transaction`: key `io.debezium.connector.common.TransactionMetadataKey
/// {id}`, value `io.debezium.connector.common.TransactionMetadataValue {status, id, event_count,
/// data_collections, ts_ms}` — `BEGIN` before a transaction's first change event, `END` after
/// its last, with the count of events per table (`SCHEMA.TABLE`).
pub struct TransactionMetadata {
    pub topic: String,
    pub key_schema: SchemaRef,
    pub value_schema: SchemaRef,
}

impl TransactionMetadata {
    pub fn new(topic: String) -> TransactionMetadata {
        let key = Schema::struct_builder().name("io.debezium.connector.common.TransactionMetadataKey").version(1).field("id", Schema::string());
        let collection = Schema::struct_builder().field("data_collection", Schema::string()).field("event_count", Schema::int64());
        let value = Schema::struct_builder()
            .name("io.debezium.connector.common.TransactionMetadataValue")
            .version(1)
            .field("status", Schema::string())
            .field("id", Schema::string())
            .field("event_count", Schema::int64().optional())
            .field("data_collections", Schema::array(collection).optional())
            .field("ts_ms", Schema::int64());
        TransactionMetadata { topic, key_schema: Arc::new(key), value_schema: Arc::new(value) }
    }

    pub fn key(&self, id: &str) -> Value {
        Value::Struct(Struct::new().put("id", id.to_string()))
    }

    pub fn begin(&self, id: &str, ts_ms: i64) -> Value {
        Value::Struct(Struct {
            fields: vec![
                ("status".into(), Value::String("BEGIN".into())),
                ("id".into(), Value::String(id.into())),
                ("event_count".into(), Value::Null),
                ("data_collections".into(), Value::Null),
                ("ts_ms".into(), Value::Int64(ts_ms)),
            ],
        })
    }

    /// `collections`: events per `SCHEMA.TABLE`, in order of their first event.
    pub fn end(&self, id: &str, ts_ms: i64, collections: &[(String, u64)]) -> Value {
        let total: u64 = collections.iter().map(|(_, n)| n).sum();
        let list = collections.iter().map(|(c, n)| Value::Struct(Struct::new().put("data_collection", c.clone()).put("event_count", *n as i64))).collect();
        Value::Struct(Struct {
            fields: vec![
                ("status".into(), Value::String("END".into())),
                ("id".into(), Value::String(id.into())),
                ("event_count".into(), Value::Int64(total as i64)),
                ("data_collections".into(), Value::Array(list)),
                ("ts_ms".into(), Value::Int64(ts_ms)),
            ],
        })
    }
}

/// A change event's `transaction` block (`event.block`).
pub fn transaction_block(id: &str, total_order: u64, data_collection_order: u64) -> Value {
    Value::Struct(Struct {
        fields: vec![
            ("id".into(), Value::String(id.into())),
            ("total_order".into(), Value::Int64(total_order as i64)),
            ("data_collection_order".into(), Value::Int64(data_collection_order as i64)),
        ],
    })
}

/// Puts `block` into an envelope built by [`TableSchema::envelope`].
pub fn set_transaction(envelope: &mut Value, block: Value) {
    if let Value::Struct(s) = envelope
        && let Some(slot) = s.fields.iter_mut().find(|(name, _)| name == "transaction")
    {
        slot.1 = block;
    }
}

/// Heartbeat records (Debezium's `io.debezium.connector.common.Heartbeat`) and their key.
pub fn heartbeat_schemas() -> (SchemaRef, SchemaRef) {
    (
        Arc::new(Schema::struct_builder().name("io.debezium.connector.common.ServerNameKey").field("serverName", Schema::string())),
        Arc::new(Schema::struct_builder().name("io.debezium.connector.common.Heartbeat").field("ts_ms", Schema::int64())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DecimalMode, TimePrecisionMode};

    fn table() -> TableSchema {
        let col = |name: &str, t: PgType, optional: bool, pk: bool| Column { name: name.into(), pg_type: t, optional, primary_key: pk, excluded: false };
        TableSchema::new(
            "srv",
            "public",
            "docs",
            vec![col("id", PgType::Int4, false, true), col("title", PgType::Text, false, false), col("body", PgType::Text, true, false)],
            TypeMapping { decimal: DecimalMode::Precise, time: TimePrecisionMode::Adaptive },
        )
    }

    #[test]
    fn envelope_follows_its_schema() {
        let t = table();
        assert_eq!(t.topic, "srv.public.docs");
        assert_eq!(t.envelope_schema.name.as_deref(), Some("srv.public.docs.Envelope"));
        assert_eq!(t.key_schema.as_ref().and_then(|k| k.name.clone()).as_deref(), Some("srv.public.docs.Key"));
        let after = t.row(&[Datum::Text("1".into()), Datum::Text("hi".into()), Datum::Null], None, "?").unwrap();
        let src = t.source("srv", "db", &SourceInfo { ts_ms: 1, snapshot: "false", tx_id: Some(7), lsn: Some(8), sequence: None });
        let env = t.envelope(Op::Create, None, Some(after.clone()), src, 2);
        t.envelope_schema.validate_value(&env).unwrap();
        assert_eq!(t.key(&after), Value::Struct(Struct::new().put("id", 1)));
    }

    #[test]
    fn transaction_metadata_follows_its_schemas() {
        let m = TransactionMetadata::new("srv.transaction".into());
        m.key_schema.validate_value(&m.key("571:1234")).unwrap();
        m.value_schema.validate_value(&m.begin("571:1234", 9)).unwrap();
        let end = m.end("571:1234", 9, &[("s1.a".into(), 2), ("s2.a".into(), 1)]);
        m.value_schema.validate_value(&end).unwrap();
        let Value::Struct(end) = end else { panic!("a struct") };
        assert_eq!(end.get("event_count"), Some(&Value::Int64(3)));
        let t = table();
        let src = t.source("srv", "db", &SourceInfo::default());
        let mut env = t.envelope(Op::Create, None, None, src, 2);
        set_transaction(&mut env, transaction_block("571:1234", 3, 2));
        t.envelope_schema.validate_value(&env).unwrap();
        let Value::Struct(env) = env else { panic!("a struct") };
        assert_eq!(env.get("transaction"), Some(&transaction_block("571:1234", 3, 2)));
    }

    #[test]
    fn logical_messages_follow_their_schema() {
        let m = LogicalMessages::new("srv");
        assert_eq!(m.topic, "srv.message");
        let src = source_block("srv", "db", "", "", &SourceInfo { ts_ms: 1, snapshot: "false", tx_id: None, lsn: Some(8), sequence: None });
        m.value_schema.validate_value(&m.value("audit", b"hi".to_vec(), src, 2)).unwrap();
        m.key_schema.validate_value(&m.key("audit")).unwrap();
    }

    #[test]
    fn unchanged_toast_comes_from_the_old_tuple_or_the_placeholder() {
        let t = table();
        let new = [Datum::Text("1".into()), Datum::Text("x".into()), Datum::Unchanged];
        let old = [Datum::Text("1".into()), Datum::Text("x".into()), Datum::Text("big".into())];
        assert_eq!(t.row(&new, Some(&old), "?").unwrap().get("body"), Some(&Value::String("big".into())));
        assert_eq!(t.row(&new, None, "__debezium_unavailable_value").unwrap().get("body"), Some(&Value::String("__debezium_unavailable_value".into())));
        // A key-only old tuple: required columns get Debezium's fallback.
        let key_only = t.row(&[Datum::Text("1".into()), Datum::Null, Datum::Null], None, "?").unwrap();
        assert_eq!(key_only.get("title"), Some(&Value::String(String::new())));
        t.row_schema.validate_value(&Value::Struct(key_only)).unwrap();
    }
}

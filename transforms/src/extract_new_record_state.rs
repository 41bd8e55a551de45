//! Debezium's `io.debezium.transforms.ExtractNewRecordState`: turns a change event envelope
//! (`before`, `after`, `source`, `op`, `ts_ms`) into the flat row state `after`.
//!
//! - `drop.tombstones` (default true) drops the null-valued records that follow deletes;
//! - `delete.handling.mode`: `drop` (default) drops deletes, `rewrite` emits `before` with
//!   `__deleted=true` (and `__deleted=false` on other events), `none` passes the delete on
//!   with a null value;
//! - `add.fields` / `add.headers` (prefix `add.fields.prefix` / `add.headers.prefix`, default
//!   `__`) copy envelope fields (`op`, `ts_ms`) or `source` fields (`table`, `lsn`,
//!   `source.ts_ms`) into the row or the headers; a dot in the name becomes `_`.
//!
//! Records that are not envelopes (no `op` and `after` fields: heartbeats, schema changes)
//! pass through unchanged. Works on schema'd structs and schemaless maps.

use sluice_sdk::{ConfigDef, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, SchemaRef, SchemaType, Struct, Validator, Value, config_keys};

use sluice_codecs::debezium::{self, field as get};

use crate::Smt;
use crate::util::{SchemaCache, copy_struct_basics, push_field};

#[derive(Debug, Clone, Copy, PartialEq)]
enum DeleteMode {
    Drop,
    Rewrite,
    None,
}

/// An `add.fields`/`add.headers` entry: where to read it and the name to write.
#[derive(Debug, Clone)]
struct FieldRef {
    /// `None`: the envelope itself; `Some(s)`: the envelope's struct field `s` (normally `source`).
    container: Option<String>,
    field: String,
    out_name: String,
}

pub struct ExtractNewRecordState {
    drop_tombstones: bool,
    delete_mode: DeleteMode,
    add_fields: Vec<FieldRef>,
    add_headers: Vec<FieldRef>,
    cache: SchemaCache,
}

impl Default for ExtractNewRecordState {
    fn default() -> Self {
        ExtractNewRecordState {
            drop_tombstones: true,
            delete_mode: DeleteMode::Drop,
            add_fields: Vec::new(),
            add_headers: Vec::new(),
            cache: SchemaCache::default(),
        }
    }
}

config_keys! {
    fn config_def();
    DROP_TOMBSTONES: Boolean = "drop.tombstones" => default("true").importance(Importance::Low).doc("Debezium by default generates a tombstone record to enable Kafka compaction after a delete record was generated. This record is usually filtered out to avoid duplicates as a delete record is converted to a tombstone record, too");
    DELETE_HANDLING_MODE: String = "delete.handling.mode" => default("drop").importance(Importance::Medium).validator(Validator::one_of(&["drop", "rewrite", "none"])).doc("How to handle delete records. Options are: none - records are passed, drop - records are removed (the default), rewrite - __deleted field is added to records.");
    ADD_FIELDS: List = "add.fields" => default("").importance(Importance::Low).doc("Adds each field listed, prefixed with __ (or __<struct>_ if the struct is specified). Example: 'version,connector,source.ts_ms' would add __version, __connector and __source_ts_ms fields. Optionally one can also map new field name like version:VERSION,connector:CONNECTOR,source.ts_ms:EVENT_TIMESTAMP.");
    ADD_FIELDS_PREFIX: String = "add.fields.prefix" => default("__").importance(Importance::Low).doc("Adds this prefix to each field listed.");
    ADD_HEADERS: List = "add.headers" => default("").importance(Importance::Low).doc("Adds each field listed to the header, __ (or __<struct>_ if the struct is specified).");
    ADD_HEADERS_PREFIX: String = "add.headers.prefix" => default("__").importance(Importance::Low).doc("Adds this prefix listed to each header.");
}

const ENVELOPE_FIELDS: &[&str] = &["op", "ts_ms", "ts_us", "ts_ns", "before", "after", "source", "transaction"];
const DELETED: &str = "__deleted";

fn field_refs(items: &[String], prefix: &str) -> Vec<FieldRef> {
    items
        .iter()
        .map(|f| {
            let (container, field) = match f.split_once('.') {
                Some((c, n)) => (Some(c.to_string()), n.to_string()),
                None if ENVELOPE_FIELDS.contains(&f.as_str()) => (None, f.clone()),
                None => (Some("source".to_string()), f.clone()),
            };
            FieldRef { container, field, out_name: format!("{prefix}{}", f.replace('.', "_")) }
        })
        .collect()
}

fn resolve<'a>(envelope: &'a Value, r: &FieldRef) -> &'a Value {
    let container = match &r.container {
        None => Some(envelope),
        Some(c) => get(envelope, c),
    };
    container.and_then(|c| get(c, &r.field)).unwrap_or(&Value::Null)
}

fn resolve_schema(envelope: &Schema, r: &FieldRef) -> SchemaRef {
    let container = match &r.container {
        None => Some(envelope),
        Some(c) => envelope.field_named(c).map(|f| &*f.schema),
    };
    let base = container.and_then(|c| c.field_named(&r.field)).map(|f| (*f.schema).clone()).unwrap_or_else(Schema::string);
    base.optional().build()
}

impl ExtractNewRecordState {
    fn row_schema(&self, envelope: &SchemaRef) -> ConnectResult<SchemaRef> {
        self.cache.get_or_build(envelope, || {
            let state = envelope.field_named("after").or_else(|| envelope.field_named("before")).map(|f| f.schema.clone());
            let mut out = match &state {
                Some(s) if s.schema_type == SchemaType::Struct => {
                    let mut o = copy_struct_basics(s);
                    for f in &s.fields {
                        push_field(&mut o, &f.name, f.schema.clone());
                    }
                    o
                }
                _ => Schema::struct_builder().optional(),
            };
            for r in &self.add_fields {
                push_field(&mut out, &r.out_name, resolve_schema(envelope, r));
            }
            if self.delete_mode == DeleteMode::Rewrite {
                push_field(&mut out, DELETED, Schema::string().optional().build());
            }
            Ok(out.build())
        })
    }
}

impl Smt for ExtractNewRecordState {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.drop_tombstones = c.value(DROP_TOMBSTONES)?;
        self.delete_mode = match c.value(DELETE_HANDLING_MODE)?.as_str() {
            "rewrite" => DeleteMode::Rewrite,
            "none" => DeleteMode::None,
            _ => DeleteMode::Drop,
        };
        self.add_fields = field_refs(&c.value(ADD_FIELDS)?, &c.value(ADD_FIELDS_PREFIX)?);
        self.add_headers = field_refs(&c.value(ADD_HEADERS)?, &c.value(ADD_HEADERS_PREFIX)?);
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let envelope = record.value().clone();
        if envelope.is_null() {
            return Ok(if self.drop_tombstones { None } else { Some(record) });
        }
        if !debezium::has_envelope_fields(&envelope) {
            return Ok(Some(record));
        }
        for h in &self.add_headers {
            let schema = record.value_schema().map(|s| resolve_schema(s, h));
            record.headers_mut().add(h.out_name.clone(), schema, resolve(&envelope, h).clone());
        }
        let after = get(&envelope, "after").filter(|v| !v.is_null());
        let (state, deleted) = match (after, self.delete_mode) {
            (Some(a), _) => (a.clone(), false),
            (None, DeleteMode::Drop) => return Ok(None),
            (None, DeleteMode::None) => {
                let schema = record.value_schema().map(|s| self.row_schema(s)).transpose()?;
                record.set_value(schema, Value::Null);
                return Ok(Some(record));
            }
            (None, DeleteMode::Rewrite) => (get(&envelope, "before").cloned().unwrap_or(Value::Null), true),
        };
        let additions: Vec<(String, Value)> = self
            .add_fields
            .iter()
            .map(|r| (r.out_name.clone(), resolve(&envelope, r).clone()))
            .chain((self.delete_mode == DeleteMode::Rewrite).then(|| (DELETED.to_string(), Value::from(if deleted { "true" } else { "false" }))))
            .collect();
        match record.value_schema().cloned() {
            Some(schema) => {
                let row_schema = self.row_schema(&schema)?;
                let mut row = match state {
                    Value::Struct(s) => s,
                    _ => Struct::new(),
                };
                for (n, v) in additions {
                    row.set(n, v);
                }
                // Keep the schema's field order.
                let ordered = Struct { fields: row_schema.fields.iter().map(|f| (f.name.clone(), row.get(&f.name).cloned().unwrap_or(Value::Null))).collect() };
                record.set_value(Some(row_schema), Value::Struct(ordered));
            }
            None => {
                let mut row = match state {
                    Value::Map(m) => m,
                    Value::Struct(s) => s.fields.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
                    _ => Vec::new(),
                };
                for (n, v) in additions {
                    crate::util::map_put(&mut row, &n, v);
                }
                record.set_value(None, Value::Map(row));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adapter;
    use crate::util::test_support::*;
    use sluice_sdk::{SinkRecord, Transform};

    fn configured(p: &[(&str, &str)]) -> Adapter<ExtractNewRecordState> {
        let mut t = Adapter(ExtractNewRecordState::default());
        Transform::<SinkRecord>::configure(&mut t, &props(p)).unwrap();
        t
    }

    fn row_schema() -> Schema {
        Schema::struct_builder().name("dbserver1.inventory.customers.Value").field("id", Schema::int32()).field("first_name", Schema::string()).optional()
    }

    fn envelope_schema() -> SchemaRef {
        let source = Schema::struct_builder()
            .name("io.debezium.connector.postgresql.Source")
            .field("table", Schema::string())
            .field("lsn", Schema::int64().optional())
            .field("ts_ms", Schema::int64());
        Schema::struct_builder()
            .name("dbserver1.inventory.customers.Envelope")
            .field("before", row_schema())
            .field("after", row_schema())
            .field("source", source)
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .build()
    }

    fn envelope(op: &str, before: Option<Struct>, after: Option<Struct>) -> Value {
        let source = Struct::new().put("table", "customers").put("lsn", 33_227_720i64).put("ts_ms", 1_559_033_904_863i64);
        Value::Struct(
            Struct::new()
                .put("before", before.map_or(Value::Null, Value::Struct))
                .put("after", after.map_or(Value::Null, Value::Struct))
                .put("source", source)
                .put("op", op)
                .put("ts_ms", 1_559_033_904_961i64),
        )
    }

    fn anne() -> Struct {
        Struct::new().put("id", 1004).put("first_name", "Anne")
    }

    // Debezium docs: the "c" event of customer 1004 becomes its row; add.fields=op,table,lsn,source.ts_ms.
    #[test]
    fn doc_example_create_with_added_fields_and_headers() {
        let t = configured(&[("add.fields", "op,table,lsn,source.ts_ms"), ("add.headers", "db,op")]);
        let out = t.apply(sink(None, Value::Null, Some(envelope_schema()), envelope("c", None, Some(anne())))).unwrap().unwrap();
        assert_eq!(
            out.value,
            Value::Struct(anne().put("__op", "c").put("__table", "customers").put("__lsn", 33_227_720i64).put("__source_ts_ms", 1_559_033_904_863i64))
        );
        let s = out.value_schema.unwrap();
        assert_eq!(s.name.as_deref(), Some("dbserver1.inventory.customers.Value"));
        assert_eq!(s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["id", "first_name", "__op", "__table", "__lsn", "__source_ts_ms"]);
        assert_eq!(out.headers.last_with_name("__op").unwrap().value, Value::from("c"));
        assert!(out.headers.last_with_name("__db").is_some());
    }

    #[test]
    fn deletes_and_tombstones_by_mode() {
        let delete = || sink(None, Value::Null, Some(envelope_schema()), envelope("d", Some(anne()), None));
        let tombstone = || sink(None, Value::Null, None, Value::Null);
        assert!(configured(&[]).apply(delete()).unwrap().is_none(), "drop is the default");
        assert!(configured(&[]).apply(tombstone()).unwrap().is_none(), "tombstones dropped by default");
        assert!(configured(&[("drop.tombstones", "false")]).apply(tombstone()).unwrap().is_some());
        let rewritten = configured(&[("delete.handling.mode", "rewrite")]).apply(delete()).unwrap().unwrap();
        assert_eq!(rewritten.value, Value::Struct(anne().put("__deleted", "true")));
        let updated = configured(&[("delete.handling.mode", "rewrite")])
            .apply(sink(None, Value::Null, Some(envelope_schema()), envelope("u", Some(anne()), Some(anne()))))
            .unwrap()
            .unwrap();
        assert_eq!(updated.value, Value::Struct(anne().put("__deleted", "false")));
        let none = configured(&[("delete.handling.mode", "none")]).apply(delete()).unwrap().unwrap();
        assert_eq!(none.value, Value::Null);
    }

    #[test]
    fn schemaless_envelopes_and_other_records() {
        let env = map(&[("before", Value::Null), ("after", map(&[("id", Value::Int64(1))])), ("source", map(&[("table", "t".into())])), ("op", "r".into())]);
        let out = configured(&[("add.fields", "op,table")]).apply(sink(None, Value::Null, None, env)).unwrap().unwrap();
        assert_eq!(out.value, map(&[("id", Value::Int64(1)), ("__op", "r".into()), ("__table", "t".into())]));
        let heartbeat = map(&[("ts_ms", Value::Int64(1))]);
        assert_eq!(configured(&[]).apply(sink(None, Value::Null, None, heartbeat.clone())).unwrap().unwrap().value, heartbeat);
    }
}

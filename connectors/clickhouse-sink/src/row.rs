//! Records → rows: which fields a record offers (a Struct with its schema, a schemaless map,
//! or the row state inside a Debezium change event), and the encoding of a batch of records
//! into one RowBinary body for a table's columns, matched by name.
//!
//! Debezium envelopes (`op`, `before`, `after`, `source`) are unwrapped when `debezium.unwrap`
//! is on: `c`/`r`/`u` write `after`, `d` writes `before` (the key columns at least) with the
//! delete-marker column set to 1 and non-key columns that the event lacks set to their zero,
//! `t` (truncate) and tombstones (null values) are skipped. The version column gets
//! `source.lsn` when present (it grows with every change in Postgres), else the Kafka offset.

#[cfg(test)]
use clickhouse_types::DataTypeNode;
use sluice_codecs::debezium;
use sluice_sdk::{Schema, SinkRecord, Struct, Value};

use crate::client::{Column, DefaultKind};
use crate::rowbinary::{self, is_nullable, put_leb128, put_str};

/// The fields of one record.
pub enum Fields<'a> {
    Struct(&'a Struct, Option<&'a Schema>),
    Map(&'a [(Value, Value)]),
}

impl<'a> Fields<'a> {
    /// The value (and its schema) of field `name`; `hint` is the field's position last time.
    fn get(&self, name: &str, hint: &mut usize) -> Option<(&'a Value, Option<&'a Schema>)> {
        match self {
            Fields::Struct(s, schema) => {
                let idx = position_at(&s.fields, hint, |(n, _)| n == name)?;
                let value = &s.fields[idx].1;
                let fs = schema.and_then(|sc| match sc.fields.get(idx) {
                    Some(f) if f.name == name => Some(&*f.schema),
                    _ => sc.field_named(name).map(|f| &*f.schema),
                });
                Some((value, fs))
            }
            // Schemaless JSON from one producer keeps its key order too.
            Fields::Map(entries) => position_at(entries, hint, |(k, _)| k.as_str() == Some(name)).map(|idx| (&entries[idx].1, None)),
        }
    }

    /// Field names, for schema evolution.
    pub fn schema(&self) -> Option<&'a Schema> {
        match self {
            Fields::Struct(_, schema) => *schema,
            Fields::Map(_) => None,
        }
    }
}

/// The position of the first item that `is`, trying `hint` (its position last time) first;
/// `hint` is updated.
fn position_at<T>(items: &[T], hint: &mut usize, is: impl Fn(&T) -> bool) -> Option<usize> {
    if !items.get(*hint).is_some_and(&is) {
        *hint = items.iter().position(is)?;
    }
    Some(*hint)
}

/// One record as a row.
pub struct Row<'a> {
    pub fields: Fields<'a>,
    /// From a Debezium envelope: (version, deleted).
    pub change: Option<(u64, bool)>,
}

fn fields_of<'a>(v: &'a Value, schema: Option<&'a Schema>) -> Option<Fields<'a>> {
    match v {
        Value::Struct(s) => Some(Fields::Struct(s, schema)),
        Value::Map(m) => Some(Fields::Map(m)),
        _ => None,
    }
}

/// The row a record writes; `Ok(None)` for records that write nothing (tombstones, truncates).
pub fn row_of<'a>(r: &'a SinkRecord, unwrap: bool) -> Result<Option<Row<'a>>, String> {
    let schema = r.value_schema.as_deref();
    if r.value.is_null() {
        return Ok(None);
    }
    if unwrap && debezium::is_change_event(&r.value) {
        let (op, state) = debezium::op_state(&r.value);
        let Some(debezium::OpState { part, deleted }) = state else { return Ok(None) };
        let state = debezium::field(&r.value, part).ok_or_else(|| format!("change event op={op} without '{part}'"))?;
        let fields = fields_of(state, debezium::state_schema(schema, part)).ok_or_else(|| format!("change event op={op} has a null or non-struct '{part}'"))?;
        let version = debezium::source_lsn(&r.value).unwrap_or(r.kafka_offset);
        return Ok(Some(Row { fields, change: Some((version.max(0) as u64, deleted)) }));
    }
    match fields_of(&r.value, schema) {
        Some(fields) => Ok(Some(Row { fields, change: None })),
        None => Err(format!("the record value is a {}, not a struct or a map", r.value.type_name())),
    }
}

/// A batch encoder for one table: the column list is fixed per batch.
pub struct BatchEncoder<'c> {
    columns: Vec<&'c Column>,
    version_column: &'c str,
    deleted_column: &'c str,
    hints: Vec<usize>,
    pub body: Vec<u8>,
    pub rows: usize,
}

impl<'c> BatchEncoder<'c> {
    /// Every ordinary column, plus DEFAULT columns that some row of the batch provides.
    pub fn new(table: &'c [Column], rows: &[Row<'_>], version_column: &'c str, deleted_column: &'c str, capacity: usize) -> BatchEncoder<'c> {
        let columns: Vec<&Column> = table
            .iter()
            .filter(|c| match c.default {
                DefaultKind::None => true,
                DefaultKind::Computed => false,
                DefaultKind::Default => {
                    let mut hint = 0;
                    rows.iter().any(|r| {
                        (r.change.is_some() && (c.name == version_column || c.name == deleted_column))
                            || r.fields.get(&c.name, &mut hint).is_some_and(|(v, _)| !v.is_null())
                    })
                }
            })
            .collect();
        let hints = vec![0; columns.len()];
        BatchEncoder { columns, version_column, deleted_column, hints, body: Vec::with_capacity(capacity), rows: 0 }
    }

    /// `INSERT INTO t (cols) FORMAT RowBinary`, or with a names-and-types header when validating.
    pub fn statement(&self, qualified_table: &str, validation: bool) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| crate::client::ident(&c.name)).collect();
        let format = if validation { "RowBinaryWithNamesAndTypes" } else { "RowBinary" };
        format!("INSERT INTO {qualified_table} ({}) FORMAT {format}", cols.join(", "))
    }

    /// The RowBinaryWithNamesAndTypes header.
    pub fn header(&self) -> Vec<u8> {
        let mut h = Vec::new();
        put_leb128(&mut h, self.columns.len() as u64);
        for c in &self.columns {
            put_str(&mut h, c.name.as_bytes());
        }
        for c in &self.columns {
            put_str(&mut h, c.type_name.as_bytes());
        }
        h
    }

    /// Appends one row; on error the body is left as it was.
    pub fn push(&mut self, row: &Row<'_>) -> Result<(), String> {
        let start = self.body.len();
        let result = self.encode_row(row);
        match result {
            Ok(()) => self.rows += 1,
            Err(_) => self.body.truncate(start),
        }
        result
    }

    fn encode_row(&mut self, row: &Row<'_>) -> Result<(), String> {
        let deleted = row.change.is_some_and(|(_, d)| d);
        for (i, col) in self.columns.iter().enumerate() {
            let out = &mut self.body;
            if let Some((version, is_deleted)) = row.change {
                if col.name == self.version_column {
                    rowbinary::encode(&Value::Int64(version as i64), None, &col.ty, out).map_err(|e| format!("column {}: {e}", col.name))?;
                    continue;
                }
                if col.name == self.deleted_column {
                    rowbinary::encode(&Value::Int8(is_deleted as i8), None, &col.ty, out).map_err(|e| format!("column {}: {e}", col.name))?;
                    continue;
                }
            }
            match row.fields.get(&col.name, &mut self.hints[i]) {
                Some((v, schema)) if !v.is_null() || is_nullable(&col.ty) || schema.is_some_and(|s| s.default_value.is_some()) => {
                    rowbinary::encode(v, schema, &col.ty, out).map_err(|e| format!("column {}: {e}", col.name))?
                }
                _ if is_nullable(&col.ty) => out.push(1),
                _ if col.default == DefaultKind::Default || deleted => rowbinary::encode_zero(&col.ty, out),
                Some(_) => return Err(format!("column {}: null for the non-Nullable type {}", col.name, col.type_name)),
                None => return Err(format!("the record has no field for the non-Nullable column {} ({})", col.name, col.type_name)),
            }
        }
        Ok(())
    }
}

/// The column type for a ClickHouse `DataTypeNode` text (for tests).
#[cfg(test)]
fn col(name: &str, ty: &str) -> Column {
    Column { name: name.into(), type_name: ty.into(), ty: DataTypeNode::new(ty).unwrap(), default: DefaultKind::None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::TimestampType;

    fn record(value: Value, schema: Option<sluice_sdk::SchemaRef>, offset: i64) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: offset,
            key_schema: None,
            key: Value::Null,
            value_schema: schema,
            value,
            timestamp: None,
            timestamp_type: TimestampType::CreateTime,
            headers: Default::default(),
        }
    }

    #[test]
    fn debezium_envelopes_become_versioned_rows() {
        let after = Value::Struct(Struct::new().put("id", 1i64).put("name", "a"));
        let source = Value::Struct(Struct::new().put("lsn", 99i64));
        let upd = record(Value::Struct(Struct::new().put("op", "u").put("before", Value::Null).put("after", after).put("source", source)), None, 5);
        let del =
            record(Value::Struct(Struct::new().put("op", "d").put("before", Value::Struct(Struct::new().put("id", 1i64))).put("after", Value::Null)), None, 6);
        let rows: Vec<Row> = [&upd, &del].iter().map(|r| row_of(r, true).unwrap().unwrap()).collect();
        assert_eq!(rows[0].change, Some((99, false)));
        assert_eq!(rows[1].change, Some((6, true)));
        let table = vec![col("id", "Int64"), col("name", "String"), col("_version", "UInt64"), col("_is_deleted", "UInt8")];
        let mut enc = BatchEncoder::new(&table, &rows, "_version", "_is_deleted", 0);
        for r in &rows {
            enc.push(r).unwrap();
        }
        let mut want = Vec::new();
        want.extend_from_slice(&1i64.to_le_bytes());
        want.extend_from_slice(&[1, b'a']);
        want.extend_from_slice(&99u64.to_le_bytes());
        want.push(0);
        want.extend_from_slice(&1i64.to_le_bytes());
        want.push(0); // the delete lacks `name`: zero value
        want.extend_from_slice(&6u64.to_le_bytes());
        want.push(1);
        assert_eq!(enc.body, want);
        assert!(row_of(&record(Value::Null, None, 7), true).unwrap().is_none(), "tombstones write nothing");
    }

    #[test]
    fn maps_in_any_key_order_and_envelopes_are_recognised() {
        let map = |pairs: &[(&str, Value)]| Value::Map(pairs.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect());
        assert!(debezium::is_change_event(&map(&[("after", Value::Null), ("op", "c".into())])));
        assert!(!debezium::is_change_event(&map(&[("op", "c".into())])), "no before or after");
        assert!(!debezium::is_change_event(&map(&[("op", Value::Int32(1)), ("before", Value::Null)])), "op is not a string");
        assert!(!debezium::is_change_event(&Value::Struct(Struct::new().put("after", 1i64))));
        // Rows whose keys come in another order than the first one's still find each column.
        let table = vec![col("id", "Int64"), col("n", "String")];
        let a = record(map(&[("id", Value::Int64(1)), ("n", "x".into())]), None, 0);
        let b = record(map(&[("n", "y".into()), ("id", Value::Int64(2))]), None, 1);
        let rows = [row_of(&a, true).unwrap().unwrap(), row_of(&b, true).unwrap().unwrap()];
        let mut enc = BatchEncoder::new(&table, &rows, "_version", "_is_deleted", 0);
        for r in &rows {
            enc.push(r).unwrap();
        }
        let want = [&1i64.to_le_bytes()[..], &[1, b'x'], &2i64.to_le_bytes(), &[1, b'y']].concat();
        assert_eq!(enc.body, want);
    }

    #[test]
    fn a_bad_row_leaves_the_body_unchanged() {
        let table = vec![col("id", "Int64"), col("n", "String")];
        let good = record(Value::Map(vec![("id".into(), Value::Int64(1)), ("n".into(), "x".into())]), None, 0);
        let bad = record(Value::Map(vec![("id".into(), "nope".into())]), None, 1);
        let rows = [row_of(&good, true).unwrap().unwrap(), row_of(&bad, true).unwrap().unwrap()];
        let mut enc = BatchEncoder::new(&table, &rows, "_version", "_is_deleted", 0);
        enc.push(&rows[0]).unwrap();
        let len = enc.body.len();
        assert!(enc.push(&rows[1]).is_err());
        assert_eq!((enc.body.len(), enc.rows), (len, 1));
        assert!(row_of(&record(Value::Int64(3), None, 2), true).is_err());
    }
}

//! Schema evolution (`auto.create`, `auto.evolve`): ClickHouse DDL from a record's Connect
//! schema.
//!
//! Table design. Plain records: `ENGINE = MergeTree ORDER BY tuple()` — an append-only log.
//! Debezium change events (PeerDB-style): the row's columns plus `_version UInt64` and
//! `_is_deleted UInt8`, `ENGINE = ReplacingMergeTree(_version[, _is_deleted]) ORDER BY (<key
//! fields>)`: every change is a new row; merges keep the highest version per key, and a delete
//! is a row with `_is_deleted = 1` (on 23.2+ the engine drops it at `FINAL`/cleanup merges;
//! before, filter it). Read the current state with
//! `SELECT * FROM t FINAL WHERE _is_deleted = 0`. Key columns are not Nullable (ORDER BY needs it).
//!
//! Types: Int8..Int64, Float32/64 as such; Boolean → Bool (22.1+) or UInt8; String and Bytes →
//! String; Decimal(scale) → Decimal(38, scale); Date → Date; Timestamp and Debezium timestamps →
//! DateTime64(3|6|9) (22.1+) or DateTime; Array → Array; Map → Map (22.1+) or String (JSON);
//! Struct → String (JSON). Optional fields → Nullable(T) (not for Array/Map). Columns added by
//! `auto.evolve` for new fields are Nullable, so earlier rows read as NULL.

use sluice_sdk::data::logical;
use sluice_sdk::{Schema, SchemaType};

use crate::client::{Ch, ServerVersion, ident};

/// The ClickHouse type for a Connect schema.
pub fn column_type(schema: &Schema, server: ServerVersion, nullable: bool) -> String {
    let modern = server.modern_types();
    let name = schema.name.as_deref().unwrap_or("");
    let base = match schema.schema_type {
        SchemaType::Bytes if logical::decimal_scale(schema).is_some() => format!("Decimal(38, {})", logical::decimal_scale(schema).unwrap_or(0).clamp(0, 38)),
        SchemaType::Int32 if name == logical::DATE || name == "io.debezium.time.Date" => "Date".into(),
        SchemaType::Int64 if name == logical::TIMESTAMP || name.ends_with("time.Timestamp") => if modern { "DateTime64(3)" } else { "DateTime" }.into(),
        SchemaType::Int64 if name.ends_with("MicroTimestamp") => if modern { "DateTime64(6)" } else { "DateTime" }.into(),
        SchemaType::Int64 if name.ends_with("NanoTimestamp") => if modern { "DateTime64(9)" } else { "DateTime" }.into(),
        SchemaType::Int8 => "Int8".into(),
        SchemaType::Int16 => "Int16".into(),
        SchemaType::Int32 => "Int32".into(),
        SchemaType::Int64 => "Int64".into(),
        SchemaType::Float32 => "Float32".into(),
        SchemaType::Float64 => "Float64".into(),
        SchemaType::Boolean => if modern { "Bool" } else { "UInt8" }.into(),
        SchemaType::String | SchemaType::Bytes | SchemaType::Struct => "String".into(),
        SchemaType::Array => {
            let item = schema.value_schema.as_deref().map(|s| column_type(s, server, s.optional)).unwrap_or_else(|| "String".into());
            return format!("Array({item})");
        }
        SchemaType::Map if modern => {
            let k = schema.key_schema.as_deref().map(|s| column_type(s, server, false)).unwrap_or_else(|| "String".into());
            let v = schema.value_schema.as_deref().map(|s| column_type(s, server, s.optional)).unwrap_or_else(|| "String".into());
            return format!("Map({k}, {v})");
        }
        SchemaType::Map => "String".into(),
    };
    if nullable { format!("Nullable({base})") } else { base }
}

/// What a CREATE TABLE needs to know about the records.
pub struct TableDesign<'a> {
    pub row_schema: &'a Schema,
    /// Debezium change events: (version column, deleted column, key field names).
    pub change: Option<(&'a str, &'a str, Vec<String>)>,
}

/// `CREATE TABLE IF NOT EXISTS ...` for the design.
pub fn create_table_sql(ch: &Ch, table: &str, design: &TableDesign<'_>) -> String {
    let keys: &[String] = design.change.as_ref().map(|(_, _, k)| k.as_slice()).unwrap_or(&[]);
    let mut cols: Vec<String> = design
        .row_schema
        .fields
        .iter()
        .map(|f| {
            let is_key = keys.contains(&f.name);
            format!("{} {}", ident(&f.name), column_type(&f.schema, ch.version, f.schema.optional && !is_key))
        })
        .collect();
    let engine = match &design.change {
        Some((version, deleted, keys)) if !keys.is_empty() => {
            cols.push(format!("{} UInt64", ident(version)));
            cols.push(format!("{} UInt8", ident(deleted)));
            let args = if ch.version.replacing_is_deleted() { format!("{}, {}", ident(version), ident(deleted)) } else { ident(version) };
            format!("ReplacingMergeTree({args}) ORDER BY ({})", keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", "))
        }
        Some((version, deleted, _)) => {
            cols.push(format!("{} UInt64", ident(version)));
            cols.push(format!("{} UInt8", ident(deleted)));
            "MergeTree ORDER BY tuple()".into()
        }
        None => "MergeTree ORDER BY tuple()".into(),
    };
    format!("CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = {engine}", ch.qualified(table), cols.join(", "))
}

/// `ALTER TABLE ... ADD COLUMN` for a new field (always Nullable when the type allows it).
pub fn add_column_sql(ch: &Ch, table: &str, name: &str, schema: &Schema) -> String {
    let nullable = !matches!(schema.schema_type, SchemaType::Array | SchemaType::Map);
    format!("ALTER TABLE {} ADD COLUMN {} {}", ch.qualified(table), ident(name), column_type(schema, ch.version, nullable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_for_old_and_new_servers() {
        let old = ServerVersion(18, 16);
        let new = ServerVersion(24, 8);
        assert_eq!(column_type(&logical::timestamp(), old, false), "DateTime");
        assert_eq!(column_type(&logical::timestamp(), new, true), "Nullable(DateTime64(3))");
        assert_eq!(column_type(&logical::decimal(2), old, false), "Decimal(38, 2)");
        assert_eq!(column_type(&Schema::array(Schema::int32().optional()), old, true), "Array(Nullable(Int32))");
        assert_eq!(column_type(&Schema::boolean(), old, false), "UInt8");
        assert_eq!(column_type(&Schema::map(Schema::string(), Schema::int64()), new, false), "Map(String, Int64)");
    }
}

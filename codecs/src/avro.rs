//! Connect schemas → Avro schemas, as Confluent's `AvroData.fromConnectSchema` maps them
//! (with `connect.meta.data=true`).
//!
//! Int8/Int16 are Avro `int` with `"connect.type": "int8"|"int16"`; Int32 `int`, Int64 `long`,
//! Float32 `float`, Float64 `double`; a struct is a `record` named after the Connect schema; an
//! unnamed struct is `io.confluent.connect.avro.ConnectDefault`, and further unnamed structs of
//! the same schema `ConnectDefault2`, `ConnectDefault3`, ... in the order they are met (as
//! Confluent's `getNameOrDefault` numbers them; an equal struct met again is referenced by its
//! name); an optional schema is a union with `"null"` (null first, or last when the field has a
//! non-null default); field defaults become Avro defaults; string-keyed maps are Avro maps,
//! other maps arrays of `io.confluent.connect.avro.MapEntry` records; Decimal is `bytes` with
//! the `decimal` logical type (precision from `connect.decimal.precision`, else 64), Date
//! `int`/`date`, Time `int`/`time-millis`, Timestamp `long`/`timestamp-millis`; the Connect
//! name, version, doc and parameters travel as `connect.name`, `connect.version`,
//! `connect.doc`, `connect.parameters`. A named record met twice is written by name the second
//! time, as Avro requires.

use std::collections::HashSet;

use serde_json::{Map, Value as Json, json};
use sluice_sdk::data::logical;
use sluice_sdk::{Schema, SchemaRef, SchemaType, Value};

/// The name of an unnamed struct's record (the first one; see the module doc).
pub const DEFAULT_RECORD: &str = "io.confluent.connect.avro.ConnectDefault";
/// The record of a map entry when the map's keys are not strings.
pub const MAP_ENTRY: &str = "io.confluent.connect.avro.MapEntry";
/// The Connect Decimal parameter that carries the Avro precision.
pub const PRECISION: &str = "connect.decimal.precision";

/// The Avro schema (JSON) for a Connect schema.
pub fn to_avro_schema(schema: &Schema) -> Json {
    let mut defined = Names::default();
    with_optional(schema, &mut defined, false)
}

/// The names defined so far in one Avro schema (Confluent's `FromConnectContext`): a named
/// type is defined once and referenced by name afterwards, and unnamed structs are numbered.
#[derive(Default)]
struct Names {
    defined: HashSet<String>,
    /// Unnamed structs met so far, with the name each got (an equal one met again is a
    /// reference to it, as Confluent's `schemaMap` finds it).
    unnamed: Vec<(Schema, String)>,
    /// The key and value schemas of the `MapEntry` record defined first.
    map_entry: Option<(Option<SchemaRef>, Option<SchemaRef>)>,
}

impl Names {
    fn insert(&mut self, name: String) -> bool {
        self.defined.insert(name)
    }

    /// The name of an unnamed struct: `io.confluent.connect.avro.ConnectDefault` for the
    /// first, then `ConnectDefault2`, `ConnectDefault3`, ... (Confluent's `getNameOrDefault`);
    /// `Err` with the name given before when an equal struct was met already.
    fn unnamed(&mut self, schema: &Schema) -> Result<String, String> {
        let key = Schema { optional: false, ..schema.clone() };
        if let Some((_, name)) = self.unnamed.iter().find(|(s, _)| *s == key) {
            return Err(name.clone());
        }
        let n = self.unnamed.len() + 1;
        let name = if n > 1 { format!("{DEFAULT_RECORD}{n}") } else { DEFAULT_RECORD.to_string() };
        self.unnamed.push((key, name.clone()));
        self.defined.insert(name.clone());
        Ok(name)
    }
}

fn with_optional(schema: &Schema, defined: &mut Names, default_first: bool) -> Json {
    let inner = non_optional(schema, defined);
    if !schema.optional {
        return inner;
    }
    if default_first { json!([inner, "null"]) } else { json!(["null", inner]) }
}

fn meta(mut obj: Map<String, Json>, schema: &Schema, record: bool) -> Json {
    if let Some(v) = schema.version {
        obj.insert("connect.version".into(), json!(v));
    }
    if let Some(d) = &schema.doc {
        obj.insert("connect.doc".into(), json!(d));
        if record {
            obj.insert("doc".into(), json!(d));
        }
    }
    if !schema.parameters.is_empty() {
        obj.insert("connect.parameters".into(), json!(schema.parameters));
    }
    if let Some(n) = &schema.name {
        obj.insert("connect.name".into(), json!(n));
    }
    Json::Object(obj)
}

fn primitive(avro_type: &str, connect_type: Option<&str>, schema: &Schema) -> Json {
    if connect_type.is_none() && schema.name.is_none() && schema.version.is_none() && schema.doc.is_none() && schema.parameters.is_empty() {
        return json!(avro_type);
    }
    let mut obj = Map::new();
    obj.insert("type".into(), json!(avro_type));
    if let Some(t) = connect_type {
        obj.insert("connect.type".into(), json!(t));
    }
    meta(obj, schema, false)
}

fn logical_type(avro_type: &str, logical: &str, schema: &Schema) -> Json {
    let mut obj = Map::new();
    obj.insert("type".into(), json!(avro_type));
    if let Some(scale) = logical::decimal_scale(schema) {
        let precision = schema.parameters.get(PRECISION).and_then(|p| p.parse::<u32>().ok()).unwrap_or(64);
        obj.insert("scale".into(), json!(scale));
        obj.insert("precision".into(), json!(precision));
    }
    let mut v = meta(obj, schema, false);
    v["logicalType"] = json!(logical);
    v
}

pub fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rsplit_once('.') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, full),
    }
}

fn non_optional(schema: &Schema, defined: &mut Names) -> Json {
    match (schema.schema_type, schema.name.as_deref()) {
        (SchemaType::Bytes, Some(logical::DECIMAL)) => logical_type("bytes", "decimal", schema),
        (SchemaType::Int32, Some(logical::DATE)) => logical_type("int", "date", schema),
        (SchemaType::Int32, Some(logical::TIME)) => logical_type("int", "time-millis", schema),
        (SchemaType::Int64, Some(logical::TIMESTAMP)) => logical_type("long", "timestamp-millis", schema),
        (SchemaType::Int8, _) => primitive("int", Some("int8"), schema),
        (SchemaType::Int16, _) => primitive("int", Some("int16"), schema),
        (SchemaType::Int32, _) => primitive("int", None, schema),
        (SchemaType::Int64, _) => primitive("long", None, schema),
        (SchemaType::Float32, _) => primitive("float", None, schema),
        (SchemaType::Float64, _) => primitive("double", None, schema),
        (SchemaType::Boolean, _) => primitive("boolean", None, schema),
        (SchemaType::String, _) => primitive("string", None, schema),
        (SchemaType::Bytes, _) => primitive("bytes", None, schema),
        (SchemaType::Array, _) => {
            let items = schema.value_schema.as_deref().map(|s| with_optional(s, defined, false)).unwrap_or(json!("null"));
            let mut obj = Map::new();
            obj.insert("type".into(), json!("array"));
            obj.insert("items".into(), items);
            meta(obj, schema, false)
        }
        (SchemaType::Map, _) => {
            let key = schema.key_schema.as_deref();
            let value = schema.value_schema.as_deref().map(|s| with_optional(s, defined, false)).unwrap_or(json!("null"));
            let mut obj = Map::new();
            if key.is_some_and(|k| k.schema_type == SchemaType::String && !k.optional) {
                obj.insert("type".into(), json!("map"));
                obj.insert("values".into(), value);
            } else {
                let key = key.map(|s| with_optional(s, defined, false)).unwrap_or(json!("null"));
                // Referenced by name only when the MapEntry defined before has the same key and
                // value schemas; another one is defined again, which Avro rejects (never a
                // reference to the wrong record).
                let types = (schema.key_schema.clone(), schema.value_schema.clone());
                let entry = if defined.map_entry.as_ref().is_some_and(|t| *t == types) {
                    json!(MAP_ENTRY)
                } else {
                    defined.map_entry.get_or_insert(types);
                    json!({"type": "record", "name": "MapEntry", "namespace": "io.confluent.connect.avro",
                           "fields": [{"name": "key", "type": key}, {"name": "value", "type": value}]})
                };
                obj.insert("type".into(), json!("array"));
                obj.insert("items".into(), entry);
            }
            meta(obj, schema, false)
        }
        (SchemaType::Struct, name) => {
            let full = match name {
                Some(n) if !defined.insert(n.to_string()) => return json!(n),
                Some(n) => n.to_string(),
                None => match defined.unnamed(schema) {
                    Ok(n) => n,
                    Err(known) => return json!(known),
                },
            };
            let (namespace, short) = split_name(&full);
            let fields: Vec<Json> = schema
                .fields
                .iter()
                .map(|f| {
                    let has_default = f.schema.default_value.as_ref().is_some_and(|d| !d.is_null());
                    let mut field = json!({"name": f.name, "type": with_optional(&f.schema, defined, has_default)});
                    if has_default {
                        if let Some(d) = &f.schema.default_value {
                            field["default"] = default_json(&f.schema, d);
                        }
                    } else if f.schema.optional {
                        field["default"] = Json::Null;
                    }
                    field
                })
                .collect();
            let mut obj = Map::new();
            obj.insert("type".into(), json!("record"));
            obj.insert("name".into(), json!(short));
            if let Some(ns) = namespace {
                obj.insert("namespace".into(), json!(ns));
            }
            obj.insert("fields".into(), Json::Array(fields));
            let mut v = meta(obj, schema, true);
            if name.is_none()
                && let Some(o) = v.as_object_mut()
            {
                o.remove("connect.name");
            }
            v
        }
    }
}

/// A Connect default value as an Avro default (JSON).
pub fn default_json(schema: &Schema, value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Int8(v) => json!(v),
        Value::Int16(v) => json!(v),
        Value::Int32(v) => json!(v),
        Value::Int64(v) => json!(v),
        Value::Float32(v) => json!(v),
        Value::Float64(v) => json!(v),
        Value::Boolean(v) => json!(v),
        Value::String(s) => json!(s),
        // Avro writes bytes defaults as ISO-8859-1 strings.
        Value::Bytes(b) => json!(b.iter().map(|&c| c as char).collect::<String>()),
        Value::Array(items) => Json::Array(items.iter().map(|i| schema.value_schema.as_deref().map(|s| default_json(s, i)).unwrap_or(Json::Null)).collect()),
        Value::Map(entries) => Json::Object(
            entries.iter().map(|(k, v)| (k.to_string(), schema.value_schema.as_deref().map(|s| default_json(s, v)).unwrap_or(Json::Null))).collect(),
        ),
        Value::Struct(s) => {
            Json::Object(schema.fields.iter().map(|f| (f.name.clone(), default_json(&f.schema, s.get(&f.name).unwrap_or(&Value::Null)))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_structs_are_numbered_as_confluent_does() {
        let a = Schema::struct_builder().field("a", Schema::int32());
        let b = Schema::struct_builder().field("b", Schema::string());
        let outer = Schema::struct_builder()
            .field("first", a.clone())
            .field("second", b.clone().optional())
            .field("again", a.clone())
            .field("third", Schema::struct_builder().field("c", Schema::boolean()))
            .build();
        let avro = to_avro_schema(&outer);
        // (path, expected): the outer struct is met first, then its fields depth first.
        assert_eq!(avro["name"], "ConnectDefault");
        assert_eq!(avro["namespace"], "io.confluent.connect.avro");
        assert!(avro.get("connect.name").is_none(), "an unnamed struct has no connect.name");
        let field = |i: usize| avro["fields"][i]["type"].clone();
        let cases = [
            (field(0)["name"].clone(), json!("ConnectDefault2")),
            (field(1)[1]["name"].clone(), json!("ConnectDefault3")),
            (field(2), json!("io.confluent.connect.avro.ConnectDefault2")),
            (field(3)["name"].clone(), json!("ConnectDefault4")),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        assert_eq!(to_avro_schema(&a.build())["name"], "ConnectDefault", "numbering starts again per schema");
    }

    #[test]
    fn map_entries_are_referenced_only_when_equal() {
        let same = Schema::struct_builder()
            .name("M")
            .field("a", Schema::map(Schema::int32(), Schema::string()))
            .field("b", Schema::map(Schema::int32(), Schema::string()))
            .field("c", Schema::map(Schema::int64(), Schema::string()))
            .build();
        let avro = to_avro_schema(&same);
        let items = |i: usize| avro["fields"][i]["type"]["items"].clone();
        assert_eq!(items(0)["name"], "MapEntry");
        assert_eq!(items(1), json!(MAP_ENTRY), "an equal entry is referenced");
        assert_eq!(items(2)["fields"][0]["type"], "long", "a different entry is not a reference to the first");
    }
}

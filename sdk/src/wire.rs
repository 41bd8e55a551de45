//! The JSON forms in which schemas and values cross the WASM plugin boundary (see
//! `sdk/wit/sluice.wit`). Host and guest both link this crate, so both sides read and write
//! exactly the same thing.
//!
//! - Schemas: Connect's JsonConverter envelope form (`{"type":"struct","fields":[{"field":
//!   "id","type":"int64"}],"optional":false,"name":...}`), plus `"default"` in the value form.
//! - Values: a tagged JSON that keeps the exact Connect type: `null`, booleans and strings as
//!   themselves, `{"i8":1}`, `{"i16":..}`, `{"i32":..}`, `{"i64":..}`, `{"f32":..}`,
//!   `{"f64":..}`, `{"bytes":[..]}`, arrays as arrays, `{"map":[[k,v],..]}`,
//!   `{"struct":[["name",v],..]}`.
//!
//! Bytes and strings at the top level of a key or value do not use this encoding (the WIT
//! `payload` carries them raw), so the common cases cost no JSON at all.

use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use crate::config::{ConfigKey, ConfigType, Importance};
use crate::data::{Field, Schema, SchemaRef, SchemaType, Struct, Value};

/// A schema in its JSON form.
pub fn schema_to_json(schema: &Schema) -> Json {
    let mut o = Map::new();
    o.insert("type".into(), json!(schema.schema_type.connect_name()));
    o.insert("optional".into(), json!(schema.optional));
    if let Some(n) = &schema.name {
        o.insert("name".into(), json!(n));
    }
    if let Some(v) = schema.version {
        o.insert("version".into(), json!(v));
    }
    if let Some(d) = &schema.doc {
        o.insert("doc".into(), json!(d));
    }
    if !schema.parameters.is_empty() {
        o.insert("parameters".into(), json!(schema.parameters));
    }
    if let Some(d) = &schema.default_value {
        o.insert("default".into(), value_to_json(d));
    }
    match schema.schema_type {
        SchemaType::Struct => {
            let fields = schema
                .fields
                .iter()
                .map(|f| {
                    let mut fj = schema_to_json(&f.schema);
                    if let Some(m) = fj.as_object_mut() {
                        m.insert("field".into(), json!(f.name));
                    }
                    fj
                })
                .collect();
            o.insert("fields".into(), Json::Array(fields));
        }
        SchemaType::Array => {
            if let Some(items) = &schema.value_schema {
                o.insert("items".into(), schema_to_json(items));
            }
        }
        SchemaType::Map => {
            if let Some(k) = &schema.key_schema {
                o.insert("keys".into(), schema_to_json(k));
            }
            if let Some(v) = &schema.value_schema {
                o.insert("values".into(), schema_to_json(v));
            }
        }
        _ => {}
    }
    Json::Object(o)
}

/// The inverse of [`schema_to_json`].
pub fn schema_from_json(j: &Json) -> Result<Schema, String> {
    let o = j.as_object().ok_or("schema is not a JSON object")?;
    let ty = o.get("type").and_then(Json::as_str).ok_or("schema has no type")?;
    let schema_type = SchemaType::from_connect_name(ty).ok_or_else(|| format!("unknown schema type {ty}"))?;
    let mut s = Schema::of(schema_type);
    s.optional = o.get("optional").and_then(Json::as_bool).unwrap_or(false);
    s.name = o.get("name").and_then(Json::as_str).map(str::to_string);
    s.version = o.get("version").and_then(Json::as_i64).and_then(|v| i32::try_from(v).ok());
    s.doc = o.get("doc").and_then(Json::as_str).map(str::to_string);
    if let Some(p) = o.get("parameters").and_then(Json::as_object) {
        s.parameters = p.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect();
    }
    if let Some(d) = o.get("default") {
        s.default_value = Some(value_from_json(d)?);
    }
    if let Some(fields) = o.get("fields").and_then(Json::as_array) {
        for (index, f) in fields.iter().enumerate() {
            let name = f.get("field").and_then(Json::as_str).ok_or("struct field without a name")?.to_string();
            s.fields.push(Field { name, index, schema: Arc::new(schema_from_json(f)?) });
        }
    }
    if let Some(k) = o.get("keys") {
        s.key_schema = Some(Arc::new(schema_from_json(k)?));
    }
    if let Some(v) = o.get("values").or_else(|| o.get("items")) {
        s.value_schema = Some(Arc::new(schema_from_json(v)?));
    }
    Ok(s)
}

/// How many schemas [`schema_text`] and [`schema_of_text`] remember per thread.
const SCHEMA_CACHE_SIZE: usize = 16;

thread_local! {
    /// Recently seen schemas with their JSON text, most recent first.
    static SCHEMA_CACHE: std::cell::RefCell<Vec<(SchemaRef, std::rc::Rc<str>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn remember(schema: &SchemaRef, text: &std::rc::Rc<str>) {
    SCHEMA_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.insert(0, (schema.clone(), text.clone()));
        c.truncate(SCHEMA_CACHE_SIZE);
    });
}

/// The JSON text of a schema. Records of a stream share a handful of schemas, so the text is
/// remembered per schema (by identity) and not built again for every record that crosses the
/// WASM boundary.
pub fn schema_text(schema: &SchemaRef) -> String {
    let hit = SCHEMA_CACHE.with(|c| c.borrow().iter().find(|(s, _)| Arc::ptr_eq(s, schema)).map(|(_, t)| t.to_string()));
    hit.unwrap_or_else(|| {
        let text: std::rc::Rc<str> = schema_to_json(schema).to_string().into();
        remember(schema, &text);
        text.to_string()
    })
}

/// The schema a JSON text describes; the same text gives the same (shared) schema, without
/// parsing it again.
pub fn schema_of_text(text: &str) -> Result<SchemaRef, String> {
    if let Some(s) = SCHEMA_CACHE.with(|c| c.borrow().iter().find(|(_, t)| &**t == text).map(|(s, _)| s.clone())) {
        return Ok(s);
    }
    let j: Json = serde_json::from_str(text).map_err(|e| format!("schema is not JSON: {e}"))?;
    let schema: SchemaRef = Arc::new(schema_from_json(&j)?);
    remember(&schema, &text.into());
    Ok(schema)
}


/// A value in its tagged JSON form.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Int8(x) => json!({ "i8": x }),
        Value::Int16(x) => json!({ "i16": x }),
        Value::Int32(x) => json!({ "i32": x }),
        Value::Int64(x) => json!({ "i64": x }),
        Value::Float32(x) => json!({ "f32": x }),
        Value::Float64(x) => json!({ "f64": x }),
        Value::Boolean(b) => json!(b),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!({ "bytes": b }),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => json!({ "map": entries.iter().map(|(k, v)| json!([value_to_json(k), value_to_json(v)])).collect::<Vec<_>>() }),
        Value::Struct(s) => json!({ "struct": s.fields.iter().map(|(n, v)| json!([n, value_to_json(v)])).collect::<Vec<_>>() }),
    }
}

fn pairs(j: &Json) -> Result<Vec<(&Json, &Json)>, String> {
    let items = j.as_array().ok_or("expected an array of pairs")?;
    items
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((a, b)),
            _ => Err("expected a [key, value] pair".to_string()),
        })
        .collect()
}

/// The inverse of [`value_to_json`].
pub fn value_from_json(j: &Json) -> Result<Value, String> {
    fn int<T: TryFrom<i64>>(x: &Json) -> Result<T, String> {
        x.as_i64().and_then(|v| T::try_from(v).ok()).ok_or_else(|| format!("{x} is not an integer of the tagged width"))
    }
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::String(s) => Value::String(s.clone()),
        Json::Number(n) => Value::Float64(n.as_f64().unwrap_or_default()),
        Json::Array(items) => Value::Array(items.iter().map(value_from_json).collect::<Result<_, _>>()?),
        Json::Object(o) => {
            let (tag, x) = o.iter().next().filter(|_| o.len() == 1).ok_or("a tagged value has exactly one key")?;
            match tag.as_str() {
                "i8" => Value::Int8(int(x)?),
                "i16" => Value::Int16(int(x)?),
                "i32" => Value::Int32(int(x)?),
                "i64" => Value::Int64(int(x)?),
                "f32" => Value::Float32(x.as_f64().ok_or("f32 is not a number")? as f32),
                "f64" => Value::Float64(x.as_f64().ok_or("f64 is not a number")?),
                "bytes" => Value::Bytes(x.as_array().ok_or("bytes is not an array")?.iter().map(int::<u8>).collect::<Result<_, _>>()?),
                "map" => Value::Map(pairs(x)?.into_iter().map(|(k, v)| Ok((value_from_json(k)?, value_from_json(v)?))).collect::<Result<_, String>>()?),
                "struct" => Value::Struct(Struct {
                    fields: pairs(x)?
                        .into_iter()
                        .map(|(n, v)| Ok((n.as_str().ok_or("struct field name is not a string")?.to_string(), value_from_json(v)?)))
                        .collect::<Result<_, String>>()?,
                }),
                other => return Err(format!("unknown value tag {other}")),
            }
        }
    })
}

/// A config key from the parts a plugin declares across the boundary (Connect's names for
/// the type and importance; unknown names fall back to STRING and MEDIUM).
pub fn config_key(name: &str, config_type: &str, default_value: Option<String>, importance: &str, documentation: &str) -> ConfigKey {
    let ty = match config_type.to_ascii_uppercase().as_str() {
        "BOOLEAN" => ConfigType::Boolean,
        "INT" => ConfigType::Int,
        "SHORT" => ConfigType::Short,
        "LONG" => ConfigType::Long,
        "DOUBLE" => ConfigType::Double,
        "LIST" => ConfigType::List,
        "CLASS" => ConfigType::Class,
        "PASSWORD" => ConfigType::Password,
        _ => ConfigType::String,
    };
    let importance = match importance.to_ascii_uppercase().as_str() {
        "HIGH" => Importance::High,
        "LOW" => Importance::Low,
        _ => Importance::Medium,
    };
    let mut key = ConfigKey::new(name, ty).importance(importance).doc(documentation);
    if let Some(d) = default_value {
        key = key.default(d);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_texts_are_remembered_both_ways() {
        let schema: SchemaRef = Arc::new(Schema::struct_builder().name("Row").field("id", Schema::int64()));
        let text = schema_text(&schema);
        assert_eq!(text, schema_to_json(&schema).to_string());
        let a = schema_of_text(&text).unwrap();
        let b = schema_of_text(&text).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same text gives the same schema");
        assert_eq!(*a, *schema);
        assert!(schema_of_text("{").is_err());
    }

    #[test]
    fn schemas_and_values_round_trip() {
        let schema = Schema::struct_builder()
            .field("id", Schema::int64())
            .field("tags", Schema::array(Schema::string()).optional())
            .field("attrs", Schema::map(Schema::string(), Schema::float32()))
            .name("Order")
            .version(2)
            .build();
        assert_eq!(schema_from_json(&schema_to_json(&schema)).unwrap(), *schema);
        let value = Value::Struct(
            Struct::new()
                .put("id", Value::Int64(7))
                .put("tags", Value::Array(vec![Value::String("a".into()), Value::Null]))
                .put("attrs", Value::Map(vec![(Value::String("w".into()), Value::Float32(1.5))]))
                .put("raw", Value::Bytes(vec![0, 255]))
                .put("small", Value::Int8(-3)),
        );
        assert_eq!(value_from_json(&value_to_json(&value)).unwrap(), value);
        assert!(value_from_json(&json!({"i8": 300})).is_err());
    }
}

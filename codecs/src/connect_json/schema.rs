//! Connect's JSON schema format, as JsonConverter writes it in the `"schema"` part of an
//! envelope: `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],
//! "optional":false,"name":..,"version":..,"doc":..,"parameters":{..},"default":..}` (the
//! type's own keys first, then `optional` and the metadata; a default in the value form of
//! [`JsonValueOptions::converter`]).

use std::sync::Arc;

use serde_json::{Map, Value as Json};
use sluice_sdk::{ConnectError, ConnectResult, Schema, SchemaType};

use super::JsonValueOptions;
use super::read::json_to_value;
use super::write::write_value;

fn data_err(msg: impl std::fmt::Display) -> ConnectError {
    ConnectError::data(msg)
}

/// Connect's JSON schema format for `schema`.
pub fn schema_to_json(schema: &Schema) -> ConnectResult<Json> {
    let mut m = Map::new();
    m.insert("type".into(), Json::from(schema.schema_type.connect_name()));
    match schema.schema_type {
        SchemaType::Array => {
            let items = schema.value_schema.as_ref().ok_or_else(|| data_err("array schema without items"))?;
            m.insert("items".into(), schema_to_json(items)?);
        }
        SchemaType::Map => {
            let keys = schema.key_schema.as_ref().ok_or_else(|| data_err("map schema without keys"))?;
            let values = schema.value_schema.as_ref().ok_or_else(|| data_err("map schema without values"))?;
            m.insert("keys".into(), schema_to_json(keys)?);
            m.insert("values".into(), schema_to_json(values)?);
        }
        SchemaType::Struct => {
            let mut fields = Vec::with_capacity(schema.fields.len());
            for f in &schema.fields {
                let mut fj = schema_to_json(&f.schema)?;
                if let Json::Object(o) = &mut fj {
                    o.insert("field".into(), Json::from(f.name.clone()));
                }
                fields.push(fj);
            }
            m.insert("fields".into(), Json::Array(fields));
        }
        _ => {}
    }
    m.insert("optional".into(), Json::Bool(schema.optional));
    if let Some(n) = &schema.name {
        m.insert("name".into(), Json::from(n.clone()));
    }
    if let Some(v) = schema.version {
        m.insert("version".into(), Json::from(v));
    }
    if let Some(d) = &schema.doc {
        m.insert("doc".into(), Json::from(d.clone()));
    }
    if !schema.parameters.is_empty() {
        let p: Map<String, Json> = schema.parameters.iter().map(|(k, v)| (k.clone(), Json::from(v.clone()))).collect();
        m.insert("parameters".into(), Json::Object(p));
    }
    if let Some(d) = &schema.default_value {
        let mut buf = Vec::new();
        write_value(&mut buf, Some(&Schema { default_value: None, ..schema.clone() }), d, &JsonValueOptions::converter(false, true))?;
        m.insert("default".into(), serde_json::from_slice(&buf).map_err(data_err)?);
    }
    Ok(Json::Object(m))
}

/// Parses Connect's JSON schema format.
pub fn json_to_schema(j: &Json) -> ConnectResult<Schema> {
    let Json::Object(o) = j else { return Err(data_err(format!("Schema must be a JSON object, got {j}"))) };
    let type_name = o.get("type").and_then(Json::as_str).ok_or_else(|| data_err("Schema must contain 'type' field"))?;
    let ty = SchemaType::from_connect_name(type_name).ok_or_else(|| data_err(format!("Unknown schema type: {type_name}")))?;
    let mut s = Schema::of(ty);
    match ty {
        SchemaType::Array => {
            let items = o.get("items").ok_or_else(|| data_err("Array schema did not specify the items type"))?;
            s.value_schema = Some(Arc::new(json_to_schema(items)?));
        }
        SchemaType::Map => {
            let keys = o.get("keys").ok_or_else(|| data_err("Map schema did not specify the key type"))?;
            let values = o.get("values").ok_or_else(|| data_err("Map schema did not specify the value type"))?;
            s.key_schema = Some(Arc::new(json_to_schema(keys)?));
            s.value_schema = Some(Arc::new(json_to_schema(values)?));
        }
        SchemaType::Struct => {
            let fields = o.get("fields").and_then(Json::as_array).ok_or_else(|| data_err("Struct schema's \"fields\" argument is not an array."))?;
            for f in fields {
                let name = f.get("field").and_then(Json::as_str).ok_or_else(|| data_err("Struct schema's field name not specified properly"))?;
                s = s.field(name, json_to_schema(f)?);
            }
        }
        _ => {}
    }
    s.optional = o.get("optional").and_then(Json::as_bool).unwrap_or(false);
    s.name = o.get("name").and_then(Json::as_str).map(str::to_string);
    s.version = o.get("version").and_then(Json::as_i64).map(|v| v as i32);
    s.doc = o.get("doc").and_then(Json::as_str).map(str::to_string);
    if let Some(Json::Object(p)) = o.get("parameters") {
        for (k, v) in p {
            s.parameters.insert(k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    if let Some(d) = o.get("default")
        && !d.is_null()
    {
        s.default_value = Some(json_to_value(&s, d)?);
    }
    Ok(s)
}

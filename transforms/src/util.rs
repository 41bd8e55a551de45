//! What the transforms share: the key/value side a `$Key`/`$Value` variant works on, access
//! to schemaless maps, struct schema copies, and Connect's error messages.

use sluice_sdk::{ConnectError, ConnectRecord, ConnectResult, Schema, SchemaRef, SchemaType, Struct, Validator, Value};

/// Which part of the record a transform works on (Connect's `$Key` / `$Value` inner classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    pub fn schema<R: ConnectRecord>(self, r: &R) -> Option<SchemaRef> {
        match self {
            Side::Key => r.key_schema().cloned(),
            Side::Value => r.value_schema().cloned(),
        }
    }

    pub fn value<R: ConnectRecord>(self, r: &R) -> &Value {
        match self {
            Side::Key => r.key(),
            Side::Value => r.value(),
        }
    }

    pub fn value_mut<R: ConnectRecord>(self, r: &mut R) -> &mut Value {
        match self {
            Side::Key => r.key_mut(),
            Side::Value => r.value_mut(),
        }
    }

    pub fn has_schema<R: ConnectRecord>(self, r: &R) -> bool {
        match self {
            Side::Key => r.key_schema().is_some(),
            Side::Value => r.value_schema().is_some(),
        }
    }

    pub fn set<R: ConnectRecord>(self, r: &mut R, schema: Option<SchemaRef>, value: Value) {
        match self {
            Side::Key => r.set_key(schema, value),
            Side::Value => r.set_value(schema, value),
        }
    }
}

/// The name of a map key, if it is a string.
pub fn key_name(k: &Value) -> Option<&str> {
    k.as_str()
}

/// The value of `name` in a schemaless map.
pub fn map_get<'a>(m: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    m.iter().find(|(k, _)| k.as_str() == Some(name)).map(|(_, v)| v)
}

/// Sets `name` in a schemaless map (replacing an existing entry).
pub fn map_put(m: &mut Vec<(Value, Value)>, name: &str, value: Value) {
    match m.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
        Some(slot) => slot.1 = value,
        None => m.push((Value::String(name.to_string()), value)),
    }
}

/// Connect's `Requirements.requireMap`: the value as a map, or a DataException.
pub fn require_map<'a>(v: &'a Value, purpose: &str) -> ConnectResult<&'a Vec<(Value, Value)>> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(ConnectError::data(format!("Only Map objects supported in absence of schema for [{purpose}], found: {}", other.type_name()))),
    }
}

/// Connect's `Requirements.requireStruct`.
pub fn require_struct<'a>(v: &'a Value, purpose: &str) -> ConnectResult<&'a Struct> {
    match v {
        Value::Struct(s) => Ok(s),
        other => Err(ConnectError::data(format!("Only Struct objects supported for [{purpose}], found: {}", other.type_name()))),
    }
}

/// A schema that must be a struct schema.
pub fn require_struct_schema<'a>(s: &'a Schema, purpose: &str) -> ConnectResult<&'a Schema> {
    if s.schema_type == SchemaType::Struct {
        Ok(s)
    } else {
        Err(ConnectError::data(format!("Only Struct objects supported for [{purpose}], found: {}", s.schema_type.connect_name())))
    }
}

/// Connect's `SchemaUtil.copySchemaBasics`: a struct schema with the same name, version, doc,
/// parameters and optionality, and no fields yet.
pub fn copy_struct_basics(s: &Schema) -> Schema {
    let mut out = Schema::struct_builder();
    out.name = s.name.clone();
    out.version = s.version;
    out.doc = s.doc.clone();
    out.parameters = s.parameters.clone();
    out.optional = s.optional;
    out
}

/// Adds a field with an already shared schema.
pub fn push_field(schema: &mut Schema, name: &str, field_schema: SchemaRef) {
    let index = schema.fields.len();
    schema.fields.push(sluice_sdk::Field { name: name.to_string(), index, schema: field_schema });
}

/// The value of a struct field, `Null` when absent.
pub fn get_or_null<'a>(s: &'a Struct, name: &str) -> &'a Value {
    s.get(name).unwrap_or(&Value::Null)
}

/// A config error for a transform key.
pub fn config_err(field: &str, message: impl Into<String>) -> ConnectError {
    ConnectError::config(field, message)
}

/// Connect's `NonEmptyListValidator`: a LIST key that must name at least one entry.
pub fn non_empty_list() -> Validator {
    Validator::Custom(std::sync::Arc::new(|v| match v {
        sluice_sdk::ConfigValue::List(l) if l.is_empty() => Err("Empty list".into()),
        _ => Ok(()),
    }))
}

/// Splits `name:value` pairs of a LIST config (ReplaceField's `renames`, Cast's `spec`).
pub fn parse_pairs(field: &str, items: &[String]) -> ConnectResult<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| match item.split_once(':') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => Ok((a.trim().to_string(), b.trim().to_string())),
            _ => Err(config_err(field, format!("Invalid value {item} for configuration {field}: expected name:value"))),
        })
        .collect()
}

#[cfg(test)]
pub mod test_support {
    //! Records for the table-driven tests.
    use sluice_sdk::{Headers, SchemaRef, SinkRecord, TimestampType, Value};

    pub fn sink(key_schema: Option<SchemaRef>, key: Value, value_schema: Option<SchemaRef>, value: Value) -> SinkRecord {
        SinkRecord {
            topic: "test".into(),
            kafka_partition: 0,
            kafka_offset: 42,
            key_schema,
            key,
            value_schema,
            value,
            timestamp: Some(1_483_425_001_864),
            timestamp_type: TimestampType::CreateTime,
            headers: Headers::new(),
        }
    }

    /// A schemaless map from `(name, value)` pairs.
    pub fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(pairs.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect())
    }

    pub fn props(pairs: &[(&str, &str)]) -> sluice_sdk::Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
}

/// Connect's `SynchronizedCache` of updated schemas: input schema → output schema, so a batch
/// of records with one schema builds the new schema once. Bounded; compared by pointer first.
#[derive(Default)]
pub struct SchemaCache(std::sync::Mutex<Vec<(SchemaRef, SchemaRef)>>);

impl SchemaCache {
    const CAPACITY: usize = 16;

    pub fn get_or_build(&self, input: &SchemaRef, build: impl FnOnce() -> ConnectResult<SchemaRef>) -> ConnectResult<SchemaRef> {
        {
            let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, out)) = cache.iter().find(|(k, _)| std::sync::Arc::ptr_eq(k, input) || **k == **input) {
                return Ok(out.clone());
            }
        }
        let out = build()?;
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= Self::CAPACITY {
            cache.remove(0);
        }
        cache.push((input.clone(), out.clone()));
        Ok(out)
    }
}

/// What [`update_fields`] does to one field.
pub trait FieldUpdate {
    /// The new schema of field `name` (`None`: the field is not touched).
    fn new_schema(&self, name: &str, old: &Schema) -> Option<SchemaRef>;
    /// The new value of a touched field (`schema` is `None` for schemaless data).
    fn new_value(&self, name: &str, schema: Option<&Schema>, value: &Value) -> ConnectResult<Value>;
}

/// Rewrites some fields of the key or value, a struct with its schema or a schemaless map,
/// keeping the other fields (the shape Cast, TimestampConverter share). Null passes through.
pub fn update_fields<R: ConnectRecord>(side: Side, mut record: R, purpose: &str, cache: &SchemaCache, update: &impl FieldUpdate) -> ConnectResult<Option<R>> {
    let value = side.value(&record);
    if value.is_null() {
        return Ok(Some(record));
    }
    match side.schema(&record) {
        None => {
            let mut m = require_map(value, purpose)?.clone();
            for (k, v) in m.iter_mut() {
                if let Some(n) = key_name(k) {
                    *v = update.new_value(n, None, v)?;
                }
            }
            side.set(&mut record, None, Value::Map(m));
        }
        Some(schema) => {
            let s = require_struct(value, purpose)?;
            let updated = cache.get_or_build(&schema, || {
                let schema = require_struct_schema(&schema, purpose)?;
                let mut out = copy_struct_basics(schema);
                for f in &schema.fields {
                    push_field(&mut out, &f.name, update.new_schema(&f.name, &f.schema).unwrap_or_else(|| f.schema.clone()));
                }
                Ok(out.build())
            })?;
            let mut new = Struct::with_capacity(schema.fields.len());
            for f in &schema.fields {
                let v = get_or_null(s, &f.name);
                let v = if update.new_schema(&f.name, &f.schema).is_some() { update.new_value(&f.name, Some(&f.schema), v)? } else { v.clone() };
                new.fields.push((f.name.clone(), v));
            }
            side.set(&mut record, Some(updated), Value::Struct(new));
        }
    }
    Ok(Some(record))
}

//! Connect data ↔ Avro, as Confluent's `AvroData` maps them (with `connect.meta.data=true`).
//!
//! Schemas: Int8/Int16 are Avro `int` with `"connect.type": "int8"|"int16"`; Int32 `int`,
//! Int64 `long`, Float32 `float`, Float64 `double`; a struct is a `record` named after the
//! Connect schema (or `io.confluent.connect.avro.ConnectDefault`, `ConnectDefault2`, ... for
//! unnamed ones; the Connect → Avro schema mapping is `sluice_codecs::avro`'s); an optional schema is a union
//! with `"null"` (null first, or last when the field has a non-null default); field defaults
//! become Avro defaults; string-keyed maps are Avro maps, other maps arrays of
//! `io.confluent.connect.avro.MapEntry` records; Decimal is `bytes` with the `decimal` logical
//! type (precision from `connect.decimal.precision`, else 64), Date `int`/`date`, Time
//! `int`/`time-millis`, Timestamp `long`/`timestamp-millis`; the Connect name, version, doc and
//! parameters travel as `connect.name`, `connect.version`, `connect.doc`, `connect.parameters`.
//! A named record met twice is written by name the second time, as Avro requires.
//!
//! Reading, Avro enums become strings (with the `io.confluent.connect.avro.Enum` parameter),
//! `fixed` becomes bytes, and unions other than `[null, T]` become a struct
//! `io.confluent.connect.avro.Union` with one optional field per branch.
//!
//! Values are converted under the direction of the Avro schema, so a Connect value can be
//! written with any Avro schema whose fields it has (as `use.latest.version` needs).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use apache_avro::Schema as Avro;
use apache_avro::schema::UnionSchema;
use apache_avro::types::Value as AvroValue;
use serde_json::{Map, Value as Json};
use sluice_sdk::data::logical;
use sluice_sdk::{Schema, SchemaRef, SchemaType, Struct, Value};

pub use sluice_codecs::avro::{DEFAULT_RECORD, to_avro_schema};
use sluice_codecs::avro::{MAP_ENTRY, split_name};
const UNION: &str = "io.confluent.connect.avro.Union";
const ENUM: &str = "io.confluent.connect.avro.Enum";
use sluice_codecs::avro::PRECISION;

type Result<T> = std::result::Result<T, String>;

// ---------------------------------------------------------------------------------------------
// Avro schema → Connect schema
// ---------------------------------------------------------------------------------------------

/// The Connect schema for an Avro schema (JSON text as the registry holds it).
pub fn to_connect_schema(avro: &Json) -> Result<SchemaRef> {
    let mut names = HashMap::new();
    Ok(Arc::new(connect_of(avro, None, &mut names)?))
}

fn apply_meta(mut s: Schema, obj: &Map<String, Json>) -> Schema {
    if let Some(n) = obj.get("connect.name").and_then(Json::as_str) {
        s.name = Some(n.to_string());
    }
    if let Some(v) = obj.get("connect.version").and_then(Json::as_i64) {
        s.version = Some(v as i32);
    }
    if let Some(d) = obj.get("connect.doc").and_then(Json::as_str) {
        s.doc = Some(d.to_string());
    }
    if let Some(Json::Object(p)) = obj.get("connect.parameters") {
        for (k, v) in p {
            s.parameters.insert(k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        }
    }
    s
}

fn full_name(obj: &Map<String, Json>, namespace: Option<&str>) -> String {
    let name = obj.get("name").and_then(Json::as_str).unwrap_or_default();
    if name.contains('.') {
        return name.to_string();
    }
    match obj.get("namespace").and_then(Json::as_str).or(namespace) {
        Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

fn primitive_schema(name: &str) -> Option<Schema> {
    Some(match name {
        "boolean" => Schema::boolean(),
        "int" => Schema::int32(),
        "long" => Schema::int64(),
        "float" => Schema::float32(),
        "double" => Schema::float64(),
        "bytes" => Schema::bytes(),
        "string" => Schema::string(),
        _ => return None,
    })
}

fn connect_of(avro: &Json, namespace: Option<&str>, names: &mut HashMap<String, Schema>) -> Result<Schema> {
    match avro {
        Json::String(t) => primitive_schema(t)
            .or_else(|| names.get(t.as_str()).cloned())
            .or_else(|| namespace.and_then(|ns| names.get(&format!("{ns}.{t}")).cloned()))
            .ok_or_else(|| format!("unsupported or unknown Avro type '{t}'")),
        Json::Array(branches) => union_of(branches, namespace, names),
        Json::Object(obj) => {
            let t = obj.get("type").ok_or("Avro schema without a type")?;
            let logical = obj.get("logicalType").and_then(Json::as_str);
            let s = match (t.as_str(), logical) {
                (Some("bytes"), Some("decimal")) => {
                    let scale = obj.get("scale").and_then(Json::as_i64).unwrap_or(0) as i32;
                    let mut s = logical::decimal(scale);
                    if let Some(p) = obj.get("precision").and_then(Json::as_i64) {
                        s.parameters.insert(PRECISION.into(), p.to_string());
                    }
                    s
                }
                (Some("int"), Some("date")) => logical::date(),
                (Some("int"), Some("time-millis")) => logical::time(),
                (Some("long"), Some("timestamp-millis")) => logical::timestamp(),
                (Some("int"), _) => match obj.get("connect.type").and_then(Json::as_str) {
                    Some("int8") => Schema::int8(),
                    Some("int16") => Schema::int16(),
                    _ => Schema::int32(),
                },
                (Some("record" | "error"), _) => {
                    let full = full_name(obj, namespace);
                    let ns = split_name(&full).0.map(str::to_string);
                    let mut s = Schema::struct_builder();
                    if full != DEFAULT_RECORD {
                        s.name = Some(full.clone());
                    }
                    if let Some(d) = obj.get("doc").and_then(Json::as_str) {
                        s.doc = Some(d.to_string());
                    }
                    // Registered before the fields so a field can refer to it by name.
                    names.insert(full.clone(), s.clone());
                    for f in obj.get("fields").and_then(Json::as_array).into_iter().flatten() {
                        let name = f.get("name").and_then(Json::as_str).ok_or("record field without a name")?;
                        let mut fs = connect_of(f.get("type").ok_or("record field without a type")?, ns.as_deref(), names)?;
                        if let Some(d) = f.get("default") {
                            fs.default_value = default_value(&fs, d);
                        }
                        s = s.field(name, fs);
                    }
                    let s = apply_meta(s, obj);
                    names.insert(full, s.clone());
                    return Ok(s);
                }
                (Some("enum"), _) => {
                    let full = full_name(obj, namespace);
                    let mut s = Schema::string().name(full.clone()).parameter(ENUM, full.clone());
                    for sym in obj.get("symbols").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str) {
                        s = s.parameter(format!("{ENUM}.{sym}"), sym);
                    }
                    let s = apply_meta(s, obj);
                    names.insert(full, s.clone());
                    return Ok(s);
                }
                (Some("fixed"), _) => {
                    let full = full_name(obj, namespace);
                    let size = obj.get("size").and_then(Json::as_i64).unwrap_or(0);
                    let s = apply_meta(Schema::bytes().name(full.clone()).parameter("connect.fixed.size", size.to_string()), obj);
                    names.insert(full, s.clone());
                    return Ok(s);
                }
                (Some("array"), _) => {
                    let items = obj.get("items").ok_or("array without items")?;
                    let item = connect_of(items, namespace, names)?;
                    if item.schema_type == SchemaType::Struct && item.name.as_deref() == Some(MAP_ENTRY) {
                        let key = item.field_named("key").map(|f| (*f.schema).clone()).unwrap_or_else(Schema::string);
                        let value = item.field_named("value").map(|f| (*f.schema).clone()).unwrap_or_else(Schema::string);
                        Schema::map(key, value)
                    } else {
                        Schema::array(item)
                    }
                }
                (Some("map"), _) => Schema::map(Schema::string(), connect_of(obj.get("values").ok_or("map without values")?, namespace, names)?),
                (Some(p), _) => primitive_schema(p).ok_or_else(|| format!("unsupported Avro type '{p}'"))?,
                (None, _) => connect_of(t, namespace, names)?,
            };
            Ok(apply_meta(s, obj))
        }
        other => Err(format!("not an Avro schema: {other}")),
    }
}

fn union_of(branches: &[Json], namespace: Option<&str>, names: &mut HashMap<String, Schema>) -> Result<Schema> {
    let non_null: Vec<&Json> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
    let nullable = non_null.len() < branches.len();
    if non_null.len() == 1 {
        let mut s = connect_of(non_null[0], namespace, names)?;
        s.optional = nullable;
        return Ok(s);
    }
    let mut s = Schema::struct_builder().name(UNION);
    for b in non_null {
        let mut bs = connect_of(b, namespace, names)?;
        let field_name = bs.name.clone().map(|n| split_name(&n).1.to_string()).unwrap_or_else(|| avro_type_name(b));
        bs.optional = true;
        s = s.field(field_name, bs);
    }
    s.optional = nullable;
    Ok(s)
}

fn avro_type_name(b: &Json) -> String {
    match b {
        Json::String(s) => s.clone(),
        Json::Object(o) => o.get("type").map(avro_type_name).unwrap_or_default(),
        _ => String::new(),
    }
}

/// An Avro default (JSON) as a Connect value of `schema`.
fn default_value(schema: &Schema, d: &Json) -> Option<Value> {
    Some(match (schema.schema_type, d) {
        (_, Json::Null) => return None,
        (SchemaType::Int8, Json::Number(n)) => Value::Int8(n.as_i64()? as i8),
        (SchemaType::Int16, Json::Number(n)) => Value::Int16(n.as_i64()? as i16),
        (SchemaType::Int32, Json::Number(n)) => Value::Int32(n.as_i64()? as i32),
        (SchemaType::Int64, Json::Number(n)) => Value::Int64(n.as_i64()?),
        (SchemaType::Float32, Json::Number(n)) => Value::Float32(n.as_f64()? as f32),
        (SchemaType::Float64, Json::Number(n)) => Value::Float64(n.as_f64()?),
        (SchemaType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (SchemaType::String, Json::String(s)) => Value::String(s.clone()),
        (SchemaType::Bytes, Json::String(s)) => Value::Bytes(s.chars().map(|c| c as u8).collect()),
        (SchemaType::Array, Json::Array(items)) => {
            let item = schema.value_schema.as_deref()?;
            Value::Array(items.iter().map(|i| default_value(item, i).unwrap_or(Value::Null)).collect())
        }
        (SchemaType::Map, Json::Object(o)) => {
            let vs = schema.value_schema.as_deref()?;
            Value::Map(o.iter().map(|(k, v)| (Value::String(k.clone()), default_value(vs, v).unwrap_or(Value::Null))).collect())
        }
        (SchemaType::Struct, Json::Object(o)) => {
            let mut st = Struct::with_capacity(schema.fields.len());
            for f in &schema.fields {
                st.set(f.name.clone(), o.get(&f.name).and_then(|v| default_value(&f.schema, v)).unwrap_or(Value::Null));
            }
            Value::Struct(st)
        }
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// Named types of a parsed Avro schema, to follow `Schema::Ref`s.
#[derive(Debug, Default, Clone)]
pub struct Names(BTreeMap<String, Avro>);

impl Names {
    pub fn of(schema: &Avro) -> Names {
        let mut names = Names::default();
        names.collect(schema);
        names
    }

    fn collect(&mut self, schema: &Avro) {
        match schema {
            Avro::Record(r) => {
                self.0.insert(r.name.fullname(None), schema.clone());
                r.fields.iter().for_each(|f| self.collect(&f.schema));
            }
            Avro::Enum(e) => {
                self.0.insert(e.name.fullname(None), schema.clone());
            }
            Avro::Fixed(f) => {
                self.0.insert(f.name.fullname(None), schema.clone());
            }
            Avro::Array(a) => self.collect(&a.items),
            Avro::Map(m) => self.collect(&m.types),
            Avro::Union(u) => u.variants().iter().for_each(|v| self.collect(v)),
            _ => {}
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Avro) -> Result<&'a Avro> {
        match schema {
            Avro::Ref { name } => self.0.get(&name.fullname(None)).ok_or_else(|| format!("unknown Avro type {}", name.fullname(None))),
            s => Ok(s),
        }
    }
}

fn mismatch(avro: &Avro, value: &Value) -> String {
    format!("a Connect {} value cannot be written as Avro {:?}", value.type_name(), apache_avro::schema::SchemaKind::from(avro))
}

/// A Connect value as an Avro value of `avro`.
pub fn to_avro_value(avro: &Avro, names: &Names, value: &Value) -> Result<AvroValue> {
    let avro = names.resolve(avro)?;
    Ok(match (avro, value) {
        (Avro::Union(u), v) => return union_value(u, names, v),
        (Avro::Null, Value::Null) => AvroValue::Null,
        (_, Value::Null) => return Err(format!("null value for a required Avro {:?}", apache_avro::schema::SchemaKind::from(avro))),
        (Avro::Boolean, Value::Boolean(b)) => AvroValue::Boolean(*b),
        (Avro::Int, v) => AvroValue::Int(v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| mismatch(avro, v))?),
        (Avro::Date, v) => AvroValue::Date(v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| mismatch(avro, v))?),
        (Avro::TimeMillis, v) => AvroValue::TimeMillis(v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| mismatch(avro, v))?),
        (Avro::Long, v) => AvroValue::Long(v.as_i64().ok_or_else(|| mismatch(avro, v))?),
        (Avro::TimestampMillis, v) => AvroValue::TimestampMillis(v.as_i64().ok_or_else(|| mismatch(avro, v))?),
        (Avro::TimestampMicros, v) => AvroValue::TimestampMicros(v.as_i64().ok_or_else(|| mismatch(avro, v))?),
        (Avro::TimeMicros, v) => AvroValue::TimeMicros(v.as_i64().ok_or_else(|| mismatch(avro, v))?),
        (Avro::Float, Value::Float32(f)) => AvroValue::Float(*f),
        (Avro::Double, Value::Float64(f)) => AvroValue::Double(*f),
        (Avro::Double, Value::Float32(f)) => AvroValue::Double(f64::from(*f)),
        (Avro::String, Value::String(s)) => AvroValue::String(s.clone()),
        (Avro::Enum(e), Value::String(s)) => {
            let i = e.symbols.iter().position(|x| x == s).ok_or_else(|| format!("'{s}' is not a symbol of enum {}", e.name.fullname(None)))?;
            AvroValue::Enum(i as u32, s.clone())
        }
        (Avro::Bytes, Value::Bytes(b)) => AvroValue::Bytes(b.clone()),
        (Avro::Fixed(f), Value::Bytes(b)) if b.len() == f.size => AvroValue::Fixed(f.size, b.clone()),
        (Avro::Decimal(_), Value::Bytes(b)) => AvroValue::Decimal(apache_avro::Decimal::from(b.as_slice())),
        (Avro::Array(a), Value::Array(items)) => AvroValue::Array(items.iter().map(|i| to_avro_value(&a.items, names, i)).collect::<Result<_>>()?),
        (Avro::Array(a), Value::Map(entries)) => {
            let Avro::Record(entry) = names.resolve(&a.items)? else { return Err(mismatch(avro, value)) };
            let (ks, vs) = match entry.fields.as_slice() {
                [k, v] => (&k.schema, &v.schema),
                _ => return Err(mismatch(avro, value)),
            };
            AvroValue::Array(
                entries
                    .iter()
                    .map(|(k, v)| Ok(AvroValue::Record(vec![("key".into(), to_avro_value(ks, names, k)?), ("value".into(), to_avro_value(vs, names, v)?)])))
                    .collect::<Result<_>>()?,
            )
        }
        (Avro::Map(m), Value::Map(entries)) => AvroValue::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let k = k.as_str().ok_or("an Avro map needs string keys")?.to_string();
                    Ok((k, to_avro_value(&m.types, names, v)?))
                })
                .collect::<Result<HashMap<_, _>>>()?,
        ),
        (Avro::Record(r), Value::Struct(s)) => AvroValue::Record(
            r.fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let v = s.get_at(i, &f.name).unwrap_or(&Value::Null);
                    match (v, &f.default) {
                        (Value::Null, Some(d)) if !matches!(f.schema, Avro::Union(_)) => {
                            let d =
                                AvroValue::try_from(d.clone()).and_then(|d| d.resolve(&f.schema)).map_err(|e| format!("field '{}': default {e}", f.name))?;
                            Ok((f.name.clone(), d))
                        }
                        _ => Ok((f.name.clone(), to_avro_value(&f.schema, names, v).map_err(|e| format!("field '{}': {e}", f.name))?)),
                    }
                })
                .collect::<Result<_>>()?,
        ),
        (avro, v) => return Err(mismatch(avro, v)),
    })
}

fn union_value(u: &UnionSchema, names: &Names, value: &Value) -> Result<AvroValue> {
    let variants = u.variants();
    if value.is_null() {
        let i = variants.iter().position(|v| matches!(v, Avro::Null)).ok_or("null value for a union without null")?;
        return Ok(AvroValue::Union(i as u32, Box::new(AvroValue::Null)));
    }
    // A Connect Union struct: the one non-null field says which branch.
    if let Value::Struct(s) = value
        && let Some((name, v)) = s.fields.iter().find(|(_, v)| !v.is_null())
        && variants.iter().filter(|v| !matches!(v, Avro::Null)).count() > 1
    {
        for (i, b) in variants.iter().enumerate() {
            let named = names.resolve(b).ok().and_then(|b| b.name().map(|n| n.name().to_string()));
            let kind = format!("{:?}", apache_avro::schema::SchemaKind::from(b)).to_lowercase();
            if named.as_deref() == Some(name.as_str()) || kind == *name {
                return Ok(AvroValue::Union(i as u32, Box::new(to_avro_value(b, names, v)?)));
            }
        }
    }
    let mut last = String::from("no union branch");
    for (i, b) in variants.iter().enumerate().filter(|(_, b)| !matches!(b, Avro::Null)) {
        match to_avro_value(b, names, value) {
            Ok(v) => return Ok(AvroValue::Union(i as u32, Box::new(v))),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// An Avro value as the Connect value of `schema` (from [`to_connect_schema`] of the writer's schema).
pub fn to_connect_value(schema: &Schema, value: AvroValue) -> Result<Value> {
    Ok(match value {
        AvroValue::Union(_, inner) => {
            if schema.schema_type == SchemaType::Struct && schema.name.as_deref() == Some(UNION) && !matches!(*inner, AvroValue::Null) {
                return union_to_connect(schema, *inner);
            }
            return to_connect_value(schema, *inner);
        }
        AvroValue::Null => Value::Null,
        AvroValue::Boolean(b) => Value::Boolean(b),
        AvroValue::Int(i) | AvroValue::Date(i) | AvroValue::TimeMillis(i) => match schema.schema_type {
            SchemaType::Int8 => Value::Int8(i as i8),
            SchemaType::Int16 => Value::Int16(i as i16),
            _ => Value::Int32(i),
        },
        AvroValue::Long(i)
        | AvroValue::TimestampMillis(i)
        | AvroValue::TimestampMicros(i)
        | AvroValue::TimeMicros(i)
        | AvroValue::TimestampNanos(i)
        | AvroValue::LocalTimestampMillis(i)
        | AvroValue::LocalTimestampMicros(i)
        | AvroValue::LocalTimestampNanos(i) => Value::Int64(i),
        AvroValue::Float(f) => Value::Float32(f),
        AvroValue::Double(f) => Value::Float64(f),
        AvroValue::String(s) | AvroValue::Enum(_, s) => Value::String(s),
        AvroValue::Bytes(b) | AvroValue::Fixed(_, b) => Value::Bytes(b),
        AvroValue::Decimal(d) => {
            let bytes = Vec::<u8>::try_from(&d).map_err(|e| e.to_string())?;
            // Connect's Decimal bytes are minimal two's complement.
            Value::Bytes(logical::decode_unscaled(&bytes).map(logical::encode_unscaled).unwrap_or(bytes))
        }
        AvroValue::Uuid(u) => Value::String(u.to_string()),
        AvroValue::Array(items) => match schema.schema_type {
            SchemaType::Map => {
                let (ks, vs) =
                    (schema.key_schema.as_deref().ok_or("map schema without keys")?, schema.value_schema.as_deref().ok_or("map schema without values")?);
                let mut entries = Vec::with_capacity(items.len());
                for item in items {
                    let AvroValue::Record(mut kv) = item else { return Err("a map entry is not a record".into()) };
                    let v = kv.pop().map(|(_, v)| v).unwrap_or(AvroValue::Null);
                    let k = kv.pop().map(|(_, v)| v).unwrap_or(AvroValue::Null);
                    entries.push((to_connect_value(ks, k)?, to_connect_value(vs, v)?));
                }
                Value::Map(entries)
            }
            _ => {
                let item = schema.value_schema.as_deref().ok_or("array schema without items")?;
                Value::Array(items.into_iter().map(|i| to_connect_value(item, i)).collect::<Result<_>>()?)
            }
        },
        AvroValue::Map(m) => {
            let vs = schema.value_schema.as_deref().ok_or("map schema without values")?;
            let mut entries: Vec<(Value, Value)> = m.into_iter().map(|(k, v)| Ok((Value::String(k), to_connect_value(vs, v)?))).collect::<Result<_>>()?;
            entries.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
            Value::Map(entries)
        }
        AvroValue::Record(fields) => {
            let mut st = Struct::with_capacity(fields.len());
            for (name, v) in fields {
                if let Some(f) = schema.field_named(&name) {
                    st.set(name, to_connect_value(&f.schema, v)?);
                }
            }
            Value::Struct(st)
        }
        other => return Err(format!("unsupported Avro value {other:?}")),
    })
}

fn union_to_connect(schema: &Schema, inner: AvroValue) -> Result<Value> {
    let mut st = Struct::with_capacity(schema.fields.len());
    let mut placed = false;
    for f in &schema.fields {
        if !placed
            && let Ok(v) = to_connect_value(&f.schema, inner.clone())
            && f.schema.validate_value(&v).is_ok()
        {
            st.set(f.name.clone(), v);
            placed = true;
        } else {
            st.set(f.name.clone(), Value::Null);
        }
    }
    Ok(Value::Struct(st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order_schema() -> SchemaRef {
        Schema::struct_builder()
            .name("shop.Order")
            .version(2)
            .field("id", Schema::int64())
            .field("qty", Schema::int16())
            .field("note", Schema::string().optional())
            .field("status", Schema::string().default_value(Value::from("new")))
            .field("price", logical::decimal(2))
            .field("day", logical::date())
            .field("at", logical::timestamp().optional())
            .field("tags", Schema::array(Schema::string()))
            .field("attrs", Schema::map(Schema::string(), Schema::int32()))
            .field("by_id", Schema::map(Schema::int32(), Schema::string()))
            .build()
    }

    fn order() -> Value {
        Value::Struct(
            Struct::new()
                .put("id", 7i64)
                .put("qty", Value::Int16(3))
                .put("note", Value::Null)
                .put("status", "paid")
                .put("price", Value::Bytes(logical::encode_unscaled(12345)))
                .put("day", Value::Int32(19000))
                .put("at", Value::Int64(1_700_000_000_000))
                .put("tags", Value::Array(vec!["a".into(), "b".into()]))
                .put("attrs", Value::Map(vec![("x".into(), Value::Int32(1))]))
                .put("by_id", Value::Map(vec![(Value::Int32(1), "one".into())])),
        )
    }

    #[test]
    fn schema_maps_like_confluent_avro_data() {
        let avro = to_avro_schema(&order_schema());
        assert_eq!(avro["type"], "record");
        assert_eq!((avro["name"].as_str(), avro["namespace"].as_str()), (Some("Order"), Some("shop")));
        assert_eq!(avro["connect.name"], "shop.Order");
        assert_eq!(avro["connect.version"], 2);
        let field = |n: &str| avro["fields"].as_array().unwrap().iter().find(|f| f["name"] == n).unwrap().clone();
        assert_eq!(field("qty")["type"], json!({"type": "int", "connect.type": "int16"}));
        assert_eq!(field("note")["type"], json!(["null", "string"]));
        assert_eq!(field("note")["default"], Json::Null);
        assert_eq!(field("status")["default"], "new");
        assert_eq!(field("price")["type"]["logicalType"], "decimal");
        assert_eq!(field("price")["type"]["scale"], 2);
        assert_eq!(field("price")["type"]["precision"], 64);
        assert_eq!(field("day")["type"]["logicalType"], "date");
        assert_eq!(field("at")["type"][1]["logicalType"], "timestamp-millis");
        assert_eq!(field("by_id")["type"]["items"]["name"], "MapEntry");
        apache_avro::Schema::parse(&avro).expect("a valid Avro schema");
        let unnamed = to_avro_schema(&Schema::struct_builder().field("a", Schema::int32()).build());
        assert_eq!(unnamed["name"], "ConnectDefault");
    }

    #[test]
    fn values_round_trip_through_avro_binary() {
        let schema = order_schema();
        let avro_json = to_avro_schema(&schema);
        let avro = apache_avro::Schema::parse(&avro_json).unwrap();
        let names = Names::of(&avro);
        let v = to_avro_value(&avro, &names, &order()).unwrap();
        #[allow(deprecated)]
        let bytes = apache_avro::to_avro_datum(&avro, v).unwrap();
        #[allow(deprecated)]
        let back = apache_avro::from_avro_datum(&avro, &mut bytes.as_slice(), None).unwrap();
        let connect = to_connect_schema(&avro_json).unwrap();
        assert_eq!(connect.name.as_deref(), Some("shop.Order"));
        assert_eq!(connect.field_named("qty").unwrap().schema.schema_type, SchemaType::Int16);
        assert!(connect.field_named("note").unwrap().schema.optional);
        assert_eq!(logical::decimal_scale(&connect.field_named("price").unwrap().schema), Some(2));
        assert_eq!(connect.field_named("by_id").unwrap().schema.schema_type, SchemaType::Map);
        assert_eq!(to_connect_value(&connect, back).unwrap(), order());
    }

    #[test]
    fn a_record_met_twice_is_referenced_by_name() {
        let row = Schema::struct_builder().name("db.Value").field("id", Schema::int32()).build();
        let envelope = Schema::struct_builder()
            .name("db.Envelope")
            .field("before", Schema { optional: true, ..(*row).clone() })
            .field("after", Schema { optional: true, ..(*row).clone() })
            .build();
        let avro = to_avro_schema(&envelope);
        assert_eq!(avro["fields"][1]["type"], json!(["null", "db.Value"]));
        let parsed = apache_avro::Schema::parse(&avro).unwrap();
        let names = Names::of(&parsed);
        let value = Value::Struct(Struct::new().put("before", Value::Null).put("after", Value::Struct(Struct::new().put("id", 1))));
        let v = to_avro_value(&parsed, &names, &value).unwrap();
        #[allow(deprecated)]
        let ok = apache_avro::to_avro_datum(&parsed, v).is_ok();
        assert!(ok);
    }
}

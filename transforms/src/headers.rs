//! The header transforms: `InsertHeader` (`header`, `value.literal`, parsed like Connect's
//! `Values.parseString`), `DropHeaders` (`headers`), and `HeaderFrom$Key`/`$Value` (copies or
//! moves `fields` into `headers`, `operation=copy|move`).

use sluice_sdk::{ConfigDef, ConnectError, ConnectRecord, ConnectResult, Importance, ParsedConfig, Schema, SchemaRef, Struct, Validator, Value, config_keys};

use crate::Smt;
use crate::util::{
    SchemaCache, Side, copy_struct_basics, get_or_null, key_name, map_get, non_empty_list, push_field, require_map, require_struct, require_struct_schema,
};

/// A literal as Connect's `Values.parseString` reads it: booleans, the smallest integer type
/// that holds the number, floating point, else the string.
pub fn parse_literal(s: &str) -> (SchemaRef, Value) {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return (Schema::boolean().build(), Value::Boolean(t.eq_ignore_ascii_case("true")));
    }
    if let Ok(n) = t.parse::<i64>() {
        return if let Ok(v) = i8::try_from(n) {
            (Schema::int8().build(), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(n) {
            (Schema::int16().build(), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(n) {
            (Schema::int32().build(), Value::Int32(v))
        } else {
            (Schema::int64().build(), Value::Int64(n))
        };
    }
    if t.contains('.')
        && let Ok(f) = t.parse::<f64>()
    {
        return (Schema::float64().build(), Value::Float64(f));
    }
    (Schema::string().build(), Value::String(s.to_string()))
}

config_keys! {
    /// `InsertHeader`'s keys.
    fn insert_header_def();
    HEADER: String = "header" => importance(Importance::High).validator(Validator::NonEmptyString).doc("The name of the header.");
    VALUE_LITERAL: String = "value.literal" => importance(Importance::High)
        .validator(Validator::NonEmptyString)
        .doc("The literal value that is to be set as the header value on all records.");
}

#[derive(Default)]
pub struct InsertHeader {
    header: String,
    value: Option<(SchemaRef, Value)>,
}

impl Smt for InsertHeader {
    fn config_def(&self) -> ConfigDef {
        insert_header_def()
    }
    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.header = c.value(HEADER)?;
        self.value = Some(parse_literal(&c.value(VALUE_LITERAL)?));
        Ok(())
    }
    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        if let Some((schema, value)) = &self.value {
            record.headers_mut().add(self.header.clone(), Some(schema.clone()), value.clone());
        }
        Ok(Some(record))
    }
}

config_keys! {
    /// `DropHeaders`' keys.
    fn drop_headers_def();
    DROP_HEADERS: List = "headers" => importance(Importance::High).validator(non_empty_list()).doc("The name of the headers to be removed.");
}

#[derive(Default)]
pub struct DropHeaders {
    headers: Vec<String>,
}

impl Smt for DropHeaders {
    fn config_def(&self) -> ConfigDef {
        drop_headers_def()
    }
    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.headers = c.value(DROP_HEADERS)?;
        Ok(())
    }
    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        record.headers_mut().0.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }
}

config_keys! {
    /// `HeaderFrom`'s keys.
    fn header_from_def();
    FIELDS: List = "fields" => importance(Importance::High).validator(non_empty_list()).doc("Field names in the record whose values are to be copied or moved to headers.");
    HEADERS: List = "headers" => importance(Importance::High).validator(non_empty_list()).doc("Header names, in the same order as the field names listed in the fields configuration property.");
    OPERATION: String = "operation" => importance(Importance::High).validator(Validator::one_of(&["move", "copy"])).doc("Either move if the fields are to be moved to the headers (removed from the key/value), or copy if the fields are to be copied to the headers (retained in the key/value).");
}

pub struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    cache: SchemaCache,
}

impl HeaderFrom {
    pub fn new(side: Side) -> HeaderFrom {
        HeaderFrom { side, fields: Vec::new(), headers: Vec::new(), moving: false, cache: SchemaCache::default() }
    }
}

impl Smt for HeaderFrom {
    fn config_def(&self) -> ConfigDef {
        header_from_def()
    }

    fn configure(&mut self, c: &ParsedConfig) -> ConnectResult<()> {
        self.fields = c.value(FIELDS)?;
        self.headers = c.value(HEADERS)?;
        if self.fields.len() != self.headers.len() {
            return Err(ConnectError::config(HEADERS, format!("'{FIELDS}' config must have the same number of elements as '{HEADERS}' config.")));
        }
        self.moving = c.value(OPERATION)? == "move";
        Ok(())
    }

    fn apply<R: ConnectRecord>(&self, mut record: R) -> ConnectResult<Option<R>> {
        let value = self.side.value(&record).clone();
        if value.is_null() {
            return Ok(Some(record));
        }
        match self.side.schema(&record) {
            None => {
                let m = require_map(&value, "header extraction")?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    record.headers_mut().add(h.clone(), None, map_get(m, f).cloned().unwrap_or(Value::Null));
                }
                if self.moving {
                    let kept = m.iter().filter(|(k, _)| key_name(k).is_none_or(|n| !self.fields.iter().any(|f| f == n))).cloned().collect();
                    self.side.set(&mut record, None, Value::Map(kept));
                }
            }
            Some(schema) => {
                let s = require_struct(&value, "header extraction")?;
                for (f, h) in self.fields.iter().zip(&self.headers) {
                    let field = schema.field_named(f).ok_or_else(|| ConnectError::data(format!("Field {f} not found in schema")))?;
                    record.headers_mut().add(h.clone(), Some(field.schema.clone()), get_or_null(s, f).clone());
                }
                if self.moving {
                    let updated = self.cache.get_or_build(&schema, || {
                        let schema = require_struct_schema(&schema, "header extraction")?;
                        let mut out = copy_struct_basics(schema);
                        for f in schema.fields.iter().filter(|f| !self.fields.contains(&f.name)) {
                            push_field(&mut out, &f.name, f.schema.clone());
                        }
                        Ok(out.build())
                    })?;
                    let kept = Struct { fields: s.fields.iter().filter(|(n, _)| !self.fields.contains(n)).cloned().collect() };
                    self.side.set(&mut record, Some(updated), Value::Struct(kept));
                }
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

    fn configured<T: Smt>(t: T, p: &[(&str, &str)]) -> Adapter<T> {
        let mut a = Adapter(t);
        Transform::<SinkRecord>::configure(&mut a, &props(p)).unwrap();
        a
    }

    // Kafka docs: InsertHeader header=MessageSource value.literal=best-app; DropHeaders headers=source,format.
    #[test]
    fn insert_and_drop_headers() {
        let t = configured(InsertHeader::default(), &[("header", "MessageSource"), ("value.literal", "best-app")]);
        let mut r = sink(None, Value::Null, None, Value::Null);
        r.headers.add_string("source", "x");
        r.headers.add_string("format", "y");
        r.headers.add_string("keep", "z");
        let r = t.apply(r).unwrap().unwrap();
        assert_eq!(r.headers.last_with_name("MessageSource").unwrap().value, Value::from("best-app"));
        let r = configured(DropHeaders::default(), &[("headers", "source,format")]).apply(r).unwrap().unwrap();
        assert_eq!(r.headers.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(), vec!["keep", "MessageSource"]);
        assert_eq!(parse_literal("42").1, Value::Int8(42));
        assert_eq!(parse_literal("70000").1, Value::Int32(70000));
        assert_eq!(parse_literal("true").1, Value::Boolean(true));
    }

    // Kafka docs: HeaderFrom$Value fields=id,ts headers=record_id,ts operation=copy|move.
    #[test]
    fn header_from_copy_and_move() {
        let schema = Schema::struct_builder().field("id", Schema::int64()).field("ts", Schema::int64()).field("name", Schema::string()).build();
        let v = Value::Struct(Struct::new().put("id", 1i64).put("ts", 5i64).put("name", "a"));
        let copy = configured(HeaderFrom::new(Side::Value), &[("fields", "id,ts"), ("headers", "record_id,ts"), ("operation", "copy")]);
        let out = copy.apply(sink(None, Value::Null, Some(schema.clone()), v.clone())).unwrap().unwrap();
        assert_eq!(out.value, v);
        assert_eq!(out.headers.last_with_name("record_id").unwrap().value, Value::Int64(1));
        let mv = configured(HeaderFrom::new(Side::Value), &[("fields", "id,ts"), ("headers", "record_id,ts"), ("operation", "move")]);
        let out = mv.apply(sink(None, Value::Null, Some(schema), v)).unwrap().unwrap();
        assert_eq!(out.value, Value::Struct(Struct::new().put("name", "a")));
        assert_eq!(out.value_schema.unwrap().fields.len(), 1);
        assert_eq!(out.headers.len(), 2);
        let mut bad = Adapter(HeaderFrom::new(Side::Value));
        assert!(Transform::<SinkRecord>::configure(&mut bad, &props(&[("fields", "a,b"), ("headers", "a"), ("operation", "copy")])).is_err());
    }
}

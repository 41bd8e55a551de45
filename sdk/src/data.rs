//! The data model, after Kafka Connect's `org.apache.kafka.connect.data`: a [`Schema`] describes a
//! [`Value`]; structs, arrays and maps nest. Logical types (Decimal, Date, Time, Timestamp) are
//! named schemas over a physical type, exactly as in Connect, and their values are stored in the
//! physical form (Decimal: big-endian two's-complement unscaled bytes; Date: days since the epoch
//! as Int32; Time: milliseconds since midnight as Int32; Timestamp: milliseconds since the epoch
//! as Int64). Helpers in [`logical`] convert.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A shared schema; records carry these so that a batch with one schema clones pointers only.
pub type SchemaRef = Arc<Schema>;

/// The physical type of a schema (Connect's `Schema.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// Whether `value` is of this type (its own level only; a null is of none).
    pub fn holds(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (SchemaType::Int8, Value::Int8(_))
                | (SchemaType::Int16, Value::Int16(_))
                | (SchemaType::Int32, Value::Int32(_))
                | (SchemaType::Int64, Value::Int64(_))
                | (SchemaType::Float32, Value::Float32(_))
                | (SchemaType::Float64, Value::Float64(_))
                | (SchemaType::Boolean, Value::Boolean(_))
                | (SchemaType::String, Value::String(_))
                | (SchemaType::Bytes, Value::Bytes(_))
                | (SchemaType::Array, Value::Array(_))
                | (SchemaType::Map, Value::Map(_))
                | (SchemaType::Struct, Value::Struct(_))
        )
    }

    /// Connect's lower-case name, as used by the JsonConverter envelope (`int32`, `float`, ...).
    pub fn connect_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// The inverse of [`SchemaType::connect_name`].
    pub fn from_connect_name(name: &str) -> Option<SchemaType> {
        Some(match name {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" => SchemaType::Float32,
            "double" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// Position in the struct, starting at 0.
    pub index: usize,
    pub schema: SchemaRef,
}

/// A Connect schema. Build with the constructors and the chained setters:
/// `Schema::struct_builder().field("id", Schema::int64()).name("Order").build()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub optional: bool,
    pub default_value: Option<Value>,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// Struct fields, in order. Empty for other types.
    pub fields: Vec<Field>,
    /// Map keys. `None` for other types.
    pub key_schema: Option<SchemaRef>,
    /// Array items or map values. `None` for other types.
    pub value_schema: Option<SchemaRef>,
}

macro_rules! primitive_ctor {
    ($($fn_name:ident => $ty:ident),* $(,)?) => {
        $(
            #[doc = concat!("A required `", stringify!($ty), "` schema.")]
            pub fn $fn_name() -> Schema { Schema::of(SchemaType::$ty) }
        )*
    };
}

impl Schema {
    /// A bare schema of the given type.
    pub fn of(schema_type: SchemaType) -> Schema {
        Schema {
            schema_type,
            optional: false,
            default_value: None,
            name: None,
            version: None,
            doc: None,
            parameters: BTreeMap::new(),
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    primitive_ctor!(
        int8 => Int8, int16 => Int16, int32 => Int32, int64 => Int64,
        float32 => Float32, float64 => Float64, boolean => Boolean,
        string => String, bytes => Bytes,
    );

    /// An array of `items`.
    pub fn array(items: Schema) -> Schema {
        Schema { value_schema: Some(Arc::new(items)), ..Schema::of(SchemaType::Array) }
    }

    /// A map from `key` to `value`.
    pub fn map(key: Schema, value: Schema) -> Schema {
        Schema { key_schema: Some(Arc::new(key)), value_schema: Some(Arc::new(value)), ..Schema::of(SchemaType::Map) }
    }

    /// A struct with no fields yet; add them with [`Schema::field`].
    pub fn struct_builder() -> Schema {
        Schema::of(SchemaType::Struct)
    }

    /// Appends a field to a struct schema.
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Schema {
        let index = self.fields.len();
        self.fields.push(Field { name: name.into(), index, schema: Arc::new(schema) });
        self
    }

    pub fn optional(mut self) -> Schema {
        self.optional = true;
        self
    }

    pub fn name(mut self, name: impl Into<String>) -> Schema {
        self.name = Some(name.into());
        self
    }

    pub fn version(mut self, version: i32) -> Schema {
        self.version = Some(version);
        self
    }

    pub fn doc(mut self, doc: impl Into<String>) -> Schema {
        self.doc = Some(doc.into());
        self
    }

    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Schema {
        self.parameters.insert(key.into(), value.into());
        self
    }

    pub fn default_value(mut self, value: Value) -> Schema {
        self.default_value = Some(value);
        self
    }

    /// Finishes a builder chain as a shared schema.
    pub fn build(self) -> SchemaRef {
        Arc::new(self)
    }

    /// The struct field called `name`.
    pub fn field_named(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks that `value` follows this schema (types, required fields, nested values).
    pub fn validate_value(&self, value: &Value) -> Result<(), String> {
        if value.is_null() {
            return if self.optional || self.default_value.is_some() { Ok(()) } else { Err(format!("null value for a required {} schema", self.describe())) };
        }
        if !self.schema_type.holds(value) {
            return Err(format!("a {} value does not match a {} schema", value.type_name(), self.describe()));
        }
        match value {
            Value::Array(items) => {
                if let Some(item_schema) = &self.value_schema {
                    for item in items {
                        item_schema.validate_value(item)?;
                    }
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    if let Some(ks) = &self.key_schema {
                        ks.validate_value(k)?;
                    }
                    if let Some(vs) = &self.value_schema {
                        vs.validate_value(v)?;
                    }
                }
            }
            Value::Struct(s) => {
                for (i, field) in self.fields.iter().enumerate() {
                    let v = s.get_at(i, &field.name).unwrap_or(&Value::Null);
                    field.schema.validate_value(v).map_err(|e| format!("field '{}': {e}", field.name))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("{} ({n})", self.schema_type.connect_name()),
            None => self.schema_type.connect_name().to_string(),
        }
    }
}

/// A value that follows a [`Schema`] (or none: schemaless data, as with JSON without envelope).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Boolean(bool),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in insertion order; keys need not be strings.
    Map(Vec<(Value, Value)>),
    Struct(Struct),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the variant, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int8(_) => "int8",
            Value::Int16(_) => "int16",
            Value::Int32(_) => "int32",
            Value::Int64(_) => "int64",
            Value::Float32(_) => "float",
            Value::Float64(_) => "double",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer variant widened to i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v.into()),
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int32(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Boolean(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float64(v)
    }
}
impl From<Struct> for Value {
    fn from(v: Struct) -> Value {
        Value::Struct(v)
    }
}

/// Renders like Java's `toString()` of Connect values, which is what FileStreamSink writes:
/// `Struct{id=1,name=a}`, `{k=v, k2=v2}`, `[1, 2]`, plain strings and numbers.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Int16(v) => write!(f, "{v}"),
            Value::Int32(v) => write!(f, "{v}"),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float32(v) => write!(f, "{v:?}"),
            Value::Float64(v) => write!(f, "{v:?}"),
            Value::Boolean(v) => write!(f, "{v}"),
            Value::String(s) => f.write_str(s),
            Value::Bytes(b) => {
                f.write_str("[")?;
                for (i, byte) in b.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", *byte as i8)?;
                }
                f.write_str("]")
            }
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Value::Struct(s) => {
                f.write_str("Struct{")?;
                let mut first = true;
                for (name, v) in &s.fields {
                    if v.is_null() {
                        continue;
                    }
                    if !first {
                        f.write_str(",")?;
                    }
                    first = false;
                    write!(f, "{name}={v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A struct value: named field values in schema order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Struct {
    pub fields: Vec<(String, Value)>,
}

impl Struct {
    pub fn new() -> Struct {
        Struct::default()
    }

    pub fn with_capacity(n: usize) -> Struct {
        Struct { fields: Vec::with_capacity(n) }
    }

    /// Sets `name` (replacing an earlier value of the same name) and returns self, for chaining.
    pub fn put(mut self, name: impl Into<String>, value: impl Into<Value>) -> Struct {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The field `name`, looked for first at `index` (where a struct built in its schema's
    /// field order has it), then everywhere: walking a schema's fields in order is then linear,
    /// not quadratic, in the number of fields.
    pub fn get_at(&self, index: usize, name: &str) -> Option<&Value> {
        match self.fields.get(index) {
            Some((n, v)) if n == name => Some(v),
            _ => self.get(name),
        }
    }
}

/// Connect's logical types: names, and conversions between logical and physical values.
pub mod logical {
    use super::{Schema, SchemaType};

    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DECIMAL_SCALE: &str = "scale";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

    /// `Decimal` with the given scale: bytes holding the unscaled value, big-endian two's complement.
    pub fn decimal(scale: i32) -> Schema {
        Schema::bytes().name(DECIMAL).version(1).parameter(DECIMAL_SCALE, scale.to_string())
    }

    /// `Date`: Int32 days since 1970-01-01.
    pub fn date() -> Schema {
        Schema::int32().name(DATE).version(1)
    }

    /// `Time`: Int32 milliseconds since midnight.
    pub fn time() -> Schema {
        Schema::int32().name(TIME).version(1)
    }

    /// `Timestamp`: Int64 milliseconds since the epoch.
    pub fn timestamp() -> Schema {
        Schema::int64().name(TIMESTAMP).version(1)
    }

    /// The scale of a Decimal schema, if `schema` is one.
    pub fn decimal_scale(schema: &Schema) -> Option<i32> {
        if schema.schema_type == SchemaType::Bytes && schema.name.as_deref() == Some(DECIMAL) {
            schema.parameters.get(DECIMAL_SCALE).and_then(|s| s.parse().ok())
        } else {
            None
        }
    }

    /// Encodes an unscaled decimal as Connect does (minimal big-endian two's complement).
    pub fn encode_unscaled(unscaled: i128) -> Vec<u8> {
        let bytes = unscaled.to_be_bytes();
        let mut start = 0;
        while start < bytes.len() - 1 {
            let (b, next) = (bytes[start], bytes[start + 1]);
            let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
            if !redundant {
                break;
            }
            start += 1;
        }
        bytes[start..].to_vec()
    }

    /// Decodes big-endian two's-complement bytes (up to 16) into an unscaled decimal.
    pub fn decode_unscaled(bytes: &[u8]) -> Option<i128> {
        if bytes.is_empty() || bytes.len() > 16 {
            return None;
        }
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
        let mut buf = [fill; 16];
        buf[16 - bytes.len()..].copy_from_slice(bytes);
        Some(i128::from_be_bytes(buf))
    }

    /// Renders an unscaled value with its scale as a plain decimal string (`12345`, 2 → `123.45`).
    pub fn decimal_to_string(unscaled: i128, scale: i32) -> String {
        if scale <= 0 {
            let mut s = unscaled.to_string();
            s.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
            return s;
        }
        let neg = unscaled < 0;
        let digits = unscaled.unsigned_abs().to_string();
        let scale = scale as usize;
        let padded = if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale - digits.len() + 1)) } else { digits };
        let (int, frac) = padded.split_at(padded.len() - scale);
        format!("{}{int}.{frac}", if neg { "-" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::logical::*;
    use super::*;

    #[test]
    fn decimal_bytes_round_trip() {
        for (v, bytes) in [
            (0i128, vec![0u8]),
            (1, vec![1]),
            (127, vec![127]),
            (128, vec![0, 128]),
            (-1, vec![255]),
            (-128, vec![128]),
            (-129, vec![255, 127]),
            (12345, vec![0x30, 0x39]),
        ] {
            assert_eq!(encode_unscaled(v), bytes, "encode {v}");
            assert_eq!(decode_unscaled(&bytes), Some(v), "decode {v}");
        }
        assert_eq!(decode_unscaled(&[]), None);
    }

    #[test]
    fn decimal_strings() {
        assert_eq!(decimal_to_string(12345, 2), "123.45");
        assert_eq!(decimal_to_string(-5, 3), "-0.005");
        assert_eq!(decimal_to_string(7, 0), "7");
        assert_eq!(decimal_to_string(7, -2), "700");
    }

    #[test]
    fn validate_struct_values() {
        let schema = Schema::struct_builder().field("id", Schema::int64()).field("name", Schema::string().optional()).build();
        assert!(schema.validate_value(&Value::Struct(Struct::new().put("id", 1i64))).is_ok());
        let err = schema.validate_value(&Value::Struct(Struct::new().put("id", "x"))).unwrap_err();
        assert!(err.contains("field 'id'"), "{err}");
        let err = schema.validate_value(&Value::Struct(Struct::new())).unwrap_err();
        assert!(err.contains("required"), "{err}");
    }

    #[test]
    fn display_like_java() {
        let s = Value::Struct(Struct::new().put("id", 1i64).put("tags", Value::Array(vec!["a".into(), "b".into()])));
        assert_eq!(s.to_string(), "Struct{id=1,tags=[a, b]}");
        let m = Value::Map(vec![("k".into(), Value::Int32(2))]);
        assert_eq!(m.to_string(), "{k=2}");
    }
}

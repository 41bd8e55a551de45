//! Connect's JSON forms, as `org.apache.kafka.connect.json.JsonConverter` writes and reads
//! them: the schema JSON ([`schema`]), values written straight into bytes ([`write`], no tree
//! in between) or built as a `serde_json` tree ([`tree`]), and values read back ([`read`]:
//! through a tree, which words Connect's errors; [`fast_read`]: straight from the text).
//!
//! The callers write values differently on purpose, and each difference is one field of
//! [`JsonValueOptions`] (with one preset per caller):
//!
//! | option            | [`JsonValueOptions::converter`]       | [`JsonValueOptions::json_lines`] (S3 JsonFormat) | [`JsonValueOptions::arrow`] (S3 Parquet) |
//! |-------------------|----------------------------------------|-----------------------------|------------------------------|
//! | `decimals`        | base64, or a number (`decimal.format=NUMERIC`) | base64              | a numeric string `"123.45"`  |
//! | `bytes`           | base64                                 | base64                      | hex                          |
//! | `null_default`    | a schema's default replaces null (`replace.null.with.default`) | only a required schema's | only a required schema's |
//! | `check_schema`    | yes: type errors, required nulls, errors name the field | no   | no                           |
//! | `non_finite`      | a string (`"NaN"`, `"inf"`)            | `null`                      | `null`                       |
//! | `maps`            | an object when the key schema is a string (no key schema: when every key is) | an object when every key is a string | same |
//! | `repeated_keys`   | written as they are                    | merged as a JSON object does (first position, last value) | same |
//! | `struct_fields`   | the schema's                           | the schema's, or the value's when the schema has none | same |

pub mod fast_read;
pub mod read;
pub mod schema;
pub mod tree;
pub mod write;

pub use read::{json_to_schemaless, json_to_value, numeric_to_unscaled};
pub use schema::{json_to_schema, schema_to_json};
pub use tree::value_to_json;
pub use write::write_value;

/// How a Decimal (`org.apache.kafka.connect.data.Decimal`, bytes with a scale) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Its two's-complement bytes as base64 (JsonConverter's `decimal.format=BASE64`).
    Base64,
    /// A JSON number, `123.45` (JsonConverter's `decimal.format=NUMERIC`).
    Numeric,
    /// A JSON string of the number, `"123.45"` (what Arrow's JSON decoder reads).
    NumericString,
}

/// How bytes that are not a Decimal are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesFormat {
    /// A base64 string (Connect).
    Base64,
    /// A lower-case hex string (what Arrow's JSON decoder reads for binary columns).
    Hex,
}

/// When a null value is written as its schema's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullDefault {
    /// Whenever the schema has a default (`replace.null.with.default=true`).
    Always,
    /// Only when the schema is required and has a default.
    Required,
    /// Never.
    Never,
}

/// How NaN and the infinities are written (JSON has no literal for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonFinite {
    /// As strings, Rust's `"NaN"`, `"inf"`, `"-inf"`.
    String,
    /// As `null`.
    Null,
}

/// When a map is written as a JSON object (otherwise: an array of `[key, value]` pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapObjects {
    /// When its key schema is STRING; without a key schema, when every key is a string.
    ByKeySchema,
    /// When every key is a string (the key schema is not asked).
    ByKeys,
}

/// Whose fields a struct with a schema is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructFields {
    /// The schema's, in its order (a missing field is null).
    Schema,
    /// The schema's, unless the schema has none: then the value's own.
    SchemaUnlessEmpty,
}

/// What a caller writes differently; see the module's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonValueOptions {
    pub decimals: DecimalFormat,
    pub bytes: BytesFormat,
    pub null_default: NullDefault,
    /// Check each value against its schema: a type mismatch (`Invalid type for int32: STRING`)
    /// or a null for a required schema without default is an error, and errors name the field.
    pub check_schema: bool,
    pub non_finite: NonFinite,
    pub maps: MapObjects,
    /// Merge repeated keys of a map or a struct as a JSON object does (the first position,
    /// the last value); otherwise each entry is written as it is.
    pub merge_repeated_keys: bool,
    pub struct_fields: StructFields,
}

impl JsonValueOptions {
    /// Connect's JsonConverter: `decimal.format=NUMERIC` when `decimal_numeric`,
    /// `replace.null.with.default` as `replace_null_with_default`.
    pub fn converter(decimal_numeric: bool, replace_null_with_default: bool) -> JsonValueOptions {
        JsonValueOptions {
            decimals: if decimal_numeric { DecimalFormat::Numeric } else { DecimalFormat::Base64 },
            bytes: BytesFormat::Base64,
            null_default: if replace_null_with_default { NullDefault::Always } else { NullDefault::Never },
            check_schema: true,
            non_finite: NonFinite::String,
            maps: MapObjects::ByKeySchema,
            merge_repeated_keys: false,
            struct_fields: StructFields::Schema,
        }
    }

    /// The S3 sink's `JsonFormat` lines.
    pub fn json_lines() -> JsonValueOptions {
        JsonValueOptions {
            decimals: DecimalFormat::Base64,
            bytes: BytesFormat::Base64,
            null_default: NullDefault::Required,
            check_schema: false,
            non_finite: NonFinite::Null,
            maps: MapObjects::ByKeys,
            merge_repeated_keys: true,
            struct_fields: StructFields::SchemaUnlessEmpty,
        }
    }

    /// The S3 sink's JSON for Arrow's JSON decoder (ParquetFormat): as [`Self::json_lines`],
    /// with Decimals as numeric strings and bytes in hex.
    pub fn arrow() -> JsonValueOptions {
        JsonValueOptions { decimals: DecimalFormat::NumericString, bytes: BytesFormat::Hex, ..JsonValueOptions::json_lines() }
    }

    /// The S3 writers' presets by their former `arrow` flag.
    pub fn s3(arrow: bool) -> JsonValueOptions {
        if arrow { JsonValueOptions::arrow() } else { JsonValueOptions::json_lines() }
    }
}

#[cfg(test)]
mod tests;

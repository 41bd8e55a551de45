//! Pins each former caller's bytes: the JsonConverter's payloads and schema JSON (as
//! `runtime/src/converters/json.rs` wrote them) and the S3 sink's JSON lines and Arrow JSON
//! (as `connectors/s3-sink/src/format/json.rs` wrote them), and that the writer and the tree agree.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value as Json;
use sluice_sdk::data::logical;
use sluice_sdk::{Schema, Struct, Value};

use super::*;

fn text(schema: Option<&Schema>, v: &Value, o: &JsonValueOptions) -> String {
    let mut out = Vec::new();
    write_value(&mut out, schema, v, o).unwrap();
    String::from_utf8(out).unwrap()
}

fn sample_schema() -> sluice_sdk::SchemaRef {
    let inner = Schema::struct_builder().field("x", Schema::float32()).field("b", Schema::bytes().optional());
    Schema::struct_builder()
        .field("id", Schema::int64())
        .field("name", Schema::string().optional())
        .field("amount", logical::decimal(2))
        .field("f", Schema::float64())
        .field("tags", Schema::array(Schema::string()))
        .field("m", Schema::map(Schema::string(), Schema::int32()))
        .field("pairs", Schema::map(Schema::int32(), Schema::boolean()))
        .field("inner", inner)
        .field("d", Schema::int16().default_value(Value::Int16(7)))
        .build()
}

fn sample() -> Value {
    Value::Struct(
        Struct::new()
            .put("id", -5i64)
            .put("name", "q\"u\u{1}\u{e9}")
            .put("amount", Value::Bytes(logical::encode_unscaled(-12345)))
            .put("f", Value::Float64(f64::NAN))
            .put("tags", Value::Array(vec![Value::String("a".into()), Value::Null]))
            .put("m", Value::Map(vec![(Value::String("k".into()), Value::Int32(1)), (Value::String("j".into()), Value::Int32(2))]))
            .put("pairs", Value::Map(vec![(Value::Int32(1), Value::Boolean(true))]))
            .put("inner", Value::Struct(Struct::new().put("x", Value::Float32(0.1)).put("b", Value::Bytes(vec![0, 255, 16]))))
            .put("d", Value::Null),
    )
}

/// The S3 sink's JSON lines and Arrow JSON, byte for byte as its writer wrote them.
#[test]
fn s3_forms_are_pinned() {
    let schema = sample_schema();
    let lines = r#"{"id":-5,"name":"q\"u\u0001é","amount":"z8c=","f":null,"tags":["a",null],"m":{"k":1,"j":2},"pairs":[[1,true]],"inner":{"x":0.10000000149011612,"b":"AP8Q"},"d":7}"#;
    let arrow = r#"{"id":-5,"name":"q\"u\u0001é","amount":"-123.45","f":null,"tags":["a",null],"m":{"k":1,"j":2},"pairs":[[1,true]],"inner":{"x":0.10000000149011612,"b":"00ff10"},"d":7}"#;
    let repeated =
        Value::Map(vec![(Value::String("k".into()), Value::Int8(1)), (Value::String("j".into()), Value::Int8(3)), (Value::String("k".into()), Value::Int8(2))]);
    let empty_schema = Schema::struct_builder().build();
    let optional_decimal = logical::decimal(2).optional().build();
    let cases: Vec<(Option<&Schema>, Value, bool, &str)> = vec![
        (Some(&schema), sample(), false, lines),
        (Some(&schema), sample(), true, arrow),
        (None, repeated.clone(), false, r#"{"k":2,"j":3}"#),
        (None, Value::Struct(Struct::new().put("a", 1i64).put("a", 2i64)), false, r#"{"a":2}"#),
        (Some(&empty_schema), Value::Struct(Struct::new().put("a", 1i64)), false, r#"{"a":1}"#),
        (None, Value::Float32(f32::INFINITY), false, "null"),
        (Some(&optional_decimal), Value::Null, true, "null"),
        (None, Value::Bytes(vec![1, 2]), true, r#""0102""#),
    ];
    for (s, v, arrow, want) in cases {
        assert_eq!(text(s, &v, &JsonValueOptions::s3(arrow)), want, "{v:?} arrow={arrow}");
    }
}

/// The JsonConverter's payloads, byte for byte as its writer wrote them.
#[test]
fn converter_forms_are_pinned() {
    let dec = logical::decimal(2).build();
    let with_default = Schema::int32().optional().default_value(Value::Int32(5)).build();
    let int_map = Schema::map(Schema::int32(), Schema::string()).build();
    let string_map = Schema::map(Schema::string(), Schema::string()).build();
    let repeated = Value::Map(vec![(Value::String("k".into()), Value::from("a")), (Value::String("k".into()), Value::from("b"))]);
    let no_fields = Schema::struct_builder().build();
    let cases: Vec<(Option<&Schema>, Value, bool, bool, &str)> = vec![
        (Some(&dec), Value::Bytes(logical::encode_unscaled(-12345)), false, true, r#""z8c=""#),
        (Some(&dec), Value::Bytes(logical::encode_unscaled(-12345)), true, true, "-123.45"),
        (Some(&with_default), Value::Null, false, true, "5"),
        (Some(&with_default), Value::Null, false, false, "null"),
        (None, Value::Float64(f64::NAN), false, true, r#""NaN""#),
        (None, Value::Float64(f64::NEG_INFINITY), false, true, r#""-inf""#),
        (None, Value::Float32(1.5), false, true, "1.5"),
        (Some(&int_map), Value::Map(vec![(Value::Int32(1), Value::from("one"))]), false, true, r#"[[1,"one"]]"#),
        (Some(&string_map), repeated.clone(), false, true, r#"{"k":"a","k":"b"}"#),
        (None, repeated, false, true, r#"{"k":"a","k":"b"}"#),
        (None, Value::Map(vec![(Value::Int8(1), Value::Null)]), false, true, "[[1,null]]"),
        (Some(&no_fields), Value::Struct(Struct::new().put("a", 1i64)), false, true, "{}"),
    ];
    for (s, v, numeric, replace, want) in cases {
        assert_eq!(text(s, &v, &JsonValueOptions::converter(numeric, replace)), want, "{v:?}");
    }
    let errors: Vec<(Schema, Value, &str)> = vec![
        (Schema::int32(), Value::from("x"), "Invalid type for int32: string"),
        (Schema::string(), Value::Null, "Conversion error: null value for field that is required and has no default value (string)"),
        (Schema::struct_builder().field("n", Schema::int8()), Value::Struct(Struct::new().put("n", 1i64)), "field 'n': Invalid type for int8: int64"),
    ];
    for (s, v, want) in errors {
        let mut out = Vec::new();
        let err = write_value(&mut out, Some(&s), &v, &JsonValueOptions::converter(false, true)).unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
    // The S3 forms check nothing: a mismatched value is written as it is.
    assert_eq!(text(Some(&Schema::int32()), &Value::from("x"), &JsonValueOptions::json_lines()), r#""x""#);
}

/// The direct writer prints what serializing the tree prints (the S3 forms).
#[test]
fn direct_writer_matches_the_tree() {
    let schema = sample_schema();
    let v = sample();
    let repeated = Value::Map(vec![(Value::String("k".into()), Value::Int8(1)), (Value::String("k".into()), Value::Int8(2))]);
    let schemaless = Value::Struct(Struct::new().put("a", 1i64).put("z", Value::Float32(1.5)));
    for (s, v) in [(Some(&schema), &v), (None, &v), (None, &repeated), (None, &schemaless), (None, &Value::Null)] {
        for arrow in [false, true] {
            let o = JsonValueOptions::s3(arrow);
            let tree = serde_json::to_vec(&value_to_json(s.map(|s| &**s), v, &o).unwrap()).unwrap();
            assert_eq!(text(s.map(|s| &**s), v, &o), String::from_utf8(tree).unwrap());
        }
    }
}

#[test]
fn decimals() {
    let s = logical::decimal(2);
    let v = Value::Bytes(logical::encode_unscaled(12345));
    assert_eq!(value_to_json(Some(&s), &v, &JsonValueOptions::s3(true)).unwrap(), Json::String("123.45".into()));
    assert_eq!(value_to_json(Some(&s), &v, &JsonValueOptions::s3(false)).unwrap(), Json::String(B64.encode(logical::encode_unscaled(12345))));
}

/// The JsonConverter's schema JSON, byte for byte.
#[test]
fn schema_json_is_pinned() {
    let schema = Schema::struct_builder()
        .name("Order")
        .version(2)
        .field("id", Schema::int64())
        .field("amount", logical::decimal(2))
        .field("tags", Schema::array(Schema::string()).optional())
        .field("n", Schema::int32().optional().default_value(Value::Int32(5)))
        .build();
    let want = r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"amount"},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},{"type":"int32","optional":true,"default":5,"field":"n"}],"optional":false,"name":"Order","version":2}"#;
    let json = schema_to_json(&schema).unwrap();
    assert_eq!(json.to_string(), want);
    assert_eq!(json_to_schema(&json).unwrap(), *schema);
    assert!(schema_to_json(&Schema::of(sluice_sdk::SchemaType::Array)).unwrap_err().to_string().contains("array schema without items"));
}

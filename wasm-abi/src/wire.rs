//! The text forms that cross the WASM plugin boundary (see `sdk/wit/sluice.wit`). Host and
//! guest both link this crate, so both sides read and write exactly the same thing.
//!
//! - Schemas: Connect's JsonConverter schema form (`{"type":"struct","fields":[{"type":
//!   "int64","optional":false,"field":"id"}],"optional":false,"name":...}`, a default in
//!   Connect's JSON value form), written and read by `sluice_codecs::connect_json`; the text of
//!   each schema is remembered per thread, so a stream's handful of schemas is written and
//!   parsed once.
//! - Config keys: a plugin's `config-key` (Connect's type and importance names) as a
//!   [`ConfigKey`].
//!
//! Values do not use text: bytes and strings travel raw in the WIT `payload`, everything else
//! in the binary form of [`crate::value_bytes`].

use std::sync::Arc;

use serde_json::Value as Json;
use sluice_codecs::connect_json::{json_to_schema, schema_to_json};
use sluice_sdk::{ConfigKey, ConfigType, Importance, SchemaRef};

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
///
/// A schema Connect's form cannot hold (an array without items, a default that does not fit)
/// is written as `{"invalid": reason}`, which [`schema_of_text`] on the other side rejects with
/// that reason: the writer has no error path, the reader does.
pub fn schema_text(schema: &SchemaRef) -> String {
    if let Some(text) = SCHEMA_CACHE.with(|c| c.borrow().iter().find(|(s, _)| Arc::ptr_eq(s, schema)).map(|(_, t)| t.to_string())) {
        return text;
    }
    match schema_to_json(schema) {
        Ok(json) => {
            let text: std::rc::Rc<str> = json.to_string().into();
            remember(schema, &text);
            text.to_string()
        }
        // Not remembered: the reader must see it and fail.
        Err(e) => serde_json::json!({ INVALID: e.to_string() }).to_string(),
    }
}

/// The key of the text [`schema_text`] writes for a schema it cannot write.
const INVALID: &str = "invalid";

/// The schema a JSON text describes; the same text gives the same (shared) schema, without
/// parsing it again.
pub fn schema_of_text(text: &str) -> Result<SchemaRef, String> {
    if let Some(s) = SCHEMA_CACHE.with(|c| c.borrow().iter().find(|(_, t)| &**t == text).map(|(s, _)| s.clone())) {
        return Ok(s);
    }
    let j: Json = serde_json::from_str(text).map_err(|e| format!("schema is not JSON: {e}"))?;
    if let Some(reason) = j.get(INVALID) {
        return Err(format!("the schema could not be written: {}", reason.as_str().unwrap_or_default()));
    }
    let schema: SchemaRef = Arc::new(json_to_schema(&j).map_err(|e| e.to_string())?);
    remember(&schema, &text.into());
    Ok(schema)
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
    use sluice_sdk::{Schema, Value};

    use super::*;

    #[test]
    fn schema_texts_are_remembered_both_ways() {
        let schema: SchemaRef = Schema::struct_builder().name("Row").field("id", Schema::int64()).build();
        let text = schema_text(&schema);
        assert_eq!(text, schema_to_json(&schema).unwrap().to_string());
        let a = schema_of_text(&text).unwrap();
        let b = schema_of_text(&text).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same text gives the same schema");
        assert_eq!(*a, *schema);
        assert!(schema_of_text("{").is_err());
    }

    #[test]
    fn schemas_with_metadata_and_defaults_round_trip() {
        let schema: SchemaRef = Schema::struct_builder()
            .field("id", Schema::int64())
            .field("tags", Schema::array(Schema::string()).optional())
            .field("attrs", Schema::map(Schema::string(), Schema::float32()))
            .field("small", Schema::int8().default_value(Value::Int8(-3)).doc("a small one").parameter("p", "q"))
            .name("Order")
            .version(2)
            .build();
        let back = schema_of_text(&schema_text(&schema)).unwrap();
        assert_eq!(*back, *schema);
        assert!(schema_of_text(r#"{"type":"array","optional":false}"#).is_err(), "an array schema needs its items");
        let no_items: SchemaRef = Schema::of(sluice_sdk::SchemaType::Array).build();
        let err = schema_of_text(&schema_text(&no_items)).unwrap_err();
        assert!(err.contains("could not be written") && err.contains("items"), "{err}");
    }
}

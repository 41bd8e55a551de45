//! Request bodies: parsed from bytes so that every problem (invalid JSON, unknown fields, wrong
//! types) becomes a 400 that names the field, never a 422 or 500.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::RestError;

/// Parses a JSON body into `T`; errors name the path of the offending field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::new(StatusCode::BAD_REQUEST, "Request body is missing: a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = if path.is_empty() || path == "." || path == "?" {
            format!("Invalid request body: {inner}")
        } else {
            format!("Invalid value for '{path}': {inner}")
        };
        RestError::new(StatusCode::BAD_REQUEST, msg)
    })
}

/// A JSON value as a config string: strings as they are, numbers and booleans as text (as
/// Connect's Jackson coerces them); anything else is an error.
fn scalar_to_string(key: &str, v: serde_json::Value) -> Result<Option<String>, String> {
    match v {
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        serde_json::Value::Bool(b) => Ok(Some(b.to_string())),
        serde_json::Value::Null => Ok(None),
        _ => Err(format!("config value of '{key}' must be a string")),
    }
}

/// Deserializes a config object (`{"k": "v"}`); `null` values are dropped.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        if let Some(s) = scalar_to_string(&k, v).map_err(serde::de::Error::custom)? {
            out.insert(k, s);
        }
    }
    Ok(out)
}

/// A config object as the body of `PUT .../config` or validate.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct ConfigBody(#[serde(deserialize_with = "string_map")] pub BTreeMap<String, String>);

/// The body of `PATCH .../config`: `null` removes a key.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct PatchBody(#[serde(deserialize_with = "patch_map")] pub BTreeMap<String, Option<String>>);

fn patch_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter().map(|(k, v)| scalar_to_string(&k, v).map(|s| (k, s)).map_err(serde::de::Error::custom)).collect()
}

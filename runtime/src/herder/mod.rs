//! Herders (Connect's `Herder`): decide which connectors and tasks run, keep their configs and
//! target states, and answer the REST API. Standalone mode has one worker and keeps configs in
//! memory; the [`crate::worker::Worker`] runs what the herder decides.

pub(crate) mod common;
pub(crate) mod offsets;
mod standalone;

pub use standalone::StandaloneHerder;

use sluice_sdk::{ConnectError, ConnectResult, Props};

/// Reads a connector config file: Java properties, or JSON — either Connect's REST body
/// `{"name": ..., "config": {...}}` or a flat object. Returns the config with `name` set.
pub fn load_connector_config(path: &std::path::Path) -> ConnectResult<Props> {
    let text = std::fs::read_to_string(path).map_err(|e| ConnectError::fatal(format!("cannot read connector config {}: {e}", path.display())))?;
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) || text.trim_start().starts_with('{');
    let props = if is_json { parse_json_config(&text)? } else { crate::properties::parse(&text) };
    if props.get("name").is_none_or(|n| n.trim().is_empty()) {
        return Err(ConnectError::config("name", format!("connector config {} has no \"name\"", path.display())));
    }
    Ok(props)
}

/// A connector config in JSON: `{"name": N, "config": {...}}` or a flat object; scalar values
/// are taken as strings (as Connect's REST API does).
pub fn parse_json_config(text: &str) -> ConnectResult<Props> {
    use serde_json::Value as Json;
    let json: Json = serde_json::from_str(text).map_err(|e| ConnectError::config("config", format!("invalid JSON: {e}")))?;
    let Json::Object(top) = json else { return Err(ConnectError::config("config", "expected a JSON object")) };
    let (name, body) = match top.get("config") {
        Some(Json::Object(cfg)) => (top.get("name").and_then(Json::as_str).map(str::to_string), cfg.clone()),
        Some(_) => return Err(ConnectError::config("config", "\"config\" must be an object of strings")),
        None => (None, top),
    };
    let mut props = Props::new();
    for (k, v) in body {
        let s = match v {
            Json::String(s) => s,
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Null => continue,
            _ => return Err(ConnectError::config(&k, "value must be a string")),
        };
        props.insert(k, s);
    }
    if let Some(n) = name {
        match props.get("name") {
            Some(inner) if *inner != n => {
                return Err(ConnectError::config("name", format!("connector name '{n}' and config name '{inner}' differ")));
            }
            _ => {
                props.insert("name".into(), n);
            }
        }
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_configs() {
        let p = parse_json_config(r#"{"name":"a","config":{"connector.class":"FileStreamSink","tasks.max":2,"topics":"t"}}"#).unwrap();
        assert_eq!(p["name"], "a");
        assert_eq!(p["tasks.max"], "2");
        let p = parse_json_config(r#"{"name":"b","connector.class":"X"}"#).unwrap();
        assert_eq!(p["name"], "b");
        let err = parse_json_config(r#"{"name":"b","config":{"name":"c"}}"#).unwrap_err();
        assert!(matches!(err, ConnectError::Config { field, .. } if field == "name"));
        let err = parse_json_config(r#"{"config":{"x":{"nested":1}}}"#).unwrap_err();
        assert!(matches!(err, ConnectError::Config { field, .. } if field == "x"));
        assert!(parse_json_config("{oops").is_err());
    }
}

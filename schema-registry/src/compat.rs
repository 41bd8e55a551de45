//! Compatibility levels and checks, as Confluent's `AvroCompatibilityChecker` does them: a new
//! schema is checked against the latest version (or every version for the `_TRANSITIVE` levels)
//! by Avro schema resolution (writer → reader).
//!
//! The resolution rules come from `apache-avro`'s `SchemaCompatibility::can_read` with two
//! corrections: a `Partial` answer (some writer union branches or enum symbols cannot be read)
//! counts as incompatible, as it does in Java's checker; and a named type (record, enum, fixed)
//! may be renamed when the reader lists the writer's name among its `aliases` (the Avro spec
//! allows it, `apache-avro` only compares names), done by renaming the reader's type before the
//! check.

use std::collections::HashSet;

use apache_avro::Schema as AvroSchema;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use serde_json::Value as Json;

/// Confluent's compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    pub const ALL: [Level; 7] =
        [Level::None, Level::Backward, Level::BackwardTransitive, Level::Forward, Level::ForwardTransitive, Level::Full, Level::FullTransitive];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Parses a level name (case-insensitive, as Confluent accepts).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }

    fn transitive(self) -> bool {
        matches!(self, Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive)
    }

    fn backward(self) -> bool {
        matches!(self, Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive)
    }

    fn forward(self) -> bool {
        matches!(self, Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive)
    }
}

/// Parses an Avro schema text as the registry stores it; the error is the parser's message.
pub fn parse_avro(text: &str) -> Result<AvroSchema, String> {
    AvroSchema::parse_str(text).map_err(|e| e.to_string())
}

/// Why `reader` cannot read data written with `writer`, or `None` when it can.
pub fn can_read(writer: &str, reader: &str) -> Result<Option<String>, String> {
    let writer_json: Json = serde_json::from_str(writer).map_err(|e| e.to_string())?;
    let mut reader_json: Json = serde_json::from_str(reader).map_err(|e| e.to_string())?;
    let mut writer_names = HashSet::new();
    collect_names(&writer_json, &mut writer_names);
    apply_reader_aliases(&mut reader_json, &writer_names);
    let w = AvroSchema::parse(&writer_json).map_err(|e| e.to_string())?;
    let r = AvroSchema::parse(&reader_json).map_err(|e| e.to_string())?;
    Ok(match SchemaCompatibility::can_read(&w, &r) {
        Ok(Compatibility::Full) => None,
        Ok(Compatibility::Partial) => Some("the reader cannot read every value of the writer (some union branches or enum symbols are missing)".to_string()),
        Err(e) => Some(e.to_string()),
    })
}

/// Checks `new` against `previous` (oldest first) under `level`; returns the messages of every
/// failure (empty when compatible), in Confluent's verbose style.
pub fn check(level: Level, new: &str, previous: &[(i32, &str)]) -> Vec<String> {
    if level == Level::None || previous.is_empty() {
        return Vec::new();
    }
    let against: &[(i32, &str)] = if level.transitive() { previous } else { &previous[previous.len() - 1..] };
    let mut messages = Vec::new();
    for (version, old) in against.iter().rev() {
        let mut failed = Vec::new();
        if level.backward() {
            match can_read(old, new) {
                Ok(None) => {}
                Ok(Some(why)) => failed
                    .push(format!("{{errorType:'READER_INCOMPATIBLE', description:'The new schema cannot read data written with the old schema: {why}'}}")),
                Err(e) => failed.push(format!("{{errorType:'INVALID_SCHEMA', description:'{e}'}}")),
            }
        }
        if level.forward() {
            match can_read(new, old) {
                Ok(None) => {}
                Ok(Some(why)) => failed
                    .push(format!("{{errorType:'WRITER_INCOMPATIBLE', description:'The old schema cannot read data written with the new schema: {why}'}}")),
                Err(e) => failed.push(format!("{{errorType:'INVALID_SCHEMA', description:'{e}'}}")),
            }
        }
        if !failed.is_empty() {
            messages.extend(failed);
            messages.push(format!("{{oldSchemaVersion: {version}}}"));
            messages.push(format!("{{oldSchema: '{old}'}}"));
            messages.push(format!("{{compatibility: '{}'}}", level.as_str()));
        }
    }
    messages
}

/// The unqualified names of every named type defined in `schema`.
fn collect_names(schema: &Json, out: &mut HashSet<String>) {
    match schema {
        Json::Array(branches) => branches.iter().for_each(|b| collect_names(b, out)),
        Json::Object(obj) => {
            if matches!(obj.get("type").and_then(Json::as_str), Some("record" | "error" | "enum" | "fixed"))
                && let Some(name) = obj.get("name").and_then(Json::as_str)
            {
                out.insert(unqualified(name).to_string());
            }
            for key in ["type", "items", "values"] {
                if let Some(inner) = obj.get(key) {
                    collect_names(inner, out);
                }
            }
            if let Some(Json::Array(fields)) = obj.get("fields") {
                fields.iter().filter_map(|f| f.get("type")).for_each(|t| collect_names(t, out));
            }
        }
        _ => {}
    }
}

fn unqualified(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Renames each named type of the reader to the writer's name when the reader's `aliases` list
/// that name and the writer has no type of the reader's own name.
fn apply_reader_aliases(schema: &mut Json, writer_names: &HashSet<String>) {
    match schema {
        Json::Array(branches) => branches.iter_mut().for_each(|b| apply_reader_aliases(b, writer_names)),
        Json::Object(obj) => {
            let named = matches!(obj.get("type").and_then(Json::as_str), Some("record" | "error" | "enum" | "fixed"));
            if named
                && let Some(name) = obj.get("name").and_then(Json::as_str).map(str::to_string)
                && !writer_names.contains(unqualified(&name))
                && let Some(Json::Array(aliases)) = obj.get("aliases")
                && let Some(alias) = aliases.iter().filter_map(Json::as_str).find(|a| writer_names.contains(unqualified(a)))
            {
                let alias = alias.to_string();
                obj.insert("name".into(), Json::String(alias));
            }
            for key in ["type", "items", "values"] {
                if let Some(inner) = obj.get_mut(key) {
                    apply_reader_aliases(inner, writer_names);
                }
            }
            if let Some(Json::Array(fields)) = obj.get_mut("fields") {
                fields.iter_mut().filter_map(|f| f.get_mut("type")).for_each(|t| apply_reader_aliases(t, writer_names));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: &str) -> String {
        format!(r#"{{"type":"record","name":"Order","namespace":"shop","fields":[{fields}]}}"#)
    }

    const ID: &str = r#"{"name":"id","type":"long"}"#;

    /// (what changed, old schema, new schema, compatible as BACKWARD, compatible as FORWARD)
    fn matrix() -> Vec<(&'static str, String, String, bool, bool)> {
        vec![
            ("add field with default", rec(ID), rec(&format!(r#"{ID},{{"name":"note","type":"string","default":""}}"#)), true, true),
            ("add field without default", rec(ID), rec(&format!(r#"{ID},{{"name":"note","type":"string"}}"#)), false, true),
            ("remove field without default", rec(&format!(r#"{ID},{{"name":"note","type":"string"}}"#)), rec(ID), true, false),
            ("remove field with default", rec(&format!(r#"{ID},{{"name":"note","type":"string","default":""}}"#)), rec(ID), true, true),
            ("promote int to long", rec(r#"{"name":"id","type":"int"}"#), rec(ID), true, false),
            ("promote long to double", rec(ID), rec(r#"{"name":"id","type":"double"}"#), true, false),
            ("string to bytes", rec(r#"{"name":"id","type":"string"}"#), rec(r#"{"name":"id","type":"bytes"}"#), true, true),
            ("long to string", rec(ID), rec(r#"{"name":"id","type":"string"}"#), false, false),
            ("rename field with alias", rec(ID), rec(r#"{"name":"order_id","type":"long","aliases":["id"]}"#), true, false),
            ("rename field without alias", rec(ID), rec(r#"{"name":"order_id","type":"long"}"#), false, false),
            (
                "add enum symbol",
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN"]}"#.into(),
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}"#.into(),
                true,
                false,
            ),
            (
                "remove enum symbol",
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN"]}"#.into(),
                r#"{"type":"enum","name":"Color","symbols":["RED"]}"#.into(),
                false,
                true,
            ),
            ("widen to union with null", rec(ID), rec(r#"{"name":"id","type":["null","long"],"default":null}"#), true, false),
            ("narrow union to one branch", rec(r#"{"name":"id","type":["null","long"],"default":null}"#), rec(ID), false, true),
            (
                "rename record with alias",
                rec(ID),
                r#"{"type":"record","name":"Purchase","aliases":["shop.Order"],"fields":[{"name":"id","type":"long"}]}"#.into(),
                true,
                false,
            ),
            ("rename record without alias", rec(ID), r#"{"type":"record","name":"Purchase","fields":[{"name":"id","type":"long"}]}"#.into(), false, false),
        ]
    }

    #[test]
    fn compatibility_matrix_under_each_level() {
        for (what, old, new, backward, forward) in matrix() {
            for level in Level::ALL {
                let ok = check(level, &new, &[(1, &old)]).is_empty();
                let expected = match level {
                    Level::None => true,
                    Level::Backward | Level::BackwardTransitive => backward,
                    Level::Forward | Level::ForwardTransitive => forward,
                    Level::Full | Level::FullTransitive => backward && forward,
                };
                assert_eq!(ok, expected, "{what} under {}", level.as_str());
            }
        }
    }

    #[test]
    fn transitive_levels_check_every_version() {
        // v1 has no `note`; v2 adds it with a default; v3 drops the default: compatible with v2
        // (which always wrote `note`) but not with v1.
        let v1 = rec(ID);
        let v2 = rec(&format!(r#"{ID},{{"name":"note","type":"string","default":""}}"#));
        let v3 = rec(&format!(r#"{ID},{{"name":"note","type":"string"}}"#));
        let previous = [(1, v1.as_str()), (2, v2.as_str())];
        assert!(check(Level::Backward, &v3, &previous).is_empty());
        let messages = check(Level::BackwardTransitive, &v3, &previous);
        assert!(messages.iter().any(|m| m.contains("oldSchemaVersion: 1")), "{messages:?}");
    }

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!(Level::parse("full_transitive"), Some(Level::FullTransitive));
        assert_eq!(Level::parse("SOMETIMES"), None);
    }
}

//! The registry's state and the records of the `_schemas` topic that build it.
//!
//! Records use Confluent's key and value formats, so a `_schemas` topic can be read by either:
//! `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}` → `{"subject","version","id",
//! "schema","schemaType"?,"references"?,"deleted"}` (a null value deletes the version for good);
//! `{"keytype":"CONFIG","subject":S|null,"magic":0}` → `{"compatibilityLevel":L}` or null;
//! `{"keytype":"MODE","subject":S|null,"magic":0}` → `{"mode":M}` or null; and
//! `{"keytype":"NOOP","magic":0}`, written to find the end of the log.
//!
//! Every worker applies the same log in the same order with [`State::apply`], which is
//! deterministic: a SCHEMA record that would give a taken id to another schema, reuse a taken
//! (subject, version), or register a schema twice under one subject is ignored. A writer knows
//! its registration won only after reading its own record back (see `store`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compat::Level;

/// A schema reference (`{"name","subject","version"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// The key of a `_schemas` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "keytype", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordKey {
    Schema {
        subject: String,
        version: i32,
        magic: i32,
    },
    Config {
        subject: Option<String>,
        magic: i32,
    },
    Mode {
        subject: Option<String>,
        magic: i32,
    },
    Noop {
        magic: i32,
    },
    /// Written by Confluent on subject deletes; read and ignored here (the SCHEMA records say it all).
    DeleteSubject {
        subject: String,
    },
    ClearSubject {
        subject: String,
    },
}

/// One version of a subject, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema: String,
    #[serde(rename = "schemaType", default, skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub deleted: bool,
}

/// What an id stands for: the schema text, type and references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    pub schema: String,
    pub schema_type: Option<String>,
    pub references: Vec<Reference>,
}

impl SchemaValue {
    pub fn stored(&self) -> StoredSchema {
        StoredSchema { schema: self.schema.clone(), schema_type: self.schema_type.clone(), references: self.references.clone() }
    }
}

/// The registry's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
    Import,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::Import => "IMPORT",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::ReadWrite, Mode::ReadOnly, Mode::Import].into_iter().find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Everything the registry knows, rebuilt from the log.
#[derive(Debug, Default)]
pub struct State {
    /// subject → version → schema.
    pub subjects: BTreeMap<String, BTreeMap<i32, SchemaValue>>,
    /// id → schema, for every id some version still uses.
    pub ids: BTreeMap<i32, StoredSchema>,
    /// The highest id ever given out (never goes down, so ids are never reused).
    pub max_id: i32,
    pub global_level: Option<Level>,
    pub subject_levels: BTreeMap<String, Level>,
    pub global_mode: Option<Mode>,
    pub subject_modes: BTreeMap<String, Mode>,
}

impl State {
    /// Applies one record of the log; malformed records are logged and skipped.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        let key: RecordKey = match serde_json::from_slice(key) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "skipping a _schemas record with an unknown key");
                return;
            }
        };
        match key {
            RecordKey::Schema { subject, version, .. } => match value {
                None => self.remove_version(&subject, version),
                Some(v) => match serde_json::from_slice::<SchemaValue>(v) {
                    Ok(v) if v.subject == subject && v.version == version => {
                        if let Err(why) = self.accept(v) {
                            tracing::debug!(subject, version, why, "ignored a conflicting _schemas record");
                        }
                    }
                    Ok(_) => tracing::warn!(subject, version, "skipping a _schemas record whose key and value disagree"),
                    Err(e) => tracing::warn!(error = %e, "skipping a malformed _schemas SCHEMA record"),
                },
            },
            RecordKey::Config { subject, .. } => {
                let level = value
                    .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
                    .and_then(|v| v.get("compatibilityLevel").and_then(|l| l.as_str()).and_then(Level::parse));
                match (subject, level) {
                    (None, l) => self.global_level = l,
                    (Some(s), Some(l)) => {
                        self.subject_levels.insert(s, l);
                    }
                    (Some(s), None) => {
                        self.subject_levels.remove(&s);
                    }
                }
            }
            RecordKey::Mode { subject, .. } => {
                let mode = value
                    .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
                    .and_then(|v| v.get("mode").and_then(|l| l.as_str()).and_then(Mode::parse));
                match (subject, mode) {
                    (None, m) => self.global_mode = m,
                    (Some(s), Some(m)) => {
                        self.subject_modes.insert(s, m);
                    }
                    (Some(s), None) => {
                        self.subject_modes.remove(&s);
                    }
                }
            }
            RecordKey::Noop { .. } | RecordKey::DeleteSubject { .. } | RecordKey::ClearSubject { .. } => {}
        }
    }

    /// Inserts or updates a version unless it conflicts with what the log already holds.
    fn accept(&mut self, v: SchemaValue) -> Result<(), &'static str> {
        if let Some(existing) = self.subjects.get(&v.subject).and_then(|vs| vs.get(&v.version)) {
            if existing.id != v.id || existing.schema != v.schema {
                return Err("version taken by another schema");
            }
        } else {
            if let Some(stored) = self.ids.get(&v.id)
                && *stored != v.stored()
            {
                return Err("id taken by another schema");
            }
            if !v.deleted && self.subjects.get(&v.subject).is_some_and(|vs| vs.values().any(|o| !o.deleted && o.id == v.id)) {
                return Err("schema already registered under this subject");
            }
        }
        self.max_id = self.max_id.max(v.id);
        self.ids.insert(v.id, v.stored());
        self.subjects.entry(v.subject.clone()).or_default().insert(v.version, v);
        Ok(())
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(versions) = self.subjects.get_mut(subject) else { return };
        let Some(removed) = versions.remove(&version) else { return };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        let still_used = self.subjects.values().flat_map(|vs| vs.values()).any(|v| v.id == removed.id);
        if !still_used {
            self.ids.remove(&removed.id);
        }
    }

    /// The versions of `subject`, oldest first; soft-deleted ones only if `deleted`.
    pub fn versions(&self, subject: &str, deleted: bool) -> Vec<&SchemaValue> {
        self.subjects.get(subject).map(|vs| vs.values().filter(|v| deleted || !v.deleted).collect()).unwrap_or_default()
    }

    /// The id already given to this exact schema (text, type and references), if any.
    pub fn id_of(&self, schema: &StoredSchema) -> Option<i32> {
        self.ids.iter().find(|(_, s)| *s == schema).map(|(id, _)| *id)
    }

    /// The level that applies to `subject` (its own, else the global one, else BACKWARD).
    pub fn level(&self, subject: Option<&str>) -> Level {
        subject.and_then(|s| self.subject_levels.get(s).copied()).or(self.global_level).unwrap_or(Level::Backward)
    }

    /// The mode that applies to `subject` (its own, else the global one, else READWRITE).
    pub fn mode(&self, subject: Option<&str>) -> Mode {
        subject.and_then(|s| self.subject_modes.get(s).copied()).or(self.global_mode).unwrap_or(Mode::ReadWrite)
    }

    /// Versions (with their subjects) whose references name `subject`/`version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .subjects
            .values()
            .flat_map(|vs| vs.values())
            .filter(|v| !v.deleted && v.references.iter().any(|r| r.subject == subject && r.version == version))
            .map(|v| v.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(subject: &str, version: i32) -> Vec<u8> {
        serde_json::to_vec(&RecordKey::Schema { subject: subject.into(), version, magic: 1 }).unwrap()
    }

    fn value(subject: &str, version: i32, id: i32, schema: &str) -> Vec<u8> {
        serde_json::to_vec(&SchemaValue { subject: subject.into(), version, id, schema: schema.into(), schema_type: None, references: vec![], deleted: false })
            .unwrap()
    }

    #[test]
    fn the_first_record_for_an_id_or_version_wins() {
        let mut st = State::default();
        st.apply(&key("a", 1), Some(&value("a", 1, 1, "\"string\"")));
        // Another worker raced for id 1 with another schema: ignored.
        st.apply(&key("b", 1), Some(&value("b", 1, 1, "\"long\"")));
        assert!(!st.subjects.contains_key("b"));
        // And for version 1 of `a`: ignored.
        st.apply(&key("a", 1), Some(&value("a", 1, 2, "\"long\"")));
        assert_eq!(st.subjects["a"][&1].id, 1);
        // The same schema under another subject shares the id.
        st.apply(&key("b", 1), Some(&value("b", 1, 1, "\"string\"")));
        assert_eq!(st.subjects["b"][&1].id, 1);
        // Twice under one subject: ignored.
        st.apply(&key("a", 2), Some(&value("a", 2, 1, "\"string\"")));
        assert_eq!(st.versions("a", true).len(), 1);
        // A tombstone deletes for good; the id survives while `b` uses it, max_id never shrinks.
        st.apply(&key("a", 1), None);
        assert!(st.ids.contains_key(&1));
        st.apply(&key("b", 1), None);
        assert!(st.ids.is_empty());
        assert_eq!(st.max_id, 1);
    }

    #[test]
    fn config_and_mode_records() {
        let mut st = State::default();
        assert_eq!(st.level(Some("s")), Level::Backward);
        st.apply(br#"{"keytype":"CONFIG","subject":null,"magic":0}"#, Some(br#"{"compatibilityLevel":"FULL"}"#));
        st.apply(br#"{"keytype":"CONFIG","subject":"s","magic":0}"#, Some(br#"{"compatibilityLevel":"NONE"}"#));
        assert_eq!((st.level(Some("s")), st.level(Some("t"))), (Level::None, Level::Full));
        st.apply(br#"{"keytype":"CONFIG","subject":"s","magic":0}"#, None);
        assert_eq!(st.level(Some("s")), Level::Full);
        st.apply(br#"{"keytype":"MODE","subject":"s","magic":0}"#, Some(br#"{"mode":"READONLY"}"#));
        assert_eq!((st.mode(Some("s")), st.mode(None)), (Mode::ReadOnly, Mode::ReadWrite));
        st.apply(b"not json", None);
    }
}

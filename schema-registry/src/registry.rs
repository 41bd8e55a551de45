//! The registry's operations (register, look up, delete, check, config, mode) over a [`Store`],
//! with Confluent's rules and errors; `api` maps them to HTTP.
//!
//! Limits: only Avro schemas (`schemaType` AVRO or absent); compatibility checks of a schema with
//! `references` are skipped (the references must exist); checks and writes of two workers are
//! not serialized with each other, so two incompatible schemas registered at the same instant on
//! two workers can both pass their check (ids and versions still never collide).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::compat::{self, Level};
use crate::error::RegistryError;
use crate::state::{Mode, RecordKey, Reference, SchemaValue, State, StoredSchema};
use crate::store::Store;

/// How many times a registration retries after losing an id race to another worker.
const REGISTER_ATTEMPTS: usize = 20;

/// The body of `POST /subjects/{s}/versions` and friends.
#[derive(Debug, Clone, Deserialize)]
pub struct SchemaRequest {
    pub schema: String,
    #[serde(rename = "schemaType", default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Vec<Reference>,
    /// IMPORT mode only: the id and version to register under.
    #[serde(default)]
    pub id: Option<i32>,
    #[serde(default)]
    pub version: Option<i32>,
}

/// `latest` (or -1) or a version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionId {
    Latest,
    Number(i32),
}

impl VersionId {
    pub fn parse(s: &str) -> Result<VersionId, RegistryError> {
        match s {
            "latest" | "-1" => Ok(VersionId::Latest),
            n => match n.parse::<i32>() {
                Ok(v) if v >= 1 => Ok(VersionId::Number(v)),
                _ => Err(RegistryError::InvalidVersion(s.to_string())),
            },
        }
    }
}

/// The registry served by one worker.
#[derive(Clone)]
pub struct Registry {
    pub store: Arc<Store>,
}

impl Registry {
    pub fn new(store: Arc<Store>) -> Registry {
        Registry { store }
    }

    /// Validates and normalizes a schema request into what the log stores.
    fn stored(&self, req: &SchemaRequest) -> Result<StoredSchema, RegistryError> {
        match req.schema_type.as_deref() {
            None => {}
            Some(t) if t.eq_ignore_ascii_case("AVRO") => {}
            Some(t) => return Err(RegistryError::InvalidSchema(format!("of type {t}: only AVRO schemas are supported by this registry"))),
        }
        let json: Json = serde_json::from_str(&req.schema).map_err(|e| RegistryError::InvalidSchema(format!("{}: {e}", req.schema)))?;
        let text = json.to_string();
        self.store.read(|st| {
            let mut texts = Vec::new();
            for r in &req.references {
                collect_reference(st, r, &mut texts, 0)?;
            }
            if texts.is_empty() {
                compat::parse_avro(&text).map_err(|e| RegistryError::InvalidSchema(format!("{text}, details: {e}")))?;
            } else {
                texts.push(text.clone());
                apache_avro::Schema::parse_list(&texts).map_err(|e| RegistryError::InvalidSchema(format!("{text}, details: {e}")))?;
            }
            Ok(StoredSchema { schema: text, schema_type: None, references: req.references.clone() })
        })?
    }

    /// `POST /subjects/{s}/versions`: the id of the schema in the subject, registering it if new.
    pub async fn register(&self, subject: &str, req: &SchemaRequest) -> Result<i32, RegistryError> {
        let schema = self.stored(req)?;
        let _guard = self.store.write_lock.lock().await;
        for _ in 0..REGISTER_ATTEMPTS {
            let plan = self.store.read(|st| plan_registration(st, subject, req, &schema))??;
            let (id, version) = match plan {
                Plan::Existing(id) => return Ok(id),
                Plan::Write { id, version } => (id, version),
            };
            let value = SchemaValue {
                subject: subject.to_string(),
                version,
                id,
                schema: schema.schema.clone(),
                schema_type: schema.schema_type.clone(),
                references: schema.references.clone(),
                deleted: false,
            };
            self.store.write(&RecordKey::Schema { subject: subject.to_string(), version, magic: 1 }, Some(&value)).await?;
            let won = self.store.read(|st| st.subjects.get(subject).and_then(|vs| vs.get(&version)) == Some(&value))?;
            if won {
                tracing::info!(subject, version, id, "registered schema");
                return Ok(id);
            }
            tracing::debug!(subject, version, id, "lost a registration race; retrying");
        }
        Err(RegistryError::Timeout(format!("could not register a schema under '{subject}' after {REGISTER_ATTEMPTS} attempts")))
    }

    /// `POST /subjects/{s}`: the version of the subject holding this schema.
    pub fn lookup(&self, subject: &str, req: &SchemaRequest, deleted: bool) -> Result<SchemaValue, RegistryError> {
        let schema = self.stored(req)?;
        self.store.read(|st| {
            let versions = st.versions(subject, deleted);
            if versions.is_empty() {
                return Err(RegistryError::SubjectNotFound(subject.to_string()));
            }
            versions.into_iter().rev().find(|v| v.stored() == schema).cloned().ok_or_else(|| RegistryError::SchemaNotFound(String::new()))
        })?
    }

    /// One version of a subject.
    pub fn version(&self, subject: &str, version: VersionId, deleted: bool) -> Result<SchemaValue, RegistryError> {
        self.store.read(|st| find_version(st, subject, version, deleted).cloned())?
    }

    /// `POST /compatibility/subjects/{s}/versions[/{v}]`: the failures (empty = compatible).
    pub fn check(&self, subject: &str, version: Option<VersionId>, req: &SchemaRequest) -> Result<Vec<String>, RegistryError> {
        let schema = self.stored(req)?;
        self.store.read(|st| {
            let level = st.level(Some(subject));
            let previous: Vec<(i32, String)> = match version {
                None => st.versions(subject, false).into_iter().map(|v| (v.version, v.schema.clone())).collect(),
                Some(v) => {
                    let found = find_version(st, subject, v, false)?;
                    vec![(found.version, found.schema.clone())]
                }
            };
            let previous: Vec<(i32, &str)> = previous.iter().map(|(v, s)| (*v, s.as_str())).collect();
            Ok(compat::check(level, &schema.schema, &previous))
        })?
    }

    /// `DELETE /subjects/{s}`: the versions deleted.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>, RegistryError> {
        let _guard = self.store.write_lock.lock().await;
        self.check_writable(subject)?;
        let (all, live): (Vec<SchemaValue>, usize) =
            self.store.read(|st| (st.versions(subject, true).into_iter().cloned().collect(), st.versions(subject, false).len()))?;
        if all.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        if permanent && live > 0 {
            return Err(RegistryError::SubjectNotSoftDeleted(subject.to_string()));
        }
        if !permanent && live == 0 {
            return Err(RegistryError::SubjectSoftDeleted(subject.to_string()));
        }
        let targets: Vec<SchemaValue> = all.into_iter().filter(|v| permanent || !v.deleted).collect();
        let deleted = targets.iter().map(|v| v.version).collect();
        for v in targets {
            self.delete_one(v, permanent).await?;
        }
        if permanent {
            // As Confluent does, a subject deleted for good loses its own config and mode.
            let (level, mode) = self.store.read(|st| (st.subject_levels.contains_key(subject), st.subject_modes.contains_key(subject)))?;
            if level {
                self.set_level(Some(subject), None).await?;
            }
            if mode {
                self.set_mode(Some(subject), None, true).await?;
            }
        }
        Ok(deleted)
    }

    /// `DELETE /subjects/{s}/versions/{v}`: the version deleted.
    pub async fn delete_version(&self, subject: &str, version: VersionId, permanent: bool) -> Result<i32, RegistryError> {
        let _guard = self.store.write_lock.lock().await;
        self.check_writable(subject)?;
        let found = self.store.read(|st| {
            let v = find_version(st, subject, version, true)?.clone();
            if !st.referenced_by(subject, v.version).is_empty() {
                return Err(RegistryError::ReferenceExists { subject: subject.to_string(), version: v.version });
            }
            Ok(v)
        })??;
        match (permanent, found.deleted) {
            (false, true) => return Err(RegistryError::VersionSoftDeleted { subject: subject.to_string(), version: found.version }),
            (true, false) => return Err(RegistryError::VersionNotSoftDeleted { subject: subject.to_string(), version: found.version }),
            _ => {}
        }
        let number = found.version;
        self.delete_one(found, permanent).await?;
        Ok(number)
    }

    async fn delete_one(&self, mut v: SchemaValue, permanent: bool) -> Result<(), RegistryError> {
        let key = RecordKey::Schema { subject: v.subject.clone(), version: v.version, magic: 1 };
        if permanent {
            self.store.write(&key, None::<&()>).await
        } else {
            v.deleted = true;
            self.store.write(&key, Some(&v)).await
        }
    }

    fn check_writable(&self, subject: &str) -> Result<(), RegistryError> {
        match self.store.read(|st| st.mode(Some(subject)))? {
            Mode::ReadOnly => Err(RegistryError::OperationNotPermitted(format!("Subject {subject} is in read-only mode"))),
            _ => Ok(()),
        }
    }

    /// Sets (or with `None` clears) the global or a subject's level.
    pub async fn set_level(&self, subject: Option<&str>, level: Option<Level>) -> Result<(), RegistryError> {
        let key = RecordKey::Config { subject: subject.map(str::to_string), magic: 0 };
        let value = level.map(|l| serde_json::json!({"compatibilityLevel": l.as_str()}));
        self.store.write(&key, value.as_ref()).await
    }

    /// Sets (or with `None` clears) the global or a subject's mode.
    pub async fn set_mode(&self, subject: Option<&str>, mode: Option<Mode>, force: bool) -> Result<(), RegistryError> {
        if mode == Some(Mode::Import) && !force {
            let has_schemas = self.store.read(|st| match subject {
                None => !st.subjects.is_empty(),
                Some(s) => !st.versions(s, true).is_empty(),
            })?;
            if has_schemas {
                return Err(RegistryError::OperationNotPermitted("Cannot import since found existing subjects".into()));
            }
        }
        let key = RecordKey::Mode { subject: subject.map(str::to_string), magic: 0 };
        let value = mode.map(|m| serde_json::json!({"mode": m.as_str()}));
        self.store.write(&key, value.as_ref()).await
    }
}

/// What a registration does: nothing (the subject has it) or write a new version.
enum Plan {
    Existing(i32),
    Write { id: i32, version: i32 },
}

fn plan_registration(st: &State, subject: &str, req: &SchemaRequest, schema: &StoredSchema) -> Result<Plan, RegistryError> {
    let mode = st.mode(Some(subject));
    if mode == Mode::ReadOnly {
        return Err(RegistryError::OperationNotPermitted(format!("Subject {subject} is in read-only mode")));
    }
    let live = st.versions(subject, false);
    if let Some(v) = live.iter().find(|v| v.stored() == *schema) {
        return Ok(Plan::Existing(v.id));
    }
    let next_version = st.versions(subject, true).last().map(|v| v.version + 1).unwrap_or(1);
    if mode == Mode::Import {
        let id = req.id.ok_or_else(|| RegistryError::OperationNotPermitted("Registering a schema in IMPORT mode needs an id".into()))?;
        if st.ids.get(&id).is_some_and(|s| s != schema) {
            return Err(RegistryError::OperationNotPermitted(format!("Overwrite new schema with id {id} is not permitted.")));
        }
        return Ok(Plan::Write { id, version: req.version.unwrap_or(next_version) });
    }
    if let Some(id) = req.id
        && st.ids.get(&id) != Some(schema)
    {
        return Err(RegistryError::OperationNotPermitted(format!("Overwrite new schema with id {id} is not permitted.")));
    }
    if schema.references.is_empty() {
        let previous: Vec<(i32, &str)> = live.iter().filter(|v| v.references.is_empty()).map(|v| (v.version, v.schema.as_str())).collect();
        let details = compat::check(st.level(Some(subject)), &schema.schema, &previous);
        if !details.is_empty() {
            return Err(RegistryError::Incompatible { subject: subject.to_string(), details });
        }
    }
    let id = st.id_of(schema).unwrap_or(st.max_id + 1);
    Ok(Plan::Write { id, version: next_version })
}

fn find_version<'a>(st: &'a State, subject: &str, version: VersionId, deleted: bool) -> Result<&'a SchemaValue, RegistryError> {
    let versions = st.versions(subject, deleted);
    if versions.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject.to_string()));
    }
    match version {
        VersionId::Latest => versions.last().copied().ok_or_else(|| RegistryError::VersionNotFound("latest".into())),
        VersionId::Number(n) => versions.into_iter().find(|v| v.version == n).ok_or_else(|| RegistryError::VersionNotFound(n.to_string())),
    }
}

/// The schema texts a reference needs, dependencies first.
fn collect_reference(st: &State, r: &Reference, out: &mut Vec<String>, depth: usize) -> Result<(), RegistryError> {
    if depth > 32 {
        return Err(RegistryError::InvalidSchema("references nest too deeply".into()));
    }
    let v = find_version(st, &r.subject, VersionId::Number(r.version), false)
        .map_err(|_| RegistryError::InvalidSchema(format!("reference {} ({} version {}) not found", r.name, r.subject, r.version)))?;
    for inner in &v.references {
        collect_reference(st, inner, out, depth + 1)?;
    }
    if !out.contains(&v.schema) {
        out.push(v.schema.clone());
    }
    Ok(())
}

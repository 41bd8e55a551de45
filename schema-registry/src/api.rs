//! Confluent Schema Registry's REST API on axum: the same paths, bodies, error codes and
//! content type (`application/vnd.schemaregistry.v1+json`). Request bodies are read whatever
//! their content type says (Confluent accepts its own types, `application/json` and
//! octet-stream); unknown query parameters are ignored, as Confluent does.
//!
//! Not Confluent: `GET /metrics` gives the number of requests served (Prometheus text), which
//! tests use to check that converters cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE as CT;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use crate::compat::Level;
use crate::error::{CONTENT_TYPE, RegistryError};
use crate::registry::{Registry, SchemaRequest, VersionId};
use crate::state::{Mode, SchemaValue};

type Params = Query<HashMap<String, String>>;
type ApiResult = Result<Response, RegistryError>;

#[derive(Clone)]
struct App {
    registry: Registry,
    requests: Arc<AtomicU64>,
}

fn ok(body: Json) -> ApiResult {
    Ok(([(CT, CONTENT_TYPE)], body.to_string()).into_response())
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::UnprocessableEntity(format!("Unrecognized request body: {e}")))
}

fn version_json(v: &SchemaValue) -> Json {
    let mut out = json!({"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema});
    if !v.references.is_empty() {
        out["references"] = json!(v.references);
    }
    out
}

/// The registry's routes.
pub fn router(registry: Registry) -> Router {
    let app = App { registry, requests: Arc::new(AtomicU64::new(0)) };
    Router::new()
        .route("/", get(|| async { ok(json!({})) }))
        .route("/metrics", get(metrics))
        .route("/schemas/types", get(|| async { ok(json!(["AVRO"])) }))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_by_id))
        .route("/schemas/ids/{id}/versions", get(versions_by_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version).delete(delete_version))
        .route("/subjects/{subject}/versions/{version}/schema", get(raw_version))
        .route("/subjects/{subject}/versions/{version}/referencedby", get(referenced_by))
        .route("/compatibility/subjects/{subject}/versions", post(check_all))
        .route("/compatibility/subjects/{subject}/versions/{version}", post(check_version))
        .route("/config", get(get_global_config).put(put_global_config).delete(delete_global_config))
        .route("/config/{subject}", get(get_config).put(put_config).delete(delete_config))
        .route("/mode", get(get_global_mode).put(put_global_mode).delete(delete_global_mode))
        .route("/mode/{subject}", get(get_mode).put(put_mode).delete(delete_mode))
        .fallback(|| async { RegistryError::NotFound })
        .layer(middleware::from_fn_with_state(app.clone(), count))
        .with_state(app)
}

async fn count(State(app): State<App>, req: Request, next: Next) -> Response {
    app.requests.fetch_add(1, Ordering::Relaxed);
    next.run(req).await
}

async fn metrics(State(app): State<App>) -> Response {
    let n = app.requests.load(Ordering::Relaxed);
    format!("# TYPE schema_registry_requests_total counter\nschema_registry_requests_total {n}\n").into_response()
}

fn stored_by_id(app: &App, id: &str) -> Result<crate::state::StoredSchema, RegistryError> {
    let id: i32 = id.parse().map_err(|_| RegistryError::SchemaNotFound(id.to_string()))?;
    app.registry.store.read(|st| st.ids.get(&id).cloned())?.ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))
}

async fn schema_by_id(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let s = stored_by_id(&app, &id)?;
    let mut out = json!({"schema": s.schema});
    if !s.references.is_empty() {
        out["references"] = json!(s.references);
    }
    ok(out)
}

async fn raw_schema_by_id(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let s = stored_by_id(&app, &id)?;
    Ok(([(CT, CONTENT_TYPE)], s.schema).into_response())
}

fn uses_of_id(app: &App, id: &str, deleted: bool) -> Result<Vec<SchemaValue>, RegistryError> {
    stored_by_id(app, id)?;
    let id: i32 = id.parse().unwrap_or_default();
    app.registry.store.read(|st| st.subjects.values().flat_map(|vs| vs.values()).filter(|v| v.id == id && (deleted || !v.deleted)).cloned().collect())
}

async fn subjects_by_id(State(app): State<App>, Path(id): Path<String>, Query(q): Params) -> ApiResult {
    let mut subjects: Vec<String> = uses_of_id(&app, &id, flag(&q, "deleted"))?.into_iter().map(|v| v.subject).collect();
    subjects.dedup();
    ok(json!(subjects))
}

async fn versions_by_id(State(app): State<App>, Path(id): Path<String>, Query(q): Params) -> ApiResult {
    let uses = uses_of_id(&app, &id, flag(&q, "deleted"))?;
    ok(Json::Array(uses.iter().map(|v| json!({"subject": v.subject, "version": v.version})).collect()))
}

async fn subjects(State(app): State<App>, Query(q): Params) -> ApiResult {
    let deleted = flag(&q, "deleted");
    let prefix = q.get("subjectPrefix").cloned().unwrap_or_default();
    let names: Vec<String> =
        app.registry.store.read(|st| st.subjects.keys().filter(|s| s.starts_with(&prefix) && !st.versions(s, deleted).is_empty()).cloned().collect())?;
    ok(json!(names))
}

async fn versions(State(app): State<App>, Path(subject): Path<String>, Query(q): Params) -> ApiResult {
    let list: Vec<i32> = app.registry.store.read(|st| st.versions(&subject, flag(&q, "deleted")).iter().map(|v| v.version).collect())?;
    if list.is_empty() {
        return Err(RegistryError::SubjectNotFound(subject));
    }
    ok(json!(list))
}

async fn register(State(app): State<App>, Path(subject): Path<String>, bytes: Bytes) -> ApiResult {
    let req: SchemaRequest = body(&bytes)?;
    let id = app.registry.register(&subject, &req).await?;
    ok(json!({"id": id}))
}

async fn lookup(State(app): State<App>, Path(subject): Path<String>, Query(q): Params, bytes: Bytes) -> ApiResult {
    let req: SchemaRequest = body(&bytes)?;
    ok(version_json(&app.registry.lookup(&subject, &req, flag(&q, "deleted"))?))
}

async fn version(State(app): State<App>, Path((subject, version)): Path<(String, String)>, Query(q): Params) -> ApiResult {
    ok(version_json(&app.registry.version(&subject, VersionId::parse(&version)?, flag(&q, "deleted"))?))
}

async fn raw_version(State(app): State<App>, Path((subject, version)): Path<(String, String)>, Query(q): Params) -> ApiResult {
    let v = app.registry.version(&subject, VersionId::parse(&version)?, flag(&q, "deleted"))?;
    Ok(([(CT, CONTENT_TYPE)], v.schema).into_response())
}

async fn referenced_by(State(app): State<App>, Path((subject, version)): Path<(String, String)>) -> ApiResult {
    let v = app.registry.version(&subject, VersionId::parse(&version)?, false)?;
    ok(json!(app.registry.store.read(|st| st.referenced_by(&subject, v.version))?))
}

async fn delete_subject(State(app): State<App>, Path(subject): Path<String>, Query(q): Params) -> ApiResult {
    ok(json!(app.registry.delete_subject(&subject, flag(&q, "permanent")).await?))
}

async fn delete_version(State(app): State<App>, Path((subject, version)): Path<(String, String)>, Query(q): Params) -> ApiResult {
    ok(json!(app.registry.delete_version(&subject, VersionId::parse(&version)?, flag(&q, "permanent")).await?))
}

fn compatibility_answer(messages: Vec<String>, verbose: bool) -> ApiResult {
    let mut out = json!({"is_compatible": messages.is_empty()});
    if verbose {
        out["messages"] = json!(messages);
    }
    ok(out)
}

async fn check_all(State(app): State<App>, Path(subject): Path<String>, Query(q): Params, bytes: Bytes) -> ApiResult {
    let req: SchemaRequest = body(&bytes)?;
    compatibility_answer(app.registry.check(&subject, None, &req)?, flag(&q, "verbose"))
}

async fn check_version(State(app): State<App>, Path((subject, version)): Path<(String, String)>, Query(q): Params, bytes: Bytes) -> ApiResult {
    let req: SchemaRequest = body(&bytes)?;
    let version = VersionId::parse(&version)?;
    compatibility_answer(app.registry.check(&subject, Some(version), &req)?, flag(&q, "verbose"))
}

fn level_from(bytes: &Bytes) -> Result<Level, RegistryError> {
    let v: Json = body(bytes)?;
    v.get("compatibility").and_then(Json::as_str).and_then(Level::parse).ok_or(RegistryError::InvalidCompatibilityLevel)
}

async fn get_global_config(State(app): State<App>) -> ApiResult {
    ok(json!({"compatibilityLevel": app.registry.store.read(|st| st.level(None))?.as_str()}))
}

async fn put_global_config(State(app): State<App>, bytes: Bytes) -> ApiResult {
    let level = level_from(&bytes)?;
    app.registry.set_level(None, Some(level)).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn delete_global_config(State(app): State<App>) -> ApiResult {
    let previous = app.registry.store.read(|st| st.level(None))?;
    app.registry.set_level(None, None).await?;
    ok(json!({"compatibilityLevel": previous.as_str()}))
}

async fn get_config(State(app): State<App>, Path(subject): Path<String>, Query(q): Params) -> ApiResult {
    let (own, global) = app.registry.store.read(|st| (st.subject_levels.get(&subject).copied(), st.level(None)))?;
    match (own, flag(&q, "defaultToGlobal")) {
        (Some(l), _) => ok(json!({"compatibilityLevel": l.as_str()})),
        (None, true) => ok(json!({"compatibilityLevel": global.as_str()})),
        (None, false) => Err(RegistryError::SubjectLevelCompatibilityNotConfigured(subject)),
    }
}

async fn put_config(State(app): State<App>, Path(subject): Path<String>, bytes: Bytes) -> ApiResult {
    let level = level_from(&bytes)?;
    app.registry.set_level(Some(&subject), Some(level)).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn delete_config(State(app): State<App>, Path(subject): Path<String>) -> ApiResult {
    let own = app.registry.store.read(|st| st.subject_levels.get(&subject).copied())?;
    let own = own.ok_or_else(|| RegistryError::SubjectNotFound(subject.clone()))?;
    app.registry.set_level(Some(&subject), None).await?;
    ok(json!({"compatibilityLevel": own.as_str()}))
}

fn mode_from(bytes: &Bytes) -> Result<Mode, RegistryError> {
    let v: Json = body(bytes)?;
    v.get("mode").and_then(Json::as_str).and_then(Mode::parse).ok_or(RegistryError::InvalidMode)
}

async fn get_global_mode(State(app): State<App>) -> ApiResult {
    ok(json!({"mode": app.registry.store.read(|st| st.mode(None))?.as_str()}))
}

async fn put_global_mode(State(app): State<App>, Query(q): Params, bytes: Bytes) -> ApiResult {
    let mode = mode_from(&bytes)?;
    app.registry.set_mode(None, Some(mode), flag(&q, "force")).await?;
    ok(json!({"mode": mode.as_str()}))
}

async fn delete_global_mode(State(app): State<App>) -> ApiResult {
    let previous = app.registry.store.read(|st| st.mode(None))?;
    app.registry.set_mode(None, None, false).await?;
    ok(json!({"mode": previous.as_str()}))
}

async fn get_mode(State(app): State<App>, Path(subject): Path<String>, Query(q): Params) -> ApiResult {
    let (own, global) = app.registry.store.read(|st| (st.subject_modes.get(&subject).copied(), st.mode(None)))?;
    match (own, flag(&q, "defaultToGlobal")) {
        (Some(m), _) => ok(json!({"mode": m.as_str()})),
        (None, true) => ok(json!({"mode": global.as_str()})),
        (None, false) => Err(RegistryError::SubjectLevelModeNotConfigured(subject)),
    }
}

async fn put_mode(State(app): State<App>, Path(subject): Path<String>, Query(q): Params, bytes: Bytes) -> ApiResult {
    let mode = mode_from(&bytes)?;
    app.registry.set_mode(Some(&subject), Some(mode), flag(&q, "force")).await?;
    ok(json!({"mode": mode.as_str()}))
}

async fn delete_mode(State(app): State<App>, Path(subject): Path<String>) -> ApiResult {
    let own = app.registry.store.read(|st| st.subject_modes.get(&subject).copied())?;
    let own = own.ok_or_else(|| RegistryError::SubjectLevelModeNotConfigured(subject.clone()))?;
    app.registry.set_mode(Some(&subject), None, false).await?;
    ok(json!({"mode": own.as_str()}))
}

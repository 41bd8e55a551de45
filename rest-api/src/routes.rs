//! The endpoints. Each handler is annotated for the OpenAPI document, and the router is built
//! from the same annotations (utoipa-axum), so the document always matches the routes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::RestError;
use crate::body::{ConfigBody, PatchBody, parse};
use crate::herder::Herder;
use crate::types::*;

pub type SharedHerder = Arc<dyn Herder>;
type Res<T> = Result<T, RestError>;

#[derive(OpenApi)]
#[openapi(info(title = "Sluice REST API", description = "Kafka Connect's REST API, served by Sluice."))]
struct ApiDoc;

/// All routes with their OpenAPI descriptions (the state is supplied later).
fn build() -> OpenApiRouter<SharedHerder> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(server_info))
        .routes(routes!(health))
        .routes(routes!(list_connectors, create_connector))
        .routes(routes!(get_connector, delete_connector))
        .routes(routes!(get_connector_config, put_connector_config, patch_connector_config))
        .routes(routes!(get_connector_status))
        .routes(routes!(pause_connector))
        .routes(routes!(resume_connector))
        .routes(routes!(stop_connector))
        .routes(routes!(restart_connector))
        .routes(routes!(get_tasks))
        .routes(routes!(get_task_status))
        .routes(routes!(restart_task))
        .routes(routes!(get_topics))
        .routes(routes!(reset_topics))
        .routes(routes!(get_offsets, alter_offsets, reset_offsets))
        .routes(routes!(list_plugins))
        .routes(routes!(invalid_plugins))
        .routes(routes!(plugin_config))
        .routes(routes!(validate_config))
        .routes(routes!(list_loggers))
        .routes(routes!(get_logger, set_logger))
}

/// The OpenAPI document of every route (including `/openapi.json` itself).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = build().split_for_parts().1;
    let op = utoipa::openapi::path::OperationBuilder::new()
        .summary(Some("This OpenAPI document"))
        .response("200", utoipa::openapi::ResponseBuilder::new().description("OpenAPI 3.1 JSON").build())
        .build();
    doc.paths.add_path_operation("/openapi.json", vec![utoipa::openapi::HttpMethod::Get], op);
    doc
}

/// All routes, served with `herder`.
pub fn api(herder: SharedHerder) -> axum::Router {
    let (router, _) = build().split_for_parts();
    let doc = Arc::new(openapi());
    let router = router.with_state(herder);
    router.route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { Json((*doc).clone()) }
        }),
    )
}

/// Query parameters, possibly repeated (`?expand=status&expand=info`).
fn query_values(raw: &Option<String>, key: &str) -> Vec<String> {
    raw.as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| v.to_string())
        })
        .collect()
}

fn query_bool(raw: &Option<String>, key: &str, default: bool) -> Res<bool> {
    match query_values(raw, key).last().map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(RestError::new(StatusCode::BAD_REQUEST, format!("Invalid value '{v}' for query parameter {key}: expected true or false"))),
    }
}

fn status_only(code: StatusCode) -> Response {
    code.into_response()
}

#[utoipa::path(get, path = "/", responses((status = 200, body = ServerInfo)))]
async fn server_info(State(h): State<SharedHerder>) -> Json<ServerInfo> {
    Json(h.server_info())
}

#[utoipa::path(get, path = "/health", responses((status = 200, body = WorkerStatus), (status = 503, body = WorkerStatus)))]
async fn health(State(h): State<SharedHerder>) -> Response {
    match h.health() {
        Ok(s) => Json(s).into_response(),
        Err(e) => e.into_response(),
    }
}

#[utoipa::path(get, path = "/connectors", params(("expand" = Option<String>, Query, description = "status and/or info")),
    responses((status = 200, description = "names, or name → {status, info}")))]
async fn list_connectors(State(h): State<SharedHerder>, RawQuery(q): RawQuery) -> Res<Response> {
    let names = h.connectors().await?;
    let expand = query_values(&q, "expand");
    if expand.is_empty() {
        return Ok(Json(names).into_response());
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        for e in &expand {
            // A connector deleted meanwhile is left out, as Connect does.
            let v = match e.as_str() {
                "status" => h.connector_status(&name).await.ok().and_then(|s| serde_json::to_value(s).ok()),
                "info" => h.connector_info(&name).await.ok().and_then(|s| serde_json::to_value(s).ok()),
                _ => None,
            };
            if let Some(v) = v {
                entry.insert(e.clone(), v);
            }
        }
        out.insert(name, serde_json::Value::Object(entry));
    }
    Ok(Json(out).into_response())
}

#[utoipa::path(post, path = "/connectors", request_body = CreateConnectorRequest,
    responses((status = 201, body = ConnectorInfo), (status = 400), (status = 409)))]
async fn create_connector(State(h): State<SharedHerder>, body: Bytes) -> Res<Response> {
    let req: CreateConnectorRequest = parse(&body)?;
    let name = req.name.as_deref().map(str::trim).unwrap_or("").to_string();
    if name.is_empty() {
        return Err(RestError::new(StatusCode::BAD_REQUEST, "Connector name must be specified: 'name' is missing or empty"));
    }
    let config = checked_config(&name, req.config)?;
    let created = h.put_connector_config(&name, config, false, req.initial_state).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/connectors/{name}"))], Json(created.result)).into_response())
}

/// Connect's rule: a `name` in the config must equal the connector's name; a missing one is added.
fn checked_config(name: &str, mut config: ConfigMap) -> Res<ConfigMap> {
    match config.get("name") {
        Some(included) if included != name => {
            Err(RestError::new(StatusCode::BAD_REQUEST, format!("Connector name configuration ({included}) doesn't match connector name in the URL ({name})")))
        }
        Some(_) => Ok(config),
        None => {
            config.insert("name".into(), name.to_string());
            Ok(config)
        }
    }
}

#[utoipa::path(get, path = "/connectors/{name}", responses((status = 200, body = ConnectorInfo), (status = 404)))]
async fn get_connector(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Json<ConnectorInfo>> {
    h.connector_info(&name).await.map(Json)
}

#[utoipa::path(delete, path = "/connectors/{name}", responses((status = 204), (status = 404)))]
async fn delete_connector(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Response> {
    h.delete_connector(&name).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

#[utoipa::path(get, path = "/connectors/{name}/config", responses((status = 200, body = BTreeMap<String, String>), (status = 404)))]
async fn get_connector_config(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Json<ConfigMap>> {
    h.connector_config(&name).await.map(Json)
}

#[utoipa::path(put, path = "/connectors/{name}/config", request_body = BTreeMap<String, String>,
    responses((status = 201, body = ConnectorInfo, description = "created"), (status = 200, body = ConnectorInfo, description = "updated"), (status = 400)))]
async fn put_connector_config(State(h): State<SharedHerder>, Path(name): Path<String>, body: Bytes) -> Res<Response> {
    let ConfigBody(config) = parse(&body)?;
    let config = checked_config(&name, config)?;
    let created = h.put_connector_config(&name, config, true, None).await?;
    Ok(if created.created {
        (StatusCode::CREATED, [(header::LOCATION, format!("/connectors/{name}"))], Json(created.result)).into_response()
    } else {
        Json(created.result).into_response()
    })
}

#[utoipa::path(patch, path = "/connectors/{name}/config", request_body = BTreeMap<String, Option<String>>,
    responses((status = 200, body = ConnectorInfo), (status = 400), (status = 404)))]
async fn patch_connector_config(State(h): State<SharedHerder>, Path(name): Path<String>, body: Bytes) -> Res<Json<ConnectorInfo>> {
    let PatchBody(patch) = parse(&body)?;
    if let Some(Some(n)) = patch.get("name")
        && *n != name
    {
        return Err(RestError::new(StatusCode::BAD_REQUEST, format!("Connector name configuration ({n}) doesn't match connector name in the URL ({name})")));
    }
    h.patch_connector_config(&name, patch).await.map(Json)
}

#[utoipa::path(get, path = "/connectors/{name}/status", responses((status = 200, body = ConnectorStateInfo), (status = 404)))]
async fn get_connector_status(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Json<ConnectorStateInfo>> {
    h.connector_status(&name).await.map(Json)
}

#[utoipa::path(put, path = "/connectors/{name}/pause", responses((status = 202), (status = 404)))]
async fn pause_connector(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Response> {
    h.set_target_state(&name, TargetState::Paused).await?;
    Ok(status_only(StatusCode::ACCEPTED))
}

#[utoipa::path(put, path = "/connectors/{name}/resume", responses((status = 202), (status = 404)))]
async fn resume_connector(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Response> {
    h.set_target_state(&name, TargetState::Started).await?;
    Ok(status_only(StatusCode::ACCEPTED))
}

#[utoipa::path(put, path = "/connectors/{name}/stop", responses((status = 202), (status = 404)))]
async fn stop_connector(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Response> {
    h.set_target_state(&name, TargetState::Stopped).await?;
    Ok(status_only(StatusCode::ACCEPTED))
}

#[utoipa::path(post, path = "/connectors/{name}/restart",
    params(("includeTasks" = Option<bool>, Query), ("onlyFailed" = Option<bool>, Query)),
    responses((status = 204, description = "connector only"), (status = 202, body = ConnectorStateInfo), (status = 404)))]
async fn restart_connector(State(h): State<SharedHerder>, Path(name): Path<String>, RawQuery(q): RawQuery) -> Res<Response> {
    let include_tasks = query_bool(&q, "includeTasks", false)?;
    let only_failed = query_bool(&q, "onlyFailed", false)?;
    if !include_tasks && !only_failed {
        h.restart_connector(&name).await?;
        return Ok(status_only(StatusCode::NO_CONTENT));
    }
    let status = h.restart_connector_and_tasks(&name, include_tasks, only_failed).await?;
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

#[utoipa::path(get, path = "/connectors/{name}/tasks", responses((status = 200, body = Vec<TaskInfo>), (status = 404)))]
async fn get_tasks(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Json<Vec<TaskInfo>>> {
    h.task_configs(&name).await.map(Json)
}

#[utoipa::path(get, path = "/connectors/{name}/tasks/{task}/status", responses((status = 200, body = TaskStateInfo), (status = 404)))]
async fn get_task_status(State(h): State<SharedHerder>, Path((name, task)): Path<(String, String)>) -> Res<Json<TaskStateInfo>> {
    let task = task_id(&task)?;
    h.task_status(&name, task).await.map(Json)
}

#[utoipa::path(post, path = "/connectors/{name}/tasks/{task}/restart", responses((status = 204), (status = 404)))]
async fn restart_task(State(h): State<SharedHerder>, Path((name, task)): Path<(String, String)>) -> Res<Response> {
    let task = task_id(&task)?;
    h.restart_task(&name, task).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

fn task_id(raw: &str) -> Res<u32> {
    raw.parse().map_err(|_| RestError::new(StatusCode::NOT_FOUND, format!("Task id '{raw}' is not a number")))
}

#[utoipa::path(get, path = "/connectors/{name}/topics", responses((status = 200, description = "{NAME: {topics: [...]}}"), (status = 404)))]
async fn get_topics(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Json<BTreeMap<String, ActiveTopicsInfo>>> {
    let topics = h.connector_topics(&name).await?;
    Ok(Json(BTreeMap::from([(name, ActiveTopicsInfo { topics })])))
}

#[utoipa::path(put, path = "/connectors/{name}/topics/reset", responses((status = 202), (status = 404)))]
async fn reset_topics(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Response> {
    h.reset_connector_topics(&name).await?;
    Ok(status_only(StatusCode::ACCEPTED))
}

#[utoipa::path(get, path = "/connectors/{name}/offsets", responses((status = 200, body = ConnectorOffsets), (status = 404)))]
async fn get_offsets(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Json<ConnectorOffsets>> {
    h.connector_offsets(&name).await.map(Json)
}

#[utoipa::path(patch, path = "/connectors/{name}/offsets", request_body = ConnectorOffsets,
    responses((status = 200, body = Message), (status = 400), (status = 404)))]
async fn alter_offsets(State(h): State<SharedHerder>, Path(name): Path<String>, body: Bytes) -> Res<Json<Message>> {
    let offsets: ConnectorOffsets = parse(&body)?;
    h.alter_connector_offsets(&name, offsets).await.map(Json)
}

#[utoipa::path(delete, path = "/connectors/{name}/offsets", responses((status = 200, body = Message), (status = 400), (status = 404)))]
async fn reset_offsets(State(h): State<SharedHerder>, Path(name): Path<String>) -> Res<Json<Message>> {
    h.reset_connector_offsets(&name).await.map(Json)
}

#[utoipa::path(get, path = "/connector-plugins", params(("connectorsOnly" = Option<bool>, Query)), responses((status = 200, body = Vec<PluginInfo>)))]
async fn list_plugins(State(h): State<SharedHerder>, RawQuery(q): RawQuery) -> Res<Json<Vec<PluginInfo>>> {
    let only = query_bool(&q, "connectorsOnly", true)?;
    Ok(Json(h.connector_plugins(only)))
}

/// Sluice's own: the files in `plugin.path` that could not be loaded (a malformed `.wasm`, a
/// name already taken), each with the reason.
#[utoipa::path(get, path = "/connector-plugins/invalid", responses((status = 200, body = Vec<InvalidPluginInfo>)))]
async fn invalid_plugins(State(h): State<SharedHerder>) -> Json<Vec<InvalidPluginInfo>> {
    Json(h.invalid_plugins())
}

#[utoipa::path(get, path = "/connector-plugins/{plugin}/config", responses((status = 200, body = Vec<ConfigKeyInfo>), (status = 404)))]
async fn plugin_config(State(h): State<SharedHerder>, Path(plugin): Path<String>) -> Res<Json<Vec<ConfigKeyInfo>>> {
    h.plugin_config(&plugin).map(Json)
}

#[utoipa::path(put, path = "/connector-plugins/{plugin}/config/validate", request_body = BTreeMap<String, String>,
    responses((status = 200, body = ConfigInfos), (status = 400), (status = 404)))]
async fn validate_config(State(h): State<SharedHerder>, Path(plugin): Path<String>, body: Bytes) -> Res<Json<ConfigInfos>> {
    let ConfigBody(config) = parse(&body)?;
    // Connect's rule: an included connector.class must name the same plugin as the path.
    let normalized = |s: &str| {
        let simple = s.rsplit('.').next().unwrap_or(s);
        simple.strip_suffix("Connector").unwrap_or(simple).to_string()
    };
    if let Some(class) = config.get("connector.class")
        && !normalized(class).ends_with(&normalized(&plugin))
    {
        return Err(RestError::new(StatusCode::BAD_REQUEST, format!("Included connector type {class} does not match request type {plugin}")));
    }
    h.validate_connector_config(&plugin, config).await.map(Json)
}

#[utoipa::path(get, path = "/admin/loggers", responses((status = 200, body = BTreeMap<String, LoggerLevel>)))]
async fn list_loggers(State(h): State<SharedHerder>) -> Json<BTreeMap<String, LoggerLevel>> {
    Json(h.loggers())
}

#[utoipa::path(get, path = "/admin/loggers/{logger}", responses((status = 200, body = LoggerLevel)))]
async fn get_logger(State(h): State<SharedHerder>, Path(logger): Path<String>) -> Json<LoggerLevel> {
    Json(h.logger_level(&logger))
}

#[utoipa::path(put, path = "/admin/loggers/{logger}", request_body = LoggerLevel, responses((status = 200, body = Vec<String>), (status = 400)))]
async fn set_logger(State(h): State<SharedHerder>, Path(logger): Path<String>, body: Bytes) -> Res<Json<Vec<String>>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct LevelBody {
        level: String,
    }
    let LevelBody { level } = parse(&body)?;
    h.set_logger_level(&logger, &level).map(Json)
}

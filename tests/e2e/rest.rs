//! The Kafka Connect REST API of a standalone worker on the real broker: every endpoint with its
//! error cases, the OpenAPI document against the routes, authentication, TLS, and random input.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// A worker with no connectors yet, its REST API on a free port.
fn empty_worker(name: &str, extra: &[(&str, &str)]) -> Worker {
    let dir = scratch(name);
    let port = free_port();
    let mut props = worker_props(&dir, port);
    for (k, v) in extra {
        props.insert(k.to_string(), v.to_string());
    }
    let mut w = Worker::new(&dir, props, &[]);
    w.start();
    wait_for(Duration::from_secs(30), "the REST API", || w.get("/health").filter(|(c, _)| *c == 200));
    w
}

fn datagen_config(topic: &str) -> Value {
    json!({
        "connector.class": "Datagen",
        "tasks.max": "2",
        "topic": topic,
        "records.per.second": "200",
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "2",
    })
}

fn wait_state(w: &Worker, name: &str, state: &str, tasks: usize) -> Value {
    wait_for(Duration::from_secs(60), &format!("{name} {state} with {tasks} tasks"), || {
        let (code, s) = w.get(&format!("/connectors/{name}/status"))?;
        let t = s["tasks"].as_array()?;
        (code == 200 && s["connector"]["state"] == state && t.len() == tasks && t.iter().all(|t| t["state"] == state)).then_some(s)
    })
}

#[test]
fn connector_lifecycle_through_rest() {
    let w = empty_worker("rest-life", &[]);
    let name = unique("gen");
    let topic = unique("rest-topic");

    let (code, root) = w.json("GET", "/", None);
    assert_eq!(code, 200);
    assert!(root["version"].is_string() && root.get("kafka_cluster_id").is_some(), "{root}");

    // Create: 201 with ConnectorInfo; again: 409.
    let body = json!({"name": name, "config": datagen_config(&topic)});
    let (code, info) = w.json("POST", "/connectors", Some(body.clone()));
    assert_eq!(code, 201, "{info}");
    assert_eq!(info["name"], name);
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["name"], name);
    assert_eq!(info["tasks"], json!([{"connector": name, "task": 0}, {"connector": name, "task": 1}]));
    let (code, err) = w.json("POST", "/connectors", Some(body));
    assert_eq!((code, err["error_code"].as_u64()), (409, Some(409)), "{err}");
    assert!(err["message"].as_str().unwrap_or("").contains("already exists"), "{err}");
    wait_state(&w, &name, "RUNNING", 2);

    // Reads.
    let (_, list) = w.json("GET", "/connectors", None);
    assert!(list.as_array().unwrap().contains(&json!(name)));
    let (_, expanded) = w.json("GET", "/connectors?expand=status&expand=info", None);
    assert_eq!(expanded[&name]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(expanded[&name]["info"]["type"], "source");
    let (_, only_info) = w.json("GET", "/connectors?expand=info", None);
    assert!(only_info[&name].get("status").is_none() && only_info[&name]["info"].is_object());
    let (code, got) = w.json("GET", &format!("/connectors/{name}"), None);
    assert_eq!((code, &got["name"]), (200, &json!(name)));
    let (_, config) = w.json("GET", &format!("/connectors/{name}/config"), None);
    assert_eq!(config["topic"], topic);
    let (_, tasks) = w.json("GET", &format!("/connectors/{name}/tasks"), None);
    assert_eq!(tasks[1]["id"], json!({"connector": name, "task": 1}));
    assert_eq!(tasks[1]["config"]["topic"], topic);
    let (code, ts) = w.json("GET", &format!("/connectors/{name}/tasks/1/status"), None);
    assert_eq!((code, &ts["id"], &ts["state"]), (200, &json!(1), &json!("RUNNING")));
    let (code, _) = w.json("GET", &format!("/connectors/{name}/tasks/7/status"), None);
    assert_eq!(code, 404);

    // Topics in use, and their reset.
    let topics = wait_for(Duration::from_secs(30), "the connector's topic", || {
        let (_, t) = w.get(&format!("/connectors/{name}/topics"))?;
        (t[&name]["topics"] == json!([topic])).then_some(t)
    });
    assert_eq!(topics, json!({ &name: {"topics": [topic]} }));
    let (code, _) = w.json("PUT", &format!("/connectors/{name}/topics/reset"), None);
    assert_eq!(code, 202);

    // Update with PUT (200), PATCH (200; null removes a key).
    let mut cfg = datagen_config(&topic);
    cfg["tasks.max"] = json!("1");
    let (code, info) = w.json("PUT", &format!("/connectors/{name}/config"), Some(cfg));
    assert_eq!(code, 200, "{info}");
    assert_eq!(info["tasks"].as_array().map(Vec::len), Some(1));
    wait_state(&w, &name, "RUNNING", 1);
    let (code, info) = w.json("PATCH", &format!("/connectors/{name}/config"), Some(json!({"key.space": "50", "records.per.second": null})));
    assert_eq!(code, 200, "{info}");
    assert_eq!(info["config"]["key.space"], "50");
    assert!(info["config"].get("records.per.second").is_none(), "{info}");
    let mut cfg = datagen_config(&topic);
    cfg["name"] = json!("other");
    let (code, err) = w.json("PUT", &format!("/connectors/{name}/config"), Some(cfg));
    assert_eq!(code, 400, "{err}");
    assert!(err["message"].as_str().unwrap_or("").contains("doesn't match connector name in the URL"));

    // Pause / resume.
    assert_eq!(w.json("PUT", &format!("/connectors/{name}/pause"), None).0, 202);
    wait_state(&w, &name, "PAUSED", 1);
    assert_eq!(w.json("PUT", &format!("/connectors/{name}/resume"), None).0, 202);
    wait_state(&w, &name, "RUNNING", 1);

    // Restarts.
    assert_eq!(w.json("POST", &format!("/connectors/{name}/restart"), None).0, 204);
    let (code, s) = w.json("POST", &format!("/connectors/{name}/restart?includeTasks=true&onlyFailed=false"), None);
    assert_eq!(code, 202, "{s}");
    assert_eq!(s["connector"]["state"], "RESTARTING");
    assert_eq!(s["tasks"][0]["state"], "RESTARTING");
    wait_state(&w, &name, "RUNNING", 1);
    let (code, s) = w.json("POST", &format!("/connectors/{name}/restart?includeTasks=true&onlyFailed=true"), None);
    assert_eq!(code, 202);
    assert_eq!(s["tasks"][0]["state"], "RUNNING", "only failed tasks restart: {s}");
    assert_eq!(w.json("POST", &format!("/connectors/{name}/tasks/0/restart"), None).0, 204);
    assert_eq!(w.json("POST", &format!("/connectors/{name}/tasks/9/restart"), None).0, 404);
    assert_eq!(w.json("POST", &format!("/connectors/{name}/restart?includeTasks=maybe"), None).0, 400);
    wait_state(&w, &name, "RUNNING", 1);

    // Offsets: only when STOPPED.
    let (code, err) =
        w.json("PATCH", &format!("/connectors/{name}/offsets"), Some(json!({"offsets": [{"partition": {"task": 0, "tasks": 1}, "offset": {"next": 5}}]})));
    assert_eq!(code, 400);
    assert!(err["message"].as_str().unwrap_or("").contains("STOPPED"), "{err}");
    assert_eq!(w.json("PUT", &format!("/connectors/{name}/stop"), None).0, 202);
    wait_for(Duration::from_secs(30), "STOPPED", || {
        let (_, s) = w.get(&format!("/connectors/{name}/status"))?;
        (s["connector"]["state"] == "STOPPED" && s["tasks"] == json!([])).then_some(())
    });
    let (_, offsets) = w.json("GET", &format!("/connectors/{name}/offsets"), None);
    let stored = offsets["offsets"].as_array().expect("offsets array").clone();
    assert!(stored.iter().any(|o| o["partition"] == json!({"task": 0, "tasks": 1})), "{offsets}");
    let (code, msg) =
        w.json("PATCH", &format!("/connectors/{name}/offsets"), Some(json!({"offsets": [{"partition": {"task": 0, "tasks": 1}, "offset": {"next": 5}}]})));
    assert_eq!(code, 200, "{msg}");
    assert!(msg["message"].as_str().unwrap_or("").contains("altered successfully"));
    let (_, offsets) = w.json("GET", &format!("/connectors/{name}/offsets"), None);
    assert!(offsets["offsets"].as_array().unwrap().contains(&json!({"partition": {"task": 0, "tasks": 1}, "offset": {"next": 5}})), "{offsets}");
    let (code, msg) = w.json("DELETE", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(code, 200);
    assert!(msg["message"].as_str().unwrap_or("").contains("reset successfully"));
    assert_eq!(w.json("GET", &format!("/connectors/{name}/offsets"), None).1, json!({"offsets": []}));
    // Resume from STOPPED: the connector and its tasks come back.
    assert_eq!(w.json("PUT", &format!("/connectors/{name}/resume"), None).0, 202);
    wait_state(&w, &name, "RUNNING", 1);

    // Create in a given state; create with PUT (201).
    let paused = unique("paused");
    let (code, _) = w.json("POST", "/connectors", Some(json!({"name": paused, "config": datagen_config(&topic), "initial_state": "PAUSED"})));
    assert_eq!(code, 201);
    wait_state(&w, &paused, "PAUSED", 2);
    let created = unique("put");
    let (code, info) = w.json("PUT", &format!("/connectors/{created}/config"), Some(datagen_config(&topic)));
    assert_eq!(code, 201, "{info}");

    // Delete.
    for n in [&name, &paused, &created] {
        assert_eq!(w.json("DELETE", &format!("/connectors/{n}"), None).0, 204);
    }
    let (code, err) = w.json("GET", &format!("/connectors/{name}"), None);
    assert_eq!((code, err), (404, json!({"error_code": 404, "message": format!("Connector {name} not found")})));
}

#[test]
fn sink_offsets_are_the_consumer_groups() {
    let w = empty_worker("rest-sink", &[]);
    let name = unique("sink");
    let topic = unique("sink-topic");
    create_topic(&topic, 2);
    let cfg = json!({"connector.class": "FileStreamSink", "topics": topic, "file": w.dir.join("out.txt").display().to_string()});
    assert_eq!(w.json("POST", "/connectors", Some(json!({"name": name, "config": cfg, "initial_state": "STOPPED"}))).0, 201);
    let (code, msg) = w.json(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 42}}]})),
    );
    assert_eq!(code, 200, "{msg}");
    let (_, offsets) = w.json("GET", &format!("/connectors/{name}/offsets"), None);
    assert_eq!(offsets, json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 42}}]}));
    let (code, err) = w.json(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(json!({"offsets": [{"partition": {"kafka_topic": topic}, "offset": {"kafka_offset": 1}}]})),
    );
    assert_eq!(code, 400, "{err}");
    let (code, err) = w.json(
        "PATCH",
        &format!("/connectors/{name}/offsets"),
        Some(json!({"offsets": [{"partition": {"kafka_topic": unique("no-such-topic"), "kafka_partition": 0}, "offset": {"kafka_offset": 1}}]})),
    );
    assert_eq!(code, 400, "{err}");
    assert_eq!(w.json("DELETE", &format!("/connectors/{name}/offsets"), None).0, 200);
    assert_eq!(w.json("GET", &format!("/connectors/{name}/offsets"), None).1, json!({"offsets": []}));
}

#[test]
fn bad_requests_get_connect_errors_never_500() {
    let w = empty_worker("rest-errors", &[]);
    let post = |body: &str| {
        let (code, text) = w.http("POST", "/connectors", Some(body)).expect("request");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON error body: {text}"));
        assert_eq!(v["error_code"].as_u64(), Some(code as u64), "{v}");
        (code, v["message"].as_str().unwrap_or("").to_string())
    };
    let cases: &[(&str, u16, &str)] = &[
        ("{oops", 400, "Invalid request body"),
        ("", 400, "missing"),
        (r#"{"name": 5, "config": {}}"#, 400, "name"),
        (r#"{"name": "x", "config": {"connector.class": "FileStreamSink"}, "extra": 1}"#, 400, "extra"),
        (r#"{"name": "x", "config": {"tasks.max": {"n": 1}}}"#, 400, "tasks.max"),
        (r#"{"name": "x", "config": {"topics": "t"}}"#, 400, "contains no connector type"),
        (r#"{"name": "x", "config": {"connector.class": "com.example.Nope"}}"#, 400, "com.example.Nope"),
        (r#"{"config": {"connector.class": "FileStreamSink"}}"#, 400, "name"),
        (r#"{"name": "x", "config": {"connector.class": "FileStreamSink", "topics": "t", "tasks.max": "0"}}"#, 400, "tasks.max: Invalid value 0"),
        (r#"{"name": "x", "config": {"connector.class": "FileStreamSink"}}"#, 400, "topics: Must configure one of topics or topics.regex"),
        (r#"{"name": "x", "config": {"connector.class": "Datagen"}, "initial_state": "SLEEPING"}"#, 400, "initial_state"),
    ];
    for (body, code, msg) in cases {
        let (got, message) = post(body);
        assert_eq!(got, *code, "{body}: {message}");
        assert!(message.contains(msg), "{body}: '{message}' does not mention '{msg}'");
    }
    // Unknown paths and methods: JSON errors too.
    let (code, text) = w.http("GET", "/nope", None).expect("request");
    assert_eq!(code, 404);
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json")["error_code"], 404);
    let (code, text) = w.http("DELETE", "/connectors", None).expect("request");
    assert_eq!(code, 405);
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json")["error_code"], 405);
    // Every per-connector endpoint answers 404 for an unknown connector.
    for (m, p) in [
        ("GET", ""),
        ("DELETE", ""),
        ("GET", "/config"),
        ("PUT", "/pause"),
        ("PUT", "/resume"),
        ("PUT", "/stop"),
        ("POST", "/restart"),
        ("GET", "/tasks"),
        ("GET", "/tasks/0/status"),
        ("POST", "/tasks/0/restart"),
        ("GET", "/topics"),
        ("PUT", "/topics/reset"),
        ("GET", "/offsets"),
        ("DELETE", "/offsets"),
        ("GET", "/status"),
    ] {
        let (code, text) = w.http(m, &format!("/connectors/ghost{p}"), None).expect("request");
        assert_eq!(code, 404, "{m} {p}: {text}");
    }
    let (code, _) = w.http("PATCH", "/connectors/ghost/config", Some(r#"{"a": "b"}"#)).expect("request");
    assert_eq!(code, 404);
}

#[test]
fn plugins_validation_and_loggers() {
    let w = empty_worker("rest-plugins", &[]);
    let (code, plugins) = w.json("GET", "/connector-plugins", None);
    assert_eq!(code, 200);
    let list = plugins.as_array().expect("array");
    assert!(list.contains(&json!({"class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "type": "sink", "version": list.iter().find(|p| p["class"] == "org.apache.kafka.connect.file.FileStreamSinkConnector").map(|p| p["version"].clone()).unwrap_or_default()})), "{plugins}");
    assert!(list.iter().all(|p| p["type"] == "source" || p["type"] == "sink"));
    let (_, all) = w.json("GET", "/connector-plugins?connectorsOnly=false", None);
    assert!(all.as_array().unwrap().iter().any(|p| p["class"] == "org.apache.kafka.connect.json.JsonConverter" && p["type"] == "converter"), "{all}");
    assert!(all.as_array().unwrap().iter().any(|p| p["class"] == "org.apache.kafka.connect.transforms.RegexRouter" && p["type"] == "transformation"), "{all}");
    assert!(all.as_array().unwrap().iter().any(|p| p["type"] == "predicate"), "{all}");

    let (code, keys) = w.json("GET", "/connector-plugins/FileStreamSink/config", None);
    assert_eq!(code, 200);
    let file = keys.as_array().unwrap().iter().find(|k| k["name"] == "file").expect("file key").clone();
    assert_eq!(file["type"], "STRING");
    assert_eq!(file["required"], false);
    assert!(w.json("GET", "/connector-plugins/Nope/config", None).0 == 404);

    let (code, v) = w.json(
        "PUT",
        "/connector-plugins/FileStreamSinkConnector/config/validate",
        Some(json!({"connector.class": "FileStreamSink", "tasks.max": "x", "name": "v"})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["name"], "org.apache.kafka.connect.file.FileStreamSinkConnector");
    assert_eq!(v["error_count"], 2, "tasks.max and topics: {v}");
    assert!(v["groups"].as_array().unwrap().contains(&json!("Common")));
    let tasks_max = v["configs"].as_array().unwrap().iter().find(|c| c["definition"]["name"] == "tasks.max").expect("tasks.max").clone();
    assert_eq!(tasks_max["value"]["value"], "x");
    assert!(tasks_max["value"]["errors"][0].as_str().unwrap_or("").contains("Not a number of type INT"));
    assert_eq!(tasks_max["definition"]["type"], "INT");
    let (code, ok) = w.json("PUT", "/connector-plugins/FileStreamSink/config/validate", Some(json!({"topics": "t", "name": "v"})));
    assert_eq!((code, &ok["error_count"]), (200, &json!(0)), "{ok}");
    assert_eq!(w.json("PUT", "/connector-plugins/FileStreamSink/config/validate", Some(json!({"connector.class": "Datagen"}))).0, 400);
    assert_eq!(w.json("PUT", "/connector-plugins/Nope/config/validate", Some(json!({}))).0, 404);

    let (code, loggers) = w.json("GET", "/admin/loggers", None);
    assert_eq!(code, 200);
    assert!(loggers["root"]["level"].is_string(), "{loggers}");
    let (code, changed) = w.json("PUT", "/admin/loggers/sluice_runtime::executor", Some(json!({"level": "DEBUG"})));
    assert_eq!(code, 200, "{changed}");
    assert!(changed.as_array().unwrap().contains(&json!("sluice_runtime::executor")));
    assert_eq!(w.json("GET", "/admin/loggers/sluice_runtime::executor::sink", None).1["level"], "DEBUG");
    assert_eq!(w.json("PUT", "/admin/loggers/x", Some(json!({"level": "LOUD"}))).0, 400);
}

/// Kafka Connect 3.x's endpoints, which must all be routed and documented.
const CONNECT_ENDPOINTS: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/connectors"),
    ("post", "/connectors"),
    ("get", "/connectors/{name}"),
    ("delete", "/connectors/{name}"),
    ("get", "/connectors/{name}/config"),
    ("put", "/connectors/{name}/config"),
    ("patch", "/connectors/{name}/config"),
    ("get", "/connectors/{name}/status"),
    ("put", "/connectors/{name}/pause"),
    ("put", "/connectors/{name}/resume"),
    ("put", "/connectors/{name}/stop"),
    ("post", "/connectors/{name}/restart"),
    ("get", "/connectors/{name}/tasks"),
    ("get", "/connectors/{name}/tasks/{task}/status"),
    ("post", "/connectors/{name}/tasks/{task}/restart"),
    ("get", "/connectors/{name}/topics"),
    ("put", "/connectors/{name}/topics/reset"),
    ("get", "/connectors/{name}/offsets"),
    ("patch", "/connectors/{name}/offsets"),
    ("delete", "/connectors/{name}/offsets"),
    ("get", "/connector-plugins"),
    ("get", "/connector-plugins/invalid"), // Sluice's own: files in plugin.path that failed to load
    ("get", "/connector-plugins/{plugin}/config"),
    ("put", "/connector-plugins/{plugin}/config/validate"),
    ("get", "/admin/loggers"),
    ("get", "/admin/loggers/{logger}"),
    ("put", "/admin/loggers/{logger}"),
    ("get", "/health"),
    ("get", "/openapi.json"),
];

#[test]
fn openapi_document_matches_the_routes() {
    let w = empty_worker("rest-openapi", &[]);
    let (code, doc) = w.json("GET", "/openapi.json", None);
    assert_eq!(code, 200);
    let paths = doc["paths"].as_object().expect("paths");
    let documented: Vec<(String, String)> =
        paths.iter().flat_map(|(p, ops)| ops.as_object().into_iter().flat_map(|o| o.keys()).map(move |m| (m.clone(), p.clone()))).collect();
    for (m, p) in CONNECT_ENDPOINTS {
        assert!(documented.contains(&(m.to_string(), p.to_string())), "{m} {p} is not in the OpenAPI document");
    }
    // Everything documented is routed: no router 404/405 for any documented operation.
    for (m, p) in &documented {
        let path = p.replace("{name}", "ghost").replace("{task}", "0").replace("{plugin}", "FileStreamSink").replace("{logger}", "root");
        let body = if m == "get" || m == "delete" { None } else { Some("{}") };
        let (code, text) = w.http(&m.to_uppercase(), &path, body).expect("request");
        assert!(code != 405 && !text.contains("HTTP 404"), "{m} {p} is documented but not routed ({code}: {text})");
        assert!(code < 500, "{m} {p} answered {code}: {text}");
    }
    assert_eq!(documented.len(), CONNECT_ENDPOINTS.len(), "documented operations: {documented:?}");
}

#[test]
fn random_requests_never_cause_a_500() {
    let w = empty_worker("rest-fuzz", &[]);
    let segments = [
        "connectors",
        "x",
        "config",
        "status",
        "tasks",
        "0",
        "-1",
        "restart",
        "pause",
        "offsets",
        "connector-plugins",
        "validate",
        "%00",
        "..",
        "admin",
        "loggers",
        "topics",
        "ü",
        "999999999999",
    ];
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let bodies = [
        "",
        "{",
        "null",
        "[]",
        "{}",
        "1",
        "\"s\"",
        r#"{"name":"x"}"#,
        r#"{"name":"","config":{}}"#,
        r#"{"config":null}"#,
        r#"{"name":"x","config":{"connector.class":"FileStreamSink","topics":"t","tasks.max":"-5"}}"#,
        r#"{"offsets":[{"partition":{}}]}"#,
        r#"{"offsets":"no"}"#,
        r#"{"level":5}"#,
        r#"{"a":[1,2,{"b":null}]}"#,
    ];
    // A deterministic pseudo-random walk over paths, methods and bodies (bounded: 400 requests).
    let mut seed: u64 = 0x5eed;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for i in 0..400 {
        let depth = 1 + next(4);
        let path: String = (0..depth).map(|_| format!("/{}", segments[next(segments.len())])).collect();
        let query = if next(3) == 0 { "?expand=status&includeTasks=true&onlyFailed=x&connectorsOnly=false" } else { "" };
        let method = methods[next(methods.len())];
        let body = bodies[next(bodies.len())];
        let (code, text) = w.http(method, &format!("{path}{query}"), Some(body)).unwrap_or_else(|e| panic!("request {i} {method} {path} failed: {e}"));
        assert!(code < 500, "{method} {path}{query} with {body:?} answered {code}: {text}");
        if code >= 400 {
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: error body is not JSON: {text}"));
            assert_eq!(v["error_code"].as_u64(), Some(code as u64));
        }
    }
    assert_eq!(w.get("/health").map(|(c, _)| c), Some(200), "the worker survived");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn basic_and_bearer_authentication() {
    let dir = scratch("rest-auth");
    let users = write(&dir, "users.properties", "admin: s3cret,admin\n");
    let tokens = write(&dir, "tokens", "tok-123\n");
    let w = {
        let port = free_port();
        let mut props = worker_props(&dir, port);
        props.insert("rest.authentication.basic.file".into(), users);
        props.insert("rest.authentication.bearer.file".into(), tokens);
        props.insert("access.control.allow.origin".into(), "https://ui.example".into());
        props.insert("access.control.allow.methods".into(), "GET,POST,PUT,DELETE".into());
        let mut w = Worker::new(&dir, props, &[]);
        w.start();
        w
    };
    let url = format!("http://127.0.0.1:{}/connectors", w.rest_port);
    let code = |headers: &[(&str, &str)]| http_request(&url, "GET", None, headers).map(|(c, _)| c).unwrap_or(0);
    wait_for(Duration::from_secs(30), "the REST API", || (code(&[]) == 401).then_some(()));
    let (c, text) = http_request(&url, "GET", None, &[]).expect("request");
    assert_eq!(c, 401);
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json")["error_code"], 401);
    assert_eq!(code(&[("Authorization", "Basic YWRtaW46czNjcmV0")]), 200); // admin:s3cret
    assert_eq!(code(&[("Authorization", "Basic YWRtaW46d3Jvbmc=")]), 401); // admin:wrong
    assert_eq!(code(&[("Authorization", "Bearer tok-123")]), 200);
    assert_eq!(code(&[("Authorization", "Bearer nope")]), 401);
    assert!(!w.log().contains("s3cret") && !w.log().contains("tok-123"), "credentials must never be logged");
    // CORS: a preflight from the allowed origin is answered without credentials.
    let out = std::process::Command::new("curl")
        .args(["-s", "-i", "-X", "OPTIONS", "-H", "Origin: https://ui.example", "-H", "Access-Control-Request-Method: PUT", &url])
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.contains("access-control-allow-origin: https://ui.example"), "{head}");
    assert!(head.contains("access-control-allow-methods") && head.contains("put"), "{head}");
}

#[test]
fn https_listener_with_a_generated_certificate() {
    let dir = scratch("rest-tls");
    let pem = dir.join("server.pem");
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl could not generate a certificate");
    let both = std::fs::read_to_string(dir.join("cert.pem")).expect("cert") + &std::fs::read_to_string(dir.join("key.pem")).expect("key");
    std::fs::write(&pem, both).expect("pem");
    let port = free_port();
    let mut props = worker_props(&dir, port);
    props.insert("listeners".into(), format!("https://127.0.0.1:{port}"));
    props.insert("ssl.keystore.location".into(), pem.display().to_string());
    let mut w = Worker::new(&dir, props, &[]);
    w.start();
    let curl = |extra: &[&str]| {
        std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"])
            .args(extra)
            .arg(format!("https://127.0.0.1:{port}/connectors"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let cacert = dir.join("cert.pem").display().to_string();
    wait_for(Duration::from_secs(30), &format!("the https listener\n{}", w.log()), || (curl(&["--cacert", &cacert]) == "200").then_some(()));
    assert_ne!(curl(&[]), "200", "an untrusted certificate must be rejected by the client");
    let plain = http_request(&format!("http://127.0.0.1:{port}/connectors"), "GET", None, &[]);
    assert!(!matches!(plain, Ok((200, _))), "plain http must not be served on the https listener");
}

#[test]
fn passwords_are_hidden_in_every_response_and_the_log() {
    let w = empty_worker("rest-secret", &[]);
    let name = unique("ch");
    let secret = "s3cr3t-value-42";
    let cfg = json!({
        "connector.class": "ClickHouseSink",
        "topics": unique("t"),
        "hostname": "127.0.0.1",
        "port": "8123",
        "ssl": "false",
        "password": secret,
    });
    // STOPPED: nothing connects anywhere; the config is only stored.
    let (code, info) = w.json("POST", "/connectors", Some(json!({"name": name, "config": cfg.clone(), "initial_state": "STOPPED"})));
    assert_eq!(code, 201, "{info}");
    assert_eq!(info["config"]["password"], "[hidden]");
    assert_eq!(w.json("GET", &format!("/connectors/{name}/config"), None).1["password"], "[hidden]");
    assert_eq!(w.json("GET", &format!("/connectors/{name}"), None).1["config"]["password"], "[hidden]");
    let (_, expanded) = w.json("GET", "/connectors?expand=info", None);
    assert_eq!(expanded[&name]["info"]["config"]["password"], "[hidden]");
    let (_, v) = w.json("PUT", "/connector-plugins/ClickHouseSink/config/validate", Some(cfg));
    let pw = v["configs"].as_array().expect("configs").iter().find(|c| c["definition"]["name"] == "password").expect("password").clone();
    assert_eq!(pw["definition"]["type"], "PASSWORD");
    assert_eq!(pw["value"]["value"], "[hidden]");
    // A config provider reference is not a secret and stays visible.
    let (code, info) = w.json("PATCH", &format!("/connectors/{name}/config"), Some(json!({"password": "${env:SLUICE_NO_SUCH_SECRET}"})));
    assert!(code == 200 || code == 400, "{info}");
    let everything = w.http("GET", "/connectors?expand=info&expand=status", None).expect("request").1;
    assert!(!everything.contains(secret), "the secret leaked: {everything}");
    assert!(!w.log().contains(secret), "the secret reached the log");
}

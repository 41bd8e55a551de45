//! The schema registry served by `sluice` (`schema.registry.listeners`) and the AvroConverter:
//! Confluent's REST API and error codes, an independent client (`schema_registry_converter`)
//! against it, two workers sharing one `_schemas` topic, and datagen → Avro → Kafka → file
//! sink through the real worker with the registry calls counted.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::support::*;

/// A worker serving a registry on its own `_schemas` topic (`topic`), running `connectors`.
fn registry_worker(dir: &Path, topic: &str, connectors: &[BTreeMap<String, String>]) -> (Worker, String) {
    let (rest, reg) = (free_port(), free_port());
    let mut props = worker_props(dir, rest);
    props.insert("schema.registry.listeners".into(), format!("http://127.0.0.1:{reg}"));
    props.insert("schema.registry.topic".into(), topic.into());
    let mut w = Worker::new(dir, props, connectors);
    w.start();
    let url = format!("http://127.0.0.1:{reg}");
    wait_for(Duration::from_secs(30), "the registry to answer", || call(&url, "GET", "/subjects", None).ok());
    (w, url)
}

/// One registry request: (status, body); Err when nothing answered.
fn call(base: &str, method: &str, path: &str, body: Option<Json>) -> Result<(u16, Json, String), String> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string())?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = client.request(method, format!("{base}{path}"));
    if let Some(b) = body {
        req = req.header("Content-Type", "application/vnd.schemaregistry.v1+json").body(b.to_string());
    }
    let resp = req.send().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let json = resp.json().unwrap_or(Json::Null);
    Ok((status, json, ct))
}

fn req(base: &str, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
    let (s, j, _) = call(base, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (s, j)
}

fn record(name: &str, fields: &[Json]) -> Json {
    json!({"schema": json!({"type": "record", "name": name, "fields": fields}).to_string()})
}

fn error_code(resp: &(u16, Json)) -> i64 {
    resp.1["error_code"].as_i64().unwrap_or_else(|| panic!("not an error: {resp:?}"))
}

fn requests_served(base: &str) -> u64 {
    let text = reqwest::blocking::get(format!("{base}/metrics")).and_then(|r| r.text()).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("schema_registry_requests_total ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn registry_api_follows_confluent_paths_bodies_and_error_codes() {
    let dir = scratch("registry-api");
    let (_w, r) = registry_worker(&dir, &unique("_schemas"), &[]);
    let s = unique("orders-value");
    let id_field = json!({"name": "id", "type": "long"});
    let v1 = record("Order", std::slice::from_ref(&id_field));
    let v2 = record("Order", &[id_field.clone(), json!({"name": "note", "type": "string", "default": ""})]);
    let bad = record("Order", &[id_field.clone(), json!({"name": "qty", "type": "int"})]);

    let (status, body, ct) = call(&r, "POST", &format!("/subjects/{s}/versions"), Some(v1.clone())).unwrap();
    assert_eq!((status, ct.as_str()), (200, "application/vnd.schemaregistry.v1+json"));
    let id1 = body["id"].as_i64().unwrap();
    assert_eq!(req(&r, "POST", &format!("/subjects/{s}/versions"), Some(v1.clone())).1["id"], id1, "same schema, same id");
    let id2 = req(&r, "POST", &format!("/subjects/{s}/versions?normalize=false"), Some(v2.clone())).1["id"].as_i64().unwrap();
    assert_ne!(id1, id2);
    assert_eq!(req(&r, "GET", &format!("/subjects/{s}/versions"), None).1, json!([1, 2]));
    let latest = req(&r, "GET", &format!("/subjects/{s}/versions/latest"), None).1;
    assert_eq!((latest["version"].as_i64(), latest["id"].as_i64()), (Some(2), Some(id2)));
    let found = req(&r, "POST", &format!("/subjects/{s}"), Some(v1.clone())).1;
    assert_eq!((found["version"].as_i64(), found["id"].as_i64()), (Some(1), Some(id1)));
    assert!(req(&r, "GET", &format!("/schemas/ids/{id1}"), None).1["schema"].as_str().unwrap().contains("Order"));
    assert_eq!(req(&r, "GET", &format!("/schemas/ids/{id1}/schema"), None).1["type"], "record");
    assert_eq!(req(&r, "GET", &format!("/schemas/ids/{id1}/versions"), None).1, json!([{"subject": s, "version": 1}]));
    assert_eq!(req(&r, "GET", &format!("/subjects/{s}/versions/1/referencedby"), None).1, json!([]));
    assert!(req(&r, "GET", "/subjects", None).1.as_array().unwrap().contains(&json!(s)));

    // Compatibility: the default level is BACKWARD; a new required field breaks it.
    let conflict = req(&r, "POST", &format!("/subjects/{s}/versions"), Some(bad.clone()));
    assert_eq!((conflict.0, error_code(&conflict)), (409, 409));
    assert!(conflict.1["message"].as_str().unwrap().contains("incompatible"), "{conflict:?}");
    let check = req(&r, "POST", &format!("/compatibility/subjects/{s}/versions/latest?verbose=true"), Some(bad.clone())).1;
    assert_eq!(check["is_compatible"], false);
    assert!(!check["messages"].as_array().unwrap().is_empty());
    assert_eq!(req(&r, "POST", &format!("/compatibility/subjects/{s}/versions"), Some(v2.clone())).1, json!({"is_compatible": true}));
    assert_eq!(req(&r, "PUT", &format!("/config/{s}"), Some(json!({"compatibility": "NONE"}))).1, json!({"compatibility": "NONE"}));
    assert_eq!(req(&r, "GET", &format!("/config/{s}"), None).1, json!({"compatibilityLevel": "NONE"}));
    assert_eq!(req(&r, "POST", &format!("/subjects/{s}/versions"), Some(bad.clone())).0, 200, "NONE accepts anything");
    assert_eq!(req(&r, "GET", "/config", None).1, json!({"compatibilityLevel": "BACKWARD"}));

    // Errors.
    assert_eq!(error_code(&req(&r, "GET", "/subjects/missing-subject/versions", None)), 40401);
    assert_eq!(error_code(&req(&r, "GET", &format!("/subjects/{s}/versions/99"), None)), 40402);
    assert_eq!(error_code(&req(&r, "GET", "/schemas/ids/987654", None)), 40403);
    assert_eq!(error_code(&req(&r, "POST", &format!("/subjects/{s}"), Some(record("Other", std::slice::from_ref(&id_field))))), 40403);
    assert_eq!(error_code(&req(&r, "POST", &format!("/subjects/{s}/versions"), Some(json!({"schema": "{\"type\":\"nope\"}"})))), 42201);
    assert_eq!(error_code(&req(&r, "GET", &format!("/subjects/{s}/versions/zero"), None)), 42202);
    assert_eq!(error_code(&req(&r, "PUT", &format!("/config/{s}"), Some(json!({"compatibility": "SOMETIMES"})))), 42203);
    assert_eq!(error_code(&req(&r, "GET", &format!("/config/{}", unique("unset")), None)), 40408);

    // Modes.
    assert_eq!(req(&r, "PUT", &format!("/mode/{s}"), Some(json!({"mode": "READONLY"}))).1, json!({"mode": "READONLY"}));
    assert_eq!(error_code(&req(&r, "POST", &format!("/subjects/{s}/versions"), Some(record("Order", &[json!({"name": "x", "type": "int"})])))), 42205);
    assert_eq!(req(&r, "DELETE", &format!("/mode/{s}"), None).1, json!({"mode": "READONLY"}));

    // Deletes: soft first, then permanent; the id survives while another subject uses it.
    let t = unique("copy-value");
    assert_eq!(req(&r, "POST", &format!("/subjects/{t}/versions"), Some(v1.clone())).1["id"], id1, "ids are shared across subjects");
    assert_eq!(error_code(&req(&r, "DELETE", &format!("/subjects/{s}/versions/1?permanent=true"), None)), 40407);
    assert_eq!(req(&r, "DELETE", &format!("/subjects/{s}/versions/1"), None).1, json!(1));
    assert_eq!(error_code(&req(&r, "DELETE", &format!("/subjects/{s}/versions/1"), None)), 40406);
    assert_eq!(req(&r, "GET", &format!("/subjects/{s}/versions"), None).1, json!([2, 3]));
    assert_eq!(req(&r, "GET", &format!("/subjects/{s}/versions?deleted=true"), None).1, json!([1, 2, 3]));
    assert_eq!(error_code(&req(&r, "DELETE", &format!("/subjects/{s}?permanent=true"), None)), 40405);
    assert_eq!(req(&r, "DELETE", &format!("/subjects/{s}"), None).1, json!([2, 3]));
    assert_eq!(error_code(&req(&r, "DELETE", &format!("/subjects/{s}"), None)), 40404);
    assert_eq!(req(&r, "DELETE", &format!("/subjects/{s}?permanent=true"), None).1, json!([1, 2, 3]));
    assert_eq!(error_code(&req(&r, "GET", &format!("/subjects/{s}/versions"), None)), 40401);
    assert_eq!(req(&r, "GET", &format!("/schemas/ids/{id1}"), None).0, 200, "still used by {t}");
    assert_eq!(error_code(&req(&r, "GET", &format!("/schemas/ids/{id2}"), None)), 40403);

    // References: a version that another schema references cannot be deleted.
    let base = unique("base-value");
    req(&r, "POST", &format!("/subjects/{base}/versions"), Some(json!({"schema": "{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\"]}"})));
    let user = unique("user-value");
    let with_ref = json!({
        "schema": "{\"type\":\"record\",\"name\":\"Shirt\",\"fields\":[{\"name\":\"c\",\"type\":\"Color\"}]}",
        "references": [{"name": "Color", "subject": base, "version": 1}]
    });
    let shirt = req(&r, "POST", &format!("/subjects/{user}/versions"), Some(with_ref)).1["id"].clone();
    assert_eq!(req(&r, "GET", &format!("/subjects/{base}/versions/1/referencedby"), None).1, json!([shirt]));
    assert_eq!(error_code(&req(&r, "DELETE", &format!("/subjects/{base}/versions/1"), None)), 42206);
}

#[test]
fn schema_registry_converter_crate_and_avro_converter_read_each_other() {
    use apache_avro::types::Value as Avro;
    use schema_registry_converter::blocking::avro::{AvroDecoder, AvroEncoder};
    use schema_registry_converter::blocking::schema_registry::SrSettings;
    use schema_registry_converter::schema_registry_common::{SchemaType, SubjectNameStrategy, SuppliedSchema};
    use sluice_schema_registry::AvroConverter;
    use sluice_sdk::{Converter, Schema, Struct, Value};

    let dir = scratch("registry-crate");
    let (_w, r) = registry_worker(&dir, &unique("_schemas"), &[]);
    let topic = unique("beats");
    let settings = || SrSettings::new_builder(r.clone()).no_proxy().build().expect("settings");
    let schema = r#"{"type":"record","name":"Heartbeat","namespace":"nl.openweb.data","fields":[{"name":"beat","type":"long"}]}"#;
    let supplied = SuppliedSchema::new(Some("nl.openweb.data.Heartbeat".into()), SchemaType::Avro, schema.into());
    let encoder = AvroEncoder::new(settings());
    let bytes = encoder
        .encode(vec![("beat", Avro::Long(3))], &SubjectNameStrategy::TopicNameStrategyWithSchema(topic.clone(), false, supplied))
        .expect("the crate registers and encodes");
    assert_eq!(bytes[0], 0, "Confluent magic byte");
    let decoded = AvroDecoder::new(settings()).decode(Some(&bytes)).expect("the crate decodes");
    assert_eq!(decoded.value, Avro::Record(vec![("beat".into(), Avro::Long(3))]));

    // Sluice's converter reads what the crate wrote ...
    let mut conv = AvroConverter::default();
    conv.configure(&[("schema.registry.url".to_string(), r.clone())].into_iter().collect(), false).expect("configure");
    let (connect_schema, value) = conv.to_connect(&topic, Some(&bytes)).expect("AvroConverter reads it");
    assert_eq!(connect_schema.and_then(|s| s.name.clone()).as_deref(), Some("nl.openweb.data.Heartbeat"));
    assert_eq!(value, Value::Struct(Struct::new().put("beat", 3i64)));

    // ... and the crate reads what Sluice's converter wrote, with the latest version found by name.
    let schema = Schema::struct_builder().name("nl.openweb.data.Heartbeat").field("beat", Schema::int64()).build();
    let ours = conv.from_connect(&topic, Some(&schema), &Value::Struct(Struct::new().put("beat", 9i64))).expect("write").expect("bytes");
    let decoded = AvroDecoder::new(settings()).decode(Some(&ours)).expect("the crate decodes Sluice's bytes");
    assert_eq!(decoded.value, Avro::Record(vec![("beat".into(), Avro::Long(9))]));
    // (Sluice's schema carries `connect.name`, so it is version 2; a fresh encoder asks for the latest.)
    let latest =
        AvroEncoder::new(settings()).encode(vec![("beat", Avro::Long(4))], &SubjectNameStrategy::TopicNameStrategy(topic.clone(), false)).expect("latest");
    assert_eq!(&latest[..5], &ours[..5], "the same schema id");
    assert_eq!(req(&r, "GET", &format!("/subjects/{topic}-value/versions"), None).1, json!([1, 2]));
}

#[test]
fn two_workers_registering_at_once_never_share_an_id() {
    let topic = unique("_schemas");
    let (dir_a, dir_b) = (scratch("registry-a"), scratch("registry-b"));
    let (_a, ra) = registry_worker(&dir_a, &topic, &[]);
    let (_b, rb) = registry_worker(&dir_b, &topic, &[]);
    let prefix = unique("race");
    let register = |base: String, side: &'static str| {
        let prefix = prefix.clone();
        std::thread::spawn(move || {
            (0..15)
                .map(|i| {
                    let subject = format!("{prefix}-{side}-{i}");
                    let schema = record(&format!("R{side}{i}"), &[json!({"name": "f", "type": "long"})]);
                    let (status, body) = req(&base, "POST", &format!("/subjects/{subject}/versions"), Some(schema));
                    assert_eq!(status, 200, "{body}");
                    (subject, body["id"].as_i64().unwrap())
                })
                .collect::<Vec<_>>()
        })
    };
    let (ta, tb) = (register(ra.clone(), "a"), register(rb.clone(), "b"));
    let all: Vec<(String, i64)> = ta.join().unwrap().into_iter().chain(tb.join().unwrap()).collect();
    let ids: HashSet<i64> = all.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), all.len(), "every schema got its own id: {all:?}");
    // Both workers serve the same registry.
    for (subject, id) in &all {
        for base in [&ra, &rb] {
            let got = wait_for(Duration::from_secs(10), "the other worker to see the schema", || {
                let (s, body) = req(base, "GET", &format!("/subjects/{subject}/versions/latest"), None);
                (s == 200).then_some(body)
            });
            assert_eq!(got["id"].as_i64(), Some(*id));
        }
    }
}

fn datagen(name: &str, topic: &str, records: u64, registry: &str) -> BTreeMap<String, String> {
    props(&[
        ("name", name),
        ("connector.class", "io.sluice.connect.datagen.DatagenConnector"),
        ("tasks.max", "1"),
        ("topic", topic),
        ("max.records", &records.to_string()),
        ("topic.creation.default.replication.factor", "1"),
        ("topic.creation.default.partitions", "1"),
        ("value.converter", "io.confluent.connect.avro.AvroConverter"),
        ("value.converter.schema.registry.url", &format!("http://127.0.0.1:1,{registry}")),
    ])
}

#[test]
fn datagen_through_avro_and_kafka_to_a_file_sink_costs_one_registry_call_per_schema() {
    let dir = scratch("registry-e2e");
    let topic = unique("avro-orders");
    let out = dir.join("sink.txt");
    let (rest, reg) = (free_port(), free_port());
    let registry = format!("http://127.0.0.1:{reg}");
    let n = 3000u64;
    let sink = props(&[
        ("name", &unique("sink")),
        ("connector.class", "FileStreamSink"),
        ("topics", &topic),
        ("file", &out.display().to_string()),
        ("value.converter", "AvroConverter"),
        ("value.converter.schema.registry.url", &registry),
    ]);
    let mut worker = worker_props(&dir, rest);
    worker.insert("schema.registry.listeners".into(), registry.clone());
    worker.insert("schema.registry.topic".into(), unique("_schemas"));
    let mut w = Worker::new(&dir, worker, &[datagen(&unique("gen"), &topic, n, &registry), sink]);
    w.start();
    let got = wait_for(Duration::from_secs(60), &format!("{n} lines in the sink\n{}", w.log()), || {
        let l = lines(&out);
        (l.len() as u64 >= n).then_some(l)
    });
    assert!(got[0].starts_with("Struct{seq="), "the sink got Connect structs back from Avro: {}", got[0]);
    let seqs: HashSet<&str> = got.iter().filter_map(|l| l.strip_prefix("Struct{seq=")?.split(',').next()).collect();
    assert_eq!(seqs.len() as u64, n);
    // One registration by the source, one schema fetch by the sink, plus this test's own calls.
    let calls = requests_served(&registry);
    assert!(calls <= 6, "{calls} registry requests for {n} records");
    let latest = req(&registry, "GET", &format!("/subjects/{topic}-value/versions/latest"), None).1;
    assert_eq!(latest["version"], 1);
}

#[test]
fn an_incompatible_schema_fails_the_task_with_the_registry_message_or_is_skipped_by_tolerance() {
    let dir = scratch("registry-incompatible");
    let topic = unique("avro-broken");
    let (rest, reg) = (free_port(), free_port());
    let registry = format!("http://127.0.0.1:{reg}");
    let mut worker = worker_props(&dir, rest);
    worker.insert("schema.registry.listeners".into(), registry.clone());
    worker.insert("schema.registry.topic".into(), unique("_schemas"));
    // Start without connectors, make the subject hold an incompatible schema, then add datagen.
    let mut w = Worker::new(&dir, worker.clone(), &[]);
    w.start();
    wait_for(Duration::from_secs(30), "the registry", || call(&registry, "GET", "/subjects", None).ok());
    let tolerant_topic = unique("avro-tolerant");
    for t in [&topic, &tolerant_topic] {
        let existing = record("io.sluice.Other", &[json!({"name": "required_elsewhere", "type": "string"})]);
        assert_eq!(req(&registry, "POST", &format!("/subjects/{t}-value/versions"), Some(existing)).0, 200);
    }
    w.terminate();
    let name = unique("gen");
    let tolerant = unique("gen-tolerant");
    let mut skipping = datagen(&tolerant, &tolerant_topic, 100, &registry);
    skipping.insert("errors.tolerance".into(), "all".into());
    let mut w = Worker::new(&dir, worker, &[datagen(&name, &topic, 100, &registry), skipping]);
    w.start();
    let trace = wait_for(Duration::from_secs(60), &format!("the task to fail\n{}", w.log()), || {
        let (_, body) = w.get(&format!("/connectors/{name}/status"))?;
        let task = &body["tasks"][0];
        (task["state"] == "FAILED").then(|| task["trace"].as_str().unwrap_or_default().to_string())
    });
    assert!(trace.contains("incompatible") && trace.contains("409"), "{trace}");
    // With errors.tolerance=all the same rejection skips the records and the task runs on.
    let (_, body) = w.get(&format!("/connectors/{tolerant}/status")).expect("status");
    assert_eq!(body["tasks"][0]["state"], "RUNNING", "{body}");
}

#[test]
fn compatibility_levels_through_the_api() {
    let dir = scratch("registry-levels");
    let (_w, r) = registry_worker(&dir, &unique("_schemas"), &[]);
    let id = json!({"name": "id", "type": "long"});
    let v1 = record("Order", std::slice::from_ref(&id));
    let v2 = record("Order", &[id.clone(), json!({"name": "qty", "type": "int", "default": 0})]);
    // v3 drops qty's default: it can read v2's data, not v1's.
    let v3 = record("Order", &[id.clone(), json!({"name": "qty", "type": "int"})]);
    // (level, v3 accepted after v1 and v2)
    for (level, accepted) in [
        ("NONE", true),
        ("BACKWARD", true),
        ("BACKWARD_TRANSITIVE", false),
        ("FORWARD", true),
        ("FORWARD_TRANSITIVE", true),
        ("FULL", true),
        ("FULL_TRANSITIVE", false),
    ] {
        let s = unique(&format!("levels-{}", level.to_lowercase()));
        assert_eq!(req(&r, "PUT", &format!("/config/{s}"), Some(json!({"compatibility": level}))).0, 200);
        for v in [&v1, &v2] {
            assert_eq!(req(&r, "POST", &format!("/subjects/{s}/versions"), Some(v.clone())).0, 200, "{level}");
        }
        let check = req(&r, "POST", &format!("/compatibility/subjects/{s}/versions"), Some(v3.clone())).1;
        assert_eq!(check["is_compatible"], accepted, "{level}: {check}");
        let status = req(&r, "POST", &format!("/subjects/{s}/versions"), Some(v3.clone())).0;
        assert_eq!(status, if accepted { 200 } else { 409 }, "{level}");
    }
    assert_eq!(error_code(&req(&r, "GET", "/no/such/path", None)), 404);
}

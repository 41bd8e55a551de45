//! The WASM host in-process against the real example components (built for wasm32-wasip2):
//! discovery, a transform on source and sink records, a source with offsets, and each fault.
//! (`wasm.rs` runs the same plugins inside a worker.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sluice_sdk::{OffsetMap, OffsetStorageReader, Props, Schema, SourceRecord, SourceTask, SourceTaskContext, Struct, Transform, Value};
use sluice_wasm_plugins::{Discovered, PluginKind, WasmPlugin, WasmSourceTask, WasmTransform, discover};

fn examples() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| sluice_wasm_plugins::examples::build().expect("building the example plugins"))
}

fn load(file: &str) -> Arc<WasmPlugin> {
    match discover(&[examples().join(file)]).pop() {
        Some(Discovered::Plugin(p)) => p,
        Some(Discovered::Invalid { reason, .. }) => panic!("{file} invalid: {reason}"),
        None => panic!("{file} not found"),
    }
}

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

struct NoOffsets;
impl OffsetStorageReader for NoOffsets {
    fn offset(&self, _partition: &OffsetMap) -> Option<OffsetMap> {
        None
    }
}

fn ctx() -> SourceTaskContext {
    SourceTaskContext { connector: "test".into(), task_id: 0, offset_reader: Arc::new(NoOffsets) }
}

#[test]
fn discovers_examples_with_their_info_and_rejects_garbage() {
    let dir = tempdir("discover");
    for f in ["mask_transform.wasm", "generator_source.wasm"] {
        std::fs::copy(examples().join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("broken.wasm"), b"\0asm garbage").unwrap();
    let found = discover(std::slice::from_ref(&dir));
    let mut names = Vec::new();
    let mut invalid = Vec::new();
    for d in found {
        match d {
            Discovered::Plugin(p) => names.push((p.name.clone(), p.kind, p.version.clone(), p.config_def.key("wasm.call.timeout.ms").is_some())),
            Discovered::Invalid { path, reason } => invalid.push((path, reason)),
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        vec![
            ("com.example.sluice.GeneratorSource".to_string(), PluginKind::Source, "1.0.0".to_string(), true),
            ("com.example.sluice.MaskFields".to_string(), PluginKind::Transform, "1.0.0".to_string(), true),
        ]
    );
    assert_eq!(invalid.len(), 1);
    assert!(invalid[0].1.contains("not a valid WebAssembly component"), "{}", invalid[0].1);
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sluice-wasm-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn transform_masks_and_hashes_fields_in_batches() {
    let plugin = load("mask_transform.wasm");
    let mut t: WasmTransform<SourceRecord> = WasmTransform::new(plugin);
    t.configure(&props(&[("fields", "ssn,email"), ("mode", "hash")])).unwrap();
    let schema = Schema::struct_builder().field("id", Schema::int64()).field("ssn", Schema::string()).field("email", Schema::string().optional()).build();
    let rec = |i: i64| {
        let v = Struct::new().put("id", Value::Int64(i)).put("ssn", "123-45-6789").put("email", Value::Null);
        SourceRecord::new(OffsetMap::new(), OffsetMap::new(), "t", Some(schema.clone()), Value::Struct(v))
    };
    let out = t.apply_batch((0..3).map(rec).collect());
    assert_eq!(out.len(), 3);
    for (i, r) in out.into_iter().enumerate() {
        let r = r.unwrap().unwrap();
        let Value::Struct(s) = &r.value else { panic!("not a struct: {:?}", r.value) };
        assert_eq!(s.get("id"), Some(&Value::Int64(i as i64)));
        assert_eq!(s.get("ssn").and_then(Value::as_str).map(str::len), Some(16));
        assert_eq!(s.get("email"), Some(&Value::Null));
        assert_eq!(r.value_schema.as_deref(), Some(&*schema));
    }
    let err = t.configure(&props(&[("mode", "rot13")])).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("mode"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn source_polls_records_and_resumes_from_offsets() {
    struct At(i64);
    impl OffsetStorageReader for At {
        fn offset(&self, _p: &OffsetMap) -> Option<OffsetMap> {
            Some(sluice_sdk::offset_map! { "next" => self.0 })
        }
    }
    let plugin = load("generator_source.wasm");
    let mut task = WasmSourceTask::new(plugin);
    let c = SourceTaskContext { connector: "gen".into(), task_id: 0, offset_reader: Arc::new(At(995)) };
    task.start(props(&[("name", "gen"), ("topic", "out"), ("max.records", "1000"), ("batch.size", "10")]), c).await.unwrap();
    let batch = task.poll().await.unwrap();
    assert_eq!(batch.len(), 5);
    assert_eq!(batch[0].key, Value::String("995".into()));
    assert_eq!(batch[4].source_offset.get("next").and_then(|v| v.as_i64()), Some(1000));
    assert!(task.poll().await.unwrap().is_empty());
    task.stop().await;
}

/// The error of the faulty call, and how long that call took.
async fn fault(kind: &str, extra: &[(&str, &str)]) -> (String, std::time::Duration) {
    let plugin = load("faulty_source.wasm");
    let mut task = WasmSourceTask::new(plugin);
    let mut p = props(&[("topic", "t"), ("fault", kind), ("fault.after", "1")]);
    p.extend(props(extra));
    task.start(p, ctx()).await.unwrap();
    assert_eq!(task.poll().await.unwrap().len(), 1);
    let started = std::time::Instant::now();
    let err = task.poll().await.err().map(|e| e.to_string()).unwrap_or_default();
    let took = started.elapsed();
    // The instance is unusable afterwards, and says so instead of hanging or crashing.
    let again = task.poll().await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(again.contains("earlier trap"), "{again}");
    task.stop().await;
    (err, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn infinite_loop_is_interrupted_at_the_deadline() {
    let (err, took) = fault("loop", &[("wasm.call.timeout.ms", "300")]).await;
    assert!(err.contains("did not return within 300 ms"), "{err}");
    assert!(took >= std::time::Duration::from_millis(290) && took < std::time::Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_bomb_hits_the_limit() {
    let (err, _) = fault("oom", &[("wasm.memory.max.bytes", "33554432")]).await;
    assert!(err.contains("exceeded the memory limit of 33554432 bytes"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn panic_message_is_reported() {
    let (err, _) = fault("panic", &[]).await;
    assert!(err.contains("faulty-source: simulated bug after 1 records"), "{err}");
}

//! WASM plugins in the real worker: a WASM source (with offsets) into a WASM sink writing to a
//! granted directory, across a restart; outbound HTTP only with a network grant; a Python
//! transform; and the sandbox's faults — deadline, memory limit,
//! panic, trap, a file outside the grants, a malformed `.wasm` — each failing only its own
//! task while the worker and the healthy pipeline keep running.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::*;

/// A `plugin.path` directory with the example plugins (built once per test run) and `extra`
/// files.
fn plugin_dir(dir: &Path, extra: &[(&str, &[u8])]) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let built = BUILT.get_or_init(|| sluice_wasm_plugins::examples::build().unwrap_or_else(|e| panic!("building the example plugins: {e}")));
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    for f in ["generator_source.wasm", "file_sink.wasm", "faulty_source.wasm", "mask_transform.wasm"] {
        std::fs::copy(built.join(f), plugins.join(f)).expect("copy plugin");
    }
    for (name, bytes) in extra {
        std::fs::write(plugins.join(name), bytes).expect("write extra plugin file");
    }
    plugins
}

fn wasm_worker_props(dir: &Path, port: u16, plugins: &Path) -> BTreeMap<String, String> {
    let mut w = worker_props(dir, port);
    w.insert("plugin.path".into(), plugins.display().to_string());
    // The sink may subscribe before the source's first record creates the topic: look again soon.
    w.insert("consumer.topic.metadata.refresh.interval.ms".into(), "1000".into());
    w
}

fn generator(name: &str, topic: &str, max: u64) -> BTreeMap<String, String> {
    props(&[
        ("name", name),
        ("connector.class", "com.example.sluice.GeneratorSource"),
        ("topic", topic),
        ("max.records", &max.to_string()),
        ("batch.size", "50"),
    ])
}

fn file_sink(name: &str, topic: &str, out: &Path, grant: Option<&Path>) -> BTreeMap<String, String> {
    let mut p = props(&[("name", name), ("connector.class", "com.example.sluice.FileSink"), ("topics", topic), ("file", &out.display().to_string())]);
    if let Some(g) = grant {
        p.insert("wasm.allowed.dirs".into(), g.display().to_string());
    }
    p
}

fn faulty(name: &str, topic: &str, fault: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut p = props(&[("name", name), ("connector.class", "FaultySource"), ("topic", topic), ("fault", fault), ("fault.after", "2")]);
    p.extend(props(extra));
    p
}

fn seqs(path: &Path) -> Vec<u64> {
    lines(path)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("sink line is not JSON ({e}): {l}"));
            v["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {l}"))
        })
        .collect()
}

/// The task's state and trace once it is FAILED.
fn wait_failed(w: &Worker, connector: &str) -> String {
    wait_for(Duration::from_secs(60), &format!("{connector} task to fail\n{}", w.log()), || {
        let (_, body) = w.get(&format!("/connectors/{connector}/status"))?;
        let task = &body["tasks"][0];
        (task["state"] == "FAILED").then(|| task["trace"].as_str().unwrap_or_default().to_string())
    })
}

#[test]
fn wasm_source_to_wasm_sink_resumes_from_committed_offsets() {
    let dir = scratch("wasm-pipeline");
    let plugins = plugin_dir(&dir, &[]);
    let out_dir = dir.join("granted");
    std::fs::create_dir_all(&out_dir).expect("granted dir");
    let out = out_dir.join("out.jsonl");
    let topic = unique("wasm-gen");
    let (gen_name, sink_name) = (unique("wgen"), unique("wsink"));
    let port = free_port();

    let mut w =
        Worker::new(&dir, wasm_worker_props(&dir, port, &plugins), &[generator(&gen_name, &topic, 500), file_sink(&sink_name, &topic, &out, Some(&out_dir))]);
    w.start();
    w.wait_running(&gen_name, 1);
    w.wait_running(&sink_name, 1);
    wait_for(Duration::from_secs(60), &format!("500 lines in the WASM sink's file\n{}", w.log()), || (lines(&out).len() >= 500).then_some(()));
    assert_eq!(w.terminate(), Some(0));

    // Same offsets file, a higher max.records: the generator resumes after its committed offset.
    let mut w2 =
        Worker::new(&dir, wasm_worker_props(&dir, port, &plugins), &[generator(&gen_name, &topic, 800), file_sink(&sink_name, &topic, &out, Some(&out_dir))]);
    w2.start();
    wait_for(Duration::from_secs(60), &format!("800 lines after the restart\n{}", w2.log()), || (lines(&out).len() >= 800).then_some(()));
    std::thread::sleep(Duration::from_millis(1000));
    let got = seqs(&out);
    assert_eq!(got.len(), 800, "a clean restart neither loses nor repeats records");
    assert_eq!(got.iter().copied().collect::<HashSet<_>>(), (0..800).collect::<HashSet<_>>());
    assert!(w2.log().contains("generator starting at 500 of 800"), "the guest's log import reaches the worker log\n{}", w2.log());
    assert_eq!(w2.terminate(), Some(0));
}

#[test]
fn wasm_transform_runs_in_a_chain_with_native_transforms() {
    let dir = scratch("wasm-transform");
    let plugins = plugin_dir(&dir, &[]);
    let out_dir = dir.join("granted");
    std::fs::create_dir_all(&out_dir).expect("granted dir");
    let out = out_dir.join("out.jsonl");
    let topic = unique("wasm-masked");
    let (gen_name, sink_name) = (unique("wgen"), unique("wsink"));
    let mut gen_props = generator(&gen_name, &topic, 300);
    gen_props.extend(props(&[
        ("transforms", "hash,tag"),
        ("transforms.hash.type", "com.example.sluice.MaskFields"),
        ("transforms.hash.fields", "payload"),
        ("transforms.hash.mode", "hash"),
        ("transforms.tag.type", "org.apache.kafka.connect.transforms.InsertField$Value"),
        ("transforms.tag.static.field", "origin"),
        ("transforms.tag.static.value", "sluice"),
    ]));
    let mut w = Worker::new(&dir, wasm_worker_props(&dir, free_port(), &plugins), &[gen_props, file_sink(&sink_name, &topic, &out, Some(&out_dir))]);
    w.start();
    w.wait_running(&gen_name, 1);
    wait_for(Duration::from_secs(60), &format!("300 lines in the WASM sink's file\n{}", w.log()), || (lines(&out).len() >= 300).then_some(()));
    let fnv1a = |b: &[u8]| b.iter().fold(0xcbf29ce484222325u64, |h, x| (h ^ u64::from(*x)).wrapping_mul(0x100000001b3));
    for line in lines(&out) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let seq = v["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {line}"));
        assert_eq!(v["payload"], format!("{:016x}", fnv1a(format!("record-{seq}").as_bytes())), "hashed by the WASM transform: {line}");
        assert_eq!(v["origin"], "sluice", "then tagged by the native InsertField: {line}");
    }
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn wasm_faults_fail_only_their_own_task() {
    let dir = scratch("wasm-faults");
    let plugins = plugin_dir(&dir, &[("broken.wasm", b"\0asm\x01\0\0\0 not really"), ("notes.wasm", b"hello")]);
    let healthy_dir = dir.join("granted");
    std::fs::create_dir_all(&healthy_dir).expect("granted dir");
    let healthy_out = healthy_dir.join("out.jsonl");
    let forbidden_out = dir.join("not-granted").join("out.jsonl");
    let topic = unique("wasm-healthy");
    let names: Vec<String> = ["gen", "sink", "loop", "oom", "panic", "trap", "nogrant"].iter().map(|n| unique(&format!("w{n}"))).collect();
    let port = free_port();
    let connectors = [
        {
            let mut g = generator(&names[0], &topic, 1_000_000);
            g.insert("poll.interval.ms".into(), "50".into());
            g
        },
        file_sink(&names[1], &topic, &healthy_out, Some(&healthy_dir)),
        faulty(&names[2], &unique("wloop"), "loop", &[("wasm.call.timeout.ms", "500")]),
        faulty(&names[3], &unique("woom"), "oom", &[("wasm.memory.max.bytes", "33554432")]),
        faulty(&names[4], &unique("wpanic"), "panic", &[]),
        faulty(&names[5], &unique("wtrap"), "trap", &[]),
        file_sink(&names[6], &topic, &forbidden_out, None),
    ];
    let mut w = Worker::new(&dir, wasm_worker_props(&dir, port, &plugins), &connectors);
    w.start();
    w.wait_running(&names[0], 1);

    let trace = wait_failed(&w, &names[2]);
    assert!(trace.contains("poll did not return within 500 ms (wasm.call.timeout.ms) and was interrupted"), "{trace}");
    let trace = wait_failed(&w, &names[3]);
    assert!(trace.contains("exceeded the memory limit of 33554432 bytes (wasm.memory.max.bytes)"), "{trace}");
    let trace = wait_failed(&w, &names[4]);
    assert!(trace.contains("faulty-source: simulated bug after 2 records"), "the guest's panic message: {trace}");
    let trace = wait_failed(&w, &names[5]);
    assert!(trace.contains("poll trapped"), "{trace}");
    let trace = wait_failed(&w, &names[6]);
    assert!(trace.contains("wasm.allowed.dirs"), "no file system without a grant: {trace}");
    assert!(!forbidden_out.exists());

    let log = w.log();
    for (file, reason) in [("broken.wasm", "not a valid WebAssembly component"), ("notes.wasm", "not a valid WebAssembly component")] {
        assert!(
            log.lines().any(|l| l.contains("invalid WASM plugin") && l.contains(file) && l.contains(reason)),
            "{file} listed as invalid with the reason\n{log}"
        );
    }
    // ... and over REST, with the same reason.
    let (code, invalid) = w.get("/connector-plugins/invalid").expect("REST answers");
    assert_eq!(code, 200);
    let listed: Vec<(String, String)> = invalid
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| (p["path"].as_str().unwrap_or_default().to_string(), p["reason"].as_str().unwrap_or_default().to_string()))
        .collect();
    for file in ["broken.wasm", "notes.wasm"] {
        assert!(listed.iter().any(|(p, r)| p.ends_with(file) && r.contains("not a valid WebAssembly component")), "{file} in {invalid}");
    }
    assert_eq!(listed.len(), 2, "only the two broken files: {invalid}");

    // The healthy pipeline keeps flowing after all of that, and the worker still answers.
    let before = lines(&healthy_out).len();
    wait_for(Duration::from_secs(30), "the healthy WASM pipeline to keep flowing", || (lines(&healthy_out).len() > before + 100).then_some(()));
    let (code, _) = w.get(&format!("/connectors/{}/status", names[0])).expect("REST answers");
    assert_eq!(code, 200);
    assert_eq!(w.terminate(), Some(0), "the worker stops cleanly after its plugins' faults");
}

/// The second guest language: a transform written in Python (componentize-py from PyPI,
/// `wasm-plugins/examples/python-uppercase`), run by the worker like the Rust ones.
#[test]
fn a_python_transform_runs_like_a_rust_one() {
    use rdkafka::message::Message;
    let dir = scratch("wasm-python");
    let wasm = sluice_wasm_plugins::examples::build_python().unwrap_or_else(|e| panic!("building the Python example: {e}"));
    let plugins = plugin_dir(&dir, &[]);
    std::fs::copy(&wasm, plugins.join("python_uppercase.wasm")).expect("copy the Python plugin");
    let input = dir.join("in.txt");
    std::fs::write(&input, "hello\nwasm from python\nsluice\n").expect("input file");
    let (topic, name) = (unique("wasm-py"), unique("wpy"));
    let source = props(&[
        ("name", &name),
        ("connector.class", "FileStreamSource"),
        ("file", &input.display().to_string()),
        ("topic", &topic),
        ("value.converter", "org.apache.kafka.connect.storage.StringConverter"),
        ("transforms", "up"),
        ("transforms.up.type", "com.example.sluice.python.UpperCase"),
        ("transforms.up.header", "made-by"),
        ("topic.creation.default.replication.factor", "1"),
        ("topic.creation.default.partitions", "1"),
    ]);
    let mut w = Worker::new(&dir, wasm_worker_props(&dir, free_port(), &plugins), &[source]);
    w.start();
    // The worker compiles every plugin at start; the Python component (an interpreter, tens of
    // MB) took over 60 s to compile on two busy cores when no compiled copy was cached yet.
    w.wait_running_within(&name, 1, Duration::from_secs(240));
    let (code, plugins_listed) = w.get("/connector-plugins?connectorsOnly=false").expect("REST answers");
    assert_eq!(code, 200);
    assert!(plugins_listed.to_string().contains("com.example.sluice.python.UpperCase"), "listed: {plugins_listed}");
    let got = consume(&topic, 3);
    let values: Vec<String> = got.iter().map(|m| String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()).collect();
    assert_eq!(values, ["HELLO", "WASM FROM PYTHON", "SLUICE"]);
    assert!(got.iter().all(|m| header(m, "made-by").as_deref() == Some("python")), "the header the Python code added (its config)");
    assert_eq!(w.terminate(), Some(0));
}

/// A loopback HTTP server for `secs` seconds: answers every request 200 and keeps the body lines.
fn http_collector(secs: u64) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = got.clone();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                lines.lock().unwrap_or_else(|p| p.into_inner()).extend(String::from_utf8_lossy(&body).lines().map(str::to_string));
            }
            let _ = reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, got)
}

/// Outbound network only when granted, both ways out: the HTTP sink example POSTs batches to
/// loopback servers through the worker's HTTP client (`wasi:http`, host granted in
/// `wasm.allowed.http.hosts`) and over its own socket (`wasm.allow.network=true`); the same
/// plugin with a grant for another host, or without the socket grant, fails its task, and only it.
#[test]
fn outbound_http_works_only_when_the_connector_grants_the_host_or_the_network() {
    let dir = scratch("wasm-http");
    let plugins = plugin_dir(&dir, &[]);
    let built = sluice_wasm_plugins::examples::build().unwrap_or_else(|e| panic!("building the example plugins: {e}"));
    std::fs::copy(built.join("http_sink.wasm"), plugins.join("http_sink.wasm")).expect("copy the HTTP sink");
    let (http_port, via_http) = http_collector(120);
    let (socket_port, via_socket) = http_collector(120);
    let topic = unique("wasm-http");
    let names: Vec<String> = ["gen", "http", "socket", "otherhost", "nosocket"].iter().map(|n| unique(&format!("wh{n}"))).collect();
    let sink = |name: &str, port: u16, grants: &[(&str, &str)]| {
        let url = format!("http://127.0.0.1:{port}/ingest");
        let mut p = props(&[("name", name), ("connector.class", "com.example.sluice.HttpSink"), ("topics", &topic), ("url", &url)]);
        p.extend(grants.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        p
    };
    let connectors = [
        generator(&names[0], &topic, 300),
        sink(&names[1], http_port, &[("wasm.allowed.http.hosts", "127.0.0.1")]),
        sink(&names[2], socket_port, &[("transport", "socket"), ("wasm.allow.network", "true")]),
        // The socket grant does not open the HTTP client, nor does a grant for another host.
        sink(&names[3], http_port, &[("wasm.allowed.http.hosts", "example.com, 127.0.0.1:1"), ("wasm.allow.network", "true")]),
        sink(&names[4], socket_port, &[("transport", "socket"), ("wasm.allowed.http.hosts", "127.0.0.1")]),
    ];
    let mut w = Worker::new(&dir, wasm_worker_props(&dir, free_port(), &plugins), &connectors);
    w.start();
    let trace = wait_failed(&w, &names[3]);
    assert!(trace.contains("denied") && trace.contains("wasm.allowed.http.hosts"), "the HTTP sink without the host says what to grant: {trace}");
    let trace = wait_failed(&w, &names[4]);
    assert!(trace.contains("wasm.allow.network"), "the socket sink without the network says what to grant: {trace}");
    for (got, how) in [(&via_http, "the worker's HTTP client"), (&via_socket, "the plugin's socket")] {
        let count = || got.lock().unwrap_or_else(|p| p.into_inner()).len();
        wait_for(Duration::from_secs(60), &format!("300 records POSTed through {how}\n{}", w.log()), || (count() >= 300).then_some(()));
        let lines = got.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let seqs: HashSet<u64> = lines.iter().filter_map(|l| seq_of(l)).collect();
        assert_eq!(seqs, (0..300).collect::<HashSet<_>>(), "every generated record arrived as a JSON line through {how}");
    }
    for name in &names[1..3] {
        let (_, status) = w.get(&format!("/connectors/{name}/status")).expect("REST answers");
        assert_eq!(status["tasks"][0]["state"], "RUNNING", "a granted sink keeps running: {status}");
    }
    assert!(w.log().contains("HTTP request denied"), "the worker logs the refused host:\n{}", w.log());
    assert_eq!(w.terminate(), Some(0));
}

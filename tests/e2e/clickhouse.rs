//! The ClickHouse sink against the real broker and ClickHouse 18.16: typed and schemaless
//! records round-trip, Debezium change events become ReplacingMergeTree rows (with auto.create
//! and auto.evolve), `kill -9` under load loses nothing (and duplicates nothing with
//! exactlyOnce), a ClickHouse outage of 20 s is retried through, unconvertible rows are
//! skipped while the rest flows. The outage test runs its own clickhouse-server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::support::*;

fn ch_url() -> String {
    env("SLUICE_CLICKHOUSE_URL")
}

/// Runs a statement on the ClickHouse at `url`; panics with the server's message on failure.
fn ch_at(url: &str, sql: &str) -> String {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
    let resp = client.post(url).body(sql.to_string()).send().unwrap_or_else(|e| panic!("ClickHouse at {url} unreachable: {e}"));
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert!(status.is_success(), "ClickHouse: {sql}\n{text}");
    text
}

fn ch(sql: &str) -> String {
    ch_at(&ch_url(), sql)
}

fn count(url: &str, sql: &str) -> Option<u64> {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().ok()?;
    let resp = client.post(url).body(sql.to_string()).send().ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.text().ok()?.trim().parse().ok()
}

/// A table name ClickHouse accepts.
fn table_name(prefix: &str) -> String {
    unique(prefix).replace('-', "_")
}

fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let res = rt.block_on(admin.create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new()));
    for r in res.expect("create topic") {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

fn producer() -> BaseProducer {
    ClientConfig::new().set("bootstrap.servers", bootstrap()).set("linger.ms", "5").create().expect("producer")
}

/// Produces (key, value) pairs round-robin over `partitions` and waits for delivery.
fn produce(p: &BaseProducer, topic: &str, partitions: i32, records: &[(String, String)], first: usize) {
    for (i, (k, v)) in records.iter().enumerate() {
        let partition = ((first + i) % partitions as usize) as i32;
        loop {
            match p.send(BaseRecord::to(topic).key(k).payload(v).partition(partition)) {
                Ok(()) => break,
                Err((e, _)) if e.to_string().contains("Queue full") => {
                    p.poll(Duration::from_millis(50));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).expect("flush producer");
}

fn sink(name: &str, topic: &str, table: &str, url: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let port = url.rsplit(':').next().unwrap_or("8123").trim_end_matches('/').to_string();
    let mut p = props(&[
        ("name", name),
        ("connector.class", "com.clickhouse.kafka.connect.ClickHouseSinkConnector"),
        ("topics", topic),
        ("hostname", "127.0.0.1"),
        ("port", &port),
        ("ssl", "false"),
        ("database", "default"),
        ("topic2TableMap", &format!("{topic}={table}")),
        ("validation", "false"),
    ]);
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

const TYPES_TABLE: &str = "(i8 Int8, i16 Int16, i32 Int32, i64 Int64, u32 UInt32, f32 Float32, f64 Float64, b UInt8, s String, \
     ns Nullable(String), fs FixedString(3), dec Decimal(18, 4), d Date, ts DateTime, u UUID, arr Array(Int32), \
     e Enum8('red' = 1, 'blue' = 2), missing Nullable(Int64), dflt String DEFAULT 'zz') ENGINE = MergeTree ORDER BY i64";

#[test]
fn typed_and_schemaless_records_round_trip_every_type() {
    let dir = scratch("ch-types");
    let (typed_topic, loose_topic) = (unique("ch-typed"), unique("ch-loose"));
    let (typed_table, loose_table) = (table_name("typed"), table_name("loose"));
    ch(&format!("CREATE TABLE default.{typed_table} {TYPES_TABLE}"));
    ch(&format!("CREATE TABLE default.{loose_table} {TYPES_TABLE}"));
    let schema = r#"{"type":"struct","fields":[{"field":"i8","type":"int8"},{"field":"i16","type":"int16"},{"field":"i32","type":"int32"},
        {"field":"i64","type":"int64"},{"field":"u32","type":"int64"},{"field":"f32","type":"float"},{"field":"f64","type":"double"},
        {"field":"b","type":"boolean"},{"field":"s","type":"string"},{"field":"ns","type":"string","optional":true},{"field":"fs","type":"string"},
        {"field":"dec","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},
        {"field":"d","type":"int32","name":"org.apache.kafka.connect.data.Date"},{"field":"ts","type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},
        {"field":"u","type":"string"},{"field":"arr","type":"array","items":{"type":"int32"}},{"field":"e","type":"string"},{"field":"extra","type":"string"}]}"#
        .replace(char::is_whitespace, "");
    let typed = [
        r#"{"i8":-8,"i16":-16,"i32":-32,"i64":1,"u32":4000000000,"f32":1.5,"f64":2.25,"b":true,"s":"héllo","ns":null,"fs":"abc","dec":123.45,"d":20455,"ts":1767322800000,"u":"00112233-4455-6677-8899-aabbccddeeff","arr":[1,2,3],"e":"blue","extra":"ignored"}"#,
        r#"{"i8":127,"i16":0,"i32":7,"i64":2,"u32":0,"f32":-0.5,"f64":1e10,"b":false,"s":"","ns":"x","fs":"xyz","dec":-0.01,"d":1,"ts":86400000,"u":"ffffffff-ffff-ffff-ffff-ffffffffffff","arr":[],"e":"red","extra":""}"#,
    ];
    let p = producer();
    let typed_records: Vec<(String, String)> = typed.iter().map(|v| ("k".to_string(), format!(r#"{{"schema":{schema},"payload":{v}}}"#))).collect();
    produce(&p, &typed_topic, 1, &typed_records, 0);
    let loose = [
        r#"{"i8":-8,"i16":-16,"i32":-32,"i64":1,"u32":4000000000,"f32":1.5,"f64":2.25,"b":true,"s":"héllo","fs":"abc","dec":"123.45","d":"2026-01-02","ts":"2026-01-02T03:00:00Z","u":"00112233-4455-6677-8899-aabbccddeeff","arr":[1,2,3],"e":"blue"}"#,
        r#"{"i8":127,"i16":0,"i32":7,"i64":2,"u32":0,"f32":-0.5,"f64":1e10,"b":false,"s":"","ns":"x","fs":"xyz","dec":-0.01,"d":"1970-01-02","ts":"1970-01-02 00:00:00","u":"ffffffff-ffff-ffff-ffff-ffffffffffff","arr":[],"e":1}"#,
    ];
    let loose_records: Vec<(String, String)> = loose.iter().map(|v| ("k".to_string(), v.to_string())).collect();
    produce(&p, &loose_topic, 1, &loose_records, 0);

    let (a, b) = (unique("ch-typed-sink"), unique("ch-loose-sink"));
    let mut w = Worker::new(
        &dir,
        worker_props(&dir, free_port()),
        &[
            sink(
                &a,
                &typed_topic,
                &typed_table,
                &ch_url(),
                &[("value.converter", JSON), ("value.converter.schemas.enable", "true"), ("bufferFlushTime", "200")],
            ),
            sink(&b, &loose_topic, &loose_table, &ch_url(), &[("bufferFlushTime", "200")]),
        ],
    );
    w.start();
    for t in [&typed_table, &loose_table] {
        wait_for(Duration::from_secs(60), &format!("2 rows in {t}\n{}", w.log()), || {
            (count(&ch_url(), &format!("SELECT count() FROM default.{t}")) == Some(2)).then_some(())
        });
    }
    let want_first = "-8\t-16\t-32\t1\t4000000000\t1.5\t2.25\t1\théllo\t\\N\tabc\t123.4500\t2026-01-02\t2026-01-02 03:00:00\t00112233-4455-6677-8899-aabbccddeeff\t[1,2,3]\tblue\t\\N\tzz";
    let want_second =
        "127\t0\t7\t2\t0\t-0.5\t10000000000\t0\t\tx\txyz\t-0.0100\t1970-01-02\t1970-01-02 00:00:00\tffffffff-ffff-ffff-ffff-ffffffffffff\t[]\tred\t\\N\tzz";
    for t in [&typed_table, &loose_table] {
        let got = ch(&format!("SELECT * FROM default.{t} ORDER BY i64 FORMAT TSV"));
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines, vec![want_first, want_second], "table {t}");
    }
    assert_eq!(w.terminate(), Some(0));
}

/// A Debezium change event with schema, as the Postgres CDC source writes it (JsonConverter envelope).
fn change_event(op: &str, before: Option<(i64, &str)>, after: Option<(i64, &str, Option<i64>)>, lsn: i64, with_score: bool) -> String {
    let score_field = if with_score { r#",{"field":"score","type":"int64","optional":true}"# } else { "" };
    let row_schema = format!(
        r#"{{"type":"struct","optional":true,"name":"db.public.items.Value","fields":[{{"field":"id","type":"int64"}},{{"field":"name","type":"string","optional":true}}{score_field}]}}"#
    );
    let schema = format!(
        r#"{{"type":"struct","name":"db.public.items.Envelope","fields":[{{"field":"before",{rs}}},{{"field":"after",{rs}}},{{"field":"source","type":"struct","fields":[{{"field":"lsn","type":"int64","optional":true}}]}},{{"field":"op","type":"string"}}]}}"#,
        rs = &row_schema[1..row_schema.len() - 1]
    );
    let row = |id: i64, name: &str, score: Option<i64>| {
        let score = if with_score { format!(r#","score":{}"#, score.map(|s| s.to_string()).unwrap_or("null".into())) } else { String::new() };
        format!(r#"{{"id":{id},"name":"{name}"{score}}}"#)
    };
    let before = before.map(|(id, n)| row(id, n, None)).unwrap_or("null".into());
    let after = after.map(|(id, n, s)| row(id, n, s)).unwrap_or("null".into());
    format!(r#"{{"schema":{schema},"payload":{{"before":{before},"after":{after},"source":{{"lsn":{lsn}}},"op":"{op}"}}}}"#)
}

fn key(id: i64) -> String {
    format!(r#"{{"schema":{{"type":"struct","fields":[{{"field":"id","type":"int64"}}]}},"payload":{{"id":{id}}}}}"#)
}

#[test]
fn debezium_changes_become_replacing_merge_tree_rows_and_new_fields_add_columns() {
    let dir = scratch("ch-cdc");
    let topic = unique("ch-cdc");
    let table = table_name("items");
    let events = [
        (key(1), change_event("r", None, Some((1, "one", None)), 100, false)),
        (key(2), change_event("c", None, Some((2, "two", None)), 110, false)),
        (key(3), change_event("c", None, Some((3, "three", None)), 120, false)),
        (key(1), change_event("u", Some((1, "one")), Some((1, "uno", None)), 130, false)),
        (key(2), change_event("d", Some((2, "two")), None, 140, false)),
        (key(2), String::new()), // tombstone
        // A new optional column appears upstream.
        (key(3), change_event("u", Some((3, "three")), Some((3, "tres", Some(33))), 150, true)),
        (key(4), change_event("c", None, Some((4, "four", Some(44))), 160, true)),
    ];
    let p = producer();
    for (i, (k, v)) in events.iter().enumerate() {
        let mut rec = BaseRecord::to(&topic).key(k).partition(0);
        if !v.is_empty() {
            rec = rec.payload(v);
        }
        p.send(rec).unwrap_or_else(|(e, _)| panic!("produce event {i}: {e}"));
        p.flush(Duration::from_secs(10)).expect("flush");
    }
    let name = unique("ch-cdc-sink");
    let mut w = Worker::new(
        &dir,
        worker_props(&dir, free_port()),
        &[sink(
            &name,
            &topic,
            &table,
            &ch_url(),
            &[
                ("key.converter", JSON),
                ("key.converter.schemas.enable", "true"),
                ("value.converter", JSON),
                ("value.converter.schemas.enable", "true"),
                ("auto.evolve", "true"),
                ("bufferFlushTime", "200"),
            ],
        )],
    );
    w.start();
    wait_for(Duration::from_secs(60), &format!("7 change rows in {table}\n{}", w.log()), || {
        (count(&ch_url(), &format!("SELECT count() FROM default.{table}")) == Some(7)).then_some(())
    });
    let ddl = ch(&format!("SHOW CREATE TABLE default.{table} FORMAT TSVRaw"));
    assert!(ddl.contains("ReplacingMergeTree(_version)") && ddl.contains("ORDER BY id"), "{ddl}");
    assert!(ddl.contains("score Nullable(Int64)"), "auto.evolve added the new field: {ddl}");
    let state = ch(&format!("SELECT id, name, score, _version FROM default.{table} FINAL WHERE _is_deleted = 0 ORDER BY id FORMAT TSV"));
    assert_eq!(state, "1\tuno\t\\N\t130\n3\ttres\t33\t150\n4\tfour\t44\t160\n", "current state after updates and the delete");
    let deleted = ch(&format!("SELECT id, _version FROM default.{table} FINAL WHERE _is_deleted = 1 FORMAT TSV"));
    assert_eq!(deleted, "2\t140\n");
    assert_eq!(w.terminate(), Some(0));
}

/// Produces `n` records `{"seq":i,"pad":"..."}` over `partitions` at about `rate` records/s.
fn produce_paced(topic: String, partitions: i32, n: usize, rate: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let p = producer();
        let chunk = (rate / 10).max(1);
        let started = Instant::now();
        let mut sent = 0;
        while sent < n {
            let end = (sent + chunk).min(n);
            let recs: Vec<(String, String)> = (sent..end).map(|i| (format!("k{i}"), format!(r#"{{"seq":{i},"pad":"{}"}}"#, "x".repeat(40)))).collect();
            produce(&p, &topic, partitions, &recs, sent);
            sent = end;
            let due = started + Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    })
}

/// kill -9 mid-load, restart; returns (rows, distinct seqs) once every seq arrived.
fn kill_during_load(exactly_once: bool) -> (u64, u64, u64) {
    let dir = scratch("ch-kill");
    let topic = unique("ch-kill");
    let table = table_name("kill");
    let n = 60_000usize;
    create_topic(&topic, 3);
    ch(&format!("CREATE TABLE default.{table} (seq UInt64, pad String) ENGINE = MergeTree ORDER BY seq"));
    let name = unique("ch-kill-sink");
    let eo = if exactly_once { "true" } else { "false" };
    let mut w = Worker::new(
        &dir,
        worker_props(&dir, free_port()),
        &[sink(&name, &topic, &table, &ch_url(), &[("exactlyOnce", eo), ("bufferCount", "2000"), ("bufferFlushTime", "300")])],
    );
    let producer = produce_paced(topic.clone(), 3, n, 10_000);
    w.start();
    let url = ch_url();
    let rows = || count(&url, &format!("SELECT count() FROM default.{table}"));
    wait_for(Duration::from_secs(60), &format!("some rows before the kill\n{}", w.log()), || (rows()? >= 15_000).then_some(()));
    w.kill9();
    let at_kill = rows().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(500));
    w.start();
    producer.join().expect("producer thread");
    wait_for(Duration::from_secs(90), &format!("all {n} seqs in {table}\n{}", w.log()), || {
        (count(&url, &format!("SELECT uniqExact(seq) FROM default.{table}"))? == n as u64).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2)); // nothing more may arrive
    let total = rows().unwrap_or(0);
    let distinct = count(&url, &format!("SELECT uniqExact(seq) FROM default.{table}")).unwrap_or(0);
    assert_eq!(w.terminate(), Some(0));
    (total, distinct, at_kill)
}

#[test]
fn kill9_during_load_with_exactly_once_inserts_every_row_once() {
    let (total, distinct, at_kill) = kill_during_load(true);
    assert!(at_kill < 60_000, "the kill happened mid-load ({at_kill} rows)");
    assert_eq!(distinct, 60_000, "exactlyOnce: no loss");
    // Exact except for one window (docs/clickhouse.md): a kill between a batch's INSERT and its
    // AFTER mark repeats that one batch (bufferCount = 2000 rows) on a plain MergeTree table,
    // which has no insert deduplication on any version (on 18.16 none at all). The test kills
    // right after it sees rows arrive, which is inside that window more often than chance.
    assert!(total - distinct <= 2_000, "exactlyOnce: at most the one batch in flight at the kill repeats ({total} rows, {distinct} distinct)");
}

#[test]
fn kill9_during_load_at_least_once_loses_nothing() {
    let (total, distinct, _) = kill_during_load(false);
    assert_eq!(distinct, 60_000, "no loss");
    assert!(total >= 60_000, "{total}");
}

/// A clickhouse-server of the test's own, on free ports, with its own data directory.
struct OwnClickHouse {
    dir: PathBuf,
    http_port: u16,
    child: Option<Child>,
}

impl OwnClickHouse {
    fn new(dir: &Path) -> OwnClickHouse {
        let http_port = free_port();
        let tcp_port = free_port();
        std::fs::create_dir_all(dir.join("data")).expect("ch data dir");
        let d = dir.display();
        let config = format!(
            r#"<?xml version="1.0"?><yandex><logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog></logger>
<listen_host>127.0.0.1</listen_host><http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port>
<path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/user_files/</user_files_path><format_schema_path>{d}/format_schemas/</format_schema_path>
<users_config>{d}/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database><timezone>UTC</timezone>
<mark_cache_size>53687091</mark_cache_size><mlock_executable>false</mlock_executable></yandex>"#
        );
        std::fs::write(dir.join("config.xml"), config).expect("write config.xml");
        let users = r#"<?xml version="1.0"?><yandex><profiles><default></default></profiles><users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users><quotas><default></default></quotas></yandex>"#;
        std::fs::write(dir.join("users.xml"), users).expect("write users.xml");
        OwnClickHouse { dir: dir.to_path_buf(), http_port, child: None }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn start(&mut self) {
        let bin = ["/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"].into_iter().find(|p| Path::new(p).exists()).unwrap_or("clickhouse-server");
        let log = std::fs::File::create(self.dir.join("stdout.log")).expect("ch log");
        let child = Command::new(bin)
            .arg(format!("--config-file={}", self.dir.join("config.xml").display()))
            .stdout(Stdio::from(log.try_clone().expect("log clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start clickhouse-server (apt-get install clickhouse-server; dev/stack does)");
        self.child = Some(child);
        let url = self.url();
        wait_for(Duration::from_secs(30), "own clickhouse-server to answer", || count(&url, "SELECT 1").filter(|v| *v == 1));
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnClickHouse {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn clickhouse_down_for_20s_is_retried_and_catches_up_losing_nothing() {
    let dir = scratch("ch-outage");
    let mut server = OwnClickHouse::new(&dir.join("clickhouse"));
    server.start();
    let url = server.url();
    let topic = unique("ch-outage");
    let table = table_name("outage");
    let n = 30_000usize;
    create_topic(&topic, 2);
    ch_at(&url, &format!("CREATE TABLE default.{table} (seq UInt64, pad String) ENGINE = MergeTree ORDER BY seq"));
    let name = unique("ch-outage-sink");
    let mut w =
        Worker::new(&dir, worker_props(&dir, free_port()), &[sink(&name, &topic, &table, &url, &[("bufferCount", "2000"), ("bufferFlushTime", "200")])]);
    w.start();
    let producer = produce_paced(topic.clone(), 2, n, 1_000);
    let rows = || count(&url, &format!("SELECT count() FROM default.{table}"));
    wait_for(Duration::from_secs(60), &format!("rows before the outage\n{}", w.log()), || (rows()? >= 3_000).then_some(()));
    server.kill();
    std::thread::sleep(Duration::from_secs(20));
    server.start();
    producer.join().expect("producer thread");
    wait_for(Duration::from_secs(90), &format!("all {n} seqs after the outage\n{}", w.log()), || {
        (count(&url, &format!("SELECT uniqExact(seq) FROM default.{table}"))? == n as u64).then_some(())
    });
    let log = w.log();
    // Seen by `put` (the runtime pauses and redelivers) or by `pre_commit` (a background insert
    // failed: its rows go back to the buffer and are inserted again).
    assert!(log.contains("retriable error from put") || log.contains("insert failed; it is retried"), "the outage was seen and retried:\n{log}");
    let status = w.get(&format!("/connectors/{name}/status")).map(|(_, b)| b).unwrap_or_default();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn unconvertible_rows_go_to_the_dlq_with_error_headers_while_the_rest_flows_or_fail_the_task_without_tolerance() {
    let dir = scratch("ch-errant");
    let (topic, strict_topic) = (unique("ch-errant"), unique("ch-strict"));
    let (table, strict_table) = (table_name("errant"), table_name("strict"));
    for t in [&table, &strict_table] {
        ch(&format!("CREATE TABLE default.{t} (id Int64, amount Decimal(9, 2), day Date) ENGINE = MergeTree ORDER BY id"));
    }
    let mut records = Vec::new();
    for i in 0..100 {
        let v = match i % 10 {
            3 => format!(r#"{{"id":"not-a-number-{i}","amount":1,"day":"2026-01-01"}}"#),
            7 => format!(r#"{{"id":{i},"amount":"12x","day":"2026-01-01"}}"#),
            9 => "42".to_string(),
            _ => format!(r#"{{"id":{i},"amount":"{i}.5","day":"2026-01-01"}}"#),
        };
        records.push((format!("k{i}"), v));
    }
    let p = producer();
    produce(&p, &topic, 1, &records, 0);
    produce(&p, &strict_topic, 1, &records, 0);
    let (a, b) = (unique("ch-errant-sink"), unique("ch-strict-sink"));
    let dlq = unique("ch-errant-dlq");
    let mut w = Worker::new(
        &dir,
        worker_props(&dir, free_port()),
        &[
            sink(
                &a,
                &topic,
                &table,
                &ch_url(),
                &[
                    ("errors.tolerance", "all"),
                    ("errors.log.enable", "true"),
                    ("errors.deadletterqueue.topic.name", &dlq),
                    ("errors.deadletterqueue.topic.replication.factor", "1"),
                    ("errors.deadletterqueue.context.headers.enable", "true"),
                    ("bufferFlushTime", "200"),
                ],
            ),
            sink(&b, &strict_topic, &strict_table, &ch_url(), &[("bufferFlushTime", "200")]),
        ],
    );
    w.start();
    wait_for(Duration::from_secs(60), &format!("70 good rows in {table}\n{}", w.log()), || {
        (count(&ch_url(), &format!("SELECT count() FROM default.{table}")) == Some(70)).then_some(())
    });
    assert_eq!(ch(&format!("SELECT sum(amount) FROM default.{table} FORMAT TSV")).trim(), "3445.00");
    // The rows that could not be converted are in the DLQ with Connect's error headers.
    let bad_ids: Vec<i64> = (0..100).filter(|i| [3, 7, 9].contains(&(i % 10))).collect();
    let dead = consume(&dlq, bad_ids.len());
    let mut offsets: Vec<i64> = dead.iter().map(|m| header(m, "__connect.errors.offset").and_then(|o| o.parse().ok()).unwrap_or(-1)).collect();
    offsets.sort();
    assert_eq!(offsets, bad_ids, "each unconvertible row once, at its offset");
    for m in &dead {
        assert_eq!(header(m, "__connect.errors.topic").as_deref(), Some(topic.as_str()));
        assert_eq!(header(m, "__connect.errors.stage").as_deref(), Some("TASK_PUT"));
        assert_eq!(header(m, "__connect.errors.exception.class.name").as_deref(), Some("org.apache.kafka.connect.errors.DataException"));
        let msg = header(m, "__connect.errors.exception.message").unwrap_or_default();
        let offset: i64 = header(m, "__connect.errors.offset").and_then(|o| o.parse().ok()).unwrap_or(-1);
        let column = match offset % 10 {
            3 => "column id",
            7 => "column amount",
            _ => "",
        };
        assert!(!msg.is_empty() && msg.contains(column), "offset {offset}: the reason, naming the column: {msg}");
    }
    let status = wait_for(Duration::from_secs(30), "the strict sink's task to fail", || {
        let (_, body) = w.get(&format!("/connectors/{b}/status"))?;
        (body["tasks"][0]["state"] == "FAILED").then_some(body)
    });
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("DataException") && trace.contains("column id"), "{trace}");
    assert_eq!(count(&ch_url(), &format!("SELECT count() FROM default.{strict_table}")), Some(0), "a failing batch inserts nothing");
}

/// `ssl=true` (the official connector's default) over HTTPS: the worker trusts the stack's test CA
/// through `SSL_CERT_FILE`, as it would trust a public CA through the system store.
#[test]
fn ssl_true_inserts_over_https() {
    let dir = scratch("ch-tls");
    let (topic, table, name) = (unique("ch-tls"), table_name("tls"), unique("ch-tls-sink"));
    ch(&format!("CREATE TABLE default.{table} (id Int64, s String) ENGINE = MergeTree ORDER BY id"));
    let records: Vec<(String, String)> = (0..3).map(|i| (format!("{i}"), format!(r#"{{"id":{i},"s":"secure-{i}"}}"#))).collect();
    produce(&producer(), &topic, 1, &records, 0);
    let https = env("SLUICE_CLICKHOUSE_HTTPS_URL");
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[sink(&name, &topic, &table, &https, &[("ssl", "true"), ("bufferFlushTime", "200")])]);
    w.env.push(("SSL_CERT_FILE".into(), env("SLUICE_CLICKHOUSE_CA")));
    w.start();
    wait_for(Duration::from_secs(60), &format!("3 rows in {table} over HTTPS\n{}", w.log()), || {
        (count(&ch_url(), &format!("SELECT count() FROM default.{table}")) == Some(3)).then_some(())
    });
    assert_eq!(ch(&format!("SELECT s FROM default.{table} ORDER BY id FORMAT TSV")), "secure-0\nsecure-1\nsecure-2\n");
    assert_eq!(w.terminate(), Some(0));
}

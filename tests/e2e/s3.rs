//! The S3 sink against the real broker and the real S3 server (s3s-fs, SigV4 checked): exact
//! Confluent object names, every format read back by an independent reader (serde_json,
//! flate2, the `parquet` crate, `apache-avro`), each partitioner, rotation by size, record time
//! and wall clock, `kill -9` mid-stream (same objects and bytes as an uncrashed run), an S3
//! outage of 20 s on a private s3s-fs, and wrong credentials.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Value as Json, json};

use crate::support::*;

/// A blocking S3 client for the tests (aws-sdk-s3 on a private tokio runtime).
struct S3 {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    endpoint: String,
}

impl S3 {
    fn new(endpoint: &str) -> S3 {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let creds = aws_credential_types::Credentials::new(env("SLUICE_S3_ACCESS_KEY"), env("SLUICE_S3_SECRET_KEY"), None, None, "e2e");
        let http = aws_smithy_http_client::Builder::new().build_http();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(env("SLUICE_S3_REGION")))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(creds)
            .http_client(http)
            .build();
        S3 { rt, client: aws_sdk_s3::Client::from_conf(conf), endpoint: endpoint.to_string() }
    }

    fn shared() -> S3 {
        S3::new(&env("SLUICE_S3_ENDPOINT"))
    }

    fn create_bucket(&self, name: &str) {
        self.rt.block_on(self.client.create_bucket().bucket(name).send()).unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
    }

    /// Every object of the bucket: key → bytes.
    fn objects(&self, bucket: &str) -> BTreeMap<String, Vec<u8>> {
        self.rt.block_on(async {
            let mut out = BTreeMap::new();
            let listed = self.client.list_objects_v2().bucket(bucket).send().await;
            let Ok(listed) = listed else { return out };
            for o in listed.contents() {
                let key = o.key().unwrap_or_default().to_string();
                if let Ok(obj) = self.client.get_object().bucket(bucket).key(&key).send().await
                    && let Ok(body) = obj.body.collect().await
                {
                    out.insert(key, body.into_bytes().to_vec());
                }
            }
            out
        })
    }

    fn delete(&self, bucket: &str, key: &str) {
        self.rt.block_on(self.client.delete_object().bucket(bucket).key(key).send()).unwrap_or_else(|e| panic!("delete {key}: {e:?}"));
    }

    /// Stores `bytes` under `key` with no user metadata.
    fn put_plain(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.rt.block_on(self.client.put_object().bucket(bucket).key(key).body(bytes.into()).send()).unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    fn count(&self, bucket: &str) -> usize {
        self.rt.block_on(self.client.list_objects_v2().bucket(bucket).send()).map(|l| l.contents().len()).unwrap_or(0)
    }
}

fn create_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let res = rt.block_on(admin.create_topics([&new], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))).expect("create topic");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// One record to produce: partition, value, timestamp (ms).
type Rec = (i32, Json, Option<i64>);

fn produce(topic: &str, records: &[Rec]) {
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", bootstrap()).set("linger.ms", "5").create().expect("producer");
    for (p, v, ts) in records {
        let payload = v.to_string();
        let mut rec = BaseRecord::<(), String>::to(topic).partition(*p).payload(&payload);
        if let Some(t) = ts {
            rec = rec.timestamp(*t);
        }
        let mut rec = Some(rec);
        while let Some(r) = rec.take() {
            if let Err((e, r)) = producer.send(r) {
                assert!(matches!(e, rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull)), "produce: {e}");
                producer.poll(Duration::from_millis(50));
                rec = Some(r);
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).expect("flush producer");
}

fn s3_sink(name: &str, topic: &str, bucket: &str, endpoint: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut p = props(&[
        ("name", name),
        ("connector.class", "io.confluent.connect.s3.S3SinkConnector"),
        ("topics", topic),
        ("s3.bucket.name", bucket),
        ("s3.region", &env("SLUICE_S3_REGION")),
        ("store.url", endpoint),
        ("aws.access.key.id", &env("SLUICE_S3_ACCESS_KEY")),
        ("aws.secret.access.key", &env("SLUICE_S3_SECRET_KEY")),
        ("format.class", "io.confluent.connect.s3.format.json.JsonFormat"),
        ("flush.size", "10"),
        ("s3.part.retries", "1"),
        ("s3.retry.backoff.ms", "100"),
    ]);
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    p
}

fn json_lines(bytes: &[u8]) -> Vec<Json> {
    std::str::from_utf8(bytes).expect("utf-8").lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}"))).collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gzip");
    out
}

/// Checks that the JSON-lines object `key` holds the records `seqs`, in order.
fn assert_seqs(objects: &BTreeMap<String, Vec<u8>>, key: &str, seqs: std::ops::Range<i64>) {
    let body = objects.get(key).unwrap_or_else(|| panic!("missing {key}; have {:?}", objects.keys().collect::<Vec<_>>()));
    let got: Vec<i64> = json_lines(body).iter().map(|v| v["seq"].as_i64().expect("seq")).collect();
    assert_eq!(got, seqs.collect::<Vec<_>>(), "{key}");
}

/// Waits until the bucket holds `n` objects, then checks that no more appear.
fn wait_objects(s3: &S3, bucket: &str, n: usize, timeout: Duration, w: &Worker) -> BTreeMap<String, Vec<u8>> {
    wait_for(timeout, &format!("{n} objects in {bucket}\n{}", w.log()), || (s3.count(bucket) >= n).then_some(()));
    std::thread::sleep(Duration::from_millis(1500));
    let objects = s3.objects(bucket);
    assert_eq!(objects.len(), n, "unexpected objects: {:?}", objects.keys().collect::<Vec<_>>());
    objects
}

#[test]
fn json_default_partitioner_writes_confluent_names_per_flush_size() {
    let (s3, dir, topic, bucket) = (S3::shared(), scratch("s3json"), unique("s3json"), unique("s3json"));
    s3.create_bucket(&bucket);
    create_topic(&topic, 2);
    let recs: Vec<Rec> = (0..37).map(|i| (if i < 25 { 0 } else { 1 }, json!({"seq": i, "name": format!("n{i}")}), None)).collect();
    produce(&topic, &recs);
    let name = unique("s3json");
    let sink = s3_sink(
        &name,
        &topic,
        &bucket,
        &s3.endpoint,
        &[("topics.dir", "landing"), ("partitioner.class", "io.confluent.connect.storage.partitioner.DefaultPartitioner")],
    );
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[sink]);
    w.start();
    w.wait_running(&name, 1);
    let objects = wait_objects(&s3, &bucket, 3, Duration::from_secs(60), &w);
    let expected = [
        (format!("landing/{topic}/partition=0/{topic}+0+0000000000.json"), 0..10),
        (format!("landing/{topic}/partition=0/{topic}+0+0000000010.json"), 10..20),
        (format!("landing/{topic}/partition=1/{topic}+1+0000000000.json"), 25..35),
    ];
    for (key, seqs) in expected {
        assert_seqs(&objects, &key, seqs);
    }
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn without_keys_in_the_config_the_aws_default_credential_chain_is_used() {
    let (s3, dir, topic, bucket) = (S3::shared(), scratch("s3chain"), unique("s3chain"), unique("s3chain"));
    s3.create_bucket(&bucket);
    create_topic(&topic, 1);
    produce(&topic, &(0..10).map(|i| (0, json!({"seq": i}), None)).collect::<Vec<Rec>>());
    // Keys only in a shared credentials file (`~/.aws/credentials` format), found by the chain.
    let creds = dir.join("aws-credentials");
    let profile = format!("[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n", env("SLUICE_S3_ACCESS_KEY"), env("SLUICE_S3_SECRET_KEY"));
    std::fs::write(&creds, profile).expect("credentials file");
    let name = unique("s3chain");
    let mut sink = s3_sink(&name, &topic, &bucket, &s3.endpoint, &[]);
    sink.remove("aws.access.key.id");
    sink.remove("aws.secret.access.key");
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[sink]);
    w.env = [
        ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
        ("AWS_CONFIG_FILE", dir.join("no-aws-config").display().to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    w.start();
    w.wait_running(&name, 1);
    let objects = wait_objects(&s3, &bucket, 1, Duration::from_secs(60), &w);
    assert_seqs(&objects, &format!("topics/{topic}/partition=0/{topic}+0+0000000000.json"), 0..10);
    assert_eq!(w.terminate(), Some(0));
}

#[test]
fn an_upload_cut_off_before_its_metadata_is_written_again_from_its_commits_first_offset() {
    let s3 = S3::shared();
    let (topic, bucket, reference) = (unique("s3cut"), unique("s3cut"), unique("s3cut-ref"));
    s3.create_bucket(&bucket);
    s3.create_bucket(&reference);
    create_topic(&topic, 1);
    let countries = ["de", "fr", "us"];
    produce(&topic, &(0..120).map(|i| (0, json!({"seq": i, "country": countries[i % 3]}), None)).collect::<Vec<Rec>>());
    let extra = [("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner"), ("partition.field.name", "country"), ("flush.size", "40")];
    // Three commits of three objects (one per country), starting at offsets 0-2, 40-42, 80-82.
    let run = |bucket: &str, area: &str| {
        let dir = scratch(area);
        let name = unique(area);
        let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[s3_sink(&name, &topic, bucket, &s3.endpoint, &extra)]);
        w.start();
        let objects = wait_objects(&s3, bucket, 9, Duration::from_secs(60), &w);
        assert_eq!(w.terminate(), Some(0));
        objects
    };
    let expected = run(&reference, "s3cut-ref");
    run(&bucket, "s3cut-first");
    // The last commit as a crash can leave it on a store that writes data and metadata apart:
    // one object missing, the newest one present without its metadata.
    let key_at = |start: u64| expected.keys().find(|k| k.ends_with(&format!("+0+{start:010}.json"))).cloned().unwrap_or_else(|| panic!("no object at {start}"));
    s3.delete(&bucket, &key_at(80));
    s3.put_plain(&bucket, &key_at(82), expected[&key_at(82)].clone());
    // A new connector (no committed offsets) resumes from what the bucket says: offset 80.
    let objects = run(&bucket, "s3cut-again");
    assert_eq!(objects, expected, "the cut-off commit is written again, byte for byte");
}

#[test]
fn field_partitioner_gzip_kill9_mid_stream_gives_the_objects_of_an_uncrashed_run() {
    let s3 = S3::shared();
    let (topic, crash_bucket, clean_bucket) = (unique("s3eos"), unique("s3eos-crash"), unique("s3eos-clean"));
    s3.create_bucket(&crash_bucket);
    s3.create_bucket(&clean_bucket);
    create_topic(&topic, 2);
    let (per_partition, flush) = (1200usize, 40usize);
    let countries = ["de", "fr", "us"];
    let recs: Vec<Rec> =
        (0..per_partition * 2).map(|i| ((i % 2) as i32, json!({"seq": i, "country": countries[(i / 2) % 3], "pad": "x".repeat(100)}), None)).collect();
    let extra = [
        ("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner"),
        ("partition.field.name", "country"),
        ("s3.compression.type", "gzip"),
        ("flush.size", "40"),
    ];
    // Objects: per partition, per complete commit of `flush` records, one file per country.
    let expected = 2 * (per_partition / flush) * countries.len();

    let crash_dir = scratch("s3eos-crash");
    let crash_name = unique("s3eos-crash");
    let mut crashing = Worker::new(&crash_dir, worker_props(&crash_dir, free_port()), &[s3_sink(&crash_name, &topic, &crash_bucket, &s3.endpoint, &extra)]);
    crashing.start();
    crashing.wait_running(&crash_name, 1);
    // Produce while the sink runs; kill -9 once part of the data is in S3.
    let producer_topic = topic.clone();
    let (first, rest) = recs.split_at(recs.len() / 2);
    let (first, rest) = (first.to_vec(), rest.to_vec());
    let producer = std::thread::spawn(move || {
        for chunk in first.chunks(200) {
            produce(&producer_topic, chunk);
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    wait_for(Duration::from_secs(60), "some objects before the crash", || (s3.count(&crash_bucket) >= 12).then_some(()));
    crashing.kill9();
    producer.join().expect("producer thread");
    produce(&topic, &rest);
    // Let the dead member's session (6 s) expire first: under load the test broker has been
    // seen to leave a restarted member unassigned while the old one was still in the group.
    std::thread::sleep(Duration::from_secs(7));
    crashing.start();
    crashing.wait_running(&crash_name, 1);

    let clean_dir = scratch("s3eos-clean");
    let clean_name = unique("s3eos-clean");
    let mut clean = Worker::new(&clean_dir, worker_props(&clean_dir, free_port()), &[s3_sink(&clean_name, &topic, &clean_bucket, &s3.endpoint, &extra)]);
    clean.start();
    let crashed_objects = wait_objects(&s3, &crash_bucket, expected, Duration::from_secs(90), &crashing);
    let clean_objects = wait_objects(&s3, &clean_bucket, expected, Duration::from_secs(90), &clean);
    assert_eq!(crashed_objects.keys().collect::<Vec<_>>(), clean_objects.keys().collect::<Vec<_>>(), "same object names");
    assert!(crashed_objects == clean_objects, "same object bytes");
    // Each record once, in the file of its country.
    let mut seen = HashSet::new();
    for (key, body) in &crashed_objects {
        assert!(key.ends_with(".json.gz"), "{key}");
        for v in json_lines(&gunzip(body)) {
            assert!(key.contains(&format!("/country={}/", v["country"].as_str().expect("country"))), "{key}: {v}");
            assert!(seen.insert(v["seq"].as_i64().expect("seq")), "duplicate {v}");
        }
    }
    assert_eq!(seen.len(), expected / countries.len() * flush);
}

/// A Connect JSON envelope with a struct schema.
fn order(id: i64, name: Option<&str>, amount: f64, at_ms: i64) -> Json {
    json!({
        "schema": {"type": "struct", "name": "e2e.Order", "optional": false, "fields": [
            {"field": "id", "type": "int64", "optional": false},
            {"field": "name", "type": "string", "optional": true},
            {"field": "amount", "type": "double", "optional": false},
            {"field": "at", "type": "int64", "optional": false, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1}
        ]},
        "payload": {"id": id, "name": name, "amount": amount, "at": at_ms}
    })
}

#[test]
fn parquet_and_avro_objects_read_back_with_independent_readers() {
    let (s3, dir, topic) = (S3::shared(), scratch("s3cols"), unique("s3cols"));
    let (pq_bucket, avro_bucket) = (unique("s3pq"), unique("s3avro"));
    s3.create_bucket(&pq_bucket);
    s3.create_bucket(&avro_bucket);
    create_topic(&topic, 1);
    let recs: Vec<Rec> = (0..100).map(|i| (0, order(i, if i % 2 == 0 { None } else { Some("x") }, i as f64 / 4.0, 1_767_225_600_000 + i), None)).collect();
    produce(&topic, &recs);
    let schemas = [("value.converter", "org.apache.kafka.connect.json.JsonConverter"), ("value.converter.schemas.enable", "true"), ("flush.size", "50")];
    let (pq_name, avro_name) = (unique("s3pq"), unique("s3avro"));
    let mut pq = s3_sink(&pq_name, &topic, &pq_bucket, &s3.endpoint, &schemas);
    pq.insert("format.class".into(), "io.confluent.connect.s3.format.parquet.ParquetFormat".into());
    pq.insert("parquet.codec".into(), "zstd".into());
    let mut avro = s3_sink(&avro_name, &topic, &avro_bucket, &s3.endpoint, &schemas);
    avro.insert("format.class".into(), "io.confluent.connect.s3.format.avro.AvroFormat".into());
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[pq, avro]);
    w.start();

    let pq_objects = wait_objects(&s3, &pq_bucket, 2, Duration::from_secs(60), &w);
    let key = format!("topics/{topic}/partition=0/{topic}+0+0000000050.zstd.parquet");
    let body = pq_objects.get(&key).unwrap_or_else(|| panic!("missing {key}: {:?}", pq_objects.keys().collect::<Vec<_>>()));
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes::Bytes::from(body.clone())).expect("parquet file");
    assert_eq!(reader.metadata().file_metadata().num_rows(), 50);
    let rows: Vec<Vec<String>> =
        reader.get_row_iter(None).expect("rows").map(|r| r.expect("row").get_column_iter().map(|(n, v)| format!("{n}={v}")).collect()).collect();
    assert_eq!(rows[1][..3], ["id=51", "name=\"x\"", "amount=12.75"]);
    assert_eq!(rows[0][1], "name=null");

    let avro_objects = wait_objects(&s3, &avro_bucket, 2, Duration::from_secs(60), &w);
    let key = format!("topics/{topic}/partition=0/{topic}+0+0000000000.avro");
    let body = avro_objects.get(&key).unwrap_or_else(|| panic!("missing {key}: {:?}", avro_objects.keys().collect::<Vec<_>>()));
    use apache_avro::types::Value as AV;
    let rows: Vec<AV> = apache_avro::Reader::new(&body[..]).expect("avro container").map(|r| r.expect("avro row")).collect();
    assert_eq!(rows.len(), 50);
    let AV::Record(fields) = &rows[3] else { panic!("not a record: {:?}", rows[3]) };
    assert_eq!(fields[0], ("id".to_string(), AV::Long(3)));
    assert_eq!(fields[1], ("name".to_string(), AV::Union(1, Box::new(AV::String("x".into())))));
    assert_eq!(fields[2], ("amount".to_string(), AV::Double(0.75)));
    assert_eq!(fields[3], ("at".to_string(), AV::TimestampMillis(1_767_225_600_003)));
}

/// A Connect JSON envelope of version 1 (`id`) or 2 (`id`, optional `note`).
fn versioned(id: i64, version: i32) -> Json {
    let mut fields = vec![json!({"field": "id", "type": "int64", "optional": false})];
    let mut payload = json!({"id": id});
    if version == 2 {
        fields.push(json!({"field": "note", "type": "string", "optional": true}));
        payload["note"] = json!(format!("v2-{id}"));
    }
    json!({"schema": {"type": "struct", "name": "e2e.Item", "version": version, "optional": false, "fields": fields}, "payload": payload})
}

#[test]
fn schema_changes_rotate_per_schema_compatibility() {
    let (s3, dir, topic) = (S3::shared(), scratch("s3schema"), unique("s3schema"));
    let (none_bucket, backward_bucket) = (unique("s3none"), unique("s3backward"));
    s3.create_bucket(&none_bucket);
    s3.create_bucket(&backward_bucket);
    create_topic(&topic, 1);
    // 0-4 v1, 5-9 v2, 10-19 alternating v1/v2, 20-24 v1.
    let version = |i: i64| if (5..10).contains(&i) || ((10..20).contains(&i) && i % 2 == 1) { 2 } else { 1 };
    produce(&topic, &(0..25).map(|i| (0, versioned(i, version(i)), None)).collect::<Vec<_>>());
    let common = [
        ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
        ("value.converter.schemas.enable", "true"),
        ("format.class", "io.confluent.connect.s3.format.avro.AvroFormat"),
        ("flush.size", "20"),
    ];
    let (none_name, backward_name) = (unique("s3none"), unique("s3backward"));
    let mut none = s3_sink(&none_name, &topic, &none_bucket, &s3.endpoint, &common);
    none.insert("schema.compatibility".into(), "NONE".into());
    let mut backward = s3_sink(&backward_name, &topic, &backward_bucket, &s3.endpoint, &common);
    backward.insert("schema.compatibility".into(), "BACKWARD".into());
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[none, backward]);
    w.start();
    // BACKWARD: v1 until the first v2, then one file in v2 for the rest (v1 records projected).
    let objects = wait_objects(&s3, &backward_bucket, 2, Duration::from_secs(60), &w);
    let key = |off: &str| format!("topics/{topic}/partition=0/{topic}+0+{off}.avro");
    use apache_avro::types::Value as AV;
    let read = |b: &Vec<u8>| -> Vec<AV> { apache_avro::Reader::new(&b[..]).expect("avro").map(|r| r.expect("row")).collect() };
    assert_eq!(read(&objects[&key("0000000000")]).len(), 5);
    let rows = read(&objects[&key("0000000005")]);
    assert_eq!(rows.len(), 20);
    let AV::Record(f) = &rows[5] else { panic!("not a record") }; // id 10, a v1 record in the v2 file
    assert_eq!(f[1], ("note".to_string(), AV::Union(0, Box::new(AV::Null))));
    // NONE: every change closes the file: 0-4, 5-9, then one file per record 10..19.
    let objects = wait_objects(&s3, &none_bucket, 12, Duration::from_secs(60), &w);
    assert_eq!(read(&objects[&key("0000000005")]).len(), 5);
    assert_eq!(read(&objects[&key("0000000019")]).len(), 1);
}

#[test]
fn time_based_partitioner_rotates_by_record_time_and_wall_clock() {
    let (s3, dir, topic) = (S3::shared(), scratch("s3time"), unique("s3time"));
    let (rt_bucket, wall_bucket) = (unique("s3time"), unique("s3wall"));
    s3.create_bucket(&rt_bucket);
    s3.create_bucket(&wall_bucket);
    create_topic(&topic, 1);
    let t0 = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
    // One record a minute for 75 minutes, then one at minute 80.
    let mut recs: Vec<Rec> = (0..75).map(|i| (0, json!({"seq": i}), Some(t0 + i * 60_000))).collect();
    recs.push((0, json!({"seq": 75}), Some(t0 + 80 * 60_000)));
    produce(&topic, &recs);
    let (rt_name, wall_name) = (unique("s3time"), unique("s3wall"));
    let by_time = s3_sink(
        &rt_name,
        &topic,
        &rt_bucket,
        &s3.endpoint,
        &[
            ("partitioner.class", "io.confluent.connect.storage.partitioner.TimeBasedPartitioner"),
            ("path.format", "'dt'=YYYY-MM-dd/'hour'=HH"),
            ("partition.duration.ms", "3600000"),
            ("locale", "en-US"),
            ("timezone", "UTC"),
            ("timestamp.extractor", "Record"),
            ("flush.size", "1000"),
            ("rotate.interval.ms", "1500000"),
        ],
    );
    let by_wall = s3_sink(&wall_name, &topic, &wall_bucket, &s3.endpoint, &[("flush.size", "1000"), ("rotate.schedule.interval.ms", "2000")]);
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[by_time, by_wall]);
    w.start();
    // Record time: commits of 25 minutes; the hour boundary splits the third commit in two
    // files; the record at minute 80 stays buffered.
    let objects = wait_objects(&s3, &rt_bucket, 4, Duration::from_secs(60), &w);
    let p = |hour: &str, off: &str| format!("topics/{topic}/dt=2026-01-01/hour={hour}/{topic}+0+{off}.json");
    let expected = [(p("00", "0000000000"), 0..25), (p("00", "0000000025"), 25..50), (p("00", "0000000050"), 50..60), (p("01", "0000000060"), 60..75)];
    for (key, seqs) in expected {
        assert_seqs(&objects, &key, seqs);
    }
    // Wall clock: everything in one object within a few seconds.
    let objects = wait_objects(&s3, &wall_bucket, 1, Duration::from_secs(30), &w);
    let (key, body) = objects.iter().next().expect("one object");
    assert_eq!(key, &format!("topics/{topic}/partition=0/{topic}+0+0000000000.json"));
    assert_eq!(json_lines(body).len(), 76);
}

#[test]
fn wrong_credentials_fail_the_task_with_s3s_message() {
    let (s3, dir, topic, bucket) = (S3::shared(), scratch("s3auth"), unique("s3auth"), unique("s3auth"));
    s3.create_bucket(&bucket);
    create_topic(&topic, 1);
    let name = unique("s3auth");
    let sink = s3_sink(&name, &topic, &bucket, &s3.endpoint, &[("aws.secret.access.key", "not-the-secret")]);
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[sink]);
    w.start();
    let trace = wait_for(Duration::from_secs(60), &format!("task FAILED\n{}", w.log()), || {
        let (_, body) = w.get(&format!("/connectors/{name}/status"))?;
        let t = body["tasks"].as_array()?.first()?.clone();
        (t["state"] == "FAILED").then(|| t["trace"].as_str().unwrap_or_default().to_string())
    });
    assert!(trace.contains("S3 access to bucket") && trace.contains("403"), "{trace}");
    assert!(trace.contains("Signature") || trace.contains("AccessDenied"), "S3's own code in the message: {trace}");
    assert_eq!(w.terminate(), Some(0));
}

/// A private s3s-fs (so the test may stop it), on a fixed port and data dir.
struct PrivateS3 {
    port: u16,
    data: PathBuf,
    child: Option<Child>,
}

impl PrivateS3 {
    fn start(&mut self) {
        let bin = std::env::var("SLUICE_CACHE").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(env("HOME")).join(".cache/sluice")).join("bin/s3s-fs");
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--access-key",
                &env("SLUICE_S3_ACCESS_KEY"),
                "--secret-key",
                &env("SLUICE_S3_SECRET_KEY"),
            ])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        self.child = Some(child);
        let port = self.port;
        wait_for(Duration::from_secs(10), "private s3s-fs to listen", || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        self.kill();
    }
}

fn private_s3(dir: &Path) -> PrivateS3 {
    let data = dir.join("s3-data");
    std::fs::create_dir_all(&data).expect("s3 data dir");
    let mut s = PrivateS3 { port: free_port(), data, child: None };
    s.start();
    s
}

#[test]
fn s3_unreachable_for_20s_is_retried_and_nothing_is_lost() {
    let (dir, topic, bucket) = (scratch("s3down"), unique("s3down"), unique("s3down"));
    let mut server = private_s3(&dir);
    let s3 = S3::new(&format!("http://127.0.0.1:{}", server.port));
    s3.create_bucket(&bucket);
    create_topic(&topic, 1);
    produce(&topic, &(0..50).map(|i| (0, json!({"seq": i}), None)).collect::<Vec<_>>());
    let name = unique("s3down");
    let mut w = Worker::new(&dir, worker_props(&dir, free_port()), &[s3_sink(&name, &topic, &bucket, &s3.endpoint, &[])]);
    w.start();
    wait_objects(&s3, &bucket, 5, Duration::from_secs(60), &w);
    server.kill();
    produce(&topic, &(50..100).map(|i| (0, json!({"seq": i}), None)).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_secs(20));
    let (_, status) = w.get(&format!("/connectors/{name}/status")).expect("status");
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "the task keeps retrying: {status}");
    server.start();
    let objects = wait_objects(&s3, &bucket, 10, Duration::from_secs(60), &w);
    let seqs: Vec<i64> = objects.values().flat_map(|b| json_lines(b)).map(|v| v["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>(), "every record once, in order");
    assert!(w.log().contains("retriable error from put"), "the outage was seen and retried");
}

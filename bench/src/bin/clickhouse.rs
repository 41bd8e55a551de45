//! Kafka → ClickHouse: the ClickHouse sink (release `sluice standalone`, JSON records from a
//! 4-partition topic) against inserting the same rows straight from memory with the
//! `clickhouse` crate (typed `Insert`, RowBinary, 100k rows per INSERT), in the same run.
//!
//! Usage: `bench/run clickhouse [RECORDS]` (default 1 000 000). The sink's time runs from its
//! first inserted row to the last (consumer-group join excluded: the test broker delays a new
//! group's first join by seconds); the total from process start is printed too, with the
//! batch sizes the sink logged.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use sluice_bench::sink::LineCounter;
use sluice_bench::{BenchTopics, CpuMeter, Row, env, peak_rss_mib, print_table, sluice_bin, unique};

const TABLE_DDL: &str = "(id UInt64, customer String, amount Decimal(18, 2), qty Int32, ts DateTime, note String) ENGINE = MergeTree ORDER BY id";
const BATCH: usize = 100_000;

#[derive(clickhouse::Row, Serialize)]
struct Order {
    id: u64,
    customer: String,
    amount: i64,
    qty: i32,
    ts: u32,
    note: String,
}

fn order(i: u64) -> Order {
    Order {
        id: i,
        customer: format!("customer-{:05}", i % 10_000),
        amount: (i % 100_000) as i64 * 7,
        qty: (i % 17) as i32,
        ts: 1_767_225_600 + (i % 86_400) as u32,
        note: "n".repeat(60),
    }
}

fn json(o: &Order) -> String {
    format!(
        r#"{{"id":{},"customer":"{}","amount":"{}.{:02}","qty":{},"ts":{},"note":"{}"}}"#,
        o.id,
        o.customer,
        o.amount / 100,
        o.amount % 100,
        o.qty,
        o.ts as i64 * 1000,
        o.note
    )
}

async fn count(ch: &clickhouse::Client, table: &str) -> anyhow::Result<u64> {
    let mut cursor = ch.query(&format!("SELECT count() FROM {table}")).fetch_bytes("TabSeparated")?;
    let mut out = Vec::new();
    while let Some(chunk) = cursor.next().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&out).trim().parse()?)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `sluice standalone` with one connector until `progress` reaches `n`; returns (total
/// time, time from the first record delivered, peak RSS, log path), and prints the worker's
/// CPU per record from the first record delivered on, under `label`.
async fn run_worker<F, Fut>(
    label: &str,
    bootstrap: &str,
    connector: &str,
    n: u64,
    progress: F,
) -> anyhow::Result<(Duration, Duration, Option<f64>, std::path::PathBuf)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let dir = std::env::temp_dir().join(unique("bench-ch"));
    std::fs::create_dir_all(&dir)?;
    let rest = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let worker = format!(
        "bootstrap.servers={bootstrap}\noffset.storage.file.filename={}/offsets\nlisteners=http://127.0.0.1:{rest}\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n\
         value.converter.schemas.enable=false\nconsumer.session.timeout.ms=6000\nconsumer.max.poll.records=5000\n",
        dir.display()
    );
    std::fs::write(dir.join("worker.properties"), worker)?;
    std::fs::write(dir.join("connector.properties"), connector)?;
    let log_path = dir.join("worker.log");
    let log = std::fs::File::create(&log_path)?;
    let started = Instant::now();
    let mut child = Command::new(sluice_bin())
        .args(["standalone", "worker.properties", "connector.properties"])
        .current_dir(&dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("start sluice")?;
    let mut first: Option<Instant> = None;
    let mut meter = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak = None;
    loop {
        let c = progress().await;
        if c > 0 && first.is_none() {
            first = Some(Instant::now());
            meter = Some((CpuMeter::start(child.id()), c));
        }
        peak = peak_rss_mib(child.id()).or(peak);
        if c >= n {
            break;
        }
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            let _ = child.kill();
            bail!("the worker did not deliver {n} records (got {c}); see {}", log_path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    let steady = first.map(|t| t.elapsed()).unwrap_or(total);
    if let Some((meter, at_first)) = meter {
        meter.report(label, n - at_first, steady);
    }
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    Ok((total, steady, peak, log_path))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    let url = env("SLUICE_CLICKHOUSE_URL");
    let ch = clickhouse::Client::default().with_url(&url).with_validation(false);
    let rows_bytes = json(&order(0)).len() as u64 * n;

    // Baseline: the same rows, typed, straight into ClickHouse.
    let direct = unique("bench_direct").replace('-', "_");
    ch.query(&format!("CREATE TABLE {direct} {TABLE_DDL}")).execute().await?;
    let started = Instant::now();
    let meter = CpuMeter::start(std::process::id());
    let mut i = 0;
    while i < n {
        let mut insert = ch.insert::<Order>(&direct).await?;
        for id in i..(i + BATCH as u64).min(n) {
            insert.write(&order(id)).await?;
        }
        insert.end().await?;
        i += BATCH as u64;
    }
    let direct_elapsed = started.elapsed();
    meter.report("baseline, the inserting client (this process)", n, direct_elapsed);
    anyhow::ensure!(count(&ch, &direct).await? == n, "direct insert lost rows");

    // Kafka: produce the rows as JSON.
    let mut topics = BenchTopics::new(&bootstrap);
    let topic = topics.name("bench-ch");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &bootstrap).create()?;
    for r in admin.create_topics(&[NewTopic::new(&topic, 4, TopicReplication::Fixed(1))], &AdminOptions::new()).await? {
        r.map_err(|(t, e)| anyhow::anyhow!("create topic {t}: {e}"))?;
    }
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", &bootstrap).set("linger.ms", "20").set("compression.type", "lz4").create()?;
    let mut pending = Vec::with_capacity(10_000);
    for id in 0..n {
        let payload = json(&order(id));
        let key = format!("k{id}");
        pending.push(producer.send_result(FutureRecord::to(&topic).key(&key).payload(&payload).partition((id % 4) as i32)).map_err(|(e, _)| e)?);
        if pending.len() == 10_000 {
            for f in pending.drain(..) {
                f.await?.map_err(|(e, _)| e)?;
            }
        }
    }
    for f in pending.drain(..) {
        f.await?.map_err(|(e, _)| e)?;
    }

    // Sluice: standalone worker with the ClickHouse sink.
    let sunk = unique("bench_sink").replace('-', "_");
    ch.query(&format!("CREATE TABLE {sunk} {TABLE_DDL}")).execute().await?;
    let port = url.rsplit(':').next().unwrap_or("8123").trim_end_matches('/').to_string();
    let connector = format!(
        "name=bench-ch-sink\nconnector.class=ClickHouseSink\ntopics={topic}\nhostname=127.0.0.1\nport={port}\nssl=false\n\
         topic2TableMap={topic}={sunk}\nvalidation=false\n"
    );
    let ch2 = ch.clone();
    let sunk2 = sunk.clone();
    let (total, steady, peak, log_path) = run_worker("sluice ClickHouse sink, worker", &bootstrap, &connector, n, move || {
        let (ch, t) = (ch2.clone(), sunk2.clone());
        async move { count(&ch, &t).await.unwrap_or(0) }
    })
    .await?;

    // The runtime's ceiling on the same topic: FileStreamSink with the same converter.
    let dir = std::env::temp_dir().join(unique("bench-ch-file"));
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("sink.txt");
    let file_sink = format!("name=bench-file-sink\nconnector.class=FileStreamSink\ntopics={topic}\nfile={}\n", out.display());
    let counter = std::sync::Arc::new(std::sync::Mutex::new(LineCounter::new(&out)));
    let (_, file_steady, file_peak, _) = run_worker("sluice FileStreamSink, worker", &bootstrap, &file_sink, n, move || {
        let counter = counter.clone();
        async move { counter.lock().map(|mut c| c.lines()).unwrap_or(0) }
    })
    .await?;

    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let text = strip_ansi(&text);
    let sizes: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("inserted batch"))
        .filter_map(|l| l.split("rows=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    let rows = [
        Row { name: "clickhouse crate, typed insert (baseline)".into(), records: n, bytes: rows_bytes, elapsed: direct_elapsed, peak_rss_mib: None },
        Row { name: "Kafka -> sluice ClickHouse sink".into(), records: n, bytes: rows_bytes, elapsed: steady, peak_rss_mib: peak },
        Row { name: "  same, incl. start + group join".into(), records: n, bytes: rows_bytes, elapsed: total, peak_rss_mib: peak },
        Row { name: "Kafka -> sluice FileStreamSink (ceiling)".into(), records: n, bytes: rows_bytes, elapsed: file_steady, peak_rss_mib: file_peak },
    ];
    print_table(&format!("Kafka -> ClickHouse, {n} rows of ~{} B JSON", rows_bytes / n.max(1)), &rows, |i| (i > 0).then_some(0));
    let (min, max) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
    let avg = if sizes.is_empty() { 0 } else { sizes.iter().sum::<u64>() / sizes.len() as u64 };
    println!("sink inserts: {} batches, rows per insert min {min} / avg {avg} / max {max}; baseline: {BATCH} rows per insert", sizes.len());
    std::io::stdout().flush()?;
    ch.query(&format!("DROP TABLE {direct}")).execute().await?;
    ch.query(&format!("DROP TABLE {sunk}")).execute().await?;
    Ok(())
}

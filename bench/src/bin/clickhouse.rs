//! Kafka → ClickHouse: the ClickHouse sink (release `sluice standalone`, JSON records from a
//! 4-partition topic) against inserting the same rows straight from memory with the
//! `clickhouse` crate (typed `Insert`, RowBinary, 100k rows per INSERT), in the same run.
//!
//! Usage: `bench/run clickhouse [RECORDS]` (default 1 000 000). The sink's window runs from the
//! first count of its table that saw rows to the last, over the rows inserted after that first
//! count (consumer-group join excluded: the test broker delays a new group's first join by
//! seconds); the total from process start is printed too, with the batch sizes the sink logged.
//! The FileStreamSink row is the runtime alone on the same topic and converter (its ceiling).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use sluice_bench::sink::LineCounter;
use sluice_bench::{BenchTopics, CpuMeter, Poll, Properties, Row, Window, Worker, bench_dir, env, print_table, standalone_worker, unique};

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

/// Runs `sluice standalone` with one connector until `progress` reaches `n`; returns the
/// window (from the first record delivered, see `Worker::measure`) and the log path.
fn run_worker(bootstrap: &str, connector: &Properties, n: u64, progress: impl FnMut() -> anyhow::Result<u64>) -> anyhow::Result<(Window, PathBuf)> {
    let dir = bench_dir("clickhouse")?;
    let worker = standalone_worker(&dir, bootstrap)?
        .set("key.converter", "org.apache.kafka.connect.storage.StringConverter")
        .set("value.converter", "org.apache.kafka.connect.json.JsonConverter")
        .set("value.converter.schemas.enable", "false")
        .set("consumer.session.timeout.ms", 6000)
        .set("consumer.max.poll.records", 5000)
        .write(&dir.join("worker.properties"))?;
    let connector = connector.write(&dir.join("connector.properties"))?;
    let mut w = Worker::start("standalone", &dir, &[&worker, &connector], "worker.log", &[("RUST_LOG", "info")])?;
    let window = w.measure(n, Duration::from_secs(600), Poll::every(20), progress)?;
    let log = w.log().to_path_buf();
    w.stop();
    Ok((window, log))
}

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let rt = tokio::runtime::Runtime::new()?;
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    let url = env("SLUICE_CLICKHOUSE_URL");
    let ch = clickhouse::Client::default().with_url(&url).with_validation(false);
    let rows_bytes = json(&order(0)).len() as u64 * n;

    // Baseline: the same rows, typed, straight into ClickHouse.
    let direct = unique("bench_direct").replace('-', "_");
    rt.block_on(ch.query(&format!("CREATE TABLE {direct} {TABLE_DDL}")).execute())?;
    let started = Instant::now();
    let meter = CpuMeter::start(std::process::id());
    rt.block_on(async {
        let mut i = 0;
        while i < n {
            let mut insert = ch.insert::<Order>(&direct).await?;
            for id in i..(i + BATCH as u64).min(n) {
                insert.write(&order(id)).await?;
            }
            insert.end().await?;
            i += BATCH as u64;
        }
        anyhow::Ok(())
    })?;
    let direct_elapsed = started.elapsed();
    let direct_cpu = meter.read(direct_elapsed);
    anyhow::ensure!(rt.block_on(count(&ch, &direct))? == n, "direct insert lost rows");

    // Kafka: produce the rows as JSON.
    let mut topics = BenchTopics::new(&bootstrap);
    let topic = topics.name("bench-ch");
    rt.block_on(produce(&bootstrap, &topic, n))?;

    // Sluice: standalone worker with the ClickHouse sink.
    let sunk = unique("bench_sink").replace('-', "_");
    rt.block_on(ch.query(&format!("CREATE TABLE {sunk} {TABLE_DDL}")).execute())?;
    let port = url.rsplit(':').next().unwrap_or("8123").trim_end_matches('/').to_string();
    let connector = Properties::new()
        .set("name", "bench-ch-sink")
        .set("connector.class", "ClickHouseSink")
        .set("topics", &topic)
        .set("hostname", "127.0.0.1")
        .set("port", port)
        .set("ssl", false)
        .set("topic2TableMap", format!("{topic}={sunk}"))
        .set("validation", false);
    let (sink, log_path) = run_worker(&bootstrap, &connector, n, || rt.block_on(count(&ch, &sunk)))?;

    // The runtime's ceiling on the same topic: FileStreamSink with the same converter.
    let dir = bench_dir("clickhouse-file")?;
    let out = dir.join("sink.txt");
    let file_sink = Properties::new().set("name", "bench-file-sink").set("connector.class", "FileStreamSink").set("topics", &topic).set("file", out.display());
    let mut counter = LineCounter::new(&out);
    let (file, _) = run_worker(&bootstrap, &file_sink, n, || Ok(counter.lines()))?;

    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let text = strip_ansi(&text);
    let sizes: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("inserted batch"))
        .filter_map(|l| l.split("rows=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    // A sink's window opens at the first rows it delivered: only the rows after those are in it.
    let in_window = |w: &Window| n - w.at_first;
    let rows = [
        Row::new("clickhouse crate, typed insert (baseline)", n, rows_bytes, direct_elapsed).cpu(direct_cpu),
        Row::new("Kafka -> sluice ClickHouse sink", in_window(&sink), rows_bytes / n.max(1) * in_window(&sink), sink.steady)
            .rss(sink.peak_rss_mib)
            .cpu(sink.cpu),
        Row::new("  same, incl. start + group join", n, rows_bytes, sink.total).rss(sink.peak_rss_mib),
        Row::new("Kafka -> sluice FileStreamSink (ceiling)", in_window(&file), rows_bytes / n.max(1) * in_window(&file), file.steady)
            .rss(file.peak_rss_mib)
            .cpu(file.cpu),
    ];
    print_table(&format!("Kafka -> ClickHouse, {n} rows of ~{} B JSON", rows_bytes / n.max(1)), &rows, |i| (i > 0).then_some(0));
    let (min, max) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
    let avg = if sizes.is_empty() { 0 } else { sizes.iter().sum::<u64>() / sizes.len() as u64 };
    println!("sink inserts: {} batches, rows per insert min {min} / avg {avg} / max {max}; baseline: {BATCH} rows per insert", sizes.len());
    std::io::stdout().flush()?;
    rt.block_on(ch.query(&format!("DROP TABLE {direct}")).execute())?;
    rt.block_on(ch.query(&format!("DROP TABLE {sunk}")).execute())?;
    Ok(())
}

/// Creates `topic` (4 partitions) and writes the `n` rows to it as JSON, keyed and spread by id.
async fn produce(bootstrap: &str, topic: &str, n: u64) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    for r in admin.create_topics(&[NewTopic::new(topic, 4, TopicReplication::Fixed(1))], &AdminOptions::new()).await? {
        r.map_err(|(t, e)| anyhow::anyhow!("create topic {t}: {e}"))?;
    }
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "20").set("compression.type", "lz4").create()?;
    let mut pending = Vec::with_capacity(10_000);
    for id in 0..n {
        let payload = json(&order(id));
        let key = format!("k{id}");
        pending.push(producer.send_result(FutureRecord::to(topic).key(&key).payload(&payload).partition((id % 4) as i32)).map_err(|(e, _)| e)?);
        if pending.len() == 10_000 {
            for f in pending.drain(..) {
                f.await?.map_err(|(e, _)| e)?;
            }
        }
    }
    for f in pending.drain(..) {
        f.await?.map_err(|(e, _)| e)?;
    }
    Ok(())
}

//! `bench/run cdc [--full] [--rows-per-tx N] [--txs N]`: Postgres → Kafka change capture.
//!
//! Loads `txs` transactions of `rows-per-tx` inserts (default 20 × 10 000 = 200k row changes;
//! `--full` is the 20 × 50 000 = 1M) into a fresh table while two slots on the same
//! publication hold the WAL, then drains the same WAL twice:
//! - baseline: `pg_recvlogical` (pgoutput v1) to /dev/null, until the end LSN;
//! - Sluice: the release `sluice` binary with the Postgres CDC connector (`snapshot.mode=no_data`)
//!   and the JsonConverter (schemas on, as Debezium's default), until the slot has been advanced
//!   past the load's last commit — i.e. every change is acknowledged by the broker and its offset
//!   stored. The topic is then read back to check the count.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_bench::{CpuMeter, CpuUse, Properties, Row, Worker, bench_dir, env, print_table, standalone_worker, unique};
use tokio_postgres::{Client, NoTls};

const PG_RECVLOGICAL: &str = "/usr/lib/postgresql/15/bin/pg_recvlogical";

fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

async fn lsn(pg: &Client, sql: &str) -> Result<u64> {
    let row = pg.query_one(sql, &[]).await?;
    let v: Option<tokio_postgres::types::PgLsn> = row.get(0);
    Ok(v.map(u64::from).unwrap_or(0))
}

struct Args {
    txs: u64,
    rows_per_tx: u64,
}

fn args() -> Result<Args> {
    let mut a = Args { txs: 20, rows_per_tx: 10_000 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--full" => a.rows_per_tx = 50_000,
            "--txs" => a.txs = it.next().context("--txs N")?.parse()?,
            "--rows-per-tx" => a.rows_per_tx = it.next().context("--rows-per-tx N")?.parse()?,
            other => bail!("unknown argument {other}; usage: cdc [--full] [--txs N] [--rows-per-tx N]"),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let total = args.txs * args.rows_per_tx;
    let url = env("SLUICE_PG_URL");
    let (pg, conn) = tokio_postgres::connect(&url, NoTls).await.with_context(|| format!("connect {url}"))?;
    tokio::spawn(conn);
    let id = unique("cdc").replace('-', "_");
    let (table, publication, slot_recv) = (format!("bench_{id}"), format!("pub_{id}"), format!("r_{id}"));
    let slots = [format!("s_{id}"), format!("n_{id}"), format!("z_{id}")];
    // One statement per transaction: a slot cannot be created in a transaction that wrote.
    for sql in [
        format!("CREATE TABLE {table} (id int8 PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), quantity int4, ordered_at timestamptz, rush bool)"),
        format!("CREATE PUBLICATION {publication} FOR TABLE {table}"),
        format!("SELECT pg_create_logical_replication_slot('{}', 'pgoutput')", slots[0]),
        format!("SELECT pg_create_logical_replication_slot('{}', 'pgoutput')", slots[1]),
        format!("SELECT pg_create_logical_replication_slot('{}', 'pgoutput')", slots[2]),
        format!("SELECT pg_create_logical_replication_slot('{slot_recv}', 'pgoutput')"),
    ] {
        pg.batch_execute(&sql).await.with_context(|| sql.clone())?;
    }
    let result = run(&pg, &args, total, &table, &publication, &slots, &slot_recv).await;
    for s in slots.iter().chain([&slot_recv]) {
        let _ = pg.batch_execute(&format!("SELECT pg_drop_replication_slot('{s}')")).await;
    }
    let _ = pg.batch_execute(&format!("DROP PUBLICATION IF EXISTS {publication}; DROP TABLE IF EXISTS {table}")).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(pg: &Client, args: &Args, total: u64, table: &str, publication: &str, slots: &[String; 3], slot_recv: &str) -> Result<()> {
    println!("loading {} transactions of {} rows into {table}", args.txs, args.rows_per_tx);
    let mut before_last = 0;
    for t in 0..args.txs {
        let (lo, hi) = (t * args.rows_per_tx, (t + 1) * args.rows_per_tx - 1);
        before_last = lsn(pg, "SELECT pg_current_wal_lsn()").await?;
        pg.batch_execute(&format!(
            "INSERT INTO {table} SELECT g, 'customer-' || (g % 1000), (g % 100000) / 100.0, (g % 10) + 1, \
             '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 second', g % 5 = 0 FROM generate_series({lo}, {hi}) g"
        ))
        .await?;
    }
    let end = lsn(pg, "SELECT pg_current_wal_flush_lsn()").await?;

    // Baseline: pg_recvlogical drains the same WAL.
    let started = Instant::now();
    let status = Command::new(PG_RECVLOGICAL)
        .args(["-h", "127.0.0.1", "-p", "5433", "-U", "postgres", "-d", "postgres", "--slot", slot_recv, "--start"])
        .args(["-o", "proto_version=1", "-o", &format!("publication_names={publication}"), "--endpos", &lsn_text(end), "-f", "/dev/null"])
        .status()
        .context("run pg_recvlogical")?;
    let recv_elapsed = started.elapsed();
    if !status.success() {
        bail!("pg_recvlogical failed: {status}");
    }

    let mut rows = vec![Row::new("pg_recvlogical (pgoutput → /dev/null)", total, 0, recv_elapsed)];
    // With schemas every event carries its ~2 KB envelope schema: the bytes to the broker, not
    // the decoding, bound that row; the third shows the producer compressing them.
    for (slot, schemas, extra) in [(&slots[0], true, None), (&slots[1], false, None), (&slots[2], true, Some(("producer.compression.type", "lz4")))] {
        let ran = sluice(pg, total, table, publication, slot, schemas, before_last, extra).await?;
        let lz4 = if extra.is_none() { "" } else { ", lz4" };
        let name = format!("sluice postgres-cdc → Kafka (Json, schemas.enable={schemas}{lz4})");
        rows.push(Row::new(name, total, ran.bytes, ran.elapsed).rss(ran.rss).cpu(ran.cpu));
    }
    print_table(&format!("Postgres CDC: {} transactions × {} rows = {total} row changes", args.txs, args.rows_per_tx), &rows, |i| (i > 0).then_some(0));
    Ok(())
}

/// One run of the worker: its time and CPU from the process start, the bytes of the change
/// events it wrote and its peak RSS.
struct Ran {
    elapsed: Duration,
    bytes: u64,
    rss: Option<f64>,
    cpu: Option<CpuUse>,
}

/// Runs the release `sluice` on `slot` until the slot passed `before_last`.
#[allow(clippy::too_many_arguments)]
async fn sluice(
    pg: &Client,
    total: u64,
    table: &str,
    publication: &str,
    slot: &str,
    schemas: bool,
    before_last: u64,
    extra: Option<(&str, &str)>,
) -> Result<Ran> {
    let dir = bench_dir("cdc")?;
    let prefix = format!("b{}", unique("cdc").replace('-', "_"));
    let mut worker = standalone_worker(&dir, &env("SLUICE_BOOTSTRAP_SERVERS"))?
        .set("offset.flush.interval.ms", 250)
        .set("key.converter", "org.apache.kafka.connect.json.JsonConverter")
        .set("value.converter", "org.apache.kafka.connect.json.JsonConverter")
        .set("key.converter.schemas.enable", schemas)
        .set("value.converter.schemas.enable", schemas);
    if let Some((k, v)) = extra {
        worker = worker.set(k, v);
    }
    let worker = worker.write(&dir.join("worker.properties"))?;
    let connector = Properties::new()
        .set("name", "pg-bench")
        .set("connector.class", "io.debezium.connector.postgresql.PostgresConnector")
        .set("database.hostname", "127.0.0.1")
        .set("database.port", 5433)
        .set("database.user", "postgres")
        .set("database.dbname", "postgres")
        .set("topic.prefix", &prefix)
        .set("table.include.list", format!("public.{table}"))
        .set("slot.name", slot)
        .set("publication.name", publication)
        .set("publication.autocreate.mode", "disabled")
        .set("snapshot.mode", "no_data")
        .set("topic.creation.default.replication.factor", 1)
        .set("topic.creation.default.partitions", 1)
        .write(&dir.join("pg.properties"))?;
    let mut w = Worker::standalone(&dir, &worker, &[&connector])?;
    let cpu = CpuMeter::start(w.pid());
    // From the process start: the slot holds the whole load before the worker runs, so there
    // is no join to leave out; done when the slot's confirmed position passed the last commit.
    let slot_sql = format!("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'");
    let deadline = Instant::now() + Duration::from_secs(600);
    while lsn(pg, &slot_sql).await? <= before_last {
        if Instant::now() > deadline {
            bail!("sluice did not deliver the load in time; see {}", w.log().display());
        }
        w.check_running()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sluice_elapsed = w.uptime();
    let cpu = cpu.read(sluice_elapsed);
    let rss = w.kill();

    let topic = format!("{prefix}.public.{table}");
    let (count, bytes) = read_back(&topic, total)?;
    if count < total {
        bail!("only {count} of {total} change events in {topic}");
    }
    Ok(Ran { elapsed: sluice_elapsed, bytes, rss, cpu })
}

/// Counts the change events in `topic` and their value bytes.
fn read_back(topic: &str, want: u64) -> Result<(u64, u64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", env("SLUICE_BOOTSTRAP_SERVERS"))
        .set("group.id", unique("cdc-bench"))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let (mut n, mut bytes, mut idle) = (0u64, 0u64, 0);
    while n < want && idle < 50 {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                n += 1;
                bytes += m.payload_len() as u64;
                idle = 0;
            }
            _ => idle += 1,
        }
    }
    Ok((n, bytes))
}

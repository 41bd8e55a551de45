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

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_bench::{Row, env, peak_rss_mib, print_table, sluice_bin, unique};
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

    let mut rows = vec![Row { name: "pg_recvlogical (pgoutput → /dev/null)".into(), records: total, bytes: 0, elapsed: recv_elapsed, peak_rss_mib: None }];
    // With schemas every event carries its ~2 KB envelope schema: the bytes to the broker, not
    // the decoding, bound that row; the third shows the producer compressing them.
    for (slot, schemas, extra) in [(&slots[0], true, ""), (&slots[1], false, ""), (&slots[2], true, "producer.compression.type=lz4\n")] {
        let (elapsed, bytes, rss) = sluice(pg, total, table, publication, slot, schemas, before_last, extra).await?;
        let lz4 = if extra.is_empty() { "" } else { ", lz4" };
        let name = format!("sluice postgres-cdc → Kafka (Json, schemas.enable={schemas}{lz4})");
        rows.push(Row { name, records: total, bytes, elapsed, peak_rss_mib: rss });
    }
    print_table(&format!("Postgres CDC: {} transactions × {} rows = {total} row changes", args.txs, args.rows_per_tx), &rows, |i| (i > 0).then_some(0));
    Ok(())
}

/// Runs the release `sluice` on `slot` until the slot passed `before_last`; returns the time,
/// the bytes of the change events it wrote and its peak RSS.
#[allow(clippy::too_many_arguments)]
async fn sluice(
    pg: &Client,
    total: u64,
    table: &str,
    publication: &str,
    slot: &str,
    schemas: bool,
    before_last: u64,
    extra: &str,
) -> Result<(Duration, u64, Option<f64>)> {
    let dir = std::env::temp_dir().join("sluice-bench").join(unique("cdc"));
    std::fs::create_dir_all(&dir)?;
    let prefix = format!("b{}", unique("cdc").replace('-', "_"));
    let worker = format!(
        "bootstrap.servers={}\noffset.storage.file.filename={}\noffset.flush.interval.ms=250\nlisteners=http://127.0.0.1:0\n\
         key.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n\
         key.converter.schemas.enable={schemas}\nvalue.converter.schemas.enable={schemas}\n{extra}",
        env("SLUICE_BOOTSTRAP_SERVERS"),
        dir.join("offsets.json").display()
    );
    let connector = format!(
        "name=pg-bench\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\ndatabase.hostname=127.0.0.1\ndatabase.port=5433\n\
         database.user=postgres\ndatabase.dbname=postgres\ntopic.prefix={prefix}\ntable.include.list=public.{table}\nslot.name={slot}\n\
         publication.name={publication}\npublication.autocreate.mode=disabled\nsnapshot.mode=no_data\n\
         topic.creation.default.replication.factor=1\ntopic.creation.default.partitions=1\n"
    );
    std::fs::write(dir.join("worker.properties"), worker)?;
    std::fs::write(dir.join("pg.properties"), connector)?;
    let log = std::fs::File::create(dir.join("worker.log"))?;
    let started = Instant::now();
    let mut child = Command::new(sluice_bin())
        .args(["standalone", "worker.properties", "pg.properties"])
        .current_dir(&dir)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("spawn sluice")?;
    let slot_sql = format!("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if lsn(pg, &slot_sql).await? > before_last {
            break;
        }
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            let _ = child.kill();
            bail!("sluice did not deliver the load; see {}", dir.join("worker.log").display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sluice_elapsed = started.elapsed();
    let rss = peak_rss_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();

    let topic = format!("{prefix}.public.{table}");
    let (count, bytes) = read_back(&topic, total)?;
    if count < total {
        bail!("only {count} of {total} change events in {topic}");
    }
    Ok((sluice_elapsed, bytes, rss))
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

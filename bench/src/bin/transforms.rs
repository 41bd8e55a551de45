//! Benchmark of the transformation chain and error handling: Debezium-style change events
//! (schemaless JSON) consumed from Kafka by a sink, (1) with a raw rdkafka consumer that only
//! parses the JSON (the baseline), (2) through `sluice` with no transforms, (3) through
//! `sluice` with a typical CDC chain — ExtractNewRecordState, ReplaceField, MaskField,
//! InsertField, a Filter with a predicate, RegexRouter — and (4) the same with 1% poison
//! records and `errors.tolerance=all` + a DLQ. Run: `bench/run transforms [RECORDS]`.

use anyhow::Result;
use sluice_bench::sink::{produce, raw_consume, sluice_sink};
use sluice_bench::{BenchTopics, env, print_table};

fn event(i: u64, poison: bool) -> Vec<u8> {
    if poison {
        return format!("{{not json {i}").into_bytes();
    }
    let row = |name: &str| format!(r#"{{"id":{i},"first_name":"{name}","last_name":"Walker","email":"user{i}@example.com","ssn":"123-45-{:04}"}}"#, i % 10_000);
    let op = if i.is_multiple_of(10) { "u" } else { "c" };
    format!(
        r#"{{"before":{},"after":{},"source":{{"version":"2.5","connector":"postgresql","name":"db","ts_ms":1700000000000,"db":"shop","schema":"public","table":"customers","lsn":{i}}},"op":"{op}","ts_ms":1700000000123}}"#,
        if op == "u" { row("Old") } else { "null".to_string() },
        row("Anne")
    )
    .into_bytes()
}

fn main() -> Result<()> {
    let n: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let bootstrap = env("SLUICE_BOOTSTRAP_SERVERS");
    let mut topics = BenchTopics::new(&bootstrap);
    let (clean, dirty) = (topics.name("bench-cdc"), topics.name("bench-cdc-poison"));
    let bytes = produce(&bootstrap, &clean, n, |i| event(i, false))?;
    let dirty_bytes = produce(&bootstrap, &dirty, n, |i| event(i, i % 100 == 99))?;
    let chain: &[(&str, &str)] = &[
        ("transforms", "unwrap,keep,mask,insert,dropTest,route"),
        ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
        ("transforms.unwrap.add.fields", "op,table,lsn"),
        ("transforms.keep.type", "org.apache.kafka.connect.transforms.ReplaceField$Value"),
        ("transforms.keep.exclude", "last_name"),
        ("transforms.mask.type", "org.apache.kafka.connect.transforms.MaskField$Value"),
        ("transforms.mask.fields", "ssn"),
        ("transforms.insert.type", "org.apache.kafka.connect.transforms.InsertField$Value"),
        ("transforms.insert.offset.field", "kafka_offset"),
        ("transforms.dropTest.type", "org.apache.kafka.connect.transforms.Filter"),
        ("transforms.dropTest.predicate", "isTest"),
        ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
        ("transforms.route.regex", "bench-(.*)"),
        ("transforms.route.replacement", "$1"),
        ("predicates", "isTest"),
        ("predicates.isTest.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
        ("predicates.isTest.pattern", "test-.*"),
    ];
    let mut with_dlq: Vec<(&str, &str)> = chain.to_vec();
    let dlq = topics.name("bench-dlq");
    with_dlq.extend([
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", dlq.as_str()),
        ("errors.deadletterqueue.topic.replication.factor", "1"),
        ("errors.deadletterqueue.context.headers.enable", "true"),
    ]);
    let rows = vec![
        raw_consume(&bootstrap, &clean, n, bytes)?,
        sluice_sink("sluice sink, no transforms", &bootstrap, &clean, n, bytes, n, &[], &[])?,
        sluice_sink("sluice sink, 6-stage CDC transform chain", &bootstrap, &clean, n, bytes, n, &[], chain)?,
        sluice_sink("  + 1% poison records to the DLQ", &bootstrap, &dirty, n, dirty_bytes, n - n / 100, &[], &with_dlq)?,
    ];
    print_table(&format!("Transforms and error handling: {n} Debezium-style JSON change events (≈{} B each), one partition", bytes / n.max(1)), &rows, |i| {
        (i > 0).then_some(0)
    });
    Ok(())
}

//! `datagen`: a deterministic source of order-like records, for demos, tests and benchmarks.
//!
//! Record number `g` (0, 1, 2, ...) is the same in every run: key `k{g % key.space}` (STRING),
//! value a struct `sluice.datagen.Order` with `seq = g`, a customer, a Decimal amount, a
//! quantity, a Timestamp and an optional padding `payload`. With `tasks.max = n`, task `i`
//! produces the records `g ≡ i (mod n)`, so the tasks split the key space when `key.space` is a
//! multiple of `n`. The source partition is `{"task": i, "tasks": n}` and the offset
//! `{"next": j}` counts the records the task has produced, so a restart continues exactly where
//! the last committed offset stopped (changing `tasks.max` starts new partitions from 0).
//! `max.records` bounds the total over all tasks; `records.per.second` the total rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_sdk::data::logical;
use sluice_sdk::{
    ConfigDef, ConnectError, ConnectResult, Connector, ConnectorContext, Importance, OffsetMap, Props, Schema, SchemaRef, SourceConnector, SourceRecord,
    SourceTask, SourceTaskContext, Struct, Validator, Value, async_trait, config_keys, offset_map,
};

/// The class name under which the connector is registered.
pub const CLASS: &str = "io.sluice.connect.datagen.DatagenConnector";

/// 2026-01-01T00:00:00Z in ms: the `ordered_at` of record 0.
const EPOCH_MS: i64 = 1_767_225_600_000;

config_keys! {
    fn config_def();
    TOPIC: String = "topic" => importance(Importance::High).validator(Validator::NonEmptyString).doc("The topic to write to");
    MAX_RECORDS: Long = "max.records" => default("-1").importance(Importance::Medium).validator(Validator::at_least(-1.0)).doc("Total number of records over all tasks; -1 for no limit");
    RECORDS_PER_SECOND: Double = "records.per.second" => default("0").importance(Importance::Medium).validator(Validator::at_least(0.0)).doc("Total rate over all tasks; 0 for as fast as possible");
    KEY_SPACE: Long = "key.space" => default("1000").importance(Importance::Low).validator(Validator::at_least(1.0)).doc("Number of distinct keys");
    BATCH_SIZE: Int = "batch.size" => default("1000").importance(Importance::Low).validator(Validator::at_least(1.0)).doc("Maximum records returned by one poll");
    PAYLOAD_BYTES: Int = "payload.bytes" => default("0")
        .importance(Importance::Low)
        .validator(Validator::between(0.0, 1_048_576.0))
        .doc("Length of the padding string field `payload` (0: no payload field)");
}

/// The datagen connector: splits the record sequence over `tasks.max` tasks.
#[derive(Default)]
pub struct DatagenConnector {
    props: Props,
}

#[async_trait]
impl Connector for DatagenConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, props: Props, _ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()> {
        config_def().parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok((0..max_tasks)
            .map(|i| {
                let mut p = self.props.clone();
                p.insert("datagen.task.index".into(), i.to_string());
                p.insert("datagen.task.count".into(), max_tasks.to_string());
                p
            })
            .collect())
    }

    async fn stop(&mut self) {}
}

impl SourceConnector for DatagenConnector {}

/// SplitMix64: a tiny, well-mixed deterministic hash of the record number.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const CUSTOMERS: [&str; 8] = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"];

/// The value schema of every datagen record.
pub fn value_schema(payload: bool) -> SchemaRef {
    let mut s = Schema::struct_builder()
        .name("sluice.datagen.Order")
        .field("seq", Schema::int64())
        .field("customer", Schema::string())
        .field("amount", logical::decimal(2))
        .field("quantity", Schema::int32())
        .field("ordered_at", logical::timestamp())
        .field("note", Schema::string().optional());
    if payload {
        s = s.field("payload", Schema::string());
    }
    s.build()
}

/// Record number `g` as (key, value).
pub fn generate(g: u64, key_space: u64, payload_bytes: usize) -> (Value, Value) {
    let h = mix(g);
    let mut v = Struct::with_capacity(7)
        .put("seq", g as i64)
        .put("customer", CUSTOMERS[(h % 8) as usize])
        .put("amount", Value::Bytes(logical::encode_unscaled((h >> 8) as i128 % 100_000)))
        .put("quantity", ((h >> 32) % 10 + 1) as i32)
        .put("ordered_at", EPOCH_MS + g as i64 * 1000)
        .put("note", if h.is_multiple_of(5) { Value::String(format!("rush order {g}")) } else { Value::Null });
    if payload_bytes > 0 {
        let c = (b'a' + (h % 26) as u8) as char;
        v.set("payload", std::iter::repeat_n(c, payload_bytes).collect::<String>());
    }
    (Value::String(format!("k{}", g % key_space)), Value::Struct(v))
}

/// One datagen task: records `g = j * count + index` for `j = next, next + 1, ...`.
pub struct DatagenTask {
    topic: String,
    index: u64,
    count: u64,
    /// Records of this task already produced (committed or handed out): the next `j`.
    next: u64,
    /// How many records this task owns; `u64::MAX` for no limit.
    limit: u64,
    rate_per_task: f64,
    key_space: u64,
    batch_size: u64,
    payload_bytes: usize,
    key_schema: SchemaRef,
    value_schema: SchemaRef,
    partition: OffsetMap,
    started: Instant,
    produced_this_run: u64,
}

impl Default for DatagenTask {
    fn default() -> Self {
        DatagenTask {
            topic: String::new(),
            index: 0,
            count: 1,
            next: 0,
            limit: u64::MAX,
            rate_per_task: 0.0,
            key_space: 1000,
            batch_size: 1000,
            payload_bytes: 0,
            key_schema: Schema::string().build(),
            value_schema: value_schema(false),
            partition: OffsetMap::new(),
            started: Instant::now(),
            produced_this_run: 0,
        }
    }
}

fn task_prop(props: &Props, key: &str) -> ConnectResult<u64> {
    props.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| ConnectError::config(key, format!("{key} must be set by the connector to a number")))
}

#[async_trait]
impl SourceTask for DatagenTask {
    async fn start(&mut self, props: Props, ctx: SourceTaskContext) -> ConnectResult<()> {
        let cfg = config_def().parse(&props)?;
        self.topic = cfg.value(TOPIC)?;
        self.index = task_prop(&props, "datagen.task.index")?;
        self.count = task_prop(&props, "datagen.task.count")?.max(1);
        let max = cfg.value(MAX_RECORDS)?;
        self.limit = if max < 0 {
            u64::MAX
        } else {
            let max = max as u64;
            // Records g < max with g ≡ index (mod count).
            if max > self.index { (max - self.index).div_ceil(self.count) } else { 0 }
        };
        self.rate_per_task = cfg.value(RECORDS_PER_SECOND)? / self.count as f64;
        self.key_space = cfg.value(KEY_SPACE)? as u64;
        self.batch_size = cfg.value(BATCH_SIZE)? as u64;
        self.payload_bytes = cfg.value(PAYLOAD_BYTES)? as usize;
        self.value_schema = value_schema(self.payload_bytes > 0);
        self.partition = offset_map!("task" => self.index, "tasks" => self.count);
        if let Some(offset) = ctx.offset_reader.offset(&self.partition) {
            self.next = offset.get("next").and_then(|n| n.as_u64()).ok_or_else(|| ConnectError::fatal(format!("unexpected datagen offset {offset:?}")))?;
        }
        tracing::info!(task = self.index, of = self.count, next = self.next, limit = self.limit, "datagen task starting");
        self.started = Instant::now();
        self.produced_this_run = 0;
        Ok(())
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let remaining = self.limit.saturating_sub(self.next);
        if remaining == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok(Vec::new());
        }
        let mut n = remaining.min(self.batch_size);
        if self.rate_per_task > 0.0 {
            let allowed = (self.started.elapsed().as_secs_f64() * self.rate_per_task) as u64;
            let budget = allowed.saturating_sub(self.produced_this_run);
            if budget == 0 {
                let wait = (self.produced_this_run + 1) as f64 / self.rate_per_task - self.started.elapsed().as_secs_f64();
                tokio::time::sleep(Duration::from_secs_f64(wait.clamp(0.001, 0.5))).await;
                return Ok(Vec::new());
            }
            n = n.min(budget);
        }
        let mut records = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let g = self.next * self.count + self.index;
            let (key, value) = generate(g, self.key_space, self.payload_bytes);
            self.next += 1;
            records.push(
                SourceRecord::new(self.partition.clone(), offset_map!("next" => self.next), self.topic.clone(), Some(self.value_schema.clone()), value)
                    .with_key(Some(self.key_schema.clone()), key),
            );
        }
        self.produced_this_run += n;
        Ok(records)
    }

    async fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_follow_their_schema_and_are_deterministic() {
        for payload in [0, 16] {
            let schema = value_schema(payload > 0);
            for g in 0..200 {
                let (k, v) = generate(g, 10, payload);
                schema.validate_value(&v).unwrap();
                assert_eq!(k, Value::String(format!("k{}", g % 10)));
                assert_eq!((k, v), generate(g, 10, payload));
            }
        }
    }
}

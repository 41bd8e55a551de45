//! Example WASM source: generates numbered records (`{"seq": n, "payload": ...}` as a struct)
//! to `topic`, `batch.size` per poll, up to `max.records` in total. Its source offset is the
//! next sequence number, so a restarted task resumes where the last committed offset says.
//! `poll.interval.ms` throttles it.

use sluice_guest::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, OffsetMap, Props, Schema, SchemaRef, SourcePlugin, SourceRecord, Struct,
    Value, offset_map,
};

#[derive(Default)]
struct Generator {
    topic: String,
    next: i64,
    max: i64,
    batch: i64,
    interval_ms: u64,
    partition: OffsetMap,
    schema: Option<SchemaRef>,
}

fn number(props: &Props, key: &str, default: i64) -> ConnectResult<i64> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConnectError::config(key, format!("{v} is not a number"))),
    }
}

impl SourcePlugin for Generator {
    const NAME: &'static str = "com.example.sluice.GeneratorSource";
    const VERSION: &'static str = "1.0.0";

    fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new("topic", ConfigType::String).importance(Importance::High).doc("The topic to write to."))
            .define(ConfigKey::new("max.records", ConfigType::Long).default("1000").importance(Importance::Medium).doc("How many records to generate in total."))
            .define(ConfigKey::new("batch.size", ConfigType::Long).default("100").importance(Importance::Low).doc("Records per poll."))
            .define(ConfigKey::new("poll.interval.ms", ConfigType::Long).default("0").importance(Importance::Low).doc("Pause before each poll (throttles the generator)."))
    }

    fn start(&mut self, props: Props) -> ConnectResult<()> {
        self.topic = props.get("topic").cloned().ok_or_else(|| ConnectError::config("topic", "is required"))?;
        self.max = number(&props, "max.records", 1000)?;
        self.batch = number(&props, "batch.size", 100)?.max(1);
        self.interval_ms = number(&props, "poll.interval.ms", 0)?.clamp(0, 1000) as u64;
        let name = props.get("name").cloned().unwrap_or_default();
        self.partition = offset_map! { "generator" => name };
        self.next = sluice_guest::committed_offset(&self.partition).and_then(|o| o.get("next").and_then(|v| v.as_i64())).unwrap_or(0);
        self.schema = Some(Schema::struct_builder().field("seq", Schema::int64()).field("payload", Schema::string()).name("com.example.Generated").build());
        sluice_guest::log::info(&format!("generator starting at {} of {}", self.next, self.max));
        Ok(())
    }

    fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        if self.interval_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(self.interval_ms));
        }
        let end = (self.next + self.batch).min(self.max);
        let mut out = Vec::with_capacity((end - self.next).max(0) as usize);
        while self.next < end {
            let seq = self.next;
            self.next += 1;
            let value = Struct::new().put("seq", Value::Int64(seq)).put("payload", format!("record-{seq}"));
            out.push(
                SourceRecord::new(self.partition.clone(), offset_map! { "next" => self.next }, self.topic.clone(), self.schema.clone(), Value::Struct(value))
                    .with_key(Some(Schema::string().build()), Value::String(seq.to_string())),
            );
        }
        if out.is_empty() {
            // Nothing left: rest a little instead of spinning (a source should not busy-poll).
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(out)
    }
}

sluice_guest::export_source!(Generator);

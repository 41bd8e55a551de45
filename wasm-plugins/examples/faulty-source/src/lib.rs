//! A deliberately broken WASM source, for the sandbox's fault tests: it produces a few records
//! to `topic`, then misbehaves on the poll after `fault.after` records as `fault` says:
//! `loop` (never returns), `oom` (allocates without bound), `panic` (panics with a message),
//! `trap` (executes `unreachable`), `none` (behaves).

use sluice_guest::{ConnectError, ConnectResult, Props, SourcePlugin, SourceRecord, Value, offset_map};

#[derive(Default)]
struct Faulty {
    topic: String,
    fault: String,
    after: u64,
    sent: u64,
}

impl SourcePlugin for Faulty {
    const NAME: &'static str = "com.example.sluice.FaultySource";

    fn start(&mut self, props: Props) -> ConnectResult<()> {
        self.topic = props.get("topic").cloned().ok_or_else(|| ConnectError::config("topic", "is required"))?;
        self.fault = props.get("fault").cloned().unwrap_or_else(|| "none".into());
        self.after = props.get("fault.after").and_then(|v| v.parse().ok()).unwrap_or(3);
        Ok(())
    }

    fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        if self.sent >= self.after {
            match self.fault.as_str() {
                "loop" => {
                    let mut x: u64 = 0;
                    loop {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                }
                "oom" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                "panic" => panic!("faulty-source: simulated bug after {} records", self.sent),
                "trap" => std::process::abort(),
                _ => {}
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            return Ok(Vec::new());
        }
        self.sent += 1;
        let p = offset_map! { "faulty" => "0" };
        Ok(vec![SourceRecord::new(p, offset_map! { "sent" => self.sent }, self.topic.clone(), None, Value::String(format!("ok-{}", self.sent)))])
    }
}

sluice_guest::export_source!(Faulty);

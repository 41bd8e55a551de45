//! Example WASM sink: appends each record's value as a line to `file`, which must lie in a
//! directory the connector grants with `wasm.allowed.dirs` (the plugin sees no other files).
//! `flush` syncs the file to disk.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

use sluice_guest::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, Props, SinkPlugin, SinkRecord, Value};

#[derive(Default)]
struct FileSink {
    out: Option<BufWriter<File>>,
}

fn line(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Null => "null".into(),
        other => sluice_guest::plain_json(other).to_string(),
    }
}

impl SinkPlugin for FileSink {
    const NAME: &'static str = "com.example.sluice.FileSink";
    const VERSION: &'static str = "1.0.0";

    fn config_def() -> ConfigDef {
        ConfigDef::new().define(ConfigKey::new("file", ConfigType::String).importance(Importance::High).doc("The file to append to (inside a wasm.allowed.dirs directory)."))
    }

    fn start(&mut self, props: Props) -> ConnectResult<()> {
        let path = props.get("file").ok_or_else(|| ConnectError::config("file", "is required"))?;
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| ConnectError::config("file", format!("cannot open {path}: {e} (is its directory in wasm.allowed.dirs?)")))?;
        self.out = Some(BufWriter::new(f));
        Ok(())
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        let out = self.out.as_mut().ok_or_else(|| ConnectError::fatal("put before start"))?;
        for r in &records {
            writeln!(out, "{}", line(&r.value)).map_err(|e| ConnectError::fatal(format!("write failed: {e}")))?;
        }
        Ok(())
    }

    fn flush(&mut self, _offsets: &std::collections::HashMap<sluice_guest::TopicPartition, i64>) -> ConnectResult<()> {
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(|e| ConnectError::fatal(format!("flush failed: {e}")))?;
            out.get_ref().sync_data().map_err(|e| ConnectError::fatal(format!("sync failed: {e}")))?;
        }
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut out) = self.out.take() {
            let _ = out.flush();
        }
    }
}

sluice_guest::export_sink!(FileSink);

//! `FileStreamSinkConnector` and its task.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;

use sluice_sdk::{
    ConfigDef, ConnectError, ConnectResult, Connector, ConnectorContext, Importance, Props, SinkConnector, SinkRecord, SinkTask, SinkTaskContext, async_trait,
    config_keys,
};

use crate::VERSION;

config_keys! {
    fn config_def();
    FILE: String = "file" => default("").importance(Importance::High).doc("Destination filename. If not specified, the standard output will be used");
}

/// Appends record values to a text file.
#[derive(Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for FileStreamSinkConnector {
    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, props: Props, _ctx: Arc<dyn ConnectorContext>) -> ConnectResult<()> {
        config_def().parse(&props)?;
        self.props = props;
        Ok(())
    }

    /// `max_tasks` copies of the config, as Kafka's connector does.
    fn task_configs(&self, max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks])
    }

    async fn stop(&mut self) {}
}

impl SinkConnector for FileStreamSinkConnector {}

/// The task: one `write` per `put`.
#[derive(Default)]
pub struct FileStreamSinkTask {
    file: Option<File>,
    buf: Vec<u8>,
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, props: Props, _ctx: Arc<dyn SinkTaskContext>) -> ConnectResult<()> {
        let cfg = config_def().parse(&props)?;
        let name = cfg.value(FILE)?;
        if !name.is_empty() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&name)
                .map_err(|e| ConnectError::fatal(format!("Couldn't find or create file '{name}' for FileStreamSinkTask: {e}")))?;
            self.file = Some(f);
        }
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        self.buf.clear();
        for r in &records {
            // Java's println(Object): "null" for a null value.
            writeln!(self.buf, "{}", r.value).map_err(ConnectError::fatal)?;
        }
        match self.file.as_mut() {
            Some(f) => f.write_all(&self.buf)?,
            None => std::io::stdout().lock().write_all(&self.buf)?,
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &std::collections::HashMap<sluice_sdk::TopicPartition, i64>) -> ConnectResult<()> {
        match self.file.as_mut() {
            Some(f) => f.flush()?,
            None => std::io::stdout().lock().flush()?,
        }
        Ok(())
    }

    async fn stop(&mut self) {
        self.file = None;
    }
}

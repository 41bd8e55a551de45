//! `FileStreamSourceConnector` and its task.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use sluice_sdk::{
    ConfigDef, ConnectError, ConnectResult, Connector, ConnectorContext, Importance, OffsetMap, Props, Schema, SchemaRef, SourceConnector, SourceRecord,
    SourceTask, SourceTaskContext, Validator, Value, async_trait, config_keys, offset_map,
};

use crate::VERSION;

/// How long a poll waits at the end of the file before returning an empty batch.
const EOF_WAIT: Duration = Duration::from_millis(1000);

config_keys! {
    fn config_def();
    FILE: String = "file" => default("").importance(Importance::High).doc("Source filename. If not specified, the standard input will be used");
    TOPIC: List = "topic" => importance(Importance::High)
        .validator(Validator::Custom(Arc::new(|v| match v {
            sluice_sdk::ConfigValue::List(l) if l.len() == 1 && !l[0].is_empty() => Ok(()),
            _ => Err(format!("'{TOPIC}' in FileStreamSourceConnector configuration requires definition of a single topic.")),
        })))
        .doc("The topic to publish data to");
    BATCH_SIZE: Int = "batch.size" => default("2000")
        .importance(Importance::Low)
        .validator(Validator::at_least(1.0))
        .doc("The maximum number of records the source task can read from the file each time it is polled");
}

/// Reads lines of a text file into a topic.
#[derive(Default)]
pub struct FileStreamSourceConnector {
    props: Props,
}

#[async_trait]
impl Connector for FileStreamSourceConnector {
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

    /// One task, whatever `tasks.max` says: a file has one reader.
    fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }

    async fn stop(&mut self) {}
}

impl SourceConnector for FileStreamSourceConnector {}

enum Input {
    Stdin(BufReader<std::io::Stdin>),
    File(BufReader<File>),
}

/// The task: tails the file from the committed position.
pub struct FileStreamSourceTask {
    filename: Option<String>,
    topic: String,
    batch_size: usize,
    input: Option<Input>,
    /// Byte position after the last complete line returned.
    position: u64,
    /// Bytes of a line whose newline has not arrived yet.
    pending: Vec<u8>,
    schema: SchemaRef,
}

impl Default for FileStreamSourceTask {
    fn default() -> Self {
        FileStreamSourceTask {
            filename: None,
            topic: String::new(),
            batch_size: 2000,
            input: None,
            position: 0,
            pending: Vec::new(),
            schema: Schema::string().build(),
        }
    }
}

impl FileStreamSourceTask {
    fn partition(&self) -> OffsetMap {
        match &self.filename {
            Some(f) => offset_map!("filename" => f),
            None => OffsetMap::new(),
        }
    }

    fn open(&mut self) -> ConnectResult<()> {
        match &self.filename {
            None => self.input = Some(Input::Stdin(BufReader::new(std::io::stdin()))),
            Some(name) => match File::open(name) {
                Ok(mut f) => {
                    f.seek(SeekFrom::Start(self.position))?;
                    self.input = Some(Input::File(BufReader::new(f)));
                }
                // Like Kafka: a missing file is waited for, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(file = %name, "couldn't find file, waiting for it to appear");
                }
                Err(e) => return Err(ConnectError::fatal(format!("cannot open {name}: {e}"))),
            },
        }
        Ok(())
    }

    fn read_lines(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        let mut records = Vec::new();
        let partition = self.partition();
        let Some(input) = self.input.as_mut() else { return Ok(records) };
        let reader: &mut dyn BufRead = match input {
            Input::Stdin(r) => r,
            Input::File(r) => r,
        };
        while records.len() < self.batch_size {
            let n = reader.read_until(b'\n', &mut self.pending)?;
            if n == 0 || self.pending.last() != Some(&b'\n') {
                break; // end of data for now; keep a partial line pending
            }
            self.position += self.pending.len() as u64;
            let mut line = &self.pending[..self.pending.len() - 1];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let text = String::from_utf8_lossy(line).into_owned();
            self.pending.clear();
            let offset = if self.filename.is_some() { offset_map!("position" => self.position) } else { OffsetMap::new() };
            records.push(SourceRecord::new(partition.clone(), offset, self.topic.clone(), Some(self.schema.clone()), Value::String(text)));
        }
        Ok(records)
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, props: Props, ctx: SourceTaskContext) -> ConnectResult<()> {
        let cfg = config_def().parse(&props)?;
        let file = cfg.value(FILE)?;
        self.filename = (!file.is_empty()).then_some(file);
        self.topic = cfg.value(TOPIC)?.into_iter().next().unwrap_or_default();
        self.batch_size = cfg.value(BATCH_SIZE)? as usize;
        if self.filename.is_some()
            && let Some(offset) = ctx.offset_reader.offset(&self.partition())
        {
            self.position = offset
                .get("position")
                .and_then(|p| p.as_u64())
                .ok_or_else(|| ConnectError::fatal(format!("unexpected offset object {offset:?}: no \"position\"")))?;
            tracing::info!(position = self.position, "resuming file source from committed offset");
        }
        self.open()
    }

    async fn poll(&mut self) -> ConnectResult<Vec<SourceRecord>> {
        if self.input.is_none() {
            self.open()?;
        }
        let records = self.read_lines()?;
        if records.is_empty() {
            tokio::time::sleep(EOF_WAIT).await;
        }
        Ok(records)
    }

    async fn stop(&mut self) {
        self.input = None;
    }
}

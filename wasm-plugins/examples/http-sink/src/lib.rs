//! Example WASM sink: POSTs each batch of records to `url` (`http://HOST:PORT/PATH`) as JSON
//! lines (each record's value). Two ways out, both closed unless the connector grants them:
//!
//! - `transport=http` (default): through the worker's HTTP client (`sluice_guest::http`, the
//!   `wasi:http` import); the host must be listed in `wasm.allowed.http.hosts`.
//! - `transport=socket`: its own TCP connection (WASI sockets); needs `wasm.allow.network=true`.
//!
//! Without the grant the request is refused by the sandbox and the task fails saying what to
//! grant. A non-2xx answer or a failed connection is retriable: the runtime redelivers the batch.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sluice_guest::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, Props, SinkPlugin, SinkRecord};

#[derive(Default)]
struct HttpSink {
    url: String,
    /// `host:port` and the request path.
    target: Option<(String, String)>,
    /// Own TCP connection instead of the host's HTTP client.
    socket: bool,
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let authority = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    (!authority.starts_with(':')).then_some((authority, path))
}

/// One HTTP/1.1 POST; the status code.
fn post(authority: &str, path: &str, body: &[u8]) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    write!(s, "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
    s.write_all(body)?;
    s.flush()?;
    let mut status = String::new();
    let mut reader = BufReader::new(s);
    reader.read_line(&mut status)?;
    let _ = reader.read_to_end(&mut Vec::new());
    status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {status:?}")))
}

impl SinkPlugin for HttpSink {
    const NAME: &'static str = "com.example.sluice.HttpSink";
    const VERSION: &'static str = "1.0.0";

    fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new("url", ConfigType::String).importance(Importance::High).doc("Where batches are POSTed as JSON lines: http://HOST:PORT/PATH."))
            .define(ConfigKey::new("transport", ConfigType::String).default("http").importance(Importance::Low).doc(
                "http: through the worker's HTTP client (grant the host in wasm.allowed.http.hosts); socket: over the plugin's own TCP connection (grant wasm.allow.network=true).",
            ))
    }

    fn start(&mut self, props: Props) -> ConnectResult<()> {
        let url = props.get("url").ok_or_else(|| ConnectError::config("url", "is required"))?;
        self.target = Some(parse_url(url.trim()).ok_or_else(|| ConnectError::config("url", format!("{url} is not http://HOST:PORT/PATH")))?);
        self.url = url.trim().to_string();
        self.socket = match props.get("transport").map(|t| t.trim()).unwrap_or("http") {
            "http" => false,
            "socket" => true,
            other => return Err(ConnectError::config("transport", format!("{other:?} is neither http nor socket"))),
        };
        Ok(())
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> ConnectResult<()> {
        let Some((authority, path)) = &self.target else { return Err(ConnectError::fatal("put before start")) };
        if records.is_empty() {
            return Ok(());
        }
        let mut body = Vec::new();
        for r in &records {
            body.extend_from_slice(sluice_guest::plain_json(&r.value).to_string().as_bytes());
            body.push(b'\n');
        }
        if !self.socket {
            let answer = sluice_guest::http::post(&self.url, "application/x-ndjson", &body)?;
            return match answer.is_success() {
                true => Ok(()),
                false => Err(ConnectError::Retriable(format!("POST {} answered {}", self.url, answer.status))),
            };
        }
        match post(authority, path, &body) {
            Ok(code) if (200..300).contains(&code) => Ok(()),
            Ok(code) => Err(ConnectError::Retriable(format!("POST {path} to {authority} answered {code}"))),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied || e.to_string().contains("ermission") || e.to_string().contains("ccess") => {
                Err(ConnectError::fatal(format!("cannot connect to {authority}: {e} (the connector must grant wasm.allow.network=true)")))
            }
            Err(e) => Err(ConnectError::Retriable(format!("POST to {authority} failed: {e}"))),
        }
    }

    fn flush(&mut self, _offsets: &std::collections::HashMap<sluice_guest::TopicPartition, i64>) -> ConnectResult<()> {
        Ok(())
    }

    fn stop(&mut self) {}
}

sluice_guest::export_sink!(HttpSink);

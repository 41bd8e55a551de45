//! A synchronous client of Confluent's Schema Registry API, for converters.
//!
//! `Converter::from_connect`/`to_connect` are synchronous and run on the worker's tokio
//! threads. A registry call happens only on a cache miss (once per schema), and then it must
//! neither panic (reqwest's blocking client refuses to run inside a runtime) nor stall the
//! runtime: every call is handed to one dedicated thread per client that owns a
//! `reqwest::blocking::Client` (so connections are pooled), and the caller waits for the
//! answer inside `tokio::task::block_in_place` when it is on a multi-threaded runtime (tokio
//! moves the thread's other tasks elsewhere meanwhile); outside a runtime, or on a
//! current-thread runtime, it simply blocks.
//!
//! Several URLs (`schema.registry.url=http://a:8081,http://b:8081`) are tried in turn, starting
//! with the last one that answered; basic auth comes from `basic.auth.user.info`
//! (`basic.auth.credentials.source=USER_INFO`) or the URL's user info (`URL`). Every HTTP request
//! is counted ([`registry_calls`]) so tests can assert that records do not cost calls.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde_json::{Value as Json, json};

static CALLS: AtomicU64 = AtomicU64::new(0);

/// HTTP requests made to schema registries by every client of this process.
pub fn registry_calls() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

/// What a registry call can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The registry answered with an error (`error_code` as Confluent defines them).
    #[error("schema registry error {code}: {message}")]
    Registry { code: i64, message: String },
    /// No registry could be reached, or the answer was not what the API promises.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
}

impl ClientError {
    pub fn code(&self) -> Option<i64> {
        match self {
            ClientError::Registry { code, .. } => Some(*code),
            ClientError::Unavailable(_) => None,
        }
    }
}

/// How to reach the registry.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    pub urls: Vec<String>,
    /// `user:password` for HTTP basic auth.
    pub user_info: Option<String>,
    pub timeout: Option<Duration>,
}

type Job = Box<dyn FnOnce(&reqwest::blocking::Client) + Send>;

/// A registry client; cheap to share behind an `Arc`.
pub struct RegistryClient {
    urls: Vec<String>,
    user_info: Option<(String, String)>,
    preferred: AtomicUsize,
    jobs: std::sync::Mutex<mpsc::Sender<Job>>,
}

impl RegistryClient {
    pub fn new(config: ClientConfig) -> Result<Arc<RegistryClient>, ClientError> {
        if config.urls.is_empty() {
            return Err(ClientError::Unavailable("no schema.registry.url given".into()));
        }
        let mut user_info = config.user_info.as_deref().and_then(split_user_info);
        let mut urls = Vec::new();
        for url in &config.urls {
            let (clean, from_url) = strip_user_info(url.trim().trim_end_matches('/'));
            if user_info.is_none() {
                user_info = from_url;
            }
            urls.push(clean);
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let timeout = config.timeout.unwrap_or(Duration::from_secs(30));
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("schema-registry-client".into())
            .spawn(move || {
                let http = match reqwest::blocking::Client::builder().timeout(timeout).build() {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&http);
                }
            })
            .map_err(|e| ClientError::Unavailable(format!("cannot start the registry client thread: {e}")))?;
        wait(|| ready_rx.recv()).map_err(|_| ClientError::Unavailable("registry client thread died".into()))?.map_err(ClientError::Unavailable)?;
        Ok(Arc::new(RegistryClient { urls, user_info, preferred: AtomicUsize::new(0), jobs: std::sync::Mutex::new(tx) }))
    }

    /// `POST /subjects/{s}/versions`: the schema's id, registering it if new.
    pub fn register(&self, subject: &str, schema: &str) -> Result<i32, ClientError> {
        let v = self.call(reqwest::Method::POST, &format!("/subjects/{}/versions", encode(subject)), Some(json!({"schema": schema})))?;
        int(&v, "id")
    }

    /// `POST /subjects/{s}`: the id of a schema already registered under the subject.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<i32, ClientError> {
        let v = self.call(reqwest::Method::POST, &format!("/subjects/{}", encode(subject)), Some(json!({"schema": schema})))?;
        int(&v, "id")
    }

    /// `GET /subjects/{s}/versions/latest`: (id, schema).
    pub fn latest(&self, subject: &str) -> Result<(i32, String), ClientError> {
        let v = self.call(reqwest::Method::GET, &format!("/subjects/{}/versions/latest", encode(subject)), None)?;
        Ok((int(&v, "id")?, string(&v, "schema")?))
    }

    /// `GET /schemas/ids/{id}`: the schema text.
    pub fn schema_by_id(&self, id: i32) -> Result<String, ClientError> {
        let v = self.call(reqwest::Method::GET, &format!("/schemas/ids/{id}"), None)?;
        string(&v, "schema")
    }

    /// One request, tried against each URL in turn until one answers.
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Result<Json, ClientError> {
        let start = self.preferred.load(Ordering::Relaxed);
        let mut last = ClientError::Unavailable("no URL tried".into());
        for i in 0..self.urls.len() {
            let index = (start + i) % self.urls.len();
            let url = format!("{}{path}", self.urls[index]);
            CALLS.fetch_add(1, Ordering::Relaxed);
            match self.send(method.clone(), url, body.clone()) {
                Ok(v) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return v;
                }
                Err(e) => {
                    tracing::warn!(url = %self.urls[index], error = %e, "schema registry unreachable; trying the next URL");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Runs one HTTP exchange on the client thread. The outer error means "try another URL".
    fn send(&self, method: reqwest::Method, url: String, body: Option<Json>) -> Result<Result<Json, ClientError>, ClientError> {
        let (tx, rx) = mpsc::channel();
        let auth = self.user_info.clone();
        let job: Job = Box::new(move |http| {
            let mut req = http.request(method, &url).header("Accept", "application/vnd.schemaregistry.v1+json, application/json");
            if let Some((user, password)) = &auth {
                req = req.basic_auth(user, Some(password));
            }
            if let Some(b) = &body {
                req = req.header("Content-Type", "application/vnd.schemaregistry.v1+json").body(b.to_string());
            }
            let result = match req.send() {
                Err(e) => Err(ClientError::Unavailable(e.to_string())),
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().unwrap_or_default();
                    let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
                    if status.is_success() {
                        Ok(Ok(json))
                    } else if status.is_server_error() && json.get("error_code").is_none() {
                        Err(ClientError::Unavailable(format!("HTTP {status}: {text}")))
                    } else {
                        let code = json.get("error_code").and_then(Json::as_i64).unwrap_or(i64::from(status.as_u16()));
                        let message = json.get("message").and_then(Json::as_str).map(str::to_string).unwrap_or(text);
                        Ok(Err(ClientError::Registry { code, message }))
                    }
                }
            };
            let _ = tx.send(result);
        });
        self.jobs
            .lock()
            .map_err(|_| ClientError::Unavailable("client lock poisoned".into()))?
            .send(job)
            .map_err(|_| ClientError::Unavailable("registry client thread stopped".into()))?;
        wait(|| rx.recv()).map_err(|_| ClientError::Unavailable("registry client thread stopped".into()))?
    }
}

/// Blocks on `f` without starving a multi-threaded tokio runtime.
fn wait<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn int(v: &Json, key: &str) -> Result<i32, ClientError> {
    v.get(key)
        .and_then(Json::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| ClientError::Unavailable(format!("registry answer has no '{key}': {v}")))
}

fn string(v: &Json, key: &str) -> Result<String, ClientError> {
    v.get(key).and_then(Json::as_str).map(str::to_string).ok_or_else(|| ClientError::Unavailable(format!("registry answer has no '{key}': {v}")))
}

/// Percent-encodes a subject for a URL path.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn split_user_info(s: &str) -> Option<(String, String)> {
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// `http://user:pw@host:8081` → (`http://host:8081`, Some(user, pw)).
fn strip_user_info(url: &str) -> (String, Option<(String, String)>) {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((info, host)) = rest.split_once('@')
    {
        return (format!("{scheme}://{host}"), split_user_info(info));
    }
    (url.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_user_info() {
        assert_eq!(strip_user_info("http://u:p@h:1"), ("http://h:1".to_string(), Some(("u".into(), "p".into()))));
        assert_eq!(strip_user_info("http://h:1").1, None);
        assert_eq!(encode("orders-value"), "orders-value");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }
}

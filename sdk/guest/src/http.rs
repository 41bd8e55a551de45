//! Outbound HTTP from a plugin, sent by the worker's own HTTP client (the `wasi:http`
//! host import; `https` verified against the webpki roots). Only the hosts the connector (or
//! transform) grants in `wasm.allowed.http.hosts` are reachable: a request to any other fails
//! with [`HttpError::Denied`]. Each call blocks until the whole response has arrived.
//!
//! ```ignore
//! let answer = sluice_guest::http::post("http://127.0.0.1:8080/ingest", "application/json", body)?;
//! if !answer.is_success() { /* ... */ }
//! ```

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

use crate::ConnectError;

/// A response, read to its end.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order the server sent them.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The connector does not grant this host (`wasm.allowed.http.hosts`).
    Denied { authority: String },
    /// Not an `http://` or `https://` URL with a host.
    InvalidUrl { url: String, why: String },
    /// The request was sent (or tried) and failed: connection, timeout, protocol.
    Failed { authority: String, message: String },
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied { authority } => write!(f, "HTTP request to {authority} denied: the connector must grant the host in wasm.allowed.http.hosts"),
            HttpError::InvalidUrl { url, why } => write!(f, "{url:?} is not an HTTP URL: {why}"),
            HttpError::Failed { authority, message } => write!(f, "HTTP request to {authority} failed: {message}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// A denied host or a bad URL fails the task (retrying cannot help); a failed request is
/// retriable.
impl From<HttpError> for ConnectError {
    fn from(e: HttpError) -> ConnectError {
        match e {
            HttpError::Failed { .. } => ConnectError::Retriable(e.to_string()),
            _ => ConnectError::Fatal(e.to_string()),
        }
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send("GET", url, &[], &[])
}

/// `POST url` with a body of `content_type`.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Result<Response, HttpError> {
    send("POST", url, &[("content-type", content_type)], body)
}

/// Any request. `Content-Length` is set from `body` (for a body, or a `POST`/`PUT`/`PATCH`).
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
    let (scheme, authority, path) = split_url(url)?;
    let failed = |message: String| HttpError::Failed { authority: authority.to_string(), message };
    let fields = Fields::new();
    for (name, value) in headers {
        fields.append(&name.to_ascii_lowercase(), value.as_bytes()).map_err(|e| failed(format!("header {name}: {e:?}")))?;
    }
    let method = method_of(method);
    if !body.is_empty() || matches!(method, Method::Post | Method::Put | Method::Patch) {
        fields.append("content-length", &body.len().to_string().into_bytes()).map_err(|e| failed(format!("header content-length: {e:?}")))?;
    }
    let request = OutgoingRequest::new(fields);
    let set = request.set_method(&method).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(HttpError::InvalidUrl { url: url.to_string(), why: "the method, authority or path was refused".into() });
    }
    let outgoing = request.body().map_err(|()| failed("the request body was already taken".into()))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| error_of(e, authority))?;
    // The body streams to the host while the request is under way (the host buffers little).
    let written = write_body(&outgoing, body);
    let finished = OutgoingBody::finish(outgoing, None);
    let response = loop {
        match future.get() {
            Some(r) => break r,
            None => future.subscribe().block(),
        }
    };
    // A refused or failed request says why in the response; a body error matters only if not.
    let response = response.map_err(|()| failed("the response was already taken".into()))?.map_err(|e| error_of(e, authority))?;
    written.map_err(failed)?;
    finished.map_err(|e| error_of(e, authority))?;
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response.consume().map_err(|()| failed("the response body was already taken".into()))?;
    let body = read_body(&incoming).map_err(failed)?;
    let _ = IncomingBody::finish(incoming);
    Ok(Response { status, headers, body })
}

fn write_body(outgoing: &OutgoingBody, body: &[u8]) -> Result<(), String> {
    let stream = outgoing.write().map_err(|()| "the request body stream was already taken".to_string())?;
    // 4096 bytes: the most one `blocking-write-and-flush` takes.
    for chunk in body.chunks(4096) {
        stream.blocking_write_and_flush(chunk).map_err(|e| format!("writing the request body: {}", stream_error(e)))?;
    }
    Ok(())
}

fn read_body(incoming: &IncomingBody) -> Result<Vec<u8>, String> {
    let stream = incoming.stream().map_err(|()| "the response body stream was already taken".to_string())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(e) => return Err(format!("reading the response body: {}", stream_error(e))),
        }
    }
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "closed".into(),
        StreamError::LastOperationFailed(e) => e.to_debug_string(),
    }
}

fn error_of(e: ErrorCode, authority: &str) -> HttpError {
    match e {
        ErrorCode::HttpRequestDenied => HttpError::Denied { authority: authority.to_string() },
        other => HttpError::Failed { authority: authority.to_string(), message: format!("{other:?}") },
    }
}

fn method_of(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_string()),
    }
}

/// `http(s)://AUTHORITY/PATH?QUERY` → (scheme, authority, path with query; `/` if none).
fn split_url(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let invalid = |why: &str| HttpError::InvalidUrl { url: url.to_string(), why: why.to_string() };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme (http:// or https://)"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(invalid("the scheme is not http or https")),
    };
    let at = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(at);
    if authority.is_empty() {
        return Err(invalid("no host"));
    }
    let path = match path {
        "" => "/",
        p if p.starts_with('?') => return Err(invalid("a query needs a path before it")),
        p => p,
    };
    Ok((scheme, authority, path))
}

#[cfg(test)]
mod tests {
    use super::{HttpError, split_url};

    #[test]
    fn urls_split_into_authority_and_path() {
        let (_, authority, path) = split_url("http://127.0.0.1:8080/ingest?x=1").expect("valid");
        assert_eq!((authority, path), ("127.0.0.1:8080", "/ingest?x=1"));
        let (_, authority, path) = split_url("https://api.example.com").expect("valid");
        assert_eq!((authority, path), ("api.example.com", "/"));
        for bad in ["127.0.0.1/x", "ftp://host/", "http:///path", "http://host?x"] {
            assert!(matches!(split_url(bad), Err(HttpError::InvalidUrl { .. })), "{bad}");
        }
    }
}

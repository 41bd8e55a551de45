//! Outbound HTTP for plugins: the `wasi:http/outgoing-handler` import, served by the worker's
//! own client (wasmtime-wasi-http: hyper, and rustls with the webpki roots for `https`), for
//! the hosts the plugin's config grants in `wasm.allowed.http.hosts` and no others. A request
//! to any other host fails in the guest with `HTTP-request-denied`, and the worker logs which
//! host was refused. Guests call it through `sluice_guest::http`.
//!
//! Timeouts: a guest that sets none gets [`DEFAULT_TIMEOUT`] for connecting, for the first
//! byte and between bytes, so that a silent server cannot hold a task's call forever (the
//! call's epoch deadline does not run while the host waits on the network).

use std::time::Duration;

use http_body_util::BodyExt;
use sluice_sdk::{ConnectError, ConnectResult};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::sandbox::ALLOWED_HTTP_HOSTS;

/// Connect, first-byte and between-bytes timeout of a request whose guest set none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One entry of `wasm.allowed.http.hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Any,
    Host(String),
    HostPort(String, u16),
}

/// The hosts a plugin may send HTTP requests to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrant {
    allowed: Vec<Allowed>,
}

impl HttpGrant {
    /// Reads the entries of `wasm.allowed.http.hosts`: `*`, `HOST` (any port) or `HOST:PORT`
    /// (an IPv6 address in brackets when it has a port: `[::1]:8080`). Hosts compare without
    /// regard to case.
    pub fn parse(entries: &[String]) -> ConnectResult<HttpGrant> {
        let mut allowed = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            allowed.push(parse_entry(entry).map_err(|why| ConnectError::config(ALLOWED_HTTP_HOSTS, format!("{entry:?} {why}")))?);
        }
        Ok(HttpGrant { allowed })
    }

    /// Whether a request to `host` (lower case, IPv6 without brackets) on `port` is granted.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.allowed.iter().any(|a| match a {
            Allowed::Any => true,
            Allowed::Host(h) => h == host,
            Allowed::HostPort(h, p) => h == host && *p == port,
        })
    }
}

fn parse_entry(entry: &str) -> Result<Allowed, String> {
    if entry == "*" {
        return Ok(Allowed::Any);
    }
    if entry.contains('/') || entry.contains('@') || entry.contains('?') {
        return Err("is not a host: give HOST or HOST:PORT (no scheme, user or path)".into());
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("has an unclosed '['")?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or("has text after ']' that is not :PORT")?)),
        }
    } else {
        match entry.split_once(':') {
            // More than one ':' without brackets: a bare IPv6 address.
            Some((_, rest)) if rest.contains(':') => (entry, None),
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        }
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let host = host.to_ascii_lowercase();
    match port {
        None => Ok(Allowed::Host(host)),
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).map(|p| Allowed::HostPort(host, p)).ok_or_else(|| format!("has a port that is not 1-65535: {p:?}")),
    }
}

/// The store's `wasi:http` hooks: requests go out only to granted hosts.
pub(crate) struct GrantedHttp {
    pub(crate) grant: HttpGrant,
    /// The instance's log tag (`connector/task` or the transform alias).
    pub(crate) tag: String,
}

type ResponseFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>), HttpError>> + Send>;

impl WasiHttpHooks for GrantedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let _ = fut;
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
        if !self.grant.allows(&host, port) {
            tracing::warn!(plugin = %self.tag, host = %host, port, "WASM plugin's HTTP request denied: the host is not granted in {ALLOWED_HTTP_HOSTS}");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let options = RequestOptions {
            connect_timeout: options.and_then(|o| o.connect_timeout).or(Some(DEFAULT_TIMEOUT)),
            first_byte_timeout: options.and_then(|o| o.first_byte_timeout).or(Some(DEFAULT_TIMEOUT)),
            between_bytes_timeout: options.and_then(|o| o.between_bytes_timeout).or(Some(DEFAULT_TIMEOUT)),
        };
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::HttpGrant;

    fn grant(entries: &[&str]) -> HttpGrant {
        HttpGrant::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).expect("valid grant")
    }

    #[test]
    fn a_grant_allows_only_its_hosts_and_ports() {
        let g = grant(&["api.example.com", "127.0.0.1:8080", "[::1]:9000", "Mixed.Case"]);
        assert!(g.allows("api.example.com", 443));
        assert!(g.allows("api.example.com", 80));
        assert!(g.allows("127.0.0.1", 8080));
        assert!(!g.allows("127.0.0.1", 8081));
        assert!(g.allows("::1", 9000));
        assert!(g.allows("mixed.case", 80));
        assert!(!g.allows("example.com", 443));
        assert!(!g.allows("evil.api.example.com", 443));
        assert!(!HttpGrant::default().allows("127.0.0.1", 80), "nothing is granted by default");
        assert!(grant(&["*"]).allows("anything", 1));
        assert!(grant(&["fe80::1"]).allows("fe80::1", 80), "a bare IPv6 address, any port");
    }

    #[test]
    fn a_bad_entry_is_a_config_error_naming_the_key() {
        for bad in ["http://example.com", "example.com/path", "host:0", "host:99999", "host:x", ":80", "[::1", "[::1]x", "user@host"] {
            let err = HttpGrant::parse(&[bad.to_string()]).expect_err(bad).to_string();
            assert!(err.contains("wasm.allowed.http.hosts"), "{bad}: {err}");
        }
        assert_eq!(HttpGrant::parse(&["".into(), " ".into()]).expect("blank entries are skipped"), HttpGrant::default());
    }
}

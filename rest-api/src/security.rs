//! Optional authentication (HTTP basic from a credentials file, bearer tokens from a token file)
//! and CORS (`access.control.allow.origin`, `access.control.allow.methods`). Credentials are
//! never logged; a failed login answers 401 with Connect's error body.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::RestError;

/// Errors reading the security settings.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} line {line}: expected `user: password`")]
    BadLine { path: String, line: usize },
    #[error("invalid value for {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Who may call the API, and from which origins.
#[derive(Default)]
pub struct RestSecurity {
    /// user → password; `None`: basic auth off.
    basic: Option<HashMap<String, String>>,
    /// Accepted bearer tokens; `None`: bearer auth off.
    bearer: Option<HashSet<String>>,
    cors_origin: Option<HeaderValue>,
    cors_methods: Vec<Method>,
}

impl std::fmt::Debug for RestSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestSecurity")
            .field("basic_users", &self.basic.as_ref().map(|m| m.len()))
            .field("bearer_tokens", &self.bearer.as_ref().map(|s| s.len()))
            .field("cors_origin", &self.cors_origin)
            .finish()
    }
}

fn read(path: &str) -> Result<String, SecurityError> {
    std::fs::read_to_string(path).map_err(|source| SecurityError::Read { path: path.to_string(), source })
}

impl RestSecurity {
    /// Loads the settings. `basic_file`: lines `user: password` (Jetty/Kafka's
    /// PropertyFileLoginModule format; anything after a comma in the password is a role list
    /// and ignored; `#` comments). `bearer_file`: one token per line.
    pub fn load(basic_file: Option<&str>, bearer_file: Option<&str>, cors_origin: &str, cors_methods: &str) -> Result<RestSecurity, SecurityError> {
        let mut sec = RestSecurity::default();
        if let Some(path) = basic_file {
            let mut users = HashMap::new();
            for (i, line) in read(path)?.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (user, rest) = line.split_once([':', '=']).ok_or(SecurityError::BadLine { path: path.to_string(), line: i + 1 })?;
                let password = rest.split(',').next().unwrap_or("").trim();
                users.insert(user.trim().to_string(), password.to_string());
            }
            sec.basic = Some(users);
        }
        if let Some(path) = bearer_file {
            sec.bearer = Some(read(path)?.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect());
        }
        if !cors_origin.is_empty() {
            sec.cors_origin =
                Some(HeaderValue::from_str(cors_origin).map_err(|e| SecurityError::Invalid { key: "access.control.allow.origin", message: e.to_string() })?);
            let methods = if cors_methods.is_empty() { "GET,POST,HEAD" } else { cors_methods };
            sec.cors_methods = methods
                .split(',')
                .map(|m| m.trim().parse::<Method>().map_err(|e| SecurityError::Invalid { key: "access.control.allow.methods", message: e.to_string() }))
                .collect::<Result<_, _>>()?;
        }
        Ok(sec)
    }

    fn auth_enabled(&self) -> bool {
        self.basic.is_some() || self.bearer.is_some()
    }

    fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else { return false };
        if let (Some(users), Some(encoded)) = (&self.basic, value.strip_prefix("Basic ")) {
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok();
            let text = decoded.as_deref().and_then(|d| std::str::from_utf8(d).ok());
            if let Some((user, password)) = text.and_then(|t| t.split_once(':')) {
                return users.get(user).is_some_and(|p| constant_time_eq(p.as_bytes(), password.as_bytes()));
            }
        }
        if let (Some(tokens), Some(token)) = (&self.bearer, value.strip_prefix("Bearer ")) {
            return tokens.iter().any(|t| constant_time_eq(t.as_bytes(), token.trim().as_bytes()));
        }
        false
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authenticate(security: Arc<RestSecurity>, request: Request, next: Next) -> Response {
    // CORS preflights carry no credentials.
    if request.method() == Method::OPTIONS || !security.auth_enabled() {
        return next.run(request).await;
    }
    let auth = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if security.allows(auth) {
        return next.run(request).await;
    }
    let mut r = RestError::new(StatusCode::UNAUTHORIZED, "Credentials are required to access this resource").into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sluice\""));
    r
}

/// Wraps the router with authentication and CORS as configured.
pub fn apply(router: axum::Router, security: Arc<RestSecurity>) -> axum::Router {
    let cors = security.cors_origin.clone().map(|origin| {
        tower_http::cors::CorsLayer::new().allow_origin(origin).allow_methods(security.cors_methods.clone()).allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
        ])
    });
    let sec = security.clone();
    let router = router.layer(axum::middleware::from_fn(move |req: Request, next: Next| authenticate(sec.clone(), req, next)));
    match cors {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer() {
        let dir = std::env::temp_dir().join(format!("sluice-sec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("users"), "# users\nadmin: s3cret, admin\nbob=pw\n").unwrap();
        std::fs::write(dir.join("tokens"), "tok-1\n").unwrap();
        let s = RestSecurity::load(Some(dir.join("users").to_str().unwrap()), Some(dir.join("tokens").to_str().unwrap()), "", "").unwrap();
        let basic = |u: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(u));
        assert!(s.allows(Some(&basic("admin:s3cret"))));
        assert!(s.allows(Some(&basic("bob:pw"))));
        assert!(!s.allows(Some(&basic("admin:wrong"))));
        assert!(s.allows(Some("Bearer tok-1")));
        assert!(!s.allows(Some("Bearer tok-2")));
        assert!(!s.allows(None));
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}

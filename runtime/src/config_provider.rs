//! Config providers (KIP-297): `${provider:[path:]key}` references in worker and connector
//! configs, resolved when a config is used, never stored resolved.
//!
//! - `env` (Kafka's `EnvVarConfigProvider`): `${env:VAR}`.
//! - `file` (Kafka's `FileConfigProvider`): `${file:/path/to/file.properties:key}`.
//!
//! Both are available under these names without configuration; `config.providers=NAME` with
//! `config.providers.NAME.class=<Kafka's class name>` adds more names for the same providers, so
//! Kafka worker configs work unchanged. A reference to an unknown provider is left as it is
//! (Kafka's behaviour); a missing variable, file or key is an error naming the config key.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use sluice_sdk::{ConnectError, ConnectResult, Props};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProviderKind {
    Env,
    File,
}

/// The providers known to a worker.
#[derive(Debug, Clone)]
pub struct ConfigProviders {
    providers: HashMap<String, ProviderKind>,
}

impl Default for ConfigProviders {
    fn default() -> Self {
        ConfigProviders { providers: HashMap::from([("env".into(), ProviderKind::Env), ("file".into(), ProviderKind::File)]) }
    }
}

fn reference() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").expect("static regex"))
}

impl ConfigProviders {
    /// The default providers plus those named by `config.providers` in a worker config.
    pub fn from_worker_props(props: &Props) -> ConnectResult<ConfigProviders> {
        let mut providers = ConfigProviders::default();
        let names = props.get("config.providers").map(|s| sluice_sdk::config::parse_list(s)).unwrap_or_default();
        for name in names {
            let key = format!("config.providers.{name}.class");
            let class = props.get(&key).ok_or_else(|| ConnectError::config(&key, format!("config provider '{name}' has no class")))?;
            let kind = match class.rsplit('.').next().unwrap_or_default() {
                "EnvVarConfigProvider" => ProviderKind::Env,
                "FileConfigProvider" => ProviderKind::File,
                other => {
                    return Err(ConnectError::config(
                        &key,
                        format!("unsupported config provider class '{other}'; supported: EnvVarConfigProvider, FileConfigProvider"),
                    ));
                }
            };
            providers.providers.insert(name, kind);
        }
        Ok(providers)
    }

    /// A copy of `props` with every reference resolved.
    pub fn resolve(&self, props: &Props) -> ConnectResult<Props> {
        let mut file_cache: HashMap<String, Props> = HashMap::new();
        let mut out = Props::new();
        for (key, value) in props {
            let mut error = None;
            let resolved = reference().replace_all(value, |caps: &regex::Captures<'_>| {
                let whole = caps[0].to_string();
                let Some(kind) = self.providers.get(&caps[1]) else { return whole };
                let path = caps.get(2).map(|m| m.as_str());
                let var = &caps[3];
                let found = match kind {
                    ProviderKind::Env => std::env::var(var).map_err(|_| format!("environment variable {var} is not set")),
                    ProviderKind::File => match path {
                        None => Err(format!("{whole} names no file: use ${{{}:/path/file.properties:key}}", &caps[1])),
                        Some(path) => {
                            if !file_cache.contains_key(path) {
                                match std::fs::read_to_string(path) {
                                    Ok(text) => {
                                        file_cache.insert(path.to_string(), crate::properties::parse(&text));
                                    }
                                    Err(e) => {
                                        error.get_or_insert(format!("cannot read {path}: {e}"));
                                        return whole;
                                    }
                                }
                            }
                            file_cache[path].get(var).cloned().ok_or_else(|| format!("key {var} not found in {path}"))
                        }
                    },
                };
                found.unwrap_or_else(|e| {
                    error.get_or_insert(e);
                    whole
                })
            });
            if let Some(e) = error {
                return Err(ConnectError::config(key, format!("cannot resolve config reference: {e}")));
            }
            out.insert(key.clone(), resolved.into_owned());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_env_and_file() {
        let dir = std::env::temp_dir().join(format!("sluice-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("secrets.properties");
        std::fs::write(&f, "db.password=hunter2\n").unwrap();
        // SAFETY: test-only; no other thread of this test reads this variable.
        unsafe { std::env::set_var("SLUICE_CP_TEST", "from-env") };
        let mut p = Props::new();
        p.insert("a".into(), "${env:SLUICE_CP_TEST}".into());
        p.insert("b".into(), format!("x-${{file:{}:db.password}}-y", f.display()));
        p.insert("c".into(), "${vault:secret/x:y}".into());
        let r = ConfigProviders::default().resolve(&p).unwrap();
        assert_eq!(r["a"], "from-env");
        assert_eq!(r["b"], "x-hunter2-y");
        assert_eq!(r["c"], "${vault:secret/x:y}");

        p.insert("d".into(), "${env:SLUICE_CP_TEST_MISSING}".into());
        let err = ConfigProviders::default().resolve(&p).unwrap_err();
        assert!(matches!(&err, ConnectError::Config { field, .. } if field == "d"), "{err}");
    }

    #[test]
    fn named_providers_from_worker_config() {
        let mut w = Props::new();
        w.insert("config.providers".into(), "secrets".into());
        w.insert("config.providers.secrets.class".into(), "org.apache.kafka.common.config.provider.EnvVarConfigProvider".into());
        let cp = ConfigProviders::from_worker_props(&w).unwrap();
        unsafe { std::env::set_var("SLUICE_CP_TEST2", "v") };
        let mut p = Props::new();
        p.insert("a".into(), "${secrets:SLUICE_CP_TEST2}".into());
        assert_eq!(cp.resolve(&p).unwrap()["a"], "v");
        w.insert("config.providers.secrets.class".into(), "com.example.Nope".into());
        assert!(ConfigProviders::from_worker_props(&w).is_err());
    }
}

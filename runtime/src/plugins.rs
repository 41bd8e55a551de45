//! The plugin registry: every connector and converter a worker can instantiate, found by
//! Connect's rules — the full class name, the simple class name, or the simple name without
//! its `Connector`/`Converter` suffix (`org.apache.kafka.connect.file.FileStreamSourceConnector`,
//! `FileStreamSourceConnector`, `FileStreamSource`).
//!
//! Built-ins are static; WASM plugins are added at worker start from `plugin.path`
//! ([`Plugins::with_wasm_plugins`]), and files that are not valid plugins are kept in
//! [`Plugins::invalid`] with the reason.

use std::path::PathBuf;
use std::sync::Arc;

use sluice_sdk::{Converter, SinkConnector, SinkRecord, SinkTask, SourceConnector, SourceRecord, SourceTask, Transform};

use crate::converters::{ByteArrayConverter, JsonConverter, StringConverter};

/// What kind of plugin, named as `GET /connector-plugins` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginType {
    Source,
    Sink,
    Converter,
    Transformation,
    Predicate,
}

impl PluginType {
    pub fn connect_name(self) -> &'static str {
        match self {
            PluginType::Source => "source",
            PluginType::Sink => "sink",
            PluginType::Converter => "converter",
            PluginType::Transformation => "transformation",
            PluginType::Predicate => "predicate",
        }
    }
}

/// A plugin's name, type and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDesc {
    pub class: String,
    pub plugin_type: PluginType,
    pub version: String,
}

impl PluginDesc {
    /// The names this plugin answers to.
    pub fn aliases(&self) -> Vec<String> {
        let simple = self.class.rsplit(['.', '$']).next().unwrap_or(&self.class).to_string();
        let mut names = vec![self.class.clone(), simple.clone()];
        for suffix in ["Connector", "Converter"] {
            if let Some(short) = simple.strip_suffix(suffix)
                && !short.is_empty()
            {
                names.push(short.to_string());
            }
        }
        names
    }
}

/// Builds a new instance each call (a built-in's constructor, or a closure over a WASM plugin).
pub type Factory<T> = Arc<dyn Fn() -> Box<T> + Send + Sync>;

fn factory<T: ?Sized>(f: impl Fn() -> Box<T> + Send + Sync + 'static) -> Factory<T> {
    Arc::new(f)
}

/// How to build a connector and its tasks.
#[derive(Clone)]
pub enum ConnectorFactory {
    Source { connector: Factory<dyn SourceConnector>, task: Factory<dyn SourceTask> },
    Sink { connector: Factory<dyn SinkConnector>, task: Factory<dyn SinkTask> },
}

/// A transform plugin, for source and for sink connectors (`transforms.X.type`).
#[derive(Clone)]
pub struct TransformPlugin {
    pub desc: PluginDesc,
    pub source: Factory<dyn Transform<SourceRecord>>,
    pub sink: Factory<dyn Transform<SinkRecord>>,
}

/// A predicate plugin (`predicates.X.type`).
#[derive(Clone)]
pub struct PredicatePlugin {
    pub desc: PluginDesc,
    pub source: Factory<dyn sluice_sdk::Predicate<SourceRecord>>,
    pub sink: Factory<dyn sluice_sdk::Predicate<SinkRecord>>,
}

/// A file in `plugin.path` that could not be loaded as a plugin.
#[derive(Debug, Clone)]
pub struct InvalidPlugin {
    pub path: PathBuf,
    pub reason: String,
}

/// A connector plugin.
#[derive(Clone)]
pub struct ConnectorPlugin {
    pub desc: PluginDesc,
    pub factory: ConnectorFactory,
}

/// A converter plugin.
#[derive(Clone)]
pub struct ConverterPlugin {
    pub desc: PluginDesc,
    pub factory: fn() -> Box<dyn Converter>,
}

/// Errors finding a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("Failed to find any class that implements Connector and which name matches {name}, available connectors are: {available}")]
    UnknownConnector { name: String, available: String },
    #[error("Failed to find any class that implements Converter and which name matches {name}, available converters are: {available}")]
    UnknownConverter { name: String, available: String },
}

/// All plugins of a worker.
#[derive(Clone)]
pub struct Plugins {
    connectors: Vec<ConnectorPlugin>,
    converters: Vec<ConverterPlugin>,
    transforms: Vec<TransformPlugin>,
    predicates: Vec<PredicatePlugin>,
    invalid: Vec<InvalidPlugin>,
}

fn desc(class: &str, plugin_type: PluginType, version: String) -> PluginDesc {
    PluginDesc { class: class.to_string(), plugin_type, version }
}

impl Plugins {
    /// The built-in plugins.
    pub fn builtin() -> Plugins {
        use sluice_connector_datagen::{CLASS as DATAGEN, DatagenConnector, DatagenTask};
        use sluice_connector_file::{
            FileStreamSinkConnector, FileStreamSinkTask, FileStreamSourceConnector, FileStreamSourceTask, SINK_CLASS, SOURCE_CLASS,
            VERSION as FILE_VERSION,
        };
        let runtime_version = env!("CARGO_PKG_VERSION").to_string();
        let connectors = vec![
            ConnectorPlugin {
                desc: desc(SOURCE_CLASS, PluginType::Source, FILE_VERSION.into()),
                factory: ConnectorFactory::Source {
                    connector: factory::<dyn SourceConnector>(|| Box::new(FileStreamSourceConnector::default())),
                    task: factory::<dyn SourceTask>(|| Box::new(FileStreamSourceTask::default())),
                },
            },
            ConnectorPlugin {
                desc: desc(SINK_CLASS, PluginType::Sink, FILE_VERSION.into()),
                factory: ConnectorFactory::Sink {
                    connector: factory::<dyn SinkConnector>(|| Box::new(FileStreamSinkConnector::default())),
                    task: factory::<dyn SinkTask>(|| Box::new(FileStreamSinkTask::default())),
                },
            },
            ConnectorPlugin {
                desc: desc(DATAGEN, PluginType::Source, runtime_version.clone()),
                factory: ConnectorFactory::Source {
                    connector: factory::<dyn SourceConnector>(|| Box::new(DatagenConnector::default())),
                    task: factory::<dyn SourceTask>(|| Box::new(DatagenTask::default())),
                },
            },
        ];
        let converters = vec![
            ConverterPlugin {
                desc: desc("org.apache.kafka.connect.json.JsonConverter", PluginType::Converter, runtime_version.clone()),
                factory: || Box::new(JsonConverter::default()),
            },
            ConverterPlugin {
                desc: desc("org.apache.kafka.connect.storage.StringConverter", PluginType::Converter, runtime_version.clone()),
                factory: || Box::new(StringConverter),
            },
            ConverterPlugin {
                desc: desc("org.apache.kafka.connect.converters.ByteArrayConverter", PluginType::Converter, runtime_version),
                factory: || Box::new(ByteArrayConverter),
            },
        ];
        Plugins { connectors, converters, transforms: Vec::new(), predicates: Vec::new(), invalid: Vec::new() }
    }

    /// Adds the WASM plugins found under `paths` (the worker's `plugin.path`): every `*.wasm`
    /// becomes a connector, transform or predicate under the name it declares; files that fail
    /// to load are kept in [`Plugins::invalid`] (and logged) with the reason.
    pub fn with_wasm_plugins(mut self, paths: &[PathBuf]) -> Plugins {
        use sluice_wasm_plugins::{Discovered, PluginKind, WasmConnector, WasmPredicate, WasmSinkTask, WasmSourceTask, WasmTransform};
        for found in sluice_wasm_plugins::discover(paths) {
            let p = match found {
                Discovered::Plugin(p) => p,
                Discovered::Invalid { path, reason } => {
                    self.invalid.push(InvalidPlugin { path, reason });
                    continue;
                }
            };
            let kind = match p.kind {
                PluginKind::Source => PluginType::Source,
                PluginKind::Sink => PluginType::Sink,
                PluginKind::Transform => PluginType::Transformation,
                PluginKind::Predicate => PluginType::Predicate,
            };
            let d = desc(&p.name, kind, p.version.clone());
            let taken = match kind {
                PluginType::Source | PluginType::Sink => self.connector(&p.name).is_ok(),
                PluginType::Transformation => self.transforms.iter().any(|t| t.desc.class == p.name),
                _ => self.predicates.iter().any(|t| t.desc.class == p.name),
            };
            if taken {
                let reason = format!("a plugin named {} is already registered", p.name);
                tracing::warn!(path = %p.path.display(), %reason, "WASM plugin ignored");
                self.invalid.push(InvalidPlugin { path: p.path.clone(), reason });
                continue;
            }
            let (a, b) = (p.clone(), p.clone());
            match kind {
                PluginType::Source => self.connectors.push(ConnectorPlugin {
                    desc: d,
                    factory: ConnectorFactory::Source {
                        connector: factory::<dyn SourceConnector>(move || Box::new(WasmConnector::new(a.clone()))),
                        task: factory::<dyn SourceTask>(move || Box::new(WasmSourceTask::new(b.clone()))),
                    },
                }),
                PluginType::Sink => self.connectors.push(ConnectorPlugin {
                    desc: d,
                    factory: ConnectorFactory::Sink {
                        connector: factory::<dyn SinkConnector>(move || Box::new(WasmConnector::new(a.clone()))),
                        task: factory::<dyn SinkTask>(move || Box::new(WasmSinkTask::new(b.clone()))),
                    },
                }),
                PluginType::Transformation => self.transforms.push(TransformPlugin {
                    desc: d,
                    source: factory::<dyn Transform<SourceRecord>>(move || Box::new(WasmTransform::<SourceRecord>::new(a.clone()))),
                    sink: factory::<dyn Transform<SinkRecord>>(move || Box::new(WasmTransform::<SinkRecord>::new(b.clone()))),
                }),
                _ => self.predicates.push(PredicatePlugin {
                    desc: d,
                    source: factory::<dyn sluice_sdk::Predicate<SourceRecord>>(move || Box::new(WasmPredicate::<SourceRecord>::new(a.clone()))),
                    sink: factory::<dyn sluice_sdk::Predicate<SinkRecord>>(move || Box::new(WasmPredicate::<SinkRecord>::new(b.clone()))),
                }),
            }
        }
        self
    }

    /// Files in `plugin.path` that are not valid plugins, with the reason.
    pub fn invalid(&self) -> &[InvalidPlugin] {
        &self.invalid
    }

    pub fn transforms(&self) -> &[TransformPlugin] {
        &self.transforms
    }

    pub fn predicates(&self) -> &[PredicatePlugin] {
        &self.predicates
    }

    /// The transform plugin called `name` (any alias).
    pub fn transform(&self, name: &str) -> Option<&TransformPlugin> {
        self.transforms.iter().find(|p| p.desc.aliases().iter().any(|a| a == name))
    }

    pub fn connectors(&self) -> &[ConnectorPlugin] {
        &self.connectors
    }

    pub fn converters(&self) -> &[ConverterPlugin] {
        &self.converters
    }

    /// The connector plugin called `name` (any alias).
    pub fn connector(&self, name: &str) -> Result<&ConnectorPlugin, PluginError> {
        self.connectors.iter().find(|p| p.desc.aliases().iter().any(|a| a == name)).ok_or_else(|| PluginError::UnknownConnector {
            name: name.to_string(),
            available: self.connectors.iter().map(|p| p.desc.class.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// A new converter called `name` (any alias).
    pub fn converter(&self, name: &str) -> Result<Box<dyn Converter>, PluginError> {
        self.converters.iter().find(|p| p.desc.aliases().iter().any(|a| a == name)).map(|p| (p.factory)()).ok_or_else(|| {
            PluginError::UnknownConverter {
                name: name.to_string(),
                available: self.converters.iter().map(|p| p.desc.class.as_str()).collect::<Vec<_>>().join(", "),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_every_alias() {
        let p = Plugins::builtin();
        for name in ["org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSourceConnector", "FileStreamSource"] {
            assert_eq!(p.connector(name).unwrap().desc.class, "org.apache.kafka.connect.file.FileStreamSourceConnector");
        }
        assert!(p.connector("Datagen").is_ok());
        assert!(p.converter("JsonConverter").is_ok());
        assert!(p.converter("org.apache.kafka.connect.storage.StringConverter").is_ok());
        let err = p.connector("com.example.Missing").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("com.example.Missing") && err.contains("FileStreamSinkConnector") && err.contains("DatagenConnector"), "{err}");
    }
}

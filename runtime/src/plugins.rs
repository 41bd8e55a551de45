//! The plugin registry: every connector and converter a worker can instantiate, found by
//! Connect's rules — the full class name, the simple class name, or the simple name without
//! its `Connector`/`Converter` suffix (`org.apache.kafka.connect.file.FileStreamSourceConnector`,
//! `FileStreamSourceConnector`, `FileStreamSource`).

use sluice_sdk::{Converter, SinkConnector, SinkTask, SourceConnector, SourceTask};
pub use sluice_transforms::{PredicatePlugin, TransformPlugin};

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
pub type Factory<T> = std::sync::Arc<dyn Fn() -> Box<T> + Send + Sync>;

fn factory<T: ?Sized>(f: impl Fn() -> Box<T> + Send + Sync + 'static) -> Factory<T> {
    std::sync::Arc::new(f)
}

/// How to build a connector and its tasks.
#[derive(Clone)]
pub enum ConnectorFactory {
    Source { connector: Factory<dyn SourceConnector>, task: Factory<dyn SourceTask> },
    Sink { connector: Factory<dyn SinkConnector>, task: Factory<dyn SinkTask> },
}

/// A file in `plugin.path` that could not be loaded as a plugin.
#[derive(Debug, Clone)]
pub struct InvalidPlugin {
    pub path: std::path::PathBuf,
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
    #[error("Class {name} could not be found. Available transformations are: {available}")]
    UnknownTransformation { name: String, available: String },
    #[error("Class {name} could not be found. Available predicates are: {available}")]
    UnknownPredicate { name: String, available: String },
}

/// All plugins of a worker.
#[derive(Clone)]
pub struct Plugins {
    connectors: Vec<ConnectorPlugin>,
    converters: Vec<ConverterPlugin>,
    transformations: Vec<TransformPlugin>,
    predicates: Vec<PredicatePlugin>,
    invalid: Vec<InvalidPlugin>,
}

fn desc(class: &str, plugin_type: PluginType, version: String) -> PluginDesc {
    PluginDesc { class: class.to_string(), plugin_type, version }
}

impl Plugins {
    /// The built-in plugins.
    pub fn builtin() -> Plugins {
        use sluice_connector_clickhouse::{CLASS as CLICKHOUSE, ClickHouseSinkConnector, ClickHouseSinkTask, VERSION as CLICKHOUSE_VERSION};
        use sluice_connector_datagen::{CLASS as DATAGEN, DatagenConnector, DatagenTask};
        use sluice_connector_file::{
            FileStreamSinkConnector, FileStreamSinkTask, FileStreamSourceConnector, FileStreamSourceTask, SINK_CLASS, SOURCE_CLASS, VERSION as FILE_VERSION,
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
                desc: desc(sluice_connector_s3::CLASS, PluginType::Sink, sluice_connector_s3::VERSION.into()),
                factory: ConnectorFactory::Sink {
                    connector: factory::<dyn SinkConnector>(|| Box::new(sluice_connector_s3::S3SinkConnector::default())),
                    task: factory::<dyn SinkTask>(|| Box::new(sluice_connector_s3::S3SinkTask::default())),
                },
            },
            ConnectorPlugin {
                desc: desc(DATAGEN, PluginType::Source, runtime_version.clone()),
                factory: ConnectorFactory::Source {
                    connector: factory::<dyn SourceConnector>(|| Box::new(DatagenConnector::default())),
                    task: factory::<dyn SourceTask>(|| Box::new(DatagenTask::default())),
                },
            },
            ConnectorPlugin {
                desc: desc(sluice_connector_postgres::CLASS, PluginType::Source, sluice_connector_postgres::VERSION.into()),
                factory: ConnectorFactory::Source {
                    connector: factory::<dyn SourceConnector>(|| Box::new(sluice_connector_postgres::PostgresConnector::default())),
                    task: factory::<dyn SourceTask>(|| Box::new(sluice_connector_postgres::PostgresSourceTask::default())),
                },
            },
            ConnectorPlugin {
                desc: desc(CLICKHOUSE, PluginType::Sink, CLICKHOUSE_VERSION.into()),
                factory: ConnectorFactory::Sink {
                    connector: factory::<dyn SinkConnector>(|| Box::new(ClickHouseSinkConnector::default())),
                    task: factory::<dyn SinkTask>(|| Box::new(ClickHouseSinkTask::default())),
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
                desc: desc("org.apache.kafka.connect.converters.ByteArrayConverter", PluginType::Converter, runtime_version.clone()),
                factory: || Box::new(ByteArrayConverter),
            },
            ConverterPlugin {
                desc: desc(sluice_schema_registry::converter::CLASS, PluginType::Converter, runtime_version),
                factory: || Box::new(sluice_schema_registry::AvroConverter::default()),
            },
        ];
        let transformations = sluice_transforms::transformations();
        let predicates = sluice_transforms::predicates();
        Plugins { connectors, converters, transformations, predicates, invalid: Vec::new() }
    }

    /// Adds the WASM plugins found under `paths` (the worker's `plugin.path`): every `*.wasm`
    /// becomes a connector, transform or predicate under the name it declares; files that fail
    /// to load are kept in [`Plugins::invalid`] (and logged) with the reason.
    pub fn with_wasm_plugins(mut self, paths: &[std::path::PathBuf]) -> Plugins {
        use sluice_sdk::{Predicate, SinkRecord, SourceRecord, Transform};
        use sluice_wasm_plugins::{Discovered, PluginKind, WasmConnector, WasmPredicate, WasmSinkTask, WasmSourceTask, WasmTransform};
        for found in sluice_wasm_plugins::discover(paths) {
            let p = match found {
                Discovered::Plugin(p) => p,
                Discovered::Invalid { path, reason } => {
                    self.invalid.push(InvalidPlugin { path, reason });
                    continue;
                }
            };
            let taken = match p.kind {
                PluginKind::Source | PluginKind::Sink => self.connector(&p.name).is_ok(),
                PluginKind::Transform => self.transformation(&p.name).is_ok(),
                PluginKind::Predicate => self.predicate(&p.name).is_ok(),
            };
            if taken {
                let reason = format!("a plugin named {} is already registered", p.name);
                tracing::warn!(path = %p.path.display(), %reason, "WASM plugin ignored");
                self.invalid.push(InvalidPlugin { path: p.path.clone(), reason });
                continue;
            }
            let (a, b) = (p.clone(), p.clone());
            match p.kind {
                PluginKind::Source => self.connectors.push(ConnectorPlugin {
                    desc: desc(&p.name, PluginType::Source, p.version.clone()),
                    factory: ConnectorFactory::Source {
                        connector: factory::<dyn SourceConnector>(move || Box::new(WasmConnector::new(a.clone()))),
                        task: factory::<dyn SourceTask>(move || Box::new(WasmSourceTask::new(b.clone()))),
                    },
                }),
                PluginKind::Sink => self.connectors.push(ConnectorPlugin {
                    desc: desc(&p.name, PluginType::Sink, p.version.clone()),
                    factory: ConnectorFactory::Sink {
                        connector: factory::<dyn SinkConnector>(move || Box::new(WasmConnector::new(a.clone()))),
                        task: factory::<dyn SinkTask>(move || Box::new(WasmSinkTask::new(b.clone()))),
                    },
                }),
                // Plugin names live as long as the worker: loaded once at start.
                PluginKind::Transform => self.transformations.push(TransformPlugin {
                    class: Box::leak(p.name.clone().into_boxed_str()),
                    source: std::sync::Arc::new(move || Box::new(WasmTransform::<SourceRecord>::new(a.clone())) as Box<dyn Transform<SourceRecord>>),
                    sink: std::sync::Arc::new(move || Box::new(WasmTransform::<SinkRecord>::new(b.clone())) as Box<dyn Transform<SinkRecord>>),
                }),
                PluginKind::Predicate => self.predicates.push(PredicatePlugin {
                    class: Box::leak(p.name.clone().into_boxed_str()),
                    source: std::sync::Arc::new(move || Box::new(WasmPredicate::<SourceRecord>::new(a.clone())) as Box<dyn Predicate<SourceRecord>>),
                    sink: std::sync::Arc::new(move || Box::new(WasmPredicate::<SinkRecord>::new(b.clone())) as Box<dyn Predicate<SinkRecord>>),
                }),
            }
        }
        self
    }

    /// The built-ins plus the WASM plugins under the worker's `plugin.path`.
    pub fn for_worker(config: &crate::worker_config::WorkerConfig) -> Plugins {
        let paths: Vec<std::path::PathBuf> =
            config.get(crate::worker_config::PLUGIN_PATH).iter().map(|p| p.trim()).filter(|p| !p.is_empty()).map(std::path::PathBuf::from).collect();
        let plugins = Plugins::builtin();
        let plugins = if config.get(crate::worker_config::TEST_PLUGINS_ENABLE) { plugins.with_test_plugins() } else { plugins };
        plugins.with_wasm_plugins(&paths)
    }

    /// Adds the test-only plugins (`TestSinkConnector`), which a worker offers only with
    /// `sluice.test.plugins.enable=true`.
    pub fn with_test_plugins(mut self) -> Plugins {
        self.connectors.push(ConnectorPlugin {
            desc: desc(sluice_connector_testkit::CLASS, PluginType::Sink, sluice_connector_testkit::VERSION.into()),
            factory: ConnectorFactory::Sink {
                connector: factory::<dyn SinkConnector>(|| Box::new(sluice_connector_testkit::TestSinkConnector::default())),
                task: factory::<dyn SinkTask>(|| Box::new(sluice_connector_testkit::TestSinkTask::default())),
            },
        });
        self
    }

    /// Files in `plugin.path` that are not valid plugins, with the reason.
    pub fn invalid(&self) -> &[InvalidPlugin] {
        &self.invalid
    }

    pub fn connectors(&self) -> &[ConnectorPlugin] {
        &self.connectors
    }

    pub fn converters(&self) -> &[ConverterPlugin] {
        &self.converters
    }

    pub fn transformations(&self) -> &[TransformPlugin] {
        &self.transformations
    }

    pub fn predicates(&self) -> &[PredicatePlugin] {
        &self.predicates
    }

    /// Name, type and version of every transformation and predicate (for `/connector-plugins`).
    pub fn transform_descs(&self) -> Vec<PluginDesc> {
        let version = env!("CARGO_PKG_VERSION").to_string();
        let t = self.transformations.iter().map(|p| desc(p.class, PluginType::Transformation, version.clone()));
        let p = self.predicates.iter().map(|p| desc(p.class, PluginType::Predicate, version.clone()));
        t.chain(p).collect()
    }

    /// The transformation called `name` (its class name, or the name after the package).
    pub fn transformation(&self, name: &str) -> Result<&TransformPlugin, PluginError> {
        self.transformations.iter().find(|p| sluice_transforms::aliases(p.class).iter().any(|a| a == name)).ok_or_else(|| PluginError::UnknownTransformation {
            name: name.to_string(),
            available: self.transformations.iter().map(|p| p.class).collect::<Vec<_>>().join(", "),
        })
    }

    /// The predicate called `name` (its class name, or the name after the package).
    pub fn predicate(&self, name: &str) -> Result<&PredicatePlugin, PluginError> {
        self.predicates.iter().find(|p| sluice_transforms::aliases(p.class).iter().any(|a| a == name)).ok_or_else(|| PluginError::UnknownPredicate {
            name: name.to_string(),
            available: self.predicates.iter().map(|p| p.class).collect::<Vec<_>>().join(", "),
        })
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
        self.converters.iter().find(|p| p.desc.aliases().iter().any(|a| a == name)).map(|p| (p.factory)()).ok_or_else(|| PluginError::UnknownConverter {
            name: name.to_string(),
            available: self.converters.iter().map(|p| p.desc.class.as_str()).collect::<Vec<_>>().join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_sink_is_offered_only_when_asked_for() {
        let class = sluice_connector_testkit::CLASS;
        assert!(Plugins::builtin().connector(class).is_err());
        assert!(Plugins::builtin().with_test_plugins().connector(class).is_ok());
        let worker = |extra: &[(&str, &str)]| {
            let mut props: sluice_sdk::Props =
                [("offset.storage.file.filename", "/tmp/o")].iter().chain(extra).map(|(k, v)| (k.to_string(), v.to_string())).collect();
            props.insert("bootstrap.servers".into(), "127.0.0.1:9092".into());
            crate::worker_config::WorkerConfig::from_props(props, crate::worker_config::Mode::Standalone).expect("worker config")
        };
        assert!(Plugins::for_worker(&worker(&[])).connector(class).is_err());
        assert!(Plugins::for_worker(&worker(&[("sluice.test.plugins.enable", "true")])).connector(class).is_ok());
    }

    #[test]
    fn finds_by_every_alias() {
        let p = Plugins::builtin();
        for name in ["io.confluent.connect.s3.S3SinkConnector", "S3SinkConnector", "S3Sink"] {
            assert_eq!(p.connector(name).unwrap().desc.class, "io.confluent.connect.s3.S3SinkConnector");
        }
        for name in ["org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSourceConnector", "FileStreamSource"] {
            assert_eq!(p.connector(name).unwrap().desc.class, "org.apache.kafka.connect.file.FileStreamSourceConnector");
        }
        assert!(p.connector("Datagen").is_ok());
        for name in ["io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector", "Postgres"] {
            assert_eq!(p.connector(name).unwrap().desc.class, sluice_connector_postgres::CLASS);
        }
        for name in ["com.clickhouse.kafka.connect.ClickHouseSinkConnector", "ClickHouseSinkConnector", "ClickHouseSink"] {
            assert_eq!(p.connector(name).unwrap().desc.class, "com.clickhouse.kafka.connect.ClickHouseSinkConnector");
        }
        assert!(p.converter("JsonConverter").is_ok());
        assert!(p.converter("org.apache.kafka.connect.storage.StringConverter").is_ok());
        assert!(p.converter("io.confluent.connect.avro.AvroConverter").is_ok() && p.converter("AvroConverter").is_ok());
        let err = p.connector("com.example.Missing").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("com.example.Missing") && err.contains("FileStreamSinkConnector") && err.contains("DatagenConnector"), "{err}");
    }

    #[test]
    fn finds_transforms_and_predicates_by_class_and_short_name() {
        let p = Plugins::builtin();
        for name in ["org.apache.kafka.connect.transforms.InsertField$Value", "InsertField$Value"] {
            assert_eq!(p.transformation(name).map(|t| t.class).ok(), Some("org.apache.kafka.connect.transforms.InsertField$Value"));
        }
        assert!(p.transformation("io.debezium.transforms.ExtractNewRecordState").is_ok());
        assert!(p.predicate("TopicNameMatches").is_ok());
        assert!(p.transformation("Nope").is_err());
        assert!(p.transform_descs().iter().any(|d| d.plugin_type == PluginType::Predicate));
    }
}

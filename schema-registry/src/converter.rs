//! `io.confluent.connect.avro.AvroConverter`: Connect data ↔ Confluent's Avro wire format
//! (magic byte 0, the schema id as 4 bytes big-endian, the Avro binary datum).
//!
//! Settings (Confluent's names): `schema.registry.url` (comma-separated; tried in turn),
//! `auto.register.schemas` (default true), `use.latest.version` (write with the subject's
//! latest schema instead of registering; needs `auto.register.schemas=false`),
//! `key.subject.name.strategy` / `value.subject.name.strategy` (`TopicNameStrategy` — the
//! default, `RecordNameStrategy`, `TopicRecordNameStrategy`, by simple or full Confluent class
//! name), `basic.auth.credentials.source` (`URL` or `USER_INFO`) with `basic.auth.user.info`,
//! and `max.schemas.per.subject` (cache size).
//!
//! Caching: a Connect schema is translated and registered once per topic — the result is kept
//! by the schema's `Arc` address (the cache holds the `Arc`, so the address is not reused) and by
//! the Avro text; a schema id read from a message is fetched once. So steady traffic costs no
//! registry call; see [`crate::client`] for how a call on a cache miss is made without
//! stalling the async runtime.
//!
//! Errors: an incompatible or rejected schema is a `Data` error carrying the registry's
//! message (the task fails, or `errors.tolerance=all` skips the record); an unreachable
//! registry is `Retriable`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apache_avro::Schema as Avro;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use sluice_sdk::{ConfigDef, ConnectError, ConnectResult, Converter, Importance, Props, SchemaRef, Validator, Value, config_keys};

use crate::avro_data::{self, Names};
use crate::client::{ClientConfig, ClientError, RegistryClient};

pub const CLASS: &str = "io.confluent.connect.avro.AvroConverter";

config_keys! {
    /// Every key of the AvroConverter (Confluent's names).
    fn config_def();
    SCHEMA_REGISTRY_URL: List = "schema.registry.url" => importance(Importance::High)
        .doc("Comma-separated list of URLs for Schema Registry instances that can be used to register or look up schemas.");
    AUTO_REGISTER_SCHEMAS: Boolean = "auto.register.schemas" => default("true")
        .importance(Importance::Medium)
        .doc("Specify if the Serializer should attempt to register the Schema with Schema Registry.");
    USE_LATEST_VERSION: Boolean = "use.latest.version" => default("false")
        .importance(Importance::Low)
        .doc("Specify if the Serializer should use the latest subject version for serialization.");
    KEY_SUBJECT_NAME_STRATEGY: Class = "key.subject.name.strategy" => default("io.confluent.kafka.serializers.subject.TopicNameStrategy")
        .importance(Importance::Medium)
        .doc("Determines how to construct the subject name under which the key schema is registered.");
    VALUE_SUBJECT_NAME_STRATEGY: Class = "value.subject.name.strategy" => default("io.confluent.kafka.serializers.subject.TopicNameStrategy")
        .importance(Importance::Medium)
        .doc("Determines how to construct the subject name under which the value schema is registered.");
    BASIC_AUTH_CREDENTIALS_SOURCE: String = "basic.auth.credentials.source" => default("URL")
        .importance(Importance::Medium)
        .validator(Validator::one_of(&["URL", "USER_INFO", "SASL_INHERIT"]))
        .doc("Specify how to pick the credentials for the Basic Auth header.");
    BASIC_AUTH_USER_INFO: Password = "basic.auth.user.info" => default("")
        .importance(Importance::Medium)
        .doc("Specify the user info for the Basic Auth in the form of {username}:{password}.");
    MAX_SCHEMAS_PER_SUBJECT: Int = "max.schemas.per.subject" => default("1000")
        .importance(Importance::Low)
        .validator(Validator::at_least(1.0))
        .doc("Maximum number of schemas to create or cache locally.");
    REQUEST_TIMEOUT_MS: Int = "schema.registry.request.timeout.ms" => default("30000")
        .importance(Importance::Low)
        .validator(Validator::at_least(1.0))
        .doc("Timeout of one request to the registry.");
}

/// How the subject of a schema is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    TopicName,
    RecordName,
    TopicRecordName,
}

impl SubjectNameStrategy {
    fn parse(s: &str) -> Option<SubjectNameStrategy> {
        match s.rsplit('.').next().unwrap_or(s) {
            "TopicNameStrategy" => Some(SubjectNameStrategy::TopicName),
            "RecordNameStrategy" => Some(SubjectNameStrategy::RecordName),
            "TopicRecordNameStrategy" => Some(SubjectNameStrategy::TopicRecordName),
            _ => None,
        }
    }

    /// The subject for `topic` and an Avro schema.
    pub fn subject(self, topic: &str, is_key: bool, avro: &Avro) -> String {
        let record = || avro.name().map(|n| n.fullname(None)).unwrap_or_else(|| format!("{:?}", apache_avro::schema::SchemaKind::from(avro)).to_lowercase());
        match self {
            SubjectNameStrategy::TopicName => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            SubjectNameStrategy::RecordName => record(),
            SubjectNameStrategy::TopicRecordName => format!("{topic}-{}", record()),
        }
    }
}

/// What writing with one Connect schema to one topic needs.
struct WriteSchema {
    id: i32,
    avro: Avro,
    names: Names,
}

/// What reading a schema id needs.
struct ReadSchema {
    avro: Avro,
    connect: SchemaRef,
}

#[derive(Default)]
struct Caches {
    /// topic → Connect schema address → (the schema, kept alive; what to write).
    by_schema: HashMap<String, HashMap<usize, (SchemaRef, Arc<WriteSchema>)>>,
    /// (subject, Avro text) → what to write.
    by_text: HashMap<(String, String), Arc<WriteSchema>>,
    /// schema id → what to read.
    by_id: HashMap<i32, Arc<ReadSchema>>,
}

pub struct AvroConverter {
    is_key: bool,
    auto_register: bool,
    use_latest: bool,
    strategy: SubjectNameStrategy,
    cache_size: usize,
    client: Option<Arc<RegistryClient>>,
    cache: Mutex<Caches>,
}

impl Default for AvroConverter {
    fn default() -> Self {
        AvroConverter {
            is_key: false,
            auto_register: true,
            use_latest: false,
            strategy: SubjectNameStrategy::TopicName,
            cache_size: 1000,
            client: None,
            cache: Mutex::new(Caches::default()),
        }
    }
}

fn registry_error(what: &str, e: ClientError) -> ConnectError {
    match e {
        ClientError::Unavailable(m) => ConnectError::retriable(format!("{what}: schema registry unavailable: {m}")),
        ClientError::Registry { code, message } => ConnectError::data(format!("{what}: {message}; error code: {code}")),
    }
}

impl AvroConverter {
    fn client(&self) -> ConnectResult<&RegistryClient> {
        self.client.as_deref().ok_or_else(|| ConnectError::config(SCHEMA_REGISTRY_URL, "the converter is not configured"))
    }

    fn caches(&self) -> ConnectResult<std::sync::MutexGuard<'_, Caches>> {
        self.cache.lock().map_err(|_| ConnectError::fatal("AvroConverter cache lock poisoned"))
    }

    /// The schema id and Avro schema to write `schema` to `topic` with (cached).
    fn write_schema(&self, topic: &str, schema: &SchemaRef) -> ConnectResult<Arc<WriteSchema>> {
        let address = Arc::as_ptr(schema) as usize;
        if let Some((_, w)) = self.caches()?.by_schema.get(topic).and_then(|m| m.get(&address)) {
            return Ok(w.clone());
        }
        let avro_json = avro_data::to_avro_schema(schema);
        let text = avro_json.to_string();
        let avro = Avro::parse(&avro_json).map_err(|e| ConnectError::data(format!("cannot build an Avro schema: {e}")))?;
        let subject = self.strategy.subject(topic, self.is_key, &avro);
        let cached = self.caches()?.by_text.get(&(subject.clone(), text.clone())).cloned();
        let write = match cached {
            Some(w) => w,
            None => {
                let what = format!("Failed to serialize Avro data for subject '{subject}'");
                let client = self.client()?;
                let w = if self.auto_register {
                    let id = client.register(&subject, &text).map_err(|e| registry_error(&what, e))?;
                    WriteSchema { id, names: Names::of(&avro), avro }
                } else if self.use_latest {
                    let (id, latest) = client.latest(&subject).map_err(|e| registry_error(&what, e))?;
                    let avro = Avro::parse_str(&latest).map_err(|e| ConnectError::data(format!("{what}: the latest schema does not parse: {e}")))?;
                    WriteSchema { id, names: Names::of(&avro), avro }
                } else {
                    let id = client.lookup(&subject, &text).map_err(|e| registry_error(&what, e))?;
                    WriteSchema { id, names: Names::of(&avro), avro }
                };
                let w = Arc::new(w);
                let mut caches = self.caches()?;
                if caches.by_text.len() >= self.cache_size {
                    caches.by_text.clear();
                }
                caches.by_text.insert((subject, text), w.clone());
                w
            }
        };
        let mut caches = self.caches()?;
        let per_topic = caches.by_schema.entry(topic.to_string()).or_default();
        if per_topic.len() >= self.cache_size {
            per_topic.clear();
        }
        per_topic.insert(address, (schema.clone(), write.clone()));
        Ok(write)
    }

    /// The schema behind `id` (cached).
    fn read_schema(&self, id: i32) -> ConnectResult<Arc<ReadSchema>> {
        if let Some(r) = self.caches()?.by_id.get(&id) {
            return Ok(r.clone());
        }
        let what = format!("Failed to deserialize Avro data for schema id {id}");
        let text = self.client()?.schema_by_id(id).map_err(|e| registry_error(&what, e))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| ConnectError::data(format!("{what}: {e}")))?;
        let avro = Avro::parse(&json).map_err(|e| ConnectError::data(format!("{what}: {e}")))?;
        let connect = avro_data::to_connect_schema(&json).map_err(|e| ConnectError::data(format!("{what}: {e}")))?;
        let r = Arc::new(ReadSchema { avro, connect });
        let mut caches = self.caches()?;
        if caches.by_id.len() >= self.cache_size {
            caches.by_id.clear();
        }
        caches.by_id.insert(id, r.clone());
        Ok(r)
    }
}

impl Converter for AvroConverter {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn configure(&mut self, props: &Props, is_key: bool) -> ConnectResult<()> {
        let cfg = self.config_def().parse(props)?;
        self.is_key = is_key;
        self.auto_register = cfg.value(AUTO_REGISTER_SCHEMAS)?;
        self.use_latest = cfg.value(USE_LATEST_VERSION)?;
        self.cache_size = cfg.value(MAX_SCHEMAS_PER_SUBJECT)? as usize;
        let strategy_key = if is_key { KEY_SUBJECT_NAME_STRATEGY } else { VALUE_SUBJECT_NAME_STRATEGY };
        let strategy = cfg.value(strategy_key)?;
        self.strategy =
            SubjectNameStrategy::parse(&strategy).ok_or_else(|| ConnectError::config(strategy_key, format!("unknown subject name strategy '{strategy}'")))?;
        let urls = cfg.value(SCHEMA_REGISTRY_URL)?;
        let user_info = match cfg.value(BASIC_AUTH_CREDENTIALS_SOURCE)?.as_str() {
            "USER_INFO" => {
                // Confluent's clients also take the key with the `schema.registry.` prefix, and prefer it.
                let prefixed = format!("schema.registry.{BASIC_AUTH_USER_INFO}");
                let info = props.get(&prefixed).cloned().unwrap_or(cfg.value(BASIC_AUTH_USER_INFO)?.value().to_string());
                Some(info).filter(|i| !i.is_empty())
            }
            _ => None,
        };
        let timeout = Duration::from_millis(cfg.value(REQUEST_TIMEOUT_MS)? as u64);
        let client = RegistryClient::new(ClientConfig { urls, user_info, timeout: Some(timeout) })
            .map_err(|e| ConnectError::config(SCHEMA_REGISTRY_URL, e.to_string()))?;
        self.client = Some(client);
        Ok(())
    }

    fn from_connect(&self, topic: &str, schema: Option<&SchemaRef>, value: &Value) -> ConnectResult<Option<Vec<u8>>> {
        let Some(schema) = schema else {
            return if value.is_null() { Ok(None) } else { Err(ConnectError::data("AvroConverter cannot write a value without a schema")) };
        };
        if value.is_null() && schema.optional {
            return Ok(None);
        }
        let w = self.write_schema(topic, schema)?;
        let avro_value = avro_data::to_avro_value(&w.avro, &w.names, value)
            .map_err(|e| ConnectError::data(format!("Failed to serialize Avro data from topic {topic}: {e}")))?;
        let mut out = Vec::with_capacity(64);
        out.push(0u8);
        out.extend_from_slice(&w.id.to_be_bytes());
        GenericDatumWriter::builder(&w.avro)
            .validate(false)
            .build()
            .and_then(|writer| writer.write_value_ref(&mut out, &avro_value))
            .map_err(|e| ConnectError::data(format!("Failed to serialize Avro data from topic {topic}: {e}")))?;
        Ok(Some(out))
    }

    fn to_connect(&self, topic: &str, bytes: Option<&[u8]>) -> ConnectResult<(Option<SchemaRef>, Value)> {
        let Some(bytes) = bytes else { return Ok((None, Value::Null)) };
        let what = || format!("Failed to deserialize data for topic {topic} to Avro");
        if bytes.len() < 5 || bytes[0] != 0 {
            return Err(ConnectError::data(format!("{}: Unknown magic byte!", what())));
        }
        let id = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let r = self.read_schema(id)?;
        let mut rest = &bytes[5..];
        let avro_value = GenericDatumReader::builder(&r.avro)
            .build()
            .and_then(|reader| reader.read_value(&mut rest))
            .map_err(|e| ConnectError::data(format!("{}: {e}", what())))?;
        let value = avro_data::to_connect_value(&r.connect, avro_value).map_err(|e| ConnectError::data(format!("{}: {e}", what())))?;
        Ok((Some(r.connect.clone()), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_name_strategies() {
        let avro = Avro::parse_str(r#"{"type":"record","name":"Order","namespace":"shop","fields":[]}"#).unwrap();
        assert_eq!(SubjectNameStrategy::TopicName.subject("t", false, &avro), "t-value");
        assert_eq!(SubjectNameStrategy::TopicName.subject("t", true, &avro), "t-key");
        assert_eq!(SubjectNameStrategy::RecordName.subject("t", false, &avro), "shop.Order");
        assert_eq!(SubjectNameStrategy::TopicRecordName.subject("t", false, &avro), "t-shop.Order");
        assert_eq!(SubjectNameStrategy::parse("io.confluent.kafka.serializers.subject.RecordNameStrategy"), Some(SubjectNameStrategy::RecordName));
        assert_eq!(SubjectNameStrategy::TopicRecordName.subject("t", false, &Avro::String), "t-string");
    }

    #[test]
    fn configure_needs_a_url_and_a_known_strategy() {
        let mut c = AvroConverter::default();
        let err = c.configure(&Props::new(), false).unwrap_err();
        assert!(matches!(&err, ConnectError::Config { field, .. } if field == "schema.registry.url"), "{err}");
        let props: Props = [("schema.registry.url", "http://127.0.0.1:1"), ("value.subject.name.strategy", "Nope")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(c.configure(&props, false).is_err());
        let bad = c.to_connect("t", Some(&[1, 0, 0, 0, 1])).unwrap_err();
        assert!(bad.to_string().contains("Unknown magic byte"), "{bad}");
    }
}

//! Kafka Connect's single message transforms (`org.apache.kafka.connect.transforms.*`), its
//! predicates (`...transforms.predicates.*`) and Debezium's `ExtractNewRecordState`, with the
//! same class names, config keys, semantics and error messages, so that existing connector
//! configs carry over unchanged.
//!
//! Every transform is written once against [`sluice_sdk::ConnectRecord`] and so serves source
//! records (applied before conversion) and sink records (applied after conversion). Transforms
//! that Connect offers for keys and values exist as `$Key` and `$Value` variants. They accept
//! both schema'd data (a `Struct` with a struct schema) and schemaless data (a map with string
//! keys, as the JsonConverter reads with `schemas.enable=false`); a null value (tombstone)
//! passes through untouched unless stated otherwise.
//!
//! The runtime finds plugins through [`transformations`] and [`predicates`]; it applies
//! `transforms.X.predicate` / `transforms.X.negate` itself (a transform never sees its
//! predicate). Errors on a record are `ConnectError::Data`, which the runtime handles per
//! `errors.tolerance`.
//!
//! Limits: `TimestampConverter` and `TimestampRouter` know the common `SimpleDateFormat`
//! letters (`yyyy yy MM dd HH hh mm ss SSS a`) in UTC, not the whole Java syntax; Cast does
//! not cast to or from `bytes`/Decimal.

mod cast;
mod extract_field;
mod extract_new_record_state;
mod filter;
mod flatten;
mod headers;
mod hoist_field;
mod insert_field;
mod mask_field;
mod predicates;
mod replace_field;
mod routers;
mod set_schema_metadata;
mod time_format;
mod timestamp_converter;
mod util;
mod value_to_key;

use sluice_sdk::{ConfigDef, ConnectRecord, ConnectResult, ParsedConfig, Predicate, Props, SinkRecord, SourceRecord, Transform};

pub use util::Side;

/// A transform written once for every record type; the runtime sees it through [`Adapter`].
pub trait Smt: Send + Sync + 'static {
    fn config_def(&self) -> ConfigDef;
    /// Takes the parsed config (errors name the transform's own key, e.g. `regex`).
    fn configure(&mut self, config: &ParsedConfig) -> ConnectResult<()>;
    fn apply<R: ConnectRecord>(&self, record: R) -> ConnectResult<Option<R>>;
}

/// A predicate written once for every record type.
pub trait Condition: Send + Sync + 'static {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, config: &ParsedConfig) -> ConnectResult<()>;
    fn test<R: ConnectRecord>(&self, record: &R) -> bool;
}

/// Implements the SPI's [`Transform`] and [`Predicate`] for an [`Smt`] / [`Condition`].
pub struct Adapter<T>(pub T);

impl<T: Smt, R: ConnectRecord> Transform<R> for Adapter<T> {
    fn config_def(&self) -> ConfigDef {
        self.0.config_def()
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let cfg = self.0.config_def().parse(props)?;
        self.0.configure(&cfg)
    }
    fn apply(&self, record: R) -> ConnectResult<Option<R>> {
        self.0.apply(record)
    }
}

impl<T: Condition, R: ConnectRecord> Predicate<R> for Adapter<T> {
    fn config_def(&self) -> ConfigDef {
        self.0.config_def()
    }
    fn configure(&mut self, props: &Props) -> ConnectResult<()> {
        let cfg = self.0.config_def().parse(props)?;
        self.0.configure(&cfg)
    }
    fn test(&self, record: &R) -> bool {
        self.0.test(record)
    }
}

/// Builds a new instance each call (a built-in's constructor, or a closure over a WASM plugin).
pub type Factory<T> = std::sync::Arc<dyn Fn() -> Box<T> + Send + Sync>;

/// A transform plugin: its class name and constructors for source and sink records.
#[derive(Clone)]
pub struct TransformPlugin {
    pub class: &'static str,
    pub source: Factory<dyn Transform<SourceRecord>>,
    pub sink: Factory<dyn Transform<SinkRecord>>,
}

/// A predicate plugin.
#[derive(Clone)]
pub struct PredicatePlugin {
    pub class: &'static str,
    pub source: Factory<dyn Predicate<SourceRecord>>,
    pub sink: Factory<dyn Predicate<SinkRecord>>,
}

macro_rules! transform {
    ($class:expr, $ctor:expr) => {
        TransformPlugin {
            class: $class,
            source: std::sync::Arc::new(|| Box::new(Adapter($ctor)) as Box<dyn Transform<SourceRecord>>),
            sink: std::sync::Arc::new(|| Box::new(Adapter($ctor)) as Box<dyn Transform<SinkRecord>>),
        }
    };
}

macro_rules! keyed {
    ($out:ident, $base:literal, $ty:ident) => {
        $out.push(transform!(concat!($base, "$Key"), $ty::new(Side::Key)));
        $out.push(transform!(concat!($base, "$Value"), $ty::new(Side::Value)));
    };
}

/// Every built-in transform, by Connect class name.
#[allow(clippy::vec_init_then_push)]
pub fn transformations() -> Vec<TransformPlugin> {
    use cast::Cast;
    use extract_field::ExtractField;
    use flatten::Flatten;
    use hoist_field::HoistField;
    use insert_field::InsertField;
    use mask_field::MaskField;
    use replace_field::ReplaceField;
    use set_schema_metadata::SetSchemaMetadata;
    use timestamp_converter::TimestampConverter;
    let mut out = Vec::new();
    keyed!(out, "org.apache.kafka.connect.transforms.Cast", Cast);
    keyed!(out, "org.apache.kafka.connect.transforms.ExtractField", ExtractField);
    keyed!(out, "org.apache.kafka.connect.transforms.Flatten", Flatten);
    keyed!(out, "org.apache.kafka.connect.transforms.HoistField", HoistField);
    keyed!(out, "org.apache.kafka.connect.transforms.InsertField", InsertField);
    keyed!(out, "org.apache.kafka.connect.transforms.MaskField", MaskField);
    keyed!(out, "org.apache.kafka.connect.transforms.ReplaceField", ReplaceField);
    keyed!(out, "org.apache.kafka.connect.transforms.SetSchemaMetadata", SetSchemaMetadata);
    keyed!(out, "org.apache.kafka.connect.transforms.TimestampConverter", TimestampConverter);
    out.push(transform!("org.apache.kafka.connect.transforms.ValueToKey", value_to_key::ValueToKey::default()));
    out.push(transform!("org.apache.kafka.connect.transforms.RegexRouter", routers::RegexRouter::default()));
    out.push(transform!("org.apache.kafka.connect.transforms.TimestampRouter", routers::TimestampRouter::default()));
    out.push(transform!("org.apache.kafka.connect.transforms.Filter", filter::Filter));
    out.push(transform!("org.apache.kafka.connect.transforms.InsertHeader", headers::InsertHeader::default()));
    out.push(transform!("org.apache.kafka.connect.transforms.DropHeaders", headers::DropHeaders::default()));
    out.push(transform!("org.apache.kafka.connect.transforms.HeaderFrom$Key", headers::HeaderFrom::new(Side::Key)));
    out.push(transform!("org.apache.kafka.connect.transforms.HeaderFrom$Value", headers::HeaderFrom::new(Side::Value)));
    out.push(transform!("io.debezium.transforms.ExtractNewRecordState", extract_new_record_state::ExtractNewRecordState::default()));
    out
}

/// Every built-in predicate, by Connect class name.
pub fn predicates() -> Vec<PredicatePlugin> {
    macro_rules! predicate {
        ($class:expr, $ctor:expr) => {
            PredicatePlugin {
                class: $class,
                source: std::sync::Arc::new(|| Box::new(Adapter($ctor)) as Box<dyn Predicate<SourceRecord>>),
                sink: std::sync::Arc::new(|| Box::new(Adapter($ctor)) as Box<dyn Predicate<SinkRecord>>),
            }
        };
    }
    vec![
        predicate!("org.apache.kafka.connect.transforms.predicates.TopicNameMatches", predicates::TopicNameMatches::default()),
        predicate!("org.apache.kafka.connect.transforms.predicates.HasHeaderKey", predicates::HasHeaderKey::default()),
        predicate!("org.apache.kafka.connect.transforms.predicates.RecordIsTombstone", predicates::RecordIsTombstone),
    ]
}

/// The names a transform or predicate class answers to: the full class name, the name after
/// the package (`InsertField$Value`, `ExtractNewRecordState`), and for `$Key`/`$Value`
/// variants also `InsertField.Value` (Java's canonical form).
pub fn aliases(class: &str) -> Vec<String> {
    let simple = class.rsplit('.').next().unwrap_or(class).to_string();
    let mut out = vec![class.to_string(), simple.clone()];
    if let Some((outer, inner)) = class.rsplit_once('$') {
        out.push(format!("{outer}.{inner}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plugin_is_named_like_connect() {
        let names: Vec<_> = transformations().iter().map(|p| p.class).collect();
        for n in [
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "org.apache.kafka.connect.transforms.RegexRouter",
            "io.debezium.transforms.ExtractNewRecordState",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert_eq!(transformations().len(), 27);
        assert_eq!(predicates().len(), 3);
        assert!(aliases("org.apache.kafka.connect.transforms.InsertField$Value").contains(&"InsertField$Value".to_string()));
    }
}

//! `ConfigDef`: the one declaration of a plugin's configuration, after Kafka's
//! `org.apache.kafka.common.config.ConfigDef`. It parses string properties into typed values,
//! applies defaults and validators, and produces the per-field results that
//! `PUT /connector-plugins/{plugin}/config/validate` returns and the generated plugin docs show.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::error::{ConnectError, ConnectResult};

/// Connector, task and worker configurations are string maps, as in Connect.
pub type Props = BTreeMap<String, String>;

/// The type of a config key; the names are Connect's (`STRING`, `INT`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    pub fn connect_name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    pub fn connect_name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    None,
    Short,
    Medium,
    Long,
}

impl Width {
    pub fn connect_name(self) -> &'static str {
        match self {
            Width::None => "NONE",
            Width::Short => "SHORT",
            Width::Medium => "MEDIUM",
            Width::Long => "LONG",
        }
    }
}

/// A password: never printed. `Debug` and `Display` show `[hidden]`, as Connect's `Password`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Password {
        Password(s.into())
    }
    /// The secret itself; call only where it is used, never to log.
    pub fn value(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// A parsed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Boolean(bool),
    String(String),
    Int(i32),
    Short(i16),
    Long(i64),
    Double(f64),
    List(Vec<String>),
    Class(String),
    Password(Password),
}

/// A check on a parsed value; returns the message Connect would put after
/// "Invalid value X for configuration Y: ".
#[derive(Clone)]
pub enum Validator {
    /// Inclusive bounds for numbers.
    Range { min: Option<f64>, max: Option<f64> },
    /// One of these strings (case-sensitive unless `ignore_case`).
    ValidString { allowed: Vec<String>, ignore_case: bool },
    /// A string that is not empty after trimming.
    NonEmptyString,
    /// Any check of the plugin's own.
    Custom(Arc<dyn Fn(&ConfigValue) -> Result<(), String> + Send + Sync>),
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Range { min, max } => write!(f, "Range({min:?}, {max:?})"),
            Validator::ValidString { allowed, .. } => write!(f, "ValidString({allowed:?})"),
            Validator::NonEmptyString => f.write_str("NonEmptyString"),
            Validator::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Validator {
    pub fn at_least(min: f64) -> Validator {
        Validator::Range { min: Some(min), max: None }
    }

    pub fn between(min: f64, max: f64) -> Validator {
        Validator::Range { min: Some(min), max: Some(max) }
    }

    pub fn one_of(allowed: &[&str]) -> Validator {
        Validator::ValidString { allowed: allowed.iter().map(|s| s.to_string()).collect(), ignore_case: false }
    }

    pub fn one_of_ignore_case(allowed: &[&str]) -> Validator {
        Validator::ValidString { allowed: allowed.iter().map(|s| s.to_string()).collect(), ignore_case: true }
    }

    fn check(&self, value: &ConfigValue) -> Result<(), String> {
        match self {
            Validator::Range { min, max } => {
                let n = match value {
                    ConfigValue::Int(v) => *v as f64,
                    ConfigValue::Short(v) => *v as f64,
                    ConfigValue::Long(v) => *v as f64,
                    ConfigValue::Double(v) => *v,
                    _ => return Ok(()),
                };
                if let Some(min) = min
                    && n < *min
                {
                    return Err(format!("Value must be at least {}", fmt_num(*min)));
                }
                if let Some(max) = max
                    && n > *max
                {
                    return Err(format!("Value must be no more than {}", fmt_num(*max)));
                }
                Ok(())
            }
            Validator::ValidString { allowed, ignore_case } => {
                let s = match value {
                    ConfigValue::String(s) | ConfigValue::Class(s) => s,
                    _ => return Ok(()),
                };
                let ok = allowed.iter().any(|a| if *ignore_case { a.eq_ignore_ascii_case(s) } else { a == s });
                if ok { Ok(()) } else { Err(format!("String must be one of: {}", allowed.join(", "))) }
            }
            Validator::NonEmptyString => match value {
                ConfigValue::String(s) if s.trim().is_empty() => Err("String may not be empty".into()),
                _ => Ok(()),
            },
            Validator::Custom(f) => f(value),
        }
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

/// One key of a [`ConfigDef`]. Build with [`ConfigKey::new`] and the chained setters.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub config_type: ConfigType,
    /// The default as a string, parsed like a supplied value. `None`: the key is required.
    pub default_value: Option<String>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order_in_group: i32,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub validators: Vec<Validator>,
    pub recommended_values: Vec<String>,
}

impl ConfigKey {
    pub fn new(name: impl Into<String>, config_type: ConfigType) -> ConfigKey {
        let name = name.into();
        ConfigKey {
            display_name: name.clone(),
            name,
            config_type,
            default_value: None,
            importance: Importance::Medium,
            documentation: String::new(),
            group: None,
            order_in_group: -1,
            width: Width::None,
            dependents: Vec::new(),
            validators: Vec::new(),
            recommended_values: Vec::new(),
        }
    }

    pub fn default(mut self, value: impl Into<String>) -> ConfigKey {
        self.default_value = Some(value.into());
        self
    }
    pub fn importance(mut self, importance: Importance) -> ConfigKey {
        self.importance = importance;
        self
    }
    pub fn doc(mut self, doc: impl Into<String>) -> ConfigKey {
        self.documentation = doc.into();
        self
    }
    pub fn group(mut self, group: impl Into<String>, order: i32) -> ConfigKey {
        self.group = Some(group.into());
        self.order_in_group = order;
        self
    }
    pub fn width(mut self, width: Width) -> ConfigKey {
        self.width = width;
        self
    }
    pub fn display_name(mut self, name: impl Into<String>) -> ConfigKey {
        self.display_name = name.into();
        self
    }
    pub fn dependents(mut self, dependents: &[&str]) -> ConfigKey {
        self.dependents = dependents.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn validator(mut self, validator: Validator) -> ConfigKey {
        if let Validator::ValidString { allowed, .. } = &validator
            && self.recommended_values.is_empty()
        {
            self.recommended_values = allowed.clone();
        }
        self.validators.push(validator);
        self
    }

    /// Whether the key has no default and so must be supplied.
    pub fn required(&self) -> bool {
        self.default_value.is_none()
    }

    /// Parses a supplied string as this key's type, then applies the validators.
    pub fn parse(&self, raw: &str) -> Result<ConfigValue, String> {
        let trimmed = raw.trim();
        let value = match self.config_type {
            ConfigType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" => ConfigValue::Boolean(true),
                "false" => ConfigValue::Boolean(false),
                _ => return Err(format!("Invalid value {trimmed} for configuration {}: Expected value to be either true or false", self.name)),
            },
            ConfigType::Int => ConfigValue::Int(parse_num(trimmed, &self.name, "INT")?),
            ConfigType::Short => ConfigValue::Short(parse_num(trimmed, &self.name, "SHORT")?),
            ConfigType::Long => ConfigValue::Long(parse_num(trimmed, &self.name, "LONG")?),
            ConfigType::Double => ConfigValue::Double(parse_num(trimmed, &self.name, "DOUBLE")?),
            ConfigType::String => ConfigValue::String(trimmed.to_string()),
            ConfigType::Class => ConfigValue::Class(trimmed.to_string()),
            ConfigType::Password => ConfigValue::Password(Password::new(raw)),
            ConfigType::List => ConfigValue::List(parse_list(trimmed)),
        };
        for v in &self.validators {
            v.check(&value).map_err(|m| {
                let shown = if self.config_type == ConfigType::Password { "[hidden]" } else { trimmed };
                format!("Invalid value {shown} for configuration {}: {m}", self.name)
            })?;
        }
        Ok(value)
    }
}

fn parse_num<T: std::str::FromStr>(s: &str, name: &str, ty: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("Invalid value {s} for configuration {name}: Not a number of type {ty}"))
}

/// Splits a Connect LIST value: comma-separated, trimmed, empty input is the empty list.
pub fn parse_list(s: &str) -> Vec<String> {
    if s.trim().is_empty() {
        return Vec::new();
    }
    s.split(',').map(|p| p.trim().to_string()).collect()
}

/// The per-field outcome of validation (the `value` object of Connect's validate response).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValueInfo {
    pub name: String,
    /// The supplied (or default) value; passwords as `[hidden]`.
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// A set of config keys.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
    index: HashMap<String, usize>,
}

impl ConfigDef {
    pub fn new() -> ConfigDef {
        ConfigDef::default()
    }

    /// Adds a key (a later definition of the same name replaces the earlier one).
    pub fn define(mut self, key: ConfigKey) -> ConfigDef {
        match self.index.get(&key.name) {
            Some(&i) => self.keys[i] = key,
            None => {
                self.index.insert(key.name.clone(), self.keys.len());
                self.keys.push(key);
            }
        }
        self
    }

    /// Adds every key of `other`.
    pub fn merge(mut self, other: &ConfigDef) -> ConfigDef {
        for k in &other.keys {
            self = self.define(k.clone());
        }
        self
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.index.get(name).map(|&i| &self.keys[i])
    }

    /// Validates every defined key against `props`, in definition order.
    pub fn validate(&self, props: &Props) -> Vec<ConfigValueInfo> {
        self.keys
            .iter()
            .map(|k| {
                let supplied = props.get(&k.name).or(k.default_value.as_ref());
                let mut errors = Vec::new();
                match supplied {
                    None => errors.push(format!("Missing required configuration \"{}\" which has no default value.", k.name)),
                    Some(raw) => {
                        if let Err(e) = k.parse(raw) {
                            errors.push(e);
                        }
                    }
                }
                let shown = supplied.map(|v| if k.config_type == ConfigType::Password { "[hidden]".to_string() } else { v.clone() });
                ConfigValueInfo { name: k.name.clone(), value: shown, recommended_values: k.recommended_values.clone(), errors, visible: true }
            })
            .collect()
    }

    /// Parses `props`; on failure returns the first error as a [`ConnectError::Config`] naming
    /// the field (use [`ConfigDef::validate`] to collect all of them).
    pub fn parse(&self, props: &Props) -> ConnectResult<ParsedConfig> {
        let mut values = HashMap::with_capacity(self.keys.len());
        for k in &self.keys {
            let raw = match props.get(&k.name).or(k.default_value.as_ref()) {
                Some(raw) => raw,
                None => {
                    return Err(ConnectError::config(&k.name, format!("Missing required configuration \"{}\" which has no default value.", k.name)));
                }
            };
            let v = k.parse(raw).map_err(|m| ConnectError::config(&k.name, m))?;
            values.insert(k.name.clone(), v);
        }
        Ok(ParsedConfig { values, originals: props.clone() })
    }
}

/// Typed values after [`ConfigDef::parse`], plus the original properties.
#[derive(Debug, Clone)]
pub struct ParsedConfig {
    values: HashMap<String, ConfigValue>,
    originals: Props,
}

macro_rules! typed_getter {
    ($fn_name:ident, $variant:ident, $ty:ty, $tyname:literal) => {
        #[doc = concat!("The value of a `", $tyname, "` key.")]
        pub fn $fn_name(&self, name: &str) -> ConnectResult<$ty> {
            match self.values.get(name) {
                Some(ConfigValue::$variant(v)) => Ok(v.clone()),
                _ => Err(ConnectError::config(name, concat!("not defined as ", $tyname))),
            }
        }
    };
}

impl ParsedConfig {
    typed_getter!(boolean, Boolean, bool, "BOOLEAN");
    typed_getter!(int, Int, i32, "INT");
    typed_getter!(short, Short, i16, "SHORT");
    typed_getter!(long, Long, i64, "LONG");
    typed_getter!(double, Double, f64, "DOUBLE");
    typed_getter!(list, List, Vec<String>, "LIST");
    typed_getter!(password, Password, Password, "PASSWORD");

    /// The value of a `STRING` or `CLASS` key.
    pub fn string(&self, name: &str) -> ConnectResult<String> {
        match self.values.get(name) {
            Some(ConfigValue::String(v)) | Some(ConfigValue::Class(v)) => Ok(v.clone()),
            _ => Err(ConnectError::config(name, "not defined as STRING")),
        }
    }

    pub fn get(&self, name: &str) -> Option<&ConfigValue> {
        self.values.get(name)
    }

    pub fn originals(&self) -> &Props {
        &self.originals
    }

    /// Original properties starting with `prefix`, with the prefix removed
    /// (e.g. `producer.` overrides in a worker config).
    pub fn originals_with_prefix(&self, prefix: &str) -> Props {
        strip_prefix(&self.originals, prefix)
    }
}

/// The entries of `props` whose key starts with `prefix`, with the prefix removed.
pub fn strip_prefix(props: &Props, prefix: &str) -> Props {
    props.iter().filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new("topic", ConfigType::String).importance(Importance::High).validator(Validator::NonEmptyString))
            .define(ConfigKey::new("batch.size", ConfigType::Int).default("2000").validator(Validator::at_least(1.0)))
            .define(ConfigKey::new("mode", ConfigType::String).default("a").validator(Validator::one_of(&["a", "b"])))
            .define(ConfigKey::new("secret", ConfigType::Password).default(""))
            .define(ConfigKey::new("topics", ConfigType::List).default(""))
            .define(ConfigKey::new("enabled", ConfigType::Boolean).default("true"))
    }

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_types_and_defaults() {
        let c = def().parse(&props(&[("topic", " t1 "), ("topics", "a, b,c"), ("enabled", "FALSE")])).unwrap();
        assert_eq!(c.string("topic").unwrap(), "t1");
        assert_eq!(c.int("batch.size").unwrap(), 2000);
        assert_eq!(c.list("topics").unwrap(), vec!["a", "b", "c"]);
        assert!(!c.boolean("enabled").unwrap());
        assert!(c.int("topic").is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&[(&str, &str)], &str, &str)] = &[
            (&[], "topic", "Missing required configuration \"topic\""),
            (&[("topic", "t"), ("batch.size", "x")], "batch.size", "Not a number of type INT"),
            (&[("topic", "t"), ("batch.size", "0")], "batch.size", "Value must be at least 1"),
            (&[("topic", "t"), ("mode", "c")], "mode", "String must be one of: a, b"),
            (&[("topic", "t"), ("enabled", "yes")], "enabled", "either true or false"),
        ];
        for (p, field, msg) in cases {
            match def().parse(&props(p)) {
                Err(ConnectError::Config { field: f, message }) => {
                    assert_eq!(f, *field);
                    assert!(message.contains(msg), "{message}");
                }
                other => panic!("expected a config error for {p:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn validate_reports_every_field_and_hides_passwords() {
        let res = def().validate(&props(&[("batch.size", "-1"), ("secret", "s3cr3t")]));
        let errs: Vec<_> = res.iter().filter(|v| !v.errors.is_empty()).map(|v| v.name.as_str()).collect();
        assert_eq!(errs, vec!["topic", "batch.size"]);
        let secret = res.iter().find(|v| v.name == "secret").unwrap();
        assert_eq!(secret.value.as_deref(), Some("[hidden]"));
        assert_eq!(format!("{:?}", Password::new("x")), "[hidden]");
        let mode = res.iter().find(|v| v.name == "mode").unwrap();
        assert_eq!(mode.recommended_values, vec!["a", "b"]);
    }
}

//! Typed key names, so a plugin writes each config key once: [`config_keys!`] declares, per key,
//! a [`Key`] constant (the name and its [`ConfigType`]) and the key's [`ConfigKey`] entry
//! (default, validators, importance, doc, group) in one line, and generates the plugin's
//! `ConfigDef` function from them. The typed config struct then reads the parsed values through
//! the same constants with [`ParsedConfig::value`], whose Rust type follows from the key's
//! type (a key declared `Int` reads as `i32`), so a key's name and type are never repeated.
//!
//! ```
//! use sluice_sdk::{config_keys, Importance, Props, Validator};
//! config_keys! {
//!     /// Every key of the example.
//!     pub fn config_def();
//!     pub TOPIC: String = "topic" => importance(Importance::High).validator(Validator::NonEmptyString).doc("The topic.");
//!     pub BATCH: Int = "batch.size" => default("2000").validator(Validator::at_least(1.0)).doc("Records per batch.");
//! }
//! let props: Props = [("topic".to_string(), "t".to_string())].into_iter().collect();
//! let c = config_def().parse(&props).unwrap();
//! assert_eq!(c.value(BATCH).unwrap(), 2000);
//! assert_eq!(c.value(TOPIC).unwrap(), "t");
//! ```

use std::marker::PhantomData;

use crate::config::{ConfigKey, ConfigType, ConfigValue, ParsedConfig};
use crate::error::{ConnectError, ConnectResult};

/// A [`ConfigType`] as a Rust type: what a key of that type reads as.
pub trait KeyKind {
    const TYPE: ConfigType;
    type Value;
    fn read(value: &ConfigValue) -> Option<Self::Value>;
}

/// One marker type per [`ConfigType`], named as its variants (for [`Key`] and [`config_keys!`]).
pub mod kind {
    use super::KeyKind;
    use crate::config::{ConfigType, ConfigValue};

    macro_rules! kind {
        ($name:ident, $variant:ident, $ty:ty) => {
            #[doc = concat!("`", stringify!($variant), "` keys read as `", stringify!($ty), "`.")]
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl KeyKind for $name {
                const TYPE: ConfigType = ConfigType::$variant;
                type Value = $ty;
                fn read(value: &ConfigValue) -> Option<$ty> {
                    match value {
                        ConfigValue::$variant(v) => Some(v.clone()),
                        _ => None,
                    }
                }
            }
        };
    }

    kind!(Boolean, Boolean, bool);
    kind!(String, String, std::string::String);
    kind!(Int, Int, i32);
    kind!(Short, Short, i16);
    kind!(Long, Long, i64);
    kind!(Double, Double, f64);
    kind!(List, List, Vec<std::string::String>);
    kind!(Class, Class, std::string::String);
    kind!(Password, Password, crate::config::Password);
}

/// A config key's name with its type: declared once (usually by [`config_keys!`]), used to
/// define the key ([`Key::def`]) and to read its parsed value ([`ParsedConfig::value`]).
/// Dereferences to the name, so it goes where a `&str` key name goes.
pub struct Key<K> {
    name: &'static str,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Key<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Key<K> {}

impl<K> std::fmt::Debug for Key<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl<K> std::fmt::Display for Key<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl<K: KeyKind> Key<K> {
    pub const fn new(name: &'static str) -> Key<K> {
        Key { name, kind: PhantomData }
    }

    /// A [`ConfigKey`] of this name and type, to chain the rest of the definition on.
    pub fn def(self) -> ConfigKey {
        ConfigKey::new(self.name, K::TYPE)
    }
}

impl<K> Key<K> {
    pub const fn name(self) -> &'static str {
        self.name
    }
}

impl<K> std::ops::Deref for Key<K> {
    type Target = str;
    fn deref(&self) -> &str {
        self.name
    }
}

impl<K> From<Key<K>> for String {
    fn from(key: Key<K>) -> String {
        key.name.to_string()
    }
}

impl<K> PartialEq<Key<K>> for String {
    fn eq(&self, key: &Key<K>) -> bool {
        self == key.name
    }
}

impl<K> PartialEq<Key<K>> for &str {
    fn eq(&self, key: &Key<K>) -> bool {
        *self == key.name
    }
}

impl ParsedConfig {
    /// The parsed value of `key`, typed by the key's declaration.
    pub fn value<K: KeyKind>(&self, key: Key<K>) -> ConnectResult<K::Value> {
        self.get(key.name).and_then(K::read).ok_or_else(|| ConnectError::config(key.name, format!("not defined as {}", K::TYPE.connect_name())))
    }
}

/// Declares a plugin's config keys once: a [`Key`] constant per key and a function returning the
/// `ConfigDef` of all of them, in declaration order. Each line is
/// `VIS NAME: TYPE = "key.name" => SETTER(ARGS).SETTER(ARGS)...;`, TYPE one of the
/// [`ConfigType`] variants and the setters [`ConfigKey`]'s (`default`, `importance`, `doc`,
/// `group`, `validator`, ...). See the [module docs](crate::config_keys) for an example.
#[macro_export]
macro_rules! config_keys {
    (
        $(#[$def_meta:meta])* $def_vis:vis fn $def:ident();
        $( $(#[$key_meta:meta])* $key_vis:vis $key:ident : $kind:ident = $name:literal => $( $setter:ident ( $($arg:expr),* $(,)? ) ).* ; )*
    ) => {
        $( $(#[$key_meta])* $key_vis const $key: $crate::config_keys::Key<$crate::config_keys::kind::$kind> = $crate::config_keys::Key::new($name); )*

        $(#[$def_meta])*
        $def_vis fn $def() -> $crate::ConfigDef {
            $crate::ConfigDef::new() $( .define($key.def() $( .$setter($($arg),*) )* ) )*
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigType, Importance, Props, Validator};
    use crate::error::ConnectError;

    crate::config_keys! {
        fn def();
        NAME: String = "name" => importance(Importance::High).validator(Validator::NonEmptyString).doc("A name.").group("G", 0);
        SIZE: Int = "size" => default("3").validator(Validator::between(1.0, 9.0));
        BIG: Long = "big" => default("-1");
        ON: Boolean = "on" => default("true");
        ITEMS: List = "items" => default("a,b");
        CLASS: Class = "class" => default("x.Y");
        SECRET: Password = "secret" => default("");
        RATIO: Double = "ratio" => default("0.5");
        SMALL: Short = "small" => default("7");
    }

    #[test]
    fn keys_define_and_read_typed_values() {
        let d = def();
        let names: Vec<_> = d.keys().iter().map(|k| (k.name.as_str(), k.config_type)).collect();
        assert_eq!(names[0], ("name", ConfigType::String));
        assert_eq!(names[1], ("size", ConfigType::Int));
        assert_eq!(names[8], ("small", ConfigType::Short));
        let k = d.key("name").unwrap();
        assert_eq!((k.importance, k.documentation.as_str(), k.group.as_deref(), k.required()), (Importance::High, "A name.", Some("G"), true));
        let props: Props = [("name", "n"), ("secret", "s")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let c = d.parse(&props).unwrap();
        assert_eq!(c.value(NAME).unwrap(), "n");
        assert_eq!(c.value(SIZE).unwrap(), 3);
        assert_eq!(c.value(BIG).unwrap(), -1);
        assert!(c.value(ON).unwrap());
        assert_eq!(c.value(ITEMS).unwrap(), vec!["a", "b"]);
        assert_eq!(c.value(CLASS).unwrap(), "x.Y");
        assert_eq!(c.value(SECRET).unwrap().value(), "s");
        assert_eq!(c.value(RATIO).unwrap(), 0.5);
        assert_eq!(c.value(SMALL).unwrap(), 7);
        assert_eq!(&*SIZE, "size");
        assert_eq!(String::from(SIZE), "size");
    }

    #[test]
    fn a_key_of_another_def_is_a_config_error_naming_it() {
        let c = crate::ConfigDef::new().parse(&Props::new()).unwrap();
        match c.value(SIZE) {
            Err(ConnectError::Config { field, message }) => assert_eq!((field.as_str(), message.as_str()), ("size", "not defined as INT")),
            other => panic!("{other:?}"),
        }
    }
}

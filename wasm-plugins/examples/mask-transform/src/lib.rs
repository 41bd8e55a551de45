//! Example WASM transform: masks or hashes chosen fields of struct values (like Connect's
//! `MaskField`, plus a hash mode). Config: `fields` (list), `mode` = `mask` (replace with
//! `replacement`) or `hash` (FNV-1a 64 of the field's text, hex). Records whose value is not a
//! struct pass through unchanged.

use sluice_guest::{ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectResult, Importance, Props, Record, TransformPlugin, Value};

#[derive(Default)]
struct MaskFields {
    fields: Vec<String>,
    hash: bool,
    replacement: String,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

impl TransformPlugin for MaskFields {
    const NAME: &'static str = "com.example.sluice.MaskFields";
    const VERSION: &'static str = "1.0.0";

    fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new("fields", ConfigType::List).importance(Importance::High).doc("Names of the struct fields to mask or hash."))
            .define(ConfigKey::new("mode", ConfigType::String).default("mask").importance(Importance::Medium).doc("mask or hash."))
            .define(ConfigKey::new("replacement", ConfigType::String).default("****").importance(Importance::Low).doc("What masked fields become."))
    }

    fn configure(&mut self, props: Props) -> ConnectResult<()> {
        self.fields = props.get("fields").map(|f| f.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
        self.hash = match props.get("mode").map(String::as_str).unwrap_or("mask") {
            "mask" => false,
            "hash" => true,
            other => return Err(ConnectError::config("mode", format!("must be mask or hash, not {other}"))),
        };
        self.replacement = props.get("replacement").cloned().unwrap_or_else(|| "****".into());
        Ok(())
    }

    fn apply(&mut self, mut record: Record) -> ConnectResult<Option<Record>> {
        if let Value::Struct(s) = &mut record.value {
            for (name, value) in s.fields.iter_mut() {
                if self.fields.iter().any(|f| f == name) && !value.is_null() {
                    if self.hash {
                        *value = Value::String(format!("{:016x}", fnv1a(text(value).as_bytes())));
                    } else if let Value::String(s) = value {
                        // In place: the SDK decodes the next record into this one, so the
                        // buffer is reused record after record (no allocation per record).
                        s.clear();
                        s.push_str(&self.replacement);
                    } else {
                        *value = Value::String(self.replacement.clone());
                    }
                }
            }
        }
        Ok(Some(record))
    }
}

sluice_guest::export_transform!(MaskFields);

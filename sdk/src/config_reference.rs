//! A [`ConfigDef`] rendered as a Markdown reference, in the shape of Kafka's own config docs:
//! per key its name, documentation, type, default, valid values and importance, keys grouped
//! by their `group` (ungrouped keys first), in definition order. The runtime writes one page per
//! built-in plugin to `docs/reference/` from this and checks in a test that they are current.

use std::fmt::Write;

use crate::config::{ConfigDef, ConfigKey, ConfigType, Validator};

/// The keys of `def` as Markdown; group headings at `level` (`##` for 2), key headings one
/// level below. Empty when `def` has no keys.
pub fn markdown(def: &ConfigDef, level: usize) -> String {
    let mut groups: Vec<(Option<&str>, Vec<&ConfigKey>)> = Vec::new();
    for k in def.keys() {
        let g = k.group.as_deref();
        match groups.iter_mut().find(|(name, _)| *name == g) {
            Some((_, keys)) => keys.push(k),
            None => groups.push((g, vec![k])),
        }
    }
    groups.sort_by_key(|(g, _)| g.is_some());
    let mut out = String::new();
    for (group, keys) in groups {
        if let Some(g) = group {
            let _ = writeln!(out, "{} {g}\n", "#".repeat(level));
        }
        let key_level = if group.is_some() { level + 1 } else { level };
        for k in keys {
            key_markdown(&mut out, k, key_level);
        }
    }
    out
}

fn key_markdown(out: &mut String, k: &ConfigKey, level: usize) {
    let _ = writeln!(out, "{} `{}`\n", "#".repeat(level), k.name);
    if !k.documentation.is_empty() {
        let _ = writeln!(out, "{}\n", k.documentation.trim());
    }
    let _ = writeln!(out, "- Type: {}", k.config_type.connect_name().to_ascii_lowercase());
    let _ = writeln!(out, "- Default: {}", default_text(k));
    let valid = valid_values(k);
    if !valid.is_empty() {
        let _ = writeln!(out, "- Valid values: {valid}");
    }
    let _ = writeln!(out, "- Importance: {}\n", k.importance.connect_name().to_ascii_lowercase());
}

fn default_text(k: &ConfigKey) -> String {
    match k.default_value.as_deref() {
        None => "none (required)".to_string(),
        Some("") => "\"\"".to_string(),
        Some(_) if k.config_type == ConfigType::Password => "[hidden]".to_string(),
        Some(v) => format!("`{v}`"),
    }
}

fn valid_values(k: &ConfigKey) -> String {
    let parts: Vec<String> = k
        .validators
        .iter()
        .filter_map(|v| match v {
            Validator::Range { min: Some(min), max: Some(max) } => Some(format!("[{},...,{}]", num(*min), num(*max))),
            Validator::Range { min: Some(min), max: None } => Some(format!("[{},...]", num(*min))),
            Validator::Range { min: None, max: Some(max) } => Some(format!("[...,{}]", num(*max))),
            Validator::Range { min: None, max: None } => None,
            Validator::ValidString { allowed, ignore_case } => {
                let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                Some(if *ignore_case { format!("{list} (case-insensitive)") } else { list })
            }
            Validator::NonEmptyString => Some("non-empty string".to_string()),
            Validator::Custom(_) => None,
        })
        .collect();
    parts.join("; ")
}

fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigKey, Importance};

    #[test]
    fn renders_keys_grouped_with_kafkas_fields() {
        let def = ConfigDef::new()
            .define(ConfigKey::new("b", ConfigType::Int).group("G", 0).default("3").validator(Validator::between(1.0, 9.0)).doc("Bee."))
            .define(ConfigKey::new("a", ConfigType::String).importance(Importance::High).validator(Validator::NonEmptyString))
            .define(ConfigKey::new("p", ConfigType::Password).default("x").group("G", 1))
            .define(ConfigKey::new("m", ConfigType::String).default("").validator(Validator::one_of_ignore_case(&["x", "y"])));
        let cases: &[(&str, bool)] = &[
            ("## `a`\n\n- Type: string\n- Default: none (required)\n- Valid values: non-empty string\n- Importance: high\n\n", true),
            ("## `m`\n\n- Type: string\n- Default: \"\"\n- Valid values: `x`, `y` (case-insensitive)\n- Importance: medium\n", true),
            ("## G\n\n### `b`\n\nBee.\n\n- Type: int\n- Default: `3`\n- Valid values: [1,...,9]\n", true),
            ("- Default: [hidden]", true),
            ("- Default: `x`", false),
        ];
        let md = markdown(&def, 2);
        for (part, present) in cases {
            assert_eq!(md.contains(part), *present, "{part:?} in\n{md}");
        }
        assert!(md.find("`a`") < md.find("## G"), "{md}");
        assert_eq!(markdown(&ConfigDef::new(), 2), "");
    }
}

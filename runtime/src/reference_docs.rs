//! The configuration reference in `docs/reference/`: one Markdown page per built-in connector,
//! one each for the converters, transforms and predicates, the keys every connector has, and
//! the worker's keys, all rendered from the `ConfigDef`s ([`sluice_sdk::config_reference`]), so
//! a key's documentation is written once, where the key is declared. The test
//! `reference_docs::tests::reference_docs_are_current` fails when a page is stale;
//! `SLUICE_WRITE_REFERENCE_DOCS=1 cargo test -p sluice-runtime --lib reference_docs` rewrites them.

use sluice_sdk::config_reference::markdown;
use sluice_sdk::{ConfigDef, SinkRecord};

use crate::plugins::{ConnectorFactory, Plugins};

/// The command that regenerates the pages (named by the staleness test).
pub const REGENERATE: &str = "SLUICE_WRITE_REFERENCE_DOCS=1 cargo test -p sluice-runtime --lib reference_docs";

/// Every page: its file name in `docs/reference/` and its contents.
pub fn pages(plugins: &Plugins) -> Vec<(String, String)> {
    let mut pages = Vec::new();
    let mut index = vec![("connector-common.md".to_string(), "keys every connector has".to_string())];
    for c in plugins.connectors() {
        let (def, kind) = match &c.factory {
            ConnectorFactory::Source { connector, .. } => (connector().config_def(), "source"),
            ConnectorFactory::Sink { connector, .. } => (connector().config_def(), "sink"),
        };
        let name = simple_name(&c.desc.class);
        let file = format!("{name}.md");
        let intro = format!("`{}`, a {kind} connector. Every connector also takes the keys in [connector-common.md](connector-common.md).", c.desc.class);
        pages.push((file.clone(), page(name, &intro, &body(&def, 2))));
        index.push((file, format!("`{}` ({kind})", c.desc.class)));
    }

    let converters: Vec<(String, ConfigDef)> = plugins.converters().iter().map(|c| (c.desc.class.clone(), (c.factory)().config_def())).collect();
    pages.push((
        "converters.md".into(),
        page("Converters", "Keys of each converter, given with the `key.converter.` or `value.converter.` prefix.", &sections(&converters)),
    ));
    let transforms: Vec<(String, ConfigDef)> =
        plugins.transformations().iter().map(|t| (t.class.to_string(), ((t.sink)() as Box<dyn sluice_sdk::Transform<SinkRecord>>).config_def())).collect();
    pages.push(("transforms.md".into(), page("Transforms", "Keys of each transform, given as `transforms.ALIAS.KEY`.", &sections(&transforms))));
    let predicates: Vec<(String, ConfigDef)> = plugins
        .predicates()
        .iter()
        .map(|p| {
            let def = ((p.sink)() as Box<dyn sluice_sdk::Predicate<SinkRecord>>).config_def();
            (p.class.to_string(), def)
        })
        .collect();
    pages.push(("predicates.md".into(), page("Predicates", "Keys of each predicate, given as `predicates.ALIAS.KEY`.", &sections(&predicates))));
    index.extend([
        ("converters.md".to_string(), "converters".to_string()),
        ("transforms.md".to_string(), "transforms".to_string()),
        ("predicates.md".to_string(), "predicates".to_string()),
    ]);

    let common = crate::connector_config::common_def();
    let connector_common = [
        ("Every connector".to_string(), common.clone()),
        ("Sink connectors".to_string(), without(&crate::connector_config::sink_def(), &common)),
        ("Source connectors".to_string(), without(&crate::connector_config::source_def(), &common)),
    ];
    pages.push((
        "connector-common.md".into(),
        page("Keys every connector has", "The runtime's own keys of a connector config, on top of the plugin's.", &sections(&connector_common)),
    ));

    let worker = crate::worker_config::common_def();
    let worker_sections = [
        ("Every worker".to_string(), worker.clone()),
        ("Standalone workers (`sluice standalone`)".to_string(), without(&crate::worker_config::standalone_def(), &worker)),
        ("Distributed workers (`sluice distributed`)".to_string(), without(&crate::worker_config::distributed_def(), &worker)),
    ];
    pages.push(("worker.md".into(), page("Worker", "Keys of a worker's properties file.", &sections(&worker_sections))));
    index.push(("worker.md".to_string(), "the worker's keys".to_string()));

    let list: String = index.iter().map(|(file, what)| format!("- [{file}]({file}): {what}\n")).collect();
    pages.push(("README.md".into(), page("Configuration reference", "One page per built-in plugin, generated from its `ConfigDef`.", &list)));
    pages
}

fn simple_name(class: &str) -> &str {
    class.rsplit(['.', '$']).next().unwrap_or(class)
}

fn page(title: &str, intro: &str, body: &str) -> String {
    format!("# {title}\n\n<!-- Generated from the ConfigDefs by `{REGENERATE}`; do not edit. -->\n\n{intro}\n\n{}\n", body.trim_end())
}

fn body(def: &ConfigDef, level: usize) -> String {
    if def.keys().is_empty() { "No configuration keys.\n".to_string() } else { markdown(def, level) }
}

/// One `##` section per named definition; consecutive ones with the same keys (a transform's
/// `$Key` and `$Value`) share a section.
fn sections(defs: &[(String, ConfigDef)]) -> String {
    let mut merged: Vec<(Vec<&str>, String)> = Vec::new();
    for (name, def) in defs {
        let text = body(def, 3);
        match merged.last_mut() {
            Some((names, last)) if *last == text => names.push(name),
            _ => merged.push((vec![name], text)),
        }
    }
    merged
        .iter()
        .map(|(names, text)| {
            let title = names.iter().map(|n| n.rsplit('.').next().unwrap_or(n)).collect::<Vec<_>>().join(", ");
            // Plugins are named by class; the runtime's own sections by their title alone.
            let classes = names.iter().filter(|n| n.contains('.')).map(|n| format!("`{n}`\n\n")).collect::<Vec<_>>().join("").replace("`\n\n`", "`, `");
            format!("## {title}\n\n{classes}{}\n\n", text.trim_end())
        })
        .collect()
}

/// The keys of `def` that `base` does not define.
fn without(def: &ConfigDef, base: &ConfigDef) -> ConfigDef {
    def.keys().iter().filter(|k| base.key(&k.name).is_none()).fold(ConfigDef::new(), |d, k| d.define(k.clone()))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference")
    }

    #[test]
    fn reference_docs_are_current() {
        let dir = dir();
        let pages = pages(&Plugins::builtin());
        let write = std::env::var("SLUICE_WRITE_REFERENCE_DOCS").is_ok_and(|v| v == "1");
        let existing: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".md")).collect())
            .unwrap_or_default();
        let mut stale = Vec::new();
        for (file, text) in &pages {
            let path = dir.join(file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                if write {
                    std::fs::create_dir_all(&dir).expect("create docs/reference");
                    std::fs::write(&path, text).expect("write a reference page");
                } else {
                    stale.push(format!("docs/reference/{file}"));
                }
            }
        }
        for name in existing.iter().filter(|n| !pages.iter().any(|(f, _)| f == *n)) {
            if write {
                std::fs::remove_file(dir.join(name)).expect("remove a page no plugin generates");
            } else {
                stale.push(format!("docs/reference/{name} (no plugin generates it)"));
            }
        }
        assert!(stale.is_empty(), "stale configuration reference: {}; regenerate with `{REGENERATE}`", stale.join(", "));
    }

    #[test]
    fn every_builtin_plugin_has_a_page_or_section() {
        let plugins = Plugins::builtin();
        let pages = pages(&plugins);
        let all: String = pages.iter().map(|(_, t)| t.as_str()).collect();
        let classes = plugins
            .connectors()
            .iter()
            .map(|c| c.desc.class.clone())
            .chain(plugins.converters().iter().map(|c| c.desc.class.clone()))
            .chain(plugins.transformations().iter().map(|t| t.class.to_string()))
            .chain(plugins.predicates().iter().map(|p| p.class.to_string()));
        for class in classes {
            assert!(all.contains(&format!("`{class}`")), "{class} has no reference");
        }
        let cases = [
            ("S3SinkConnector.md", "\n## `s3.bucket.name`\n"),
            ("worker.md", "`offset.storage.file.filename`"),
            ("connector-common.md", "`errors.deadletterqueue.topic.name`"),
        ];
        for (file, part) in cases {
            let text = pages.iter().find(|(f, _)| f == file).map(|(_, t)| t.as_str()).unwrap_or_default();
            assert!(text.contains(part), "{file} lacks {part}");
        }
    }
}

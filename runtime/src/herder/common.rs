//! What every herder answers the same way: server info, health, plugin listings, and config
//! validation in Connect's `ConfigInfos` shape.

use axum::http::StatusCode;
use sluice_rest_api::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigMap, PluginInfo, RestError, ServerInfo, WorkerStatus};
use sluice_sdk::Props;

use crate::config_provider::ConfigProviders;
use crate::connector_config;
use crate::executor::WorkerContext;
use crate::plugins::{ConnectorFactory, ConnectorPlugin, Plugins};

pub fn server_info(ctx: &WorkerContext) -> ServerInfo {
    ServerInfo { version: crate::VERSION.to_string(), commit: crate::COMMIT.to_string(), kafka_cluster_id: ctx.kafka_cluster_id.clone() }
}

pub fn health(started: bool) -> Result<WorkerStatus, RestError> {
    if started {
        Ok(WorkerStatus { status: "healthy".into(), message: "Worker has completed startup and is ready to handle requests.".into() })
    } else {
        Err(RestError::new(StatusCode::SERVICE_UNAVAILABLE, "Worker is still starting up."))
    }
}

/// `GET /connector-plugins`.
pub fn connector_plugins(plugins: &Plugins, connectors_only: bool) -> Vec<PluginInfo> {
    let info = |d: &crate::plugins::PluginDesc| PluginInfo {
        class_name: d.class.clone(),
        plugin_type: d.plugin_type.connect_name().into(),
        version: Some(d.version.clone()),
    };
    let mut out: Vec<PluginInfo> = plugins.connectors().iter().map(|p| info(&p.desc)).collect();
    if !connectors_only {
        out.extend(plugins.converters().iter().map(|p| info(&p.desc)));
        out.extend(plugins.transform_descs().iter().map(info));
    }
    out
}

/// `GET /connector-plugins/{plugin}/config`: the plugin's own keys.
pub fn plugin_config(plugins: &Plugins, plugin: &str) -> Result<Vec<ConfigKeyInfo>, RestError> {
    if let Ok(p) = plugins.connector(plugin) {
        let def = match &p.factory {
            ConnectorFactory::Source { connector, .. } => connector().config_def(),
            ConnectorFactory::Sink { connector, .. } => connector().config_def(),
        };
        return Ok(def.keys().iter().map(ConfigKeyInfo::from).collect());
    }
    if let Ok(c) = plugins.converter(plugin) {
        return Ok(c.config_def().keys().iter().map(ConfigKeyInfo::from).collect());
    }
    Err(RestError::new(StatusCode::NOT_FOUND, format!("Unknown plugin {plugin}.")))
}

/// Validates a whole connector config against `plugin` (a class name or alias).
fn config_infos(plugins: &Plugins, providers: &ConfigProviders, plugin: &ConnectorPlugin, config: &Props) -> ConfigInfos {
    let (resolved, resolve_error) = match providers.resolve(config) {
        Ok(r) => (r, None),
        Err(e) => (config.clone(), Some(e)),
    };
    let (def, mut values) = connector_config::validate_all(plugins, plugin, &resolved);
    if let Some(sluice_sdk::ConnectError::Config { field, message }) = resolve_error
        && let Some(v) = values.iter_mut().find(|v| v.name == field)
    {
        v.errors.push(message);
    }
    let mut groups: Vec<String> = Vec::new();
    for k in def.keys() {
        if let Some(g) = &k.group
            && !groups.contains(g)
        {
            groups.push(g.clone());
        }
    }
    let configs: Vec<ConfigInfo> = values
        .into_iter()
        .map(|mut v| {
            let definition = match def.key(&v.name) {
                Some(k) => ConfigKeyInfo::from(k),
                // Keys of transforms and predicates are defined by their plugins.
                None => ConfigKeyInfo::from(&sluice_sdk::ConfigKey::new(v.name.clone(), sluice_sdk::ConfigType::String).group("Transforms", 100)),
            };
            // Show what the user supplied (masked), not the resolved secret.
            if let Some(raw) = config.get(&v.name) {
                v.value = Some(if definition.config_type == "PASSWORD" { "[hidden]".into() } else { raw.clone() });
            }
            ConfigInfo { definition, value: v.into() }
        })
        .collect();
    ConfigInfos { name: plugin.desc.class.clone(), error_count: configs.iter().map(|c| c.value.errors.len()).sum(), groups, configs }
}

/// `PUT /connector-plugins/{plugin}/config/validate`.
pub fn validate(plugins: &Plugins, providers: &ConfigProviders, plugin: &str, mut config: ConfigMap) -> Result<ConfigInfos, RestError> {
    let p = plugins.connector(plugin).map_err(|e| RestError::new(StatusCode::NOT_FOUND, e.to_string()))?.clone();
    config.entry("connector.class".into()).or_insert_with(|| plugin.to_string());
    Ok(config_infos(plugins, providers, &p, &config))
}

/// Validation before a connector is created or updated: a 400 listing every error.
pub fn validate_for_put(plugins: &Plugins, providers: &ConfigProviders, config: &ConfigMap) -> Result<ConnectorPlugin, RestError> {
    let plugin = connector_config::plugin_of(plugins, config).map_err(|e| match e {
        sluice_sdk::ConnectError::Config { field, message } if field == "connector.class" && config.contains_key("connector.class") => {
            RestError::bad_request(message)
        }
        _ => RestError::bad_request(format!("Connector config {} contains no connector type", render(config))),
    })?;
    let infos = config_infos(plugins, providers, &plugin, config);
    if infos.error_count > 0 {
        let errors: Vec<String> = infos.configs.iter().flat_map(|c| c.value.errors.iter().map(move |e| format!("{}: {e}", c.value.name))).collect();
        return Err(RestError::bad_request(format!(
            "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
            errors.len(),
            errors.join("\n")
        )));
    }
    Ok(plugin)
}

/// The keys of a config (values may be secrets, and without a plugin we can't tell which).
fn render(config: &ConfigMap) -> String {
    format!("with keys [{}]", config.keys().cloned().collect::<Vec<_>>().join(", "))
}

/// The synchronous [`sluice_rest_api::Herder`] methods every herder answers the same way
/// (plugin listings, loggers); expands inside an `impl Herder` whose type has
/// `fn ctx(&self) -> &WorkerContext`.
macro_rules! plugin_and_logger_methods {
    () => {
        fn connector_plugins(&self, connectors_only: bool) -> Vec<sluice_rest_api::PluginInfo> {
            $crate::herder::common::connector_plugins(&self.ctx().plugins, connectors_only)
        }

        fn invalid_plugins(&self) -> Vec<sluice_rest_api::InvalidPluginInfo> {
            self.ctx()
                .plugins
                .invalid()
                .iter()
                .map(|p| sluice_rest_api::InvalidPluginInfo { path: p.path.display().to_string(), reason: p.reason.clone() })
                .collect()
        }

        fn plugin_config(&self, plugin: &str) -> Result<Vec<sluice_rest_api::ConfigKeyInfo>, sluice_rest_api::RestError> {
            $crate::herder::common::plugin_config(&self.ctx().plugins, plugin)
        }

        fn loggers(&self) -> std::collections::BTreeMap<String, sluice_rest_api::LoggerLevel> {
            $crate::logging::loggers()
        }

        fn logger_level(&self, logger: &str) -> sluice_rest_api::LoggerLevel {
            $crate::logging::level_of(logger)
        }

        fn set_logger_level(&self, logger: &str, level: &str) -> Result<Vec<String>, sluice_rest_api::RestError> {
            $crate::logging::set_level(logger, level).map_err(sluice_rest_api::RestError::bad_request)
        }
    };
}
pub(crate) use plugin_and_logger_methods;

/// KIP-875: offsets change only while the connector is STOPPED. Returns its resolved config.
pub fn require_stopped(ctx: &WorkerContext, name: &str, target: sluice_rest_api::TargetState, config: &Props) -> Result<Props, RestError> {
    if target != sluice_rest_api::TargetState::Stopped {
        return Err(RestError::bad_request(format!(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
        )));
    }
    ctx.config.providers.resolve(config).map_err(|e| RestError::bad_request(e.to_string()))
}

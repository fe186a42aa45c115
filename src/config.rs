//! Plugin configuration: the JSON document given to the filter (Envoy `configuration`, Istio
//! `pluginConfig`). Unknown fields are rejected; every error names the JSON path of the field at fault.

use std::rc::Rc;

use serde::Deserialize;

use crate::config_error::{ConfigError, FieldError};
use crate::held_budget::{HeldLimits, MIN_HELD_BYTES};
use crate::identity::{IdentityConfig, IdentityMapper};
use crate::policy::{AuthorizationConfig, Authorizer, CompiledUsers, UserRules};
use crate::propagation::CompiledSasl;

/// Kafka's `socket.request.max.bytes` default.
pub const DEFAULT_MAX_FRAME_BYTES: u32 = 100 * 1024 * 1024;

/// The configuration document as written; `U`: its `authorization.users` (see [`AuthorizationConfig`]).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawConfig<U = Vec<UserRules>> {
    #[serde(default)]
    pub identity: IdentityConfig,
    #[serde(default)]
    pub authorization: AuthorizationConfig<U>,
    #[serde(default)]
    pub propagation: PropagationConfig,
    #[serde(default)]
    pub observability: ObservabilityConfig,
    /// When open connections are ended: policy changes they cannot follow, certificate expiry, age.
    #[serde(default)]
    pub connections: crate::connection_limits::ConnectionsConfig,
    /// Largest request or response frame accepted, in bytes; a larger (or negative) size closes the
    /// connection. Default: Kafka's `socket.request.max.bytes` (100 MiB).
    #[serde(default)]
    pub max_frame_bytes: Option<u32>,
    /// Bytes one connection may hold undecided (see `held_budget`); more closes it.
    #[serde(default)]
    pub max_held_bytes_per_connection: Option<u64>,
    /// Bytes all the connections of one VM (one Envoy worker) may hold undecided; the connection growing
    /// past it is closed.
    #[serde(default)]
    pub max_held_bytes_per_vm: Option<u64>,
}

/// `"propagation"`: how the derived principal reaches the broker.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropagationConfig {
    #[serde(default)]
    pub mode: Propagation,
    /// Required with `mode: sasl`: mechanism and where the credentials come from.
    #[serde(default)]
    pub sasl: Option<crate::propagation::SaslConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Propagation {
    /// The broker sees the connection as before (authorization, if any, happens in the filter).
    #[default]
    None,
    /// banzaicloud/kafka `PlaintextChannelWithOptionalUserIdentity` preamble: 2-byte length +
    /// `BZC_UID:<identity>` before the first request.
    BanzaiPreamble,
    /// The filter authenticates to the broker's SASL listener as the principal, before the client's requests.
    Sasl,
}

/// `"observability"`: what is logged and counted.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObservabilityConfig {
    /// One audit line per denial (default true).
    #[serde(default = "yes")]
    pub audit_denied: bool,
    /// One audit line per allowed resource access (default false: it is one line per request).
    #[serde(default)]
    pub audit_allowed: bool,
    /// Cap on distinct values of a metric tag (principals); more values are counted under `other`.
    #[serde(default = "default_max_label_values")]
    pub max_label_values: u32,
    /// Cap on distinct topics in the per-topic byte counters; more topics are counted under `other`.
    #[serde(default = "default_max_label_values")]
    pub max_topic_label_values: u32,
}

fn default_max_label_values() -> u32 {
    100
}

/// Upper bound of `maxTopicLabelValues`: each topic label multiplies the counters by the principals
/// (two counters per principal and topic), so a typo must not make Envoy's stats unbounded in practice.
pub const MAX_TOPIC_LABEL_VALUES: u32 = 10_000;

impl Default for ObservabilityConfig {
    fn default() -> Self {
        ObservabilityConfig {
            audit_denied: true,
            audit_allowed: false,
            max_label_values: default_max_label_values(),
            max_topic_label_values: default_max_label_values(),
        }
    }
}

fn yes() -> bool {
    true
}

/// The configuration compiled for the hot path.
#[derive(Debug, Clone)]
pub struct Config {
    pub identity: IdentityMapper,
    pub authorizer: Authorizer,
    pub max_frame_bytes: u32,
    /// Bounds on undecided bytes, per connection and per VM (`held_budget`).
    pub held_limits: HeldLimits,
    pub propagation: Propagation,
    /// Compiled SASL credentials (`propagation.mode: sasl`).
    pub sasl: Option<Rc<CompiledSasl>>,
    pub audit_denied: bool,
    /// Decisions that allowed are recorded too (costs an event per checked resource).
    pub log_allowed: bool,
    pub max_label_values: u32,
    pub max_topic_label_values: u32,
    /// When open connections are ended (`connection_limits`).
    pub connections: crate::connection_limits::ConnectionLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            identity: IdentityMapper::default(),
            authorizer: Authorizer::default(),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            held_limits: HeldLimits::default(),
            propagation: Propagation::None,
            sasl: None,
            audit_denied: true,
            log_allowed: false,
            max_label_values: default_max_label_values(),
            max_topic_label_values: default_max_label_values(),
            connections: crate::connection_limits::ConnectionLimits::default(),
        }
    }
}

impl Config {
    /// Parses and compiles a configuration document. An empty document means all defaults. Secrets the
    /// document references come from the process environment (in Envoy: `vm_config.environment_variables`).
    pub fn parse(json: &[u8]) -> Result<Config, ConfigError> {
        Config::parse_with_env(json, &|name| std::env::var(name).ok())
    }

    /// [`Config::parse`] with an explicit environment. The policy's users are compiled as they are read.
    pub fn parse_with_env(json: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let raw: RawConfig<CompiledUsers> = if json.iter().all(|b| b.is_ascii_whitespace()) {
            RawConfig::default()
        } else {
            crate::config_json::from_slice(json)
                .map_err(|e| ConfigError(format!("configuration field `{}`: {}", e.path, e.message)))?
        };
        Config::compile(raw, env)
    }

    pub fn compile(raw: RawConfig<CompiledUsers>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let identity = IdentityMapper::compile(&raw.identity).map_err(|e| e.in_section("identity"))?;
        // Checked before the authorization section is moved out; its error is reported in its turn below.
        let held_limits = held_limits(&raw);
        let authorizer = Authorizer::compile_read(raw.authorization).map_err(|e| e.in_section("authorization"))?;
        let max_frame_bytes = raw.max_frame_bytes.unwrap_or(DEFAULT_MAX_FRAME_BYTES);
        if max_frame_bytes < 64 {
            return Err(ConfigError(format!(
                "configuration field `maxFrameBytes`: {max_frame_bytes} is too small (at least 64)"
            )));
        }
        let held_limits = held_limits?;
        let max_topic_label_values = raw.observability.max_topic_label_values;
        if max_topic_label_values > MAX_TOPIC_LABEL_VALUES {
            return Err(FieldError::new(
                "maxTopicLabelValues",
                format!("{max_topic_label_values} is too large (at most {MAX_TOPIC_LABEL_VALUES})"),
            )
            .in_section("observability"));
        }
        let sasl = match (raw.propagation.mode, &raw.propagation.sasl) {
            (Propagation::Sasl, Some(sasl)) => {
                Some(crate::propagation::compile(sasl, env).map_err(|e| e.in_section("propagation"))?)
            }
            (Propagation::Sasl, None) => {
                return Err(FieldError::new("sasl", "required with mode `sasl`").in_section("propagation"))
            }
            (_, Some(_)) => return Err(FieldError::new("sasl", "only used with mode `sasl`").in_section("propagation")),
            (_, None) => None,
        };
        let connections = crate::connection_limits::ConnectionLimits::compile(&raw.connections)
            .map_err(|e| e.in_section("connections"))?;
        Ok(Config {
            connections,
            identity,
            authorizer,
            max_frame_bytes,
            held_limits,
            propagation: raw.propagation.mode,
            sasl,
            audit_denied: raw.observability.audit_denied,
            log_allowed: raw.observability.audit_allowed,
            max_label_values: raw.observability.max_label_values,
            max_topic_label_values,
        })
    }
}

/// `maxHeldBytesPerConnection` and `maxHeldBytesPerVm`, checked: each at least [`MIN_HELD_BYTES`], the VM's
/// at least one connection's.
fn held_limits<U>(raw: &RawConfig<U>) -> Result<HeldLimits, ConfigError> {
    let defaults = HeldLimits::default();
    let per_connection = raw.max_held_bytes_per_connection.unwrap_or(defaults.per_connection);
    let per_vm = raw.max_held_bytes_per_vm.unwrap_or(defaults.per_vm.max(per_connection));
    if per_connection < MIN_HELD_BYTES {
        return Err(ConfigError(format!(
            "configuration field `maxHeldBytesPerConnection`: {per_connection} is too small (at least {MIN_HELD_BYTES})"
        )));
    }
    if per_vm < per_connection {
        return Err(ConfigError(format!(
            "configuration field `maxHeldBytesPerVm`: {per_vm} is smaller than maxHeldBytesPerConnection {per_connection}"
        )));
    }
    Ok(HeldLimits { per_connection, per_vm })
}

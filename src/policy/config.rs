//! The `authorization` section as written: the three dialects (Strimzi `acls`, Koperator `topicGrants`,
//! Cilium `kafka` rules) side by side in one principal's rules.

use serde::Deserialize;

use super::Mode;

/// What to do with a request the filter cannot classify into actions (unknown API key or version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownRequests {
    #[default]
    Deny,
    Allow,
}

/// `"authorization"` section of the plugin configuration. `U` is its `users`: as written (`Vec<UserRules>`),
/// or compiled as they are read ([`CompiledUsers`](super::CompiledUsers), as the filter loads a policy).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationConfig<U = Vec<UserRules>> {
    #[serde(default)]
    pub mode: Mode,
    /// Principals allowed everything (Kafka's `super.users`); `User:` is implied when no type is written.
    #[serde(default)]
    pub super_users: Vec<String>,
    /// Kafka's `allow.everyone.if.no.acl.found`: allow actions on resources no rule of any principal covers.
    #[serde(default)]
    pub allow_everyone_if_no_acl_found: bool,
    #[serde(default)]
    pub unknown_requests: UnknownRequests,
    #[serde(default)]
    pub users: U,
}

/// The rules of one principal, in any mix of the three dialects.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserRules {
    /// `User:CN=app` (or `CN=app`, `User:` implied); `User:*` is every principal.
    pub principal: String,
    /// Strimzi `KafkaUser` `spec.authorization.acls` entries.
    #[serde(default)]
    pub acls: Vec<StrimziAcl>,
    /// Koperator (Calisti) `KafkaUser` `spec.topicGrants` entries.
    #[serde(default)]
    pub topic_grants: Vec<TopicGrant>,
    /// Cilium `toPorts.rules.kafka` entries.
    #[serde(default)]
    pub kafka: Vec<CiliumKafkaRule>,
}

/// A Strimzi ACL rule (`AclRule`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrimziAcl {
    pub resource: StrimziResource,
    #[serde(default)]
    pub operations: Option<Vec<String>>,
    /// The older single-operation form.
    #[serde(default)]
    pub operation: Option<String>,
    /// `*` (default) or a client IP address; compared as an address (`::1` equals `0:0:0:0:0:0:0:1`).
    #[serde(default)]
    pub host: Option<String>,
    /// `allow` (default) or `deny`.
    #[serde(default, rename = "type")]
    pub permission: Option<String>,
}

/// A Strimzi ACL resource: `topic`, `group`, `transactionalId` (named) or `cluster` (no name).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrimziResource {
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `literal` (default) or `prefix`; Kafka's `LITERAL`/`PREFIXED` also accepted.
    #[serde(default)]
    pub pattern_type: Option<String>,
}

/// A Koperator topic grant.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicGrant {
    pub topic_name: String,
    /// `read` or `write`.
    pub access_type: String,
    /// `literal` (default) or `prefixed`.
    #[serde(default)]
    pub pattern_type: Option<String>,
}

/// A Cilium Kafka port rule (`api/kafka.PortRule`). Every field is optional; an empty rule allows every
/// request of the principal.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumKafkaRule {
    /// `produce` or `consume`: a set of API keys (see [`PRODUCE_ROLE_KEYS`], [`CONSUME_ROLE_KEYS`]).
    #[serde(default)]
    pub role: Option<String>,
    /// One API key by name (`fetch`, `metadata`, ...).
    #[serde(default)]
    pub api_key: Option<String>,
    /// One API version; Cilium writes it as a string, a number is accepted too.
    #[serde(default)]
    pub api_version: Option<ApiVersionSpec>,
    #[serde(default, rename = "clientID")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
}

/// An API version written as `"4"` (Cilium) or `4`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ApiVersionSpec {
    Number(i64),
    Text(String),
}

//! The `authorization` section as written: the three dialects (Strimzi `acls`, Koperator `topicGrants`,
//! Cilium `kafka` rules) side by side in one principal's rules.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
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

/// The rules of one principal, in any mix of the three dialects. `S` is each string as read: a `String`, or
/// text borrowed from the document ([`Text`], as the filter reads a policy).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserRules<S = String> {
    /// `User:CN=app` (or `CN=app`, `User:` implied); `User:*` is every principal.
    pub principal: S,
    /// Strimzi `KafkaUser` `spec.authorization.acls` entries.
    #[serde(default)]
    pub acls: Vec<StrimziAcl<S>>,
    /// Koperator (Calisti) `KafkaUser` `spec.topicGrants` entries.
    #[serde(default)]
    pub topic_grants: Vec<TopicGrant<S>>,
    /// Cilium `toPorts.rules.kafka` entries.
    #[serde(default)]
    pub kafka: Vec<CiliumKafkaRule<S>>,
}

/// A Strimzi ACL rule (`AclRule`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrimziAcl<S = String> {
    pub resource: StrimziResource<S>,
    #[serde(default)]
    pub operations: Option<Vec<S>>,
    /// The older single-operation form.
    #[serde(default)]
    pub operation: Option<S>,
    /// `*` (default) or a client IP address; compared as an address (`::1` equals `0:0:0:0:0:0:0:1`).
    #[serde(default)]
    pub host: Option<S>,
    /// `allow` (default) or `deny`.
    #[serde(default, rename = "type")]
    pub permission: Option<S>,
}

/// A Strimzi ACL resource: `topic`, `group`, `transactionalId` (named) or `cluster` (no name).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrimziResource<S = String> {
    #[serde(rename = "type")]
    pub resource_type: S,
    #[serde(default)]
    pub name: Option<S>,
    /// `literal` (default) or `prefix`; Kafka's `LITERAL`/`PREFIXED` also accepted.
    #[serde(default)]
    pub pattern_type: Option<S>,
}

/// A Koperator topic grant.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicGrant<S = String> {
    pub topic_name: S,
    /// `read` or `write`.
    pub access_type: S,
    /// `literal` (default) or `prefixed`.
    #[serde(default)]
    pub pattern_type: Option<S>,
}

/// A Cilium Kafka port rule (`api/kafka.PortRule`). Every field is optional; an empty rule allows every
/// request of the principal.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumKafkaRule<S = String> {
    /// `produce` or `consume`: a set of API keys (see [`PRODUCE_ROLE_KEYS`], [`CONSUME_ROLE_KEYS`]).
    #[serde(default)]
    pub role: Option<S>,
    /// One API key by name (`fetch`, `metadata`, ...).
    #[serde(default)]
    pub api_key: Option<S>,
    /// One API version; Cilium writes it as a string, a number is accepted too.
    #[serde(default)]
    pub api_version: Option<ApiVersionSpec>,
    #[serde(default, rename = "clientID")]
    pub client_id: Option<S>,
    #[serde(default)]
    pub topic: Option<S>,
}

/// A string of the configuration document, borrowed from its text unless JSON escapes had to be undone: a
/// policy of 100,000 ACL entries has 700,000 strings, and allocating each took half the time of loading it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<'a>(Cow<'a, str>);

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As serde's `String` says it.
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

/// An API version written as `"4"` (Cilium) or `4`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ApiVersionSpec {
    Number(i64),
    Text(String),
}

//! Authorization policy: Kafka's authorizer semantics over ACLs written in three dialects
//! (Strimzi `acls`, Koperator `topicGrants`, Cilium `kafka` rules), compiled into an index.
//!
//! Decision order, as Kafka's `AclAuthorizer`/`StandardAuthorizer`: super users are allowed; otherwise any
//! matching deny rule denies; otherwise any matching allow rule allows; otherwise, when no rule of any
//! principal exists for the resource and `allowEveryoneIfNoAclFound` is set, the action is allowed;
//! otherwise it is denied. Rules of the principal and of the wildcard principal `User:*` both apply.
//!
//! The three dialects compile to one index. Strimzi ACLs and Koperator topic grants become Kafka ACLs
//! (Koperator's exactly as the operator would create them in the broker). Cilium rules are request-level
//! allows (Cilium has no denies): a rule matches when the request's API key is in the rule's key set
//! (its `role`'s keys, its one `apiKey`, or every key), `apiVersion` and `clientID` (when set) equal the
//! request's, and `topic` (when set) equals the action's name if the action is on a topic. Actions on
//! other resources (a JoinGroup's group) ignore the topic, as Cilium does for requests without topics.
//! A topic named by a Cilium rule counts as a resource with ACLs for `allowEveryoneIfNoAclFound`.
//!
//! Index: principal -> resource type -> {literal name hash map, prefixes, every-name pattern} of
//! entries carrying a precomputed operation bitmask (allow implications folded in), so a decision costs
//! a few hash lookups and binary searches whatever the number of rules. Each rule's description
//! (`users[0].acls[1] (allow Read topic prefix orders-)`) is written for [`Decision::rule`] the first time
//! a decision names the rule.

mod api_keys;
mod check;
mod compile;
mod compiled_users;
mod config;
mod every_topic;
pub(crate) mod index;
mod rules;

use std::borrow::Cow;

use serde::Deserialize;

pub use api_keys::{api_key_by_name, api_key_name, CONSUME_ROLE_KEYS, PRODUCE_ROLE_KEYS};
pub use check::Authorizer;
pub use compiled_users::CompiledUsers;
pub use config::{
    ApiVersionSpec, AuthorizationConfig, CiliumKafkaRule, StrimziAcl, StrimziResource, Text, TopicGrant,
    UnknownRequests, UserRules,
};

/// Who asks, from where, with which request (Cilium-style rules match on API key/version/client id).
#[derive(Debug, Clone, Copy)]
pub struct RequestCtx<'a> {
    /// Full principal string, e.g. `User:CN=kafka-default`.
    pub principal: &'a str,
    /// Client IP address (no port), matched against ACL `host`.
    pub host: &'a str,
    pub api_key: i16,
    pub api_version: i16,
    pub client_id: Option<&'a str>,
}

/// The outcome of one authorization question and the rule that made it (for logs and `explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub allowed: bool,
    /// Which rule decided, e.g. `superUsers`, `users[0].acls[1] (allow Read topic prefix orders-)`,
    /// `no ACL matched (allowEveryoneIfNoAclFound=false)`. Borrowed from the policy: a decision on the hot
    /// path allocates nothing; it is copied only into the records that are logged.
    pub rule: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No authorization: everything is forwarded, nothing is decided.
    #[default]
    Off,
    /// Denied requests are answered with Kafka authorization errors and never reach the broker.
    Enforce,
    /// Decide and log, but forward everything (a dry run).
    Audit,
}

/// `User:` + `principal` unless it already starts with `User:`; `None` for an empty principal.
pub fn normalize_principal(principal: &str) -> Option<String> {
    let trimmed = principal.trim();
    let name = trimmed.strip_prefix("User:").unwrap_or(trimmed);
    if name.is_empty() {
        return None;
    }
    Some(format!("User:{name}"))
}

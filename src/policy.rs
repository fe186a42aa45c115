//! Authorization policy: Kafka's authorizer semantics over ACLs written in three dialects
//! (Strimzi `acls`, Koperator `topicGrants`, Cilium `kafka` rules), compiled into an index.
//!
//! OWNER: policy helper. The types `Operation`, `ResourceType`, `Action`, `RequestCtx`, `Decision`,
//! `Mode`, `AuthorizationConfig` and `Authorizer::{compile, authorize, mode}` are the interface the rest
//! of the filter uses; keep their names and signatures.

use serde::Deserialize;

/// Kafka ACL operations (org.apache.kafka.common.acl.AclOperation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
}

/// Kafka resource types (org.apache.kafka.common.resource.ResourceType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
    DelegationToken,
    User,
}

/// The one cluster resource's name, as Kafka names it.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// One authorization question: may the principal perform `op` on the resource?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub op: Operation,
    pub resource_type: ResourceType,
    pub name: String,
}

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
pub struct Decision {
    pub allowed: bool,
    /// Human-readable description of the deciding rule, e.g. `super user`, `no ACL found`,
    /// `User:CN=a acls[0] allow Read topic orders- (prefix)`.
    pub rule: String,
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

/// `"authorization"` section of the plugin configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationConfig {
    #[serde(default)]
    pub mode: Mode,
}

/// Compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    mode: Mode,
}

impl Authorizer {
    /// Compiles the configuration; the error names the offending field.
    pub fn compile(cfg: &AuthorizationConfig) -> Result<Self, crate::config::FieldError> {
        Ok(Self { mode: cfg.mode })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Kafka authorizer semantics for one action.
    pub fn authorize(&self, _ctx: &RequestCtx<'_>, _action: &Action) -> Decision {
        Decision { allowed: false, rule: "not implemented".into() }
    }
}

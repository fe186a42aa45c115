//! The two questions an operator auditing a policy asks without a request: Kafka's authorizer question itself
//! (may this principal, from this host, perform this operation on this resource?), and which principal a subject
//! DN maps to. Both go through the filter's own authorizer and identity mapper.

use std::borrow::Cow;

use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::policy::{Mode, RequestCtx};
use kafka_mtls_filter::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};

/// `--operation OP --resource TYPE:NAME`, parsed: the action Kafka's `Authorizer.authorize` is asked about.
pub struct Question {
    pub action: Action<'static>,
}

impl Question {
    /// `operation` by Kafka's or Strimzi's name (`All`, `CREATE_TOKENS`, `DescribeTokens`...); `resource` as
    /// `TYPE:NAME` (`topic:orders`, `group:billing`, `user:User:alice`) or `cluster` (Kafka's `kafka-cluster`).
    pub fn parse(operation: &str, resource: &str) -> Result<Question, String> {
        let op = Operation::parse(operation).ok_or_else(|| format!("`--operation {operation}`: unknown operation"))?;
        let (type_text, name) = resource.split_once(':').unwrap_or((resource, ""));
        let resource_type = ResourceType::parse(type_text)
            .ok_or_else(|| format!("`--resource {resource}`: unknown resource type `{type_text}`"))?;
        let name = match (resource_type, name) {
            (ResourceType::Cluster, "" | CLUSTER_NAME) => CLUSTER_NAME.to_string(),
            (ResourceType::Cluster, other) => {
                return Err(format!(
                    "`--resource {resource}`: Kafka's one cluster resource is `{CLUSTER_NAME}`, not `{other}`"
                ))
            }
            (_, "") => return Err(format!("`--resource {resource}`: give the resource as TYPE:NAME")),
            (_, name) => name.to_string(),
        };
        Ok(Question { action: Action { op, resource_type, name: Cow::Owned(name) } })
    }
}

/// The authorizer's answer to `question`, as `explain` prints it, and whether it allows.
pub fn ask(config: &Config, principal: &str, host: &str, question: &Question) -> (String, bool) {
    let authorizer = &config.authorizer;
    // No request: API key -1 matches no Cilium rule (Cilium rules authorize requests, not bare questions).
    let ctx = RequestCtx { principal, host, api_key: -1, api_version: 0, client_id: None };
    let decision = authorizer.authorize(&ctx, &question.action);
    let action = &question.action;
    let mut out = format!(
        "question: may {principal} (host {}) perform {} on {} `{}`?\n",
        if host.is_empty() { "unknown" } else { host },
        action.op.as_str(),
        action.resource_type.as_str(),
        action.name
    );
    out += &format!("authorization mode: {}\n", crate::mode_name(authorizer.mode()));
    out += &format!("  {}: by {}\n", if decision.allowed { "ALLOWED" } else { "DENIED" }, decision.rule);
    if authorizer.mode() == Mode::Off {
        out += "note: authorization is off: the filter decides nothing\n";
    }
    (out, decision.allowed)
}

/// The principal the identity configuration derives from a subject DN alone (RFC 2253, as Kafka's
/// `X500Principal.getName()` writes it), as the filter does for a certificate with that subject and no SPIFFE ID.
pub fn principal_of_subject(config: &Config, subject: &str, now: i64) -> Result<String, String> {
    let peer = PeerInfo { mtls: true, subject: Some(subject.to_string()), ..PeerInfo::default() };
    config
        .identity
        .identify(&peer, now)
        .map(|identity| format!("{} (source: {})\n", identity.principal, identity.source.as_str()))
        .map_err(|refusal| format!("refused: {refusal}\n"))
}

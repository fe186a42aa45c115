//! What a session reports: events for logs, metrics and audit, drained by the glue after each call.

use crate::identity::Identity;
use crate::protocol::acl::{Operation, ResourceType};

/// Something worth logging, counting or auditing; drained by the glue after each call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Identified(Identity),
    Refused(String),
    Decision(DecisionRecord),
    /// The connection is closed because of what the client or broker sent.
    ProtocolError(String),
    /// The identity reached the broker (SASL propagation).
    Propagated(String),
    /// A newer policy took effect on this connection (issue 22); `generation`: its publication number.
    PolicyApplied {
        generation: u64,
    },
    /// The connection is closed at a request boundary: it cannot follow the newest policy in place.
    PolicyClosed(String),
    /// The newest policy cannot be followed in place and says `keepOldPolicy`: the connection keeps its own.
    PolicyKept {
        generation: u64,
        reason: String,
    },
    /// The connection is ended at a request boundary for a time limit (certificate expiry, age, SASL session).
    Ended(crate::connection_limits::EndReason, String),
}

/// One authorization decision about one resource of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    pub operation: Option<Operation>,
    pub allowed: bool,
    /// The request was forwarded despite the denial (audit mode).
    pub audit_only: bool,
    pub rule: String,
}

impl DecisionRecord {
    /// A decision about `action` (`None`: the request as a whole) in the request `(api_key, api_version,
    /// correlation_id)`.
    pub fn new(
        request: (i16, i16, i32),
        client_id: Option<&str>,
        action: Option<(Operation, ResourceType, &str)>,
        allowed: bool,
        audit_only: bool,
        rule: String,
    ) -> Self {
        let (api_key, api_version, correlation_id) = request;
        DecisionRecord {
            api_key,
            api_version,
            correlation_id,
            client_id: client_id.map(str::to_string),
            resource_type: action.map(|(_, resource_type, _)| resource_type),
            resource_name: action.map(|(_, _, name)| name.to_string()),
            operation: action.map(|(op, _, _)| op),
            allowed,
            audit_only,
            rule,
        }
    }

    /// Describe denied on a resource of a listing or a Metadata request: it is hidden, not refused.
    pub fn hidden(
        request: (i16, i16, i32),
        client_id: Option<&str>,
        resource: (ResourceType, &str),
        audit_only: bool,
        rule: String,
    ) -> Self {
        let action = Some((Operation::Describe, resource.0, resource.1));
        DecisionRecord::new(request, client_id, action, false, audit_only, rule)
    }
}

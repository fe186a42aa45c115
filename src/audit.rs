//! Audit log: one JSON line per decision worth recording, written through the proxy's log so it lands in
//! Envoy's log pipeline. Prefixed with `kafka-audit ` so log shippers can pick the lines out.

use serde_json::json;

use crate::identity::Identity;
use crate::protocol::acl::resource_type_name;
use crate::protocol::acl::Operation;
use crate::protocol::api::api_name;
use crate::session::DecisionRecord;
use crate::time::rfc3339_millis;

/// What identifies the connection in audit lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub id: u64,
    pub source_address: String,
}

pub const AUDIT_PREFIX: &str = "kafka-audit ";

/// The audit line for one decision (`now_ms`: milliseconds since the epoch).
pub fn audit_line(now_ms: u64, conn: &ConnectionInfo, identity: Option<&Identity>, record: &DecisionRecord) -> String {
    let decision = match (record.allowed, record.audit_only) {
        (true, _) => "allowed",
        (false, true) => "audit-denied",
        (false, false) => "denied",
    };
    let value = json!({
        "time": rfc3339_millis(now_ms),
        "connection": conn.id,
        "source": conn.source_address,
        "principal": identity.map(|i| i.principal.as_str()),
        "identitySource": identity.map(|i| i.source.as_str()),
        "api": api_name(record.api_key),
        "apiVersion": record.api_version,
        "correlationId": record.correlation_id,
        "clientId": record.client_id,
        "resourceType": record.resource_type.map(resource_type_name),
        "resourceName": record.resource_name,
        "operation": record.operation.map(Operation::as_str),
        "decision": decision,
        "rule": record.rule,
    });
    format!("{AUDIT_PREFIX}{value}")
}

/// The audit line for a connection closed by the filter itself, not for one request (`reason`: why).
pub fn closed_line(now_ms: u64, conn: &ConnectionInfo, identity: Option<&Identity>, reason: &str) -> String {
    let value = json!({
        "time": rfc3339_millis(now_ms),
        "connection": conn.id,
        "source": conn.source_address,
        "principal": identity.map(|i| i.principal.as_str()),
        "identitySource": identity.map(|i| i.source.as_str()),
        "decision": "closed",
        "rule": reason,
    });
    format!("{AUDIT_PREFIX}{value}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentitySource;
    use crate::protocol::acl::ResourceType;

    #[test]
    fn denial_line_has_every_field() {
        let record = DecisionRecord {
            api_key: 0,
            api_version: 9,
            correlation_id: 4,
            client_id: Some("rdkafka".into()),
            resource_type: Some(ResourceType::Topic),
            resource_name: Some("secret".into()),
            operation: Some(Operation::Write),
            allowed: false,
            audit_only: false,
            rule: "no ACL matched".into(),
        };
        let identity = Identity { principal: "User:CN=kafka-default".into(), source: IdentitySource::Spiffe };
        let line =
            audit_line(0, &ConnectionInfo { id: 7, source_address: "127.0.0.1:5".into() }, Some(&identity), &record);
        let json: serde_json::Value = serde_json::from_str(line.strip_prefix(AUDIT_PREFIX).unwrap()).unwrap();
        assert_eq!(json["principal"], "User:CN=kafka-default");
        assert_eq!(json["identitySource"], "spiffe");
        assert_eq!(json["resourceType"], "Topic");
        assert_eq!(json["resourceName"], "secret");
        assert_eq!(json["operation"], "Write");
        assert_eq!(json["decision"], "denied");
        assert_eq!(json["connection"], 7);
        assert_eq!(json["source"], "127.0.0.1:5");
    }
}

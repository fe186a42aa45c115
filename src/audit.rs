//! Audit log: one JSON line per decision worth recording, written through the proxy's log so it lands in
//! Envoy's log pipeline. Prefixed with `kafka-audit ` so log shippers can pick the lines out.

use serde_json::json;

use crate::identity::Identity;
use crate::policy::{Operation, ResourceType};
use crate::session::{api_name, DecisionRecord};

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

/// Kafka's name of the resource type (`Topic`, `TransactionalId`), as Kafka's own authorizer logs it.
pub fn resource_type_name(t: ResourceType) -> &'static str {
    match t {
        ResourceType::Topic => "Topic",
        ResourceType::Group => "Group",
        ResourceType::Cluster => "Cluster",
        ResourceType::TransactionalId => "TransactionalId",
        ResourceType::DelegationToken => "DelegationToken",
        ResourceType::User => "User",
    }
}

/// `2026-11-23T14:05:00.123Z` from milliseconds since the epoch (civil-from-days, proleptic Gregorian).
pub fn rfc3339_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentitySource;

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1_795_446_300_123), "2026-11-23T15:05:00.123Z");
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

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

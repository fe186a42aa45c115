//! Metrics: what the core counts (sans-IO [`Stat`]s drained by the glue) and how they are named for Envoy.
//!
//! Names carry their tags as `;tag=value` segments, e.g. `kafka_filter.requests;api=Produce;decision=allowed`.
//! Envoy prefixes custom wasm metrics with `wasmcustom.`; the shipped Envoy configurations have one
//! `stats_tags` rule per tag (regex `(;tag=([^;]*))`) that moves the segment into a real tag, so
//! `/stats/prometheus` shows `kafka_filter_requests{api="Produce",decision="allowed"}` (Envoy drops its custom-stat namespace in the Prometheus format).

use std::collections::HashSet;

/// Every tag name used in metric names (for the Envoy `stats_tags` rules).
pub const TAGS: &[&str] = &["api", "decision", "principal", "identity_source", "reason"];

/// One thing counted by the core, without strings on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Request {
        api_key: i16,
        decision: RequestDecision,
    },
    /// Request-to-response time of one answered request.
    LatencyMicros {
        api_key: i16,
        micros: u64,
    },
    /// Bytes of Produce requests forwarded to the broker.
    ProducedBytes(u64),
    /// Bytes of Fetch responses forwarded to the client.
    FetchedBytes(u64),
    ProtocolError(ProtocolErrorKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestDecision {
    Allowed,
    Denied,
    /// Would have been denied; forwarded because the mode is `audit`.
    AuditDenied,
}

impl RequestDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestDecision::Allowed => "allowed",
            RequestDecision::Denied => "denied",
            RequestDecision::AuditDenied => "audit_denied",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolErrorKind {
    Oversize,
    Malformed,
    UnknownApi,
}

impl ProtocolErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolErrorKind::Oversize => "oversize",
            ProtocolErrorKind::Malformed => "malformed",
            ProtocolErrorKind::UnknownApi => "unknown_api",
        }
    }

    /// Classifies a close reason from the frame codec or the session.
    pub fn of_reason(reason: &str) -> Self {
        if reason.contains("maxFrameBytes") || reason.contains("negative frame size") {
            ProtocolErrorKind::Oversize
        } else if reason.contains("not supported") || reason.contains("unsupported") || reason.contains("unknown API") {
            ProtocolErrorKind::UnknownApi
        } else {
            ProtocolErrorKind::Malformed
        }
    }
}

pub fn requests(api: &str, decision: RequestDecision) -> String {
    format!("kafka_filter.requests;api={};decision={}", tag_value(api), decision.as_str())
}

pub fn request_latency(api: &str) -> String {
    format!("kafka_filter.request_latency_us;api={}", tag_value(api))
}

pub fn denied_by_principal(principal: &str) -> String {
    format!("kafka_filter.denied_by_principal;principal={}", tag_value(principal))
}

pub fn produced_bytes(principal: &str) -> String {
    format!("kafka_filter.produced_bytes;principal={}", tag_value(principal))
}

pub fn fetched_bytes(principal: &str) -> String {
    format!("kafka_filter.fetched_bytes;principal={}", tag_value(principal))
}

/// `identity_source`: spiffe, subject, anonymous or refused.
pub fn connections(identity_source: &str) -> String {
    format!("kafka_filter.connections;identity_source={}", tag_value(identity_source))
}

pub fn protocol_errors(kind: ProtocolErrorKind) -> String {
    format!("kafka_filter.protocol_errors;reason={}", kind.as_str())
}

/// Tag values must not contain the segment delimiter `;`, nor control bytes.
pub fn tag_value(value: &str) -> String {
    value.chars().map(|c| if c == ';' || c.is_control() { '_' } else { c }).collect()
}

/// Bounds the distinct values of one tag: past the cap, new values count under `other`, so a flood of
/// principals cannot grow the stats without limit.
#[derive(Debug, Clone)]
pub struct LabelCap {
    cap: usize,
    seen: HashSet<String>,
}

pub const OVERFLOW_LABEL: &str = "other";

impl LabelCap {
    pub fn new(cap: usize) -> Self {
        LabelCap { cap, seen: HashSet::new() }
    }

    /// The label to use for `value`.
    pub fn label<'a>(&mut self, value: &'a str) -> &'a str {
        if self.seen.contains(value) {
            return value;
        }
        if self.seen.len() < self.cap {
            self.seen.insert(value.to_string());
            return value;
        }
        OVERFLOW_LABEL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_tags() {
        assert_eq!(
            requests("Produce", RequestDecision::AuditDenied),
            "kafka_filter.requests;api=Produce;decision=audit_denied"
        );
        assert_eq!(denied_by_principal("User:CN=a;b=c"), "kafka_filter.denied_by_principal;principal=User:CN=a_b=c");
    }

    #[test]
    fn label_cap_overflows_into_other() {
        let mut cap = LabelCap::new(2);
        assert_eq!(cap.label("a"), "a");
        assert_eq!(cap.label("b"), "b");
        assert_eq!(cap.label("c"), OVERFLOW_LABEL);
        assert_eq!(cap.label("a"), "a");
    }

    #[test]
    fn protocol_error_kinds() {
        assert_eq!(ProtocolErrorKind::of_reason("frame size 5 exceeds maxFrameBytes 4"), ProtocolErrorKind::Oversize);
        assert_eq!(ProtocolErrorKind::of_reason("negative frame size -1"), ProtocolErrorKind::Oversize);
        assert_eq!(ProtocolErrorKind::of_reason("Foo v3: unsupported request: x"), ProtocolErrorKind::UnknownApi);
        assert_eq!(ProtocolErrorKind::of_reason("truncated or invalid request header"), ProtocolErrorKind::Malformed);
    }
}

//! Metrics: what the core counts (sans-IO [`Stat`]s drained by the glue) and how they are named for Envoy.
//!
//! Names carry their tags as `;tag=value` segments, e.g. `kafka_filter.requests;api=Produce;decision=allowed`.
//! Envoy prefixes custom wasm metrics with `wasmcustom.`; the shipped Envoy configurations have one
//! `stats_tags` rule per tag (regex `(;tag=([^;]*))`) that moves the segment into a real tag, so
//! `/stats/prometheus` shows `kafka_filter_requests{api="Produce",decision="allowed"}` (Envoy drops its custom-stat namespace in the Prometheus format).

use std::collections::HashSet;

use crate::frame::CloseKind;
use crate::policy::index::FxHashMap;

/// Every tag name used in metric names (for the Envoy `stats_tags` rules).
pub const TAGS: &[&str] = &["api", "decision", "principal", "topic", "identity_source", "reason"];

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
    /// The share of one topic in a forwarded Produce request (see [`crate::session`]'s topic bytes: the
    /// shares of a request's topics add up to its [`Stat::ProducedBytes`]).
    ProducedTopicBytes {
        topic: TopicId,
        bytes: u64,
    },
    /// The share of one topic in a forwarded Fetch response.
    FetchedTopicBytes {
        topic: TopicId,
        bytes: u64,
    },
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
}

/// The label of a close reason's kind, as the frame codec or the session closed the stream.
impl From<CloseKind> for ProtocolErrorKind {
    fn from(kind: CloseKind) -> Self {
        match kind {
            CloseKind::Oversize => ProtocolErrorKind::Oversize,
            CloseKind::Unsupported => ProtocolErrorKind::UnknownApi,
            // Never counted as a protocol error (the session reports it as an ending); total for the type's sake.
            CloseKind::Malformed | CloseKind::Ended(_) => ProtocolErrorKind::Malformed,
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

/// Bytes produced by one principal to one topic.
pub fn produced_bytes_by_topic(principal: &str, topic: &str) -> String {
    format!("kafka_filter.produced_bytes_by_topic;principal={};topic={}", tag_value(principal), tag_value(topic))
}

/// Bytes fetched by one principal from one topic.
pub fn fetched_bytes_by_topic(principal: &str, topic: &str) -> String {
    format!("kafka_filter.fetched_bytes_by_topic;principal={};topic={}", tag_value(principal), tag_value(topic))
}

/// `identity_source`: spiffe, subject, anonymous or refused.
pub fn connections(identity_source: &str) -> String {
    format!("kafka_filter.connections;identity_source={}", tag_value(identity_source))
}

pub fn protocol_errors(kind: ProtocolErrorKind) -> String {
    format!("kafka_filter.protocol_errors;reason={}", kind.as_str())
}

/// Bytes held undecided by the filter's connections (a gauge: summed over the workers' VMs).
pub fn held_bytes() -> String {
    "kafka_filter.held_bytes".to_string()
}

/// Connections closed for holding too many undecided bytes; `limit`: `connection` or `vm`.
pub fn held_bytes_exceeded(limit: &str) -> String {
    format!("kafka_filter.held_bytes_exceeded;limit={}", tag_value(limit))
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

/// A topic named by one connection's [`TopicNames`]; [`TopicId::OTHER`] past the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TopicId(pub u16);

impl TopicId {
    pub const OTHER: TopicId = TopicId(0);
}

/// Longest topic name kept as a label: Kafka refuses names over 249 characters, so a longer one (from a
/// broken client or broker) counts under `other` rather than growing the interner.
pub const MAX_TOPIC_NAME: usize = 249;

/// The topic names one connection has counted bytes for, so the hot path carries a small id instead of a
/// string. Bounded: past `cap` distinct names (or for an invalid name) the id is [`TopicId::OTHER`]. The
/// glue applies the VM-wide cap on top (a [`LabelCap`]), as for principals.
#[derive(Debug, Clone)]
pub struct TopicNames {
    cap: usize,
    /// Fx-hashed: looked up per forwarded Produce and Fetch answer; at most `cap` names are inserted, so
    /// chosen colliding names cannot grow a chain past that.
    ids: FxHashMap<Box<str>, TopicId>,
    /// By id; index 0 is `other`.
    names: Vec<Box<str>>,
    /// The ids last looked up: a connection produces to and fetches from a few topics, over and over, and
    /// comparing a name with these is cheaper than hashing it.
    recent: [TopicId; 2],
}

impl TopicNames {
    pub fn new(cap: u32) -> Self {
        // Ids are u16; the configuration allows far fewer topics than that.
        let cap = (cap as usize).min(u16::MAX as usize - 1);
        TopicNames { cap, ids: FxHashMap::default(), names: vec![OVERFLOW_LABEL.into()], recent: [TopicId::OTHER; 2] }
    }

    /// The id of a topic name as read off the wire (not UTF-8 or too long: `other`).
    pub fn id_of_bytes(&mut self, name: &[u8]) -> TopicId {
        match crate::protocol::wire::utf8(name) {
            Some(name) => self.id(name),
            None => TopicId::OTHER,
        }
    }

    pub fn id(&mut self, name: &str) -> TopicId {
        let [last, before] = self.recent;
        for id in [last, before] {
            if id != TopicId::OTHER && self.names.get(usize::from(id.0)).is_some_and(|n| **n == *name) {
                return id;
            }
        }
        let id = self.id_by_hash(name);
        if id != TopicId::OTHER && id != last {
            self.recent = [id, last];
        }
        id
    }

    fn id_by_hash(&mut self, name: &str) -> TopicId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        if self.ids.len() >= self.cap || name.len() > MAX_TOPIC_NAME {
            return TopicId::OTHER;
        }
        let id = TopicId(self.names.len() as u16);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The name of an id (`other` for [`TopicId::OTHER`] and unknown ids).
    pub fn name(&self, id: TopicId) -> &str {
        self.names.get(id.0 as usize).map_or(OVERFLOW_LABEL, |n| n)
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
    fn topic_names_are_interned_and_capped() {
        let mut names = TopicNames::new(2);
        let a = names.id("orders");
        assert_eq!((a, names.id("orders")), (TopicId(1), TopicId(1)));
        let b = names.id_of_bytes(b"payments");
        assert_eq!(names.name(b), "payments");
        assert_eq!(names.id("third"), TopicId::OTHER);
        assert_eq!(names.name(TopicId::OTHER), OVERFLOW_LABEL);
        assert_eq!(names.id("orders"), a, "known names keep their id past the cap");
        let mut names = TopicNames::new(10);
        assert_eq!(names.id_of_bytes(&[0xff, 0xfe]), TopicId::OTHER);
        assert_eq!(names.id(&"x".repeat(MAX_TOPIC_NAME + 1)), TopicId::OTHER);
        assert_eq!(names.name(TopicId(9)), OVERFLOW_LABEL);
        assert_eq!(
            produced_bytes_by_topic("User:CN=a", "orders"),
            "kafka_filter.produced_bytes_by_topic;principal=User:CN=a;topic=orders"
        );
    }

    #[test]
    fn protocol_error_kinds() {
        // The kinds as the sources give them: the frame codec (sizes) and the session (requests).
        let kind_of = |bytes: &[u8]| {
            let policy = br#"{"identity": {"unauthenticated": "anonymous"}, "authorization": {"mode": "enforce"}}"#;
            let cfg = std::rc::Rc::new(crate::config::Config::parse(policy).expect("valid policy"));
            let mut session = crate::session::Session::new(cfg, None);
            session.identify(&crate::identity::PeerInfo::default(), 0).expect("anonymous");
            let _ = session.on_downstream(bytes);
            let kinds: Vec<_> = session
                .drain_stats()
                .filter_map(|s| match s {
                    Stat::ProtocolError(kind) => Some(kind),
                    _ => None,
                })
                .collect();
            kinds
        };
        let oversize = (u32::MAX >> 1).to_be_bytes();
        assert_eq!(kind_of(&oversize), [ProtocolErrorKind::Oversize]);
        assert_eq!(kind_of(&(-1i32).to_be_bytes()), [ProtocolErrorKind::Oversize]);
        let unknown_api = crate::protocol::wire::request_frame(9999, 0, 1, None, &[]);
        assert_eq!(kind_of(&unknown_api), [ProtocolErrorKind::UnknownApi]);
        assert_eq!(kind_of(&[0, 0, 0, 2, 0, 0]), [ProtocolErrorKind::Malformed]);
    }
}

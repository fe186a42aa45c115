//! Request classification: from a request body to the authorization questions Kafka's authorizer asks.
//!
//! OWNER: kafka-api helper. Interface: `Requirement`, `Classification`, `classify`.

use crate::policy::Action;

/// Satisfied when any one of the alternatives is allowed (e.g. CreateTopics: Create on the cluster OR on
/// the topic). A request is allowed when all of its requirements are satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub any_of: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// More of the body is needed to decide (only returned when `body_prefix` is shorter than the body).
    NeedMore,
    /// ApiVersions, SaslHandshake, SaslAuthenticate: always allowed, never checked.
    Unchecked,
    /// All requirements must be satisfied. `expects_response` is false for Produce with acks=0.
    Checks { requirements: Vec<Requirement>, expects_response: bool },
    /// The filter cannot parse this API key/version: denied (fail closed) unless configured otherwise.
    Unsupported(String),
}

/// Classifies one request. `body_prefix` starts right after the request header; `body_len` is the full
/// body length (the frame may still be arriving). Must never panic on any input.
pub fn classify(_api_key: i16, _api_version: i16, _body_prefix: &[u8], _body_len: usize) -> Classification {
    Classification::Unsupported("not implemented".into())
}

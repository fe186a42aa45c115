//! Identity: from the downstream mTLS peer certificate to a Kafka principal.
//!
//! OWNER: identity helper. `PeerInfo`, `Identity`, `IdentitySource`, `Refusal`, `IdentityConfig` and
//! `IdentityMapper::{compile, identify}` are the interface the rest of the filter uses.

use serde::Deserialize;

/// What the host told us about the downstream connection (read in the first `on_downstream_data`).
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    /// Envoy `connection.mtls`: TLS with a peer certificate presented (and validated by Envoy).
    pub mtls: bool,
    /// Envoy `connection.peer_certificate`: the leaf certificate as PEM (Envoy >= 1.3x).
    pub peer_certificate_pem: Option<String>,
    /// Envoy `connection.uri_san_peer_certificate`: first URI SAN only (fallback).
    pub uri_san: Option<String>,
    /// Envoy `connection.subject_peer_certificate`: RFC 2253 subject (fallback).
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    Spiffe,
    Subject,
    Anonymous,
}

impl IdentitySource {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Spiffe => "spiffe",
            IdentitySource::Subject => "subject",
            IdentitySource::Anonymous => "anonymous",
        }
    }
}

/// The identity derived for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Full Kafka principal, e.g. `User:CN=kafka-default`.
    pub principal: String,
    pub source: IdentitySource,
}

/// Why a connection is refused (logged; the connection is closed before any byte reaches the broker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// `"identity"` section of the plugin configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityConfig {}

/// Compiled identity configuration.
#[derive(Debug, Clone, Default)]
pub struct IdentityMapper {}

impl IdentityMapper {
    pub fn compile(_cfg: &IdentityConfig) -> Result<Self, crate::config::FieldError> {
        Ok(Self {})
    }

    /// `now_unix`: current time in seconds, for certificate validity dates.
    pub fn identify(&self, peer: &PeerInfo, _now_unix: i64) -> Result<Identity, Refusal> {
        if peer.mtls {
            Err(Refusal("not implemented".into()))
        } else {
            Err(Refusal("no client certificate".into()))
        }
    }
}

//! What the host tells the filter about the downstream connection.

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

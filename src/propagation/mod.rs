//! Identity propagation: the banzaicloud preamble (`preamble`), or SASL (the rest of this module).
//!
//! By SASL: the filter authenticates to an unmodified broker's `SASL_PLAINTEXT` listener
//! on the client's behalf, as the Kafka user derived from the client's mTLS principal, before any client byte
//! is forwarded. The broker then authorizes (and audits) the connection as that user.
//!
//! Sans-IO: [`compile`] turns the `"propagation.sasl"` configuration (plus the VM environment, where the
//! secrets live) into a shared [`CompiledSasl`]; one [`SaslClient`] per connection produces the request frames
//! to send upstream and consumes the broker's responses, which the session swallows.
//!
//! Correlation ids: SASL requests use the reserved negative range [`RESERVED_CORRELATION_IDS`] (handshake
//! `-1`, then `-2`, `-3`, ... per SaslAuthenticate round). Kafka clients number requests upwards from 0, and
//! the client's requests are only forwarded after [`SaslStep::Done`], so a response is never ambiguous; the ids
//! are still checked so a desynchronised stream is refused rather than misread.
//!
//! Mechanisms: SCRAM-SHA-256/512 (RFC 5802, RFC 7677; the broker's server signature is verified, so the broker
//! must prove it knows the credential), PLAIN, and OAUTHBEARER (RFC 7628, KIP-255/KIP-768) with an ES256 JWT
//! the filter signs itself; [`jwks`] gives the broker the matching public key.

use std::ops::RangeInclusive;

mod config;
mod oauthbearer;
mod preamble;
mod provisioning;
mod sasl_client;
mod scram;
mod secret;
mod secrets;
mod signing_key;
#[cfg(test)]
mod tests;

pub use config::{EnvReference, OauthConfig, SaslConfig, SaslMechanism};
pub use preamble::banzai_preamble;
pub use provisioning::{jwks, provisioning};
pub use sasl_client::{SaslClient, SaslStep};
pub use scram::{scram_escape_username, SaltPassword, ScramClient, ScramHash};
pub use secrets::{compile, derive_password, CompiledSasl};

/// SaslHandshake version sent: v1 means the SASL tokens travel in SaslAuthenticate requests (Kafka >= 1.0).
pub const HANDSHAKE_VERSION: i16 = 1;
/// SaslAuthenticate version sent: v1 (Kafka >= 2.2) returns the session lifetime, and keeps the non-flexible
/// request header v1 and response header v0.
pub const AUTHENTICATE_VERSION: i16 = 1;
/// Correlation ids the SASL exchange may use; the client's own requests are never inspected for them because
/// none is forwarded before the exchange ends.
pub const RESERVED_CORRELATION_IDS: RangeInclusive<i32> = -16..=-1;
/// Client id of the filter's SASL requests (shows in broker request logs).
pub const SASL_CLIENT_ID: &str = "kafka-mtls-filter";
/// SCRAM iteration counts accepted from the broker: Kafka's minimum, and a ceiling that bounds the PBKDF2 cost
/// a broker can make the filter pay.
pub const SCRAM_ITERATIONS: RangeInclusive<u32> = 4096..=100_000;
/// Iteration count suggested by [`provisioning`] for new SCRAM credentials.
pub const PROVISIONING_SCRAM_ITERATIONS: u32 = 8192;
/// A SASL response frame larger than this is refused (SASL responses are a few hundred bytes).
pub const MAX_SASL_RESPONSE_BYTES: usize = 64 * 1024;
/// SaslAuthenticate rounds after which the exchange is refused (SCRAM needs 2, PLAIN and OAUTHBEARER 1).
pub(super) const MAX_AUTHENTICATE_ROUNDS: i32 = 4;
/// Salted passwords kept per compiled configuration (one per principal and broker salt in practice).
pub(super) const SALTED_PASSWORD_CACHE_ENTRIES: usize = 256;
/// Shortest `passwordSecretEnv` value accepted: the derivation is only as strong as this secret.
pub(super) const MIN_DERIVATION_SECRET_BYTES: usize = 16;
/// Shortest random input accepted for a SCRAM client nonce.
pub(super) const MIN_NONCE_BYTES: usize = 12;

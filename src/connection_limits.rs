//! When an open connection is ended although the client did nothing wrong (the `"connections"` section): a
//! policy update it cannot follow in place, a client certificate that expires, a maximum age, the broker's
//! SASL session lifetime. Each ends the connection at a request boundary (between requests, never in the middle
//! of one), and a connection that reaches no boundary (an idle client, a request waiting long for its answer)
//! is closed at the latest `maxCloseDelayMs` after the reason arose. A closed connection is retriable for every
//! Kafka client, which reconnects and is identified and authorized afresh: a Kafka broker itself closes a
//! connection whose SASL session expired at its next request (KIP-368).

use serde::Deserialize;

use crate::config_error::FieldError;

/// Why an open connection is ended (typed: counted by kind, never as a protocol error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The newest policy cannot be followed in place (another principal, propagation, tracking).
    PolicyUpdate,
    /// The client certificate's `notAfter` passed (`closeOnCertificateExpiry`).
    CertificateExpired,
    /// The connection is older than `maxAgeMs`.
    MaxAge,
    /// The broker's SASL session (proxy-run SASL, `connections.max.reauth.ms`) is about to expire.
    SaslSessionLifetime,
}

impl EndReason {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::PolicyUpdate => "policy_update",
            EndReason::CertificateExpired => "certificate_expired",
            EndReason::MaxAge => "max_age",
            EndReason::SaslSessionLifetime => "sasl_session_lifetime",
        }
    }
}

/// `"connections.onIncompatiblePolicyChange"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum OnIncompatibleChange {
    /// End the connection at its next request boundary (within `maxCloseDelayMs`): it reconnects under the
    /// new policy.
    #[default]
    CloseAtRequestBoundary,
    /// The connection keeps the whole policy it has (its ACLs too) until it ends by itself, and still follows
    /// later changes it can take in place: for changes rolled out by draining connections.
    KeepOldPolicy,
}

/// The `"connections"` section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionsConfig {
    #[serde(default)]
    pub on_incompatible_policy_change: OnIncompatibleChange,
    /// End the connection at the first request boundary after the client certificate's `notAfter`.
    #[serde(default = "yes")]
    pub close_on_certificate_expiry: bool,
    /// End the connection at the first request boundary after this age (0: no limit).
    #[serde(default)]
    pub max_age_ms: u64,
    /// A connection to be ended that reaches no request boundary is closed this long after the reason arose.
    #[serde(default = "default_max_close_delay_ms")]
    pub max_close_delay_ms: u64,
}

fn yes() -> bool {
    true
}

fn default_max_close_delay_ms() -> u64 {
    DEFAULT_MAX_CLOSE_DELAY_MS
}

pub const DEFAULT_MAX_CLOSE_DELAY_MS: u64 = 10_000;

/// Upper bound of `maxCloseDelayMs` and of `maxAgeMs` (one week): a typo must not mean "never".
pub const MAX_DURATION_MS: u64 = 7 * 24 * 3600 * 1000;

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            on_incompatible_policy_change: OnIncompatibleChange::default(),
            close_on_certificate_expiry: true,
            max_age_ms: 0,
            max_close_delay_ms: DEFAULT_MAX_CLOSE_DELAY_MS,
        }
    }
}

/// The compiled section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub on_incompatible: OnIncompatibleChange,
    pub close_on_certificate_expiry: bool,
    /// `None`: no limit.
    pub max_age_ms: Option<u64>,
    pub max_close_delay_ms: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits::compile(&ConnectionsConfig::default()).unwrap_or(ConnectionLimits {
            on_incompatible: OnIncompatibleChange::CloseAtRequestBoundary,
            close_on_certificate_expiry: true,
            max_age_ms: None,
            max_close_delay_ms: DEFAULT_MAX_CLOSE_DELAY_MS,
        })
    }
}

impl ConnectionLimits {
    pub fn compile(raw: &ConnectionsConfig) -> Result<Self, FieldError> {
        for (field, value) in [("maxAgeMs", raw.max_age_ms), ("maxCloseDelayMs", raw.max_close_delay_ms)] {
            if value > MAX_DURATION_MS {
                return Err(FieldError::new(
                    field,
                    format!("{value} is too large (at most {MAX_DURATION_MS}, a week)"),
                ));
            }
        }
        Ok(ConnectionLimits {
            on_incompatible: raw.on_incompatible_policy_change,
            close_on_certificate_expiry: raw.close_on_certificate_expiry,
            max_age_ms: Some(raw.max_age_ms).filter(|ms| *ms > 0),
            max_close_delay_ms: raw.max_close_delay_ms,
        })
    }
}

/// What one connection's time limits are measured from (ms since the epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifetime {
    /// When the connection was identified.
    pub started_ms: u64,
    /// The client certificate's `notAfter` (`None`: no certificate, or not read).
    pub certificate_not_after_ms: Option<u64>,
    /// When the filter must end the connection before the broker's SASL session expires.
    pub sasl_end_ms: Option<u64>,
}

impl Lifetime {
    /// The earliest time limit under `limits`, and why.
    pub fn deadline(&self, limits: &ConnectionLimits) -> Option<(u64, EndReason)> {
        let certificate = self
            .certificate_not_after_ms
            .filter(|_| limits.close_on_certificate_expiry)
            // notAfter is the last valid second: the certificate expires after it.
            .map(|ms| (ms.saturating_add(1_000), EndReason::CertificateExpired));
        let age = limits.max_age_ms.map(|ms| (self.started_ms.saturating_add(ms), EndReason::MaxAge));
        let sasl = self.sasl_end_ms.map(|ms| (ms, EndReason::SaslSessionLifetime));
        [certificate, age, sasl].into_iter().flatten().min_by_key(|(at, _)| *at)
    }
}

/// When to end a connection whose broker SASL session lasts `lifetime_ms` from `authenticated_ms`: at
/// `fraction_per_mille` of the lifetime (Kafka's own client re-authenticates at a random 85–95 %), so the
/// client reconnects before the broker closes the connection at its first request past the lifetime.
/// `None`: the broker set no lifetime (0).
pub fn sasl_end_ms(authenticated_ms: u64, lifetime_ms: i64, fraction_per_mille: u64) -> Option<u64> {
    let lifetime = u64::try_from(lifetime_ms).ok().filter(|ms| *ms > 0)?;
    Some(authenticated_ms.saturating_add(lifetime.saturating_mul(fraction_per_mille.min(1_000)) / 1_000))
}

/// A random point in Kafka's re-authentication window (850–950 per mille) from one random byte.
pub fn reauth_fraction_per_mille(random: u8) -> u64 {
    850 + u64::from(random) * 100 / 255
}

/// Describes a deadline for logs.
pub fn describe(reason: EndReason) -> &'static str {
    match reason {
        EndReason::PolicyUpdate => "the newest policy cannot be followed in place",
        EndReason::CertificateExpired => "the client certificate has expired",
        EndReason::MaxAge => "the connection reached connections.maxAgeMs",
        EndReason::SaslSessionLifetime => "the broker's SASL session lifetime is running out",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_limit_ends_the_connection() {
        let limits = ConnectionLimits { max_age_ms: Some(60_000), ..ConnectionLimits::default() };
        let lifetime =
            Lifetime { started_ms: 1_000, certificate_not_after_ms: Some(30_000), sasl_end_ms: Some(90_000) };
        assert_eq!(lifetime.deadline(&limits), Some((31_000, EndReason::CertificateExpired)));
        let off = ConnectionLimits { close_on_certificate_expiry: false, ..limits };
        assert_eq!(lifetime.deadline(&off), Some((61_000, EndReason::MaxAge)));
        assert_eq!(Lifetime::default().deadline(&ConnectionLimits::default()), None);
    }

    #[test]
    fn sasl_sessions_end_inside_kafkas_reauthentication_window() {
        assert_eq!(sasl_end_ms(1_000, 0, 900), None);
        assert_eq!(sasl_end_ms(1_000, 10_000, 900), Some(10_000));
        assert_eq!(reauth_fraction_per_mille(0), 850);
        assert_eq!(reauth_fraction_per_mille(255), 950);
    }

    #[test]
    fn durations_are_bounded() {
        let raw = ConnectionsConfig { max_close_delay_ms: MAX_DURATION_MS + 1, ..ConnectionsConfig::default() };
        assert_eq!(ConnectionLimits::compile(&raw).map_err(|e| e.field), Err("maxCloseDelayMs".to_string()));
    }
}

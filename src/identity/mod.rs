//! Identity: from the downstream mTLS peer certificate to a Kafka principal.
//!
//! Two sources, each giving a principal `User:<name>`:
//! - **SPIFFE** (in-mesh): the URI SAN `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>` rendered with
//!   a template (default `CN={namespace}-{serviceAccount}`). Istio leaf certificates have an empty subject, so this
//!   path never looks at the subject.
//! - **Subject** (outside the mesh): the subject DN formatted as Java's `X500Principal.getName()` (RFC 2253, what a
//!   Kafka broker sees) and mapped with Kafka's `ssl.principal.mapping.rules`, reproducing Kafka's
//!   `SslPrincipalMapper`: the same regex-based rule splitter, first rule matching the whole DN wins, `replaceAll`
//!   with `$n` references, `/L` `/U`, `DEFAULT`, and no matching rule refuses the connection.
//!
//! Patterns in mapping rules are Java regexes compiled here by `regex-lite` (imported as `regex`). Differences: no
//! look-around, no back-reference inside a pattern (`\1`), no possessive quantifier or atomic group (all refused at
//! configuration time); `.` matches `\r` here (not in Java). `\w \d \s \b` and `(?i)` are ASCII-only, as in Java.
//! A replacement Java would only reject when applied (`$4` with three groups, a trailing `\`) is a configuration
//! error here rather than a failure of each matching connection.
//!
//! Choices where Kafka has no say, all failing closed: a certificate with several SPIFFE IDs, a malformed SPIFFE
//! ID, or a trust domain not accepted is refused (no fallback to the subject); a SPIFFE ID not shaped
//! `/ns/../sa/..` when the template needs that shape counts as absent; a mapping that yields an empty name is
//! refused. Without `connection.peer_certificate` (older Envoy), the subject is Envoy's (OpenSSL's) RFC 2253
//! string, which can differ from Java's for attributes without RFC 2253 name (e.g. `emailAddress=` instead of the
//! dotted OID and hex) and non-ASCII values; only the first URI SAN is known.

use serde::Deserialize;

use crate::config_error::FieldError;

mod certificate;
mod mapping_rules;
mod peer;
mod rfc2253;
mod spiffe;
#[cfg(test)]
mod tests;

use certificate::{certificate_facts_from_pem, CertificateFacts};
// The OAUTHBEARER signing key's PEM is read with the same reader (src/propagation/signing_key.rs).
pub(crate) use certificate::first_pem_block;
pub use mapping_rules::PrincipalMappingRules;
pub use peer::PeerInfo;
pub use rfc2253::{rfc2253_escape, rfc2253_name};
use spiffe::{check_trust_domain, is_spiffe_uri};
pub use spiffe::{PrincipalTemplate, SpiffeId};

/// Principal given to connections without a client certificate when `unauthenticated` is `anonymous`.
pub const ANONYMOUS_PRINCIPAL: &str = "User:ANONYMOUS";

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

impl Identity {
    pub fn new(principal: impl Into<String>, source: IdentitySource) -> Self {
        Identity { principal: principal.into(), source }
    }
}

/// An identity with the certificate details it was derived from (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifiedPeer {
    pub identity: Identity,
    /// The certificate's SPIFFE ID, if it has one, whichever source gave the principal.
    pub spiffe_id: Option<String>,
    /// The certificate's subject DN (RFC 2253), if not empty.
    pub subject: Option<String>,
    /// The certificate's `notAfter` (seconds since the epoch), when the certificate itself was read.
    pub not_after: Option<i64>,
}

impl IdentifiedPeer {
    fn anonymous() -> Self {
        IdentifiedPeer {
            identity: Identity::new(ANONYMOUS_PRINCIPAL, IdentitySource::Anonymous),
            spiffe_id: None,
            subject: None,
            not_after: None,
        }
    }
}

/// Why a connection is refused (logged; the connection is closed before any byte reaches the broker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `"identity"` section of the plugin configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityConfig {
    #[serde(default)]
    pub spiffe: SpiffeConfig,
    #[serde(default)]
    pub subject: SubjectConfig,
    /// `spiffe` (default) or `subject`: the source used when a certificate carries both.
    #[serde(default)]
    pub prefer: Option<String>,
    /// `deny` (default) or `anonymous`: what to do with a connection without client certificate.
    #[serde(default)]
    pub unauthenticated: Option<String>,
}

/// `identity.spiffe`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpiffeConfig {
    /// Principal name template; placeholders `{trustDomain}`, `{namespace}`, `{serviceAccount}`, `{spiffeId}`.
    #[serde(default)]
    pub principal: Option<String>,
    /// Accepted trust domains; absent or empty accepts any.
    #[serde(default)]
    pub trust_domains: Option<Vec<String>>,
}

/// `identity.subject`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubjectConfig {
    /// Kafka `ssl.principal.mapping.rules`; absent or blank means `DEFAULT`.
    #[serde(default)]
    pub mapping_rules: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferredSource {
    Spiffe,
    Subject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnauthenticatedPolicy {
    Deny,
    Anonymous,
}

/// Compiled identity configuration.
#[derive(Debug, Clone)]
pub struct IdentityMapper {
    spiffe_principal: PrincipalTemplate,
    trust_domains: Vec<String>,
    mapping_rules: PrincipalMappingRules,
    prefer: PreferredSource,
    unauthenticated: UnauthenticatedPolicy,
}

impl Default for IdentityMapper {
    fn default() -> Self {
        IdentityMapper {
            spiffe_principal: PrincipalTemplate::default(),
            trust_domains: Vec::new(),
            mapping_rules: PrincipalMappingRules::default(),
            prefer: PreferredSource::Spiffe,
            unauthenticated: UnauthenticatedPolicy::Deny,
        }
    }
}

/// What one source (SPIFFE or subject) says about a certificate.
enum SourceOutcome {
    /// The source is not there (or not usable); the reason is reported if the other source is absent too.
    Absent(String),
    Found(String),
    Refused(String),
}

impl IdentityMapper {
    pub fn compile(cfg: &IdentityConfig) -> Result<Self, FieldError> {
        let spiffe_principal = match &cfg.spiffe.principal {
            None => PrincipalTemplate::default(),
            Some(text) => PrincipalTemplate::parse(text).map_err(|p| FieldError::new("spiffe.principal", p))?,
        };
        let mut trust_domains = Vec::new();
        for (i, domain) in cfg.spiffe.trust_domains.iter().flatten().enumerate() {
            check_trust_domain(domain)
                .map_err(|p| FieldError::new(format!("spiffe.trustDomains[{i}]"), format!("`{domain}`: {p}")))?;
            trust_domains.push(domain.clone());
        }
        // Absent means Kafka's default, `DEFAULT`. A text that splits into no rule (`""`, `",  , ,"`) is what
        // Kafka's SslPrincipalMapper makes of it: no rule, so no subject maps and every subject-identified client
        // is refused. Never DEFAULT in its place, which would admit principals Kafka refuses.
        let mapping_rules = match cfg.subject.mapping_rules.as_deref() {
            None => PrincipalMappingRules::default(),
            Some(text) => {
                let rules =
                    PrincipalMappingRules::parse(text).map_err(|p| FieldError::new("subject.mappingRules", p))?;
                if rules.is_empty() {
                    log::warn!("subject.mappingRules has no rule: every client identified by its subject is refused");
                }
                rules
            }
        };
        let prefer = match cfg.prefer.as_deref() {
            None | Some("spiffe") => PreferredSource::Spiffe,
            Some("subject") => PreferredSource::Subject,
            Some(other) => {
                return Err(FieldError::new(
                    "prefer",
                    format!("unknown value `{other}` (expected `spiffe` or `subject`)"),
                ))
            }
        };
        let unauthenticated = match cfg.unauthenticated.as_deref() {
            None | Some("deny") => UnauthenticatedPolicy::Deny,
            Some("anonymous") => UnauthenticatedPolicy::Anonymous,
            Some(other) => {
                return Err(FieldError::new(
                    "unauthenticated",
                    format!("unknown value `{other}` (expected `deny` or `anonymous`)"),
                ))
            }
        };
        Ok(IdentityMapper { spiffe_principal, trust_domains, mapping_rules, prefer, unauthenticated })
    }

    pub fn unauthenticated_policy(&self) -> UnauthenticatedPolicy {
        self.unauthenticated
    }

    pub fn preferred_source(&self) -> PreferredSource {
        self.prefer
    }

    /// `now_unix`: current time in seconds, for certificate validity dates.
    pub fn identify(&self, peer: &PeerInfo, now_unix: i64) -> Result<Identity, Refusal> {
        self.identify_detailed(peer, now_unix).map(|peer| peer.identity)
    }

    /// `identify`, with the SPIFFE ID and subject of the certificate for logs.
    pub fn identify_detailed(&self, peer: &PeerInfo, now_unix: i64) -> Result<IdentifiedPeer, Refusal> {
        if !peer.mtls {
            return self.without_certificate("no client certificate (connection is not mTLS)");
        }
        let facts = match non_empty(&peer.peer_certificate_pem) {
            // A PEM that does not parse is refused: Envoy's strings are no substitute for a certificate we cannot read.
            Some(pem) => certificate_facts_from_pem(pem, now_unix)?,
            None => {
                let uri_san = non_empty(&peer.uri_san);
                let subject = non_empty(&peer.subject);
                if uri_san.is_none() && subject.is_none() {
                    return self.without_certificate("no client certificate data from the host");
                }
                CertificateFacts {
                    uri_sans: uri_san.map(str::to_owned).into_iter().collect(),
                    subject: subject.unwrap_or_default().to_owned(),
                    not_after: None,
                }
            }
        };
        self.identify_facts(&facts)
    }

    /// The identity of a PEM certificate as `identify` would derive it (CLI `principal --cert`).
    pub fn principal_for_pem(&self, pem: &str, now_unix: i64) -> Result<Identity, Refusal> {
        let facts = certificate_facts_from_pem(pem, now_unix)?;
        self.identify_facts(&facts).map(|peer| peer.identity)
    }

    fn without_certificate(&self, reason: &str) -> Result<IdentifiedPeer, Refusal> {
        match self.unauthenticated {
            UnauthenticatedPolicy::Deny => Err(Refusal(format!("{reason}; unauthenticated connections are denied"))),
            UnauthenticatedPolicy::Anonymous => Ok(IdentifiedPeer::anonymous()),
        }
    }

    fn identify_facts(&self, facts: &CertificateFacts) -> Result<IdentifiedPeer, Refusal> {
        let spiffe_uris: Vec<&str> = facts.uri_sans.iter().map(String::as_str).filter(|u| is_spiffe_uri(u)).collect();
        let identity = |principal: String, source| IdentifiedPeer {
            identity: Identity { principal, source },
            spiffe_id: spiffe_uris.first().map(|s| (*s).to_owned()),
            subject: Some(facts.subject.clone()).filter(|s| !s.is_empty()),
            not_after: facts.not_after,
        };
        let (first_source, second_source) = match self.prefer {
            PreferredSource::Spiffe => (IdentitySource::Spiffe, IdentitySource::Subject),
            PreferredSource::Subject => (IdentitySource::Subject, IdentitySource::Spiffe),
        };
        let outcome = |source| match source {
            IdentitySource::Spiffe => self.spiffe_outcome(&spiffe_uris),
            _ => self.subject_outcome(&facts.subject),
        };
        let first_absent = match outcome(first_source) {
            SourceOutcome::Found(principal) => return Ok(identity(principal, first_source)),
            SourceOutcome::Refused(reason) => return Err(Refusal(reason)),
            SourceOutcome::Absent(reason) => reason,
        };
        match outcome(second_source) {
            SourceOutcome::Found(principal) => Ok(identity(principal, second_source)),
            SourceOutcome::Refused(reason) => Err(Refusal(reason)),
            SourceOutcome::Absent(reason) => {
                Err(Refusal(format!("no usable identity in the certificate: {first_absent}; {reason}")))
            }
        }
    }

    fn spiffe_outcome(&self, spiffe_uris: &[&str]) -> SourceOutcome {
        let uri = match spiffe_uris {
            [] => return SourceOutcome::Absent("no SPIFFE ID (URI SAN)".into()),
            [uri] => *uri,
            _ => {
                // An X.509 SVID carries exactly one SPIFFE ID; several leave no way to choose.
                return SourceOutcome::Refused(format!(
                    "certificate carries several SPIFFE IDs: {}",
                    spiffe_uris.join(", ")
                ));
            }
        };
        let id = match SpiffeId::parse(uri) {
            Ok(id) => id,
            Err(problem) => return SourceOutcome::Refused(format!("malformed SPIFFE ID `{uri}`: {problem}")),
        };
        if !self.trust_domains.is_empty() && !self.trust_domains.iter().any(|d| d == id.trust_domain()) {
            return SourceOutcome::Refused(format!(
                "SPIFFE ID `{uri}`: trust domain `{}` is not accepted (accepted: {})",
                id.trust_domain(),
                self.trust_domains.join(", ")
            ));
        }
        match self.spiffe_principal.render(&id) {
            Some(name) => SourceOutcome::Found(format!("User:{name}")),
            None => SourceOutcome::Absent(format!(
                "SPIFFE ID `{uri}` is not of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>"
            )),
        }
    }

    fn subject_outcome(&self, subject: &str) -> SourceOutcome {
        if subject.is_empty() {
            return SourceOutcome::Absent("empty subject".into());
        }
        match self.mapping_rules.map(subject) {
            Some(name) if name.is_empty() => {
                SourceOutcome::Refused(format!("subject `{subject}` maps to an empty principal name"))
            }
            Some(name) => SourceOutcome::Found(format!("User:{name}")),
            None => SourceOutcome::Refused(format!(
                "no principal mapping rule matches subject `{subject}` (rules {})",
                self.mapping_rules
            )),
        }
    }
}

/// The host's value unless absent or blank (not trimmed: a DN may end with an escaped space).
fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

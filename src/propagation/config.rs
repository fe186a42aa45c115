//! The `propagation.sasl` configuration section, as written.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `"propagation": {"mode": "sasl", "sasl": {...}}`: how the filter authenticates to the broker. Holds only
/// references to secrets (environment variable names), never the secrets themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaslConfig {
    pub mechanism: SaslMechanism,
    /// Kafka user name to authenticate as; `{principal}` is the full principal (`User:CN=a`),
    /// `{principalName}` the principal without its `User:` type. Default `{principalName}`.
    #[serde(default = "default_username")]
    pub username: String,
    /// Explicit passwords (SCRAM, PLAIN) per principal (`"User:CN=a"`), each read from a VM environment
    /// variable. Takes precedence over `passwordSecretEnv`.
    #[serde(default)]
    pub passwords: BTreeMap<String, EnvReference>,
    /// VM environment variable holding a secret from which every principal's password is derived:
    /// `base64url(HMAC-SHA256(secret, principal))` (see [`derive_password`]).
    #[serde(default)]
    pub password_secret_env: Option<String>,
    /// OAUTHBEARER token signing; required for, and only for, mechanism OAUTHBEARER.
    #[serde(default)]
    pub oauth: Option<OauthConfig>,
}

pub(super) fn default_username() -> String {
    "{principalName}".to_string()
}

/// `{"env": "VAR"}`: a value read from the VM environment when the configuration is compiled.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvReference {
    pub env: String,
}

/// `"oauth"`: the JWT the filter signs for OAUTHBEARER.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OauthConfig {
    /// VM environment variable holding the EC P-256 private key, PEM (PKCS#8 `PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`).
    pub signing_key_env: String,
    /// JWT `kid` and JWKS key id. Default: the key's RFC 7638 thumbprint.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `iss` claim (match it with the broker's `sasl.oauthbearer.expected.issuer`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// `aud` claim (match it with the broker's `sasl.oauthbearer.expected.audience`).
    #[serde(default)]
    pub audience: Option<String>,
    /// `scope` claim, if the broker expects one.
    #[serde(default)]
    pub scope: Option<String>,
    /// Token lifetime (`exp - iat`), 1..=86400 seconds. Default 300. It only bounds the broker session when
    /// the broker sets `connections.max.reauth.ms` (the filter does not re-authenticate; see [`SaslClient`]).
    #[serde(default = "default_lifetime_seconds")]
    pub lifetime_seconds: u64,
}

pub(super) fn default_lifetime_seconds() -> u64 {
    300
}

/// SASL mechanism the filter authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SaslMechanism {
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "OAUTHBEARER")]
    OauthBearer,
}

impl SaslMechanism {
    /// The name Kafka uses in SaslHandshake and `sasl.enabled.mechanisms`.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::OauthBearer => "OAUTHBEARER",
        }
    }
}

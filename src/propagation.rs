//! Identity propagation by SASL: the filter authenticates to an unmodified broker's `SASL_PLAINTEXT` listener
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

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::ops::RangeInclusive;
use std::rc::Rc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha512};

use crate::config_error::FieldError;
use crate::protocol::error_code;
use crate::protocol::wire;

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
const MAX_AUTHENTICATE_ROUNDS: i32 = 4;
/// Salted passwords kept per compiled configuration (one per principal and broker salt in practice).
const SALTED_PASSWORD_CACHE_ENTRIES: usize = 256;
/// Shortest `passwordSecretEnv` value accepted: the derivation is only as strong as this secret.
const MIN_DERIVATION_SECRET_BYTES: usize = 16;
/// Shortest random input accepted for a SCRAM client nonce.
const MIN_NONCE_BYTES: usize = 12;

// ---------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------

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

fn default_username() -> String {
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

fn default_lifetime_seconds() -> u64 {
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

    fn scram_hash(self) -> Option<ScramHash> {
        match self {
            SaslMechanism::ScramSha512 => Some(ScramHash::Sha512),
            SaslMechanism::ScramSha256 => Some(ScramHash::Sha256),
            SaslMechanism::Plain | SaslMechanism::OauthBearer => None,
        }
    }
}

/// A secret value: never printed.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum UsernamePart {
    Literal(String),
    Principal,
    PrincipalName,
}

#[derive(Debug)]
struct ExplicitPassword {
    env: String,
    password: Secret,
}

#[derive(Debug)]
struct DerivationSecret {
    env: String,
    secret: Secret,
}

struct CompiledOauth {
    signing_key: SigningKey,
    key_id: String,
    issuer: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
    lifetime_seconds: u64,
    jwks: String,
}

impl fmt::Debug for CompiledOauth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledOauth")
            .field("signing_key", &"<redacted>")
            .field("key_id", &self.key_id)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field("lifetime_seconds", &self.lifetime_seconds)
            .finish()
    }
}

/// The compiled `sasl` section, shared (behind `Rc`) by every connection of a filter instance. It owns the
/// resolved secrets and a small cache of SCRAM salted passwords, so PBKDF2 runs once per principal and broker
/// salt rather than once per connection. Single-threaded (wasm): the cache uses `RefCell`.
pub struct CompiledSasl {
    mechanism: SaslMechanism,
    username: Vec<UsernamePart>,
    passwords: BTreeMap<String, ExplicitPassword>,
    derivation: Option<DerivationSecret>,
    oauth: Option<CompiledOauth>,
    salted_passwords: RefCell<SaltedPasswordCache>,
}

impl fmt::Debug for CompiledSasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret wrappers redact themselves; list the explicit principals and their variables only.
        f.debug_struct("CompiledSasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("passwords", &self.passwords)
            .field("derivation", &self.derivation)
            .field("oauth", &self.oauth)
            .field("cached_salted_passwords", &self.cached_salted_passwords())
            .finish()
    }
}

/// Compiles the `sasl` section. `env` looks up a VM environment variable (the glue passes `std::env::var`,
/// which in proxy-wasm reads Envoy's `vm_config.environment_variables`). Field paths in errors are relative
/// to the `propagation` section (`sasl.passwords["User:CN=a"].env`).
pub fn compile(config: &SaslConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Rc<CompiledSasl>, FieldError> {
    let username = compile_username(&config.username).map_err(|p| FieldError::new("sasl.username", p))?;
    let mechanism = config.mechanism;
    let uses_passwords = mechanism != SaslMechanism::OauthBearer;

    if uses_passwords {
        if config.oauth.is_some() {
            return Err(FieldError::new(
                "sasl.oauth",
                format!("only used with mechanism OAUTHBEARER, not {}", mechanism.name()),
            ));
        }
        if config.passwords.is_empty() && config.password_secret_env.is_none() {
            return Err(FieldError::new(
                "sasl",
                format!("mechanism {} needs `passwords` or `passwordSecretEnv`", mechanism.name()),
            ));
        }
    } else {
        if !config.passwords.is_empty() {
            return Err(FieldError::new("sasl.passwords", "not used with mechanism OAUTHBEARER"));
        }
        if config.password_secret_env.is_some() {
            return Err(FieldError::new("sasl.passwordSecretEnv", "not used with mechanism OAUTHBEARER"));
        }
    }

    let mut passwords = BTreeMap::new();
    for (principal, reference) in &config.passwords {
        let field = format!("sasl.passwords[{principal:?}].env");
        if principal.is_empty() {
            return Err(FieldError::new(field, "empty principal"));
        }
        let password = read_env(env, &reference.env).map_err(|p| FieldError::new(field.clone(), p))?;
        if password.contains('\0') {
            return Err(FieldError::new(
                field,
                format!("environment variable `{}` contains a NUL byte", reference.env),
            ));
        }
        passwords
            .insert(principal.clone(), ExplicitPassword { env: reference.env.clone(), password: Secret(password) });
    }

    let derivation = match &config.password_secret_env {
        None => None,
        Some(var) => {
            let secret = read_env(env, var).map_err(|p| FieldError::new("sasl.passwordSecretEnv", p))?;
            if secret.len() < MIN_DERIVATION_SECRET_BYTES {
                return Err(FieldError::new(
                    "sasl.passwordSecretEnv",
                    format!("environment variable `{var}` holds fewer than {MIN_DERIVATION_SECRET_BYTES} bytes"),
                ));
            }
            Some(DerivationSecret { env: var.clone(), secret: Secret(secret) })
        }
    };

    let oauth = match (&config.oauth, mechanism) {
        (Some(oauth), _) => Some(compile_oauth(oauth, env)?),
        (None, SaslMechanism::OauthBearer) => {
            return Err(FieldError::new("sasl.oauth", "required for mechanism OAUTHBEARER"));
        }
        (None, _) => None,
    };

    Ok(Rc::new(CompiledSasl {
        mechanism,
        username,
        passwords,
        derivation,
        oauth,
        salted_passwords: RefCell::new(SaltedPasswordCache::default()),
    }))
}

fn read_env(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Result<String, String> {
    if var.is_empty() {
        return Err("empty environment variable name".into());
    }
    match env(var) {
        None => Err(format!("environment variable `{var}` is not set")),
        Some(v) if v.is_empty() => Err(format!("environment variable `{var}` is empty")),
        Some(v) => Ok(v),
    }
}

fn compile_username(template: &str) -> Result<Vec<UsernamePart>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(UsernamePart::Literal(rest.to_string()));
                rest = "";
            }
            Some(at) => {
                let (literal, tail) = rest.split_at(at);
                if !literal.is_empty() {
                    parts.push(UsernamePart::Literal(literal.to_string()));
                }
                let (part, after) = if let Some(after) = tail.strip_prefix("{principalName}") {
                    (UsernamePart::PrincipalName, after)
                } else if let Some(after) = tail.strip_prefix("{principal}") {
                    (UsernamePart::Principal, after)
                } else {
                    return Err(format!(
                        "unknown placeholder at `{tail}` (known: `{{principal}}`, `{{principalName}}`)"
                    ));
                };
                parts.push(part);
                rest = after;
            }
        }
    }
    if parts.is_empty() {
        return Err("empty user name template".into());
    }
    Ok(parts)
}

fn compile_oauth(config: &OauthConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<CompiledOauth, FieldError> {
    let pem = read_env(env, &config.signing_key_env).map_err(|p| FieldError::new("sasl.oauth.signingKeyEnv", p))?;
    let signing_key = parse_signing_key(&pem).map_err(|p| {
        FieldError::new("sasl.oauth.signingKeyEnv", format!("environment variable `{}`: {p}", config.signing_key_env))
    })?;
    if !(1..=86_400).contains(&config.lifetime_seconds) {
        return Err(FieldError::new("sasl.oauth.lifetimeSeconds", "must be between 1 and 86400"));
    }
    let point = signing_key.verifying_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(FieldError::new("sasl.oauth.signingKeyEnv", "public key has no affine coordinates"));
    };
    let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
    let key_id = match &config.key_id {
        Some(kid) if kid.is_empty() => return Err(FieldError::new("sasl.oauth.keyId", "empty key id")),
        Some(kid) => kid.clone(),
        // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
        None => {
            let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        }
    };
    let jwks = serde_json::json!({
        "keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": key_id, "use": "sig", "alg": "ES256"}]
    })
    .to_string();
    Ok(CompiledOauth {
        signing_key,
        key_id,
        issuer: config.issuer.clone(),
        audience: config.audience.clone(),
        scope: config.scope.clone(),
        lifetime_seconds: config.lifetime_seconds,
        jwks,
    })
}

fn parse_signing_key(pem: &str) -> Result<SigningKey, String> {
    let pem = pem.trim();
    if pem.contains("BEGIN EC PRIVATE KEY") {
        p256::SecretKey::from_sec1_pem(pem)
            .map(SigningKey::from)
            .map_err(|_| "not a valid SEC1 PEM EC P-256 private key".to_string())
    } else {
        SigningKey::from_pkcs8_pem(pem).map_err(|_| "not a valid PKCS#8 PEM EC P-256 private key".to_string())
    }
}

impl CompiledSasl {
    pub fn mechanism(&self) -> SaslMechanism {
        self.mechanism
    }

    /// Kafka user name the filter authenticates as for `principal`.
    pub fn username(&self, principal: &str) -> String {
        let name = principal.strip_prefix("User:").unwrap_or(principal);
        self.username
            .iter()
            .map(|part| match part {
                UsernamePart::Literal(s) => s.as_str(),
                UsernamePart::Principal => principal,
                UsernamePart::PrincipalName => name,
            })
            .collect()
    }

    /// Password for `principal` (SCRAM, PLAIN): the explicit one, else the derived one.
    fn password(&self, principal: &str) -> Result<Secret, String> {
        if let Some(explicit) = self.passwords.get(principal) {
            return Ok(explicit.password.clone());
        }
        match &self.derivation {
            Some(d) => derive_password(d.secret.0.as_bytes(), principal).map(Secret),
            None => Err(format!("no SASL password configured for principal {principal:?}")),
        }
    }

    /// Number of salted passwords currently cached.
    pub fn cached_salted_passwords(&self) -> usize {
        self.salted_passwords.try_borrow().map_or(0, |c| c.entries.len())
    }

    fn salted_password(&self, hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let key = SaltedPasswordCache::key(hash, password, salt, iterations);
        if let Ok(cache) = self.salted_passwords.try_borrow() {
            if let Some(hit) = cache.get(&key) {
                return hit;
            }
        }
        let salted = hash.salt_password(password, salt, iterations);
        if let Ok(mut cache) = self.salted_passwords.try_borrow_mut() {
            cache.insert(key, salted.clone());
        }
        salted
    }
}

/// `base64url(HMAC-SHA256(secret, principal))`, unpadded (43 characters): the password of `principal` when
/// `passwordSecretEnv` is used. `principal` is the full principal (`User:CN=a`).
pub fn derive_password(secret: &[u8], principal: &str) -> Result<String, String> {
    Ok(URL_SAFE_NO_PAD.encode(hmac_bytes(ScramHash::Sha256, secret, principal.as_bytes())?))
}

/// The JWKS document (one EC P-256 key) for the broker's `sasl.oauthbearer.jwks.endpoint.url`; `None` unless
/// the mechanism is OAUTHBEARER.
pub fn jwks(sasl: &CompiledSasl) -> Option<String> {
    sasl.oauth.as_ref().map(|o| o.jwks.clone())
}

/// Operator instructions: what to create on the broker so `principal` can authenticate. Contains the derived
/// password when `passwordSecretEnv` is used (it is meant for the operator's terminal, never for logs).
pub fn provisioning(sasl: &CompiledSasl, principal: &str) -> String {
    let user = sasl.username(principal);
    let mechanism = sasl.mechanism.name();
    let password = match (sasl.passwords.get(principal), &sasl.derivation) {
        (Some(explicit), _) => Ok(format!("<value of environment variable {}>", explicit.env)),
        (None, Some(derivation)) => derive_password(derivation.secret.0.as_bytes(), principal),
        (None, None) => Err(format!("no SASL password configured for principal {principal:?}")),
    };
    match sasl.mechanism {
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => match password {
            Ok(password) => format!(
                "# {principal} authenticates to the broker as SCRAM user {user:?} ({mechanism}){}.\n\
                 kafka-configs.sh --bootstrap-server <broker:port> --alter --entity-type users --entity-name {} \
                 --add-config {}\n",
                derivation_note(sasl, principal),
                shell_quote(&user),
                shell_quote(&format!("{mechanism}=[iterations={PROVISIONING_SCRAM_ITERATIONS},password={password}]")),
            ),
            Err(e) => format!("# {e}\n"),
        },
        SaslMechanism::Plain => match password {
            Ok(password) => {
                let mut out = format!(
                    "# {principal} authenticates to the broker as PLAIN user {user:?}{}. Add to the listener's JAAS \
                     configuration (listener.name.<listener>.plain.sasl.jaas.config):\n\
                     user_{user}=\"{password}\"\n",
                    derivation_note(sasl, principal),
                );
                // JAAS option names are bare tokens: `CN=a` cannot be one.
                if !user.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                    out.push_str(
                        "# This user name is not a valid JAAS option name; pick a `username` template that yields \
                         letters, digits, `.`, `_` and `-` only, or a broker-side PLAIN callback handler.\n",
                    );
                }
                out
            }
            Err(e) => format!("# {e}\n"),
        },
        SaslMechanism::OauthBearer => {
            let mut out = format!(
                "# {principal} authenticates with an ES256 JWT whose `sub` is {user:?}; the broker's principal is \
                 User:{user}. Nothing per user to create; on the broker's SASL_PLAINTEXT listener set:\n\
                 listener.name.<listener>.oauthbearer.sasl.server.callback.handler.class=\
                 org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler\n\
                 listener.name.<listener>.oauthbearer.sasl.jaas.config=\
                 org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;\n\
                 sasl.oauthbearer.jwks.endpoint.url=file:///<path to the JWKS printed by the filter>\n"
            );
            if let Some(oauth) = &sasl.oauth {
                if let Some(iss) = &oauth.issuer {
                    out.push_str(&format!("sasl.oauthbearer.expected.issuer={iss}\n"));
                }
                if let Some(aud) = &oauth.audience {
                    out.push_str(&format!("sasl.oauthbearer.expected.audience={aud}\n"));
                }
            }
            out.push_str(
                "# Kafka 4.x also needs the JVM property -Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=<that URL>.\n",
            );
            out
        }
    }
}

/// Where the password shown comes from, when it is derived.
fn derivation_note(sasl: &CompiledSasl, principal: &str) -> String {
    match &sasl.derivation {
        Some(d) if !sasl.passwords.contains_key(principal) => {
            format!("; password derived from environment variable {}", d.env)
        }
        _ => String::new(),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------------------------
// Salted password cache
// ---------------------------------------------------------------------------------------------------------

/// Bounded FIFO of SCRAM salted passwords. Keyed by a SHA-256 over (mechanism, password, salt, iterations)
/// so the cache holds no further copy of the password.
#[derive(Default)]
struct SaltedPasswordCache {
    entries: VecDeque<([u8; 32], Vec<u8>)>,
}

impl SaltedPasswordCache {
    fn key(hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([hash as u8]);
        // Length prefixes keep (password, salt) pairs from colliding by concatenation.
        h.update((password.len() as u64).to_be_bytes());
        h.update(password);
        h.update((salt.len() as u64).to_be_bytes());
        h.update(salt);
        h.update(iterations.to_be_bytes());
        h.finalize().into()
    }

    fn get(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    fn insert(&mut self, key: [u8; 32], salted: Vec<u8>) {
        if self.get(&key).is_some() {
            return;
        }
        if self.entries.len() >= SALTED_PASSWORD_CACHE_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back((key, salted));
    }
}

// ---------------------------------------------------------------------------------------------------------
// SCRAM (RFC 5802 / RFC 7677)
// ---------------------------------------------------------------------------------------------------------

/// Hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    Sha256 = 1,
    Sha512 = 2,
}

/// `HMAC(key, data)`. HMAC accepts keys of any length, so the error branch is unreachable in practice; it is
/// still propagated rather than unwrapped.
fn hmac_bytes(hash: ScramHash, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    const INVALID_KEY: &str = "HMAC key rejected";
    match hash {
        ScramHash::Sha256 => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| INVALID_KEY)?;
            mac.update(data);
            Ok(mac.finalize().into_bytes().to_vec())
        }
        ScramHash::Sha512 => {
            let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).map_err(|_| INVALID_KEY)?;
            mac.update(data);
            Ok(mac.finalize().into_bytes().to_vec())
        }
    }
}

/// Constant-time check of `HMAC(key, data) == expected`.
fn hmac_verify(hash: ScramHash, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    match hash {
        ScramHash::Sha256 => <Hmac<Sha256> as Mac>::new_from_slice(key).is_ok_and(|mut mac| {
            mac.update(data);
            mac.verify_slice(expected).is_ok()
        }),
        ScramHash::Sha512 => <Hmac<Sha512> as Mac>::new_from_slice(key).is_ok_and(|mut mac| {
            mac.update(data);
            mac.verify_slice(expected).is_ok()
        }),
    }
}

impl ScramHash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with HMAC of this hash, output one hash long.
    pub fn salt_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// `saslname` escaping (RFC 5802 section 5.1): `=` as `=3D`, `,` as `=2C`.
pub fn scram_escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// `Hi(password, salt, iterations)` for a hash: PBKDF2 directly, or through a cache.
pub type SaltPassword<'a> = dyn Fn(ScramHash, &[u8], &[u8], u32) -> Vec<u8> + 'a;

enum ScramState {
    AwaitServerFirst,
    AwaitServerFinal { server_key: Vec<u8>, auth_message: String },
    Done,
}

/// The client side of one SCRAM exchange, independent of Kafka framing.
pub struct ScramClient {
    hash: ScramHash,
    client_nonce: String,
    client_first_bare: String,
    password: Secret,
    state: ScramState,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("client_first_bare", &self.client_first_bare)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// `username` is the Kafka user (unescaped); `client_nonce` must be printable ASCII without `,`.
    pub fn new(hash: ScramHash, username: &str, password: &str, client_nonce: &str) -> Result<Self, String> {
        // Kafka's saslname grammar only admits ASCII 0x01-0x7F (no SASLprep).
        if username.is_empty() || !username.bytes().all(|b| (0x01..=0x7f).contains(&b)) {
            return Err(format!("user name {username:?} is not a SCRAM user name Kafka accepts (ASCII, non-empty)"));
        }
        if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err("SCRAM nonce must be printable ASCII without `,`".into());
        }
        let client_first_bare = format!("n={},r={client_nonce}", scram_escape_username(username));
        Ok(ScramClient {
            hash,
            client_nonce: client_nonce.to_string(),
            client_first_bare,
            password: Secret(password.to_string()),
            state: ScramState::AwaitServerFirst,
        })
    }

    /// `client-first-message`: GS2 header `n,,` (no channel binding, no authzid) + bare message.
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Computes `client-final-message` from `server-first-message`, salting with PBKDF2 directly.
    pub fn client_final(&mut self, server_first: &str) -> Result<String, String> {
        self.client_final_with(server_first, &|hash, password, salt, iterations| {
            hash.salt_password(password, salt, iterations)
        })
    }

    /// As [`ScramClient::client_final`], with the salting function supplied (the cache, in [`SaslClient`]).
    pub fn client_final_with(
        &mut self,
        server_first: &str,
        salt_password: &SaltPassword<'_>,
    ) -> Result<String, String> {
        if !matches!(self.state, ScramState::AwaitServerFirst) {
            return Err("SCRAM server-first-message out of order".into());
        }
        let (nonce, salt, iterations) = parse_server_first(server_first, &self.client_nonce)?;
        let client_final_without_proof = format!("c=biws,r={nonce}"); // biws = base64("n,,")
        let auth_message = format!("{},{server_first},{client_final_without_proof}", self.client_first_bare);

        let salted = salt_password(self.hash, self.password.0.as_bytes(), &salt, iterations);
        let client_key = hmac_bytes(self.hash, &salted, b"Client Key")?;
        let stored_key = self.hash.digest(&client_key);
        let client_signature = hmac_bytes(self.hash, &stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key.iter().zip(&client_signature).map(|(k, s)| k ^ s).collect();
        let server_key = hmac_bytes(self.hash, &salted, b"Server Key")?;

        self.state = ScramState::AwaitServerFinal { server_key, auth_message };
        Ok(format!("{client_final_without_proof},p={}", STANDARD.encode(proof)))
    }

    /// Checks `server-final-message`: `v=` must be the server signature for this exchange; `e=` is a refusal.
    pub fn verify_server_final(&mut self, server_final: &str) -> Result<(), String> {
        let ScramState::AwaitServerFinal { server_key, auth_message } = &self.state else {
            return Err("SCRAM server-final-message out of order".into());
        };
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(format!("broker refused SCRAM authentication: {}", printable(error)));
        }
        let Some(verifier) = first.strip_prefix("v=") else {
            return Err("SCRAM server-final-message has no verifier".into());
        };
        let signature = STANDARD.decode(verifier).map_err(|_| "SCRAM server signature is not base64".to_string())?;
        if !hmac_verify(self.hash, server_key, auth_message.as_bytes(), &signature) {
            return Err("SCRAM server signature mismatch: the broker does not know this user's credential".into());
        }
        self.state = ScramState::Done;
        Ok(())
    }
}

/// Parses `[reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]`.
fn parse_server_first(message: &str, client_nonce: &str) -> Result<(String, Vec<u8>, u32), String> {
    let mut attributes = message.split(',');
    let first = attributes.next().unwrap_or_default();
    if first.starts_with("m=") {
        return Err("SCRAM server requires an unsupported mandatory extension".into());
    }
    let nonce = first.strip_prefix("r=").ok_or("SCRAM server-first-message has no nonce")?;
    let salt = attributes.next().and_then(|a| a.strip_prefix("s=")).ok_or("SCRAM server-first-message has no salt")?;
    let iterations = attributes
        .next()
        .and_then(|a| a.strip_prefix("i="))
        .ok_or("SCRAM server-first-message has no iteration count")?;

    if nonce.len() <= client_nonce.len() || !nonce.starts_with(client_nonce) {
        return Err("SCRAM server nonce does not extend the client nonce".into());
    }
    if !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("SCRAM server nonce is not printable".into());
    }
    let salt = STANDARD.decode(salt).map_err(|_| "SCRAM salt is not base64".to_string())?;
    if salt.is_empty() || salt.len() > 256 {
        return Err("SCRAM salt length out of range".into());
    }
    let iterations: u32 = iterations.parse().map_err(|_| "SCRAM iteration count is not a number".to_string())?;
    if !SCRAM_ITERATIONS.contains(&iterations) {
        return Err(format!(
            "SCRAM iteration count {iterations} outside {}..={}",
            SCRAM_ITERATIONS.start(),
            SCRAM_ITERATIONS.end()
        ));
    }
    Ok((nonce.to_string(), salt, iterations))
}

/// Broker-supplied text for an error reason: bounded and with control characters escaped.
fn printable(text: &str) -> String {
    let bounded: String = text.chars().take(256).collect();
    bounded.escape_debug().to_string()
}

// ---------------------------------------------------------------------------------------------------------
// OAUTHBEARER
// ---------------------------------------------------------------------------------------------------------

/// Signs the ES256 JWT for `subject` at `now_unix`.
fn sign_jwt(oauth: &CompiledOauth, subject: &str, now_unix: u64) -> String {
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": oauth.key_id});
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), subject.into());
    claims.insert("iat".into(), now_unix.into());
    claims.insert("exp".into(), now_unix.saturating_add(oauth.lifetime_seconds).into());
    if let Some(iss) = &oauth.issuer {
        claims.insert("iss".into(), iss.as_str().into());
    }
    if let Some(aud) = &oauth.audience {
        claims.insert("aud".into(), aud.as_str().into());
    }
    if let Some(scope) = &oauth.scope {
        claims.insert("scope".into(), scope.as_str().into());
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::Value::Object(claims).to_string())
    );
    // RFC 6979 deterministic nonce: no random source needed. JWS wants the raw r || s form.
    let signature: Signature = oauth.signing_key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

// ---------------------------------------------------------------------------------------------------------
// Kafka exchange
// ---------------------------------------------------------------------------------------------------------

/// What the session does after a SASL response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this request frame upstream and feed the next response to [`SaslClient::on_response`].
    Send(Vec<u8>),
    /// Authenticated: release the client's held requests; later responses belong to the client.
    Done,
    /// Nothing to send: the next request was already sent (pipelined); feed the next response.
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    AwaitHandshake,
    AwaitAuthenticate,
    Done,
    Failed,
}

/// One connection's SASL exchange with the broker. The filter does not re-authenticate (KIP-368): if the
/// broker sets `connections.max.reauth.ms`, it closes the connection when [`SaslClient::session_lifetime_ms`]
/// runs out, and the client reconnects (a new exchange).
pub struct SaslClient {
    sasl: Rc<CompiledSasl>,
    username: String,
    phase: Phase,
    expected_correlation_id: i32,
    /// The expected response's API key and version.
    expected_api: (i16, i16),
    authenticate_rounds: i32,
    /// First SaslAuthenticate payload (holds the password for PLAIN, the token for OAUTHBEARER).
    initial_response: Secret,
    scram: Option<ScramClient>,
    session_lifetime_ms: Option<i64>,
    /// The first SaslAuthenticate went out with the handshake: (its correlation id).
    pipelined_authenticate: Option<i32>,
}

impl fmt::Debug for SaslClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslClient")
            .field("mechanism", &self.sasl.mechanism)
            .field("username", &self.username)
            .field("phase", &self.phase)
            .field("expected_correlation_id", &self.expected_correlation_id)
            .field("scram", &self.scram)
            .field("session_lifetime_ms", &self.session_lifetime_ms)
            .finish_non_exhaustive()
    }
}

impl SaslClient {
    /// Prepares the exchange for `principal` (e.g. `User:CN=a`). `now_unix` dates the OAUTHBEARER token;
    /// `nonce` (at least 12 random bytes, 24 recommended) becomes the SCRAM client nonce. Fails when no
    /// credential exists for the principal or its user name cannot be expressed in the mechanism.
    pub fn new(sasl: &Rc<CompiledSasl>, principal: &str, now_unix: u64, nonce: &[u8]) -> Result<Self, String> {
        let username = sasl.username(principal);
        if username.is_empty() {
            return Err(format!("empty SASL user name for principal {principal:?}"));
        }
        let mut scram = None;
        let initial_response = match sasl.mechanism {
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                if nonce.len() < MIN_NONCE_BYTES {
                    return Err(format!("SCRAM nonce needs at least {MIN_NONCE_BYTES} random bytes"));
                }
                let hash = sasl.mechanism.scram_hash().unwrap_or(ScramHash::Sha512);
                let password = sasl.password(principal)?;
                let client = ScramClient::new(hash, &username, &password.0, &URL_SAFE_NO_PAD.encode(nonce))?;
                let first = client.client_first();
                scram = Some(client);
                first
            }
            SaslMechanism::Plain => {
                if username.contains('\0') {
                    return Err("PLAIN user name contains a NUL byte".into());
                }
                let password = sasl.password(principal)?;
                format!("\0{username}\0{}", password.0)
            }
            SaslMechanism::OauthBearer => {
                let oauth = sasl.oauth.as_ref().ok_or("OAUTHBEARER without signing key")?;
                format!("n,,\x01auth=Bearer {}\x01\x01", sign_jwt(oauth, &username, now_unix))
            }
        };
        Ok(SaslClient {
            sasl: Rc::clone(sasl),
            username,
            phase: Phase::Start,
            expected_correlation_id: 0,
            expected_api: (0, 0),
            authenticate_rounds: 0,
            initial_response: Secret(initial_response),
            scram,
            session_lifetime_ms: None,
            pipelined_authenticate: None,
        })
    }

    /// The handshake and the first SaslAuthenticate together: the broker answers them in order, so a
    /// single-round mechanism (PLAIN, OAUTHBEARER) completes without waiting for the handshake's answer, and
    /// SCRAM saves a round trip. Empty if the exchange already started.
    pub fn pipelined_start(&mut self) -> Vec<u8> {
        let mut out = self.first_requests();
        if out.is_empty() {
            return out;
        }
        let handshake = (self.expected_correlation_id, self.expected_api);
        match self.authenticate_request(self.initial_response.0.clone().into_bytes()) {
            Ok(SaslStep::Send(frame)) => out.extend_from_slice(&frame),
            _ => {
                self.phase = Phase::Failed;
                return Vec::new();
            }
        }
        self.pipelined_authenticate = Some(self.expected_correlation_id);
        self.phase = Phase::AwaitHandshake;
        (self.expected_correlation_id, self.expected_api) = handshake;
        out
    }

    /// Whether the exchange will still send a request that must precede the client's requests (SCRAM's
    /// client-final before the server-first arrived).
    pub fn will_send_more(&self) -> bool {
        match self.phase {
            Phase::Start => true,
            Phase::AwaitHandshake => self.pipelined_authenticate.is_none() || self.scram.is_some(),
            Phase::AwaitAuthenticate => {
                self.scram.as_ref().is_some_and(|s| matches!(s.state, ScramState::AwaitServerFirst))
            }
            Phase::Done | Phase::Failed => false,
        }
    }

    /// The request frame(s) to send upstream before any client byte: the SaslHandshake. Empty if already
    /// called.
    pub fn first_requests(&mut self) -> Vec<u8> {
        if self.phase != Phase::Start {
            return Vec::new();
        }
        let request =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(self.sasl.mechanism.name()));
        let mut body = Vec::new();
        if request.encode(&mut body, HANDSHAKE_VERSION).is_err() {
            self.phase = Phase::Failed;
            return Vec::new();
        }
        let correlation_id = *RESERVED_CORRELATION_IDS.end();
        self.phase = Phase::AwaitHandshake;
        self.expected_correlation_id = correlation_id;
        self.expected_api = (ApiKey::SaslHandshake as i16, HANDSHAKE_VERSION);
        wire::request_frame(
            ApiKey::SaslHandshake as i16,
            HANDSHAKE_VERSION,
            correlation_id,
            Some(SASL_CLIENT_ID),
            &body,
        )
    }

    /// Whether the next upstream response belongs to this exchange (the session routes it here, not to the
    /// client).
    pub fn awaiting_response(&self) -> bool {
        matches!(self.phase, Phase::AwaitHandshake | Phase::AwaitAuthenticate)
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Kafka user name being authenticated.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Session lifetime the broker granted (SaslAuthenticate v1; 0 means no expiry), once done.
    pub fn session_lifetime_ms(&self) -> Option<i64> {
        self.session_lifetime_ms
    }

    /// Consumes one complete response frame (size prefix included). Any error is final: close the connection.
    pub fn on_response(&mut self, frame: &[u8]) -> Result<SaslStep, String> {
        let result = self.step(frame);
        if result.is_err() {
            self.phase = Phase::Failed;
        }
        result
    }

    fn step(&mut self, frame: &[u8]) -> Result<SaslStep, String> {
        if !self.awaiting_response() {
            return Err(format!("unexpected SASL response in phase {:?}", self.phase));
        }
        if frame.len() > MAX_SASL_RESPONSE_BYTES {
            return Err(format!("SASL response of {} bytes exceeds {MAX_SASL_RESPONSE_BYTES}", frame.len()));
        }
        let size = wire::frame_size(frame).ok_or("truncated SASL response")?;
        if usize::try_from(size).ok() != Some(frame.len().saturating_sub(wire::SIZE_PREFIX)) {
            return Err("SASL response size prefix does not match the frame".into());
        }
        let correlation_id = wire::response_correlation_id(frame).ok_or("truncated SASL response")?;
        if correlation_id != self.expected_correlation_id {
            return Err(format!(
                "SASL response correlation id {correlation_id}, expected {}",
                self.expected_correlation_id
            ));
        }
        let (api_key, version) = self.expected_api;
        let body = frame.get(wire::response_body_offset(api_key, version)..).ok_or("truncated SASL response")?;
        match self.phase {
            Phase::AwaitHandshake => self.on_handshake(body),
            _ => self.on_authenticate(body),
        }
    }

    fn on_handshake(&mut self, body: &[u8]) -> Result<SaslStep, String> {
        check_handshake_shape(body)?;
        let mut buf = body;
        let response = SaslHandshakeResponse::decode(&mut buf, HANDSHAKE_VERSION)
            .map_err(|e| format!("invalid SaslHandshake response: {e}"))?;
        match response.error_code {
            error_code::NONE => match self.pipelined_authenticate.take() {
                Some(correlation_id) => {
                    self.phase = Phase::AwaitAuthenticate;
                    self.expected_correlation_id = correlation_id;
                    self.expected_api = (ApiKey::SaslAuthenticate as i16, AUTHENTICATE_VERSION);
                    Ok(SaslStep::Wait)
                }
                None => self.authenticate_request(self.initial_response.0.clone().into_bytes()),
            },
            error_code::UNSUPPORTED_SASL_MECHANISM => {
                let enabled: Vec<String> = response.mechanisms.iter().map(|m| printable(m)).collect();
                Err(format!(
                    "broker listener does not enable SASL mechanism {} (enabled: {})",
                    self.sasl.mechanism.name(),
                    enabled.join(", ")
                ))
            }
            code => Err(format!("broker refused SaslHandshake with error code {code}")),
        }
    }

    fn on_authenticate(&mut self, body: &[u8]) -> Result<SaslStep, String> {
        let mut buf = body;
        let response = SaslAuthenticateResponse::decode(&mut buf, AUTHENTICATE_VERSION)
            .map_err(|e| format!("invalid SaslAuthenticate response: {e}"))?;
        if response.error_code != error_code::NONE {
            let message = response.error_message.as_deref().map(printable).unwrap_or_default();
            return Err(format!(
                "broker refused SASL {} authentication of {:?} (error code {}): {message}",
                self.sasl.mechanism.name(),
                self.username,
                response.error_code
            ));
        }
        let challenge = std::str::from_utf8(&response.auth_bytes);
        let sasl = Rc::clone(&self.sasl);
        match &mut self.scram {
            Some(scram) => match scram.state {
                ScramState::AwaitServerFirst => {
                    let server_first = challenge.map_err(|_| "SCRAM server-first-message is not UTF-8")?;
                    let salt = |hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32| {
                        sasl.salted_password(hash, password, salt, iterations)
                    };
                    let client_final = scram.client_final_with(server_first, &salt)?;
                    self.authenticate_request(client_final.into_bytes())
                }
                _ => {
                    let server_final = challenge.map_err(|_| "SCRAM server-final-message is not UTF-8")?;
                    scram.verify_server_final(server_final)?;
                    self.finish(response.session_lifetime_ms)
                }
            },
            None if response.auth_bytes.is_empty() => self.finish(response.session_lifetime_ms),
            // OAUTHBEARER answers a rejected token with an error challenge (RFC 7628 section 3.2.2).
            None => Err(format!(
                "broker challenged the {} exchange: {}",
                self.sasl.mechanism.name(),
                printable(&String::from_utf8_lossy(&response.auth_bytes))
            )),
        }
    }

    fn finish(&mut self, session_lifetime_ms: i64) -> Result<SaslStep, String> {
        self.phase = Phase::Done;
        self.session_lifetime_ms = Some(session_lifetime_ms);
        Ok(SaslStep::Done)
    }

    fn authenticate_request(&mut self, auth_bytes: Vec<u8>) -> Result<SaslStep, String> {
        self.authenticate_rounds += 1;
        if self.authenticate_rounds > MAX_AUTHENTICATE_ROUNDS {
            return Err("too many SASL rounds".into());
        }
        let request = SaslAuthenticateRequest::default().with_auth_bytes(auth_bytes.into());
        let mut body = Vec::new();
        request.encode(&mut body, AUTHENTICATE_VERSION).map_err(|e| format!("encode SaslAuthenticate: {e}"))?;
        let correlation_id = RESERVED_CORRELATION_IDS.end() - self.authenticate_rounds;
        self.phase = Phase::AwaitAuthenticate;
        self.expected_correlation_id = correlation_id;
        self.expected_api = (ApiKey::SaslAuthenticate as i16, AUTHENTICATE_VERSION);
        Ok(SaslStep::Send(wire::request_frame(
            ApiKey::SaslAuthenticate as i16,
            AUTHENTICATE_VERSION,
            correlation_id,
            Some(SASL_CLIENT_ID),
            &body,
        )))
    }
}

/// Bounds the SaslHandshake v1 response before kafka-protocol decodes it: its decoder reserves the array
/// count read off the wire, so the count must fit the bytes present (each string takes at least 2 bytes).
fn check_handshake_shape(body: &[u8]) -> Result<(), String> {
    let mut r = wire::Reader::new(body);
    r.i16().ok_or("truncated SaslHandshake response")?;
    let count = r.i32().ok_or("truncated SaslHandshake response")?;
    let count = usize::try_from(count).map_err(|_| "negative mechanism count in SaslHandshake response")?;
    if count > r.remaining() / 2 {
        return Err("SaslHandshake response mechanism count exceeds its bytes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_template() {
        assert_eq!(compile_username("{principalName}").unwrap(), vec![UsernamePart::PrincipalName]);
        assert_eq!(
            compile_username("kmf-{principal}").unwrap(),
            vec![UsernamePart::Literal("kmf-".into()), UsernamePart::Principal]
        );
        assert!(compile_username("{nope}").unwrap_err().contains("unknown placeholder"));
        assert!(compile_username("a}").is_err());
        assert!(compile_username("").is_err());
    }

    #[test]
    fn server_first_checks() {
        let ok = "r=abcXYZ,s=QSXCR+Q6sek8bf92,i=4096";
        assert_eq!(parse_server_first(ok, "abc").unwrap().2, 4096);
        assert!(parse_server_first("r=abc,s=QSXCR+Q6sek8bf92,i=4096", "abc").is_err(), "nonce not extended");
        assert!(parse_server_first("r=zzzXYZ,s=QSXCR+Q6sek8bf92,i=4096", "abc").is_err(), "nonce prefix");
        assert!(parse_server_first("r=abcX,s=QSXCR+Q6sek8bf92,i=1024", "abc").unwrap_err().contains("iteration"));
        assert!(parse_server_first("r=abcX,s=QSXCR+Q6sek8bf92,i=4000000", "abc").is_err());
        assert!(parse_server_first("m=x,r=abcX,s=QSXC,i=4096", "abc").unwrap_err().contains("mandatory"));
        assert!(parse_server_first("r=abcX,s=!!,i=4096", "abc").unwrap_err().contains("base64"));
        assert!(parse_server_first("r=abcX,i=4096", "abc").is_err());
        assert!(parse_server_first("", "abc").is_err());
    }

    #[test]
    fn handshake_shape_refuses_huge_counts() {
        let mut body = vec![0, 0];
        body.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(check_handshake_shape(&body).is_err());
        let mut body = vec![0, 0];
        body.extend_from_slice(&(-1i32).to_be_bytes());
        assert!(check_handshake_shape(&body).is_err());
    }

    #[test]
    fn cache_is_bounded() {
        let mut cache = SaltedPasswordCache::default();
        for i in 0..(SALTED_PASSWORD_CACHE_ENTRIES as u32 + 10) {
            cache.insert(SaltedPasswordCache::key(ScramHash::Sha256, b"pw", b"salt", i), vec![1]);
        }
        assert_eq!(cache.entries.len(), SALTED_PASSWORD_CACHE_ENTRIES);
        assert!(cache.get(&SaltedPasswordCache::key(ScramHash::Sha256, b"pw", b"salt", 0)).is_none());
        assert_ne!(
            SaltedPasswordCache::key(ScramHash::Sha256, b"ab", b"c", 1),
            SaltedPasswordCache::key(ScramHash::Sha256, b"a", b"bc", 1)
        );
    }
}

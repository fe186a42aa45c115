//! The SASL configuration compiled with its secrets (passwords, the derivation secret, the OAUTHBEARER
//! signing key) read from the VM environment; secrets never show in `Debug`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};

use super::config::{OauthConfig, SaslConfig, SaslMechanism};
use super::scram::{hmac_bytes, SaltedPasswordCache, ScramHash};
use super::secret::Secret;
use super::signing_key::parse_signing_key;
use super::MIN_DERIVATION_SECRET_BYTES;
use crate::config_error::FieldError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UsernamePart {
    Literal(String),
    Principal,
    PrincipalName,
}

#[derive(Debug)]
pub(super) struct ExplicitPassword {
    pub(super) env: String,
    pub(super) password: Secret,
}

#[derive(Debug)]
pub(super) struct DerivationSecret {
    pub(super) env: String,
    pub(super) secret: Secret,
}

pub(super) struct CompiledOauth {
    pub(super) signing_key: SigningKey,
    pub(super) key_id: String,
    pub(super) issuer: Option<String>,
    pub(super) audience: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) lifetime_seconds: u64,
    pub(super) jwks: String,
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
    pub(super) mechanism: SaslMechanism,
    pub(super) username: Vec<UsernamePart>,
    pub(super) passwords: BTreeMap<String, ExplicitPassword>,
    pub(super) derivation: Option<DerivationSecret>,
    pub(super) oauth: Option<CompiledOauth>,
    pub(super) salted_passwords: RefCell<SaltedPasswordCache>,
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

pub(super) fn read_env(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Result<String, String> {
    if var.is_empty() {
        return Err("empty environment variable name".into());
    }
    match env(var) {
        None => Err(format!("environment variable `{var}` is not set")),
        Some(v) if v.is_empty() => Err(format!("environment variable `{var}` is empty")),
        Some(v) => Ok(v),
    }
}

pub(super) fn compile_username(template: &str) -> Result<Vec<UsernamePart>, String> {
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

pub(super) fn compile_oauth(
    config: &OauthConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CompiledOauth, FieldError> {
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
    pub(super) fn password(&self, principal: &str) -> Result<Secret, String> {
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

    pub(super) fn salted_password(&self, hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
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

//! SCRAM (RFC 5802 / RFC 7677): the client side, with a cache of salted passwords.

use std::collections::VecDeque;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::config::SaslMechanism;
use super::secret::Secret;
use super::{SALTED_PASSWORD_CACHE_ENTRIES, SCRAM_ITERATIONS};

/// Bounded FIFO of SCRAM salted passwords. Keyed by a SHA-256 over (mechanism, password, salt, iterations)
/// so the cache holds no further copy of the password.
#[derive(Default)]
pub(super) struct SaltedPasswordCache {
    pub(super) entries: VecDeque<([u8; 32], Vec<u8>)>,
}

impl SaltedPasswordCache {
    pub(super) fn key(hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
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

    pub(super) fn get(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    pub(super) fn insert(&mut self, key: [u8; 32], salted: Vec<u8>) {
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

impl SaslMechanism {
    pub(super) fn scram_hash(self) -> Option<ScramHash> {
        match self {
            SaslMechanism::ScramSha512 => Some(ScramHash::Sha512),
            SaslMechanism::ScramSha256 => Some(ScramHash::Sha256),
            SaslMechanism::Plain | SaslMechanism::OauthBearer => None,
        }
    }
}

/// Hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    Sha256 = 1,
    Sha512 = 2,
}

/// `HMAC(key, data)`. HMAC accepts keys of any length, so the error branch is unreachable in practice; it is
/// still propagated rather than unwrapped.
pub(super) fn hmac_bytes(hash: ScramHash, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
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
pub(super) fn hmac_verify(hash: ScramHash, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
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
    pub(super) fn digest(self, data: &[u8]) -> Vec<u8> {
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

pub(super) enum ScramState {
    AwaitServerFirst,
    AwaitServerFinal { server_key: Vec<u8>, auth_message: String },
    Done,
}

/// The client side of one SCRAM exchange, independent of Kafka framing.
pub struct ScramClient {
    pub(super) hash: ScramHash,
    pub(super) client_nonce: String,
    pub(super) client_first_bare: String,
    pub(super) password: Secret,
    pub(super) state: ScramState,
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
pub(super) fn parse_server_first(message: &str, client_nonce: &str) -> Result<(String, Vec<u8>, u32), String> {
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
pub(super) fn printable(text: &str) -> String {
    let bounded: String = text.chars().take(256).collect();
    bounded.escape_debug().to_string()
}

//! OAUTHBEARER (RFC 7628, KIP-255/KIP-768): the ES256 JWT the filter signs itself.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::Signature;

use super::secrets::CompiledOauth;

/// Signs the ES256 JWT for `subject` at `now_unix`.
pub(super) fn sign_jwt(oauth: &CompiledOauth, subject: &str, now_unix: u64) -> String {
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

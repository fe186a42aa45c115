//! Unit tests of the parts of propagation not reachable from its public API.

use super::sasl_client::{authenticate_request, handshake_request, AuthenticateResponse, HandshakeResponse};
use super::scram::ScramHash;
use super::scram::{parse_server_first, SaltedPasswordCache};
use super::secrets::{compile_username, UsernamePart};
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
fn handshake_response_refuses_huge_and_negative_counts() {
    let mut body = vec![0, 0];
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(HandshakeResponse::read(&body).is_err());
    let mut body = vec![0, 0];
    body.extend_from_slice(&(-2i32).to_be_bytes());
    assert!(HandshakeResponse::read(&body).is_err());
}

/// The SASL messages the filter writes and reads by hand, against kafka-protocol's codec at the versions sent.
#[test]
fn sasl_messages_equal_kafka_protocols_codec() {
    use kafka_protocol::messages::{
        SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    let s = |text: &str| StrBytes::from_string(text.to_string());
    let encoded = |message: &dyn Fn(&mut Vec<u8>)| {
        let mut body = Vec::new();
        message(&mut body);
        body
    };

    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER"] {
        let theirs = SaslHandshakeRequest::default().with_mechanism(s(mechanism));
        let expected = encoded(&|b| theirs.encode(b, HANDSHAKE_VERSION).unwrap());
        assert_eq!(handshake_request(mechanism), expected);
        assert_eq!(SaslHandshakeRequest::decode(&mut expected.as_slice(), HANDSHAKE_VERSION).unwrap(), theirs);
    }
    for auth in [&b""[..], b"n,,n=user,r=nonce", &[7u8; 300]] {
        let theirs = SaslAuthenticateRequest::default().with_auth_bytes(auth.to_vec().into());
        let expected = encoded(&|b| theirs.encode(b, AUTHENTICATE_VERSION).unwrap());
        assert_eq!(authenticate_request(auth).unwrap(), expected);
    }

    for (code, mechanisms) in [(0, &[][..]), (33, &["PLAIN", "SCRAM-SHA-512"])] {
        let theirs = SaslHandshakeResponse::default()
            .with_error_code(code)
            .with_mechanisms(mechanisms.iter().map(|m| s(m)).collect());
        let body = encoded(&|b| theirs.encode(b, HANDSHAKE_VERSION).unwrap());
        let ours = HandshakeResponse::read(&body).unwrap();
        assert_eq!((ours.error_code, ours.mechanisms.as_slice()), (code, mechanisms));
        for end in 0..body.len() {
            assert!(HandshakeResponse::read(&body[..end]).is_err(), "truncated at {end}");
        }
    }
    for (code, message, auth, lifetime) in [(0, None, &b""[..], 0), (58, Some("bad credentials"), b"v=sig", 3_600_000)]
    {
        let theirs = SaslAuthenticateResponse::default()
            .with_error_code(code)
            .with_error_message(message.map(s))
            .with_auth_bytes(auth.to_vec().into())
            .with_session_lifetime_ms(lifetime);
        let body = encoded(&|b| theirs.encode(b, AUTHENTICATE_VERSION).unwrap());
        let ours = AuthenticateResponse::read(&body).unwrap();
        assert_eq!(
            (ours.error_code, ours.error_message, ours.auth_bytes, ours.session_lifetime_ms),
            (code, message, auth, lifetime)
        );
        for end in 0..body.len() {
            assert!(AuthenticateResponse::read(&body[..end]).is_err(), "truncated at {end}");
        }
    }
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

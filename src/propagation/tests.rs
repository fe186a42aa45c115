//! Unit tests of the parts of propagation not reachable from its public API.

use super::sasl_client::check_handshake_shape;
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

//! Clients with a valid certificate trying to choose their identity or to make the filter wait: bytes
//! shaped like an identity preamble at any request boundary, and requests whose header already shows they
//! cannot be read, are refused from their first bytes, in every propagation and authorization mode.

mod common;

use std::rc::Rc;

use common::downstream;
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::{Event, Session};
use kafka_protocol::messages::ApiKey;

const NONCE: [u8; 24] = [7; 24];

/// Every propagation mode with every authorization mode (and `unknownRequests: allow`).
fn configs() -> Vec<String> {
    let propagations = [
        r#"{"mode": "none"}"#,
        r#"{"mode": "banzai-preamble"}"#,
        r#"{"mode": "sasl", "sasl": {"mechanism": "PLAIN", "passwords": {"User:ANONYMOUS": {"env": "PW"}}}}"#,
    ];
    let authorizations = [
        r#"{"mode": "off"}"#,
        r#"{"mode": "audit"}"#,
        r#"{"mode": "enforce"}"#,
        r#"{"mode": "enforce", "unknownRequests": "allow"}"#,
    ];
    let mut out = Vec::new();
    for p in propagations {
        for a in authorizations {
            out.push(format!(
                r#"{{"identity": {{"unauthenticated": "anonymous"}}, "propagation": {p}, "authorization": {a}}}"#
            ));
        }
    }
    out
}

fn session(json: &str) -> Session {
    let env = |name: &str| (name == "PW").then(|| "pw".to_string());
    let cfg = Config::parse_with_env(json.as_bytes(), &env).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify_with_nonce(&PeerInfo::default(), 1_700_000_000, &NONCE).expect("anonymous allowed");
    s
}

/// A client-made preamble: 2-byte length then `BZC_UID:<identity>`, padded to the frame size its first
/// four bytes claim when `padded` (what a preamble-reading broker would then read as one request).
fn preamble(identity: &str, padded: bool) -> Vec<u8> {
    let text = format!("BZC_UID:{identity}");
    let mut out = (text.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    if padded {
        let claimed = wire::frame_size(&out).unwrap() as usize + 4;
        out.resize(claimed, b' ');
    }
    out
}

fn api_versions(correlation_id: i32) -> Vec<u8> {
    wire::request_frame(ApiKey::ApiVersions as i16, 0, correlation_id, Some("c"), &[])
}

/// Feeds `bytes` in chunks of `step`, until the session closes: what was forwarded, and whether it closed
/// with the bytes fed so far.
fn feed(s: &mut Session, bytes: &[u8], step: usize) -> (Vec<u8>, Option<(String, usize)>) {
    let mut forwarded = Vec::new();
    for (i, chunk) in bytes.chunks(step).enumerate() {
        let out = s.on_downstream(chunk);
        if let Some(reason) = out.close {
            return (forwarded, Some((reason.to_string(), i * step + chunk.len())));
        }
        forwarded.extend(apply_edits(chunk, &out.edits));
    }
    (forwarded, None)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_preamble_first_is_refused_in_every_mode() {
    for json in configs() {
        for step in [1, 5, 1 << 20] {
            let mut s = session(&json);
            let (forwarded, closed) = feed(&mut s, &preamble("User:CN=kafka-admin", true), step);
            let (reason, at) = closed.unwrap_or_else(|| panic!("not closed: {json} step {step}"));
            assert!(reason.contains("identity preamble"), "{reason}");
            assert!(at < 6 + step, "closed after {at} bytes: {json}");
            assert!(!contains(&forwarded, b"kafka-admin"), "{json}");
        }
    }
}

#[test]
fn a_preamble_after_a_first_request_is_refused_before_its_claimed_size() {
    for json in configs() {
        for step in [1, 7, 1 << 20] {
            let mut s = session(&json);
            let first = api_versions(1);
            let forwarded = downstream(&mut s, &first);
            assert!(contains(&forwarded, &first), "{json}");
            let spoof = preamble("User:CN=kafka-admin", true);
            let (forwarded, closed) = feed(&mut s, &spoof, step);
            let (reason, at) = closed.unwrap_or_else(|| panic!("not closed: {json} step {step}"));
            assert!(reason.contains("identity preamble"), "{reason}");
            assert!(at < 6 + step, "closed after {at} of {} bytes: {json}", spoof.len());
            assert!(!contains(&forwarded, b"BZC_"), "{json}");
        }
    }
}

#[test]
fn a_preamble_pipelined_behind_a_request_is_refused_and_not_forwarded() {
    for json in configs() {
        let mut s = session(&json);
        let bytes = [api_versions(1), preamble("User:CN=kafka-admin", true)].concat();
        let out = s.on_downstream(&bytes);
        assert!(out.close.is_some_and(|r| r.contains("identity preamble")), "{json}");
    }
}

#[test]
fn api_key_17247_is_refused_from_its_header_in_every_mode() {
    // The header a preamble reads as: `C_` is the API key, then a claimed megabyte of body.
    let mut frame = 1_000_000u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&17247i16.to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0]);
    for json in configs() {
        let mut s = session(&json);
        downstream(&mut s, &api_versions(1));
        let out = s.on_downstream(&frame);
        assert!(out.close.is_some_and(|r| r.contains("identity preamble")), "{json}");
    }
}

/// A header whose API key or version the filter cannot read, then a claimed megabyte of body.
fn unreadable_header(api_key: i16, version: i16) -> Vec<u8> {
    let mut frame = 1_000_000u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&api_key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&5i32.to_be_bytes());
    // A client id claiming more bytes than sent: the header itself is not complete either.
    frame.extend_from_slice(&30_000i16.to_be_bytes());
    frame
}

#[test]
fn an_unknown_api_key_or_version_closes_from_the_fixed_header_under_deny() {
    for json in configs().into_iter().filter(|j| j.contains(r#""mode": "enforce"}"#)) {
        for (key, version) in [(1000, 0), (ApiKey::Produce as i16, 99), (-3, 0)] {
            let mut s = session(&json);
            downstream(&mut s, &api_versions(1));
            let header = unreadable_header(key, version);
            let (forwarded, closed) = feed(&mut s, &header, 1);
            let (reason, at) = closed.unwrap_or_else(|| panic!("not closed: {json} {key} v{version}"));
            assert!(reason.contains("unsupported request"), "{reason}");
            assert_eq!(at, 12, "closed once the fixed header is here: {json}");
            assert!(forwarded.is_empty(), "{json}");
            let events = s.take_events();
            let denied = events.iter().any(|e| matches!(e, Event::Decision(d) if !d.allowed && d.correlation_id == 5));
            assert!(denied, "{events:?}");
        }
    }
}

#[test]
fn an_unknown_api_key_is_not_judged_early_when_allowed_or_audited() {
    for json in configs().into_iter().filter(|j| !j.contains(r#""mode": "enforce"}"#)) {
        let mut s = session(&json);
        downstream(&mut s, &api_versions(1));
        let out = s.on_downstream(&unreadable_header(1000, 0));
        assert_eq!(out.close, None, "{json}");
    }
}

#[test]
fn ordinary_requests_still_pass_byte_by_byte() {
    // The early judgement waits for the fixed header without refusing what is readable.
    for json in configs() {
        let mut s = session(&json);
        let (_, closed) = feed(&mut s, &[api_versions(1), api_versions(2)].concat(), 1);
        assert_eq!(closed, None, "{json}");
    }
}

#[test]
fn held_byte_bounds_load_validated_naming_the_field() {
    let cfg = Config::parse(b"{}").unwrap();
    assert_eq!(cfg.held_limits, kafka_mtls_filter::held_budget::HeldLimits::default());
    let cfg = Config::parse(br#"{"maxHeldBytesPerConnection": 1048576, "maxHeldBytesPerVm": 4194304}"#).unwrap();
    assert_eq!((cfg.held_limits.per_connection, cfg.held_limits.per_vm), (1 << 20, 4 << 20));
    // A per-connection bound above the default VM bound raises the VM's default with it.
    let cfg = Config::parse(br#"{"maxHeldBytesPerConnection": 536870912}"#).unwrap();
    assert_eq!(cfg.held_limits.per_vm, 536_870_912);
    let err = Config::parse(br#"{"maxHeldBytesPerConnection": 1000}"#).unwrap_err();
    assert!(err.0.contains("maxHeldBytesPerConnection"), "{}", err.0);
    let err = Config::parse(br#"{"maxHeldBytesPerConnection": 1048576, "maxHeldBytesPerVm": 65536}"#).unwrap_err();
    assert!(err.0.contains("maxHeldBytesPerVm"), "{}", err.0);
    let err = Config::parse(br#"{"maxHeldBytesPerVm": -1}"#).unwrap_err();
    assert!(err.0.contains("maxHeldBytesPerVm"), "{}", err.0);
}

#[test]
fn a_trickled_held_frame_is_reported_as_held() {
    // What the glue bounds: a request the filter must see whole, trickled, shows in held_bytes.
    let json = r#"{"identity": {"unauthenticated": "anonymous"}, "authorization": {"mode": "enforce"}}"#;
    let mut s = session(json);
    let mut header = 900_000u32.to_be_bytes().to_vec();
    header.extend_from_slice(&[0, 3, 0, 4, 0, 0, 0, 1, 0, 1, b'c']);
    assert_eq!(s.on_downstream(&header).close, None);
    for _ in 0..10 {
        assert_eq!(s.on_downstream(&[0u8; 32 * 1024]).close, None);
    }
    assert!(s.held_bytes() >= 10 * 32 * 1024, "{}", s.held_bytes());
}

//! A Session in enforce mode is sent a real request (Metadata, ApiVersions, Produce, Fetch, split requests,
//! listings: allowed and denied), then arbitrary response bytes, framed with the right size and correlation
//! id so the rewriting paths (Metadata and listing filters, merged answers of split requests, ApiVersions
//! clamping, substituted answers, the per-topic Fetch walk) parse them. Invariants: no panic;
//! what goes back to the client is whole frames carrying the request's correlation id; a rewritten Metadata
//! response lists no topic the principal may not Describe, and is valid whenever the broker's was.
//!
//! Input: byte 0 picks the request, byte 1 its version, byte 2 where the response is split in two chunks,
//! byte 3 bit 0 sends the rest raw (no framing help); the rest is the response after the correlation id.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use bytes::Bytes;
use kafka_mtls_filter::frame::apply_edits;
use kafka_protocol::messages::{ApiKey, MetadataResponse};
use kafka_protocol::protocol::Decodable;
use libfuzzer_sys::fuzz_target;

use common::*;

const CORRELATION_ID: i32 = 0x0102_0304;

fuzz_target!(|data: &[u8]| {
    let [pick, version_byte, split, flags, rest @ ..] = data else { return };
    let mut s = session();
    let req = canned_request(*pick, *version_byte, CORRELATION_ID);
    let (_, version, _, _) = request_header(&req).expect("canned request parses");
    let out = s.on_downstream(&req);
    if out.close.is_some() {
        return;
    }
    let _forwarded = apply_edits(&req, &out.edits);

    let response = if flags & 1 == 1 {
        rest.to_vec()
    } else {
        let mut r = Vec::with_capacity(rest.len() + 8);
        r.extend_from_slice(&((rest.len() + 4) as u32).to_be_bytes());
        r.extend_from_slice(&CORRELATION_ID.to_be_bytes());
        r.extend_from_slice(rest);
        r
    };
    let at = (*split as usize * response.len()) / 256;
    let mut back = Vec::new();
    for chunk in [&response[..at], &response[at..]] {
        let out = s.on_upstream(chunk);
        if out.close.is_some() {
            return;
        }
        back.extend(apply_edits(chunk, &out.edits));
    }
    if flags & 1 == 1 {
        return;
    }
    let frames = take_frames(&mut back);
    assert!(back.is_empty(), "a partial frame went back to the client");
    for frame in &frames {
        assert_eq!(frame.get(4..8), Some(&CORRELATION_ID.to_be_bytes()[..]), "correlation id changed");
    }
    let metadata = *pick % MENU == 4 || *pick % MENU == 5;
    if !metadata || frames.len() != 1 || frames[0] == response {
        return;
    }
    // Rewritten by the filter at the byte level: the broker's other bytes pass as sent, so a response
    // kafka-protocol rejects (a null array where Kafka allows none, say) stays one; a valid one stays valid.
    let offset = kafka_mtls_filter::protocol::wire::response_body_offset(ApiKey::Metadata as i16, version);
    let broker_valid = response
        .get(offset..)
        .is_some_and(|body| MetadataResponse::decode(&mut Bytes::copy_from_slice(body), version).is_ok());
    let Ok(decoded) = MetadataResponse::decode(&mut Bytes::copy_from_slice(&frames[0][offset..]), version) else {
        assert!(!broker_valid, "the filter broke a valid Metadata v{version} response");
        return;
    };
    for t in &decoded.topics {
        let name = t.name.as_ref().map(|n| n.as_str()).unwrap_or_default();
        let describable = name == "allowed" || name.starts_with("visible-");
        assert!(describable || t.error_code == 29, "Metadata response lists undescribable topic {name:?}");
    }
});

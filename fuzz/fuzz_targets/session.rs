//! The whole Session state machine in enforce mode with a real policy: arbitrary interleavings of client
//! chunks (real requests, allowed and denied, split anywhere, and raw bytes) and broker chunks (answers to
//! what was forwarded, possibly corrupted, and raw bytes), with the glue's passthrough fast path.
//! Invariants: no panic; what reaches the broker is a sequence of whole frames (never a piece of a
//! replaced one), and every forwarded request the classifier can read is authorized by the policy (no
//! Produce to a denied topic, no Fetch of an unreadable one, no Metadata naming a hidden topic).
//!
//! Input: a sequence of operations, see `Op` below.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use std::collections::VecDeque;

use kafka_mtls_filter::classify::{classify, Classification};
use kafka_mtls_filter::feed::{feed_slice, SessionSide, Windows};
use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::policy::RequestCtx;
use kafka_mtls_filter::protocol::wire::response_frame;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Encodable;
use libfuzzer_sys::fuzz_target;

use common::*;

struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

struct Harness {
    s: Session,
    /// Bytes the broker received, not yet split into frames.
    to_broker: Vec<u8>,
    /// Requests the broker received and has not answered: (api key, version, correlation id).
    broker_queue: VecDeque<(i16, i16, i32)>,
    next_correlation_id: i32,
}

impl Harness {
    /// Client → filter; false once the session closed.
    fn downstream(&mut self, bytes: &[u8], split: u8, fast_path: bool) -> bool {
        let at = (split as usize * bytes.len()) / 256;
        for chunk in [&bytes[..at], &bytes[at..]] {
            // Whole chunks, with or without the glue's skipping of bytes that pass unread.
            let fed = feed_slice(
                &mut SessionSide::downstream(&mut self.s),
                chunk,
                Windows { skip_unread: fast_path, ..Windows::WHOLE },
            );
            if fed.closed {
                return false;
            }
            self.to_broker.extend(apply_edits(chunk, &fed.edits));
            self.broker_receives();
        }
        true
    }

    /// Broker → filter; false once the session closed.
    fn upstream(&mut self, bytes: &[u8], split: u8) -> bool {
        let at = (split as usize * bytes.len()) / 256;
        for chunk in [&bytes[..at], &bytes[at..]] {
            let fed = feed_slice(
                &mut SessionSide::upstream(&mut self.s),
                chunk,
                Windows { skip_unread: false, ..Windows::WHOLE },
            );
            if fed.closed {
                return false;
            }
            let _ = apply_edits(chunk, &fed.edits);
        }
        true
    }

    fn broker_receives(&mut self) {
        let cfg = config();
        for frame in take_frames(&mut self.to_broker) {
            let (api_key, version, correlation_id, header_len) =
                request_header(&frame).expect("the broker received a request whose header does not parse");
            let body = &frame[4 + header_len..];
            if let Classification::Checks { requirements, .. } = classify(api_key, version, body, body.len()) {
                let ctx = RequestCtx {
                    principal: "User:ANONYMOUS",
                    host: "127.0.0.1",
                    api_key,
                    api_version: version,
                    client_id: None,
                };
                for r in &requirements {
                    assert!(
                        r.any_of().any(|a| cfg.authorizer.authorize(&ctx, a).allowed),
                        "the broker received api {api_key} v{version} needing {r:?}, which the policy denies"
                    );
                }
            }
            let acks_zero = matches!(
                classify(api_key, version, body, body.len()),
                Classification::Checks { expects_response: false, .. }
            );
            if !acks_zero {
                self.broker_queue.push_back((api_key, version, correlation_id));
            }
        }
    }

    /// The broker's answer to the oldest request it has not answered.
    fn broker_answer(&mut self) -> Option<Vec<u8>> {
        let (api_key, version, cid) = self.broker_queue.pop_front()?;
        fn encoded<R: Encodable>(r: &R, v: i16) -> Vec<u8> {
            let mut out = Vec::new();
            r.encode(&mut out, v).map(|_| out).unwrap_or_default()
        }
        let body = match ApiKey::try_from(api_key) {
            Ok(ApiKey::ApiVersions) => {
                let v = |k: i16, max| ApiVersion::default().with_api_key(k).with_min_version(0).with_max_version(max);
                encoded(
                    &ApiVersionsResponse::default().with_api_keys(vec![v(0, 13), v(1, 18), v(3, 13), v(18, 4)]),
                    version,
                )
            }
            Ok(ApiKey::Metadata) => {
                let t = |n: &str| MetadataResponseTopic::default().with_name(Some(topic(n)));
                encoded(
                    &MetadataResponse::default().with_topics(vec![t("allowed"), t("visible-1"), t("hidden-1")]),
                    version,
                )
            }
            Ok(ApiKey::Produce) => encoded(&ProduceResponse::default(), version),
            Ok(ApiKey::Fetch) => encoded(&FetchResponse::default(), version),
            _ => Vec::new(),
        };
        Some(response_frame(api_key, version, cid, &body))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let mut h = Harness { s: session(), to_broker: Vec::new(), broker_queue: VecDeque::new(), next_correlation_id: 1 };
    while let Some(op) = input.byte() {
        let alive = match op & 7 {
            // A real request, split in two chunks.
            0 | 1 => {
                let (pick, version, split) =
                    (input.byte().unwrap_or(0), input.byte().unwrap_or(0), input.byte().unwrap_or(0));
                h.next_correlation_id += 1;
                let req = canned_request(pick, version, h.next_correlation_id);
                h.downstream(&req, split, op & 8 != 0)
            }
            // Raw client bytes.
            2 => {
                let n = input.byte().unwrap_or(0) as usize;
                let raw = input.take(n);
                h.downstream(raw, 128, op & 8 != 0)
            }
            // The broker answers, maybe with one byte flipped.
            3 | 4 => {
                let (split, corrupt) = (input.byte().unwrap_or(0), input.byte().unwrap_or(0));
                match h.broker_answer() {
                    Some(mut resp) => {
                        if op & 8 != 0 {
                            let at = corrupt as usize % resp.len().max(1);
                            if let Some(b) = resp.get_mut(at) {
                                *b ^= op | 1;
                            }
                        }
                        h.upstream(&resp, split)
                    }
                    None => true,
                }
            }
            // Raw broker bytes.
            5 => {
                let n = input.byte().unwrap_or(0) as usize;
                let raw = input.take(n);
                h.upstream(raw, 128)
            }
            _ => {
                let _ = h.s.take_events();
                assert!(h.s.held_bytes() < 1 << 20, "held bytes grew to {}", h.s.held_bytes());
                true
            }
        };
        if !alive {
            return;
        }
    }
});

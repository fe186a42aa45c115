//! The request side: every client request decided (see `decision`); with SASL propagation, held or
//! reordered around the filter's own exchange with the broker.

use kafka_protocol::messages::ApiKey;

use super::decision::decide_request;
use super::sasl::push_sasl_inflight;
use super::state::Core;
use crate::frame::{FrameHandler, Verdict};

pub(super) struct RequestSide<'a>(pub(super) &'a mut Core);

impl FrameHandler for RequestSide<'_> {
    fn on_frame(&mut self, frame: &[u8], frame_len: usize) -> Verdict {
        // A newer policy is taken between frames only: a frame being buffered is decided under one policy.
        if !self.0.deciding {
            if let Err(reason) = self.0.take_pending_policy() {
                return Verdict::Close(reason);
            }
        }
        let verdict = self.decide(frame, frame_len);
        self.0.deciding = verdict == Verdict::NeedMore;
        verdict
    }
}

impl RequestSide<'_> {
    fn decide(&mut self, frame: &[u8], frame_len: usize) -> Verdict {
        let core = &mut *self.0;
        // Preamble-shaped bytes and requests the filter cannot read are refused from their header, in
        // every mode, before any of the body is waited for (with SASL, before the whole frame is).
        if let Some(verdict) = super::early::judge_header(core, frame, frame_len) {
            return verdict;
        }
        if core.sasl.is_none() {
            return decide_request(core, frame, frame_len);
        }
        // With SASL propagation requests may be held or reordered around the exchange: whole frames only.
        if frame.len() < frame_len {
            return Verdict::NeedMore;
        }
        let is_api_versions = frame.get(4..6) == Some(&(ApiKey::ApiVersions as i16).to_be_bytes()[..]);
        let mut start = Vec::new();
        if let Some(sasl) = core.sasl.as_mut().filter(|s| !s.started) {
            sasl.started = true;
            start = sasl.client.pipelined_start();
            if start.is_empty() {
                return Verdict::Close("cannot start the SASL exchange".into());
            }
        }
        // The client's first ApiVersions goes before the handshake (Kafka allows it unauthenticated); any
        // other first request goes after it.
        let api_versions_first = !start.is_empty() && is_api_versions;
        if !api_versions_first {
            push_sasl_inflight(core, &start);
        }
        let inflight_before = core.inflight.len();
        let client_bytes = match decide_request(core, frame, frame_len) {
            Verdict::Forward | Verdict::ForwardThrough(_) => frame.to_vec(),
            Verdict::Replace(bytes) => bytes,
            Verdict::Close(reason) => return Verdict::Close(reason),
            Verdict::NeedMore => return Verdict::Close("request undecidable from the whole frame".into()),
        };
        if api_versions_first {
            push_sasl_inflight(core, &start);
            let mut out = client_bytes;
            out.append(&mut start);
            return Verdict::Replace(out);
        }
        if let Some(sasl) = core.sasl.as_mut().filter(|s| s.blocks() || !s.held_requests.is_empty()) {
            // Must follow a SASL request not sendable yet: held with its in-flight entries.
            let at = inflight_before.min(core.inflight.len());
            sasl.held_inflight.extend(core.inflight.drain(at..));
            sasl.held_requests.extend_from_slice(&client_bytes);
            return Verdict::Replace(start);
        }
        start.extend_from_slice(&client_bytes);
        Verdict::Replace(start)
    }
}

//! What a request's first bytes already tell, judged before anything else and before its body arrives:
//! bytes shaped like an identity preamble close the connection in every mode, and (under
//! `unknownRequests: deny` in `enforce`) an API key or version the filter cannot read closes it as soon as
//! the fixed header is here, not once the body it claims has arrived.
//!
//! The banzaicloud preamble is a 2-byte length then `BZC_UID:<identity>`. Read as a Kafka frame its first
//! four bytes are a size (about a megabyte for any identity: `len << 16 | 0x425A`), and its API key is
//! `C_`, 17247: not a Kafka API, so no Kafka request ever has it. A frame with that key is refused at any
//! request boundary, whatever the propagation and authorization modes: a client must not choose its
//! identity, and nothing client-made that a preamble-reading broker would take for one is ever forwarded.

use super::events::{DecisionRecord, Event};
use super::state::Core;
use crate::classify::unsupported;
use crate::frame::{CloseKind, CloseReason, Verdict};
use crate::metrics::RequestDecision;
use crate::policy::Mode;
use crate::protocol::api::api_name;
use crate::protocol::wire::SIZE_PREFIX;

/// The API key a preamble's `C_` (of `BZC_UID:`) reads as.
pub(crate) const PREAMBLE_API_KEY: i16 = i16::from_be_bytes(*b"C_");

/// Size prefix, API key, version and correlation id: the request header's fixed part.
const FIXED_HEADER: usize = SIZE_PREFIX + 8;

/// `Some(verdict)` when the frame's first bytes decide (close) or more of them are needed to judge;
/// `None` when the request goes on to be decided as usual.
pub(super) fn judge_header(core: &mut Core, frame: &[u8], frame_len: usize) -> Option<Verdict> {
    let here = |n: usize| frame.len() >= n || frame.len() >= frame_len;
    if !here(SIZE_PREFIX + 2) {
        return Some(Verdict::NeedMore);
    }
    let key = frame.get(SIZE_PREFIX..SIZE_PREFIX + 2).and_then(|b| b.try_into().ok()).map(i16::from_be_bytes)?;
    if key == PREAMBLE_API_KEY {
        return Some(Verdict::Close("client sent an identity preamble".into()));
    }
    if core.cfg.authorizer.mode() != Mode::Enforce || core.cfg.authorizer.unknown_requests_allowed() {
        return None;
    }
    if !here(FIXED_HEADER) {
        return Some(Verdict::NeedMore);
    }
    let version =
        frame.get(SIZE_PREFIX + 2..SIZE_PREFIX + 4).and_then(|b| b.try_into().ok()).map(i16::from_be_bytes)?;
    let reason = unsupported(key, version)?;
    let correlation_id =
        frame.get(SIZE_PREFIX + 4..FIXED_HEADER).and_then(|b| b.try_into().ok()).map(i32::from_be_bytes)?;
    let rule = format!("unsupported request: {reason}");
    core.events.push(Event::Decision(DecisionRecord {
        api_key: key,
        api_version: version,
        correlation_id,
        client_id: None,
        resource_type: None,
        resource_name: None,
        operation: None,
        allowed: false,
        audit_only: false,
        rule: rule.clone(),
    }));
    core.count_request(key, RequestDecision::Denied);
    Some(Verdict::Close(Box::new(CloseReason::new(
        CloseKind::Unsupported,
        format!("{} v{version}: {rule}", api_name(key)),
    ))))
}

//! Partial requests: when some topics of a multi-topic request are denied, the allowed part is forwarded
//! (re-encoded) and the filter's answer for the denied part is merged into the broker's answer, in the
//! client's version, so a client is not refused whole for one forbidden topic.

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{authorization_error, Core, ResponseAction};
use crate::frame::Verdict;
use crate::metrics::RequestDecision;
use crate::policy::ResourceType;
use crate::wire;

/// APIs whose allowed topics are forwarded when others are denied (only topic denials can be split off).
pub(super) fn partial_candidate(api_key: i16, denied: &[(ResourceType, String)]) -> bool {
    (api_key == ApiKey::Produce as i16 || api_key == ApiKey::Fetch as i16)
        && !denied.is_empty()
        && denied.iter().all(|(t, _)| *t == ResourceType::Topic)
}

/// Splits a Produce or Fetch request into its allowed and denied topics: the allowed part is forwarded
/// (re-encoded), the denied part answered with TOPIC_AUTHORIZATION_FAILED merged into the broker's answer.
/// `None` when nothing is allowed or the request cannot be split (then it is refused whole).
pub(super) fn forward_allowed_part(
    core: &mut Core,
    header: &wire::RequestHeader<'_>,
    body: &[u8],
    denied: &[(ResourceType, String)],
    expects_response: bool,
) -> Option<Verdict> {
    use kafka_protocol::messages::{FetchRequest, ProduceRequest};
    let version = header.api_version;
    let is_denied = |name: &str| denied.iter().any(|(_, n)| n == name);
    // classify() walked (Produce) or shape-checked (Fetch) this body: its counts are bounded by the frame.
    let (allowed_body, denied_body) = if header.api_key == ApiKey::Produce as i16 {
        let request = ProduceRequest::decode(&mut Bytes::copy_from_slice(body), version).ok()?;
        let (no, yes): (Vec<_>, Vec<_>) = request.topic_data.iter().cloned().partition(|t| is_denied(t.name.as_str()));
        if yes.is_empty() {
            return None;
        }
        (encode(&request.clone().with_topic_data(yes), version)?, encode(&request.with_topic_data(no), version)?)
    } else {
        let request = FetchRequest::decode(&mut Bytes::copy_from_slice(body), version).ok()?;
        let (no, yes): (Vec<_>, Vec<_>) = request.topics.iter().cloned().partition(|t| is_denied(t.topic.as_str()));
        if yes.is_empty() {
            return None;
        }
        let denied_only = request.clone().with_topics(no).with_forgotten_topics_data(Vec::new());
        (encode(&request.with_topics(yes), version)?, encode(&denied_only, version)?)
    };
    let forwarded =
        wire::request_frame(header.api_key, version, header.correlation_id, header.client_id, &allowed_body);
    core.count_request(header.api_key, RequestDecision::Denied);
    if !expects_response {
        return Some(Verdict::Replace(forwarded));
    }
    let error_for = |rt: ResourceType, _: &str| authorization_error(rt);
    let answer =
        crate::enforce::error_response(header.api_key, version, header.correlation_id, &denied_body, &error_for)
            .ok()?;
    core.push_inflight(header, (header.api_key, version), ResponseAction::MergeDenied(answer));
    Some(Verdict::Replace(forwarded))
}

fn encode<T: Encodable>(message: &T, version: i16) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    message.encode(&mut out, version).ok()?;
    Some(out)
}

/// The broker's answer to the allowed part plus the filter's answer for the denied topics, spliced at the
/// byte level: the broker's response is walked (bounded), never decoded, and its other fields stay as sent.
pub(super) fn merge_denied(api_key: i16, version: i16, frame: &[u8], denied_answer: &[u8]) -> Result<Vec<u8>, String> {
    let offset = wire::response_body_offset(api_key, version);
    let body = frame.get(offset..).ok_or("short response")?;
    let denied_body = denied_answer.get(offset..).ok_or("short denied answer")?;
    let correlation_id = wire::response_correlation_id(frame).unwrap_or_default();
    let (count_start, entries_start, entries_end, count) =
        crate::classify::response_topic_array(api_key, version, body)?;
    let (_, denied_start, denied_end, denied_count) =
        crate::classify::response_topic_array(api_key, version, denied_body)?;
    let piece = |b: &[u8], from: usize, to: usize| b.get(from..to).map(<[u8]>::to_vec).ok_or("bad span");
    let total = u32::try_from(count + denied_count).map_err(|_| "too many topics")?;
    let mut out = Vec::with_capacity(body.len() + denied_end.saturating_sub(denied_start) + 5);
    out.extend(piece(body, 0, count_start)?);
    write_array_count(&mut out, total, wire::response_header_version(api_key, version) >= 1);
    out.extend(piece(body, entries_start, entries_end)?);
    out.extend(piece(denied_body, denied_start, denied_end)?);
    out.extend(piece(body, entries_end, body.len())?);
    Ok(wire::response_frame(api_key, version, correlation_id, &out))
}

/// An array count: `i32`, or in flexible versions count + 1 as an unsigned varint.
pub(super) fn write_array_count(out: &mut Vec<u8>, count: u32, flexible: bool) {
    if !flexible {
        out.extend_from_slice(&count.to_be_bytes());
        return;
    }
    let mut n = u64::from(count) + 1;
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

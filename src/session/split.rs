//! Partial requests: when some resources of a multi-resource request are denied, the allowed part is
//! forwarded (re-encoded) and the filter's answer for the denied part is merged into the broker's answer,
//! in the client's version, so a client is not refused whole for one forbidden topic, group or id.
//!
//! Only the per-resource checks Kafka itself answers per element are split off (KafkaApis filters the
//! resource array by authorization and answers the rest with the authorization error): a denied
//! whole-request check (OffsetCommit's group, a transactional Produce's id) still refuses the request whole.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{authorization_error, Core, ResponseAction};
use crate::classify::decode_checked;
use crate::frame::Verdict;
use crate::metrics::RequestDecision;
use crate::policy::ResourceType;
use crate::wire;

/// The resource type whose denials can be split off a request of this API: the elements of its top-level
/// request array, each answered on its own by Kafka.
fn split_resource(api_key: i16) -> Option<ResourceType> {
    Some(match ApiKey::try_from(api_key).ok()? {
        ApiKey::Produce
        | ApiKey::Fetch
        | ApiKey::ListOffsets
        | ApiKey::OffsetCommit
        | ApiKey::OffsetFetch
        | ApiKey::DeleteRecords
        | ApiKey::OffsetForLeaderEpoch
        | ApiKey::CreateTopics
        | ApiKey::DeleteTopics => ResourceType::Topic,
        ApiKey::DescribeGroups | ApiKey::DeleteGroups | ApiKey::ConsumerGroupDescribe => ResourceType::Group,
        ApiKey::DescribeTransactions => ResourceType::TransactionalId,
        _ => return None,
    })
}

/// Whether the allowed resources of this request may be forwarded: every denial is of the API's splittable
/// resource type.
pub(super) fn partial_candidate(api_key: i16, denied: &[(ResourceType, String)]) -> bool {
    split_resource(api_key).is_some_and(|rt| !denied.is_empty() && denied.iter().all(|(t, _)| *t == rt))
}

/// Splits a request into its allowed and denied resources: the allowed part is forwarded (re-encoded),
/// the denied part is answered with the authorization error, merged into the broker's answer.
/// `None` when nothing is allowed or the request cannot be split (then it is refused whole).
pub(super) fn forward_allowed_part(
    core: &mut Core,
    header: &wire::RequestHeader<'_>,
    body: &[u8],
    denied: &[(ResourceType, String)],
    expects_response: bool,
) -> Option<Verdict> {
    let version = header.api_version;
    let resource_type = split_resource(header.api_key)?;
    let is_denied = |name: &str| denied.iter().any(|(t, n)| *t == resource_type && n == name);
    let (allowed_body, denied_body) = split_body(header.api_key, version, body, &is_denied)?;
    let forwarded =
        wire::request_frame(header.api_key, version, header.correlation_id, header.client_id, &allowed_body);
    if !expects_response {
        core.count_request(header.api_key, RequestDecision::Denied);
        return Some(Verdict::Replace(forwarded));
    }
    // Only the denied resources get an error; whole-request checks passed (see `partial_candidate`).
    let error_for = |rt: ResourceType, name: &str| {
        if denied.iter().any(|(t, n)| *t == rt && n == name) {
            authorization_error(rt)
        } else {
            0
        }
    };
    let answer =
        crate::enforce::error_response(header.api_key, version, header.correlation_id, &denied_body, &error_for)
            .ok()?;
    core.count_request(header.api_key, RequestDecision::Denied);
    core.push_inflight(header, (header.api_key, version), ResponseAction::MergeDenied(answer));
    Some(Verdict::Replace(forwarded))
}

/// The request body split in two, both encoded: `(allowed resources, denied resources)`, every other field
/// as the client sent it. `None` when either part would be empty or the API/version has no split.
fn split_body(api_key: i16, version: i16, body: &[u8], denied: &dyn Fn(&str) -> bool) -> Option<(Vec<u8>, Vec<u8>)> {
    // Bodies were shape-checked (or, for Produce, walked) before decoding: every count is bounded by the frame.
    fn decode<T: Decodable>(api_key: i16, version: i16, body: &[u8]) -> Option<T> {
        decode_checked(api_key, version, body).ok()
    }
    let v = version;
    match ApiKey::try_from(api_key).ok()? {
        ApiKey::Produce => {
            crate::classify::walk_produce(v, body, body.len(), true).ok()?;
            let request = ProduceRequest::decode(&mut Bytes::copy_from_slice(body), v).ok()?;
            encode_both(partition(request, |r| &mut r.topic_data, |t| t.name.as_str(), denied)?, v)
        }
        ApiKey::Fetch => {
            let request: FetchRequest = decode(api_key, v, body)?;
            let (allowed, mut refused) = partition(request, |r| &mut r.topics, |t| t.topic.as_str(), denied)?;
            refused.forgotten_topics_data = Vec::new();
            encode_both((allowed, refused), v)
        }
        ApiKey::ListOffsets => {
            let request: ListOffsetsRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.topics, |t| t.name.as_str(), denied)?, v)
        }
        ApiKey::OffsetCommit => {
            let request: OffsetCommitRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.topics, |t| t.name.as_str(), denied)?, v)
        }
        ApiKey::OffsetFetch if v <= 7 => {
            let request: OffsetFetchRequest = decode(api_key, v, body)?;
            // Null topics (all of the group's) name no topic, so nothing of them can be denied.
            let topics: fn(&mut OffsetFetchRequest) -> &mut Vec<_> = |r| r.topics.get_or_insert_with(Vec::new);
            encode_both(partition(request, topics, |t| t.name.as_str(), denied)?, v)
        }
        ApiKey::OffsetFetch => {
            // v8+ batches groups; only the one-group form (what consumers send) is split.
            let mut request: OffsetFetchRequest = decode(api_key, v, body)?;
            let group = request.groups.pop().filter(|_| request.groups.is_empty())?;
            let topics: fn(&mut offset_fetch_request::OffsetFetchRequestGroup) -> &mut Vec<_> =
                |g| g.topics.get_or_insert_with(Vec::new);
            let (allowed, refused) = partition(group, topics, |t| t.name.as_str(), denied)?;
            encode_both((request.clone().with_groups(vec![allowed]), request.with_groups(vec![refused])), v)
        }
        ApiKey::DeleteRecords => {
            let request: DeleteRecordsRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.topics, |t| t.name.as_str(), denied)?, v)
        }
        ApiKey::OffsetForLeaderEpoch => {
            let request: OffsetForLeaderEpochRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.topics, |t| t.topic.as_str(), denied)?, v)
        }
        ApiKey::CreateTopics => {
            let request: CreateTopicsRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.topics, |t| t.name.as_str(), denied)?, v)
        }
        ApiKey::DeleteTopics if v >= 6 => {
            let request: DeleteTopicsRequest = decode(api_key, v, body)?;
            // classify refuses topics without a name (addressed by id only).
            let name: fn(&delete_topics_request::DeleteTopicState) -> &str =
                |t| t.name.as_ref().map_or("", |n| n.as_str());
            encode_both(partition(request, |r| &mut r.topics, name, denied)?, v)
        }
        ApiKey::DeleteTopics => {
            let request: DeleteTopicsRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.topic_names, |t| t.as_str(), denied)?, v)
        }
        ApiKey::DescribeGroups => {
            let request: DescribeGroupsRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.groups, |g| g.as_str(), denied)?, v)
        }
        ApiKey::DeleteGroups => {
            let request: DeleteGroupsRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.groups_names, |g| g.as_str(), denied)?, v)
        }
        ApiKey::DescribeTransactions => {
            let request: DescribeTransactionsRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.transactional_ids, |id| id.as_str(), denied)?, v)
        }
        ApiKey::ConsumerGroupDescribe => {
            let request: ConsumerGroupDescribeRequest = decode(api_key, v, body)?;
            encode_both(partition(request, |r| &mut r.group_ids, |g| g.as_str(), denied)?, v)
        }
        _ => None,
    }
}

/// Two copies of `request`: one with the allowed elements of its resource array, one with the denied ones.
/// `None` unless both are non-empty.
fn partition<R: Clone, E>(
    request: R,
    array: fn(&mut R) -> &mut Vec<E>,
    name: fn(&E) -> &str,
    denied: &dyn Fn(&str) -> bool,
) -> Option<(R, R)> {
    let mut allowed = request.clone();
    let mut refused = request;
    let (no, yes): (Vec<E>, Vec<E>) = std::mem::take(array(&mut allowed)).into_iter().partition(|e| denied(name(e)));
    if yes.is_empty() || no.is_empty() {
        return None;
    }
    *array(&mut allowed) = yes;
    *array(&mut refused) = no;
    Some((allowed, refused))
}

fn encode_both<T: Encodable>((allowed, refused): (T, T), version: i16) -> Option<(Vec<u8>, Vec<u8>)> {
    Some((encode(&allowed, version)?, encode(&refused, version)?))
}

fn encode<T: Encodable>(message: &T, version: i16) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    message.encode(&mut out, version).ok()?;
    Some(out)
}

/// The broker's answer to the allowed part plus the filter's answer for the denied resources, spliced at
/// the byte level: the broker's response is walked (bounded), never decoded, and its other fields stay as
/// sent; the denied elements follow the broker's.
pub(super) fn merge_denied(api_key: i16, version: i16, frame: &[u8], denied_answer: &[u8]) -> Result<Vec<u8>, String> {
    let offset = wire::response_body_offset(api_key, version);
    let body = frame.get(offset..).ok_or("short response")?;
    let denied_body = denied_answer.get(offset..).ok_or("short denied answer")?;
    let correlation_id = wire::response_correlation_id(frame).unwrap_or_default();
    let broker = crate::classify::response_topic_array(api_key, version, body)?;
    let ours = crate::classify::response_topic_array(api_key, version, denied_body)
        .map_err(|e| format!("filter's answer: {e}"))?;
    let piece = |b: &[u8], from: usize, to: usize| b.get(from..to).map(<[u8]>::to_vec).ok_or("bad span");
    let total = u32::try_from(broker.count + ours.count).map_err(|_| "too many entries")?;
    let mut out = Vec::with_capacity(body.len() + ours.entries_end.saturating_sub(ours.entries_start) + 5);
    out.extend(piece(body, 0, broker.count_start)?);
    wire::write_array_count(&mut out, total, broker.flexible);
    out.extend(piece(body, broker.entries_start, broker.entries_end)?);
    out.extend(piece(denied_body, ours.entries_start, ours.entries_end)?);
    out.extend(piece(body, broker.entries_end, body.len())?);
    Ok(wire::response_frame(api_key, version, correlation_id, &out))
}

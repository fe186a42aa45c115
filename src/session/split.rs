//! Partial requests: when some resources of a multi-resource request are denied, the allowed part is
//! forwarded (cut out of the client's bytes) and the filter's answer for the denied part is merged into the
//! broker's answer, in the client's version, so a client is not refused whole for one forbidden topic, group
//! or id.
//!
//! Only the per-resource checks Kafka itself answers per element are split off (KafkaApis filters the
//! resource array by authorization and answers the rest with the authorization error): a denied
//! whole-request check (OffsetCommit's group, a transactional Produce's id) still refuses the request whole.

use kafka_protocol::messages::ApiKey;

use super::split_groups::{merge_offset_fetch_groups, split_offset_fetch_groups};
use super::state::{Core, ResponseAction};
use super::visibility::listing_filter;
use crate::frame::Verdict;
use crate::metrics::RequestDecision;
use crate::protocol::acl::ResourceType;
use crate::protocol::config_resource::config_resource;
use crate::protocol::error_code::authorization_error;
use crate::protocol::layout::{parse, Keep, Val};
use crate::protocol::wire;

/// What the elements of a splittable API's top-level request array are, each answered on its own by Kafka.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Elements {
    /// Resources of one type, by name.
    Named(ResourceType),
    /// OffsetFetch v8+: per group (Describe Group) and per topic of each group (Describe Topic), see
    /// `split_groups`.
    OffsetFetchGroups,
    /// FindCoordinator v4+ keys: groups or transactional ids, by the request's key type.
    CoordinatorKeys,
    /// Config resources (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs): each element says its
    /// type, checked as a topic, a group or the cluster (`protocol::config_resource`). Kafka answers the
    /// unauthorized ones after the authorized ones, each with its type's authorization error.
    Configs,
}

/// The elements a request of this API is split into. An OffsetFetch v8+ is split by group and, within each
/// group, by topic.
fn split_elements(api_key: i16, version: i16) -> Option<Elements> {
    Some(match ApiKey::try_from(api_key).ok()? {
        ApiKey::OffsetFetch if version >= 8 => Elements::OffsetFetchGroups,
        ApiKey::DescribeShareGroupOffsets => Elements::OffsetFetchGroups,
        ApiKey::FindCoordinator if version >= 4 => Elements::CoordinatorKeys,
        ApiKey::Produce
        | ApiKey::Fetch
        | ApiKey::ListOffsets
        | ApiKey::OffsetCommit
        | ApiKey::OffsetFetch
        | ApiKey::DeleteRecords
        | ApiKey::OffsetForLeaderEpoch
        | ApiKey::CreateTopics
        | ApiKey::DeleteTopics
        | ApiKey::CreatePartitions
        | ApiKey::TxnOffsetCommit
        | ApiKey::OffsetDelete
        | ApiKey::DescribeProducers
        | ApiKey::ShareFetch
        | ApiKey::ShareAcknowledge
        | ApiKey::AlterShareGroupOffsets
        | ApiKey::DeleteShareGroupOffsets => Elements::Named(ResourceType::Topic),
        ApiKey::DescribeGroups | ApiKey::DeleteGroups | ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => {
            Elements::Named(ResourceType::Group)
        }
        ApiKey::DescribeTransactions => Elements::Named(ResourceType::TransactionalId),
        ApiKey::DescribeConfigs | ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => Elements::Configs,
        _ => return None,
    })
}

/// Whether the allowed resources of this request may be forwarded: every denial is of a resource the API's
/// elements name (every check of the config APIs is one element's).
pub(super) fn partial_candidate(api_key: i16, version: i16, denied: &[(ResourceType, String)]) -> bool {
    !denied.is_empty()
        && match split_elements(api_key, version) {
            Some(Elements::Named(rt)) => denied.iter().all(|(t, _)| *t == rt),
            Some(Elements::Configs | Elements::OffsetFetchGroups | Elements::CoordinatorKeys) => true,
            None => false,
        }
}

/// Splits a request into its allowed and denied resources: the allowed part is forwarded (cut out of the
/// client's bytes), the denied part is answered with the authorization error, merged into the broker's answer.
/// `None` when nothing is allowed or the request cannot be split (then it is refused whole).
pub(super) fn forward_allowed_part(
    core: &mut Core,
    header: &wire::RequestHeader<'_>,
    body: &[u8],
    denied: &[(ResourceType, String)],
    expects_response: bool,
) -> Option<Verdict> {
    let version = header.api_version;
    let elements = split_elements(header.api_key, version)?;
    let is_denied = |rt: ResourceType, name: &str| denied.iter().any(|(t, n)| *t == rt && n == name);
    let by_group = elements == Elements::OffsetFetchGroups;
    let (allowed_body, denied_body) = if by_group {
        split_offset_fetch_groups(ApiKey::try_from(header.api_key).ok()?, version, body, &is_denied)?
    } else {
        split_body(header.api_key, version, body, elements, &is_denied)?
    };
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
    let answer = if header.api_key == ApiKey::ShareFetch as i16 {
        // Kafka refuses the acknowledgements of refused partitions as the whole request acknowledges anything.
        let cid = header.correlation_id;
        crate::enforce::share_fetch_refused_topics(version, cid, &denied_body, body, &error_for).ok()?
    } else {
        crate::enforce::error_response(header.api_key, version, header.correlation_id, &denied_body, &error_for).ok()?
    };
    // Split by group, an OffsetFetch's forwarded groups may ask for all their topics: the broker's answer
    // is narrowed to the topics the principal may Describe before the denied part joins it. DescribeGroups'
    // forwarded groups get the principal's authorized operations the same way, and the described groups of
    // ConsumerGroupDescribe and ShareGroupDescribe are checked as Kafka checks them (their assigned topics, their
    // authorized operations) before the refused ones join them.
    let listing =
        listing_filter(core, header, &allowed_body).map(|filter| (filter, header.client_id.map(str::to_string)));
    core.count_request(header.api_key, RequestDecision::Denied);
    core.push_inflight(header, (header.api_key, version), ResponseAction::MergeDenied { answer, by_group, listing });
    Some(Verdict::Replace(forwarded))
}

/// The request body split in two: `(allowed resources, denied resources)`, cut at the byte level from the
/// body with its layout (`layout::parse`): the resource array keeps the elements of its part and every
/// other byte stays as the client sent it. `None` when either part would be empty or the API/version has
/// no split.
fn split_body(
    api_key: i16,
    version: i16,
    body: &[u8],
    elements: Elements,
    denied: &dyn Fn(ResourceType, &str) -> bool,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let key = ApiKey::try_from(api_key).ok()?;
    let request = parse(key, version, body, Keep::Resources).ok()?;
    let elements = match elements {
        // One key type per request: its keys are all groups or all transactional ids.
        Elements::CoordinatorKeys => {
            Elements::Named(crate::classify::coordinator_resource(request.int("key_type").unwrap_or(0)).ok()?)
        }
        other => other,
    };
    // The resource array and the field naming each element ("" for an array of strings).
    let (array, name) = match key {
        // By id (Produce v13, Fetch v13+): each element's `topic_id`, read as the learned name.
        ApiKey::Produce => (request.list("topic_data")?, "name"),
        ApiKey::Fetch | ApiKey::OffsetForLeaderEpoch => (request.list("topics")?, "topic"),
        // By id: each element's `topic_id`, read as the learned name.
        ApiKey::ShareFetch | ApiKey::ShareAcknowledge => (request.list("topics")?, "topic_id"),
        ApiKey::AlterShareGroupOffsets | ApiKey::DeleteShareGroupOffsets => (request.list("topics")?, "topic_name"),
        ApiKey::ListOffsets
        | ApiKey::OffsetCommit
        | ApiKey::OffsetFetch
        | ApiKey::DeleteRecords
        | ApiKey::CreateTopics
        | ApiKey::DeleteTopics
            if request.list("topics").is_some() =>
        {
            (request.list("topics")?, "name")
        }
        ApiKey::DeleteTopics => (request.list("topic_names")?, ""),
        ApiKey::CreatePartitions | ApiKey::TxnOffsetCommit | ApiKey::OffsetDelete | ApiKey::DescribeProducers => {
            (request.list("topics")?, "name")
        }
        ApiKey::DescribeConfigs | ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            (request.list("resources")?, "resource_name")
        }
        ApiKey::DescribeGroups => (request.list("groups")?, ""),
        ApiKey::DeleteGroups => (request.list("groups_names")?, ""),
        ApiKey::DescribeTransactions => (request.list("transactional_ids")?, ""),
        ApiKey::FindCoordinator => (request.list("coordinator_keys")?, ""),
        ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => (request.list("group_ids")?, ""),
        _ => return None,
    };
    let mut refused = Vec::new();
    let mut allowed = Vec::new();
    for (range, element) in &array.items {
        // An element whose resource cannot be told refuses the request whole.
        let (rt, checked) = element_resource(elements, element, name)?;
        if denied(rt, &checked) {
            refused.push((range.clone(), element));
        } else {
            allowed.push((range.clone(), element));
        }
    }
    // OffsetFetch (v1-7), OffsetDelete and the share-offset APIs still ask the group coordinator when every
    // topic is denied, as Kafka does: their group check passed, and the coordinator's answer (its group
    // error) is Kafka's. ShareFetch and ShareAcknowledge with every topic denied still reach the broker: Kafka
    // moves the share session on (its epoch) and releases it on a final epoch whatever the topics.
    let keeps_empty = matches!(
        key,
        ApiKey::OffsetFetch
            | ApiKey::OffsetDelete
            | ApiKey::ShareFetch
            | ApiKey::ShareAcknowledge
            | ApiKey::AlterShareGroupOffsets
            | ApiKey::DeleteShareGroupOffsets
    );
    if refused.is_empty() || (allowed.is_empty() && !keeps_empty) {
        return None;
    }
    let flexible = wire::request_header_version(api_key, version) >= 2;
    let with = |elements: &[(std::ops::Range<usize>, &Val<'_>)]| -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(body.len());
        out.extend_from_slice(body.get(..array.count_start)?);
        wire::write_array_count(&mut out, u32::try_from(elements.len()).ok()?, flexible);
        for (range, _) in elements {
            out.extend_from_slice(body.get(range.clone())?);
        }
        out.extend_from_slice(body.get(array.entries_end..)?);
        Some(out)
    };
    Some((with(&allowed)?, with(&refused)?))
}

/// The resource an element of the request array names, as it is authorized (`name`: its naming field, ""
/// for an array of strings; a topic addressed by id: the name learned for it).
fn element_resource<'a>(
    elements: Elements,
    element: &Val<'a>,
    name: &str,
) -> Option<(ResourceType, std::borrow::Cow<'a, str>)> {
    let element_name = match element {
        Val::Struct(Some(node)) => node.topic(name).unwrap_or_default(),
        other => std::borrow::Cow::Borrowed(other.str().unwrap_or_default()),
    };
    match (elements, element) {
        (Elements::Named(rt), _) => Some((rt, element_name)),
        (Elements::Configs, Val::Struct(Some(node))) => {
            let config_type = i8::try_from(node.int("resource_type")?).ok()?;
            let (rt, name) = config_resource(config_type, &element_name).ok()?;
            Some((rt, std::borrow::Cow::Owned(name.to_string())))
        }
        (Elements::Configs | Elements::OffsetFetchGroups | Elements::CoordinatorKeys, _) => None,
    }
}

/// The broker's answer to the allowed part plus the filter's answer for the denied resources, spliced at
/// the byte level: the broker's response is walked (bounded), never decoded, and its other fields stay as
/// sent; the denied elements follow the broker's. `by_group`: an OffsetFetch v8+, merged group by group
/// (`split_groups`). An OffsetDelete the coordinator answered with a group error is Kafka's answer as is
/// (`OffsetDeleteResponse.Builder.merge` keeps only the coordinator's answer then).
pub(super) fn merge_denied(
    (api_key, version): (i16, i16),
    frame: &[u8],
    denied_answer: &[u8],
    by_group: bool,
) -> Result<Vec<u8>, String> {
    let offset = wire::response_body_offset(api_key, version);
    let body = frame.get(offset..).ok_or("short response")?;
    let denied_body = denied_answer.get(offset..).ok_or("short denied answer")?;
    if by_group {
        let key = ApiKey::try_from(api_key).map_err(|()| format!("unknown API key {api_key}"))?;
        return merge_offset_fetch_groups(key, version, frame, denied_answer);
    }
    let correlation_id = wire::response_correlation_id(frame).unwrap_or_default();
    let span = |body: &[u8]| crate::protocol::layout::response_topic_array(api_key, version, body);
    let broker = span(body)?;
    // A group error from the coordinator is Kafka's whole answer: OffsetDelete's
    // (`OffsetDeleteResponse.Builder.merge`) and OffsetFetch v2-7's (`fetchOffsetsForGroup` adds the denied
    // topics only to a group answered without error).
    let group_error = match ApiKey::try_from(api_key) {
        Ok(ApiKey::OffsetDelete) => body.get(..2),
        Ok(ApiKey::OffsetFetch) if version >= 2 => body.get(broker.entries_end..broker.entries_end + 2),
        // After throttle_time_ms: KafkaApis answers a request-level error alone (getErrorResponse).
        Ok(
            ApiKey::ShareFetch
            | ApiKey::ShareAcknowledge
            | ApiKey::AlterShareGroupOffsets
            | ApiKey::DeleteShareGroupOffsets,
        ) => body.get(4..6),
        _ => None,
    };
    if group_error.is_some_and(|code| code != [0, 0]) {
        return Ok(frame.to_vec());
    }
    let ours = span(denied_body).map_err(|e| format!("filter's answer: {e}"))?;
    let piece = |b: &[u8], from: usize, to: usize| b.get(from..to).map(<[u8]>::to_vec).ok_or("bad span");
    let total = u32::try_from(broker.count + ours.count).map_err(|_| "too many entries")?;
    let mut out = Vec::with_capacity(body.len() + ours.entries_end.saturating_sub(ours.entries_start) + 5);
    out.extend(piece(body, 0, broker.count_start)?);
    wire::write_array_count(&mut out, total, broker.flexible);
    let theirs = piece(body, broker.entries_start, broker.entries_end)?;
    let refused = piece(denied_body, ours.entries_start, ours.entries_end)?;
    if denied_groups_first(api_key) || denied_topics_first(api_key) {
        out.extend(refused);
        out.extend(theirs);
    } else {
        out.extend(theirs);
        out.extend(refused);
    }
    out.extend(piece(body, broker.entries_end, body.len())?);
    Ok(wire::response_frame(api_key, version, correlation_id, &out))
}

/// ConsumerGroupDescribe and ShareGroupDescribe: Kafka lists the groups it refuses before the described ones
/// (KafkaApis adds them to the response first, then the coordinator's results).
fn denied_groups_first(api_key: i16) -> bool {
    api_key == ApiKey::ConsumerGroupDescribe as i16 || api_key == ApiKey::ShareGroupDescribe as i16
}

/// AlterShareGroupOffsets and DeleteShareGroupOffsets: Kafka lists the refused topics before the coordinator's
/// (KafkaApis adds them to its response builder first).
fn denied_topics_first(api_key: i16) -> bool {
    api_key == ApiKey::AlterShareGroupOffsets as i16 || api_key == ApiKey::DeleteShareGroupOffsets as i16
}

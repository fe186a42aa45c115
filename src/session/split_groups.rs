//! OffsetFetch v8+ (an admin client's batch of groups, or a consumer's one group) answered per group and per
//! topic, as Kafka's `KafkaApis.handleOffsetFetchRequestFromCoordinator` answers it: a group the principal
//! may not Describe gets GROUP_AUTHORIZATION_FAILED and no topics; every other group goes to the group
//! coordinator with only the topics the principal may Describe (possibly none), and its denied topics are
//! added after the coordinator's, each partition TOPIC_AUTHORIZATION_FAILED, unless the coordinator answered
//! the group with an error (then Kafka answers the coordinator's group as is).

use kafka_protocol::messages::ApiKey;

use crate::protocol::acl::ResourceType;
use crate::protocol::layout::{offset_fetch_groups, parse, Keep};
use crate::protocol::wire;

/// The request split in two: `(forwarded, denied)`. Forwarded: the groups the principal may Describe, each
/// with its describable topics (a null topic list stays null). Denied: the denied groups whole, and each
/// forwarded group's denied topics (a group entry of those alone). `None` when no group may be forwarded.
/// DescribeShareGroupOffsets (`key`) is split the same way: KafkaApis answers it per group and per topic alike.
pub(super) fn split_offset_fetch_groups(
    key: ApiKey,
    version: i16,
    body: &[u8],
    denied: &dyn Fn(ResourceType, &str) -> bool,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let request = parse(key, version, body, Keep::Resources).ok()?;
    let topic_name = if key == ApiKey::DescribeShareGroupOffsets { "topic_name" } else { "name" };
    let groups = request.list("groups")?;
    let mut forwarded: Vec<Vec<u8>> = Vec::new();
    let mut refused: Vec<Vec<u8>> = Vec::new();
    for (range, group) in &groups.items {
        let node = group.node()?;
        let element = body.get(range.clone())?;
        if denied(ResourceType::Group, node.name("group_id").ok()?) {
            refused.push(element.to_vec());
            continue;
        }
        let Some(topics) = node.list("topics") else {
            forwarded.push(element.to_vec());
            continue;
        };
        let mut allowed_topics = Vec::new();
        let mut denied_topics = Vec::new();
        for (topic_range, topic) in &topics.items {
            // A topic named by id (v10+) is decided on its name elsewhere: never split off here.
            let name = topic.node().and_then(|t| t.str(topic_name));
            let bytes = body.get(topic_range.clone())?;
            match name {
                Some(name) if denied(ResourceType::Topic, name) => denied_topics.push(bytes),
                _ => allowed_topics.push(bytes),
            }
        }
        // The group element with another topic list: its bytes before and after the list kept as sent.
        let with_topics = |chosen: &[&[u8]]| -> Option<Vec<u8>> {
            let mut out = Vec::with_capacity(element.len());
            out.extend_from_slice(body.get(range.start..topics.count_start)?);
            wire::write_array_count(&mut out, u32::try_from(chosen.len()).ok()?, true);
            chosen.iter().for_each(|t| out.extend_from_slice(t));
            out.extend_from_slice(body.get(topics.entries_end..range.end)?);
            Some(out)
        };
        forwarded.push(with_topics(&allowed_topics)?);
        if !denied_topics.is_empty() {
            refused.push(with_topics(&denied_topics)?);
        }
    }
    if forwarded.is_empty() || refused.is_empty() {
        return None;
    }
    let with_groups = |chosen: &[Vec<u8>]| -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(body.len());
        out.extend_from_slice(body.get(..groups.count_start)?);
        wire::write_array_count(&mut out, u32::try_from(chosen.len()).ok()?, true);
        chosen.iter().for_each(|g| out.extend_from_slice(g));
        out.extend_from_slice(body.get(groups.entries_end..)?);
        Some(out)
    };
    Some((with_groups(&forwarded)?, with_groups(&refused)?))
}

/// The broker's answer to the forwarded groups with the filter's answer for the denied part merged in: each
/// forwarded group answered without error gets its denied topics after the broker's, and the denied groups
/// follow the broker's groups. Fails (the connection closes) when the broker did not answer a group the
/// filter has denied topics of.
pub(super) fn merge_offset_fetch_groups(
    key: ApiKey,
    version: i16,
    frame: &[u8],
    denied_answer: &[u8],
) -> Result<Vec<u8>, String> {
    let api_key = key as i16;
    let offset = wire::response_body_offset(api_key, version);
    let body = frame.get(offset..).ok_or("short response")?;
    let ours = denied_answer.get(offset..).ok_or("short denied answer")?;
    let correlation_id = wire::response_correlation_id(frame).unwrap_or_default();
    let (broker_span, broker_groups) = offset_fetch_groups(key, version, body)?;
    let (_, our_groups) = offset_fetch_groups(key, version, ours).map_err(|e| format!("filter's answer: {e}"))?;
    let (mut pending, denied_groups): (Vec<_>, Vec<_>) = our_groups.iter().partition(|g| g.error_code == 0);
    let piece = |b: &[u8], from: usize, to: usize| b.get(from..to).map(<[u8]>::to_vec).ok_or("bad span");
    let total = u32::try_from(broker_groups.len() + denied_groups.len()).map_err(|_| "too many groups")?;
    let mut out = Vec::with_capacity(body.len() + ours.len());
    out.extend(piece(body, 0, broker_span.count_start)?);
    wire::write_array_count(&mut out, total, true);
    for group in &broker_groups {
        let Some(at) = pending.iter().position(|p| p.group_id == group.group_id) else {
            out.extend(piece(body, group.start, group.end)?);
            continue;
        };
        let denied_topics = pending.remove(at);
        if group.error_code != 0 {
            // Kafka answers a group the coordinator failed as the coordinator did, without the denied topics.
            out.extend(piece(body, group.start, group.end)?);
            continue;
        }
        let topics = u32::try_from(group.topics_count + denied_topics.topics_count).map_err(|_| "too many topics")?;
        out.extend(piece(body, group.start, group.topics_count_start)?);
        wire::write_array_count(&mut out, topics, true);
        out.extend(piece(body, group.topics_start, group.topics_end)?);
        out.extend(piece(ours, denied_topics.topics_start, denied_topics.topics_end)?);
        out.extend(piece(body, group.topics_end, group.end)?);
    }
    if let Some(missing) = pending.first() {
        return Err(format!("the broker did not answer group {:?}", missing.group_id));
    }
    for group in &denied_groups {
        out.extend(piece(ours, group.start, group.end)?);
    }
    out.extend(piece(body, broker_span.entries_end, body.len())?);
    Ok(wire::response_frame(api_key, version, correlation_id, &out))
}

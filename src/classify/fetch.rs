//! Fetch, which every consumer sends in a loop: a walker of its own that keeps nothing but the topics (the
//! layout walk builds a tree of every named field); held to the layout reading by a test. From v13 topics
//! are addressed by id: they are decided on the names learned from the broker (`crate::topic_ids`).

use std::borrow::Cow;

use super::{cluster, Needs, Requirements, TopicKey};
use crate::protocol::acl::Operation;
use crate::protocol::layout::{bad, stop_reason, Reader, Stop};
use crate::topic_ids::TopicUuid;

/// Highest Fetch version the walker reads (Kafka 4.4's newest).
pub(crate) const MAX_FETCH_VERSION: i16 = 18;

/// The requirements of a complete Fetch request: Read on each topic, or ClusterAction for a follower
/// broker. The same strictness as [`parse`] with the FETCH layout, which the tests check it against: every
/// count and length within the body, tagged fields walked, bytes after the request ignored. With them, the
/// ids the filter has not learned (see `session::topic_resolution`), whose topics are not among them.
pub(crate) fn fetch_requirements(version: i16, body: &[u8]) -> Result<(Requirements<'_>, Vec<TopicUuid>), String> {
    let mut needs = Needs::default();
    let mut null_name = false;
    let mut unknown = Vec::new();
    let follower = walk_fetch(version, body, |topic| match topic {
        TopicKey::Name(Some(name)) => {
            needs.topic(Operation::Read, name);
        }
        TopicKey::Name(None) => null_name = true,
        TopicKey::Id(id) => match crate::topic_ids::name_of(&id) {
            Some(name) => {
                needs.topic_cow(Operation::Read, Cow::Owned(name.to_string()));
            }
            None if !unknown.contains(&id) => unknown.push(id),
            None => {}
        },
    })
    .map_err(stop_reason)?;
    if follower {
        // A follower is asked ClusterAction only, whatever it names.
        return Ok((cluster(Operation::ClusterAction), Vec::new()));
    }
    if null_name {
        return Err("topic is null".into());
    }
    Ok((needs.done(), unknown))
}

/// Walks a Fetch request v0-v18, calling `topic` with each topic (by name, `None`: null; by id from v13);
/// returns whether a follower broker sent it (replica id >= 0; from v15 in the tagged replica state).
pub(crate) fn walk_fetch<'a>(version: i16, body: &'a [u8], mut topic: impl FnMut(TopicKey<'a>)) -> Result<bool, Stop> {
    if !(0..=MAX_FETCH_VERSION).contains(&version) {
        return Err(bad("version not handled by the Fetch walker"));
    }
    let flexible = version >= 12;
    let by_id = version >= 13;
    let mut r = Reader::new(body, body.len());
    let mut replica_id = if version <= 14 { r.i32()? } else { -1 };
    // max_wait_ms, min_bytes; max_bytes (v3+); isolation_level (v4+); session_id, session_epoch (v7+).
    let fixed =
        8 + if version >= 3 { 4 } else { 0 } + if version >= 4 { 1 } else { 0 } + if version >= 7 { 8 } else { 0 };
    r.skip_read(fixed)?;
    // partition, current_leader_epoch (v9+), fetch_offset, last_fetched_epoch (v12+), log_start_offset (v5+),
    // partition_max_bytes.
    let partition =
        16 + if version >= 9 { 4 } else { 0 } + if version >= 12 { 4 } else { 0 } + if version >= 5 { 8 } else { 0 };
    for _ in 0..r.count(flexible)?.unwrap_or(0) {
        let key = if by_id { TopicKey::Id(r.array()?) } else { TopicKey::Name(r.string(flexible)?) };
        for _ in 0..r.count(flexible)?.unwrap_or(0) {
            r.skip_read(partition)?;
            if flexible {
                r.tagged_fields()?;
            }
        }
        if flexible {
            r.tagged_fields()?;
        }
        topic(key);
    }
    if version >= 7 {
        // forgotten_topics_data: topic (name, or id from v13), partitions (i32s).
        for _ in 0..r.count(flexible)?.unwrap_or(0) {
            if by_id {
                r.skip_read(16)?;
            } else if let Some(n) = r.length(flexible, false)? {
                r.skip_read(n)?;
            }
            let partitions = r.count(flexible)?.unwrap_or(0);
            r.skip_read(partitions.checked_mul(4).ok_or_else(|| bad("array overflow"))?)?;
            if flexible {
                r.tagged_fields()?;
            }
        }
    }
    if version >= 11 {
        // rack_id
        if let Some(n) = r.length(flexible, false)? {
            r.skip_read(n)?;
        }
    }
    if version >= 15 {
        // The request's tagged fields: ReplicaState (tag 1) starts with the replica id.
        if let Some(id) = replica_state_id(&mut r)? {
            replica_id = id;
        }
    } else if flexible {
        r.tagged_fields()?;
    }
    Ok(replica_id >= 0)
}

/// Walks the request's tagged fields (as `Reader::tagged_fields`), returning the replica id of a
/// ReplicaState (tag 1), the field a follower sets from Fetch v15.
fn replica_state_id(r: &mut Reader<'_>) -> Result<Option<i32>, Stop> {
    let n = r.uvarint()? as usize;
    if n > r.left() {
        return Err(bad("more tagged fields than bytes"));
    }
    let mut replica_id = None;
    for _ in 0..n {
        let tag = r.uvarint()?;
        if tag > i32::MAX as u32 {
            return Err(bad("tagged field tag out of range"));
        }
        let size = r.uvarint()? as usize;
        let data = r.take(size)?;
        if tag == 1 {
            // A ReplicaState too short for its replica id is the broker's to refuse (as the layout walk,
            // which skips tagged fields, lets it pass).
            let mut state = Reader::new(data, data.len());
            replica_id = state.i32().ok();
        }
    }
    Ok(replica_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::requirements::requirements_of;
    use kafka_protocol::messages::*;

    /// The Fetch walker against the layout walk it replaces, on every version, on real requests and on
    /// thousands of corruptions of them (bytes flipped, cut, extended): the same verdict and the same topics.
    #[test]
    fn fetch_walker_agrees_with_the_fetch_layout() {
        use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
        use kafka_protocol::protocol::{Encodable, StrBytes};
        let topic = |name: &str| TopicName(StrBytes::from_string(name.into()));
        // From v13 the topics go by id: learned as the broker would have taught them.
        let id = |n: u8| uuid::Uuid::from_bytes([n; 16]);
        crate::topic_ids::learn([1; 16], "orders");
        crate::topic_ids::learn([2; 16], "payments");
        let mut checked = 0;
        let mut follower_checked = false;
        // kafka-protocol encodes the versions current brokers accept (v4+).
        for version in crate::protocol::api::min_version(ApiKey::Fetch as i16)..=MAX_FETCH_VERSION {
            let mut request = FetchRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
                FetchTopic::default().with_topic(topic("orders")).with_topic_id(id(1)).with_partitions(vec![
                    FetchPartition::default().with_partition(0),
                    FetchPartition::default().with_partition(1),
                ]),
                FetchTopic::default()
                    .with_topic(topic("payments"))
                    .with_topic_id(id(2))
                    .with_partitions(vec![FetchPartition::default()]),
            ]);
            if version >= 7 {
                request = request.with_forgotten_topics_data(vec![ForgottenTopic::default()
                    .with_topic(topic("old"))
                    .with_topic_id(id(3))
                    .with_partitions(vec![3, 4])]);
            }
            if version >= 11 {
                request = request.with_rack_id(StrBytes::from_static_str("rack-a"));
            }
            let mut follower = request.clone().with_replica_id(BrokerId(2));
            follower.topics.truncate(1);
            if version >= 15 {
                // From v15 a follower says its id in the tagged ReplicaState, which the layout walk skips.
                let state = fetch_request::ReplicaState::default().with_replica_id(BrokerId(2));
                let follower = follower.clone().with_replica_id(BrokerId(-1)).with_replica_state(state);
                let mut body = Vec::new();
                follower.encode(&mut body, version).expect("encodable");
                let walked = fetch_requirements(version, &body).expect("walks");
                assert_eq!(walked, (cluster(Operation::ClusterAction), vec![]), "v{version}");
                follower_checked = true;
            }
            let compared = if version >= 15 { vec![request] } else { vec![request, follower] };
            for request in compared {
                let mut body = Vec::new();
                request.encode(&mut body, version).expect("encodable");
                let mut variants = vec![body.clone(), [body.as_slice(), &[0, 1, 2]].concat()];
                for at in 0..body.len() {
                    variants.push(body[..at].to_vec());
                    for byte in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                        let mut changed = body.clone();
                        changed[at] = byte;
                        variants.push(changed);
                    }
                }
                for variant in &variants {
                    let by_layout = requirements_of(ApiKey::Fetch as i16, version, variant);
                    // An id not learned (a corrupted one) is a verdict of its own for the walker.
                    let by_walker = fetch_requirements(version, variant).and_then(|(requirements, unknown)| {
                        if unknown.is_empty() {
                            Ok(requirements)
                        } else {
                            Err("topic id not learned".to_string())
                        }
                    });
                    assert_eq!(
                        by_walker.is_ok(),
                        by_layout.is_ok(),
                        "v{version} {variant:?}: {by_walker:?} {by_layout:?}"
                    );
                    if let (Ok(walker), Ok(layout)) = (by_walker, by_layout) {
                        assert_eq!(walker, layout, "v{version} {variant:?}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 5_000, "{checked} requests compared");
        assert!(follower_checked);
    }
}

//! Fetch, which every consumer sends in a loop: a walker of its own that keeps nothing but the topic names
//! (the layout walk builds a tree of every named field); held to the layout reading by a test.

use super::{cluster, Needs, Requirements};
use crate::protocol::acl::Operation;
use crate::protocol::layout::{bad, stop_reason, Reader, Stop};

/// The requirements of a complete Fetch request (v0-v12; the topic-id versions are never classified): Read
/// on each topic, or ClusterAction for a follower broker. The same strictness as [`parse`] with the FETCH
/// layout, which the tests check it against: every count and length within the body, tagged fields walked,
/// bytes after the request ignored.
pub(crate) fn fetch_requirements(version: i16, body: &[u8]) -> Result<Requirements<'_>, String> {
    let mut needs = Needs::default();
    let mut null_name = false;
    let follower = walk_fetch(version, body, |name| match name {
        Some(name) => {
            needs.topic(Operation::Read, name);
        }
        None => null_name = true,
    })
    .map_err(stop_reason)?;
    if follower {
        // A follower is asked ClusterAction only, whatever it names.
        return Ok(cluster(Operation::ClusterAction));
    }
    if null_name {
        return Err("topic is null".into());
    }
    Ok(needs.done())
}

/// Walks a Fetch request v0-v12, calling `topic` with each topic name (`None`: null); returns whether a
/// follower broker sent it (replica id >= 0).
pub(crate) fn walk_fetch<'a>(
    version: i16,
    body: &'a [u8],
    mut topic: impl FnMut(Option<&'a str>),
) -> Result<bool, Stop> {
    if !(0..=12).contains(&version) {
        return Err(bad("version not handled by the Fetch walker"));
    }
    let flexible = version >= 12;
    let mut r = Reader::new(body, body.len());
    let replica_id = r.i32()?;
    // max_wait_ms, min_bytes; max_bytes (v3+); isolation_level (v4+); session_id, session_epoch (v7+).
    let fixed =
        8 + if version >= 3 { 4 } else { 0 } + if version >= 4 { 1 } else { 0 } + if version >= 7 { 8 } else { 0 };
    r.skip_read(fixed)?;
    // partition, current_leader_epoch (v9+), fetch_offset, last_fetched_epoch (v12+), log_start_offset (v5+),
    // partition_max_bytes.
    let partition =
        16 + if version >= 9 { 4 } else { 0 } + if version >= 12 { 4 } else { 0 } + if version >= 5 { 8 } else { 0 };
    for _ in 0..r.count(flexible)?.unwrap_or(0) {
        let name = r.string(flexible)?;
        for _ in 0..r.count(flexible)?.unwrap_or(0) {
            r.skip_read(partition)?;
            if flexible {
                r.tagged_fields()?;
            }
        }
        if flexible {
            r.tagged_fields()?;
        }
        topic(name);
    }
    if version >= 7 {
        // forgotten_topics_data: topic, partitions (i32s).
        for _ in 0..r.count(flexible)?.unwrap_or(0) {
            if let Some(n) = r.length(flexible, false)? {
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
    if flexible {
        r.tagged_fields()?;
    }
    Ok(replica_id >= 0)
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
        let mut checked = 0;
        // kafka-protocol encodes the versions current brokers accept (v4+).
        for version in crate::protocol::api::min_version(ApiKey::Fetch as i16)..=12i16 {
            let mut request = FetchRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
                FetchTopic::default().with_topic(topic("orders")).with_partitions(vec![
                    FetchPartition::default().with_partition(0),
                    FetchPartition::default().with_partition(1),
                ]),
                FetchTopic::default().with_topic(topic("payments")).with_partitions(vec![FetchPartition::default()]),
            ]);
            if version >= 7 {
                request = request.with_forgotten_topics_data(vec![ForgottenTopic::default()
                    .with_topic(topic("old"))
                    .with_partitions(vec![3, 4])]);
            }
            if version >= 11 {
                request = request.with_rack_id(StrBytes::from_static_str("rack-a"));
            }
            let mut follower = request.clone().with_replica_id(BrokerId(2));
            follower.topics.truncate(1);
            for request in [request, follower] {
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
                    let by_walker = fetch_requirements(version, variant);
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
    }
}

//! Policy, sessions and real Kafka request bytes shared by the session-level fuzz targets.
#![allow(dead_code)]

use std::rc::Rc;

use bytes::Bytes;
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

/// Enforce mode. ANONYMOUS may write/read `allowed` (and describe its configs), describe and read `visible-*`, read and describe group
/// `g`, describe transactional id `t`; Write on `allowed-secret` is denied explicitly; nothing else is allowed.
pub const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["Write", "Read", "Describe", "DescribeConfigs"]},
      {"resource": {"type": "topic", "name": "visible-", "patternType": "prefix"}, "operations": ["Describe", "Read"]},
      {"resource": {"type": "topic", "name": "allowed-secret", "patternType": "prefix"}, "operations": ["Write"],
       "type": "deny"},
      {"resource": {"type": "group", "name": "g"}, "operations": ["Read", "Describe"]},
      {"resource": {"type": "transactionalId", "name": "t"}, "operations": ["Describe"]}
    ]}
  ]}
}"#;

pub fn config() -> Rc<Config> {
    thread_local! {
        static CONFIG: Rc<Config> = Rc::new(Config::parse(POLICY.as_bytes()).expect("valid policy"));
    }
    CONFIG.with(Rc::clone)
}

pub fn session() -> Session {
    let mut s = Session::new(config(), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

pub fn request<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).expect("encodable");
    kafka_mtls_filter::protocol::wire::request_frame(api_key as i16, version, correlation_id, Some("fuzz"), &encoded)
}

pub fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.into()))
}

pub fn produce(topics: &[&str], acks: i16) -> ProduceRequest {
    ProduceRequest::default().with_acks(acks).with_timeout_ms(1000).with_topic_data(
        topics
            .iter()
            .map(|t| {
                TopicProduceData::default().with_name(topic(t)).with_partition_data(vec![
                    PartitionProduceData::default().with_index(0).with_records(Some(Bytes::from(vec![7u8; 40]))),
                ])
            })
            .collect(),
    )
}

pub fn metadata(names: Option<&[&str]>, auto_create: bool) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(
            names.map(|n| n.iter().map(|t| MetadataRequestTopic::default().with_name(Some(topic(t)))).collect()),
        )
        .with_allow_auto_topic_creation(auto_create)
}

pub fn fetch(name: &str) -> FetchRequest {
    fetch_topics(&[name])
}

pub fn fetch_topics(names: &[&str]) -> FetchRequest {
    FetchRequest::default().with_max_wait_ms(500).with_min_bytes(1).with_max_bytes(1 << 20).with_topics(
        names
            .iter()
            .map(|name| {
                FetchTopic::default().with_topic(topic(name)).with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(1)
                    .with_partition_max_bytes(1 << 20)])
            })
            .collect(),
    )
}

fn text(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

fn list_offsets(names: &[&str]) -> ListOffsetsRequest {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(
        names
            .iter()
            .map(|n| {
                ListOffsetsTopic::default()
                    .with_name(topic(n))
                    .with_partitions(vec![ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1)])
            })
            .collect(),
    )
}

fn offset_commit(names: &[&str]) -> OffsetCommitRequest {
    use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    OffsetCommitRequest::default().with_group_id(GroupId(text("g"))).with_topics(
        names
            .iter()
            .map(|n| {
                OffsetCommitRequestTopic::default().with_name(topic(n)).with_partitions(vec![
                    OffsetCommitRequestPartition::default().with_partition_index(0).with_committed_offset(5),
                ])
            })
            .collect(),
    )
}

/// How many requests [`canned_request`] picks from.
pub const MENU: u8 = 20;

/// A menu of real requests, picked by a fuzz byte. Versions are taken modulo each API's supported range.
pub fn canned_request(pick: u8, version_byte: u8, correlation_id: i32) -> Vec<u8> {
    let v = |lo: i16, hi: i16| lo + (version_byte as i16 % (hi - lo + 1));
    match pick % MENU {
        0 => request(ApiKey::Produce, v(3, 12), correlation_id, &produce(&["allowed"], -1)),
        1 => request(ApiKey::Produce, v(3, 12), correlation_id, &produce(&["forbidden"], -1)),
        2 => request(ApiKey::Produce, v(3, 12), correlation_id, &produce(&["allowed", "allowed-secret"], 1)),
        3 => request(ApiKey::Produce, v(3, 12), correlation_id, &produce(&["forbidden"], 0)),
        4 => request(ApiKey::Metadata, v(1, 12), correlation_id, &metadata(None, true)),
        5 => request(
            ApiKey::Metadata,
            v(0, 12),
            correlation_id,
            &metadata(Some(&["allowed", "hidden-1", "visible-2"]), true),
        ),
        6 => request(ApiKey::ApiVersions, v(0, 3), correlation_id, &ApiVersionsRequest::default()),
        7 => request(ApiKey::Fetch, v(4, 12), correlation_id, &fetch("allowed")),
        8 => request(ApiKey::Fetch, v(4, 12), correlation_id, &fetch("forbidden")),
        9 => request(ApiKey::Metadata, 0, correlation_id, &metadata(Some(&["hidden-1"]), true)),
        // Split requests: the broker's answer to the allowed part is walked and merged.
        10 => request(ApiKey::ListOffsets, v(1, 10), correlation_id, &list_offsets(&["allowed", "forbidden"])),
        11 => request(ApiKey::OffsetCommit, v(2, 9), correlation_id, &offset_commit(&["allowed", "forbidden"])),
        12 => request(
            ApiKey::DescribeGroups,
            v(0, 5),
            correlation_id,
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(text("g")), GroupId(text("secret"))]),
        ),
        // Listings: the broker's answer is filtered entry by entry.
        13 => request(ApiKey::ListGroups, v(0, 5), correlation_id, &ListGroupsRequest::default()),
        14 => request(
            ApiKey::OffsetFetch,
            v(2, 7),
            correlation_id,
            &OffsetFetchRequest::default().with_group_id(GroupId(text("g"))).with_topics(None),
        ),
        15 => request(ApiKey::DescribeTopicPartitions, 0, correlation_id, &DescribeTopicPartitionsRequest::default()),
        16 => request(ApiKey::ListTransactions, v(0, 1), correlation_id, &ListTransactionsRequest::default()),
        // A split with config resources of two types: the broker's configs (the cluster's) are denied.
        17 => request(
            ApiKey::DescribeConfigs,
            v(1, 4),
            correlation_id,
            &describe_configs(&[(2, "allowed"), (4, "1"), (2, "forbidden")]),
        ),
        // Several groups, one denied: split by group; the allowed one asks for all its topics (filtered).
        18 => request(
            ApiKey::OffsetFetch,
            v(8, 9),
            correlation_id,
            &offset_fetch_groups(&[("g", None), ("secret", Some("allowed"))]),
        ),
        // Two readable topics: the response is walked for per-topic byte counts.
        _ => request(ApiKey::Fetch, v(4, 12), correlation_id, &fetch_topics(&["allowed", "visible-1"])),
    }
}

/// Splits complete frames off the front of `buf` (size prefix included); leaves the incomplete tail.
pub fn take_frames(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    loop {
        let Some(prefix) = buf.get(..4) else { break };
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        assert!(size >= 0, "forwarded a negative frame size");
        let len = size as usize + 4;
        if buf.len() < len {
            break;
        }
        frames.push(buf.drain(..len).collect());
    }
    frames
}

/// Request header fields of a forwarded request frame: (api key, version, correlation id, header length).
pub fn request_header(frame: &[u8]) -> Option<(i16, i16, i32, usize)> {
    let body = frame.get(4..)?;
    match kafka_mtls_filter::protocol::wire::parse_request_header(body, body.len()) {
        kafka_mtls_filter::protocol::wire::HeaderParse::Complete(h) => {
            Some((h.api_key, h.api_version, h.correlation_id, h.header_len))
        }
        _ => None,
    }
}

/// DescribeConfigs of (config resource type, name) pairs, all keys.
pub fn describe_configs(resources: &[(i8, &str)]) -> DescribeConfigsRequest {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    let resources = resources
        .iter()
        .map(|(resource_type, name)| {
            DescribeConfigsResource::default().with_resource_type(*resource_type).with_resource_name(text(name))
        })
        .collect();
    DescribeConfigsRequest::default().with_resources(resources)
}

/// OffsetFetch v8+ of (group, one named topic or all topics) pairs.
pub fn offset_fetch_groups(groups: &[(&str, Option<&str>)]) -> OffsetFetchRequest {
    use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
    let groups = groups
        .iter()
        .map(|(group, topic)| {
            let topics = topic.map(|t| {
                vec![OffsetFetchRequestTopics::default().with_name(TopicName(text(t))).with_partition_indexes(vec![0])]
            });
            OffsetFetchRequestGroup::default().with_group_id(GroupId(text(group))).with_topics(topics)
        })
        .collect();
    OffsetFetchRequest::default().with_groups(groups)
}

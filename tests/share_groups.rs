//! Share groups' records and offsets (KIP-932) through a session, as KafkaApis answers them: ShareFetch and
//! ShareAcknowledge (Read on the group refuses the request whole; Read on each topic, by id, splits it: the
//! allowed topics reach the broker, with their piggybacked acknowledgements, the denied ones are answered per
//! partition), AlterShareGroupOffsets and DeleteShareGroupOffsets (the refused topics listed before the
//! coordinator's), DescribeShareGroupOffsets (per group and per topic; all topics narrowed in the answer).

mod common;

use std::rc::Rc;

use bytes::Bytes;
use common::{downstream, enc, upstream};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// Topic `allowed`, groups `grp-ok*` may do everything; group `grp-read` only Read and Describe.
const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["All"]},
      {"resource": {"type": "group", "name": "grp-ok", "patternType": "prefix"}, "operations": ["All"]},
      {"resource": {"type": "group", "name": "grp-read"}, "operations": ["Read", "Describe"]}
    ]}
  ]}
}"#;

const ALLOWED: [u8; 16] = [1; 16];
const DENIED: [u8; 16] = [2; 16];

fn session() -> Session {
    kafka_mtls_filter::topic_ids::learn(ALLOWED, "allowed");
    kafka_mtls_filter::topic_ids::learn(DENIED, "denied");
    let cfg = Config::parse(POLICY.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn id(bytes: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(bytes)
}

fn request<R: Encodable>(key: ApiKey, v: i16, body: &R) -> Vec<u8> {
    wire::request_frame(key as i16, v, 9, Some("test"), &enc(body, v))
}

fn response<R: Encodable>(key: ApiKey, v: i16, body: &R) -> Vec<u8> {
    wire::response_frame(key as i16, v, 9, &enc(body, v))
}

fn decode_request<T: Decodable>(key: ApiKey, v: i16, frame: &[u8]) -> T {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    let header = RequestHeader::decode(&mut body, key.request_header_version(v)).expect("request header");
    assert_eq!(header.request_api_key, key as i16, "forwarded as sent, not substituted");
    T::decode(&mut body, v).expect("forwarded request decodes")
}

fn decode_response<T: Decodable>(key: ApiKey, v: i16, frame: &[u8]) -> T {
    let mut body = Bytes::copy_from_slice(&frame[wire::response_body_offset(key as i16, v)..]);
    let decoded = T::decode(&mut body, v).expect("response decodes");
    assert!(body.is_empty(), "no bytes left after the response");
    decoded
}

fn share_fetch(group: &str, topics: &[[u8; 16]]) -> ShareFetchRequest {
    use share_fetch_request::{AcknowledgementBatch, FetchPartition, FetchTopic};
    let batch =
        AcknowledgementBatch::default().with_first_offset(0).with_last_offset(1).with_acknowledge_types(vec![1]);
    let topics = topics
        .iter()
        .map(|t| {
            let partition =
                FetchPartition::default().with_partition_index(0).with_acknowledgement_batches(vec![batch.clone()]);
            FetchTopic::default().with_topic_id(id(*t)).with_partitions(vec![partition])
        })
        .collect();
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s(group))))
        .with_member_id(Some(s("member-1")))
        .with_share_session_epoch(1)
        .with_topics(topics)
}

fn share_fetch_response(topics: &[[u8; 16]], error_code: i16) -> ShareFetchResponse {
    use share_fetch_response::{NodeEndpoint, PartitionData, ShareFetchableTopicResponse};
    let topics = topics
        .iter()
        .map(|t| {
            let partition =
                PartitionData::default().with_partition_index(0).with_records(Some(Bytes::from_static(b"recs")));
            ShareFetchableTopicResponse::default().with_topic_id(id(*t)).with_partitions(vec![partition])
        })
        .collect();
    ShareFetchResponse::default()
        .with_throttle_time_ms(3)
        .with_error_code(error_code)
        .with_acquisition_lock_timeout_ms(15_000)
        .with_responses(topics)
        .with_node_endpoints(vec![NodeEndpoint::default()
            .with_node_id(BrokerId(1))
            .with_host(s("broker"))
            .with_port(9092)])
}

#[test]
fn share_fetch_forwards_the_readable_topics_and_answers_the_others_per_partition() {
    let v = 1;
    let mut session = session();
    let forwarded =
        downstream(&mut session, &request(ApiKey::ShareFetch, v, &share_fetch("grp-ok", &[ALLOWED, DENIED])));
    let sent: ShareFetchRequest = decode_request(ApiKey::ShareFetch, v, &forwarded);
    // The allowed topic's acknowledgements reach the broker with it.
    assert_eq!(sent, share_fetch("grp-ok", &[ALLOWED]));
    let broker = share_fetch_response(&[ALLOWED], 0);
    let merged: ShareFetchResponse =
        decode_response(ApiKey::ShareFetch, v, &upstream(&mut session, &response(ApiKey::ShareFetch, v, &broker)));
    let mut expected = broker.clone();
    let denied = share_fetch_response::PartitionData::default()
        .with_partition_index(0)
        .with_error_code(29)
        .with_acknowledge_error_code(29)
        .with_records(Some(Bytes::new()));
    expected.responses.push(
        share_fetch_response::ShareFetchableTopicResponse::default()
            .with_topic_id(id(DENIED))
            .with_partitions(vec![denied]),
    );
    assert_eq!(merged, expected);

    // Every topic denied: the request still reaches the broker (the share session moves on), with no topics.
    let mut session = self::session();
    let forwarded = downstream(&mut session, &request(ApiKey::ShareFetch, v, &share_fetch("grp-ok", &[DENIED])));
    let sent: ShareFetchRequest = decode_request(ApiKey::ShareFetch, v, &forwarded);
    assert!(sent.topics.is_empty());
    let merged: ShareFetchResponse = decode_response(
        ApiKey::ShareFetch,
        v,
        &upstream(&mut session, &response(ApiKey::ShareFetch, v, &share_fetch_response(&[], 0))),
    );
    assert_eq!(merged.responses.len(), 1);
    assert_eq!(merged.responses[0].partitions[0].error_code, 29);

    // A request-level error from the broker (a share session's epoch) is Kafka's whole answer.
    let mut session = self::session();
    downstream(&mut session, &request(ApiKey::ShareFetch, v, &share_fetch("grp-ok", &[ALLOWED, DENIED])));
    let failed = response(ApiKey::ShareFetch, v, &share_fetch_response(&[], 123));
    assert_eq!(upstream(&mut session, &failed), failed);
}

#[test]
fn share_fetch_and_acknowledge_of_a_group_not_readable_are_refused_whole() {
    let v = 1;
    let mut session = session();
    let forwarded = downstream(&mut session, &request(ApiKey::ShareFetch, v, &share_fetch("grp-other", &[ALLOWED])));
    assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "substituted by ApiVersions v0");
    let answer = upstream(&mut session, &wire::response_frame(18, 0, 9, &[0, 0, 0, 0, 0, 0]));
    let refused: ShareFetchResponse = decode_response(ApiKey::ShareFetch, v, &answer);
    assert_eq!(refused, ShareFetchResponse::default().with_error_code(30));

    let ack = ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s("grp-other"))))
        .with_member_id(Some(s("member-1")))
        .with_share_session_epoch(1);
    let mut session = self::session();
    let forwarded = downstream(&mut session, &request(ApiKey::ShareAcknowledge, v, &ack));
    assert_eq!(&forwarded[4..8], &[0, 18, 0, 0]);
    let answer = upstream(&mut session, &wire::response_frame(18, 0, 9, &[0, 0, 0, 0, 0, 0]));
    let refused: ShareAcknowledgeResponse = decode_response(ApiKey::ShareAcknowledge, v, &answer);
    assert_eq!(refused, ShareAcknowledgeResponse::default().with_error_code(30));
}

#[test]
fn share_acknowledge_forwards_the_readable_topics() {
    use share_acknowledge_request::{AcknowledgePartition, AcknowledgeTopic};
    use share_acknowledge_response::{PartitionData, ShareAcknowledgeTopicResponse};
    let v = 1;
    let topic = |t: [u8; 16]| {
        AcknowledgeTopic::default()
            .with_topic_id(id(t))
            .with_partitions(vec![AcknowledgePartition::default().with_partition_index(4)])
    };
    let ack = |topics| {
        ShareAcknowledgeRequest::default()
            .with_group_id(Some(GroupId(s("grp-ok"))))
            .with_member_id(Some(s("member-1")))
            .with_share_session_epoch(2)
            .with_topics(topics)
    };
    let mut session = session();
    let forwarded =
        downstream(&mut session, &request(ApiKey::ShareAcknowledge, v, &ack(vec![topic(ALLOWED), topic(DENIED)])));
    let sent: ShareAcknowledgeRequest = decode_request(ApiKey::ShareAcknowledge, v, &forwarded);
    assert_eq!(sent, ack(vec![topic(ALLOWED)]));
    let answered = |t: [u8; 16], code| {
        ShareAcknowledgeTopicResponse::default()
            .with_topic_id(id(t))
            .with_partitions(vec![PartitionData::default().with_partition_index(4).with_error_code(code)])
    };
    let broker = ShareAcknowledgeResponse::default().with_responses(vec![answered(ALLOWED, 0)]);
    let merged: ShareAcknowledgeResponse = decode_response(
        ApiKey::ShareAcknowledge,
        v,
        &upstream(&mut session, &response(ApiKey::ShareAcknowledge, v, &broker)),
    );
    assert_eq!(merged.responses, vec![answered(ALLOWED, 0), answered(DENIED, 29)]);
}

#[test]
fn share_group_offsets_alter_and_delete_list_the_refused_topics_first() {
    use alter_share_group_offsets_request::{
        AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
    };
    use alter_share_group_offsets_response::{
        AlterShareGroupOffsetsResponsePartition, AlterShareGroupOffsetsResponseTopic,
    };
    use delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
    use delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic;
    let alter = |group: &str, topics: &[&str]| {
        let topics = topics
            .iter()
            .map(|t| {
                AlterShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(TopicName(s(t)))
                    .with_partitions(vec![AlterShareGroupOffsetsRequestPartition::default().with_partition_index(1)])
            })
            .collect();
        AlterShareGroupOffsetsRequest::default().with_group_id(GroupId(s(group))).with_topics(topics)
    };
    let altered = |t: &str, topic_id: [u8; 16], code: i16, message: Option<&str>| {
        AlterShareGroupOffsetsResponseTopic::default()
            .with_topic_name(TopicName(s(t)))
            .with_topic_id(id(topic_id))
            .with_partitions(vec![AlterShareGroupOffsetsResponsePartition::default()
                .with_partition_index(1)
                .with_error_code(code)
                .with_error_message(message.map(s))])
    };
    let mut session = session();
    let forwarded =
        downstream(&mut session, &request(ApiKey::AlterShareGroupOffsets, 0, &alter("grp-ok", &["allowed", "denied"])));
    let sent: AlterShareGroupOffsetsRequest = decode_request(ApiKey::AlterShareGroupOffsets, 0, &forwarded);
    assert_eq!(sent, alter("grp-ok", &["allowed"]));
    let broker = AlterShareGroupOffsetsResponse::default().with_responses(vec![altered("allowed", ALLOWED, 0, None)]);
    let merged: AlterShareGroupOffsetsResponse = decode_response(
        ApiKey::AlterShareGroupOffsets,
        0,
        &upstream(&mut session, &response(ApiKey::AlterShareGroupOffsets, 0, &broker)),
    );
    // The refused topic with the id the filter learned, as Kafka names the topic's id.
    let refused = altered("denied", DENIED, 29, Some("Topic authorization failed."));
    assert_eq!(merged.responses, vec![refused, altered("allowed", ALLOWED, 0, None)]);

    // Delete: Delete on the group (grp-read may only Read it), Read on each topic.
    let delete = |group: &str, topics: &[&str]| {
        let topics =
            topics.iter().map(|t| DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(TopicName(s(t))));
        DeleteShareGroupOffsetsRequest::default().with_group_id(GroupId(s(group))).with_topics(topics.collect())
    };
    let mut session = self::session();
    let forwarded =
        downstream(&mut session, &request(ApiKey::DeleteShareGroupOffsets, 0, &delete("grp-read", &["allowed"])));
    assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "substituted by ApiVersions v0");
    let answer = upstream(&mut session, &wire::response_frame(18, 0, 9, &[0, 0, 0, 0, 0, 0]));
    let refused: DeleteShareGroupOffsetsResponse = decode_response(ApiKey::DeleteShareGroupOffsets, 0, &answer);
    let expected = DeleteShareGroupOffsetsResponse::default()
        .with_error_code(30)
        .with_error_message(Some(s("Group authorization failed.")));
    assert_eq!(refused, expected);

    let mut session = self::session();
    downstream(&mut session, &request(ApiKey::DeleteShareGroupOffsets, 0, &delete("grp-ok", &["allowed", "denied"])));
    let deleted = |t: &str, code: i16, message: Option<&str>| {
        DeleteShareGroupOffsetsResponseTopic::default()
            .with_topic_name(TopicName(s(t)))
            .with_error_code(code)
            .with_error_message(message.map(s))
    };
    let broker = DeleteShareGroupOffsetsResponse::default().with_responses(vec![deleted("allowed", 0, None)]);
    let merged: DeleteShareGroupOffsetsResponse = decode_response(
        ApiKey::DeleteShareGroupOffsets,
        0,
        &upstream(&mut session, &response(ApiKey::DeleteShareGroupOffsets, 0, &broker)),
    );
    let refused = deleted("denied", 29, Some("Topic authorization failed."));
    assert_eq!(merged.responses, vec![refused, deleted("allowed", 0, None)]);
}

#[test]
fn share_group_offsets_described_per_group_and_topic_and_all_topics_narrowed() {
    use describe_share_group_offsets_request::{
        DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
    };
    use describe_share_group_offsets_response::{
        DescribeShareGroupOffsetsResponseGroup as Group, DescribeShareGroupOffsetsResponsePartition as Partition,
        DescribeShareGroupOffsetsResponseTopic as Topic,
    };
    let asked = |group: &str, topics: Option<&[&str]>| {
        let topics = topics.map(|names| {
            names
                .iter()
                .map(|t| {
                    DescribeShareGroupOffsetsRequestTopic::default()
                        .with_topic_name(TopicName(s(t)))
                        .with_partitions(vec![0])
                })
                .collect()
        });
        DescribeShareGroupOffsetsRequestGroup::default().with_group_id(GroupId(s(group))).with_topics(topics)
    };
    let topic = |t: &str, start: i64, code: i16, message: Option<&str>| {
        Topic::default().with_topic_name(TopicName(s(t))).with_partitions(vec![Partition::default()
            .with_start_offset(start)
            .with_error_code(code)
            .with_error_message(message.map(s))])
    };
    let group = |g: &str, topics: Vec<Topic>, code: i16| {
        Group::default().with_group_id(GroupId(s(g))).with_topics(topics).with_error_code(code)
    };
    let req = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        asked("grp-ok", Some(&["allowed", "denied"])),
        asked("grp-other", Some(&["allowed"])),
        asked("grp-ok-all", None),
    ]);
    let mut session = session();
    let forwarded = downstream(&mut session, &request(ApiKey::DescribeShareGroupOffsets, 0, &req));
    let sent: DescribeShareGroupOffsetsRequest = decode_request(ApiKey::DescribeShareGroupOffsets, 0, &forwarded);
    let expected_sent = DescribeShareGroupOffsetsRequest::default()
        .with_groups(vec![asked("grp-ok", Some(&["allowed"])), asked("grp-ok-all", None)]);
    assert_eq!(sent, expected_sent);
    let broker = DescribeShareGroupOffsetsResponse::default().with_groups(vec![
        group("grp-ok", vec![topic("allowed", 5, 0, None)], 0),
        group("grp-ok-all", vec![topic("allowed", 7, 0, None), topic("denied", 8, 0, None)], 0),
    ]);
    let merged: DescribeShareGroupOffsetsResponse = decode_response(
        ApiKey::DescribeShareGroupOffsets,
        0,
        &upstream(&mut session, &response(ApiKey::DescribeShareGroupOffsets, 0, &broker)),
    );
    let refused = topic("denied", -1, 29, Some("Topic authorization failed."));
    assert_eq!(
        merged.groups,
        vec![
            group("grp-ok", vec![topic("allowed", 5, 0, None), refused], 0),
            group("grp-ok-all", vec![topic("allowed", 7, 0, None)], 0),
            group("grp-other", vec![], 30),
        ]
    );
}

#[test]
fn share_fetch_refuses_a_refused_partitions_acknowledgement_when_the_request_acknowledges_anything() {
    let v = 1;
    for acknowledging in [true, false] {
        let mut req = share_fetch("grp-ok", &[ALLOWED, DENIED]);
        // Only the allowed topic acknowledges (or nothing does).
        req.topics[1].partitions[0].acknowledgement_batches.clear();
        if !acknowledging {
            req.topics[0].partitions[0].acknowledgement_batches.clear();
        }
        let mut session = session();
        downstream(&mut session, &request(ApiKey::ShareFetch, v, &req));
        let broker = response(ApiKey::ShareFetch, v, &share_fetch_response(&[ALLOWED], 0));
        let merged: ShareFetchResponse = decode_response(ApiKey::ShareFetch, v, &upstream(&mut session, &broker));
        let denied = &merged.responses[1].partitions[0];
        assert_eq!((denied.error_code, denied.acknowledge_error_code), (29, if acknowledging { 29 } else { 0 }));
    }
}

#[test]
fn share_fetch_of_an_id_not_learned_is_resolved_and_answered_unknown_topic_id() {
    use metadata_response::MetadataResponseTopic;
    let v = 1;
    let cold = [0x51; 16];
    let mut session = session();
    let sent = downstream(&mut session, &request(ApiKey::ShareFetch, v, &share_fetch("grp-ok", &[cold])));
    // The filter's own Metadata request by id, in the request's place.
    let mut body = Bytes::copy_from_slice(&sent[4..]);
    let header = RequestHeader::decode(&mut body, 2).expect("header");
    assert_eq!((header.request_api_key, header.correlation_id), (ApiKey::Metadata as i16, 9));
    let named = MetadataResponseTopic::default().with_name(Some(TopicName(s("allowed")))).with_topic_id(id(cold));
    let metadata =
        response(ApiKey::Metadata, header.request_api_version, &MetadataResponse::default().with_topics(vec![named]));
    let answer: ShareFetchResponse = decode_response(ApiKey::ShareFetch, v, &upstream(&mut session, &metadata));
    let partition = &answer.responses[0].partitions[0];
    // UNKNOWN_TOPIC_ID (retriable), the piggybacked acknowledgement with it.
    assert_eq!((answer.error_code, partition.error_code, partition.acknowledge_error_code), (0, 100, 100));
    // Learned: the retry is decided on the name and forwarded.
    let retry = request(ApiKey::ShareFetch, v, &share_fetch("grp-ok", &[cold]));
    assert_eq!(downstream(&mut session, &retry), retry);
}

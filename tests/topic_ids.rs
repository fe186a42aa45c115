//! Requests that address topics by id (Fetch v13+, Produce v13) through a session: decided on the names
//! learned from the broker's Metadata answers; an id not learned is resolved by the filter's own Metadata
//! request by id in the request's place, and the client is answered UNKNOWN_TOPIC_ID (it retries, now
//! decided on the learned name) or TOPIC_AUTHORIZATION_FAILED for a denied name.

mod common;

use std::rc::Rc;

use bytes::Bytes;
use common::{downstream, enc, upstream};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["All"]}
    ]}
  ]}
}"#;

fn session() -> Session {
    let cfg = Config::parse(POLICY.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn request<R: Encodable>(key: ApiKey, v: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    wire::request_frame(key as i16, v, correlation_id, Some("test"), &enc(body, v))
}

fn response<R: Encodable>(key: ApiKey, v: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    wire::response_frame(key as i16, v, correlation_id, &enc(body, v))
}

fn decode_response<R: Decodable>(key: ApiKey, v: i16, frame: &[u8]) -> R {
    let mut body = Bytes::copy_from_slice(&frame[wire::response_body_offset(key as i16, v)..]);
    R::decode(&mut body, v).expect("decodes")
}

fn fetch(v: i16, ids: &[uuid::Uuid]) -> Vec<u8> {
    let topics = ids
        .iter()
        .map(|id| FetchTopic::default().with_topic_id(*id).with_partitions(vec![FetchPartition::default()]))
        .collect();
    request(ApiKey::Fetch, v, 7, &FetchRequest::default().with_max_wait_ms(100).with_topics(topics))
}

/// The broker's answer to the filter's Metadata request: `named` ids with their names, the others unknown.
fn metadata_answer(correlation_id: i32, named: &[(uuid::Uuid, &str)], unknown: &[uuid::Uuid]) -> Vec<u8> {
    let mut topics: Vec<_> = named
        .iter()
        .map(|(id, name)| {
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))
                .with_topic_id(*id)
        })
        .collect();
    topics.extend(
        unknown
            .iter()
            .map(|id| MetadataResponseTopic::default().with_error_code(100).with_name(None).with_topic_id(*id)),
    );
    response(ApiKey::Metadata, 12, correlation_id, &MetadataResponse::default().with_topics(topics))
}

fn forwarded_metadata(frame: &[u8]) -> (i16, i32, MetadataRequest) {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    let header = RequestHeader::decode(&mut body, 2).expect("header");
    assert_eq!(header.request_api_key, ApiKey::Metadata as i16);
    let version = header.request_api_version;
    (version, header.correlation_id, MetadataRequest::decode(&mut body, version).expect("body"))
}

#[test]
fn a_cold_id_is_resolved_answered_unknown_topic_id_and_the_retry_passes() {
    let id = uuid::Uuid::from_bytes([0x31; 16]);
    for v in 13..=18 {
        kafka_mtls_filter::topic_ids::clear();
        let mut s = session();
        let client = fetch(v, &[id]);
        let sent = downstream(&mut s, &client);
        let (mv, correlation_id, asked) = forwarded_metadata(&sent);
        assert_eq!((mv, correlation_id), (12, 7), "v{v}: the filter's Metadata request, same correlation id");
        let topics = asked.topics.expect("by id");
        assert_eq!(topics.len(), 1);
        assert_eq!((topics[0].topic_id, topics[0].name.is_none()), (id, true));
        assert!(!asked.allow_auto_topic_creation);
        let back = upstream(&mut s, &metadata_answer(7, &[(id, "allowed")], &[]));
        let answer: FetchResponse = decode_response(ApiKey::Fetch, v, &back);
        assert_eq!(answer.responses[0].topic_id, id);
        assert_eq!(answer.responses[0].partitions[0].error_code, 100, "v{v}: UNKNOWN_TOPIC_ID, retriable");
        // The retry is decided on the learned name: forwarded as sent.
        assert_eq!(downstream(&mut s, &client), client, "v{v}");
        assert_eq!(s.inflight_len(), 1);
    }
}

#[test]
fn a_cold_id_of_a_denied_topic_is_answered_topic_authorization_failed() {
    kafka_mtls_filter::topic_ids::clear();
    let (secret, gone) = (uuid::Uuid::from_bytes([0x32; 16]), uuid::Uuid::from_bytes([0x33; 16]));
    let mut s = session();
    let client = fetch(18, &[secret, gone]);
    let sent = downstream(&mut s, &client);
    let (_, _, asked) = forwarded_metadata(&sent);
    assert_eq!(asked.topics.map(|t| t.len()), Some(2));
    let back = upstream(&mut s, &metadata_answer(7, &[(secret, "secret")], &[gone]));
    let answer: FetchResponse = decode_response(ApiKey::Fetch, 18, &back);
    let codes: Vec<_> = answer.responses.iter().map(|t| (t.topic_id, t.partitions[0].error_code)).collect();
    assert_eq!(codes, [(secret, 29), (gone, 100)]);
    // Learned: the next Fetch of the denied topic is answered at once (ApiVersions v0 in its place).
    let sent = downstream(&mut s, &fetch(18, &[secret]));
    assert_eq!(&sent[4..8], &[0, 18, 0, 0]);
}

#[test]
fn ids_are_learned_from_metadata_answers_and_split_by_name() {
    kafka_mtls_filter::topic_ids::clear();
    let (allowed, secret) = (uuid::Uuid::from_bytes([0x41; 16]), uuid::Uuid::from_bytes([0x42; 16]));
    let mut s = session();
    // A client's Metadata for all topics: the broker's answer names both (the client sees only `allowed`).
    let all = request(ApiKey::Metadata, 12, 1, &MetadataRequest::default());
    downstream(&mut s, &all);
    let seen = upstream(&mut s, &metadata_answer(1, &[(allowed, "allowed"), (secret, "secret")], &[]));
    let seen: MetadataResponse = decode_response(ApiKey::Metadata, 12, &seen);
    assert_eq!(seen.topics.len(), 1);
    // A Fetch of both: the allowed part is forwarded, the denied part answered 29 by id.
    let sent = downstream(&mut s, &fetch(17, &[allowed, secret]));
    let mut body = Bytes::copy_from_slice(&sent[4..]);
    let header = RequestHeader::decode(&mut body, 2).expect("header");
    assert_eq!(header.request_api_key, ApiKey::Fetch as i16);
    let forwarded = FetchRequest::decode(&mut body, 17).expect("fetch");
    assert_eq!(forwarded.topics.iter().map(|t| t.topic_id).collect::<Vec<_>>(), [allowed]);
}

#[test]
fn a_cold_acks_0_produce_is_dropped_and_the_answer_consumed() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    kafka_mtls_filter::topic_ids::clear();
    let id = uuid::Uuid::from_bytes([0x51; 16]);
    let mut s = session();
    let produce = ProduceRequest::default().with_acks(0).with_topic_data(vec![TopicProduceData::default()
        .with_topic_id(id)
        .with_partition_data(vec![PartitionProduceData::default().with_records(Some(Bytes::from_static(b"r")))])]);
    let client = request(ApiKey::Produce, 13, 9, &produce);
    let sent = downstream(&mut s, &client);
    assert_eq!(forwarded_metadata(&sent).1, 9);
    // The client expects no answer: the broker's is consumed.
    assert!(upstream(&mut s, &metadata_answer(9, &[(id, "allowed")], &[])).is_empty());
    assert_eq!(downstream(&mut s, &client), client, "the next one passes");
}

#[test]
fn the_zero_id_is_answered_unknown_topic_id_without_asking_the_broker() {
    kafka_mtls_filter::topic_ids::clear();
    let mut s = session();
    let sent = downstream(&mut s, &fetch(13, &[uuid::Uuid::nil()]));
    assert_eq!(&sent[4..8], &[0, 18, 0, 0], "ApiVersions v0 in its place");
}

#[test]
fn metadata_by_id_answers_a_hidden_topic_by_id_as_kafka_does() {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    kafka_mtls_filter::topic_ids::clear();
    let ids = [0x61u8, 0x62, 0x63].map(|b| uuid::Uuid::from_bytes([b; 16]));
    let [allowed, secret, gone] = ids;
    // Kafka's Java client sends "" for the names (Kafka ignores them when ids are given); others send null.
    for (v, name) in [(12, None), (13, None), (13, Some(""))] {
        let mut s = session();
        let name = name.map(|n: &str| TopicName(StrBytes::from_string(n.into())));
        let asked = MetadataRequest::default().with_topics(Some(
            ids.iter().map(|id| MetadataRequestTopic::default().with_topic_id(*id).with_name(name.clone())).collect(),
        ));
        let client = request(ApiKey::Metadata, v, 3, &asked);
        assert_eq!(downstream(&mut s, &client), client, "v{v}: forwarded as sent");
        // Kafka lists unknown ids first.
        let mut answer: MetadataResponse = decode_response(ApiKey::Metadata, 12, &metadata_answer(3, &[], &[gone]));
        for (id, name) in [(allowed, "allowed"), (secret, "secret")] {
            answer.topics.push(
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(name.into()))))
                    .with_topic_id(id)
                    .with_partitions(vec![Default::default()]),
            );
        }
        let back = upstream(&mut s, &response(ApiKey::Metadata, v, 3, &answer));
        let seen: MetadataResponse = decode_response(ApiKey::Metadata, v, &back);
        let got: Vec<_> = seen
            .topics
            .iter()
            .map(|t| (t.error_code, t.name.as_ref().map(|n| n.to_string()), t.topic_id, t.partitions.len()))
            .collect();
        assert_eq!(got, [(100, None, gone, 0), (0, Some("allowed".into()), allowed, 1), (29, None, secret, 0)], "v{v}");
        assert_eq!(kafka_mtls_filter::topic_ids::name_of(secret.as_bytes()).as_deref(), Some("secret"));
    }
}

#[test]
fn delete_topics_by_id_is_decided_on_the_learned_name() {
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    kafka_mtls_filter::topic_ids::clear();
    let (allowed, secret) = (common::topic_id("allowed"), common::topic_id("secret"));
    let mut s = session();
    let delete = DeleteTopicsRequest::default().with_topics(vec![
        DeleteTopicState::default().with_topic_id(allowed),
        DeleteTopicState::default().with_topic_id(secret),
    ]);
    let sent = downstream(&mut s, &request(ApiKey::DeleteTopics, 6, 5, &delete));
    // Split: the allowed id goes on; the denied one is answered by id, without its name.
    let mut body = Bytes::copy_from_slice(&sent[4..]);
    RequestHeader::decode(&mut body, 2).expect("header");
    let forwarded = DeleteTopicsRequest::decode(&mut body, 6).expect("body");
    assert_eq!(forwarded.topics.iter().map(|t| t.topic_id).collect::<Vec<_>>(), [allowed]);
    let broker =
        DeleteTopicsResponse::default().with_responses(vec![delete_topics_response::DeletableTopicResult::default()
            .with_topic_id(allowed)
            .with_name(None)]);
    let back = upstream(&mut s, &response(ApiKey::DeleteTopics, 6, 5, &broker));
    let answer: DeleteTopicsResponse = decode_response(ApiKey::DeleteTopics, 6, &back);
    let got: Vec<_> = answer.responses.iter().map(|t| (t.name.is_none(), t.topic_id, t.error_code)).collect();
    assert_eq!(got, [(true, allowed, 0), (true, secret, 29)]);
}

//! The sans-IO session end to end: real Kafka request/response bytes in, what Envoy would forward out.

mod common;

use std::rc::Rc;

use bytes::Bytes;
use common::{downstream, upstream};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::session::{Event, Session};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["Write", "Read", "Describe"]},
      {"resource": {"type": "topic", "name": "visible"}, "operations": ["Describe"]}
    ]}
  ]}
}"#;

fn session(policy: &str) -> Session {
    let cfg = Config::parse(policy.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn request<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).unwrap();
    kafka_mtls_filter::protocol::wire::request_frame(api_key as i16, version, correlation_id, Some("test"), &encoded)
}

fn response<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).unwrap();
    kafka_mtls_filter::protocol::wire::response_frame(api_key as i16, version, correlation_id, &encoded)
}

fn produce(topic: &str, acks: i16) -> ProduceRequest {
    ProduceRequest::default().with_acks(acks).with_timeout_ms(1000).with_topic_data(vec![TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic.into())))
        .with_partition_data(vec![PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(Bytes::from(vec![7u8; 300])))])])
}

fn produce_ok(version: i16, correlation_id: i32) -> Vec<u8> {
    use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
    let body = ProduceResponse::default().with_responses(vec![TopicProduceResponse::default()
        .with_name(TopicName(StrBytes::from_static_str("allowed")))
        .with_partition_responses(vec![PartitionProduceResponse::default().with_index(0)])]);
    response(ApiKey::Produce, version, correlation_id, &body)
}

fn api_versions_v0_response(correlation_id: i32) -> Vec<u8> {
    let body = ApiVersionsResponse::default()
        .with_api_keys(vec![ApiVersion::default().with_api_key(18).with_min_version(0).with_max_version(3)]);
    response(ApiKey::ApiVersions, 0, correlation_id, &body)
}

fn body_of(frame: &[u8], api_key: ApiKey, version: i16) -> Bytes {
    Bytes::copy_from_slice(&frame[kafka_mtls_filter::protocol::wire::response_body_offset(api_key as i16, version)..])
}

#[test]
fn allowed_produce_passes_byte_for_byte() {
    let mut s = session(POLICY);
    let req = request(ApiKey::Produce, 9, 1, &produce("allowed", -1));
    assert_eq!(downstream(&mut s, &req), req);
    let resp = produce_ok(9, 1);
    assert_eq!(upstream(&mut s, &resp), resp);
    assert_eq!(s.inflight_len(), 0);
}

#[test]
fn denied_produce_never_reaches_the_broker_and_gets_topic_authorization_failed() {
    for version in [3, 7, 8, 9, 11, 12] {
        let mut s = session(POLICY);
        let req = request(ApiKey::Produce, version, 42, &produce("forbidden", -1));
        let forwarded = downstream(&mut s, &req);
        // The broker sees an ApiVersions v0 request with the same correlation id, nothing of the produce.
        assert_eq!(&forwarded[4..6], &18i16.to_be_bytes());
        assert_eq!(&forwarded[6..8], &0i16.to_be_bytes());
        assert_eq!(&forwarded[8..12], &42i32.to_be_bytes());
        assert!(!forwarded.windows(9).any(|w| w == b"forbidden"));
        let answer = upstream(&mut s, &api_versions_v0_response(42));
        let decoded = ProduceResponse::decode(&mut body_of(&answer, ApiKey::Produce, version), version).unwrap();
        assert_eq!(&answer[4..8], &42i32.to_be_bytes());
        assert_eq!(decoded.responses.len(), 1);
        assert_eq!(decoded.responses[0].partition_responses[0].error_code, 29, "v{version}");
        let denial = s.take_events().into_iter().find_map(|e| match e {
            Event::Decision(d) if !d.allowed => Some(d),
            _ => None,
        });
        assert_eq!(denial.unwrap().resource_name.as_deref(), Some("forbidden"));
    }
}

#[test]
fn pipelined_requests_keep_their_responses_in_order() {
    let mut s = session(POLICY);
    let a = request(ApiKey::Produce, 9, 1, &produce("allowed", -1));
    let b = request(ApiKey::Produce, 9, 2, &produce("forbidden", -1));
    let c = request(ApiKey::Produce, 9, 3, &produce("allowed", -1));
    let all = [a.clone(), b, c.clone()].concat();
    // Every split point of the pipelined stream gives the same forwarded bytes.
    let mut expected = None;
    for split in 0..=all.len() {
        let mut s2 = session(POLICY);
        let mut out = downstream(&mut s2, &all[..split]);
        out.extend(downstream(&mut s2, &all[split..]));
        match &expected {
            None => expected = Some(out),
            Some(e) => assert_eq!(&out, e, "split {split}"),
        }
    }
    let forwarded = downstream(&mut s, &all);
    assert_eq!(Some(&forwarded), expected.as_ref());
    assert!(forwarded.starts_with(&a) && forwarded.ends_with(&c));
    let responses = [produce_ok(9, 1), api_versions_v0_response(2), produce_ok(9, 3)].concat();
    let back = upstream(&mut s, &responses);
    let first = produce_ok(9, 1);
    assert!(back.starts_with(&first));
    let second_len = u32::from_be_bytes(back[first.len()..first.len() + 4].try_into().unwrap()) as usize + 4;
    let second = &back[first.len()..first.len() + second_len];
    let decoded = ProduceResponse::decode(&mut body_of(second, ApiKey::Produce, 9), 9).unwrap();
    assert_eq!(decoded.responses[0].partition_responses[0].error_code, 29);
    assert!(back.ends_with(&produce_ok(9, 3)));
}

#[test]
fn denied_produce_with_acks_zero_is_dropped() {
    let mut s = session(POLICY);
    let req = request(ApiKey::Produce, 9, 5, &produce("forbidden", 0));
    assert!(downstream(&mut s, &req).is_empty());
    assert_eq!(s.inflight_len(), 0);
}

#[test]
fn metadata_lists_only_describable_topics() {
    for version in [1, 4, 9, 12] {
        let mut s = session(POLICY);
        let req = request(ApiKey::Metadata, version, 7, &MetadataRequest::default().with_topics(None));
        downstream(&mut s, &req);
        let topic = |name: &str| {
            MetadataResponseTopic::default().with_name(Some(TopicName(StrBytes::from_string(name.into()))))
        };
        let resp = MetadataResponse::default().with_topics(vec![topic("allowed"), topic("secret"), topic("visible")]);
        let back = upstream(&mut s, &response(ApiKey::Metadata, version, 7, &resp));
        let decoded = MetadataResponse::decode(&mut body_of(&back, ApiKey::Metadata, version), version).unwrap();
        let names: Vec<_> = decoded.topics.iter().map(|t| t.name.as_ref().unwrap().as_str().to_string()).collect();
        assert_eq!(names, ["allowed", "visible"], "v{version}");
    }
}

#[test]
fn metadata_named_forbidden_topic_gets_29_and_is_not_asked_of_the_broker() {
    let version = 9;
    let mut s = session(POLICY);
    let named = |n: &str| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(n.into()))));
    let req = request(
        ApiKey::Metadata,
        version,
        8,
        &MetadataRequest::default()
            .with_topics(Some(vec![named("allowed"), named("secret")]))
            .with_allow_auto_topic_creation(true),
    );
    let forwarded = downstream(&mut s, &req);
    let mut fbody = Bytes::copy_from_slice(&forwarded[4..]);
    let _header = RequestHeader::decode(&mut fbody, 2).unwrap();
    let sent = MetadataRequest::decode(&mut fbody, version).unwrap();
    let sent_names: Vec<_> = sent.topics.unwrap().iter().map(|t| t.name.clone().unwrap().0.to_string()).collect();
    assert_eq!(sent_names, ["allowed"]);
    assert!(!sent.allow_auto_topic_creation, "no Create permission: auto-creation off");
    let resp = MetadataResponse::default().with_topics(vec![
        MetadataResponseTopic::default().with_name(Some(TopicName(StrBytes::from_static_str("allowed"))))
    ]);
    let back = upstream(&mut s, &response(ApiKey::Metadata, version, 8, &resp));
    let decoded = MetadataResponse::decode(&mut body_of(&back, ApiKey::Metadata, version), version).unwrap();
    let secret = decoded.topics.iter().find(|t| t.name.as_ref().unwrap().as_str() == "secret").unwrap();
    assert_eq!(secret.error_code, 29);
    assert!(secret.partitions.is_empty());
}

#[test]
fn api_versions_are_clamped_to_what_the_filter_parses() {
    let mut s = session(POLICY);
    let req = request(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default());
    downstream(&mut s, &req);
    let v = |k: i16, min, max| ApiVersion::default().with_api_key(k).with_min_version(min).with_max_version(max);
    // Produce 0-14 and Fetch 0-19 (beyond what the filter parses), a key the filter refuses (WriteTxnMarkers 27),
    // one it handles whole (ConsumerGroupHeartbeat 68).
    let resp = ApiVersionsResponse::default().with_api_keys(vec![
        v(0, 0, 14),
        v(1, 0, 19),
        v(18, 0, 4),
        v(27, 0, 1),
        v(68, 0, 1),
    ]);
    let back = upstream(&mut s, &response(ApiKey::ApiVersions, 3, 1, &resp));
    let decoded = ApiVersionsResponse::decode(&mut body_of(&back, ApiKey::ApiVersions, 3), 3).unwrap();
    let produce = decoded.api_keys.iter().find(|k| k.api_key == 0).unwrap();
    assert_eq!(produce.max_version, 13);
    let fetch = decoded.api_keys.iter().find(|k| k.api_key == 1).unwrap();
    assert_eq!(fetch.max_version, 18);
    assert!(decoded.api_keys.iter().all(|k| k.api_key != 27));
    let heartbeat = decoded.api_keys.iter().find(|k| k.api_key == 68).unwrap();
    assert_eq!(heartbeat.max_version, 1);
}

#[test]
fn authorization_off_forwards_everything_untouched() {
    let mut s = session(r#"{"identity": {"unauthenticated": "anonymous"}}"#);
    let req = request(ApiKey::Produce, 9, 1, &produce("forbidden", -1));
    assert_eq!(downstream(&mut s, &req), req);
    assert_eq!(s.downstream_passthrough(), 0);
}

#[test]
fn audit_mode_forwards_but_records_the_denial() {
    let policy = POLICY.replace("\"enforce\"", "\"audit\"");
    let mut s = session(&policy);
    let req = request(ApiKey::Produce, 9, 1, &produce("forbidden", -1));
    assert_eq!(downstream(&mut s, &req), req);
    let events = s.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::Decision(d) if !d.allowed && d.audit_only)));
}

#[test]
fn refused_identity_forwards_nothing() {
    let cfg = Config::parse(b"{}").unwrap();
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    assert!(s.identify(&PeerInfo::default(), 0).is_err());
    let req = request(ApiKey::Produce, 9, 1, &produce("allowed", -1));
    assert!(s.on_downstream(&req).close.is_some());
}

#[test]
fn client_sasl_and_preamble_are_refused_when_propagating() {
    let policy = r#"{"identity": {"unauthenticated": "anonymous"}, "propagation": {"mode": "banzai-preamble"}}"#;
    let mut s = session(policy);
    let req = request(ApiKey::SaslHandshake, 1, 1, &SaslHandshakeRequest::default());
    assert!(s.on_downstream(&req).close.is_some());
    let mut s = session(policy);
    let mut fake = vec![0u8, 20];
    fake.extend_from_slice(b"BZC_UID:CN=admin....");
    assert!(s.on_downstream(&fake).close.is_some());
}

#[test]
fn banzai_preamble_goes_before_the_first_request() {
    let policy = r#"{"identity": {"unauthenticated": "anonymous"}, "propagation": {"mode": "banzai-preamble"}}"#;
    let mut s = session(policy);
    let req = request(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default());
    let out = downstream(&mut s, &req[..5]);
    let mut expected = vec![0u8, 17];
    expected.extend_from_slice(b"BZC_UID:ANONYMOUS");
    assert_eq!(out, expected, "preamble first; the incomplete request is held");
    assert_eq!(downstream(&mut s, &req[5..]), req);
}

#[test]
fn idempotent_producer_needs_write_on_any_topic_or_idempotent_write() {
    let req = request(
        ApiKey::InitProducerId,
        4,
        9,
        &InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(-1),
    );
    // POLICY grants Write on topic `allowed`: enough for InitProducerId without a transactional id.
    let mut s = session(POLICY);
    let out = downstream(&mut s, &req);
    assert_eq!(out, req, "{:?}", s.take_events());
    // Describe only: refused with CLUSTER_AUTHORIZATION_FAILED.
    let describe_only = r#"{"identity": {"unauthenticated": "anonymous"}, "authorization": {"mode": "enforce",
        "users": [{"principal": "User:ANONYMOUS", "acls": [
          {"resource": {"type": "topic", "name": "allowed"}, "operations": ["Describe"]}]}]}}"#;
    let mut s = session(describe_only);
    let forwarded = downstream(&mut s, &req);
    assert_eq!(&forwarded[4..6], &18i16.to_be_bytes(), "substituted by ApiVersions");
    let answer = upstream(&mut s, &api_versions_v0_response(9));
    let decoded = InitProducerIdResponse::decode(&mut body_of(&answer, ApiKey::InitProducerId, 4), 4).unwrap();
    assert_eq!(decoded.error_code, 31);
}

fn produce_two(acks: i16) -> ProduceRequest {
    let mut both = produce("allowed", acks);
    both.topic_data.extend(produce("forbidden", acks).topic_data);
    both
}

#[test]
fn partial_produce_forwards_the_allowed_topic_and_merges_the_denied_one() {
    for version in [3, 9, 12] {
        let mut s = session(POLICY);
        let req = request(ApiKey::Produce, version, 11, &produce_two(-1));
        let forwarded = downstream(&mut s, &req);
        let mut fbody = Bytes::copy_from_slice(&forwarded[4..]);
        let header_version = if version >= 9 { 2 } else { 1 };
        RequestHeader::decode(&mut fbody, header_version).unwrap();
        let sent = ProduceRequest::decode(&mut fbody, version).unwrap();
        let names: Vec<_> = sent.topic_data.iter().map(|t| t.name.as_str().to_string()).collect();
        assert_eq!(names, ["allowed"], "v{version}: only the allowed topic reaches the broker");
        let back = upstream(&mut s, &produce_ok(version, 11));
        let merged = ProduceResponse::decode(&mut body_of(&back, ApiKey::Produce, version), version).unwrap();
        let code = |name: &str| {
            merged.responses.iter().find(|t| t.name.as_str() == name).unwrap().partition_responses[0].error_code
        };
        assert_eq!((code("allowed"), code("forbidden")), (0, 29), "v{version}");
    }
}

#[test]
fn partial_produce_with_acks_zero_forwards_only_the_allowed_topic() {
    let mut s = session(POLICY);
    let req = request(ApiKey::Produce, 9, 12, &produce_two(0));
    let forwarded = downstream(&mut s, &req);
    assert!(!forwarded.is_empty() && !forwarded.windows(9).any(|w| w == b"forbidden"));
    assert_eq!(s.inflight_len(), 0);
}

#[test]
fn partial_fetch_reads_the_allowed_topic_and_answers_29_for_the_other() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    let version = 12;
    let topic = |name: &str| {
        FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(name.into())))
            .with_partitions(vec![FetchPartition::default().with_partition(0).with_partition_max_bytes(1 << 20)])
    };
    let fetch = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(100)
        .with_topics(vec![topic("allowed"), topic("forbidden")]);
    let mut s = session(POLICY);
    let forwarded = downstream(&mut s, &request(ApiKey::Fetch, version, 21, &fetch));
    assert!(!forwarded.windows(9).any(|w| w == b"forbidden"));
    let records = Bytes::from_static(b"record-batch-bytes");
    let broker = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("allowed")))
        .with_partitions(vec![PartitionData::default().with_partition_index(0).with_records(Some(records.clone()))])]);
    let back = upstream(&mut s, &response(ApiKey::Fetch, version, 21, &broker));
    let merged = FetchResponse::decode(&mut body_of(&back, ApiKey::Fetch, version), version).unwrap();
    let allowed = merged.responses.iter().find(|t| t.topic.as_str() == "allowed").unwrap();
    assert_eq!(allowed.partitions[0].records, Some(records));
    let forbidden = merged.responses.iter().find(|t| t.topic.as_str() == "forbidden").unwrap();
    assert_eq!(forbidden.partitions[0].error_code, 29);
}

#[test]
fn a_denied_request_split_across_chunks_is_audited_once() {
    let mut s = session(POLICY);
    let req = request(ApiKey::Produce, 9, 5, &produce("forbidden", -1));
    let mut out = downstream(&mut s, &req[..req.len() - 10]);
    out.extend(downstream(&mut s, &req[req.len() - 10..]));
    let denials = s.take_events().into_iter().filter(|e| matches!(e, Event::Decision(d) if !d.allowed)).count();
    assert_eq!(denials, 1);
}

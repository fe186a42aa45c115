//! Inputs found by fuzzing (fuzz/fuzz_targets), replayed as plain tests. Each test names the target that
//! found it and what went wrong.

use std::rc::Rc;

use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::session::Session;

const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["Write", "Read", "Describe"]}
    ]}
  ]}
}"#;

fn session() -> Session {
    let cfg = Config::parse(POLICY.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// Request frame: api key, version, correlation id 7, client id "c" (header v1), then `body`.
fn request(api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    kafka_mtls_filter::protocol::wire::request_frame(api_key, version, 7, Some("c"), body)
}

/// response_rewrite: a broker response whose array count is 2^31-1 in a 12-byte frame. The filter decodes
/// Metadata responses with kafka-protocol without a shape check, whose array decoder calls
/// `Vec::with_capacity(count)`: the process aborts (allocation failure) instead of closing the connection.
#[test]
fn metadata_response_with_a_huge_array_count_closes_instead_of_aborting() {
    let mut s = session();
    // Metadata v1, all topics (topics: null).
    let req = request(3, 1, &(-1i32).to_be_bytes());
    assert!(s.on_downstream(&req).close.is_none());
    // Metadata v1 response (header v0): correlation id 7, brokers: count 0x7fffffff, then nothing.
    let mut body = 7i32.to_be_bytes().to_vec();
    body.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    let out = s.on_upstream(&frame(&body));
    assert!(out.close.is_some(), "a truncated Metadata response must close the connection");
}

/// response_rewrite: the same with an ApiVersions response (clamp_api_versions decodes it unchecked).
#[test]
fn api_versions_response_with_a_huge_array_count_closes_instead_of_aborting() {
    let mut s = session();
    let req = request(18, 0, &[]);
    assert!(s.on_downstream(&req).close.is_none());
    // ApiVersions v0 response: correlation id 7, error_code 0, api_keys: count 0x7fffffff, then nothing.
    let mut body = 7i32.to_be_bytes().to_vec();
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    let out = s.on_upstream(&frame(&body));
    assert!(out.close.is_some(), "a truncated ApiVersions response must close the connection");
}

/// The merge of a partial Produce walks the broker's answer without decoding it: a huge topic count closes
/// the connection instead of allocating.
#[test]
fn merged_produce_response_with_a_huge_array_count_closes_instead_of_aborting() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};
    let topic = |name: &str| {
        TopicProduceData::default().with_name(TopicName(StrBytes::from_string(name.into()))).with_partition_data(vec![
            PartitionProduceData::default().with_index(0).with_records(Some(bytes::Bytes::from_static(b"r"))),
        ])
    };
    let produce = ProduceRequest::default().with_acks(-1).with_topic_data(vec![topic("allowed"), topic("denied")]);
    let mut body = Vec::new();
    produce.encode(&mut body, 8).unwrap();
    let mut s = session();
    let out = s.on_downstream(&request(0, 8, &body));
    assert!(out.close.is_none());
    // Produce v8 response (header v0): correlation id 7, responses: count 0x7fffffff, then nothing.
    let mut response = 7i32.to_be_bytes().to_vec();
    response.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    assert!(s.on_upstream(&frame(&response)).close.is_some());
}

/// response_rewrite (CI fuzzing): a Metadata v12 response whose tagged field tag is above i32::MAX.
/// kafka-protocol decodes it as a negative tag and then re-encodes a tag count without the field, so the
/// rewritten response did not decode. Such a response is malformed: the connection is closed.
#[test]
fn metadata_response_with_an_out_of_range_tag_closes() {
    use kafka_protocol::messages::{metadata_request::MetadataRequest, ApiKey};
    use kafka_protocol::protocol::Encodable;
    let mut body = Vec::new();
    MetadataRequest::default().with_topics(None).encode(&mut body, 12).unwrap();
    let mut s = session();
    assert!(s
        .on_downstream(&kafka_mtls_filter::protocol::wire::request_frame(
            ApiKey::Metadata as i16,
            12,
            7,
            Some("c"),
            &body
        ))
        .close
        .is_none());
    let rest: [u8; 35] = [
        0x00, 0x21, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01, 0xfa, 0xfe, 0xfe, 0xf7, 0x0e, 0x00,
        0x3b, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x03, 0x00, 0x08, 0x00, 0xde,
    ];
    // Response header v1: correlation id 7, no tagged fields; then the body.
    let mut response = 7i32.to_be_bytes().to_vec();
    response.push(0);
    response.extend_from_slice(&rest);
    assert!(s.on_upstream(&frame(&response)).close.is_some());
}

/// response_rewrite: a Metadata v12 response with a null `brokers` array (Kafka allows none there). Since
/// Metadata responses are filtered at the byte level, the walk reads a null array as empty and the broker's
/// bytes pass as sent; the fuzz target required every rewritten response to decode with kafka-protocol.
/// What must hold: the undescribable topic is cut out and every other byte is the broker's.
#[test]
fn metadata_response_with_a_null_brokers_array_is_filtered_and_otherwise_passed_as_sent() {
    let mut s = session();
    // Metadata v12, all topics: topics null, allow_auto_topic_creation, include_topic_authorized_operations.
    let req = request(3, 12, &[0x00, 0x01, 0x00, 0x00]);
    assert!(s.on_downstream(&req).close.is_none());
    let topic = |name: &str| {
        let mut t = vec![0, 0, name.len() as u8 + 1];
        t.extend_from_slice(name.as_bytes());
        t.extend_from_slice(&[0; 16]); // topic_id
        t.extend_from_slice(&[0x00, 0x01]); // is_internal, partitions: empty
        t.extend_from_slice(&i32::MIN.to_be_bytes()); // topic_authorized_operations
        t.push(0x00); // tagged fields
        t
    };
    // Response header v1: correlation id 7, no tagged fields. Body: throttle, brokers null, cluster_id null,
    // controller_id -1, then the topics.
    let head = [&7i32.to_be_bytes()[..], &[0x00], &0i32.to_be_bytes(), &[0x00, 0x00], &(-1i32).to_be_bytes()].concat();
    let broker = [&head[..], &[0x03], &topic("secret"), &topic("allowed"), &[0x00]].concat();
    let out = s.on_upstream(&frame(&broker));
    assert!(out.close.is_none(), "{:?}", out.close);
    let client = kafka_mtls_filter::frame::apply_edits(&frame(&broker), &out.edits);
    let expected = [&head[..], &[0x02], &topic("allowed"), &[0x00]].concat();
    assert_eq!(client, frame(&expected));
}

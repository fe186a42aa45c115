//! Request/response bytes and sessions shared by the benchmarks (each bench binary uses a subset).
#![allow(dead_code)]

use std::rc::Rc;

use bytes::Bytes;
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

mod round_trip;
#[allow(unused_imports)] // each bench binary uses its own subset
pub use round_trip::{raw_round_trip, round_trip, thousand_rule_policy};

/// Enforce mode; the anonymous principal may write `allowed`, read everything prefixed `visible-`.
pub const ENFORCE_POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["Write", "Read", "Describe"]},
      {"resource": {"type": "topic", "name": "visible-", "patternType": "prefix"}, "operations": ["Describe"]}
    ]}
  ]}
}"#;

pub fn config(policy: &str) -> Rc<Config> {
    Rc::new(Config::parse(policy.as_bytes()).expect("valid config"))
}

/// A session past identification, as the glue holds it after the first data callback.
pub fn session(cfg: &Rc<Config>) -> Session {
    let mut s = Session::new(cfg.clone(), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

pub fn encode<R: Encodable>(body: &R, version: i16) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).expect("encodable");
    encoded
}

pub fn request<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    kafka_mtls_filter::protocol::wire::request_frame(
        api_key as i16,
        version,
        correlation_id,
        Some("bench"),
        &encode(body, version),
    )
}

pub fn response<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    kafka_mtls_filter::protocol::wire::response_frame(api_key as i16, version, correlation_id, &encode(body, version))
}

pub fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.into()))
}

/// Produce of `records` opaque record bytes to one partition of `topic`.
pub fn produce(topic_name: &str, records: usize) -> ProduceRequest {
    ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(vec![TopicProduceData::default()
        .with_name(topic(topic_name))
        .with_partition_data(vec![PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(Bytes::from(vec![7u8; records])))])])
}

/// `count` Produce v9 frames of `records` record bytes each, back to back.
pub fn pipelined_produce(count: usize, records: usize) -> Vec<u8> {
    (0..count).flat_map(|i| request(ApiKey::Produce, 9, i as i32, &produce("allowed", records))).collect()
}

/// Splits a stream into host-buffer-sized chunks.
pub fn chunks(stream: &[u8], size: usize) -> Vec<&[u8]> {
    stream.chunks(size).collect()
}

/// Prints what a workload is, so `integration/bench/micro.sh` can turn times into MB/s and ns/frame.
pub fn describe(id: &str, bytes: usize, frames: usize) {
    println!("workload {id} bytes={bytes} frames={frames}");
}

//! The produce+fetch round trip the session bench (`benches/session.rs`) and the wasm meter
//! (`integration/bench/wasm-meter`) both run: the same bytes natively and inside the module.

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;

use super::{produce, request, response, topic};

/// 1,000 ACL entries: 99 other principals with 10 each, and the anonymous client's own.
pub fn thousand_rule_policy() -> String {
    let acl = |resource: &str, operations: &str| format!(r#"{{"resource": {resource}, "operations": [{operations}]}}"#);
    let own = [
        acl(r#"{"type": "topic", "name": "bench-", "patternType": "prefix"}"#, r#""Write", "Read", "Describe""#),
        acl(r#"{"type": "group", "name": "kmf-", "patternType": "prefix"}"#, r#""Read", "Describe""#),
        acl(r#"{"type": "topic", "name": "bench-secret"}, "type": "deny""#, r#""All""#),
        acl(r#"{"type": "cluster"}"#, r#""IdempotentWrite""#),
    ];
    let mut users = vec![format!(r#"{{"principal": "User:ANONYMOUS", "acls": [{}]}}"#, own.join(","))];
    for team in 0..99 {
        let acls: Vec<String> = (0..10)
            .map(|j| match j % 3 {
                0 => acl(&format!(r#"{{"type": "topic", "name": "team{team}-events-{j}"}}"#), r#""Write", "Describe""#),
                1 => acl(
                    &format!(r#"{{"type": "topic", "name": "team{team}-{j}-", "patternType": "prefix"}}"#),
                    r#""Read""#,
                ),
                _ => acl(&format!(r#"{{"type": "group", "name": "team{team}-consumers-{j}"}}"#), r#""Read""#),
            })
            .collect();
        users.push(format!(r#"{{"principal": "User:CN=team{team}", "acls": [{}]}}"#, acls.join(",")));
    }
    format!(
        r#"{{"identity": {{"unauthenticated": "anonymous"}}, "authorization": {{"mode": "enforce", "users": [{}]}}}}"#,
        users.join(",")
    )
}

/// One round trip, correlation ids `2 * i` and `2 * i + 1`: a Produce v9 request (10 records of 1 KiB) and its
/// answer, a Fetch v12 request and a 10 KiB Fetch answer, each one frame.
pub fn round_trip(i: i32) -> [Vec<u8>; 4] {
    let produce_req = request(ApiKey::Produce, 9, 2 * i, &produce("bench-topic", 10 * 1024));
    let partition = PartitionProduceResponse::default().with_index(0).with_base_offset(42);
    let answered =
        TopicProduceResponse::default().with_name(topic("bench-topic")).with_partition_responses(vec![partition]);
    let produce_resp = response(ApiKey::Produce, 9, 2 * i, &ProduceResponse::default().with_responses(vec![answered]));
    let partition = FetchPartition::default().with_partition(0).with_fetch_offset(42).with_partition_max_bytes(1 << 20);
    let body = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(500)
        .with_topics(vec![FetchTopic::default().with_topic(topic("bench-topic")).with_partitions(vec![partition])]);
    let fetch_req = request(ApiKey::Fetch, 12, 2 * i + 1, &body);
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_high_watermark(100)
        .with_records(Some(Bytes::from(vec![7u8; 10 * 1024])));
    let fetched = FetchableTopicResponse::default().with_topic(topic("bench-topic")).with_partitions(vec![partition]);
    let fetch_resp = response(ApiKey::Fetch, 12, 2 * i + 1, &FetchResponse::default().with_responses(vec![fetched]));
    [produce_req, produce_resp, fetch_req, fetch_resp]
}

/// The Envoy instruction count's round trip (`integration/bench/instructions.py`): a Produce v3 of one batch of
/// `record_bytes` to partition 0 and its answer, a Fetch v4 and its answer carrying that batch.
pub fn raw_round_trip(i: i32, record_bytes: usize) -> [Vec<u8>; 4] {
    let produce_req = request(ApiKey::Produce, 3, 2 * i, &produce("bench-topic", record_bytes));
    let partition = PartitionProduceResponse::default().with_index(0).with_base_offset(42);
    let answered =
        TopicProduceResponse::default().with_name(topic("bench-topic")).with_partition_responses(vec![partition]);
    let produce_resp = response(ApiKey::Produce, 3, 2 * i, &ProduceResponse::default().with_responses(vec![answered]));
    let partition =
        FetchPartition::default().with_partition(0).with_fetch_offset(0).with_partition_max_bytes(16 * 1024);
    let body = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(16 * 1024)
        .with_topics(vec![FetchTopic::default().with_topic(topic("bench-topic")).with_partitions(vec![partition])]);
    let fetch_req = request(ApiKey::Fetch, 4, 2 * i + 1, &body);
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_high_watermark(100)
        .with_last_stable_offset(100)
        .with_aborted_transactions(Some(vec![]))
        .with_records(Some(Bytes::from(vec![7u8; record_bytes])));
    let fetched = FetchableTopicResponse::default().with_topic(topic("bench-topic")).with_partitions(vec![partition]);
    let fetch_resp = response(ApiKey::Fetch, 4, 2 * i + 1, &FetchResponse::default().with_responses(vec![fetched]));
    [produce_req, produce_resp, fetch_req, fetch_resp]
}

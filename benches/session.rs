//! The filter's own work per produce+fetch round trip, natively: a Produce v9 request (10 records of 1 KiB)
//! and its answer, a Fetch v12 request and a 10 KiB Fetch answer, through one identified session enforcing
//! a 1,000-rule policy, each frame in one chunk as Envoy hands it over. This is the per-request work
//! the wasm filter adds on top of the calls into the VM (`integration/bench/paired.py` measures those).
//!
//! Run: `cargo bench --bench session` (a plain binary, no criterion).

mod common;

use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;

use common::*;

/// 1,000 ACL entries: 99 other principals with 10 each, and the anonymous client's own.
fn thousand_rule_policy() -> String {
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

fn main() {
    let cfg = config(&thousand_rule_policy());
    let mut session = session(&cfg);
    let records = Bytes::from(vec![7u8; 10 * 1024]);
    let produce_req = |id| request(ApiKey::Produce, 9, id, &produce("bench-topic", 10 * 1024));
    let produce_resp = |id| {
        let partition = PartitionProduceResponse::default().with_index(0).with_base_offset(42);
        let topic =
            TopicProduceResponse::default().with_name(topic("bench-topic")).with_partition_responses(vec![partition]);
        response(ApiKey::Produce, 9, id, &ProduceResponse::default().with_responses(vec![topic]))
    };
    let fetch_req = |id| {
        let partition =
            FetchPartition::default().with_partition(0).with_fetch_offset(42).with_partition_max_bytes(1 << 20);
        let body = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(500)
            .with_topics(vec![FetchTopic::default().with_topic(topic("bench-topic")).with_partitions(vec![partition])]);
        request(ApiKey::Fetch, 12, id, &body)
    };
    let fetch_resp = |id| {
        let partition = PartitionData::default()
            .with_partition_index(0)
            .with_high_watermark(100)
            .with_records(Some(records.clone()));
        let topic = FetchableTopicResponse::default().with_topic(topic("bench-topic")).with_partitions(vec![partition]);
        response(ApiKey::Fetch, 12, id, &FetchResponse::default().with_responses(vec![topic]))
    };
    // Frames are built up front: the loop measures the session only.
    // KMF_ROUNDS: fewer rounds, e.g. under `valgrind --tool=callgrind` for instruction counts, which this
    // shared machine's timings are too noisy to replace when comparing two builds.
    let rounds: i32 = std::env::var("KMF_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(200_000);
    let frames: Vec<[Vec<u8>; 4]> = (0..64)
        .map(|i| [produce_req(2 * i), produce_resp(2 * i), fetch_req(2 * i + 1), fetch_resp(2 * i + 1)])
        .collect();
    let run = |session: &mut kafka_mtls_filter::session::Session, rounds: i32| {
        for round in 0..rounds {
            let [a, b, c, d] = &frames[(round % 64) as usize];
            // Correlation ids repeat every 64 rounds; the session matches answers by order, as Kafka does.
            assert!(session.on_downstream(a).close.is_none());
            assert!(session.on_upstream(b).close.is_none());
            assert!(session.on_downstream(c).close.is_none());
            assert!(session.on_upstream(d).close.is_none());
            if round % 32 == 0 {
                session.drain_stats_and_topics();
                session.take_events();
            }
        }
    };
    run(&mut session, 10_000.min(rounds));
    let start = Instant::now();
    run(&mut session, rounds);
    let per_round = start.elapsed().as_nanos() as f64 / f64::from(rounds);
    println!("session: {per_round:.0} ns per produce+fetch round trip (4 frames, 1,000-rule policy), natively");
}

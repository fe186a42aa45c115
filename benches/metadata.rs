//! Metadata response filtering: a Session in enforce mode answers an all-topics Metadata v12 request whose
//! response lists 1,000 topics (3 partitions, 3 replicas each), of which the principal may Describe half.

mod common;

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kafka_mtls_filter::frame::apply_edits;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};

use common::*;

const VERSION: i16 = 12;
const TOPICS: usize = 1000;
const CHUNK: usize = 64 * 1024;

fn metadata_response() -> Vec<u8> {
    let partition = |i: i32| {
        MetadataResponsePartition::default()
            .with_partition_index(i)
            .with_leader_id(BrokerId(i % 3))
            .with_leader_epoch(7)
            .with_replica_nodes(vec![BrokerId(0), BrokerId(1), BrokerId(2)])
            .with_isr_nodes(vec![BrokerId(0), BrokerId(1), BrokerId(2)])
    };
    let topics = (0..TOPICS)
        .map(|i| {
            let name = if i % 2 == 0 { format!("visible-{i}") } else { format!("hidden-{i}") };
            MetadataResponseTopic::default()
                .with_name(Some(topic(&name)))
                .with_partitions((0..3).map(partition).collect())
        })
        .collect();
    let brokers = (0..3)
        .map(|i| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(i))
                .with_host(StrBytes::from_string(format!("broker-{i}.kafka.svc")))
                .with_port(9092)
        })
        .collect();
    let body = MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(StrBytes::from_static_str("cluster")))
        .with_controller_id(BrokerId(0))
        .with_topics(topics);
    response(ApiKey::Metadata, VERSION, 7, &body)
}

fn metadata(c: &mut Criterion) {
    let cfg = config(ENFORCE_POLICY);
    let req = request(ApiKey::Metadata, VERSION, 7, &MetadataRequest::default().with_topics(None));
    let resp = metadata_response();
    let parts = chunks(&resp, CHUNK);
    let asked = || {
        let mut s = session(&cfg);
        let out = s.on_downstream(&req);
        assert!(out.close.is_none() && out.edits.is_empty());
        s
    };

    // The filter must really filter: half of the topics come back.
    let mut s = asked();
    let mut back = Vec::new();
    for part in &parts {
        let out = s.on_upstream(part);
        assert!(out.close.is_none());
        back.extend(apply_edits(part, &out.edits));
    }
    let offset = kafka_mtls_filter::protocol::wire::response_body_offset(ApiKey::Metadata as i16, VERSION);
    let decoded = MetadataResponse::decode(&mut Bytes::copy_from_slice(&back[offset..]), VERSION).expect("decodes");
    assert_eq!(decoded.topics.len(), TOPICS / 2);
    println!("metadata: response {} bytes -> {} bytes after filtering", resp.len(), back.len());

    let mut group = c.benchmark_group("metadata");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    group.throughput(Throughput::Bytes(resp.len() as u64));
    describe("metadata/filter-1000-topics-half-visible", resp.len(), 1);
    group.bench_function("filter-1000-topics-half-visible", |b| {
        b.iter_batched_ref(
            asked,
            |s| {
                for part in &parts {
                    let _ = black_box(s.on_upstream(black_box(part)));
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, metadata);
criterion_main!(benches);

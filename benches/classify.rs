//! Request classification cost: from a request body to the actions Kafka's authorizer would check.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kafka_mtls_filter::classify::{classify, Classification};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;

use common::*;

fn bodies() -> Vec<(&'static str, i16, i16, Vec<u8>)> {
    let fetch =
        FetchRequest::default().with_max_wait_ms(500).with_min_bytes(1).with_max_bytes(50 << 20).with_topics(vec![
            FetchTopic::default().with_topic(topic("allowed")).with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(1234)
                .with_partition_max_bytes(1 << 20)]),
        ]);
    let metadata = MetadataRequest::default().with_topics(Some(
        ["orders", "payments", "audit-log"]
            .iter()
            .map(|n| MetadataRequestTopic::default().with_name(Some(topic(n))))
            .collect(),
    ));
    vec![
        ("produce-v9-1topic-300B", ApiKey::Produce as i16, 9, encode(&produce("allowed", 300), 9)),
        ("fetch-v12-1topic", ApiKey::Fetch as i16, 12, encode(&fetch, 12)),
        ("metadata-v12-3topics", ApiKey::Metadata as i16, 12, encode(&metadata, 12)),
    ]
}

fn classification(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    for (name, api_key, version, body) in bodies() {
        let checked = classify(api_key, version, &body, body.len());
        assert!(matches!(checked, Classification::Checks { .. }), "{name}: {checked:?}");
        describe(&format!("classify/{name}"), body.len(), 1);
        group.bench_function(name, |b| {
            b.iter(|| classify(black_box(api_key), black_box(version), black_box(&body), body.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, classification);
criterion_main!(benches);

//! Bytes per topic (`produced_bytes_by_topic`, `fetched_bytes_by_topic`): multi-topic Produce requests and
//! Fetch responses fed through the session at every split point, the way the glue feeds it (skipping the
//! bytes the session passes unread), give the same shares; the shares add up to the per-principal bytes;
//! the topic cap overflows into `other`.

mod common;

use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use common::{enc, topic};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::feed::{feed_slice, SessionSide, Windows};
use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::metrics::Stat;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Encodable;

fn policy(max_topics: u32) -> String {
    format!(
        r#"{{
  "identity": {{"unauthenticated": "anonymous"}},
  "authorization": {{"mode": "enforce", "users": [
    {{"principal": "User:ANONYMOUS", "acls": [
      {{"resource": {{"type": "topic", "name": "t-", "patternType": "prefix"}}, "operations": ["Write", "Read", "Describe"]}}
    ]}}
  ]}},
  "observability": {{"maxTopicLabelValues": {max_topics}}}
}}"#
    )
}

fn config(max_topics: u32) -> Rc<Config> {
    Rc::new(Config::parse(policy(max_topics).as_bytes()).expect("valid config"))
}

fn session(cfg: &Rc<Config>) -> Session {
    let mut s = Session::new(cfg.clone(), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

/// What the stats say: per-principal totals and per-topic shares.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counted {
    produced: u64,
    fetched: u64,
    produced_by_topic: BTreeMap<String, u64>,
    fetched_by_topic: BTreeMap<String, u64>,
}

fn drain(s: &mut Session, into: &mut Counted) {
    let (stats, topics) = s.drain_stats_and_topics();
    for stat in stats {
        match stat {
            Stat::ProducedBytes(n) => into.produced += n,
            Stat::FetchedBytes(n) => into.fetched += n,
            Stat::ProducedTopicBytes { topic, bytes } => {
                *into.produced_by_topic.entry(topics.name(topic).to_string()).or_default() += bytes
            }
            Stat::FetchedTopicBytes { topic, bytes } => {
                *into.fetched_by_topic.entry(topics.name(topic).to_string()).or_default() += bytes
            }
            _ => {}
        }
    }
}

/// Feeds one direction as the glue does: chunks cut at `splits`, each read in windows of `window` bytes,
/// bytes the session passes unread skipped. Returns the forwarded bytes and how many bytes were read.
fn feed(s: &mut Session, input: &[u8], splits: &[usize], window: usize, upstream: bool) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut read = 0;
    let mut last = 0;
    let mut points = splits.to_vec();
    points.push(input.len());
    for p in points {
        let chunk = &input[last..p];
        last = p;
        let fed = if upstream {
            feed_slice(&mut SessionSide::upstream(s), chunk, Windows::of(window))
        } else {
            feed_slice(&mut SessionSide::downstream(s), chunk, Windows::of(window))
        };
        assert!(!fed.closed);
        out.extend(apply_edits(chunk, &fed.edits));
        read += fed.read;
    }
    (out, read)
}

fn records(n: usize, fill: u8) -> Option<Bytes> {
    Some(Bytes::from(vec![fill; n]))
}

fn produce_topic(name: &str, sizes: &[usize]) -> TopicProduceData {
    TopicProduceData::default().with_name(topic(name)).with_partition_data(
        sizes
            .iter()
            .enumerate()
            .map(|(i, n)| PartitionProduceData::default().with_index(i as i32).with_records(records(*n, 7)))
            .collect(),
    )
}

fn request<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    kafka_mtls_filter::protocol::wire::request_frame(
        api_key as i16,
        version,
        correlation_id,
        Some("test"),
        &enc(body, version),
    )
}

/// The shares by the definition, from encoded entry lengths: the first topic gets the bytes before it,
/// the last the bytes after its entry (the request's or response's trailing fields).
fn expected_shares(frame_len: usize, entry_lens: &[(&str, usize)], trailer: usize) -> BTreeMap<String, u64> {
    let entries: usize = entry_lens.iter().map(|(_, n)| n).sum();
    let head = frame_len - entries - trailer;
    let mut shares = BTreeMap::new();
    let last = entry_lens.len() - 1;
    for (i, (name, len)) in entry_lens.iter().enumerate() {
        let share = len + if i == 0 { head } else { 0 } + if i == last { trailer } else { 0 };
        *shares.entry(name.to_string()).or_default() += share as u64;
    }
    shares
}

#[test]
fn multi_topic_produce_shares_are_the_same_at_every_split_point() {
    let cfg = config(100);
    for version in [3i16, 8, 9, 12] {
        let topics =
            vec![produce_topic("t-a", &[40, 3]), produce_topic("t-bb", &[25]), produce_topic("t-c", &[9, 0, 30])];
        let body = ProduceRequest::default().with_acks(-1).with_timeout_ms(500).with_topic_data(topics.clone());
        let req = request(ApiKey::Produce, version, 3, &body);
        let lens: Vec<(&str, usize)> = topics.iter().map(|t| (t.name.as_str(), enc(t, version).len())).collect();
        let expected = expected_shares(req.len(), &lens, usize::from(version >= 9));
        assert_eq!(expected.values().sum::<u64>(), req.len() as u64);
        for split in 0..=req.len() {
            for window in [usize::MAX, 7] {
                let mut s = session(&cfg);
                let (out, _) = feed(&mut s, &req, &[split], window, false);
                assert_eq!(out, req, "v{version} split {split}: forwarded unchanged");
                let mut counted = Counted::default();
                drain(&mut s, &mut counted);
                assert_eq!(counted.produced, req.len() as u64);
                assert_eq!(counted.produced_by_topic, expected, "v{version} split {split} window {window}");
            }
        }
    }
}

#[test]
fn single_topic_produce_is_all_its_topic_and_its_records_pass_unread() {
    let cfg = config(100);
    let body = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(500)
        .with_topic_data(vec![produce_topic("t-big", &[1 << 20])]);
    let req = request(ApiKey::Produce, 9, 1, &body);
    let mut s = session(&cfg);
    let (out, read) = feed(&mut s, &req, &[100, 70_000], 64 * 1024, false);
    assert_eq!(out, req);
    assert!(read <= 100, "read {read} of {}", req.len());
    let mut counted = Counted::default();
    drain(&mut s, &mut counted);
    assert_eq!(counted.produced_by_topic, BTreeMap::from([("t-big".to_string(), req.len() as u64)]));
}

fn fetch_request(version: i16, names: &[&str]) -> Vec<u8> {
    let topics = names
        .iter()
        .map(|n| {
            FetchTopic::default()
                .with_topic(topic(n))
                .with_partitions(vec![FetchPartition::default().with_partition(0).with_partition_max_bytes(1 << 20)])
        })
        .collect();
    let body = FetchRequest::default().with_replica_id(BrokerId(-1)).with_max_wait_ms(100).with_topics(topics);
    request(ApiKey::Fetch, version, 21, &body)
}

fn partition(index: i32, records: Option<Bytes>, version: i16) -> PartitionData {
    let mut p = PartitionData::default().with_partition_index(index).with_high_watermark(1000).with_records(records);
    if version >= 4 {
        p = p.with_aborted_transactions(Some(vec![
            AbortedTransaction::default().with_producer_id(ProducerId(5)).with_first_offset(6),
            AbortedTransaction::default().with_producer_id(ProducerId(7)).with_first_offset(8),
        ]));
    }
    if version >= 12 {
        // A tagged field in the partition (diverging_epoch), skipped by size.
        p = p.with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(99));
    }
    p
}

fn fetch_topics(version: i16, record_size: usize) -> Vec<FetchableTopicResponse> {
    vec![
        FetchableTopicResponse::default().with_topic(topic("t-a")).with_partitions(vec![
            partition(0, records(record_size, 1), version),
            partition(1, None, version),
            partition(2, records(record_size / 2 + 1, 2), version),
        ]),
        FetchableTopicResponse::default().with_topic(topic("t-bb")).with_partitions(vec![]),
        FetchableTopicResponse::default().with_topic(topic("t-c")).with_partitions(vec![partition(
            0,
            records(record_size, 3),
            version,
        )]),
        // The same topic twice: its shares add up.
        FetchableTopicResponse::default().with_topic(topic("t-a")).with_partitions(vec![partition(
            5,
            records(record_size, 4),
            version,
        )]),
    ]
}

fn fetch_response(version: i16, topics: Vec<FetchableTopicResponse>) -> Vec<u8> {
    let mut body = FetchResponse::default().with_throttle_time_ms(1).with_responses(topics);
    if version >= 7 {
        body = body.with_session_id(77);
    }
    kafka_mtls_filter::protocol::wire::response_frame(ApiKey::Fetch as i16, version, 21, &enc(&body, version))
}

#[test]
fn multi_topic_fetch_shares_are_the_same_at_every_split_point() {
    let cfg = config(100);
    for version in [4i16, 5, 7, 11, 12] {
        let topics = fetch_topics(version, 30);
        let lens: Vec<(&str, usize)> = topics.iter().map(|t| (t.topic.as_str(), enc(t, version).len())).collect();
        let resp = fetch_response(version, topics.clone());
        let expected = expected_shares(resp.len(), &lens, usize::from(version >= 12));
        assert_eq!(expected.values().sum::<u64>(), resp.len() as u64);
        let req = fetch_request(version, &["t-a", "t-bb", "t-c"]);
        let check = |splits: &[usize], window: usize| {
            let mut s = session(&cfg);
            let (forwarded, _) = feed(&mut s, &req, &[], usize::MAX, false);
            assert_eq!(forwarded, req);
            let (out, _) = feed(&mut s, &resp, splits, window, true);
            assert_eq!(out, resp, "v{version} splits {splits:?}: forwarded unchanged");
            assert_eq!(s.inflight_len(), 0);
            let mut counted = Counted::default();
            drain(&mut s, &mut counted);
            assert_eq!(counted.fetched, resp.len() as u64);
            assert_eq!(counted.fetched_by_topic, expected, "v{version} splits {splits:?} window {window}");
        };
        for a in 0..=resp.len() {
            check(&[a], usize::MAX);
            check(&[a], 5);
        }
        if version == 12 {
            for a in (0..=resp.len()).step_by(3) {
                for b in a..=resp.len() {
                    check(&[a, b], usize::MAX);
                }
            }
        }
        let byte_by_byte: Vec<usize> = (1..resp.len()).collect();
        check(&byte_by_byte, usize::MAX);
    }
}

#[test]
fn fetch_walk_skips_record_sets_unread() {
    let cfg = config(100);
    let version = 12;
    // Four topic entries with ~1 MiB record sets each.
    let resp = fetch_response(version, fetch_topics(version, 1 << 20));
    let mut s = session(&cfg);
    feed(&mut s, &fetch_request(version, &["t-a", "t-bb", "t-c"]), &[], usize::MAX, false);
    let splits: Vec<usize> = (1..resp.len() / 65_536).map(|i| i * 65_536).collect();
    let (out, read) = feed(&mut s, &resp, &splits, 4096, true);
    assert_eq!(out, resp);
    // Read: a window at the start and one at each partition header before the last topic, not the records.
    assert!(read <= 8 * 4096, "read {read} of {}", resp.len());
    let mut counted = Counted::default();
    drain(&mut s, &mut counted);
    assert_eq!(counted.fetched_by_topic.values().sum::<u64>(), resp.len() as u64);
    assert_eq!(counted.fetched_by_topic.len(), 3);
}

#[test]
fn single_topic_fetch_is_all_its_topic_from_its_first_bytes() {
    let cfg = config(100);
    let version = 11;
    let topics = vec![FetchableTopicResponse::default()
        .with_topic(topic("t-one"))
        .with_partitions(vec![partition(0, records(1 << 20, 9), version), partition(1, records(10, 9), version)])];
    let resp = fetch_response(version, topics);
    let mut s = session(&cfg);
    feed(&mut s, &fetch_request(version, &["t-one"]), &[], usize::MAX, false);
    let (out, read) = feed(&mut s, &resp, &[200, 70_000], 64 * 1024, true);
    assert_eq!(out, resp);
    assert!(read <= 200, "read {read}");
    let mut counted = Counted::default();
    drain(&mut s, &mut counted);
    assert_eq!(counted.fetched_by_topic, BTreeMap::from([("t-one".to_string(), resp.len() as u64)]));
}

#[test]
fn single_topic_fetch_is_all_its_topic_in_every_version_however_it_arrives() {
    // Whole in one chunk, the first bytes are read at once; cut inside its first bytes, the walk takes it: the
    // same share either way, and by the learned name where topics are ids (v13+).
    let cfg = config(100);
    for version in 4..=18 {
        let learned = common::topic_id("t-one");
        let mut fetched = FetchableTopicResponse::default()
            .with_partitions(vec![partition(0, records(3000, 9), version), partition(1, records(10, 9), version)]);
        let mut asked = FetchTopic::default();
        if version >= 13 {
            fetched = fetched.with_topic_id(learned);
            asked = asked.with_topic_id(learned);
        } else {
            fetched = fetched.with_topic(topic("t-one"));
            asked = asked.with_topic(topic("t-one"));
        }
        let resp = fetch_response(version, vec![fetched]);
        for splits in [&[][..], &[7], &[20, 21]] {
            let mut s = session(&cfg);
            let body = FetchRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![asked.clone()]);
            feed(&mut s, &request(ApiKey::Fetch, version, 21, &body), &[], usize::MAX, false);
            let (out, read) = feed(&mut s, &resp, splits, 1024, true);
            assert_eq!(out, resp);
            // At most the first window after each cut: the records pass unread.
            assert!(read <= 1024 + 21, "v{version} {splits:?}: read {read}");
            let mut counted = Counted::default();
            drain(&mut s, &mut counted);
            let expected = BTreeMap::from([("t-one".to_string(), resp.len() as u64)]);
            assert_eq!(counted.fetched_by_topic, expected, "v{version} {splits:?}");
        }
    }
}

#[test]
fn topic_id_fetch_versions_count_by_the_learned_name() {
    let cfg = config(100);
    for version in [13, 18] {
        // One topic the filter learned, one id it did not (counted under `other`, never as its bytes).
        let learned = common::topic_id("t-one");
        let topics = vec![
            FetchableTopicResponse::default()
                .with_topic_id(learned)
                .with_partitions(vec![PartitionData::default().with_records(records(50, 1))]),
            FetchableTopicResponse::default()
                .with_topic_id(uuid::Uuid::from_bytes(*b"\x0ct-abcdefghijklm"))
                .with_partitions(vec![PartitionData::default().with_records(records(30, 1))]),
        ];
        let resp = fetch_response(version, topics);
        let mut s = session(&cfg);
        let body = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![FetchTopic::default().with_topic_id(learned)]);
        feed(&mut s, &request(ApiKey::Fetch, version, 21, &body), &[], usize::MAX, false);
        assert_eq!(s.inflight_len(), 1);
        assert_eq!(feed(&mut s, &resp, &[7, 40], 64, true).0, resp);
        let mut counted = Counted::default();
        drain(&mut s, &mut counted);
        assert_eq!(counted.fetched, resp.len() as u64);
        let labels: Vec<_> = counted.fetched_by_topic.keys().cloned().collect();
        assert_eq!(labels, ["other", "t-one"], "v{version}");
        assert_eq!(counted.fetched_by_topic.values().sum::<u64>(), resp.len() as u64, "v{version}");
    }
}

#[test]
fn empty_fetch_counts_per_principal_only() {
    let cfg = config(100);
    let resp = fetch_response(12, vec![]);
    let mut s = session(&cfg);
    feed(&mut s, &fetch_request(12, &["t-a"]), &[], usize::MAX, false);
    assert_eq!(feed(&mut s, &resp, &[], usize::MAX, true).0, resp);
    let mut counted = Counted::default();
    drain(&mut s, &mut counted);
    assert_eq!((counted.fetched, counted.fetched_by_topic.len()), (resp.len() as u64, 0));
}

#[test]
fn a_malformed_fetch_response_still_passes_and_its_shares_add_up() {
    let cfg = config(100);
    let version = 12;
    let good = fetch_response(version, fetch_topics(version, 30));
    // Corrupt every byte in turn (to 0xff): whatever the walk makes of it, nothing is refused or
    // rewritten, and the shares never exceed the frame.
    for at in 12..good.len() {
        let mut resp = good.clone();
        resp[at] = 0xff;
        for split in [0, at, resp.len() / 2] {
            let mut s = session(&cfg);
            feed(&mut s, &fetch_request(version, &["t-a"]), &[], usize::MAX, false);
            let (out, _) = feed(&mut s, &resp, &[split], 16, true);
            assert_eq!(out, resp, "corrupt byte {at}");
            let mut counted = Counted::default();
            drain(&mut s, &mut counted);
            let total: u64 = counted.fetched_by_topic.values().sum();
            assert!(total == 0 || total == resp.len() as u64, "byte {at}: {total} of {}", resp.len());
        }
    }
}

#[test]
fn the_allowed_part_of_a_split_produce_is_counted() {
    let cfg = config(100);
    let body = ProduceRequest::default().with_acks(-1).with_timeout_ms(500).with_topic_data(vec![
        produce_topic("t-a", &[10]),
        produce_topic("forbidden", &[20]),
        produce_topic("t-b", &[30]),
    ]);
    let req = request(ApiKey::Produce, 9, 1, &body);
    let mut s = session(&cfg);
    let (forwarded, _) = feed(&mut s, &req, &[], usize::MAX, false);
    assert!(forwarded.len() < req.len());
    let mut counted = Counted::default();
    drain(&mut s, &mut counted);
    assert_eq!(counted.produced, forwarded.len() as u64);
    assert_eq!(counted.produced_by_topic.keys().map(String::as_str).collect::<Vec<_>>(), ["t-a", "t-b"]);
    assert_eq!(counted.produced_by_topic.values().sum::<u64>(), forwarded.len() as u64);
}

#[test]
fn topic_labels_past_the_cap_count_as_other() {
    let cfg = config(1);
    let body = ProduceRequest::default().with_acks(-1).with_timeout_ms(500).with_topic_data(vec![
        produce_topic("t-a", &[10]),
        produce_topic("t-b", &[10]),
        produce_topic("t-c", &[10]),
    ]);
    let req = request(ApiKey::Produce, 9, 1, &body);
    let mut s = session(&cfg);
    feed(&mut s, &req, &[], usize::MAX, false);
    let mut counted = Counted::default();
    drain(&mut s, &mut counted);
    let names: Vec<&str> = counted.produced_by_topic.keys().map(String::as_str).collect();
    assert_eq!(names, ["other", "t-a"]);
    assert_eq!(counted.produced_by_topic.values().sum::<u64>(), req.len() as u64);
    // A later request keeps the known topic's label.
    feed(&mut s, &request(ApiKey::Produce, 9, 2, &body), &[], usize::MAX, false);
    let mut again = Counted::default();
    drain(&mut s, &mut again);
    assert_eq!(again.produced_by_topic.keys().map(String::as_str).collect::<Vec<_>>(), ["other", "t-a"]);
}

#[test]
fn max_topic_label_values_is_validated() {
    let parse = |observability: &str| Config::parse(format!(r#"{{"observability": {observability}}}"#).as_bytes());
    assert_eq!(parse(r#"{"maxTopicLabelValues": 0}"#).unwrap().max_topic_label_values, 0);
    assert_eq!(parse("{}").unwrap().max_topic_label_values, 100);
    for bad in [r#"{"maxTopicLabelValues": -1}"#, r#"{"maxTopicLabelValues": "10"}"#, r#"{"maxTopicLabelValues": 1.5}"#]
    {
        let e = parse(bad).unwrap_err().to_string();
        assert!(e.contains("observability.maxTopicLabelValues"), "{e}");
    }
    let e = parse(r#"{"maxTopicLabelValues": 10001}"#).unwrap_err().to_string();
    assert!(e.contains("`observability.maxTopicLabelValues`") && e.contains("at most 10000"), "{e}");
    let e = parse(r#"{"maxTopicLabels": 10}"#).unwrap_err().to_string();
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn shipped_envoy_configs_extract_every_tag() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["envoy/envoy-mtls.yaml", "envoy/envoy-plain.yaml", "envoy/envoy-tls-optional.yaml"] {
        let text = std::fs::read_to_string(root.join(file)).expect("shipped config");
        for tag in kafka_mtls_filter::metrics::TAGS {
            let rule = format!(r#"{{ tag_name: {tag}, regex: "(;{tag}=([^;]*))" }}"#);
            assert!(text.contains(&rule), "{file} lacks the stats_tags rule for `{tag}`");
        }
    }
}

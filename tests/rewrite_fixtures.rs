//! Byte fixtures for every request and response the filter rewrites, at every version it handles.
//!
//! Each case is four frames kept as hex in `tests/fixtures/rewrite/<api>.txt`: what the client sends, what the
//! filter forwards to the broker, what the broker answers, and what the client gets back. The test replays the
//! client and broker frames through a [`Session`] (whole, and split at every byte) and requires the filter's
//! output to equal the recorded bytes exactly, so any change in what goes on the wire shows up as a diff of
//! a reviewed file. Every case also asserts what the bytes mean (decoded with kafka-protocol at the client's
//! version), so a recorded fixture is checked, not just trusted.
//!
//! A missing fixture fails the test. `KMF_BLESS=1 cargo test --test rewrite_fixtures` (re)writes the files
//! from the kafka-protocol builders below; review the diff before committing it.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use common::split_apis::{self, dtp_request, SplitApi};
use common::{enc, s, topic, topic_id, topic_label};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

/// ANONYMOUS may use `allowed` (and delete it or its records), see `visible`, create `fresh` only (and see
/// the configs it gets back), and nothing of `secret`. It may use group `grp-ok` (Read, Describe, Delete), describe group `grp-ro` and transactional
/// id `txn-ok`; `grp-secret` and `txn-secret` are denied. [`Policy::DescribeCluster`] adds Describe Cluster.
const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["Write", "Read", "Describe", "Delete"]},
      {"resource": {"type": "topic", "name": "visible"}, "operations": ["Describe"]},
      {"resource": {"type": "topic", "name": "fresh"}, "operations": ["Create", "DescribeConfigs"]},
      {"resource": {"type": "topic", "name": "tuned"}, "operations": ["Alter", "DescribeConfigs", "AlterConfigs"]},
      {"resource": {"type": "group", "name": "grp-ok"}, "operations": ["Read", "Describe", "Delete"]},
      {"resource": {"type": "group", "name": "grp-ro"}, "operations": ["Describe"]},
      {"resource": {"type": "transactionalId", "name": "txn-ok"}, "operations": ["Describe", "Write"]}
      EXTRA_GRANTS
    ]}
  ]}
}"#;

/// The grants a case runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// [`POLICY`] as written.
    Base,
    /// [`POLICY`] plus Describe on the cluster (ListGroups then shows every group).
    DescribeCluster,
}

const CORRELATION_ID: i32 = 0x0102_0304;

/// The four frames of one request/response round trip through the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frames {
    client_request: Vec<u8>,
    forwarded: Vec<u8>,
    broker_response: Vec<u8>,
    client_response: Vec<u8>,
}

/// How the broker answers a forwarded request frame.
type Broker = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// One round trip: the client's request, and how the broker answers what was forwarded.
struct Case {
    name: String,
    api_key: ApiKey,
    version: i16,
    policy: Policy,
    request: Vec<u8>,
    broker: Broker,
    /// What the frames must mean.
    check: Box<dyn Fn(&Frames)>,
}

fn config(policy: Policy) -> Rc<Config> {
    let extra = match policy {
        Policy::Base => "",
        Policy::DescribeCluster => r#", {"resource": {"type": "cluster"}, "operations": ["Describe"]}"#,
    };
    Rc::new(Config::parse(POLICY.replace("EXTRA_GRANTS", extra).as_bytes()).expect("valid policy"))
}

fn session(cfg: &Rc<Config>) -> Session {
    let mut s = Session::new(Rc::clone(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

/// Feeds `bytes` in two chunks split at `split`, returns what the filter lets through.
fn pass(s: &mut Session, bytes: &[u8], split: usize, downstream: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in [&bytes[..split], &bytes[split..]] {
        let outcome = if downstream { s.on_downstream(chunk) } else { s.on_upstream(chunk) };
        assert_eq!(outcome.close, None);
        out.extend(apply_edits(chunk, &outcome.edits));
    }
    out
}

/// Runs a client request and a broker response through the filter, split at every byte; every split must
/// give the same bytes.
fn run(cfg: &Rc<Config>, request: &[u8], broker: impl Fn(&[u8]) -> Vec<u8>) -> Frames {
    let mut whole = session(cfg);
    let forwarded = pass(&mut whole, request, request.len(), true);
    let broker_response = broker(&forwarded);
    let client_response = pass(&mut whole, &broker_response, broker_response.len(), false);
    assert_eq!(whole.inflight_len(), 0);
    for split in 0..request.len() {
        let mut s = session(cfg);
        assert_eq!(pass(&mut s, request, split, true), forwarded, "request split at {split}");
    }
    for split in 0..broker_response.len() {
        let mut s = session(cfg);
        pass(&mut s, request, request.len(), true);
        assert_eq!(pass(&mut s, &broker_response, split, false), client_response, "response split at {split}");
    }
    Frames { client_request: request.to_vec(), forwarded, broker_response, client_response }
}

// ---------------------------------------------------------------------------------------------------------
// Fixture files.

fn fixture_path(api: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rewrite").join(format!("{api}.txt"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("fixture hex")).collect()
}

const FIELDS: [&str; 4] = ["client-request", "forwarded", "broker-response", "client-response"];

fn read_fixtures(api: &str) -> BTreeMap<String, Frames> {
    let Ok(text) = std::fs::read_to_string(fixture_path(api)) else { return BTreeMap::new() };
    let mut cases = BTreeMap::new();
    let mut current: Option<(String, Vec<Vec<u8>>)> = None;
    let mut finish = |current: &mut Option<(String, Vec<Vec<u8>>)>| {
        if let Some((name, mut f)) = current.take() {
            assert_eq!(f.len(), 4, "fixture {name}: four frames");
            let client_response = f.pop().unwrap();
            let broker_response = f.pop().unwrap();
            let forwarded = f.pop().unwrap();
            let client_request = f.pop().unwrap();
            cases.insert(name, Frames { client_request, forwarded, broker_response, client_response });
        }
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            finish(&mut current);
            current = Some((name.to_string(), Vec::new()));
        } else if let Some((field, value)) = line.split_once(' ') {
            let (name, frames) = current.as_mut().expect("a [case] before its frames");
            assert_eq!(field, FIELDS[frames.len()], "fixture {name}: frames in order");
            frames.push(unhex(value.trim()));
        }
    }
    finish(&mut current);
    cases
}

fn write_fixtures(api: &str, header: &str, cases: &[(String, Frames)]) {
    let mut text = String::new();
    for line in header.lines() {
        let _ = writeln!(text, "# {line}");
    }
    let _ = writeln!(
        text,
        "# Frames in hex, size prefix included. Written by KMF_BLESS=1 cargo test --test rewrite_fixtures."
    );
    for (name, f) in cases {
        let _ = writeln!(text, "\n[{name}]");
        for (field, bytes) in
            FIELDS.iter().zip([&f.client_request, &f.forwarded, &f.broker_response, &f.client_response])
        {
            let _ = writeln!(text, "{field} {}", hex(bytes));
        }
    }
    let path = fixture_path(api);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Replays the recorded fixtures of `api` (or records them with `KMF_BLESS=1`) and checks every case.
fn verify(api: &str, header: &str, cases: Vec<Case>) {
    let bless = std::env::var("KMF_BLESS").is_ok_and(|v| v == "1");
    let recorded = read_fixtures(api);
    let mut written = Vec::new();
    for case in &cases {
        let cfg = config(case.policy);
        let frames = if bless {
            run(&cfg, &case.request, &case.broker)
        } else {
            let fixture = recorded.get(&case.name).unwrap_or_else(|| {
                panic!("no fixture [{}] in {api}.txt: run KMF_BLESS=1 cargo test --test rewrite_fixtures", case.name)
            });
            let replayed = run(&cfg, &fixture.client_request, |_| fixture.broker_response.clone());
            assert_eq!(hex(&replayed.forwarded), hex(&fixture.forwarded), "[{}] forwarded request", case.name);
            assert_eq!(
                hex(&replayed.client_response),
                hex(&fixture.client_response),
                "[{}] client response",
                case.name
            );
            replayed
        };
        assert_eq!(&frames.client_request[4..6], &(case.api_key as i16).to_be_bytes(), "[{}] api key", case.name);
        assert_eq!(&frames.client_request[6..8], &case.version.to_be_bytes(), "[{}] version", case.name);
        assert_eq!(wire::response_correlation_id(&frames.client_response), Some(CORRELATION_ID), "[{}]", case.name);
        (case.check)(&frames);
        written.push((case.name.clone(), frames));
    }
    if bless {
        write_fixtures(api, header, &written);
    } else {
        let expected: Vec<_> = cases.iter().map(|c| c.name.as_str()).collect();
        let stale: Vec<_> = recorded.keys().filter(|k| !expected.contains(&k.as_str())).collect();
        assert!(stale.is_empty(), "{api}.txt has cases no test builds: {stale:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Frame helpers.

fn request_frame<R: kafka_protocol::protocol::Encodable>(api_key: ApiKey, version: i16, body: &R) -> Vec<u8> {
    wire::request_frame(api_key as i16, version, CORRELATION_ID, Some("fixture"), &enc(body, version))
}

fn response_frame<R: kafka_protocol::protocol::Encodable>(api_key: ApiKey, version: i16, body: &R) -> Vec<u8> {
    wire::response_frame(api_key as i16, version, CORRELATION_ID, &enc(body, version))
}

/// Decodes a forwarded request frame's body (after the request header).
fn forwarded_request<R: Decodable>(frame: &[u8], api_key: ApiKey) -> (i16, R) {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    let api_version = i16::from_be_bytes([frame[6], frame[7]]);
    let header_version = api_key.request_header_version(api_version);
    let header = RequestHeader::decode(&mut body, header_version).expect("request header");
    assert_eq!(header.correlation_id, CORRELATION_ID);
    assert_eq!(header.request_api_key, api_key as i16);
    (api_version, R::decode(&mut body, api_version).expect("forwarded request body"))
}

fn client_response<R: Decodable>(frame: &[u8], api_key: ApiKey, version: i16) -> R {
    let mut body = Bytes::copy_from_slice(&frame[wire::response_body_offset(api_key as i16, version)..]);
    let decoded = R::decode(&mut body, version).expect("client response body");
    assert!(body.is_empty(), "response has trailing bytes");
    decoded
}

/// The ApiVersions v0 answer a broker gives the request the filter substitutes for a denied one.
fn substitute_answer(forwarded: &[u8]) -> Vec<u8> {
    assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "a denied request is replaced by ApiVersions v0");
    let body = ApiVersionsResponse::default().with_api_keys(vec![api_versions_response::ApiVersion::default()
        .with_api_key(18)
        .with_min_version(0)
        .with_max_version(4)]);
    response_frame(ApiKey::ApiVersions, 0, &body)
}

fn versions(api_key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let (min, max) = kafka_mtls_filter::session::supported_versions(api_key as i16).expect("supported API");
    min.max(api_key.valid_versions().min)..=max
}

// ---------------------------------------------------------------------------------------------------------
// Metadata: named topics lose the undescribable ones (answered 29) and auto-creation; all-topics listings
// are filtered.

fn metadata_response_topic(version: i16, name: &str) -> metadata_response::MetadataResponseTopic {
    let id = if version >= 10 { uuid::Uuid::from_u128(name.len() as u128 + 1) } else { uuid::Uuid::nil() };
    metadata_response::MetadataResponseTopic::default().with_name(Some(topic(name))).with_topic_id(id).with_partitions(
        vec![metadata_response::MetadataResponsePartition::default()
            .with_partition_index(0)
            .with_leader_id(BrokerId(1))
            .with_replica_nodes(vec![BrokerId(1)])
            .with_isr_nodes(vec![BrokerId(1)])],
    )
}

fn metadata_broker_answer(version: i16, names: &[&str]) -> Vec<u8> {
    let body = MetadataResponse::default()
        .with_brokers(vec![metadata_response::MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(s("broker.example"))
            .with_port(9092)])
        .with_cluster_id((version >= 2).then(|| s("cluster-1")))
        .with_controller_id(BrokerId(if version >= 1 { 1 } else { -1 }))
        .with_topics(names.iter().map(|n| metadata_response_topic(version, n)).collect());
    response_frame(ApiKey::Metadata, version, &body)
}

fn topic_names(topics: &[metadata_response::MetadataResponseTopic]) -> Vec<(String, i16, usize)> {
    topics
        .iter()
        .map(|t| (t.name.as_ref().map(|n| n.to_string()).unwrap_or_default(), t.error_code, t.partitions.len()))
        .collect()
}

#[test]
fn metadata_at_every_version() {
    let mut cases = Vec::new();
    for version in versions(ApiKey::Metadata) {
        let named = |n: &str| metadata_request::MetadataRequestTopic::default().with_name(Some(topic(n)));
        let request = MetadataRequest::default()
            .with_topics(Some(vec![named("allowed"), named("secret"), named("visible")]))
            .with_allow_auto_topic_creation(true);
        cases.push(Case {
            name: format!("named v{version}"),
            api_key: ApiKey::Metadata,
            version,
            policy: Policy::Base,
            request: request_frame(ApiKey::Metadata, version, &request),
            broker: Box::new(move |forwarded| {
                let (_, sent): (_, MetadataRequest) = forwarded_request(forwarded, ApiKey::Metadata);
                let names: Vec<String> =
                    sent.topics.unwrap().iter().map(|t| t.name.clone().unwrap().to_string()).collect();
                metadata_broker_answer(version, &names.iter().map(String::as_str).collect::<Vec<_>>())
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, MetadataRequest) = forwarded_request(&f.forwarded, ApiKey::Metadata);
                let sent_names: Vec<_> =
                    sent.topics.unwrap().iter().map(|t| t.name.clone().unwrap().to_string()).collect();
                assert_eq!(sent_names, ["allowed", "visible"], "v{version}: the broker is not asked about secret");
                // Before v4 the field does not exist (brokers auto-create per their own configuration).
                assert!(version < 4 || !sent.allow_auto_topic_creation, "v{version}: no Create, no auto-creation");
                let got: MetadataResponse = client_response(&f.client_response, ApiKey::Metadata, version);
                assert_eq!(
                    topic_names(&got.topics),
                    [("allowed".into(), 0, 1), ("visible".into(), 0, 1), ("secret".into(), 29, 0)],
                    "v{version}"
                );
                let secret = got.topics.iter().find(|t| t.error_code == 29).unwrap();
                assert!(secret.topic_id.is_nil(), "v{version}: no id leaked");
                assert_eq!(got.brokers.len(), 1);
            }),
        });
        // All topics: v0 says it with an empty list, later versions with null.
        let all = MetadataRequest::default()
            .with_topics(if version == 0 { Some(Vec::new()) } else { None })
            .with_allow_auto_topic_creation(true);
        cases.push(Case {
            name: format!("all-topics v{version}"),
            api_key: ApiKey::Metadata,
            version,
            policy: Policy::Base,
            request: request_frame(ApiKey::Metadata, version, &all),
            broker: Box::new(move |_| {
                metadata_broker_answer(version, &["allowed", "secret", "visible", "__consumer_offsets"])
            }),
            check: Box::new(move |f| {
                assert_eq!(f.forwarded, f.client_request, "v{version}: an all-topics request passes unchanged");
                let got: MetadataResponse = client_response(&f.client_response, ApiKey::Metadata, version);
                assert_eq!(
                    topic_names(&got.topics),
                    [("allowed".into(), 0, 1), ("visible".into(), 0, 1)],
                    "v{version}"
                );
            }),
        });
    }
    verify(
        "metadata",
        "Metadata at every version: named topics (allowed, secret, visible) and all topics, for a principal\n\
         that may Describe allowed and visible only, and create nothing.",
        cases,
    );
}

// ---------------------------------------------------------------------------------------------------------
// Produce: a request for an allowed and a forbidden topic is split; the broker sees the allowed part.

fn records(len: usize) -> Option<Bytes> {
    Some(Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>()))
}

#[test]
fn produce_at_every_version() {
    use produce_request::{PartitionProduceData, TopicProduceData};
    use produce_response::{PartitionProduceResponse, TopicProduceResponse};
    let mut cases = Vec::new();
    for version in versions(ApiKey::Produce) {
        let data = |n: &str| {
            TopicProduceData::default()
                .with_name(topic(n))
                .with_topic_id(topic_id(n))
                .with_partition_data(vec![PartitionProduceData::default().with_index(0).with_records(records(61))])
        };
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(1500)
            .with_topic_data(vec![data("allowed"), data("secret")]);
        cases.push(Case {
            name: format!("allowed+secret v{version}"),
            api_key: ApiKey::Produce,
            version,
            policy: Policy::Base,
            request: request_frame(ApiKey::Produce, version, &request),
            broker: Box::new(move |forwarded| {
                let (_, sent): (_, ProduceRequest) = forwarded_request(forwarded, ApiKey::Produce);
                let body = ProduceResponse::default().with_throttle_time_ms(7).with_responses(
                    sent.topic_data
                        .iter()
                        .map(|t| {
                            TopicProduceResponse::default()
                                .with_name(t.name.clone())
                                .with_topic_id(t.topic_id)
                                .with_partition_responses(vec![PartitionProduceResponse::default()
                                    .with_index(0)
                                    .with_base_offset(42)])
                        })
                        .collect(),
                );
                response_frame(ApiKey::Produce, version, &body)
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, ProduceRequest) = forwarded_request(&f.forwarded, ApiKey::Produce);
                let names: Vec<_> = sent.topic_data.iter().map(|t| topic_label(&t.name, &t.topic_id)).collect();
                assert_eq!(names, ["allowed"], "v{version}");
                assert_eq!(sent.topic_data[0].partition_data[0].records, records(61), "v{version}: records intact");
                let got: ProduceResponse = client_response(&f.client_response, ApiKey::Produce, version);
                let answers: Vec<_> = got
                    .responses
                    .iter()
                    .map(|t| {
                        let name = topic_label(&t.name, &t.topic_id);
                        (name, t.partition_responses[0].error_code, t.partition_responses[0].base_offset)
                    })
                    .collect();
                assert_eq!(answers, [("allowed".into(), 0, 42), ("secret".into(), 29, -1)], "v{version}");
                assert_eq!(got.throttle_time_ms, if version >= 1 { 7 } else { 0 }, "v{version}: broker fields kept");
            }),
        });
        let only_secret =
            ProduceRequest::default().with_acks(1).with_timeout_ms(1500).with_topic_data(vec![data("secret")]);
        cases.push(Case {
            name: format!("secret only v{version}"),
            api_key: ApiKey::Produce,
            version,
            policy: Policy::Base,
            request: request_frame(ApiKey::Produce, version, &only_secret),
            broker: Box::new(substitute_answer),
            check: Box::new(move |f| {
                assert!(
                    !f.forwarded.windows(6).any(|w| w == b"secret")
                        && !f.forwarded.windows(16).any(|w| w == topic_id("secret").as_bytes()),
                    "v{version}: nothing of it reaches the broker"
                );
                let got: ProduceResponse = client_response(&f.client_response, ApiKey::Produce, version);
                assert_eq!(got.responses.len(), 1);
                assert_eq!(topic_label(&got.responses[0].name, &got.responses[0].topic_id), "secret");
                assert_eq!(got.responses[0].partition_responses[0].error_code, 29, "v{version}");
            }),
        });
    }
    verify(
        "produce",
        "Produce at every version: one batch to allowed (Write) and to secret (no Write). The allowed part\n\
         is forwarded, the broker's answer gets TOPIC_AUTHORIZATION_FAILED for secret merged in. A batch\n\
         to secret alone never reaches the broker (ApiVersions v0 goes in its place) and is answered 29.",
        cases,
    );
}

// ---------------------------------------------------------------------------------------------------------
// Fetch: the same split for a consumer of an allowed and a forbidden topic.

#[test]
fn fetch_at_every_version() {
    use fetch_request::{FetchPartition, FetchTopic};
    use fetch_response::{FetchableTopicResponse, PartitionData};
    let mut cases = Vec::new();
    for version in versions(ApiKey::Fetch) {
        let wanted = |n: &str| {
            FetchTopic::default()
                .with_topic(topic(n))
                .with_topic_id(topic_id(n))
                .with_partitions(vec![FetchPartition::default().with_partition(0).with_partition_max_bytes(1 << 20)])
        };
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(1 << 24)
            .with_session_epoch(-1)
            .with_topics(vec![wanted("secret"), wanted("allowed")]);
        cases.push(Case {
            name: format!("secret+allowed v{version}"),
            api_key: ApiKey::Fetch,
            version,
            policy: Policy::Base,
            request: request_frame(ApiKey::Fetch, version, &request),
            broker: Box::new(move |forwarded| {
                let (_, sent): (_, FetchRequest) = forwarded_request(forwarded, ApiKey::Fetch);
                let body = FetchResponse::default().with_throttle_time_ms(3).with_responses(
                    sent.topics
                        .iter()
                        .map(|t| {
                            FetchableTopicResponse::default()
                                .with_topic(t.topic.clone())
                                .with_topic_id(t.topic_id)
                                .with_partitions(vec![PartitionData::default()
                                    .with_partition_index(0)
                                    .with_high_watermark(10)
                                    .with_records(records(83))])
                        })
                        .collect(),
                );
                response_frame(ApiKey::Fetch, version, &body)
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, FetchRequest) = forwarded_request(&f.forwarded, ApiKey::Fetch);
                let names: Vec<_> = sent.topics.iter().map(|t| topic_label(&t.topic, &t.topic_id)).collect();
                assert_eq!(names, ["allowed"], "v{version}");
                let got: FetchResponse = client_response(&f.client_response, ApiKey::Fetch, version);
                let answers: Vec<_> = got
                    .responses
                    .iter()
                    .map(|t| {
                        let name = topic_label(&t.topic, &t.topic_id);
                        (name, t.partitions[0].error_code, t.partitions[0].records.clone())
                    })
                    .collect();
                // A refused partition has empty records, not null, as in Kafka's own error answer.
                assert_eq!(
                    answers,
                    [("allowed".into(), 0, records(83)), ("secret".into(), 29, records(0))],
                    "v{version}"
                );
                assert_eq!(got.throttle_time_ms, 3, "v{version}: broker fields kept");
            }),
        });
    }
    verify(
        "fetch",
        "Fetch at every version: a consumer of secret (no Read) and allowed (Read). The allowed part is\n\
         forwarded, the broker's answer gets TOPIC_AUTHORIZATION_FAILED for secret merged in.",
        cases,
    );
}

// ---------------------------------------------------------------------------------------------------------
// ApiVersions: the broker's ranges are clamped to what the filter parses.

#[test]
fn api_versions_at_every_version() {
    use api_versions_response::ApiVersion;
    let mut cases = Vec::new();
    for version in versions(ApiKey::ApiVersions) {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(s("fixture-client"))
            .with_client_software_version(s("1.0"));
        cases.push(Case {
            name: format!("clamp v{version}"),
            api_key: ApiKey::ApiVersions,
            version,
            policy: Policy::Base,
            request: request_frame(ApiKey::ApiVersions, version, &request),
            broker: Box::new(move |_| {
                let range = |key: i16, min: i16, max: i16| {
                    ApiVersion::default().with_api_key(key).with_min_version(min).with_max_version(max)
                };
                let body = ApiVersionsResponse::default()
                    .with_api_keys(vec![
                        range(0, 0, 14),   // Produce: beyond what the filter parses (13)
                        range(1, 0, 19),   // Fetch: beyond what the filter parses (18)
                        range(3, 0, 13),   // Metadata
                        range(18, 0, 4),   // ApiVersions
                        range(1000, 0, 1), // unknown to the filter: removed
                    ])
                    .with_throttle_time_ms(5);
                response_frame(ApiKey::ApiVersions, version, &body)
            }),
            check: Box::new(move |f| {
                assert_eq!(f.forwarded, f.client_request, "v{version}: the request passes unchanged");
                let got: ApiVersionsResponse = client_response(&f.client_response, ApiKey::ApiVersions, version);
                let ranges: Vec<_> = got.api_keys.iter().map(|k| (k.api_key, k.min_version, k.max_version)).collect();
                assert_eq!(ranges, [(0, 0, 13), (1, 0, 18), (3, 0, 13), (18, 0, 4)], "v{version}");
                assert_eq!(got.throttle_time_ms, if version >= 1 { 5 } else { 0 }, "v{version}");
            }),
        });
    }
    verify(
        "api_versions",
        "ApiVersions at every version: the broker advertises Produce and Fetch beyond the versions the\n\
         filter parses and an API key the filter does not know; the client sees only what the filter parses.",
        cases,
    );
}

// ---------------------------------------------------------------------------------------------------------
// Split requests: one allowed and one denied resource. The broker is asked about the allowed one only; the
// client gets the broker's answer with the denied resource's authorization error appended to its array.

/// A response's resource entries, in order.
fn entries<Resp: Clone>(pop: fn(&mut Resp) -> Option<(String, i16)>, response: &Resp) -> Vec<(String, i16)> {
    let mut response = response.clone();
    let mut out: Vec<_> = std::iter::from_fn(|| pop(&mut response)).collect();
    out.reverse();
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The recorded cases of a split API: `allowed` and `denied` in one request at every version, and with
/// `all_denied` also `denied` alone (refused whole).
fn split_cases<Req, Resp>(
    api: SplitApi<Req, Resp>,
    allowed: &'static str,
    denied: &'static str,
    all_denied: bool,
) -> Vec<Case>
where
    Req: Encodable + Decodable + 'static,
    Resp: Encodable + Decodable + Clone + PartialEq + std::fmt::Debug + 'static,
{
    let key = api.key;
    let mut cases = Vec::new();
    for version in versions(key) {
        cases.push(Case {
            name: format!("{}+{} v{version}", allowed, denied),
            api_key: key,
            version,
            policy: Policy::Base,
            request: request_frame(key, version, &(api.request)(version, &[allowed, denied])),
            broker: Box::new(move |forwarded| {
                let (_, sent): (_, Req) = forwarded_request(forwarded, key);
                let names = (api.names)(&sent);
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                response_frame(key, version, &(api.response)(version, &names))
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, Req) = forwarded_request(&f.forwarded, key);
                assert_eq!((api.names)(&sent), [allowed], "{key:?} v{version}: forwarded resources");
                assert!(!contains(&f.forwarded, denied), "{key:?} v{version}: the broker never sees {}", denied);
                assert!(contains(&f.client_response, denied), "{key:?} v{version}: the client hears of it");
                let broker: Resp = client_response(&f.broker_response, key, version);
                assert_eq!(entries(api.pop, &broker), [(allowed.to_string(), 0)], "{key:?} v{version}");
                let mut got: Resp = client_response(&f.client_response, key, version);
                assert_eq!(
                    entries(api.pop, &got),
                    [(allowed.to_string(), 0), (denied.to_string(), api.code)],
                    "{key:?} v{version}"
                );
                (api.pop)(&mut got);
                assert_eq!(got, broker, "{key:?} v{version}: the broker's answer is otherwise unchanged");
            }),
        });
        if all_denied {
            cases.push(Case {
                name: format!("{} only v{version}", denied),
                api_key: key,
                version,
                policy: Policy::Base,
                request: request_frame(key, version, &(api.request)(version, &[denied])),
                broker: Box::new(substitute_answer),
                check: Box::new(move |f| {
                    assert!(!contains(&f.forwarded, denied), "{key:?} v{version}: nothing reaches the broker");
                    let got: Resp = client_response(&f.client_response, key, version);
                    assert_eq!(entries(api.pop, &got), [(denied.to_string(), api.code)], "{key:?} v{version}");
                }),
            });
        }
    }
    cases
}

fn split_header(api: &str, allowed: &str, denied: &str, why: &str, code: i16, all_denied: bool) -> String {
    let mut header = format!(
        "{api} at every version: one request naming {allowed} ({why}) and {denied} (denied). Only {allowed} is\n\
         forwarded; the broker's answer gets {denied} appended with error {code}."
    );
    if all_denied {
        header.push_str(&format!(
            "\nA request naming {denied} alone never reaches the broker (ApiVersions v0 goes in its place) and is\n\
             answered {code} by the filter."
        ));
    }
    header
}

fn topic_strings<'a>(names: impl Iterator<Item = &'a TopicName>) -> Vec<String> {
    names.map(|n| n.to_string()).collect()
}

#[test]
fn list_offsets_at_every_version() {
    let api = split_apis::list_offsets();
    verify(
        "list_offsets",
        &split_header("ListOffsets", "allowed", "secret", "Describe", 29, true),
        split_cases(api, "allowed", "secret", true),
    );
}

#[test]
fn offset_commit_at_every_version() {
    let api = split_apis::offset_commit();
    verify(
        "offset_commit",
        &split_header("OffsetCommit", "allowed", "secret", "Read, group grp-ok Read", 29, false),
        split_cases(api, "allowed", "secret", false),
    );
}

fn offset_fetch_request(version: i16, groups: &[(&str, Option<&[&str]>)]) -> OffsetFetchRequest {
    use offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics};
    if version <= 7 {
        let (group, names) = groups[0];
        let topics = names.map(|names| {
            names
                .iter()
                .map(|n| OffsetFetchRequestTopic::default().with_name(topic(n)).with_partition_indexes(vec![0, 1]))
                .collect()
        });
        return OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(topics);
    }
    let groups = groups
        .iter()
        .map(|(group, names)| {
            let topics = names.map(|names| {
                names
                    .iter()
                    .map(|n| OffsetFetchRequestTopics::default().with_name(topic(n)).with_partition_indexes(vec![0, 1]))
                    .collect()
            });
            OffsetFetchRequestGroup::default().with_group_id(GroupId(s(group))).with_topics(topics)
        })
        .collect();
    OffsetFetchRequest::default().with_groups(groups)
}

/// The broker's OffsetFetch answer: committed offsets of partitions 0 and 1 of each topic, per group
/// (v0-v7: the first group's topics only).
fn offset_fetch_response(version: i16, groups: &[(&str, &[&str])]) -> OffsetFetchResponse {
    use offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
    if version <= 7 {
        let topics = groups[0]
            .1
            .iter()
            .map(|n| {
                let p = |i: i32| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(i)
                        .with_committed_offset(40 + i as i64)
                        .with_committed_leader_epoch(if version >= 5 { 3 } else { -1 })
                        .with_metadata(Some(s("meta")))
                };
                OffsetFetchResponseTopic::default().with_name(topic(n)).with_partitions(vec![p(0), p(1)])
            })
            .collect();
        return OffsetFetchResponse::default()
            .with_throttle_time_ms(if version >= 3 { 5 } else { 0 })
            .with_topics(topics);
    }
    let groups = groups.iter().map(|(group, names)| split_apis::offset_fetch_group_answer(group, names)).collect();
    OffsetFetchResponse::default().with_throttle_time_ms(5).with_groups(groups)
}

/// (group, topics) of an OffsetFetch request; `None` topics: all of the group's.
fn offset_fetch_asked(r: &OffsetFetchRequest) -> Vec<(String, Option<Vec<String>>)> {
    if !r.groups.is_empty() {
        return r
            .groups
            .iter()
            .map(|g| (g.group_id.to_string(), g.topics.as_ref().map(|t| topic_strings(t.iter().map(|t| &t.name)))))
            .collect();
    }
    vec![(r.group_id.to_string(), r.topics.as_ref().map(|t| topic_strings(t.iter().map(|t| &t.name))))]
}

#[test]
fn offset_fetch_at_every_version() {
    let api = split_apis::offset_fetch();
    let mut cases = split_cases(api, "allowed", "secret", false);
    // All topics (null, v2+): forwarded as asked, the answer loses what may not be described. From v8 the
    // request batches groups: only the group asking for all topics is filtered.
    for version in versions(ApiKey::OffsetFetch).filter(|v| *v >= 2) {
        let groups: &[(&str, Option<&[&str]>)] =
            if version <= 7 { &[("grp-ok", None)] } else { &[("grp-ok", None), ("grp-ro", Some(&["visible"]))] };
        cases.push(Case {
            name: format!("all-topics v{version}"),
            api_key: ApiKey::OffsetFetch,
            version,
            policy: Policy::Base,
            request: request_frame(ApiKey::OffsetFetch, version, &offset_fetch_request(version, groups)),
            broker: Box::new(move |_| {
                let body = offset_fetch_response(
                    version,
                    &[("grp-ok", &["allowed", "secret", "visible"]), ("grp-ro", &["visible"])],
                );
                response_frame(ApiKey::OffsetFetch, version, &body)
            }),
            check: Box::new(move |f| {
                assert_eq!(f.forwarded, f.client_request, "v{version}: an all-topics request passes unchanged");
                let (_, sent): (_, OffsetFetchRequest) = forwarded_request(&f.forwarded, ApiKey::OffsetFetch);
                assert_eq!(offset_fetch_asked(&sent)[0], ("grp-ok".to_string(), None), "v{version}");
                // Exactly what the broker would have sent listing only the describable topics.
                let expected =
                    offset_fetch_response(version, &[("grp-ok", &["allowed", "visible"]), ("grp-ro", &["visible"])]);
                assert_eq!(
                    hex(&f.client_response),
                    hex(&response_frame(ApiKey::OffsetFetch, version, &expected)),
                    "v{version}"
                );
                assert!(!contains(&f.client_response, "secret"), "v{version}");
            }),
        });
    }
    // Several groups, one denied (v8+): split by group.
    for version in versions(ApiKey::OffsetFetch).filter(|v| *v >= 8) {
        cases.push(Case {
            name: format!("groups v{version}"),
            api_key: ApiKey::OffsetFetch,
            version,
            policy: Policy::Base,
            request: request_frame(
                ApiKey::OffsetFetch,
                version,
                &offset_fetch_request(version, &[("grp-ok", None), ("grp-secret", Some(&["visible"]))]),
            ),
            broker: Box::new(move |_| {
                let body = offset_fetch_response(version, &[("grp-ok", &["allowed", "secret", "visible"])]);
                response_frame(ApiKey::OffsetFetch, version, &body)
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, OffsetFetchRequest) = forwarded_request(&f.forwarded, ApiKey::OffsetFetch);
                assert_eq!(offset_fetch_asked(&sent), [("grp-ok".to_string(), None)], "v{version}");
                let mut expected = offset_fetch_response(version, &[("grp-ok", &["allowed", "visible"])]);
                expected.groups.push(
                    offset_fetch_response::OffsetFetchResponseGroup::default()
                        .with_group_id(GroupId(s("grp-secret")))
                        .with_error_code(30),
                );
                assert_eq!(
                    hex(&f.client_response),
                    hex(&response_frame(ApiKey::OffsetFetch, version, &expected)),
                    "v{version}"
                );
            }),
        });
    }
    verify(
        "offset_fetch",
        &format!(
            "{}\nAll topics (v2+; from v8 group grp-ok asks for all, grp-ro names visible): the request passes\n\
             unchanged and secret disappears from grp-ok's answer, every other byte as the broker sent it.\n\
             Groups (v8+: grp-ok asks for all topics, grp-secret, denied, names visible): only grp-ok is\n\
             forwarded, its answer loses secret, and grp-secret follows with error 30.",
            split_header("OffsetFetch", "allowed", "secret", "Describe, group grp-ok Describe", 29, false)
        ),
        cases,
    );
}

#[test]
fn delete_records_at_every_version() {
    let api = split_apis::delete_records();
    verify(
        "delete_records",
        &split_header("DeleteRecords", "allowed", "secret", "Delete", 29, false),
        split_cases(api, "allowed", "secret", false),
    );
}

#[test]
fn offset_for_leader_epoch_at_every_version() {
    let api = split_apis::offset_for_leader_epoch();
    verify(
        "offset_for_leader_epoch",
        &split_header("OffsetForLeaderEpoch", "allowed", "secret", "Describe", 29, false),
        split_cases(api, "allowed", "secret", false),
    );
}

#[test]
fn create_topics_at_every_version() {
    let api = split_apis::create_topics();
    verify(
        "create_topics",
        &split_header("CreateTopics", "fresh", "secret", "Create on the topic, not the cluster", 29, true),
        split_cases(api, "fresh", "secret", true),
    );
}

#[test]
fn delete_topics_at_every_version() {
    let api = split_apis::delete_topics();
    verify(
        "delete_topics",
        &split_header("DeleteTopics", "allowed", "secret", "Delete", 29, false),
        split_cases(api, "allowed", "secret", false),
    );
}

#[test]
fn create_partitions_at_every_version() {
    let api = split_apis::create_partitions();
    verify(
        "create_partitions",
        &split_header("CreatePartitions", "tuned", "secret", "Alter", 29, true),
        split_cases(api, "tuned", "secret", true),
    );
}

#[test]
fn describe_configs_at_every_version() {
    let api = split_apis::describe_configs();
    verify(
        "describe_configs",
        &split_header("DescribeConfigs", "tuned", "secret", "DescribeConfigs", 29, true),
        split_cases(api, "tuned", "secret", true),
    );
}

#[test]
fn alter_configs_at_every_version() {
    let api = split_apis::alter_configs();
    verify(
        "alter_configs",
        &split_header("AlterConfigs", "tuned", "secret", "AlterConfigs", 29, true),
        split_cases(api, "tuned", "secret", true),
    );
}

#[test]
fn incremental_alter_configs_at_every_version() {
    let api = split_apis::incremental_alter_configs();
    verify(
        "incremental_alter_configs",
        &split_header("IncrementalAlterConfigs", "tuned", "secret", "AlterConfigs", 29, true),
        split_cases(api, "tuned", "secret", true),
    );
}

#[test]
fn txn_offset_commit_at_every_version() {
    let api = split_apis::txn_offset_commit();
    verify(
        "txn_offset_commit",
        &split_header("TxnOffsetCommit", "allowed", "secret", "Read; transactional id txn-ok, group grp-ok", 29, false),
        split_cases(api, "allowed", "secret", false),
    );
}

#[test]
fn offset_delete_at_every_version() {
    let api = split_apis::offset_delete();
    verify(
        "offset_delete",
        &split_header("OffsetDelete", "allowed", "secret", "Read; group grp-ok Delete", 29, false),
        split_cases(api, "allowed", "secret", false),
    );
}

#[test]
fn describe_producers_at_every_version() {
    let api = split_apis::describe_producers();
    verify(
        "describe_producers",
        &split_header("DescribeProducers", "allowed", "secret", "Read", 29, true),
        split_cases(api, "allowed", "secret", true),
    );
}

#[test]
fn describe_groups_at_every_version() {
    let api = split_apis::describe_groups();
    verify(
        "describe_groups",
        &split_header("DescribeGroups", "grp-ok", "grp-secret", "Describe", 30, true),
        split_cases(api, "grp-ok", "grp-secret", true),
    );
}

#[test]
fn delete_groups_at_every_version() {
    let api = split_apis::delete_groups();
    verify(
        "delete_groups",
        &split_header("DeleteGroups", "grp-ok", "grp-secret", "Delete", 30, false),
        split_cases(api, "grp-ok", "grp-secret", false),
    );
}

#[test]
fn describe_transactions_at_every_version() {
    let api = split_apis::describe_transactions();
    verify(
        "describe_transactions",
        &split_header("DescribeTransactions", "txn-ok", "txn-secret", "Describe", 53, false),
        split_cases(api, "txn-ok", "txn-secret", false),
    );
}

/// ANONYMOUS's authorized operations on `grp-ok`: Read, Delete, Describe.
const GRP_OK_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// ConsumerGroupDescribe and ShareGroupDescribe as KafkaApis answers them: refused groups first
/// (GROUP_AUTHORIZATION_FAILED), then the described ones with the principal's authorized operations; a group
/// whose members' assignments name a topic the principal may not Describe becomes TOPIC_AUTHORIZATION_FAILED
/// with Kafka's message and no members.
#[test]
fn consumer_group_describe_at_every_version() {
    use consumer_group_describe_response::{Assignment, DescribedGroup, Member, TopicPartitions};
    let key = ApiKey::ConsumerGroupDescribe;
    let group = |name: &str, assigned: &str| {
        let assignment = Assignment::default().with_topic_partitions(vec![TopicPartitions::default()
            .with_topic_name(topic(assigned))
            .with_partitions(vec![0])]);
        DescribedGroup::default()
            .with_group_id(GroupId(s(name)))
            .with_group_state(s("Stable"))
            .with_group_epoch(3)
            .with_assignment_epoch(3)
            .with_assignor_name(s("uniform"))
            .with_authorized_operations(0x18)
            .with_members(vec![Member::default()
                .with_member_id(s("m-1"))
                .with_client_id(s("client"))
                .with_subscribed_topic_names(vec![topic("allowed")])
                .with_assignment(Assignment::default())
                .with_target_assignment(assignment)])
    };
    let mut cases = Vec::new();
    for version in versions(key) {
        let request = |names: &[&str]| {
            let ids = names.iter().map(|g| GroupId(s(g))).collect();
            request_frame(key, version, &ConsumerGroupDescribeRequest::default().with_group_ids(ids))
        };
        cases.push(Case {
            name: format!("grp-ok+grp-secret v{version}"),
            api_key: key,
            version,
            policy: Policy::Base,
            request: request(&["grp-ok", "grp-secret"]),
            broker: Box::new(move |_| {
                response_frame(
                    key,
                    version,
                    &ConsumerGroupDescribeResponse::default().with_groups(vec![group("grp-ok", "allowed")]),
                )
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, ConsumerGroupDescribeRequest) = forwarded_request(&f.forwarded, key);
                assert_eq!(sent.group_ids, [GroupId(s("grp-ok"))]);
                let got: ConsumerGroupDescribeResponse = client_response(&f.client_response, key, version);
                let seen: Vec<_> = got.groups.iter().map(|g| (g.group_id.to_string(), g.error_code)).collect();
                assert_eq!(seen, [("grp-secret".to_string(), 30), ("grp-ok".to_string(), 0)], "refused first");
                let described = group("grp-ok", "allowed").with_authorized_operations(GRP_OK_OPERATIONS);
                assert_eq!(got.groups[1], described, "the broker's group, with the principal's operations");
            }),
        });
        cases.push(Case {
            name: format!("grp-ok assigned secret v{version}"),
            api_key: key,
            version,
            policy: Policy::Base,
            request: request(&["grp-ok"]),
            broker: Box::new(move |_| {
                response_frame(
                    key,
                    version,
                    &ConsumerGroupDescribeResponse::default().with_groups(vec![group("grp-ok", "secret")]),
                )
            }),
            check: Box::new(move |f| {
                assert_eq!(f.forwarded, f.client_request);
                let got: ConsumerGroupDescribeResponse = client_response(&f.client_response, key, version);
                let refused = DescribedGroup::default()
                    .with_group_id(GroupId(s("grp-ok")))
                    .with_error_code(29)
                    .with_error_message(Some(s(
                        "The group has described topic(s) that the client is not authorized to describe.",
                    )))
                    .with_authorized_operations(i32::MIN);
                assert_eq!(got.groups, [refused]);
                assert!(!contains(&f.client_response, "secret"));
            }),
        });
    }
    verify(
        "consumer_group_describe",
        "ConsumerGroupDescribe: grp-secret refused (GROUP_AUTHORIZATION_FAILED, listed first, as KafkaApis does); grp-ok\n\
         described with ANONYMOUS's authorized operations, or TOPIC_AUTHORIZATION_FAILED without members when its\n\
         assignments name the topic secret, which ANONYMOUS may not Describe.",
        cases,
    );
}

#[test]
fn share_group_describe() {
    use share_group_describe_response::{Assignment, DescribedGroup, Member, TopicPartitions};
    let key = ApiKey::ShareGroupDescribe;
    let version = 1;
    let group = |name: &str, assigned: &str| {
        let assignment = Assignment::default().with_topic_partitions(vec![TopicPartitions::default()
            .with_topic_name(topic(assigned))
            .with_partitions(vec![0])]);
        DescribedGroup::default()
            .with_group_id(GroupId(s(name)))
            .with_group_state(s("Stable"))
            .with_group_epoch(2)
            .with_assignment_epoch(2)
            .with_assignor_name(s("simple"))
            .with_authorized_operations(0x18)
            .with_members(vec![Member::default()
                .with_member_id(s("m-1"))
                .with_client_id(s("client"))
                .with_subscribed_topic_names(vec![topic("allowed")])
                .with_assignment(assignment)])
    };
    let request = |names: &[&str]| {
        let ids = names.iter().map(|g| GroupId(s(g))).collect();
        request_frame(key, version, &ShareGroupDescribeRequest::default().with_group_ids(ids))
    };
    let cases = vec![
        Case {
            name: "grp-ok+grp-secret v1".into(),
            api_key: key,
            version,
            policy: Policy::Base,
            request: request(&["grp-ok", "grp-secret"]),
            broker: Box::new(move |_| {
                response_frame(
                    key,
                    version,
                    &ShareGroupDescribeResponse::default().with_groups(vec![group("grp-ok", "allowed")]),
                )
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, ShareGroupDescribeRequest) = forwarded_request(&f.forwarded, key);
                assert_eq!(sent.group_ids, [GroupId(s("grp-ok"))]);
                let got: ShareGroupDescribeResponse = client_response(&f.client_response, key, version);
                let seen: Vec<_> = got.groups.iter().map(|g| (g.group_id.to_string(), g.error_code)).collect();
                assert_eq!(seen, [("grp-secret".to_string(), 30), ("grp-ok".to_string(), 0)], "refused first");
                let described = group("grp-ok", "allowed").with_authorized_operations(GRP_OK_OPERATIONS);
                assert_eq!(got.groups[1], described);
            }),
        },
        Case {
            name: "grp-ok assigned secret v1".into(),
            api_key: key,
            version,
            policy: Policy::Base,
            request: request(&["grp-ok"]),
            broker: Box::new(move |_| {
                response_frame(
                    key,
                    version,
                    &ShareGroupDescribeResponse::default().with_groups(vec![group("grp-ok", "secret")]),
                )
            }),
            check: Box::new(move |f| {
                let got: ShareGroupDescribeResponse = client_response(&f.client_response, key, version);
                let refused = DescribedGroup::default()
                    .with_group_id(GroupId(s("grp-ok")))
                    .with_error_code(29)
                    .with_error_message(Some(s(
                        "The group has described topic(s) that the client is not authorized to describe.",
                    )))
                    .with_authorized_operations(i32::MIN);
                assert_eq!(got.groups, [refused]);
            }),
        },
    ];
    verify(
        "share_group_describe",
        "ShareGroupDescribe v1: as ConsumerGroupDescribe (assignments only; share members have no target assignment).",
        cases,
    );
}

// ---------------------------------------------------------------------------------------------------------
// Filtered listings: the request passes unchanged; the answer loses, at the byte level, the entries the
// principal may not Describe. The client response must equal what the broker would have sent listing only
// the describable entries.

/// A listing case: `request` passes unchanged, the broker answers `broker`, the client must get `expected`.
fn listing_case(
    name: String,
    (api_key, version, policy): (ApiKey, i16, Policy),
    request: Vec<u8>,
    broker: Vec<u8>,
    expected: Vec<u8>,
    hidden: &'static str,
) -> Case {
    Case {
        name,
        api_key,
        version,
        policy,
        request,
        broker: Box::new(move |_| broker.clone()),
        check: Box::new(move |f| {
            assert_eq!(f.forwarded, f.client_request, "{api_key:?} v{version}: a listing passes unchanged");
            assert_eq!(hex(&f.client_response), hex(&expected), "{api_key:?} v{version}: the describable entries");
            assert!(!contains(&f.client_response, hidden), "{api_key:?} v{version}: nothing of {hidden} is left");
        }),
    }
}

fn listed_group(name: &str, version: i16) -> list_groups_response::ListedGroup {
    let group =
        list_groups_response::ListedGroup::default().with_group_id(GroupId(s(name))).with_protocol_type(s("consumer"));
    let group = if version >= 4 { group.with_group_state(s("Stable")) } else { group };
    if version >= 5 {
        group.with_group_type(s("classic"))
    } else {
        group
    }
}

fn list_groups_answer(version: i16, names: &[&str]) -> Vec<u8> {
    let body = ListGroupsResponse::default()
        .with_throttle_time_ms(if version >= 1 { 17 } else { 0 })
        .with_groups(names.iter().map(|n| listed_group(n, version)).collect());
    response_frame(ApiKey::ListGroups, version, &body)
}

#[test]
fn list_groups_at_every_version() {
    let mut cases = Vec::new();
    for version in versions(ApiKey::ListGroups) {
        let request = ListGroupsRequest::default();
        let request = if version >= 4 { request.with_states_filter(vec![s("Stable")]) } else { request };
        let request = if version >= 5 { request.with_types_filter(vec![s("classic")]) } else { request };
        let request = request_frame(ApiKey::ListGroups, version, &request);
        let all = ["grp-secret", "grp-ok", "grp-ro", "grp-other"];
        cases.push(listing_case(
            format!("filtered v{version}"),
            (ApiKey::ListGroups, version, Policy::Base),
            request.clone(),
            list_groups_answer(version, &all),
            list_groups_answer(version, &["grp-ok", "grp-ro"]),
            "secret",
        ));
        let broker = list_groups_answer(version, &all);
        cases.push(Case {
            name: format!("describe-cluster v{version}"),
            api_key: ApiKey::ListGroups,
            version,
            policy: Policy::DescribeCluster,
            request,
            broker: Box::new(move |_| broker.clone()),
            check: Box::new(move |f| {
                assert_eq!(f.forwarded, f.client_request, "v{version}: a listing passes unchanged");
                assert_eq!(f.client_response, f.broker_response, "v{version}: Describe Cluster sees every group");
                let got: ListGroupsResponse = client_response(&f.client_response, ApiKey::ListGroups, version);
                assert_eq!(got.groups.len(), 4, "v{version}");
            }),
        });
    }
    verify(
        "list_groups",
        "ListGroups at every version: the broker lists grp-secret, grp-ok, grp-ro and grp-other. The request\n\
         passes unchanged; a principal that may Describe grp-ok and grp-ro only sees those two, every other\n\
         byte as the broker sent it. With Describe Cluster (describe-cluster cases) it sees every group.",
        cases,
    );
}

#[test]
fn list_transactions_at_every_version() {
    use list_transactions_response::TransactionState;
    let answer = |version: i16, ids: &[&str]| {
        let body = ListTransactionsResponse::default()
            .with_throttle_time_ms(9)
            .with_unknown_state_filters(vec![s("Weird")])
            .with_transaction_states(
                ids.iter()
                    .map(|id| {
                        TransactionState::default()
                            .with_transactional_id(TransactionalId(s(id)))
                            .with_producer_id(ProducerId(100 + id.len() as i64))
                            .with_transaction_state(s("Ongoing"))
                    })
                    .collect(),
            );
        response_frame(ApiKey::ListTransactions, version, &body)
    };
    let mut cases = Vec::new();
    for version in versions(ApiKey::ListTransactions) {
        let request = ListTransactionsRequest::default().with_state_filters(vec![s("Ongoing")]);
        let request = if version >= 1 { request.with_duration_filter(60_000) } else { request };
        cases.push(listing_case(
            format!("filtered v{version}"),
            (ApiKey::ListTransactions, version, Policy::Base),
            request_frame(ApiKey::ListTransactions, version, &request),
            answer(version, &["txn-secret", "txn-ok", "txn-other"]),
            answer(version, &["txn-ok"]),
            "secret",
        ));
    }
    verify(
        "list_transactions",
        "ListTransactions at every version: the broker lists txn-secret, txn-ok and txn-other. The request\n\
         passes unchanged; a principal that may Describe txn-ok only sees it, every other byte as the broker\n\
         sent it.",
        cases,
    );
}

fn dtp_topic(name: &str) -> describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic {
    use describe_topic_partitions_response::{
        DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
    };
    let partition = |i: i32| {
        DescribeTopicPartitionsResponsePartition::default()
            .with_partition_index(i)
            .with_leader_id(BrokerId(1))
            .with_leader_epoch(2)
            .with_replica_nodes(vec![BrokerId(1)])
            .with_isr_nodes(vec![BrokerId(1)])
            .with_eligible_leader_replicas(Some(vec![BrokerId(1)]))
    };
    DescribeTopicPartitionsResponseTopic::default()
        .with_name(Some(topic(name)))
        .with_topic_id(uuid::Uuid::from_u128(name.len() as u128 + 1))
        .with_partitions(vec![partition(0), partition(1)])
        // Not asked for: passed as sent (tests/authorized_operations.rs covers the asked case).
        .with_topic_authorized_operations(i32::MIN)
}

/// The filter's answer for a named topic the principal may not Describe.
fn dtp_denied(name: &str) -> describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic {
    describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(29)
        .with_name(Some(topic(name)))
        .with_topic_authorized_operations(i32::MIN)
}

fn dtp_answer(
    topics: Vec<describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic>,
    cursor: Option<(&str, i32)>,
) -> Vec<u8> {
    let body = DescribeTopicPartitionsResponse::default()
        .with_throttle_time_ms(3)
        .with_topics(topics)
        .with_next_cursor(cursor.map(|(n, p)| {
            describe_topic_partitions_response::Cursor::default().with_topic_name(topic(n)).with_partition_index(p)
        }));
    response_frame(ApiKey::DescribeTopicPartitions, 0, &body)
}

#[test]
fn describe_topic_partitions_at_every_version() {
    const KEY: ApiKey = ApiKey::DescribeTopicPartitions;
    let mut cases = Vec::new();
    for version in versions(KEY) {
        // The answers below are encoded at v0, the only version there is so far.
        assert_eq!(version, 0, "a new DescribeTopicPartitions version: extend the fixtures");
        // Named: the hidden topic is not asked about and is answered 29 after the broker's topics.
        cases.push(Case {
            name: format!("named v{version}"),
            api_key: KEY,
            version,
            policy: Policy::Base,
            request: request_frame(KEY, version, &dtp_request(&["secret", "visible", "allowed"], None)),
            broker: Box::new(move |forwarded| {
                let (_, sent): (_, DescribeTopicPartitionsRequest) = forwarded_request(forwarded, KEY);
                dtp_answer(sent.topics.iter().map(|t| dtp_topic(&t.name)).collect(), None)
            }),
            check: Box::new(move |f| {
                let (_, sent): (_, DescribeTopicPartitionsRequest) = forwarded_request(&f.forwarded, KEY);
                let names = topic_strings(sent.topics.iter().map(|t| &t.name));
                assert_eq!(names, ["visible", "allowed"], "v{version}: the broker is not asked about secret");
                assert!(!contains(&f.forwarded, "secret"));
                let expected = dtp_answer(vec![dtp_topic("visible"), dtp_topic("allowed"), dtp_denied("secret")], None);
                assert_eq!(hex(&f.client_response), hex(&expected), "v{version}");
                let got: DescribeTopicPartitionsResponse = client_response(&f.client_response, KEY, version);
                assert!(got.topics[2].topic_id.is_nil() && got.topics[2].partitions.is_empty(), "no id leaked");
            }),
        });
        // Named, every one hidden: never reaches the broker (not an empty list, which would mean all topics).
        cases.push(Case {
            name: format!("secret only v{version}"),
            api_key: KEY,
            version,
            policy: Policy::Base,
            request: request_frame(KEY, version, &dtp_request(&["secret"], None)),
            broker: Box::new(substitute_answer),
            check: Box::new(move |f| {
                assert!(!contains(&f.forwarded, "secret"), "v{version}: nothing reaches the broker");
                let body = DescribeTopicPartitionsResponse::default().with_topics(vec![dtp_denied("secret")]);
                assert_eq!(hex(&f.client_response), hex(&response_frame(KEY, version, &body)), "v{version}");
            }),
        });
        // All topics: the hidden one disappears; a cursor naming a visible topic stays.
        cases.push(listing_case(
            format!("all-topics v{version}"),
            (KEY, version, Policy::Base),
            request_frame(KEY, version, &dtp_request(&[], None)),
            dtp_answer(vec![dtp_topic("allowed"), dtp_topic("secret"), dtp_topic("visible")], Some(("visible", 1))),
            dtp_answer(vec![dtp_topic("allowed"), dtp_topic("visible")], Some(("visible", 1))),
            "secret",
        ));
        // All topics, the broker's cursor on a hidden topic: it becomes "<last topic shown>\0" from partition 0.
        cases.push(listing_case(
            format!("all-topics hidden cursor v{version}"),
            (KEY, version, Policy::Base),
            request_frame(KEY, version, &dtp_request(&[], Some(("a", 0)))),
            dtp_answer(vec![dtp_topic("allowed"), dtp_topic("other")], Some(("secret", 7))),
            dtp_answer(vec![dtp_topic("allowed")], Some(("allowed\0", 0))),
            "secret",
        ));
    }
    verify(
        "describe_topic_partitions",
        "DescribeTopicPartitions at every version, for a principal that may Describe allowed and visible.\n\
         Named (secret, visible, allowed): secret is not forwarded and is answered 29 after the broker's topics.\n\
         Named secret alone: never reaches the broker (ApiVersions v0 goes in its place), answered 29.\n\
         All topics: the request passes unchanged; secret (and other) disappear from the answer, and a next\n\
         cursor naming a hidden topic becomes the last shown topic + \"\\0\" from partition 0.",
        cases,
    );
}

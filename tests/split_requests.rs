//! Partial multi-resource requests (issue #5): for every API the filter splits, at every version it
//! supports, a request naming an allowed and a denied resource reaches the broker with the allowed one only,
//! and the client gets the broker's answer with the denied resource's authorization error spliced in.

mod common;

use std::fmt::Debug;
use std::rc::Rc;

use bytes::Bytes;
use common::split_apis::{self, offset_commit_request, offset_fetch_request, SplitApi};
use common::{downstream, enc};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::metrics::{RequestDecision, Stat};
use kafka_mtls_filter::protocol::api::{lookup, min_version};
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::{Event, Session};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

/// Topic `allowed`, groups `grp-ok*` and transactional id `txn-ok` may do everything; nothing else is allowed.
const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["All"]},
      {"resource": {"type": "group", "name": "grp-ok", "patternType": "prefix"}, "operations": ["All"]},
      {"resource": {"type": "transactionalId", "name": "txn-ok"}, "operations": ["All"]}
    ]}
  ]}
}"#;

const CORRELATION_ID: i32 = 77;

fn session() -> Session {
    let cfg = Config::parse(POLICY.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let max = lookup(key as i16).map(|e| e.max_version).unwrap_or(-1);
    min_version(key as i16)..=max
}

fn decode_request<T: Decodable>(key: ApiKey, v: i16, frame: &[u8]) -> T {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    let header = RequestHeader::decode(&mut body, key.request_header_version(v)).expect("request header");
    assert_eq!((header.request_api_key, header.request_api_version), (key as i16, v));
    assert_eq!(header.correlation_id, CORRELATION_ID);
    T::decode(&mut body, v).expect("forwarded request decodes")
}

fn decode_response<T: Decodable>(key: ApiKey, v: i16, frame: &[u8]) -> T {
    assert_eq!(&frame[4..8], &CORRELATION_ID.to_be_bytes(), "correlation id");
    let size = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(size + 4, frame.len(), "one whole frame");
    let mut body = Bytes::copy_from_slice(&frame[wire::response_body_offset(key as i16, v)..]);
    let decoded = T::decode(&mut body, v).expect("response decodes");
    assert!(body.is_empty(), "no bytes left after the response");
    decoded
}

/// Sends `req` at version `v` to a fresh session and asserts it was refused whole: ApiVersions v0 goes to the
/// broker in its place. Returns the session, which answers the substitute's reply with the refusal.
fn refused_whole<Req: Encodable>(key: ApiKey, v: i16, req: &Req) -> Session {
    let mut s = session();
    let forwarded = downstream(&mut s, &wire::request_frame(key as i16, v, CORRELATION_ID, Some("test"), &enc(req, v)));
    assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "{key:?} v{v}: substituted by ApiVersions v0");
    s
}

/// Drives `api` with an allowed resource, a denied one and a second denied one (the all-denied case).
fn check<Req, Resp>(api: SplitApi<Req, Resp>, [allowed, denied, denied_too]: [&str; 3])
where
    Req: Encodable + Decodable,
    Resp: Encodable + Decodable + PartialEq + Debug,
{
    let key = api.key;
    let versions = versions(key);
    assert!(!versions.is_empty(), "{key:?} has versions");
    for v in versions {
        let frame = |req: &Req| wire::request_frame(key as i16, v, CORRELATION_ID, Some("test"), &enc(req, v));
        let both = frame(&(api.request)(v, &[allowed, denied]));

        // Split: only the allowed resource reaches the broker.
        let mut s = session();
        let forwarded = downstream(&mut s, &both);
        let sent: Req = decode_request(key, v, &forwarded);
        assert_eq!((api.names)(&sent), [allowed], "{key:?} v{v}: forwarded resources");
        let denials: Vec<_> = s
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Decision(d) if !d.allowed => Some(d.resource_name.unwrap_or_default()),
                _ => None,
            })
            .collect();
        assert_eq!(denials, [denied], "{key:?} v{v}: one audit record per denied resource");
        let decisions: Vec<_> = s
            .drain_stats()
            .filter_map(|st| match st {
                Stat::Request { decision, .. } => Some(decision),
                _ => None,
            })
            .collect();
        assert_eq!(decisions, [RequestDecision::Denied], "{key:?} v{v}: counted once, as denied");

        // The broker's answer keeps its entries and fields; the denied resource follows with its error.
        let broker = wire::response_frame(key as i16, v, CORRELATION_ID, &enc(&(api.response)(v, &[allowed]), v));
        let out = s.on_upstream(&broker);
        assert_eq!(out.close, None, "{key:?} v{v}");
        let merged_bytes = apply_edits(&broker, &out.edits);
        let mut merged: Resp = decode_response(key, v, &merged_bytes);
        let last = (api.pop)(&mut merged);
        assert_eq!(last, Some((denied.to_string(), api.code)), "{key:?} v{v}: denied entry");
        let expected: Resp = decode_response(key, v, &broker);
        assert_eq!(merged, expected, "{key:?} v{v}: broker's answer unchanged");
        assert_eq!(s.inflight_len(), 0);

        if matches!(key, ApiKey::OffsetFetch | ApiKey::OffsetDelete) {
            // Every topic denied, the group allowed: Kafka still asks the group coordinator (for the group's
            // own error) with no topics, and answers each denied topic after the coordinator's.
            let mut s = session();
            let forwarded = downstream(&mut s, &frame(&(api.request)(v, &[denied, denied_too])));
            let sent: Req = decode_request(key, v, &forwarded);
            assert!((api.names)(&sent).is_empty(), "{key:?} v{v}: forwarded with no topics");
            let broker = wire::response_frame(key as i16, v, CORRELATION_ID, &enc(&(api.response)(v, &[]), v));
            let out = s.on_upstream(&broker);
            assert_eq!(out.close, None, "{key:?} v{v}");
            let mut merged: Resp = decode_response(key, v, &apply_edits(&broker, &out.edits));
            assert_eq!((api.pop)(&mut merged), Some((denied_too.to_string(), api.code)), "{key:?} v{v}");
            assert_eq!((api.pop)(&mut merged), Some((denied.to_string(), api.code)), "{key:?} v{v}");
        } else {
            // Everything denied: refused whole (ApiVersions in its place).
            refused_whole(key, v, &(api.request)(v, &[denied, denied_too]));
        }

        // A malformed broker answer closes the connection (with a reason), whatever the cut.
        let body_at = wire::response_body_offset(key as i16, v);
        for cut in body_at..broker.len() {
            let mut truncated = broker[..cut].to_vec();
            let size = (cut - 4) as u32;
            truncated[..4].copy_from_slice(&size.to_be_bytes());
            let mut s = session();
            downstream(&mut s, &both);
            let out = s.on_upstream(&truncated);
            assert!(out.close.is_some(), "{key:?} v{v}: body cut at {cut} must close");
            assert!(s.take_events().iter().any(|e| matches!(e, Event::ProtocolError(_))));
        }
        // Array counts claiming more elements than bytes.
        for at in body_at..broker.len().saturating_sub(4) {
            let mut bad = broker.clone();
            bad[at..at + 4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
            let mut s = session();
            downstream(&mut s, &both);
            let _ = s.on_upstream(&bad); // closes or forwards something: never panics
        }
    }
}

#[test]
fn list_offsets() {
    check(split_apis::list_offsets(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn offset_commit() {
    check(split_apis::offset_commit(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn offset_commit_with_a_denied_group_is_refused_whole() {
    for v in versions(ApiKey::OffsetCommit) {
        let req = offset_commit_request("grp-no", &["allowed", "forbidden"]);
        refused_whole(ApiKey::OffsetCommit, v, &req);
    }
}

#[test]
fn offset_fetch() {
    check(split_apis::offset_fetch(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn offset_fetch_of_a_denied_group_is_refused_whole() {
    for v in versions(ApiKey::OffsetFetch) {
        refused_whole(ApiKey::OffsetFetch, v, &offset_fetch_request(v, &["grp-no"], &["allowed", "forbidden"]));
    }
}

/// OffsetFetch v8+ with a denied group and a denied topic in an allowed group: answered per group and per
/// topic, as Kafka's handleOffsetFetchRequestFromCoordinator answers it.
#[test]
fn offset_fetch_of_denied_groups_and_topics_is_answered_per_group_and_topic() {
    use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup;
    let group_of = |g: &OffsetFetchResponseGroup| {
        let topics: Vec<_> = g
            .topics
            .iter()
            .map(|t| (t.name.to_string(), t.partitions.iter().map(|p| (p.error_code, p.committed_offset)).collect()))
            .collect::<Vec<(String, Vec<(i16, i64)>)>>();
        (g.group_id.to_string(), topics, g.error_code)
    };
    for v in 8..=*versions(ApiKey::OffsetFetch).end() {
        let request = offset_fetch_request(v, &["grp-ok", "grp-no", "grp-ok2"], &["allowed", "forbidden"]);
        let mut s = session();
        let forwarded = downstream(&mut s, &wire::request_frame(9, v, CORRELATION_ID, Some("test"), &enc(&request, v)));
        let sent: OffsetFetchRequest = decode_request(ApiKey::OffsetFetch, v, &forwarded);
        let sent_groups: Vec<_> = sent
            .groups
            .iter()
            .map(|g| {
                let topics: Vec<_> = g.topics.iter().flatten().map(|t| t.name.to_string()).collect();
                (g.group_id.to_string(), topics)
            })
            .collect();
        let allowed = vec!["allowed".to_string()];
        assert_eq!(
            sent_groups,
            [("grp-ok".to_string(), allowed.clone()), ("grp-ok2".to_string(), allowed)],
            "v{v}: the allowed groups with their allowed topics"
        );
        // The broker answers grp-ok, and grp-ok2 with a group error (its denied topics are then left out).
        let failed = split_apis::offset_fetch_group_answer("grp-ok2", &[]).with_error_code(14);
        let answer = OffsetFetchResponse::default()
            .with_throttle_time_ms(5)
            .with_groups(vec![split_apis::offset_fetch_group_answer("grp-ok", &["allowed"]), failed]);
        let broker = wire::response_frame(9, v, CORRELATION_ID, &enc(&answer, v));
        let out = s.on_upstream(&broker);
        assert_eq!(out.close, None, "v{v}");
        let merged: OffsetFetchResponse = decode_response(ApiKey::OffsetFetch, v, &apply_edits(&broker, &out.edits));
        let got: Vec<_> = merged.groups.iter().map(group_of).collect();
        let topic =
            |name: &str, code: i16, offsets: [i64; 2]| (name.to_string(), vec![(code, offsets[0]), (code, offsets[1])]);
        assert_eq!(
            got,
            [
                ("grp-ok".to_string(), vec![topic("allowed", 0, [40, 41]), topic("forbidden", 29, [-1, -1])], 0),
                ("grp-ok2".to_string(), vec![], 14),
                ("grp-no".to_string(), vec![], 30),
            ],
            "v{v}"
        );
        assert_eq!(merged.throttle_time_ms, 5, "v{v}");
        assert_eq!(s.inflight_len(), 0);
    }
}

/// OffsetFetch v8+ batching groups (the admin client's listConsumerGroupOffsets of several groups): the
/// allowed groups reach the broker; each denied group is answered GROUP_AUTHORIZATION_FAILED after them, as
/// Kafka answers a group the principal may not Describe. An allowed group asking for all its topics still
/// gets only those the principal may Describe.
#[test]
fn offset_fetch_of_several_groups_forwards_the_allowed_groups() {
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
    use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup;
    let group_of = |g: &OffsetFetchResponseGroup| {
        let topics: Vec<String> = g.topics.iter().map(|t| t.name.to_string()).collect();
        (g.group_id.to_string(), topics, g.error_code)
    };
    for v in 8..=*versions(ApiKey::OffsetFetch).end() {
        // Named topics: grp-ok and grp-no both ask for `allowed`.
        let named = offset_fetch_request(v, &["grp-ok", "grp-no"], &["allowed"]);
        // All topics: grp-no, then grp-ok asking for every topic of the group.
        let mut all = offset_fetch_request(v, &["grp-no"], &["allowed"]);
        all.groups.push(OffsetFetchRequestGroup::default().with_group_id(GroupId("grp-ok".into())).with_topics(None));
        for (request, broker_topics, shown) in
            [(named, vec!["allowed"], vec!["allowed"]), (all, vec!["allowed", "forbidden"], vec!["allowed"])]
        {
            let mut s = session();
            let forwarded =
                downstream(&mut s, &wire::request_frame(9, v, CORRELATION_ID, Some("test"), &enc(&request, v)));
            let sent: OffsetFetchRequest = decode_request(ApiKey::OffsetFetch, v, &forwarded);
            let sent_groups: Vec<_> = sent.groups.iter().map(|g| g.group_id.to_string()).collect();
            assert_eq!(sent_groups, ["grp-ok"], "v{v}: forwarded groups");
            let asked = request.groups.iter().find(|g| g.group_id.as_str() == "grp-ok").map(|g| g.topics.clone());
            assert_eq!(sent.groups[0].topics, asked.flatten(), "v{v}: the allowed group as the client sent it");

            let answer = OffsetFetchResponse::default()
                .with_throttle_time_ms(5)
                .with_groups(vec![split_apis::offset_fetch_group_answer("grp-ok", &broker_topics)]);
            let broker = wire::response_frame(9, v, CORRELATION_ID, &enc(&answer, v));
            let out = s.on_upstream(&broker);
            assert_eq!(out.close, None, "v{v}");
            let merged: OffsetFetchResponse =
                decode_response(ApiKey::OffsetFetch, v, &apply_edits(&broker, &out.edits));
            let got: Vec<_> = merged.groups.iter().map(group_of).collect();
            let shown: Vec<String> = shown.iter().map(|t| t.to_string()).collect();
            assert_eq!(
                got,
                [("grp-ok".to_string(), shown, 0), ("grp-no".to_string(), vec![], 30)],
                "v{v}: the broker's group (its topics the principal may Describe), then the denied one"
            );
            assert_eq!(merged.throttle_time_ms, 5, "v{v}: the broker's other fields");
            assert_eq!(s.inflight_len(), 0);
        }
    }
}

#[test]
fn delete_records() {
    check(split_apis::delete_records(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn offset_for_leader_epoch() {
    check(split_apis::offset_for_leader_epoch(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn create_topics() {
    check(split_apis::create_topics(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn delete_topics() {
    check(split_apis::delete_topics(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn describe_groups() {
    check(split_apis::describe_groups(), ["grp-ok", "grp-no", "grp-secret"]);
}

#[test]
fn delete_groups() {
    check(split_apis::delete_groups(), ["grp-ok", "grp-no", "grp-secret"]);
}

#[test]
fn describe_transactions() {
    check(split_apis::describe_transactions(), ["txn-ok", "txn-no", "txn-secret"]);
}

#[test]
fn consumer_group_describe() {
    check(split_apis::consumer_group_describe(), ["grp-ok", "grp-no", "grp-secret"]);
}

#[test]
fn produce() {
    check(split_apis::produce(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn fetch() {
    check(split_apis::fetch(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn create_partitions() {
    check(split_apis::create_partitions(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn describe_configs() {
    check(split_apis::describe_configs(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn alter_configs() {
    check(split_apis::alter_configs(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn incremental_alter_configs() {
    check(split_apis::incremental_alter_configs(), ["allowed", "forbidden", "secret"]);
}

/// Config resources of several types in one request (what admin tools and UIs send): the allowed topic
/// reaches the broker; the broker's configs (the cluster's DescribeConfigs), a denied group's and a denied
/// topic's are answered by the filter, each with its type's error, after the broker's answer, as Kafka
/// orders unauthorized resources.
#[test]
fn describe_configs_of_several_resource_types_answers_each_denied_one_with_its_error() {
    const BROKER: i8 = 4;
    const BROKER_LOGGER: i8 = 8;
    const GROUP: i8 = 32;
    let topic = split_apis::CONFIG_TOPIC;
    let asked = [(topic, "allowed"), (BROKER, "1"), (topic, "forbidden"), (GROUP, "grp-no"), (BROKER_LOGGER, "1")];
    for v in versions(ApiKey::DescribeConfigs) {
        let request = split_apis::describe_configs_request(&asked);
        let mut s = session();
        let forwarded =
            downstream(&mut s, &wire::request_frame(32, v, CORRELATION_ID, Some("test"), &enc(&request, v)));
        let sent: DescribeConfigsRequest = decode_request(ApiKey::DescribeConfigs, v, &forwarded);
        let sent: Vec<_> = sent.resources.iter().map(|r| (r.resource_type, r.resource_name.to_string())).collect();
        assert_eq!(sent, [(topic, "allowed".to_string())], "v{v}: forwarded resources");

        let broker_answer = split_apis::describe_configs_answer(v, &[(topic, "allowed")]);
        let broker = wire::response_frame(32, v, CORRELATION_ID, &enc(&broker_answer, v));
        let out = s.on_upstream(&broker);
        assert_eq!(out.close, None, "v{v}");
        let merged: DescribeConfigsResponse =
            decode_response(ApiKey::DescribeConfigs, v, &apply_edits(&broker, &out.edits));
        let got: Vec<_> = merged
            .results
            .iter()
            .map(|r| (r.resource_type, r.resource_name.to_string(), r.error_code, r.configs.len()))
            .collect();
        assert_eq!(
            got,
            [
                (topic, "allowed".to_string(), 0, 1),
                (BROKER, "1".to_string(), 31, 0),
                (topic, "forbidden".to_string(), 29, 0),
                (GROUP, "grp-no".to_string(), 30, 0),
                (BROKER_LOGGER, "1".to_string(), 31, 0),
            ],
            "v{v}: the broker's entry, then each denied resource with its error"
        );
        assert_eq!(merged.results[0], broker_answer.results[0], "v{v}: the broker's entry unchanged");
    }
}

#[test]
fn txn_offset_commit() {
    check(split_apis::txn_offset_commit(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn txn_offset_commit_with_a_denied_transactional_id_or_group_is_refused_whole() {
    for v in versions(ApiKey::TxnOffsetCommit) {
        let base = (split_apis::txn_offset_commit().request)(v, &["allowed", "forbidden"]);
        let mut txn_denied = base.clone();
        txn_denied.transactional_id = TransactionalId("txn-no".into());
        let mut group_denied = base;
        group_denied.group_id = GroupId("grp-no".into());
        for req in [txn_denied, group_denied] {
            refused_whole(ApiKey::TxnOffsetCommit, v, &req);
        }
    }
}

#[test]
fn offset_delete() {
    check(split_apis::offset_delete(), ["allowed", "forbidden", "secret"]);
}

#[test]
fn describe_producers() {
    check(split_apis::describe_producers(), ["allowed", "forbidden", "secret"]);
}

/// AddPartitionsToTxn (v0-3) is all or nothing in Kafka: with a denied topic nothing is added, the denied
/// topic's partitions get TOPIC_AUTHORIZATION_FAILED and the others OPERATION_NOT_ATTEMPTED; with the
/// transactional id denied, every partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
#[test]
fn add_partitions_to_txn_with_a_denied_topic_is_not_attempted_for_the_others() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    let request = |txn: &str| {
        let topics = ["allowed", "forbidden"]
            .iter()
            .map(|n| {
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(n.to_string().into()))
                    .with_partitions(vec![0, 1])
            })
            .collect();
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(txn.to_string().into()))
            .with_v3_and_below_producer_id(ProducerId(7))
            .with_v3_and_below_topics(topics)
    };
    let substitute_answer = {
        let body = ApiVersionsResponse::default();
        wire::response_frame(18, 0, CORRELATION_ID, &enc(&body, 0))
    };
    for v in 0..=3 {
        for (txn, expected) in [("txn-ok", [55, 29]), ("txn-no", [53, 53])] {
            let mut s = refused_whole(ApiKey::AddPartitionsToTxn, v, &request(txn));
            let out = s.on_upstream(&substitute_answer);
            let answer: AddPartitionsToTxnResponse =
                decode_response(ApiKey::AddPartitionsToTxn, v, &apply_edits(&substitute_answer, &out.edits));
            let codes: Vec<_> = answer
                .results_by_topic_v3_and_below
                .iter()
                .map(|t| {
                    let codes: Vec<i16> = t.results_by_partition.iter().map(|p| p.partition_error_code).collect();
                    (t.name.to_string(), codes)
                })
                .collect();
            let [first, second] = expected;
            assert_eq!(
                codes,
                [("allowed".to_string(), vec![first, first]), ("forbidden".to_string(), vec![second, second])],
                "v{v} {txn}"
            );
        }
    }
}

/// FindCoordinator v4+ batches keys (the admin client's and the consumer's lookups): Kafka answers each key
/// (KafkaApis.getCoordinator: Describe on its group or transactional id), so the allowed keys reach the
/// broker and each denied key is answered with its authorization error.
#[test]
fn find_coordinator_batch_answers_each_key() {
    use kafka_protocol::messages::find_coordinator_response::Coordinator;
    for v in 4..=*versions(ApiKey::FindCoordinator).end() {
        for (key_type, allowed, denied, code) in [(0i8, "grp-ok", "grp-no", 30i16), (1, "txn-ok", "txn-no", 53)] {
            let request = FindCoordinatorRequest::default()
                .with_key_type(key_type)
                .with_coordinator_keys(vec![allowed.to_string().into(), denied.to_string().into()]);
            let mut s = session();
            let frame = wire::request_frame(10, v, CORRELATION_ID, Some("test"), &enc(&request, v));
            let forwarded = downstream(&mut s, &frame);
            let sent: FindCoordinatorRequest = decode_request(ApiKey::FindCoordinator, v, &forwarded);
            let keys: Vec<_> = sent.coordinator_keys.iter().map(|k| k.to_string()).collect();
            assert_eq!(keys, [allowed], "v{v} key type {key_type}: forwarded keys");
            let found = Coordinator::default().with_key(allowed.to_string().into()).with_node_id(BrokerId(1));
            let answer = FindCoordinatorResponse::default()
                .with_coordinators(vec![found.with_host("b1".to_string().into()).with_port(9092)]);
            let broker = wire::response_frame(10, v, CORRELATION_ID, &enc(&answer, v));
            let out = s.on_upstream(&broker);
            assert_eq!(out.close, None, "v{v}");
            let merged: FindCoordinatorResponse =
                decode_response(ApiKey::FindCoordinator, v, &apply_edits(&broker, &out.edits));
            let got: Vec<_> =
                merged.coordinators.iter().map(|c| (c.key.to_string(), c.node_id.0, c.error_code)).collect();
            assert_eq!(got, [(allowed.to_string(), 1, 0), (denied.to_string(), -1, code)], "v{v} key type {key_type}");
        }
    }
}

/// A group the coordinator answers with an error (v2-7: the top-level error code) is Kafka's whole answer:
/// KafkaApis.fetchOffsetsForGroup adds the denied topics only to a group answered without error.
#[test]
fn offset_fetch_group_error_from_the_coordinator_is_the_answer() {
    for v in 2..=7 {
        let mut s = session();
        let request = offset_fetch_request(v, &["grp-ok"], &["allowed", "forbidden"]);
        downstream(&mut s, &wire::request_frame(9, v, CORRELATION_ID, Some("test"), &enc(&request, v)));
        let answer = OffsetFetchResponse::default().with_error_code(14);
        let broker = wire::response_frame(9, v, CORRELATION_ID, &enc(&answer, v));
        let out = s.on_upstream(&broker);
        assert_eq!(out.close, None, "v{v}");
        assert_eq!(apply_edits(&broker, &out.edits), broker, "v{v}: the broker's answer as it is");
    }
}

//! Issue #5, "what a principal may not describe, it never sees": ListGroups, ListTransactions, OffsetFetch
//! for all topics and DescribeTopicPartitions are forwarded as asked and their responses narrowed to what
//! the principal may Describe. Each test runs every version the filter supports and compares the filtered
//! response byte for byte with what the broker would have sent listing only the permitted entries.

mod common;

use std::rc::Rc;

use common::split_apis::dtp_request;
use common::{downstream, enc, s, topic, upstream};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::api;
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::{Event, Session};
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor as ResponseCursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

/// ANONYMOUS may Describe group `g-visible` (and `g-all`), transactional id `tx-visible`, topics `t-visible`
/// and `t-read` (Read implies Describe); `g-secret`, `tx-secret`, `t-secret` are hidden.
const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "MODE", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "group", "name": "g-visible"}, "operations": ["Describe"]},
      {"resource": {"type": "group", "name": "g-all"}, "operations": ["Describe"]},
      {"resource": {"type": "transactionalId", "name": "tx-visible"}, "operations": ["Describe"]},
      {"resource": {"type": "topic", "name": "t-visible"}, "operations": ["Describe"]},
      {"resource": {"type": "topic", "name": "t-read"}, "operations": ["Read"]}
      CLUSTER
    ]}
  ]}
}"#;

fn session_with(mode: &str, describe_cluster: bool) -> Session {
    let cluster =
        if describe_cluster { r#", {"resource": {"type": "cluster"}, "operations": ["Describe"]}"# } else { "" };
    let policy = POLICY.replace("MODE", mode).replace("CLUSTER", cluster);
    let cfg = Config::parse(policy.as_bytes()).expect("valid config");
    let mut session = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    session.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    session
}

fn session() -> Session {
    session_with("enforce", false)
}

fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let max = api::lookup(key as i16).map(|e| e.max_version).unwrap_or(-1);
    key.valid_versions().min..=max
}

fn request<R: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    wire::request_frame(key as i16, version, correlation_id, Some("test"), &enc(body, version))
}

fn response<R: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    wire::response_frame(key as i16, version, correlation_id, &enc(body, version))
}

fn decode<R: Decodable>(key: ApiKey, version: i16, frame: &[u8]) -> R {
    let mut body = &frame[wire::response_body_offset(key as i16, version)..];
    R::decode(&mut body, version).unwrap()
}

/// Sends `req`, asserts it reaches the broker unchanged, answers with `resp` and returns what the client gets.
fn round_trip(s: &mut Session, req: &[u8], resp: &[u8]) -> Vec<u8> {
    assert_eq!(downstream(s, req), req, "request forwarded unchanged");
    let back = upstream(s, resp);
    assert_eq!(&back[4..8], &resp[4..8], "correlation id");
    assert_eq!(s.inflight_len(), 0);
    back
}

/// Every truncation of the response body, and an entry count far beyond the body, close the connection
/// with a reason instead of panicking or forwarding half a listing.
fn assert_malformed_closes(mut fresh: impl FnMut() -> (Session, Vec<u8>), key: ApiKey, version: i16, good: &[u8]) {
    let offset = wire::response_body_offset(key as i16, version);
    for cut in offset..good.len() {
        let (mut s, req) = fresh();
        downstream(&mut s, &req);
        let mut bad = good[..cut].to_vec();
        wire::set_frame_size(&mut bad);
        let out = s.on_upstream(&bad);
        let reason = out.close.unwrap_or_else(|| panic!("{key:?} v{version}: cut at {cut} not refused"));
        assert!(reason.contains("response"), "{reason}");
        assert!(s.take_events().iter().any(|e| matches!(e, Event::ProtocolError(_))));
    }
}

fn group(name: &str, version: i16) -> ListedGroup {
    let g = ListedGroup::default().with_group_id(GroupId(s(name))).with_protocol_type(s("consumer"));
    let g = if version >= 4 { g.with_group_state(s("Stable")) } else { g };
    if version >= 5 {
        g.with_group_type(s("classic"))
    } else {
        g
    }
}

fn list_groups(version: i16, names: &[&str]) -> ListGroupsResponse {
    ListGroupsResponse::default()
        .with_throttle_time_ms(if version >= 1 { 17 } else { 0 })
        .with_groups(names.iter().map(|n| group(n, version)).collect())
}

fn list_groups_request(version: i16) -> ListGroupsRequest {
    let r = ListGroupsRequest::default();
    let r = if version >= 4 { r.with_states_filter(vec![s("Stable")]) } else { r };
    if version >= 5 {
        r.with_types_filter(vec![s("classic")])
    } else {
        r
    }
}

#[test]
fn list_groups_shows_only_describable_groups() {
    for v in versions(ApiKey::ListGroups) {
        let mut sess = session();
        let req = request(ApiKey::ListGroups, v, 11, &list_groups_request(v));
        let resp = response(ApiKey::ListGroups, v, 11, &list_groups(v, &["g-secret", "g-visible", "g-other"]));
        let back = round_trip(&mut sess, &req, &resp);
        // Exactly what the broker would send if it knew only g-visible: every other byte as sent.
        assert_eq!(back, response(ApiKey::ListGroups, v, 11, &list_groups(v, &["g-visible"])), "v{v}");
        let decoded: ListGroupsResponse = decode(ApiKey::ListGroups, v, &back);
        assert_eq!(decoded.groups.len(), 1);
        // Hidden entries are not audited in enforce mode (a listing is routine, not an attempt).
        assert!(!sess.take_events().iter().any(|e| matches!(e, Event::Decision(_))));
    }
}

#[test]
fn list_groups_with_describe_cluster_shows_every_group() {
    for v in versions(ApiKey::ListGroups) {
        let mut sess = session_with("enforce", true);
        let req = request(ApiKey::ListGroups, v, 3, &list_groups_request(v));
        let resp = response(ApiKey::ListGroups, v, 3, &list_groups(v, &["g-secret", "g-visible", "g-other"]));
        assert_eq!(round_trip(&mut sess, &req, &resp), resp, "v{v}");
    }
}

#[test]
fn list_groups_with_nothing_visible_is_an_empty_listing() {
    for v in versions(ApiKey::ListGroups) {
        let mut sess = session();
        let req = request(ApiKey::ListGroups, v, 4, &list_groups_request(v));
        let resp = response(ApiKey::ListGroups, v, 4, &list_groups(v, &["g-secret", "g-other"]));
        let back = round_trip(&mut sess, &req, &resp);
        assert_eq!(back, response(ApiKey::ListGroups, v, 4, &list_groups(v, &[])), "v{v}");
    }
}

#[test]
fn list_groups_audit_mode_forwards_everything_and_records_what_would_be_hidden() {
    for v in versions(ApiKey::ListGroups) {
        let mut sess = session_with("audit", false);
        let req = request(ApiKey::ListGroups, v, 5, &list_groups_request(v));
        let resp = response(ApiKey::ListGroups, v, 5, &list_groups(v, &["g-secret", "g-visible"]));
        assert_eq!(round_trip(&mut sess, &req, &resp), resp, "v{v}");
        let hidden: Vec<_> = sess
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Decision(d) if !d.allowed => Some(d),
                _ => None,
            })
            .collect();
        assert_eq!(hidden.len(), 1);
        assert_eq!(hidden[0].resource_name.as_deref(), Some("g-secret"));
        assert!(hidden[0].audit_only);
        assert_eq!(hidden[0].correlation_id, 5);
    }
}

#[test]
fn list_groups_malformed_response_closes() {
    for v in versions(ApiKey::ListGroups) {
        let good = response(ApiKey::ListGroups, v, 6, &list_groups(v, &["g-secret", "g-visible"]));
        let fresh = || (session(), request(ApiKey::ListGroups, v, 6, &list_groups_request(v)));
        assert_malformed_closes(fresh, ApiKey::ListGroups, v, &good);
        // A count claiming 2^30 groups in a few bytes.
        let (mut s, req) = fresh();
        downstream(&mut s, &req);
        let mut bad = response(ApiKey::ListGroups, v, 6, &list_groups(v, &[]));
        let count_at = wire::response_body_offset(ApiKey::ListGroups as i16, v) + if v >= 1 { 6 } else { 2 };
        if v >= 3 {
            bad.truncate(count_at);
            bad.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x04, 0]);
        } else {
            bad[count_at..count_at + 4].copy_from_slice(&(1i32 << 30).to_be_bytes());
        }
        wire::set_frame_size(&mut bad);
        assert!(s.on_upstream(&bad).close.is_some(), "v{v}");
    }
}

fn transactions(version: i16, ids: &[&str]) -> ListTransactionsResponse {
    let _ = version;
    ListTransactionsResponse::default()
        .with_throttle_time_ms(9)
        .with_unknown_state_filters(vec![s("Weird")])
        .with_transaction_states(
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    TransactionState::default()
                        .with_transactional_id(TransactionalId(s(id)))
                        .with_producer_id(ProducerId(100 + i as i64))
                        .with_transaction_state(s("Ongoing"))
                })
                .collect(),
        )
}

#[test]
fn list_transactions_shows_only_describable_ids() {
    for v in versions(ApiKey::ListTransactions) {
        // Describe Cluster does not widen a transactions listing (no such shortcut in Kafka).
        for describe_cluster in [false, true] {
            let mut sess = session_with("enforce", describe_cluster);
            let req = request(ApiKey::ListTransactions, v, 21, &ListTransactionsRequest::default());
            let resp = response(ApiKey::ListTransactions, v, 21, &transactions(v, &["tx-secret", "tx-visible"]));
            let back = round_trip(&mut sess, &req, &resp);
            let mut expected = transactions(v, &["tx-secret", "tx-visible"]);
            expected.transaction_states.remove(0);
            assert_eq!(back, response(ApiKey::ListTransactions, v, 21, &expected), "v{v}");
        }
        let good = response(ApiKey::ListTransactions, v, 22, &transactions(v, &["tx-secret", "tx-visible"]));
        let fresh = || (session(), request(ApiKey::ListTransactions, v, 22, &ListTransactionsRequest::default()));
        assert_malformed_closes(fresh, ApiKey::ListTransactions, v, &good);
    }
}

fn fetched_topic(name: &str, version: i16) -> OffsetFetchResponseTopic {
    let partition = |i: i32| {
        OffsetFetchResponsePartition::default()
            .with_partition_index(i)
            .with_committed_offset(1000 + i as i64)
            .with_committed_leader_epoch(if version >= 5 { 3 } else { -1 })
            .with_metadata(Some(s("meta")))
    };
    OffsetFetchResponseTopic::default().with_name(topic(name)).with_partitions(vec![partition(0), partition(1)])
}

fn offset_fetch_v7(version: i16, names: &[&str]) -> OffsetFetchResponse {
    OffsetFetchResponse::default()
        .with_throttle_time_ms(if version >= 3 { 5 } else { 0 })
        .with_topics(names.iter().map(|n| fetched_topic(n, version)).collect())
}

#[test]
fn offset_fetch_all_topics_shows_only_describable_topics_v2_to_v7() {
    for v in (*versions(ApiKey::OffsetFetch).start()).max(2)..=7 {
        let mut sess = session();
        let req_body = OffsetFetchRequest::default().with_group_id(GroupId(s("g-visible"))).with_topics(None);
        let req = request(ApiKey::OffsetFetch, v, 31, &req_body);
        let all = ["t-secret", "t-visible", "t-read"];
        let resp = response(ApiKey::OffsetFetch, v, 31, &offset_fetch_v7(v, &all));
        let back = round_trip(&mut sess, &req, &resp);
        assert_eq!(back, response(ApiKey::OffsetFetch, v, 31, &offset_fetch_v7(v, &["t-visible", "t-read"])), "v{v}");
        let fresh = || (session(), request(ApiKey::OffsetFetch, v, 32, &req_body));
        assert_malformed_closes(
            fresh,
            ApiKey::OffsetFetch,
            v,
            &response(ApiKey::OffsetFetch, v, 32, &offset_fetch_v7(v, &all)),
        );
    }
}

#[test]
fn offset_fetch_named_topics_pass_untouched() {
    for v in versions(ApiKey::OffsetFetch) {
        let mut sess = session();
        let named = |n: &str| {
            offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(topic(n))
                .with_partition_indexes(vec![0, 1])
        };
        let req_body = if v <= 7 {
            OffsetFetchRequest::default()
                .with_group_id(GroupId(s("g-visible")))
                .with_topics(Some(vec![named("t-visible")]))
        } else {
            OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(s("g-visible")))
                .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                    .with_name(topic("t-visible"))
                    .with_partition_indexes(vec![0, 1])]))])
        };
        let req = request(ApiKey::OffsetFetch, v, 33, &req_body);
        let resp_body = if v <= 7 {
            offset_fetch_v7(v, &["t-visible"])
        } else {
            offset_fetch_v8(v, &[("g-visible", &["t-visible"])])
        };
        let resp = response(ApiKey::OffsetFetch, v, 33, &resp_body);
        assert_eq!(round_trip(&mut sess, &req, &resp), resp, "v{v}");
    }
}

fn offset_fetch_v8(version: i16, groups: &[(&str, &[&str])]) -> OffsetFetchResponse {
    let _ = version;
    let topic = |name: &str| {
        let partition = |i: i32| {
            OffsetFetchResponsePartitions::default()
                .with_partition_index(i)
                .with_committed_offset(2000 + i as i64)
                .with_committed_leader_epoch(4)
                .with_metadata(Some(s("m")))
        };
        OffsetFetchResponseTopics::default().with_name(topic(name)).with_partitions(vec![partition(0), partition(7)])
    };
    OffsetFetchResponse::default().with_throttle_time_ms(8).with_groups(
        groups
            .iter()
            .map(|(g, topics)| {
                OffsetFetchResponseGroup::default()
                    .with_group_id(GroupId(s(g)))
                    .with_topics(topics.iter().map(|t| topic(t)).collect())
            })
            .collect(),
    )
}

#[test]
fn offset_fetch_v8_filters_the_groups_that_asked_for_all_topics() {
    for v in (*versions(ApiKey::OffsetFetch).start()).max(8)..=*versions(ApiKey::OffsetFetch).end() {
        let mut sess = session();
        let req_body = OffsetFetchRequest::default().with_groups(vec![
            OffsetFetchRequestGroup::default().with_group_id(GroupId(s("g-all"))).with_topics(None),
            OffsetFetchRequestGroup::default().with_group_id(GroupId(s("g-visible"))).with_topics(Some(vec![
                OffsetFetchRequestTopics::default().with_name(topic("t-visible")).with_partition_indexes(vec![0]),
            ])),
        ]);
        let req = request(ApiKey::OffsetFetch, v, 41, &req_body);
        let broker =
            offset_fetch_v8(v, &[("g-all", &["t-read", "t-secret", "t-visible"]), ("g-visible", &["t-visible"])]);
        let resp = response(ApiKey::OffsetFetch, v, 41, &broker);
        let back = round_trip(&mut sess, &req, &resp);
        let expected = offset_fetch_v8(v, &[("g-all", &["t-read", "t-visible"]), ("g-visible", &["t-visible"])]);
        assert_eq!(back, response(ApiKey::OffsetFetch, v, 41, &expected), "v{v}");
        let fresh = || (session(), request(ApiKey::OffsetFetch, v, 42, &req_body));
        assert_malformed_closes(fresh, ApiKey::OffsetFetch, v, &response(ApiKey::OffsetFetch, v, 42, &broker));
    }
}

fn dtp_topic(name: &str) -> DescribeTopicPartitionsResponseTopic {
    let partition = |i: i32| {
        DescribeTopicPartitionsResponsePartition::default()
            .with_partition_index(i)
            .with_leader_id(BrokerId(1))
            .with_leader_epoch(2)
            .with_replica_nodes(vec![BrokerId(1)])
            .with_isr_nodes(vec![BrokerId(1)])
            .with_eligible_leader_replicas(Some(vec![BrokerId(1)]))
    };
    // A non-zero topic id (the uuid crate is not a dependency of the tests): patched into the encoding.
    let mut bytes = enc(&DescribeTopicPartitionsResponseTopic::default().with_name(Some(topic(name))), 0);
    let at = 2 + 1 + name.len();
    bytes[at..at + 16].fill(0xab);
    DescribeTopicPartitionsResponseTopic::decode(&mut &bytes[..], 0)
        .unwrap()
        .with_partitions(vec![partition(0), partition(1)])
        // Not asked for (Kafka's Integer.MIN_VALUE): passed as sent. When asked, the filter writes the
        // principal's operations (tests/authorized_operations.rs).
        .with_topic_authorized_operations(i32::MIN)
}

fn dtp_denied(name: &str) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(29)
        .with_name(Some(topic(name)))
        .with_topic_authorized_operations(i32::MIN)
}

fn dtp_response(
    topics: Vec<DescribeTopicPartitionsResponseTopic>,
    cursor: Option<(&str, i32)>,
) -> DescribeTopicPartitionsResponse {
    DescribeTopicPartitionsResponse::default().with_throttle_time_ms(3).with_topics(topics).with_next_cursor(
        cursor.map(|(n, p)| ResponseCursor::default().with_topic_name(topic(n)).with_partition_index(p)),
    )
}

#[test]
fn describe_topic_partitions_all_topics_shows_only_describable_topics() {
    for v in versions(ApiKey::DescribeTopicPartitions) {
        let mut sess = session();
        let req = request(ApiKey::DescribeTopicPartitions, v, 51, &dtp_request(&[], None));
        let broker = dtp_response(vec![dtp_topic("t-read"), dtp_topic("t-secret"), dtp_topic("t-visible")], None);
        let resp = response(ApiKey::DescribeTopicPartitions, v, 51, &broker);
        let back = round_trip(&mut sess, &req, &resp);
        let expected = dtp_response(vec![dtp_topic("t-read"), dtp_topic("t-visible")], None);
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 51, &expected));
        let fresh = || (session(), request(ApiKey::DescribeTopicPartitions, v, 52, &dtp_request(&[], None)));
        assert_malformed_closes(
            fresh,
            ApiKey::DescribeTopicPartitions,
            v,
            &response(ApiKey::DescribeTopicPartitions, v, 52, &broker),
        );
    }
}

#[test]
fn describe_topic_partitions_cursor_never_names_a_hidden_topic() {
    for v in versions(ApiKey::DescribeTopicPartitions) {
        // A visible cursor stays as the broker sent it.
        let mut sess = session();
        let req = request(ApiKey::DescribeTopicPartitions, v, 53, &dtp_request(&[], None));
        let broker = dtp_response(vec![dtp_topic("t-read"), dtp_topic("t-secret")], Some(("t-visible", 1)));
        let back = round_trip(&mut sess, &req, &response(ApiKey::DescribeTopicPartitions, v, 53, &broker));
        let expected = dtp_response(vec![dtp_topic("t-read")], Some(("t-visible", 1)));
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 53, &expected));
        // A hidden one becomes "<last topic shown>\0" from partition 0: the broker resumes right after it.
        let mut sess = session();
        let req = request(ApiKey::DescribeTopicPartitions, v, 54, &dtp_request(&[], Some(("t-a", 0))));
        let broker = dtp_response(vec![dtp_topic("t-read"), dtp_topic("t-s1")], Some(("t-secret", 7)));
        let back = round_trip(&mut sess, &req, &response(ApiKey::DescribeTopicPartitions, v, 54, &broker));
        let expected = dtp_response(vec![dtp_topic("t-read")], Some(("t-read\0", 0)));
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 54, &expected));
        assert!(!back.windows(8).any(|w| w == b"t-secret"));
        // Nothing shown in the page: a token the client pages on with, which names nothing; the next request
        // on this connection gets the broker's cursor back, and the listing goes on.
        let mut sess = session();
        let req = request(ApiKey::DescribeTopicPartitions, v, 55, &dtp_request(&[], None));
        let broker = dtp_response(vec![dtp_topic("t-s1")], Some(("t-secret", 4)));
        let back = round_trip(&mut sess, &req, &response(ApiKey::DescribeTopicPartitions, v, 55, &broker));
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 55, &dtp_response(vec![], Some(("\u{0}0", 0)))));
        let next = request(ApiKey::DescribeTopicPartitions, v, 56, &dtp_request(&[], Some(("\u{0}0", 0))));
        let forwarded = downstream(&mut sess, &next);
        assert_eq!(
            forwarded,
            request(ApiKey::DescribeTopicPartitions, v, 56, &dtp_request(&[], Some(("t-secret", 4))))
        );
        let broker = dtp_response(vec![dtp_topic("t-secret"), dtp_topic("t-visible")], None);
        let back = upstream(&mut sess, &response(ApiKey::DescribeTopicPartitions, v, 56, &broker));
        assert_eq!(
            back,
            response(ApiKey::DescribeTopicPartitions, v, 56, &dtp_response(vec![dtp_topic("t-visible")], None))
        );
        // Another empty page gets another token; a token this connection never gave is passed as sent
        // (it sorts before every topic: the listing starts over).
        let req = request(ApiKey::DescribeTopicPartitions, v, 57, &dtp_request(&[], None));
        let broker = dtp_response(vec![], Some(("t-secret", 9)));
        let back = round_trip(&mut sess, &req, &response(ApiKey::DescribeTopicPartitions, v, 57, &broker));
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 57, &dtp_response(vec![], Some(("\u{0}1", 0)))));
        let mut other = session();
        let stranger = request(ApiKey::DescribeTopicPartitions, v, 58, &dtp_request(&[], Some(("\u{0}1", 0))));
        assert_eq!(downstream(&mut other, &stranger), stranger);
    }
}

#[test]
fn describe_topic_partitions_named_hidden_topics_get_29_and_are_not_asked() {
    for v in versions(ApiKey::DescribeTopicPartitions) {
        let mut sess = session();
        let req = request(ApiKey::DescribeTopicPartitions, v, 61, &dtp_request(&["t-secret", "t-visible"], None));
        let forwarded = downstream(&mut sess, &req);
        assert_eq!(forwarded, request(ApiKey::DescribeTopicPartitions, v, 61, &dtp_request(&["t-visible"], None)));
        let events = sess.take_events();
        assert!(events
            .iter()
            .any(|e| matches!(e, Event::Decision(d) if !d.allowed && d.resource_name.as_deref() == Some("t-secret"))));
        let broker = dtp_response(vec![dtp_topic("t-visible")], None);
        let back = upstream(&mut sess, &response(ApiKey::DescribeTopicPartitions, v, 61, &broker));
        let expected = dtp_response(vec![dtp_topic("t-visible"), dtp_denied("t-secret")], None);
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 61, &expected));
        let decoded: DescribeTopicPartitionsResponse = decode(ApiKey::DescribeTopicPartitions, v, &back);
        assert!(decoded.topics[1].topic_id.is_nil() && decoded.topics[1].partitions.is_empty());
    }
}

#[test]
fn describe_topic_partitions_all_named_hidden_is_answered_by_the_filter() {
    for v in versions(ApiKey::DescribeTopicPartitions) {
        let mut sess = session();
        let req = request(ApiKey::DescribeTopicPartitions, v, 62, &dtp_request(&["t-secret"], None));
        let forwarded = downstream(&mut sess, &req);
        // Not an empty list (= all topics): the broker sees an ApiVersions v0 with the same correlation id.
        assert_eq!(&forwarded[4..12], &[0, 18, 0, 0, 0, 0, 0, 62]);
        let api_versions = wire::response_frame(18, 0, 62, &enc(&ApiVersionsResponse::default(), 0));
        let back = upstream(&mut sess, &api_versions);
        let expected = DescribeTopicPartitionsResponse::default().with_topics(vec![dtp_denied("t-secret")]);
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 62, &expected));
    }
}

#[test]
fn describe_topic_partitions_cursor_on_a_hidden_named_topic_resumes_at_the_next_one() {
    for v in versions(ApiKey::DescribeTopicPartitions) {
        let mut sess = session();
        let names = ["t-read", "t-secret", "t-visible"];
        let req = request(ApiKey::DescribeTopicPartitions, v, 63, &dtp_request(&names, Some(("t-secret", 5))));
        let forwarded = downstream(&mut sess, &req);
        let asked = dtp_request(&["t-read", "t-visible"], Some(("t-visible", 0)));
        assert_eq!(forwarded, request(ApiKey::DescribeTopicPartitions, v, 63, &asked));
        let broker = dtp_response(vec![dtp_topic("t-visible")], None);
        let back = upstream(&mut sess, &response(ApiKey::DescribeTopicPartitions, v, 63, &broker));
        let expected = dtp_response(vec![dtp_topic("t-visible"), dtp_denied("t-secret")], None);
        assert_eq!(back, response(ApiKey::DescribeTopicPartitions, v, 63, &expected));
    }
}

#[test]
fn audit_mode_filters_nothing() {
    let mut sess = session_with("audit", false);
    let v = 0;
    let req = request(ApiKey::DescribeTopicPartitions, v, 71, &dtp_request(&["t-secret", "t-visible"], None));
    assert_eq!(downstream(&mut sess, &req), req);
    let broker = dtp_response(vec![dtp_topic("t-secret"), dtp_topic("t-visible")], None);
    let resp = response(ApiKey::DescribeTopicPartitions, v, 71, &broker);
    assert_eq!(upstream(&mut sess, &resp), resp);
    let req = request(ApiKey::DescribeTopicPartitions, v, 72, &dtp_request(&[], None));
    let resp =
        response(ApiKey::DescribeTopicPartitions, v, 72, &dtp_response(vec![dtp_topic("t-secret")], Some(("t-z", 0))));
    assert_eq!(round_trip(&mut sess, &req, &resp), resp);
    let req = request(ApiKey::ListTransactions, 1, 73, &ListTransactionsRequest::default());
    let resp = response(ApiKey::ListTransactions, 1, 73, &transactions(1, &["tx-secret"]));
    assert_eq!(round_trip(&mut sess, &req, &resp), resp);
}

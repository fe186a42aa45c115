//! Kafka 4's group protocols through the sans-IO session: ConsumerGroupHeartbeat and ShareGroupHeartbeat
//! decided as KafkaApis decides them, and a regex subscription forwarded only when the principal may Describe
//! every topic it can match.

mod common;

use std::rc::Rc;

use bytes::Bytes;
use common::{downstream, upstream};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// ANONYMOUS may Read the group `app`, Read the topics under `orders-`, Describe `payments`; `User:*` is denied
/// Describe on `orders-secret`.
const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "group", "name": "app"}, "operations": ["Read"]},
      {"resource": {"type": "topic", "name": "orders-", "patternType": "prefix"}, "operations": ["Read"]},
      {"resource": {"type": "topic", "name": "payments"}, "operations": ["Describe"]}
    ]},
    {"principal": "User:*", "acls": [
      {"resource": {"type": "topic", "name": "orders-secret"}, "operations": ["Describe"], "type": "deny"}
    ]}
  ]}
}"#;

fn session() -> Session {
    let cfg = Config::parse(POLICY.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn frame<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).expect("encode");
    wire::request_frame(key as i16, version, 7, Some("test"), &encoded)
}

fn heartbeat(group: &str, topics: Option<&[&str]>, regex: Option<&str>) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_member_id(s("m-1"))
        .with_subscribed_topic_names(topics.map(|t| t.iter().map(|n| TopicName(s(n))).collect()))
        .with_subscribed_topic_regex(regex.map(s))
        .with_topic_partitions(Some(vec![]))
}

/// The answer a refused request gets: ApiVersions v0 goes to the broker instead, its answer is replaced.
fn refused(s: &mut Session, key: ApiKey, version: i16, request: &[u8]) -> Bytes {
    let forwarded = downstream(s, request);
    assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "{key:?}: substituted by ApiVersions v0");
    let substitute = wire::response_frame(18, 0, 7, &[0, 0, 0, 0, 0, 0]);
    let answer = upstream(s, &substitute);
    Bytes::copy_from_slice(&answer[wire::response_body_offset(key as i16, version)..])
}

#[test]
fn consumer_group_heartbeat_checks_group_then_topics() {
    for version in 0..=1 {
        let mut allowed = session();
        let request = frame(ApiKey::ConsumerGroupHeartbeat, version, &heartbeat("app", Some(&["orders-eu"]), None));
        assert_eq!(downstream(&mut allowed, &request), request, "v{version}: forwarded as sent");

        let mut group = session();
        let request = frame(ApiKey::ConsumerGroupHeartbeat, version, &heartbeat("other", Some(&["orders-eu"]), None));
        let mut body = refused(&mut group, ApiKey::ConsumerGroupHeartbeat, version, &request);
        let answer = ConsumerGroupHeartbeatResponse::decode(&mut body, version).expect("decodes");
        assert_eq!(answer, ConsumerGroupHeartbeatResponse::default().with_error_code(30), "v{version}");

        let mut topic = session();
        let topics: &[&str] = &["orders-eu", "audit"];
        let request = frame(ApiKey::ConsumerGroupHeartbeat, version, &heartbeat("app", Some(topics), None));
        let mut body = refused(&mut topic, ApiKey::ConsumerGroupHeartbeat, version, &request);
        let answer = ConsumerGroupHeartbeatResponse::decode(&mut body, version).expect("decodes");
        assert_eq!(answer, ConsumerGroupHeartbeatResponse::default().with_error_code(29), "v{version}");
    }
}

#[test]
fn regex_passes_only_when_every_matching_topic_is_describable() {
    // `orders-eu.*`: every name under the allowed prefix orders-, none of them denied.
    let mut allowed = session();
    let request = frame(ApiKey::ConsumerGroupHeartbeat, 1, &heartbeat("app", None, Some("orders-eu.*")));
    assert_eq!(downstream(&mut allowed, &request), request);
    // `orders-.*` can match orders-secret (denied); `pay.*` names beyond payments; `.*` anything.
    for regex in ["orders-.*", "pay.*", ".*"] {
        let mut s = session();
        let request = frame(ApiKey::ConsumerGroupHeartbeat, 1, &heartbeat("app", None, Some(regex)));
        let mut body = refused(&mut s, ApiKey::ConsumerGroupHeartbeat, 1, &request);
        let answer = ConsumerGroupHeartbeatResponse::decode(&mut body, 1).expect("decodes");
        assert_eq!(answer.error_code, 42, "{regex}");
        let message = answer.error_message.expect("a message").to_string();
        assert!(message.contains(regex) && message.contains("User:ANONYMOUS"), "{message}");
    }
    // Null (unchanged) and empty (none) regexes name nothing to check.
    for regex in [None, Some("")] {
        let mut s = session();
        let request = frame(ApiKey::ConsumerGroupHeartbeat, 1, &heartbeat("app", None, regex));
        assert_eq!(downstream(&mut s, &request), request, "{regex:?}");
    }
    // A denied group is refused first, as KafkaApis checks the group before the coordinator sees the regex.
    let mut s = session();
    let request = frame(ApiKey::ConsumerGroupHeartbeat, 1, &heartbeat("other", None, Some(".*")));
    let mut body = refused(&mut s, ApiKey::ConsumerGroupHeartbeat, 1, &request);
    assert_eq!(ConsumerGroupHeartbeatResponse::decode(&mut body, 1).expect("decodes").error_code, 30);
}

#[test]
fn share_group_heartbeat_checks_group_member_id_then_topics() {
    let share = |group: &str, member: &str, topics: &[&str]| {
        let request = ShareGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s(member))
            .with_subscribed_topic_names(Some(topics.iter().map(|n| TopicName(s(n))).collect()));
        frame(ApiKey::ShareGroupHeartbeat, 1, &request)
    };
    let mut allowed = session();
    let request = share("app", "m-1", &["payments"]);
    assert_eq!(downstream(&mut allowed, &request), request);
    for (group, member, code) in [("other", "m-1", 30), ("app", "", 42), ("app", "m-1", 29)] {
        let mut s = session();
        let mut body = refused(&mut s, ApiKey::ShareGroupHeartbeat, 1, &share(group, member, &["audit"]));
        let answer = ShareGroupHeartbeatResponse::decode(&mut body, 1).expect("decodes");
        assert_eq!(answer, ShareGroupHeartbeatResponse::default().with_error_code(code), "{group} {member:?}");
    }
}

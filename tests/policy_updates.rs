//! A policy update reaching an open session (issue 22): taken at the next request frame boundary, never in
//! the middle of a request being buffered; responses rewritten under the policy their request was decided
//! under; a change the connection cannot follow in place closes it at the boundary.

mod common;

use std::rc::Rc;

use bytes::Bytes;
use common::{downstream, upstream};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::session::{Event, Session};
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

fn policy(operations: &str) -> Rc<Config> {
    let json = format!(
        r#"{{
  "identity": {{"unauthenticated": "anonymous"}},
  "authorization": {{"mode": "enforce", "users": [
    {{"principal": "User:ANONYMOUS", "acls": [
      {{"resource": {{"type": "topic", "name": "orders"}}, "operations": [{operations}]}}
    ]}}
  ]}}
}}"#
    );
    Rc::new(Config::parse(json.as_bytes()).expect("valid config"))
}

fn granted() -> Rc<Config> {
    policy(r#""Write", "Describe""#)
}

/// No Write, and no Describe (which Read, Write, Delete and Alter would imply).
fn revoked() -> Rc<Config> {
    policy(r#""Create""#)
}

fn session(cfg: Rc<Config>) -> Session {
    let mut s = Session::new(cfg, Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn request<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).unwrap();
    kafka_mtls_filter::protocol::wire::request_frame(api_key as i16, version, correlation_id, Some("test"), &encoded)
}

fn response<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).unwrap();
    kafka_mtls_filter::protocol::wire::response_frame(api_key as i16, version, correlation_id, &encoded)
}

fn produce(correlation_id: i32) -> Vec<u8> {
    let body =
        ProduceRequest::default().with_acks(1).with_timeout_ms(1000).with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("orders")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(vec![7u8; 300])))])]);
    request(ApiKey::Produce, 9, correlation_id, &body)
}

/// Whether the session forwarded the request as is (allowed) or swapped it for ApiVersions v0 (denied).
fn allowed(s: &mut Session, req: &[u8]) -> bool {
    let forwarded = downstream(s, req);
    if forwarded == req {
        return true;
    }
    assert_eq!(&forwarded[4..6], &18i16.to_be_bytes(), "neither forwarded nor denied");
    false
}

fn applied(s: &mut Session) -> Vec<u64> {
    s.take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::PolicyApplied { generation } => Some(generation),
            _ => None,
        })
        .collect()
}

#[test]
fn the_next_request_after_an_update_is_decided_under_it() {
    let mut s = session(granted());
    assert!(allowed(&mut s, &produce(1)));
    s.update_policy(revoked(), 2);
    assert!(!allowed(&mut s, &produce(2)));
    assert_eq!(applied(&mut s), [2]);
    s.update_policy(granted(), 3);
    assert!(allowed(&mut s, &produce(3)));
    assert_eq!(applied(&mut s), [3]);
}

#[test]
fn a_request_being_buffered_is_decided_under_the_policy_it_started_under() {
    let mut s = session(granted());
    let first = produce(1);
    let second = produce(2);
    // Every split point inside the first request's header, once its size prefix is in: the request is being
    // buffered (undecided) when the update comes, and is decided under the policy it started under.
    for split in 4..12 {
        let mut s2 = session(granted());
        let head = downstream(&mut s2, &first[..split]);
        assert!(head.is_empty(), "split {split}: the head is held until the request is decided");
        s2.update_policy(revoked(), 2);
        let rest = downstream(&mut s2, &first[split..]);
        assert_eq!(rest, first, "split {split}: decided under the policy it started under");
        assert!(applied(&mut s2).is_empty());
        assert!(!allowed(&mut s2, &second), "split {split}: the next request is decided under the update");
        assert_eq!(applied(&mut s2), [2]);
    }
    // Before its size prefix is complete nothing of the request was looked at: decided under the update.
    for split in 1..4 {
        let mut s2 = session(granted());
        assert!(downstream(&mut s2, &first[..split]).is_empty());
        s2.update_policy(revoked(), 2);
        let rest = downstream(&mut s2, &first[split..]);
        assert_eq!(&rest[4..6], &18i16.to_be_bytes(), "split {split}: denied under the update");
    }
    // Both requests in one chunk after the update: both under it, in order.
    s.update_policy(revoked(), 2);
    let both = downstream(&mut s, &[first.clone(), second.clone()].concat());
    assert_eq!(&both[8..12], &1i32.to_be_bytes());
    assert_eq!(&both[4..6], &18i16.to_be_bytes());
    assert_eq!(s.inflight_len(), 2);
}

#[test]
fn a_later_update_replaces_one_not_yet_taken() {
    let mut s = session(granted());
    s.update_policy(revoked(), 2);
    s.update_policy(granted(), 3);
    assert!(allowed(&mut s, &produce(1)));
    assert_eq!(applied(&mut s), [3]);
}

#[test]
fn a_response_is_rewritten_under_the_policy_its_request_was_decided_under() {
    let version = 12;
    // Describe on `orders` under the first policy, none under the second.
    let mut s = session(granted());
    let metadata = request(ApiKey::Metadata, version, 7, &MetadataRequest::default().with_topics(None));
    assert_eq!(downstream(&mut s, &metadata), metadata);
    s.update_policy(revoked(), 2);
    // The next request takes the update while the Metadata request is in flight.
    assert!(!allowed(&mut s, &produce(8)));
    let topic = |name: &'static str| MetadataResponseTopic::default().with_name(Some(TopicName(name.into())));
    let answer = MetadataResponse::default().with_topics(vec![topic("orders"), topic("secret")]);
    let back = upstream(&mut s, &response(ApiKey::Metadata, version, 7, &answer));
    let offset = kafka_mtls_filter::protocol::wire::response_body_offset(ApiKey::Metadata as i16, version);
    let decoded = MetadataResponse::decode(&mut Bytes::copy_from_slice(&back[offset..]), version).unwrap();
    let names: Vec<_> = decoded.topics.iter().filter_map(|t| t.name.as_ref().map(|n| n.to_string())).collect();
    assert_eq!(names, ["orders"]);
    // A Metadata request decided under the second policy lists nothing.
    let again = request(ApiKey::Metadata, version, 9, &MetadataRequest::default().with_topics(None));
    assert_eq!(downstream(&mut s, &again), again);
    let _ = upstream(&mut s, &response(ApiKey::ApiVersions, 0, 8, &ApiVersionsResponse::default()));
    let back = upstream(&mut s, &response(ApiKey::Metadata, version, 9, &answer));
    let decoded = MetadataResponse::decode(&mut Bytes::copy_from_slice(&back[offset..]), version).unwrap();
    assert!(decoded.topics.is_empty());
}

#[test]
fn an_update_that_changes_the_principal_closes_at_the_next_request_boundary() {
    let mut s = session(granted());
    assert!(allowed(&mut s, &produce(1)));
    // Connections without a certificate are refused now.
    let refuse = Config::parse(br#"{"authorization": {"mode": "enforce"}}"#).expect("valid config");
    s.update_policy(Rc::new(refuse), 2);
    let out = s.on_downstream(&produce(2));
    let reason = out.close.expect("closed at the boundary");
    assert!(reason.contains("policy update"), "{reason}");
}

#[test]
fn an_update_that_switches_authorization_off_closes_at_the_next_request_boundary() {
    let mut s = session(granted());
    let off = Config::parse(br#"{"identity": {"unauthenticated": "anonymous"}, "authorization": {"mode": "off"}}"#)
        .expect("valid config");
    s.update_policy(Rc::new(off), 2);
    assert!(s.on_downstream(&produce(1)).close.is_some());
}

#[test]
fn before_identification_an_update_applies_at_once() {
    let mut s = Session::new(granted(), None);
    s.update_policy(revoked(), 5);
    assert_eq!(applied(&mut s), [5]);
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    assert!(!allowed(&mut s, &produce(1)));
}

#[test]
fn close_at_request_boundary_waits_for_the_request_being_buffered() {
    let mut s = session(granted());
    let first = produce(1);
    assert!(downstream(&mut s, &first[..5]).is_empty());
    s.close_at_request_boundary("cannot follow");
    assert_eq!(downstream(&mut s, &first[5..]), first);
    assert_eq!(s.on_downstream(&produce(2)).close.map(|r| r.message).as_deref(), Some("policy update: cannot follow"));
    // Reported as a policy close, not as a protocol error.
    let events = s.take_events();
    assert!(events.contains(&Event::PolicyClosed("policy update: cannot follow".into())), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::ProtocolError(_))), "{events:?}");
}

/// `granted()` with another identity section (anonymous connections map to another principal: none at all,
/// as unauthenticated connections are then refused).
fn refusing_anonymous(on_incompatible: &str) -> Rc<Config> {
    let json = format!(
        r#"{{
  "identity": {{"unauthenticated": "deny"}},
  "authorization": {{"mode": "enforce", "users": []}},
  "connections": {{"onIncompatiblePolicyChange": "{on_incompatible}"}}
}}"#
    );
    Rc::new(Config::parse(json.as_bytes()).expect("valid config"))
}

#[test]
fn a_change_the_connection_cannot_follow_ends_it_with_a_typed_reason() {
    use kafka_mtls_filter::connection_limits::EndReason;
    use kafka_mtls_filter::frame::CloseKind;
    let mut s = session(granted());
    let standing = s.standing();
    let incompatible = refusing_anonymous("closeAtRequestBoundary");
    assert!(standing.follows(&revoked()).is_ok());
    assert!(standing.follows(&incompatible).is_err(), "the glue's timer sees what the session will");
    s.update_policy(incompatible, 2);
    let close = s.on_downstream(&produce(1)).close.expect("closed at the boundary");
    assert_eq!(close.kind, CloseKind::Ended(EndReason::PolicyUpdate));
    assert!(close.message.starts_with("policy update: refused"), "{}", close.message);
}

#[test]
fn keep_old_policy_leaves_the_connection_under_its_policy() {
    let mut s = session(granted());
    s.update_policy(refusing_anonymous("keepOldPolicy"), 2);
    assert!(allowed(&mut s, &produce(1)), "still under the policy it had");
    let events = s.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::PolicyKept { generation: 2, .. })), "{events:?}");
    // A later change it can follow is taken as usual.
    s.update_policy(revoked(), 3);
    assert!(!allowed(&mut s, &produce(2)));
    assert_eq!(applied(&mut s), [3]);
}

#[test]
fn a_time_limit_ends_the_connection_at_a_request_boundary_and_no_update_cancels_it() {
    use kafka_mtls_filter::connection_limits::EndReason;
    use kafka_mtls_filter::frame::CloseKind;
    let mut s = session(granted());
    let first = produce(1);
    assert!(downstream(&mut s, &first[..5]).is_empty());
    s.end_at_request_boundary(EndReason::CertificateExpired, "the client certificate has expired");
    s.update_policy(revoked(), 2);
    assert_eq!(downstream(&mut s, &first[5..]), first, "the request being buffered is decided and forwarded");
    let close = s.on_downstream(&produce(2)).close.expect("closed at the boundary");
    assert_eq!(close.kind, CloseKind::Ended(EndReason::CertificateExpired));
    let events = s.take_events();
    assert!(
        events.contains(&Event::Ended(EndReason::CertificateExpired, "the client certificate has expired".into())),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::ProtocolError(_))), "{events:?}");
}

#[test]
fn the_connections_section_is_validated_naming_the_field() {
    let error = |json: &str| Config::parse(json.as_bytes()).map(|_| ()).unwrap_err().0;
    let unknown = error(r#"{"connections": {"onIncompatiblePolicyChange": "closeEventually"}}"#);
    assert!(unknown.contains("`connections.onIncompatiblePolicyChange`"), "{unknown}");
    assert!(unknown.contains("closeAtRequestBoundary") && unknown.contains("keepOldPolicy"), "{unknown}");
    let large = error(r#"{"connections": {"maxAgeMs": 999999999999}}"#);
    assert!(large.contains("`connections.maxAgeMs`"), "{large}");
    let typo = error(r#"{"connections": {"maxAge": 1}}"#);
    assert!(typo.contains("`connections.maxAge`") || typo.contains("unknown field"), "{typo}");
    let cfg = Config::parse(br#"{"connections": {"maxAgeMs": 60000, "closeOnCertificateExpiry": false}}"#).unwrap();
    assert_eq!(cfg.connections.max_age_ms, Some(60_000));
    assert!(!cfg.connections.close_on_certificate_expiry);
}

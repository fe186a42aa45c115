//! Helpers shared by the host tests that build Kafka messages with kafka-protocol.
#![allow(dead_code)] // each test crate uses its own subset

pub mod split_apis;

use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::{Encodable, StrBytes};

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

pub fn topic(v: &str) -> TopicName {
    TopicName(s(v))
}

/// `m` encoded at version `v`.
pub fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
    let mut buf = Vec::new();
    m.encode(&mut buf, v).expect("encode");
    buf
}

/// Client bytes through the session (which must not close): what reaches the broker.
pub fn downstream(s: &mut Session, bytes: &[u8]) -> Vec<u8> {
    let out = s.on_downstream(bytes);
    assert_eq!(out.close, None);
    apply_edits(bytes, &out.edits)
}

/// Broker bytes through the session (which must not close): what reaches the client.
pub fn upstream(s: &mut Session, bytes: &[u8]) -> Vec<u8> {
    let out = s.on_upstream(bytes);
    assert_eq!(out.close, None);
    apply_edits(bytes, &out.edits)
}

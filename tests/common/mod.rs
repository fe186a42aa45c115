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

/// A topic's id as the broker would have taught it to the filter (learned here, in this test thread):
/// requests in the topic-id versions (Produce v13, Fetch v13+) carry it.
pub fn topic_id(name: &str) -> uuid::Uuid {
    let mut id = [0x5au8; 16];
    for (i, b) in name.bytes().enumerate() {
        id[i % 16] ^= b.rotate_left(i as u32 / 16);
    }
    id[15] = id[15].wrapping_add(name.len() as u8) | 1;
    kafka_mtls_filter::topic_ids::learn(id, name);
    uuid::Uuid::from_bytes(id)
}

/// A topic of a request or response as a name: `name`, or in the topic-id versions the name learned for `id`.
pub fn topic_label(name: &str, id: &uuid::Uuid) -> String {
    match kafka_mtls_filter::topic_ids::name_of(id.as_bytes()) {
        Some(learned) if name.is_empty() => learned.to_string(),
        _ => name.to_string(),
    }
}

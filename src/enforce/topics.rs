//! Error responses of the topic data and metadata APIs: Produce, Fetch, ListOffsets, Metadata,
//! OffsetForLeaderEpoch, DeleteRecords, DescribeProducers, DescribeTopicPartitions.

use kafka_protocol::messages::ApiKey;

use crate::protocol::error_code;

use super::writer::{each_node, per_partition, Out};
use super::{first_error, Codes, NO_AUTHORIZED_OPERATIONS};
use crate::classify::{walk_produce, TopicKey};
use crate::protocol::layout::Node;

/// Writes the body of the error response to a denied Fetch, ListOffsets, Metadata, ... request.
// Inlined into `error_response`, the one match these arms were: as calls the module grew by 10 KB.
#[inline(always)]
pub(super) fn answer(key: ApiKey, o: &mut Out, req: &Node<'_>, e: &Codes<'_>) -> Result<(), String> {
    match key {
        ApiKey::Fetch => {
            o.i32(0); // throttle_time_ms
            if o.since(7) {
                o.i16(error_code::NONE); // error_code: the errors are per partition, as in Kafka
                o.i32(0); // session_id
            }
            let follower = req.int("replica_id").unwrap_or(-1) >= 0;
            let code = |topic: &str| if follower { e.cluster_as_topic() } else { e.topic(topic) };
            per_partition(o, req, "topics", "topic", ("partitions", "partition"), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
                o.i64(-1); // high_watermark
                o.i64(-1); // last_stable_offset
                if o.since(5) {
                    o.i64(-1); // log_start_offset
                }
                o.null_array(); // aborted_transactions
                if o.since(11) {
                    o.i32(-1); // preferred_read_replica
                }
                o.empty_bytes(); // records
            });
        }
        ApiKey::ListOffsets => {
            if o.since(2) {
                o.i32(0);
            }
            per_partition(
                o,
                req,
                "topics",
                "name",
                ("partitions", "partition_index"),
                |t| e.topic(t),
                |o, index, code| {
                    o.i32(index);
                    o.i16(code);
                    o.i64(-1); // timestamp
                    o.i64(-1); // offset
                    if o.since(4) {
                        o.i32(-1); // leader_epoch
                    }
                },
            );
        }
        ApiKey::Metadata => {
            if o.since(3) {
                o.i32(0);
            }
            o.count(0); // brokers
            if o.since(2) {
                o.null_str(); // cluster_id
            }
            if o.since(1) {
                o.i32(-1); // controller_id
            }
            o.count(req.len("topics"));
            for topic in req.nodes("topics") {
                let name = topic.str("name").ok_or("Metadata topic addressed by id")?;
                metadata_topic(o, name, e.topic(name));
            }
            if (8..=10).contains(&o.v) {
                o.i32(NO_AUTHORIZED_OPERATIONS); // cluster_authorized_operations
            }
            if o.since(13) {
                o.i16(error_code::NONE);
            }
        }
        ApiKey::DeleteRecords => {
            o.i32(0);
            per_partition(
                o,
                req,
                "topics",
                "name",
                ("partitions", "partition_index"),
                |t| e.topic(t),
                |o, index, code| {
                    o.i32(index);
                    o.i64(-1); // low_watermark
                    o.i16(code);
                },
            );
        }
        ApiKey::OffsetForLeaderEpoch => {
            if o.since(2) {
                o.i32(0);
            }
            // Kafka answers an unauthorized follower per partition as well.
            let follower = req.int("replica_id").unwrap_or(-1) >= 0;
            let code = |topic: &str| if follower { e.cluster_as_topic() } else { e.topic(topic) };
            per_partition(o, req, "topics", "topic", ("partitions", "partition"), code, |o, index, code| {
                o.i16(code);
                o.i32(index);
                if o.since(1) {
                    o.i32(-1); // leader_epoch
                }
                o.i64(-1); // end_offset
            });
        }
        ApiKey::DescribeProducers => {
            o.i32(0);
            per_partition(
                o,
                req,
                "topics",
                "name",
                ("partition_indexes", ""),
                |t| e.topic(t),
                |o, index, code| {
                    o.i32(index);
                    o.i16(code);
                    o.null_str(); // error_message
                    o.count(0); // active_producers
                },
            );
        }
        ApiKey::DescribeTopicPartitions => {
            // Kafka answers a topic the principal may not Describe with no partitions and the zero id.
            o.i32(0);
            each_node(o, req, "topics", |o, topic| {
                let name = topic.str("name").unwrap_or_default();
                o.i16(e.topic(name));
                o.str(name);
                o.uuid_zero();
                o.bool(false); // is_internal
                o.count(0); // partitions
                o.i32(NO_AUTHORIZED_OPERATIONS);
            });
            o.i8(-1); // next_cursor: null
        }
        _ => return Err(format!("no error response for {key:?}")),
    }
    Ok(())
}

/// A Metadata response's entry for a topic answered with `code` and nothing else: no partitions, the zero
/// id, no authorized operations (as Kafka answers a topic the principal may not Describe).
pub(super) fn metadata_topic(o: &mut Out, name: &str, code: i16) {
    o.i16(code);
    o.str(name);
    if o.since(10) {
        o.uuid_zero();
    }
    if o.since(1) {
        o.bool(false); // is_internal
    }
    o.count(0); // partitions
    if o.since(8) {
        o.i32(NO_AUTHORIZED_OPERATIONS);
    }
    o.tags();
}

/// [`metadata_topic`]'s bytes, for the filter's entries appended to a broker's Metadata response.
pub(crate) fn metadata_topic_entry(version: i16, name: &str, code: i16) -> Vec<u8> {
    let mut o = Out::body(ApiKey::Metadata as i16, version);
    metadata_topic(&mut o, name, code);
    o.buf
}

/// A Metadata response's entry for a topic asked by id and answered with `code`: a null name, the id, no
/// partitions (as Kafka answers an id the principal may not Describe).
pub(crate) fn metadata_topic_entry_by_id(version: i16, id: &crate::topic_ids::TopicUuid, code: i16) -> Vec<u8> {
    let mut o = Out::body(ApiKey::Metadata as i16, version);
    o.i16(code);
    o.null_str();
    o.uuid(id);
    o.bool(false); // is_internal
    o.count(0); // partitions
    o.i32(NO_AUTHORIZED_OPERATIONS);
    o.tags();
    o.buf
}

/// Produce is read by its own walker (the classifier's), not by a layout.
pub(super) fn produce(o: &mut Out, body: &[u8], e: &Codes<'_>) -> Result<(), String> {
    let req = walk_produce(o.v, body, body.len(), true).map_err(|stop| format!("Produce: {stop:?}"))?;
    let txn_code = req.transactional_id.map_or(error_code::NONE, |id| e.txn(id));
    o.count(req.topics.len());
    for (key, partitions) in &req.topics {
        let code = first_error(&[txn_code, e.topic(&crate::classify::topic_key_name(key))]);
        match key {
            TopicKey::Id(id) => o.uuid(id),
            TopicKey::Name(name) => o.str(name.unwrap_or_default()),
        }
        o.count(partitions.len());
        for index in partitions {
            o.i32(*index);
            o.i16(code);
            o.i64(-1); // base_offset
            o.i64(-1); // log_append_time_ms
            if o.since(5) {
                o.i64(-1); // log_start_offset
            }
            if o.since(8) {
                o.count(0); // record_errors
                o.null_str(); // error_message
            }
            o.tags();
        }
        o.tags();
    }
    o.i32(0); // throttle_time_ms
    Ok(())
}

//! Error responses of the consumer group APIs: offsets, coordinator lookup, membership, group listings.

use kafka_protocol::messages::ApiKey;

use crate::protocol::error_code;

use super::writer::{each_str, per_partition, Out};
use super::{first_error, Codes, NO_AUTHORIZED_OPERATIONS};
use crate::classify::coordinator_resource;
use crate::protocol::layout::Node;

/// Writes the body of the error response to a denied OffsetCommit, OffsetFetch, OffsetFetch, ... request.
// Inlined into `error_response`, the one match these arms were: as calls the module grew by 10 KB.
#[inline(always)]
pub(super) fn answer(key: ApiKey, o: &mut Out, req: &Node<'_>, e: &Codes<'_>) -> Result<(), String> {
    let v = o.v;
    let group = || e.group(req.str("group_id").unwrap_or_default());
    match key {
        ApiKey::OffsetCommit => {
            if o.since(3) {
                o.i32(0);
            }
            let group_code = group();
            let code = |topic: &str| first_error(&[group_code, e.topic(topic)]);
            per_partition(o, req, "topics", "name", ("partitions", "partition_index"), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
            });
        }
        ApiKey::OffsetFetch if v <= 7 => {
            if o.since(3) {
                o.i32(0);
            }
            let group_code = group();
            // A refused group fails the request at top level (v2+) with no topics, as Kafka does.
            if group_code == error_code::NONE || v < 2 {
                let code = |topic: &str| first_error(&[group_code, e.topic(topic)]);
                per_partition(o, req, "topics", "name", ("partition_indexes", ""), code, offset_fetch_partition);
            } else {
                o.count(0);
            }
            if o.since(2) {
                o.i16(group_code);
            }
        }
        ApiKey::OffsetFetch => {
            o.i32(0);
            o.count(req.len("groups"));
            for group in req.nodes("groups") {
                let group_id = group.str("group_id").unwrap_or_default();
                let group_code = e.group(group_id);
                o.str(group_id);
                if group_code == error_code::NONE {
                    let code = |topic: &str| e.topic(topic);
                    per_partition(o, group, "topics", "name", ("partition_indexes", ""), code, offset_fetch_partition);
                } else {
                    o.count(0);
                }
                o.i16(group_code);
                o.tags();
            }
        }
        ApiKey::FindCoordinator => {
            let resource_type = coordinator_resource(req.int("key_type").unwrap_or(0))?;
            if o.since(1) {
                o.i32(0);
            }
            if o.since(4) {
                o.count(req.len("coordinator_keys"));
                for key in req.strs("coordinator_keys") {
                    o.str(key);
                    o.i32(-1); // node_id
                    o.str(""); // host
                    o.i32(-1); // port
                    o.i16(e.code(resource_type, key));
                    o.null_str(); // error_message
                    o.tags();
                }
            } else {
                o.i16(e.code(resource_type, req.str("key").unwrap_or_default()));
                if o.since(1) {
                    o.str(""); // error_message
                }
                o.i32(-1); // node_id
                o.str(""); // host
                o.i32(-1); // port
            }
        }
        ApiKey::JoinGroup => {
            if o.since(2) {
                o.i32(0);
            }
            o.i16(group());
            o.i32(-1); // generation_id
            if o.since(7) {
                o.null_str(); // protocol_type
                o.null_str(); // protocol_name (nullable from v7)
            } else {
                o.str("");
            }
            o.str(""); // leader
            if o.since(9) {
                o.bool(false); // skip_assignment
            }
            o.str(req.str("member_id").unwrap_or_default());
            o.count(0); // members
        }
        ApiKey::Heartbeat | ApiKey::LeaveGroup | ApiKey::SyncGroup => {
            if o.since(1) {
                o.i32(0);
            }
            o.i16(group());
            if key == ApiKey::LeaveGroup && o.since(3) {
                o.count(0); // members
            }
            if key == ApiKey::SyncGroup {
                if o.since(5) {
                    o.null_str(); // protocol_type
                    o.null_str(); // protocol_name
                }
                o.empty_bytes(); // assignment
            }
        }
        ApiKey::DescribeGroups => {
            if o.since(1) {
                o.i32(0);
            }
            each_str(o, req, "groups", |o, group| {
                o.i16(e.group(group));
                if o.since(6) {
                    o.null_str(); // error_message
                }
                o.str(group);
                o.str(""); // group_state
                o.str(""); // protocol_type
                o.str(""); // protocol_data
                o.count(0); // members
                if o.since(3) {
                    o.i32(NO_AUTHORIZED_OPERATIONS);
                }
            });
        }
        ApiKey::ListGroups => {
            // Kafka answers a principal that may describe no group with an empty listing, not an error.
            if o.since(1) {
                o.i32(0);
            }
            o.i16(error_code::NONE);
            o.count(0);
        }
        ApiKey::DeleteGroups => {
            o.i32(0);
            each_str(o, req, "groups_names", |o, group| {
                o.str(group);
                o.i16(e.group(group));
            });
        }
        ApiKey::OffsetDelete => {
            let group_code = group();
            o.i16(group_code);
            o.i32(0);
            // A refused group fails the whole request (top level); otherwise partitions carry topic errors.
            if group_code == error_code::NONE {
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
                    },
                );
            } else {
                o.count(0);
            }
        }
        ApiKey::ConsumerGroupHeartbeat | ApiKey::ShareGroupHeartbeat => {
            let code = heartbeat_code(key, req, e);
            heartbeat(o, code, None);
        }
        // The two describe answers share the group-level fields; a refused group has no members.
        ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => {
            o.i32(0);
            each_str(o, req, "group_ids", |o, group| {
                o.i16(e.group(group));
                o.null_str(); // error_message
                o.str(group);
                o.str(""); // group_state
                o.i32(0); // group_epoch
                o.i32(0); // assignment_epoch
                o.str(""); // assignor_name
                o.count(0); // members
                o.i32(NO_AUTHORIZED_OPERATIONS);
            });
        }
        _ => return Err(format!("no error response for {key:?}")),
    }
    Ok(())
}

/// The error of a refused heartbeat, in KafkaApis' order: Read on the group; for a share group, a member id
/// Kafka rejects before looking at topics (INVALID_REQUEST); then Describe on the subscribed topics.
/// (A request refused whole gives an allowed group the first denial's code: only GROUP_AUTHORIZATION_FAILED says
/// the group itself was refused.)
fn heartbeat_code(key: ApiKey, req: &Node<'_>, e: &Codes<'_>) -> i16 {
    let group_code = e.group(req.str("group_id").unwrap_or_default());
    if group_code == error_code::GROUP_AUTHORIZATION_FAILED {
        return group_code;
    }
    let member_id = req.str("member_id").unwrap_or_default();
    if key == ApiKey::ShareGroupHeartbeat && (member_id.is_empty() || member_id.chars().count() > 36) {
        return error_code::INVALID_REQUEST;
    }
    let topics: Vec<i16> = req.strs("subscribed_topic_names").map(|t| e.topic(t)).collect();
    first_error(&topics)
}

/// A ConsumerGroupHeartbeat or ShareGroupHeartbeat answer carrying only an error (Kafka's `getErrorResponse`:
/// no member id, epoch 0, no assignment).
pub(super) fn heartbeat(o: &mut Out, code: i16, message: Option<&str>) {
    o.i32(0); // throttle_time_ms
    o.i16(code);
    match message {
        Some(message) => o.str(message),
        None => o.null_str(),
    }
    o.null_str(); // member_id
    o.i32(0); // member_epoch
    o.i32(0); // heartbeat_interval_ms
    o.i8(-1); // assignment: null
}

/// OffsetFetch's partition answer (v1-7 and the groups of v8+).
pub(super) fn offset_fetch_partition(o: &mut Out, index: i32, code: i16) {
    o.i32(index);
    o.i64(-1); // committed_offset
    if o.since(5) {
        o.i32(-1); // committed_leader_epoch
    }
    o.str(""); // metadata
    o.i16(code);
}

//! Error responses of the share groups' record and offset APIs (KIP-932): ShareFetch, ShareAcknowledge,
//! AlterShareGroupOffsets, DeleteShareGroupOffsets, DescribeShareGroupOffsets. Each API its own function (KafkaApis' answers differ in
//! their details: messages, topic ids, the order of refused topics).

use kafka_protocol::messages::ApiKey;

use super::writer::Out;
use super::Codes;
use crate::protocol::error_code;
use crate::protocol::layout::{Node, Val};

/// The APIs this file answers.
pub(super) fn answers(key: ApiKey) -> bool {
    matches!(
        key,
        ApiKey::ShareFetch
            | ApiKey::ShareAcknowledge
            | ApiKey::AlterShareGroupOffsets
            | ApiKey::DeleteShareGroupOffsets
            | ApiKey::DescribeShareGroupOffsets
    )
}

/// Writes the body of the error response to a denied share-group request.
pub(super) fn answer(key: ApiKey, o: &mut Out, req: &Node<'_>, e: &Codes<'_>) -> Result<(), String> {
    match key {
        ApiKey::ShareFetch => share_fetch(o, req, e, acknowledges(req)),
        ApiKey::ShareAcknowledge => share_acknowledge(o, req, e),
        ApiKey::AlterShareGroupOffsets => alter_share_group_offsets(o, req, e),
        ApiKey::DeleteShareGroupOffsets => delete_share_group_offsets(o, req, e),
        ApiKey::DescribeShareGroupOffsets => describe_share_group_offsets(o, req, e),
        _ => return Err(format!("no error response for {key:?}")),
    }
    Ok(())
}

/// Kafka's message for the errors these answers carry one (`Errors.message()`).
pub(crate) fn message(code: i16) -> Option<&'static str> {
    match code {
        error_code::TOPIC_AUTHORIZATION_FAILED => Some("Topic authorization failed."),
        error_code::GROUP_AUTHORIZATION_FAILED => Some("Group authorization failed."),
        _ => None,
    }
}

fn write_message(o: &mut Out, code: i16) {
    match message(code) {
        Some(text) => o.str(text),
        None => o.null_str(),
    }
}

/// Whether a ShareFetch piggybacks acknowledgements: then KafkaApis acknowledges every partition it names (an
/// empty batch list included), so each refused partition's acknowledgement is refused too.
pub(super) fn acknowledges(req: &Node<'_>) -> bool {
    req.nodes("topics").any(|t| t.nodes("partitions").any(|p| p.len("acknowledgement_batches") > 0))
}

/// ShareFetch: a refused group fails the request at top level with no topics (`getErrorResponse`);
/// otherwise each partition carries its topic's error, and so does its acknowledgement when the request
/// acknowledges anything (`acknowledging`: the whole client request's, KafkaApis' `isAcknowledgeDataPresent`),
/// no records.
pub(super) fn share_fetch(o: &mut Out, req: &Node<'_>, e: &Codes<'_>, acknowledging: bool) {
    let group_code = e.group(req.str("group_id").unwrap_or_default());
    o.i32(0); // throttle_time_ms
    o.i16(group_code);
    o.null_str(); // error_message
    o.i32(0); // acquisition_lock_timeout_ms
    if group_code != error_code::NONE {
        o.count(0);
    } else {
        each_node(o, req, "topics", |o, topic| {
            o.uuid(&topic.id("topic_id").unwrap_or_default());
            let code = e.topic(&topic.topic("topic_id").unwrap_or_default());
            o.count(topic.len("partitions"));
            for partition in topic.nodes("partitions") {
                o.i32(partition.int("partition_index").unwrap_or_default() as i32);
                o.i16(code);
                o.null_str(); // error_message
                o.i16(if acknowledging { code } else { error_code::NONE });
                o.null_str(); // acknowledge_error_message
                o.i32(0); // current_leader: leader_id
                o.i32(0); // leader_epoch
                o.tags();
                o.empty_bytes(); // records
                o.count(0); // acquired_records
                o.tags();
            }
        });
    }
    o.count(0); // node_endpoints
}

/// ShareAcknowledge: a refused group fails the request at top level; otherwise per partition.
fn share_acknowledge(o: &mut Out, req: &Node<'_>, e: &Codes<'_>) {
    let group_code = e.group(req.str("group_id").unwrap_or_default());
    o.i32(0); // throttle_time_ms
    o.i16(group_code);
    o.null_str(); // error_message
    if group_code != error_code::NONE {
        o.count(0);
    } else {
        per_partition(
            o,
            req,
            "topics",
            "topic_id",
            ("partitions", "partition_index"),
            |t| e.topic(t),
            |o, index, code| {
                o.i32(index);
                o.i16(code);
                o.null_str(); // error_message
                o.i32(0); // current_leader: leader_id
                o.i32(0); // leader_epoch
                o.tags();
            },
        );
    }
    o.count(0); // node_endpoints
}

/// AlterShareGroupOffsets: a refused group fails the request at top level with Kafka's message; otherwise
/// each refused topic is answered per partition with its message and the topic's id as the broker knows it
/// (the learned one; zero when not learned).
fn alter_share_group_offsets(o: &mut Out, req: &Node<'_>, e: &Codes<'_>) {
    let group_code = e.group(req.str("group_id").unwrap_or_default());
    o.i32(0); // throttle_time_ms
    o.i16(group_code);
    if group_code != error_code::NONE {
        write_message(o, group_code);
        o.count(0);
        return;
    }
    o.null_str(); // error_message
    each_node(o, req, "topics", |o, topic| {
        let name = topic.str("topic_name").unwrap_or_default();
        let code = e.topic(name);
        o.str(name);
        o.uuid(&crate::topic_ids::id_of(name).unwrap_or_default());
        o.count(topic.len("partitions"));
        for partition in topic.nodes("partitions") {
            o.i32(partition.int("partition_index").unwrap_or_default() as i32);
            o.i16(code);
            write_message(o, code);
            o.tags();
        }
    });
}

/// DeleteShareGroupOffsets: a refused group fails the request at top level with Kafka's message; otherwise
/// each refused topic is answered with its message (and the zero id, as KafkaApis leaves it).
fn delete_share_group_offsets(o: &mut Out, req: &Node<'_>, e: &Codes<'_>) {
    let group_code = e.group(req.str("group_id").unwrap_or_default());
    o.i32(0); // throttle_time_ms
    o.i16(group_code);
    if group_code != error_code::NONE {
        write_message(o, group_code);
        o.count(0);
        return;
    }
    o.null_str(); // error_message
    each_node(o, req, "topics", |o, topic| {
        let name = topic.str("topic_name").unwrap_or_default();
        let code = e.topic(name);
        o.str(name);
        o.uuid_zero();
        o.i16(code);
        write_message(o, code);
    });
}

/// DescribeShareGroupOffsets: per group; a refused group GROUP_AUTHORIZATION_FAILED without topics (no message),
/// each refused topic of an allowed group per partition: no offset (-1), TOPIC_AUTHORIZATION_FAILED and its
/// message, the zero id (KafkaApis' `describeShareGroupOffsetsForGroup`).
fn describe_share_group_offsets(o: &mut Out, req: &Node<'_>, e: &Codes<'_>) {
    o.i32(0); // throttle_time_ms
    each_node(o, req, "groups", |o, group| {
        let group_id = group.str("group_id").unwrap_or_default();
        let group_code = e.group(group_id);
        o.str(group_id);
        if group_code != error_code::NONE {
            o.count(0);
        } else {
            each_node(o, group, "topics", |o, topic| {
                let name = topic.str("topic_name").unwrap_or_default();
                let code = e.topic(name);
                o.str(name);
                o.uuid_zero();
                o.count(topic.len("partitions"));
                for partition in topic.items("partitions") {
                    o.i32(partition.int().unwrap_or_default() as i32);
                    o.i64(-1); // start_offset
                    o.i32(0); // leader_epoch
                    o.i16(code);
                    write_message(o, code);
                    o.tags();
                }
            });
        }
        o.i16(group_code);
        o.null_str(); // error_message
    });
}

/// One response struct per topic of a request's topic array, each with one struct per partition.
fn per_partition(
    o: &mut Out,
    req: &Node<'_>,
    topics: &str,
    name: &str,
    (list, index): (&str, &str),
    code: impl Fn(&str) -> i16,
    partition: impl Fn(&mut Out, i32, i16),
) {
    each_node(o, req, topics, |o, topic| {
        match topic.id("topic_id") {
            Some(id) => o.uuid(&id),
            None => o.str(topic.str(name).unwrap_or_default()),
        }
        let code = code(&topic.topic(name).unwrap_or_default());
        o.count(topic.len(list));
        for item in topic.items(list) {
            let partition_index = match item {
                Val::Struct(Some(p)) => p.int(index),
                other => other.int(),
            };
            partition(o, partition_index.unwrap_or_default() as i32, code);
            o.tags();
        }
    });
}

/// One response struct per element of a request's struct array (tagged fields closed here).
fn each_node<'a>(o: &mut Out, req: &Node<'a>, list: &str, mut write: impl FnMut(&mut Out, &Node<'a>)) {
    o.count(req.len(list));
    for node in req.nodes(list) {
        write(o, node);
        o.tags();
    }
}

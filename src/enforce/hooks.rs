//! The parts of Kafka's error responses that are logic rather than shape, named by the rows (`shapes`).

use kafka_protocol::messages::ApiKey;

use super::writer::{Ctx, Env, Out};
use super::{first_error, Codes};
use crate::classify::{coordinator_resource, topic_key_name, walk_produce, TopicKey};
use crate::protocol::config_resource::config_resource;
use crate::protocol::error_code;
use crate::protocol::layout::Node;

/// Produce, read by the classifier's walker: the transactional id's error first, then the topic's.
pub(super) fn produce(o: &mut Out, _: &Ctx<'_, '_>, env: &Env<'_>) -> Result<(), String> {
    let (e, body) = (env.codes, env.body);
    let req = walk_produce(o.v, body, body.len(), true).map_err(|stop| format!("Produce: {stop:?}"))?;
    let txn_code = req.transactional_id.map_or(error_code::NONE, |id| e.txn(id));
    o.count(req.topics.len());
    for (key, partitions) in &req.topics {
        let code = first_error(&[txn_code, e.topic(&topic_key_name(key))]);
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

/// Fetch and OffsetForLeaderEpoch: Kafka answers a refused follower (replica_id >= 0) per partition too.
pub(super) fn follower_or_topic(ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    if ctx.root().int("replica_id").unwrap_or(-1) >= 0 {
        return Ok(e.cluster_as_topic());
    }
    Ok(e.topic(&ctx.topic("topic").unwrap_or_default()))
}

/// FindCoordinator: a key (the request's, or one of a v4+ batch) is a group or a transactional id.
pub(super) fn coordinator(ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    let resource_type = coordinator_resource(ctx.root().int("key_type").unwrap_or(0))?;
    Ok(e.code(resource_type, ctx.str("key").unwrap_or_default()))
}

/// InitProducerId: the transactional id's, or without one the cluster's (IdempotentWrite).
pub(super) fn txn_or_cluster(ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    Ok(match ctx.str("transactional_id") {
        Some(id) => e.txn(id),
        None => e.cluster(),
    })
}

/// AddPartitionsToTxn: when any partition is refused, Kafka answers the others OPERATION_NOT_ATTEMPTED, so the
/// client never believes them added.
pub(super) fn not_attempted(ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    let Some(req) = ctx.node() else {
        return Ok(error_code::NONE);
    };
    let txn_code = e.txn(req.str("v3_and_below_transactional_id").unwrap_or_default());
    let refused = req
        .nodes("v3_and_below_topics")
        .any(|t| first_error(&[txn_code, e.topic(t.str("name").unwrap_or_default())]) != error_code::NONE);
    Ok(if refused { error_code::OPERATION_NOT_ATTEMPTED } else { error_code::NONE })
}

/// A config resource is checked as a topic, a group or the cluster (brokers, loggers, client metrics).
pub(super) fn config_code(ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    let resource_type = ctx.int("resource_type").unwrap_or_default() as i8;
    let (checked, name) = config_resource(resource_type, ctx.str("resource_name").unwrap_or_default())?;
    Ok(e.code(checked, name))
}

/// DeleteTopics v6: the id of a topic asked by id (null name), else the zero id.
pub(super) fn asked_id(o: &mut Out, ctx: &Ctx<'_, '_>, _: &Env<'_>) -> Result<(), String> {
    let by_id = ctx.node().filter(|t| t.str("name").is_none()).and_then(|t| t.id("topic_id"));
    o.uuid(&by_id.unwrap_or(crate::topic_ids::ZERO));
    Ok(())
}

/// Whether a ShareFetch piggybacks acknowledgements: then KafkaApis acknowledges every partition it names (an
/// empty batch list included), so each refused partition's acknowledgement is refused too (KafkaApis'
/// `isAcknowledgeDataPresent`, of the whole client request).
pub(super) fn acknowledges(req: &Node<'_>) -> bool {
    req.nodes("topics").any(|t| t.nodes("partitions").any(|p| p.len("acknowledgement_batches") > 0))
}

/// ShareFetch's acknowledge_error_code: the partition's code when the client's request acknowledges anything.
pub(super) fn acknowledge_code(o: &mut Out, ctx: &Ctx<'_, '_>, env: &Env<'_>) -> Result<(), String> {
    o.i16(if env.acknowledging { ctx.code } else { error_code::NONE });
    Ok(())
}

/// AlterShareGroupOffsets: the topic's id as the broker knows it (the learned one; zero when not learned).
pub(super) fn learned_id(o: &mut Out, ctx: &Ctx<'_, '_>, _: &Env<'_>) -> Result<(), String> {
    o.uuid(&crate::topic_ids::id_of(ctx.str("topic_name").unwrap_or_default()).unwrap_or_default());
    Ok(())
}

pub(super) fn consumer_heartbeat_code(ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    Ok(heartbeat_code(ApiKey::ConsumerGroupHeartbeat, ctx, e))
}

pub(super) fn share_heartbeat_code(ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    Ok(heartbeat_code(ApiKey::ShareGroupHeartbeat, ctx, e))
}

/// The error of a refused heartbeat, in KafkaApis' order: Read on the group; for a share group, a member id
/// Kafka rejects before looking at topics (INVALID_REQUEST); then Describe on the subscribed topics.
/// (A request refused whole gives an allowed group the first denial's code: only GROUP_AUTHORIZATION_FAILED says
/// the group itself was refused.)
fn heartbeat_code(key: ApiKey, ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> i16 {
    let Some(req) = ctx.node() else {
        return error_code::NONE;
    };
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

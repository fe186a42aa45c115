//! Enforcement: the Kafka error response a client gets for a denied request, encoded at the request's
//! API version and response-header version, so clients see real Kafka errors, never a disconnect.
//!
//! The responses mirror what Kafka's KafkaApis sends when authorization fails: the request's topics,
//! partitions, groups or transactional ids are echoed with an error code each, offsets and ids are -1,
//! no data, throttle time 0.
//!
//! Error codes come from `error_for(resource_type, name)` for every named resource, trusted as given: a
//! resource whose own check passed gets what the caller says (0 when the caller forwards that part
//! separately). Where one item depends on several resources (a partition of a transactional produce depends
//! on the transactional id and the topic), the first non-zero code in Kafka's check order wins. The one
//! exception is AddPartitionsToTxn, where Kafka itself answers OPERATION_NOT_ATTEMPTED for the partitions
//! that were not refused, so the client never believes them added.
//!
//! Every response is data (`shapes`: per API key, the response fields by version) written by one interpreter
//! (`writer`) over the request read with its layout (`protocol::layout::parse`), a few named hooks (`hooks`)
//! for what is logic: kafka-protocol's generated encoders for ~60 response types were the largest part of the
//! wasm module (measured again with `oracle` answering instead: 1,276,838 B against 1,024,310 B, +25%). A test
//! checks every answer byte for byte against kafka-protocol's encoding of the same response (`oracle`).

use crate::protocol::acl::{ResourceType, CLUSTER_NAME};
use crate::protocol::layout::{parse, Keep, Node};
use kafka_protocol::messages::ApiKey;

use crate::protocol::error_code;

mod hooks;
#[cfg(test)]
mod oracle;
mod shapes;
mod writer;

use writer::{Answer, Ctx, Elem, Env, Out};

/// The error message Kafka gives a topic CreateTopics may not create.
pub(crate) const CREATE_TOPICS_REFUSED: &str = "Authorization failed.";
/// Kafka's "authorized operations not requested/known" marker.
pub(super) const NO_AUTHORIZED_OPERATIONS: i32 = i32::MIN;

/// Builds the complete response frame (4-byte size, response header, body) answering a denied request.
/// `body` is the complete request body (after the request header). `error_for(resource_type, name)` gives
/// the error code for each named resource in the request (e.g. TOPIC_AUTHORIZATION_FAILED);
/// request-level errors use the code for the request's main resource.
pub fn error_response(
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &[u8],
    error_for: &dyn Fn(ResourceType, &str) -> i16,
) -> Result<Vec<u8>, String> {
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    let max = crate::protocol::api::lookup(api_key).map_or(-1, |e| e.max_version);
    let v = api_version;
    if v < crate::protocol::api::min_version(api_key) || v > max {
        return Err(format!("{key:?} v{v} is not supported"));
    }
    let parsed = || parse(key, v, body, Keep::All).map_err(|reason| format!("{key:?} v{v}: {reason}"));
    let Some(answer) = shapes::answer(key) else {
        parsed()?; // an API without a layout either says so
        return Err(format!("no error response for {key:?}"));
    };
    let req = if answer.read { parsed()? } else { Node::default() };
    let e = Codes(error_for);
    // Only ShareFetch's answer depends on whether the request acknowledges anything.
    let acknowledging = key == ApiKey::ShareFetch && hooks::acknowledges(&req);
    let env = Env { codes: &e, body, message: None, acknowledging };
    write_answer(answer, (api_key, v, correlation_id), &req, &env)
}

/// The frame answering `req` (API key, version, correlation id) with `answer`'s rows.
fn write_answer(
    answer: &Answer,
    (api_key, v, correlation_id): (i16, i16, i32),
    req: &Node<'_>,
    env: &Env<'_>,
) -> Result<Vec<u8>, String> {
    let mut top = Ctx::top(Elem::Node(req), error_code::NONE);
    top.code = writer::eval(&answer.code, &top, env.codes)?;
    let mut o = Out::frame(api_key, v, correlation_id);
    writer::write(&mut o, answer.rows, &top, env)?;
    Ok(o.finish())
}

/// A piece of a response (no frame): `rows` for one name answered with `code` and `message`, then its tagged
/// fields.
fn piece(api_key: i16, version: i16, rows: &[writer::Row], name: &str, code: i16, message: Option<&str>) -> Vec<u8> {
    let mut o = Out::body(api_key, version);
    let none = |_: ResourceType, _: &str| error_code::NONE;
    let env = Env { codes: &Codes(&none), body: &[], message, acknowledging: false };
    // These rows echo only the name and compute no code: nothing can fail.
    let _ = writer::write(&mut o, rows, &Ctx::top(Elem::Str(name), code), &env);
    o.tags();
    o.buf
}

/// A Metadata response's entry for a topic answered with `code` and nothing else, for the filter's entries
/// appended to a broker's Metadata response.
pub(crate) fn metadata_topic_entry(version: i16, name: &str, code: i16) -> Vec<u8> {
    piece(ApiKey::Metadata as i16, version, shapes::METADATA_TOPIC, name, code, None)
}

/// A DescribeTopicPartitions response's entry for a topic the principal may not Describe, for the filter's
/// entries appended to a broker's answer.
pub(crate) fn describe_topic_partitions_refused_topic(version: i16, name: &str) -> Vec<u8> {
    let code = error_code::TOPIC_AUTHORIZATION_FAILED;
    piece(ApiKey::DescribeTopicPartitions as i16, version, shapes::DESCRIBE_TOPIC_PARTITIONS_TOPIC, name, code, None)
}

/// The filter's whole DescribeTopicPartitions answer when none of the named topics is left to ask the broker:
/// `names` refused, no next cursor.
pub(crate) fn describe_topic_partitions_refused(version: i16, correlation_id: i32, names: &[String]) -> Vec<u8> {
    let mut o = Out::frame(ApiKey::DescribeTopicPartitions as i16, version, correlation_id);
    o.i32(0); // throttle_time_ms
    o.count(names.len());
    for name in names {
        o.buf.extend(describe_topic_partitions_refused_topic(version, name));
    }
    o.i8(-1); // next_cursor: null
    o.finish()
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

/// The filter's answer to the refused topics of a split ShareFetch (`denied_body`: the request with those
/// alone), their acknowledgements refused as the whole client request (`client_body`) acknowledges anything.
pub(crate) fn share_fetch_refused_topics(
    api_version: i16,
    correlation_id: i32,
    denied_body: &[u8],
    client_body: &[u8],
    error_for: &dyn Fn(ResourceType, &str) -> i16,
) -> Result<Vec<u8>, String> {
    let key = ApiKey::ShareFetch;
    let read = |body| parse(key, api_version, body, Keep::All).map_err(|reason| format!("ShareFetch: {reason}"));
    let acknowledging = hooks::acknowledges(&read(client_body)?);
    let e = Codes(error_for);
    let env = Env { codes: &e, body: denied_body, message: None, acknowledging };
    write_answer(&shapes::SHARE_FETCH, (key as i16, api_version, correlation_id), &read(denied_body)?, &env)
}

/// A ConsumerGroupHeartbeat answer with this error and message: the filter's refusal of a regex subscription.
pub(crate) fn heartbeat_refusal(api_version: i16, correlation_id: i32, code: i16, message: &str) -> Vec<u8> {
    let mut o = Out::frame(ApiKey::ConsumerGroupHeartbeat as i16, api_version, correlation_id);
    let none = |_: ResourceType, _: &str| error_code::NONE;
    let env = Env { codes: &Codes(&none), body: &[], message: Some(message), acknowledging: false };
    // Constant rows and the code given: nothing can fail.
    let _ = writer::write(&mut o, shapes::HEARTBEAT_ANSWER, &Ctx::top(Elem::Str(""), code), &env);
    o.finish()
}

/// The message Kafka gives a described group with assigned topics the principal may not Describe.
pub(crate) const UNDESCRIBABLE_ASSIGNMENT: &str =
    "The group has described topic(s) that the client is not authorized to describe.";

/// A described group (ConsumerGroupDescribe or ShareGroupDescribe, without the frame) as Kafka answers a group
/// with assigned topics the principal may not Describe: TOPIC_AUTHORIZATION_FAILED, its message, no members.
pub(crate) fn undescribable_group(api_key: i16, api_version: i16, group_id: &str) -> Vec<u8> {
    let code = error_code::TOPIC_AUTHORIZATION_FAILED;
    piece(api_key, api_version, shapes::DESCRIBED_GROUP, group_id, code, Some(UNDESCRIBABLE_ASSIGNMENT))
}

/// Per-resource error codes from the caller.
pub(super) struct Codes<'a>(&'a dyn Fn(ResourceType, &str) -> i16);

impl Codes<'_> {
    pub(super) fn code(&self, resource_type: ResourceType, name: &str) -> i16 {
        (self.0)(resource_type, name)
    }
    pub(super) fn topic(&self, name: &str) -> i16 {
        self.code(ResourceType::Topic, name)
    }
    pub(super) fn group(&self, name: &str) -> i16 {
        self.code(ResourceType::Group, name)
    }
    pub(super) fn txn(&self, name: &str) -> i16 {
        self.code(ResourceType::TransactionalId, name)
    }
    pub(super) fn cluster(&self) -> i16 {
        self.code(ResourceType::Cluster, CLUSTER_NAME)
    }
    /// A refused follower request is answered per partition with TOPIC_AUTHORIZATION_FAILED (Kafka).
    pub(super) fn cluster_as_topic(&self) -> i16 {
        if self.cluster() != error_code::NONE {
            error_code::TOPIC_AUTHORIZATION_FAILED
        } else {
            error_code::NONE
        }
    }
}

pub(super) fn first_error(codes: &[i16]) -> i16 {
    codes.iter().copied().find(|c| *c != error_code::NONE).unwrap_or(error_code::NONE)
}

#[cfg(test)]
mod tests;

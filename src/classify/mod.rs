//! Request classification: from a request body to the authorization questions Kafka's authorizer asks
//! (KafkaApis / "Operations and Resources on Protocols").
//!
//! Produce is classified from a prefix by a walker of its own (`produce`) that skips record batches by their
//! length, so a 10 MiB produce is decided as soon as its last topic name has arrived. Fetch, which every
//! consumer sends in a loop, has a walker of its own too (`fetch`, held to the layout reading by a test).
//! Every other API is read from the complete body with its layout (`protocol::layout`), keeping only the
//! named fields authorization asks about (`requirements`).
//!
//! Choices where the filter cannot ask exactly what Kafka asks:
//! - Metadata for all topics: no requirement; the response must be filtered to described topics later.
//!   Topic auto-creation (Create Cluster/Topic) is not checked here either.
//! - ListGroups / ListTransactions: Kafka never fails them, it filters the listing by Describe Group /
//!   TransactionalId (ListGroups: Describe Cluster shows every group). No requirement here; the response
//!   is filtered to the describable entries (session::visibility).
//! - OffsetFetch for all topics (null topics, v2+; per group in v8+): Describe Group only; the response's
//!   topics are filtered to the describable ones.
//! - DescribeTopicPartitions: like Metadata, Describe Topic per named topic (a denied one is answered
//!   TOPIC_AUTHORIZATION_FAILED, not refused); all topics: no requirement, the response is filtered.
//! - InitProducerId without transactional id: Kafka (3.0+) allows IdempotentWrite Cluster OR Write on *any*
//!   topic. An `Action` names one resource: IdempotentWrite Cluster is the requirement, and `authorize` asks
//!   Write on any topic when it is denied.
//! - DescribeCluster: Kafka checks nothing (Describe Cluster only gates the authorized-operations field);
//!   no requirement.
//! - Fetch sessions (v7+): the topics listed are checked; partitions cached in an incremental fetch session
//!   were checked when they were listed.
//! - Requests addressing topics by id (Fetch v13+, Produce v13, ShareFetch, ShareAcknowledge) are decided on the names learned from the
//!   broker (`crate::topic_ids`); an id not learned yet is [`Classification::UnknownTopicIds`], resolved by
//!   the session (`session::topic_resolution`).
//! - Requests addressing topics by id (Metadata v10+, DeleteTopics v6) are Unsupported when a name is absent.
//! - ConsumerGroupHeartbeat's regex (v1): Kafka's coordinator resolves it to the topics the member may Describe,
//!   which a broker behind the filter cannot do; the session admits it only when every topic it can match is
//!   describable (`session::regex_subscription`). The owned partitions (by topic id) Kafka does not authorize.

mod fetch;
mod produce;
mod requirements;

use kafka_protocol::messages::ApiKey;

use crate::protocol::api;
use crate::protocol::layout::{Keep, Stop};
use fetch::fetch_requirements;
pub(crate) use fetch::{walk_fetch, MAX_FETCH_VERSION};
use produce::produce_requirements;
pub(crate) use produce::{produce_topic_entries, walk_produce};
#[cfg(test)]
pub(crate) use requirements::cluster_only_operation;
use requirements::requirements_of;
pub(crate) use requirements::{cluster, coordinator_resource, Needs};
pub use requirements::{Requirement, Requirements};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification<'a> {
    /// More of the body is needed to decide (only returned when `body_prefix` is shorter than the body).
    NeedMore,
    /// ApiVersions, SaslHandshake, SaslAuthenticate: always allowed, never checked.
    Unchecked,
    /// All requirements must be satisfied. `expects_response` is false for Produce with acks=0.
    Checks { requirements: Requirements<'a>, expects_response: bool },
    /// The filter cannot parse this API key/version: denied (fail closed) unless configured otherwise.
    Unsupported(String),
    /// The request addresses topics by ids the filter has not learned: decided once they are resolved.
    /// `expects_response` is false for Produce with acks=0.
    UnknownTopicIds { ids: Vec<crate::topic_ids::TopicUuid>, expects_response: bool },
}

/// The requirements of a complete Produce or Fetch request on the topics whose ids the filter has learned
/// (the others left out): what is known of a request answered once its ids were resolved.
pub(crate) fn learned_requirements(api_key: i16, api_version: i16, body: &[u8]) -> Option<Requirements<'_>> {
    if api_key == ApiKey::Produce as i16 {
        let produce = walk_produce(api_version, body, body.len(), false).ok()?;
        return Some(produce_requirements(&produce).0);
    }
    if api_key == ApiKey::Fetch as i16 {
        return fetch_requirements(api_version, body).ok().map(|(requirements, _)| requirements);
    }
    if api_key == ApiKey::DeleteTopics as i16
        || api_key == ApiKey::ShareFetch as i16
        || api_key == ApiKey::ShareAcknowledge as i16
    {
        return requirements_of(api_key, api_version, body).ok();
    }
    None
}

/// Whether a Metadata request asks by topic id: any id not zero (Kafka then ignores every name, and Kafka's
/// Java client sends "" for the names).
pub(crate) fn metadata_by_id(request: &crate::protocol::layout::Node<'_>) -> bool {
    request.nodes("topics").any(|t| t.id("topic_id").is_some_and(|id| id != crate::topic_ids::ZERO))
}

/// The topic ids of a DeleteTopics v6+ request (named by id: null name) the filter has not learned.
fn delete_topics_unknown_ids(version: i16, body: &[u8]) -> Vec<crate::topic_ids::TopicUuid> {
    let Ok(request) = crate::protocol::layout::parse(ApiKey::DeleteTopics, version, body, Keep::Resources) else {
        return Vec::new(); // malformed: requirements_of says why
    };
    let mut unknown = Vec::new();
    for topic in request.nodes("topics") {
        if let (None, Some(id)) = (topic.str("name"), topic.id("topic_id")) {
            if crate::topic_ids::name_of(&id).is_none() && !unknown.contains(&id) {
                unknown.push(id);
            }
        }
    }
    unknown
}

/// The topic ids of a ShareFetch or ShareAcknowledge request (always by id) the filter has not learned.
fn share_unknown_ids(api_key: i16, version: i16, body: &[u8]) -> Vec<crate::topic_ids::TopicUuid> {
    let Ok(key) = ApiKey::try_from(api_key) else {
        return Vec::new();
    };
    let Ok(request) = crate::protocol::layout::parse(key, version, body, Keep::Resources) else {
        return Vec::new(); // malformed: requirements_of says why
    };
    let mut unknown = Vec::new();
    for topic in request.nodes("topics") {
        if let Some(id) = topic.id("topic_id") {
            if crate::topic_ids::name_of(&id).is_none() && !unknown.contains(&id) {
                unknown.push(id);
            }
        }
    }
    unknown
}

/// The name a topic key is authorized and answered by: its name, or the name learned for its id ("" for
/// a null name or an id not learned).
pub(crate) fn topic_key_name<'a>(key: &TopicKey<'a>) -> std::borrow::Cow<'a, str> {
    match key {
        TopicKey::Name(name) => std::borrow::Cow::Borrowed(name.unwrap_or_default()),
        TopicKey::Id(id) => {
            std::borrow::Cow::Owned(crate::topic_ids::name_of(id).map(|n| n.to_string()).unwrap_or_default())
        }
    }
}

/// A topic as a request addresses it: by name (`None`: null) or, in the topic-id versions, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKey<'a> {
    Name(Option<&'a str>),
    Id(crate::topic_ids::TopicUuid),
}

/// Part of the handshake/authentication, or never authorized by Kafka: any version, never checked.
/// ApiVersions must pass even above the supported range: the broker answers those with v0.
/// Compared as numbers: kafka-protocol's conversion to `ApiKey` is a match over every key, on every request.
fn unchecked(api_key: i16) -> bool {
    const UNCHECKED: [ApiKey; 5] = [
        ApiKey::ApiVersions,
        ApiKey::SaslHandshake,
        ApiKey::SaslAuthenticate,
        ApiKey::GetTelemetrySubscriptions,
        ApiKey::PushTelemetry,
    ];
    UNCHECKED.iter().any(|&key| key as i16 == api_key)
}

/// Why the filter cannot read requests of this API key and version (`None`: it reads them, or never checks
/// them): decided from the request header's fixed part alone, before any of the body has arrived.
pub(crate) fn unsupported(api_key: i16, api_version: i16) -> Option<String> {
    if unchecked(api_key) {
        return None;
    }
    readable(api_key, api_version).err()
}

/// `Ok` when the filter reads this version of the API; why not otherwise.
fn readable(api_key: i16, api_version: i16) -> Result<(), String> {
    if api::reads(api_key, api_version) {
        return Ok(());
    }
    Err(unreadable(api_key, api_version))
}

#[cold]
fn unreadable(api_key: i16, api_version: i16) -> String {
    let Some(entry) = api::lookup(api_key) else {
        return format!("unknown API key {api_key}");
    };
    let min_version = api::min_version(api_key);
    format!(
        "{} v{api_version} is not supported (supported: {})",
        entry.name,
        if entry.max_version < 0 { "none".to_string() } else { format!("v{min_version}-v{}", entry.max_version) }
    )
}

/// Classifies one request. `body_prefix` starts right after the request header; `body_len` is the full
/// body length (the frame may still be arriving). Must never panic on any input.
pub fn classify(api_key: i16, api_version: i16, body_prefix: &[u8], body_len: usize) -> Classification<'_> {
    if unchecked(api_key) {
        return Classification::Unchecked;
    }
    if let Err(reason) = readable(api_key, api_version) {
        return Classification::Unsupported(reason);
    }
    let prefix = body_prefix.get(..body_len).unwrap_or(body_prefix);
    if api_key == ApiKey::Produce as i16 {
        return match walk_produce(api_version, prefix, body_len, false) {
            Ok(produce) => match produce_requirements(&produce) {
                (requirements, ids) if ids.is_empty() => {
                    Classification::Checks { expects_response: produce.acks != 0, requirements }
                }
                (_, ids) => Classification::UnknownTopicIds { ids, expects_response: produce.acks != 0 },
            },
            Err(Stop::NeedMore) => Classification::NeedMore,
            Err(Stop::Bad(reason)) => Classification::Unsupported(format!("malformed Produce: {reason}")),
        };
    }
    if prefix.len() < body_len {
        return Classification::NeedMore;
    }
    if api_key == ApiKey::Fetch as i16 {
        // Every consumer sends one Fetch after another: read by a walker written for it, which keeps
        // nothing but the topic names (the layout walk builds a tree of every named field).
        return match fetch_requirements(api_version, prefix) {
            Ok((requirements, ids)) if ids.is_empty() => {
                Classification::Checks { requirements, expects_response: true }
            }
            Ok((_, ids)) => Classification::UnknownTopicIds { ids, expects_response: true },
            Err(reason) => Classification::Unsupported(format!("{} v{api_version}: {reason}", api::api_name(api_key))),
        };
    }
    if api_key == ApiKey::DeleteTopics as i16 && api_version >= 6 {
        // By id: decided on learned names; ids not learned are resolved first.
        let unknown = delete_topics_unknown_ids(api_version, prefix);
        if !unknown.is_empty() {
            return Classification::UnknownTopicIds { ids: unknown, expects_response: true };
        }
    }
    if api_key == ApiKey::ShareFetch as i16 || api_key == ApiKey::ShareAcknowledge as i16 {
        // By id only: decided on learned names; ids not learned are resolved first.
        let unknown = share_unknown_ids(api_key, api_version, prefix);
        if !unknown.is_empty() {
            return Classification::UnknownTopicIds { ids: unknown, expects_response: true };
        }
    }
    match requirements_of(api_key, api_version, prefix) {
        Ok(requirements) => Classification::Checks { requirements, expects_response: true },
        Err(reason) => Classification::Unsupported(format!("{} v{api_version}: {reason}", api::api_name(api_key))),
    }
}

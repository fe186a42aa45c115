//! Topic ids the filter has not learned, resolved from the broker before the request is decided.
//!
//! A proxy-wasm network filter cannot hold a client's request and send it later on its own (it can only
//! write upstream while handling client bytes, and Envoy does not call it again for an empty read buffer).
//! So a request that names an id not learned yet is not held: it is swapped, like a denied request, for the
//! filter's own Metadata request by id (v12, the first version Kafka answers by id) with the same
//! correlation id. Its answer teaches the filter the names (`crate::topic_ids`), and the client gets, in its
//! place, the answer Kafka gives for an id it cannot use yet: UNKNOWN_TOPIC_ID for the request's topics
//! (retriable: Kafka's clients and librdkafka refresh their metadata and send the request again, now decided
//! on the learned names), or at once TOPIC_AUTHORIZATION_FAILED for a topic whose learned name the principal
//! may not use (Kafka's final answer). Nothing of the client's request reached the broker, so a retry has no
//! side effect to repeat. A Produce with acks=0 expects no answer: it is dropped, as a denied one is, and the
//! next one is decided on the learned name.

use kafka_protocol::messages::ApiKey;

use super::events::{DecisionRecord, Event};
use super::state::{Core, ResponseAction, Unresolved};
use crate::authorize::Asked;
use crate::classify::learned_requirements;
use crate::frame::Verdict;
use crate::metrics::RequestDecision;
use crate::protocol::acl::ResourceType;
use crate::protocol::error_code::{self, authorization_error};
use crate::protocol::layout::{self, Entry, Reader};
use crate::protocol::wire;
use crate::topic_ids::{self, TopicUuid};

/// The Metadata version of the filter's own request: the first that Kafka answers by topic id.
pub(super) const RESOLVE_METADATA_VERSION: i16 = 12;

/// Swaps the request for the filter's Metadata request for `ids` (same correlation id).
pub(super) fn resolve(
    core: &mut Core,
    header: &wire::RequestHeader<'_>,
    body: &[u8],
    ids: &[TopicUuid],
    expects_response: bool,
) -> Verdict {
    let asked: Vec<TopicUuid> = ids.iter().copied().filter(|id| *id != topic_ids::ZERO).collect();
    if asked.is_empty() {
        // Only the zero id: no topic has it (Kafka answers UNKNOWN_TOPIC_ID); nothing to ask the broker.
        core.count_request(header.api_key, RequestDecision::Denied);
        if !expects_response {
            return Verdict::Replace(Vec::new());
        }
        let error_for = |rt: ResourceType, _: &str| {
            if rt == ResourceType::Topic {
                error_code::UNKNOWN_TOPIC_ID
            } else {
                error_code::NONE
            }
        };
        return match crate::enforce::error_response(
            header.api_key,
            header.api_version,
            header.correlation_id,
            body,
            &error_for,
        ) {
            Ok(answer) => core.answer_in_place(header, answer),
            Err(e) => Verdict::Close(format!("request with the zero topic id cannot be answered: {e}").into()),
        };
    }
    let request = metadata_by_id(&asked);
    let frame = wire::request_frame(
        ApiKey::Metadata as i16,
        RESOLVE_METADATA_VERSION,
        header.correlation_id,
        header.client_id,
        &request,
    );
    let unresolved = Unresolved {
        api_key: header.api_key,
        api_version: header.api_version,
        client_id: header.client_id.map(str::to_string),
        body: body.to_vec(),
        expects_response,
    };
    core.push_inflight(
        header,
        (ApiKey::Metadata as i16, RESOLVE_METADATA_VERSION),
        ResponseAction::ResolveTopicIds(Box::new(unresolved)),
    );
    Verdict::Replace(frame)
}

/// A Metadata v12 request body for these topic ids (names null), no auto-creation, no authorized operations.
fn metadata_by_id(ids: &[TopicUuid]) -> Vec<u8> {
    let mut body = Vec::with_capacity(3 + ids.len() * 18);
    wire::write_array_count(&mut body, ids.len() as u32, true);
    for id in ids {
        body.extend_from_slice(id);
        body.push(0); // name: null
        body.push(0); // tagged fields
    }
    body.push(0); // allow_auto_topic_creation
    body.push(0); // include_topic_authorized_operations
    body.push(0); // tagged fields
    body
}

/// The broker's answer to the filter's Metadata request: the ids it names are learned, then the client's
/// request is answered (see the module doc).
pub(super) fn resolved(core: &mut Core, frame: &[u8], correlation_id: i32, unresolved: &Unresolved) -> Verdict {
    let offset = wire::response_body_offset(ApiKey::Metadata as i16, RESOLVE_METADATA_VERSION);
    let body = frame.get(offset..).unwrap_or_default();
    if let Err(e) = learn_from_metadata(RESOLVE_METADATA_VERSION, body) {
        return Verdict::Close(format!("Metadata response to the filter's topic id request: {e}").into());
    }
    let Unresolved { api_key, api_version, client_id, body: request, expects_response } = unresolved;
    let (api_key, version) = (*api_key, *api_version);
    let ctx = core.request_ctx(api_key, version, client_id.as_deref());
    let mut denied: Vec<(ResourceType, String)> = Vec::new();
    let mut records = Vec::new();
    // The topics whose ids are now learned (an id the broker does not know stays unknown).
    if let Some(requirements) = learned_requirements(api_key, version, request) {
        for requirement in &requirements {
            let outcome = crate::authorize::requirement(&core.cfg.authorizer, &ctx, requirement, |_| {});
            if let Some(Asked { action, decision }) = outcome.deciding {
                if !outcome.satisfied {
                    denied.push((action.resource_type, action.name.to_string()));
                }
                if !outcome.satisfied || core.cfg.log_allowed {
                    let asked = Some((action.op, action.resource_type, &*action.name));
                    let rule = decision.rule.into_owned();
                    let request = (api_key, version, correlation_id);
                    records.push(DecisionRecord::new(
                        request,
                        client_id.as_deref(),
                        asked,
                        outcome.satisfied,
                        false,
                        rule,
                    ));
                }
            }
        }
    }
    if denied.is_empty() {
        // Logged as an allowed decision of the request: the one retry a cold id costs is visible.
        let names: Vec<String> = unresolved_names(request, api_key, version);
        let rule = format!(
            "topic ids resolved from the broker ({}): answered UNKNOWN_TOPIC_ID, the client retries",
            names.join(", ")
        );
        records.push(DecisionRecord::new(
            (api_key, version, correlation_id),
            client_id.as_deref(),
            None,
            true,
            false,
            rule,
        ));
    }
    core.events.extend(records.into_iter().map(Event::Decision));
    let decision = if denied.is_empty() { RequestDecision::Allowed } else { RequestDecision::Denied };
    core.count_request(api_key, decision);
    if !expects_response {
        // Produce with acks=0: the client expects no answer.
        return Verdict::Replace(Vec::new());
    }
    // A denied resource gets Kafka's authorization error (final); the request's other topics, UNKNOWN_TOPIC_ID:
    // the client retries on the names now learned.
    let error_for = |rt: ResourceType, name: &str| {
        if denied.iter().any(|(t, n)| *t == rt && n == name) {
            authorization_error(rt)
        } else if rt == ResourceType::Topic {
            error_code::UNKNOWN_TOPIC_ID
        } else {
            error_code::NONE
        }
    };
    match crate::enforce::error_response(api_key, version, correlation_id, request, &error_for) {
        Ok(answer) => Verdict::Replace(answer),
        Err(e) => Verdict::Close(format!("request with unknown topic ids cannot be answered: {e}").into()),
    }
}

/// `id=name` (or `id=?` when not learned) for each topic id of a Fetch or Produce request, for the log.
fn unresolved_names(request: &[u8], api_key: i16, version: i16) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |id: &TopicUuid| {
        let name = topic_ids::name_of(id).map_or_else(|| "?".to_string(), |n| n.to_string());
        let entry = format!("{}={name}", topic_ids::display(id));
        if !out.contains(&entry) {
            out.push(entry);
        }
    };
    if api_key == ApiKey::Fetch as i16 {
        let _ = crate::classify::walk_fetch(version, request, |key| {
            if let crate::classify::TopicKey::Id(id) = key {
                note(&id);
            }
        });
    } else if let Ok(produce) = crate::classify::walk_produce(version, request, request.len(), false) {
        for (key, _) in &produce.topics {
            if let crate::classify::TopicKey::Id(id) = key {
                note(id);
            }
        }
    }
    out
}

/// Learns the topic ids a Metadata response names (every entry with a name and an id, whatever the
/// principal may see: the broker's word is the truth about ids).
pub(super) fn learn_from_metadata(version: i16, body: &[u8]) -> Result<(), String> {
    if version < 10 {
        return Ok(());
    }
    layout::filter_listing(&layout::METADATA_LISTING, version, body, &[], &mut |name, bytes| {
        learn_entry(name, bytes, version >= 9);
        Ok(Entry::Keep)
    })
    .map(|_| ())
}

/// The topic id of a Metadata (v10+) or DescribeTopicPartitions topic entry.
pub(super) fn entry_id(entry: &[u8], flexible: bool) -> Option<TopicUuid> {
    let mut r = Reader::new(entry, entry.len());
    r.i16().and_then(|_| r.string(flexible)).and_then(|_| r.array::<16>()).ok()
}

/// Learns from one topic entry of a Metadata (v10+) or DescribeTopicPartitions response: error_code, name,
/// topic_id come first in both.
pub(super) fn learn_entry(name: Option<&str>, entry: &[u8], flexible: bool) {
    if let (Some(name), Some(id)) = (name, entry_id(entry, flexible)) {
        topic_ids::learn(id, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataRequest;
    use kafka_protocol::protocol::Decodable;

    #[test]
    fn the_filters_metadata_request_asks_by_id() {
        let ids = [[1u8; 16], [2u8; 16]];
        let body = metadata_by_id(&ids);
        let decoded = MetadataRequest::decode(&mut body.as_slice(), RESOLVE_METADATA_VERSION).expect("decodes");
        let topics = decoded.topics.expect("named topics");
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[0].topic_id.as_bytes(), &[1u8; 16]);
        assert!(topics[0].name.is_none());
        assert!(!decoded.allow_auto_topic_creation);
    }
}

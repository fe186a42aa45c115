//! What a principal may not Describe, it never sees: Metadata requests lose the topics it may not
//! Describe (and auto-creation without Create), Metadata responses are filtered to the describable topics.

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::{error_code, substitute_request, Core, DecisionRecord, Event, ResponseAction};
use crate::frame::Verdict;
use crate::metrics::RequestDecision;
use crate::policy::{Action, Mode, Operation, RequestCtx, ResourceType};
use crate::wire;

/// May the connection's principal Describe this topic? (Metadata filtering asks per topic.)
fn may_describe_topic(core: &Core, api_version: i16, client_id: Option<&str>, topic: &str) -> crate::policy::Decision {
    let ctx = RequestCtx {
        principal: core.identity.as_ref().map(|i| i.principal.as_str()).unwrap_or("User:ANONYMOUS"),
        host: &core.host,
        api_key: ApiKey::Metadata as i16,
        api_version,
        client_id,
    };
    let action = Action { op: Operation::Describe, resource_type: ResourceType::Topic, name: topic.to_string() };
    core.cfg.authorizer.authorize(&ctx, &action)
}

/// Metadata, as Kafka's authorizer treats it: topics the principal may not Describe are absent from an
/// all-topics listing and answered TOPIC_AUTHORIZATION_FAILED when named; they are removed from the
/// forwarded request, and auto-creation is turned off unless Create on the topic or the cluster is allowed.
pub(super) fn metadata_request(core: &mut Core, header: &wire::RequestHeader<'_>, body: &[u8]) -> Verdict {
    use kafka_protocol::messages::MetadataRequest;
    let version = header.api_version;
    // classify() shape-checked this body, so decoding it cannot allocate beyond the frame.
    let mut request = match MetadataRequest::decode(&mut Bytes::copy_from_slice(body), version) {
        Ok(r) => r,
        Err(e) => return Verdict::Close(format!("Metadata v{version} request: {e}")),
    };
    let audit = core.cfg.authorizer.mode() == Mode::Audit;
    let ctx_principal = core.identity.as_ref().map(|i| i.principal.clone()).unwrap_or_default();
    let ctx = RequestCtx {
        principal: &ctx_principal,
        host: &core.host,
        api_key: header.api_key,
        api_version: version,
        client_id: header.client_id,
    };
    let mut denied_named = Vec::new();
    let mut events = Vec::new();
    let mut may_create_all = true;
    if let Some(topics) = request.topics.as_mut() {
        let before = topics.len();
        topics.retain(|t| {
            let name = t.name.as_ref().map(|n| n.as_str()).unwrap_or_default();
            let decision = may_describe_topic(core, version, header.client_id, name);
            if !decision.allowed {
                events.push(DecisionRecord {
                    api_key: header.api_key,
                    api_version: version,
                    correlation_id: header.correlation_id,
                    client_id: header.client_id.map(str::to_string),
                    resource_type: Some(ResourceType::Topic),
                    resource_name: Some(name.to_string()),
                    operation: Some(Operation::Describe),
                    allowed: false,
                    audit_only: audit,
                    rule: decision.rule,
                });
                denied_named.push(name.to_string());
                return audit;
            }
            let create = |resource_type, name: &str| Action { op: Operation::Create, resource_type, name: name.into() };
            may_create_all &= core.cfg.authorizer.authorize(&ctx, &create(ResourceType::Topic, name)).allowed
                || core
                    .cfg
                    .authorizer
                    .authorize(&ctx, &create(ResourceType::Cluster, crate::policy::CLUSTER_NAME))
                    .allowed;
            true
        });
        if before > 0 && topics.is_empty() && version == 0 {
            // v0 cannot say "no topics" (an empty list means all): answer it here.
            core.events.extend(events.into_iter().map(Event::Decision));
            let error_for = |_: ResourceType, _: &str| error_code::TOPIC_AUTHORIZATION_FAILED;
            return match crate::enforce::error_response(
                header.api_key,
                version,
                header.correlation_id,
                body,
                &error_for,
            ) {
                Ok(answer) => {
                    core.count_request(header.api_key, RequestDecision::Denied);
                    core.push_inflight(header, (ApiKey::ApiVersions as i16, 0), ResponseAction::Replace(answer));
                    Verdict::Replace(substitute_request(header.correlation_id))
                }
                Err(e) => Verdict::Close(format!("denied Metadata v0 cannot be answered: {e}")),
            };
        }
    }
    core.events.extend(events.into_iter().map(Event::Decision));
    let disable_auto_create = version >= 4 && request.allow_auto_topic_creation && !may_create_all && !audit;
    let changed = disable_auto_create || (!denied_named.is_empty() && !audit);
    if disable_auto_create {
        request.allow_auto_topic_creation = false;
    }
    let decision = match (denied_named.is_empty(), audit) {
        (true, _) => RequestDecision::Allowed,
        (false, true) => RequestDecision::AuditDenied,
        (false, false) => RequestDecision::Denied,
    };
    core.count_request(header.api_key, decision);
    core.push_inflight(
        header,
        (header.api_key, version),
        ResponseAction::FilterMetadata {
            denied_named: if audit { Vec::new() } else { denied_named },
            client_id: header.client_id.map(str::to_string),
        },
    );
    if !changed {
        return Verdict::Forward;
    }
    let mut encoded = Vec::with_capacity(body.len());
    if let Err(e) = request.encode(&mut encoded, version) {
        return Verdict::Close(format!("Metadata v{version} request re-encoding: {e}"));
    }
    Verdict::Replace(wire::request_frame(header.api_key, version, header.correlation_id, header.client_id, &encoded))
}

/// Rewrites a Metadata response: only topics the principal may Describe remain; the denied named topics
/// come back with TOPIC_AUTHORIZATION_FAILED and nothing else (no partitions, no id).
pub(super) fn filter_metadata_response(
    core: &Core,
    frame: &[u8],
    version: i16,
    denied_named: &[String],
    client_id: Option<&str>,
) -> Result<Vec<u8>, String> {
    use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
    use kafka_protocol::messages::{MetadataResponse, TopicName};
    let api_key = ApiKey::Metadata as i16;
    let body = frame.get(wire::response_body_offset(api_key, version)..).unwrap_or_default();
    let correlation_id = wire::response_correlation_id(frame).unwrap_or_default();
    // The broker's bytes are bounded before kafka-protocol allocates from their counts.
    crate::classify::check_metadata_response(version, body)?;
    let mut response =
        MetadataResponse::decode(&mut Bytes::copy_from_slice(body), version).map_err(|e| e.to_string())?;
    let audit = core.cfg.authorizer.mode() == Mode::Audit;
    if !audit {
        response.topics.retain(|t| {
            let name = t.name.as_ref().map(|n| n.as_str()).unwrap_or_default();
            may_describe_topic(core, version, client_id, name).allowed
        });
    }
    for name in denied_named {
        response.topics.push(
            MetadataResponseTopic::default()
                .with_error_code(error_code::TOPIC_AUTHORIZATION_FAILED)
                .with_name(Some(TopicName(kafka_protocol::protocol::StrBytes::from_string(name.clone()))))
                .with_topic_authorized_operations(i32::MIN),
        );
    }
    let mut out = Vec::with_capacity(body.len());
    response.encode(&mut out, version).map_err(|e| e.to_string())?;
    Ok(wire::response_frame(api_key, version, correlation_id, &out))
}

//! One request decided: classified, its requirements asked of the authorizer, then forwarded, narrowed,
//! split or answered in the broker's place.

use std::borrow::Cow;

use kafka_protocol::messages::ApiKey;

use super::events::{DecisionRecord, Event};
use super::split::{forward_allowed_part, partial_candidate};
use super::state::{Core, ResponseAction};
use super::visibility::{describe_topic_partitions_request, listing_filter, metadata_request};
use crate::authorize::Asked;
use crate::classify::{classify, Classification, Requirement};
use crate::config::Propagation;
use crate::frame::{CloseKind, CloseReason, Verdict};
use crate::metrics::{RequestDecision, Stat};
use crate::policy::Mode;
use crate::protocol::acl::{Action, ResourceType};
use crate::protocol::api::api_name;
use crate::protocol::error_code::{self, authorization_error};
use crate::protocol::wire::{self, HeaderParse, SIZE_PREFIX};

/// Classifies and decides one client request.
pub(super) fn decide_request(core: &mut Core, frame: &[u8], frame_len: usize) -> Verdict {
    let body = frame.get(SIZE_PREFIX..).unwrap_or_default();
    let body_len = frame_len.saturating_sub(SIZE_PREFIX);
    // Preamble-shaped bytes never get here: `early::judge_header` refuses them at every request boundary.
    let header = match wire::parse_request_header(body, body_len) {
        HeaderParse::Complete(h) => h,
        HeaderParse::Incomplete => return Verdict::NeedMore,
        HeaderParse::Malformed(why) => return Verdict::Close(why.into()),
    };
    core.first_request_seen = true;
    let is_sasl = header.api_key == ApiKey::SaslHandshake as i16 || header.api_key == ApiKey::SaslAuthenticate as i16;
    if is_sasl && core.cfg.propagation != Propagation::None {
        return Verdict::Close("client-sent SASL refused: the filter propagates the identity".into());
    }
    if !core.tracking {
        core.count_request(header.api_key, RequestDecision::Allowed);
        return Verdict::Forward;
    }
    let body_prefix = body.get(header.header_len..).unwrap_or_default();
    let request_body_len = body_len.saturating_sub(header.header_len);
    let classification = classify(header.api_key, header.api_version, body_prefix, request_body_len);
    let sole_topic = match &classification {
        Classification::Checks { requirements, .. } if header.api_key == ApiKey::Produce as i16 => {
            sole_topic(requirements)
        }
        _ => None,
    };
    let record = |allowed: bool, action: Option<&Action>, rule: String, audit_only: bool| {
        let request = (header.api_key, header.api_version, header.correlation_id);
        let action = action.map(|a| (a.op, a.resource_type, &*a.name));
        DecisionRecord::new(request, header.client_id, action, allowed, audit_only, rule)
    };
    let forward = |core: &mut Core, action: ResponseAction, expects_response: bool, decision| {
        core.count_request(header.api_key, decision);
        if header.api_key == ApiKey::Produce as i16 {
            core.stats.push(Stat::ProducedBytes(frame_len as u64));
            let body_offset = SIZE_PREFIX + header.header_len;
            let at = (request_body_len, body_offset, frame_len);
            core.topic_bytes.count_produce(&mut core.stats, header.api_version, body_prefix, at, sole_topic);
        }
        if expects_response {
            core.push_inflight(&header, (header.api_key, header.api_version), action);
        }
        Verdict::Forward
    };
    let mode = core.cfg.authorizer.mode();
    if mode == Mode::Off {
        // Tracked only for SASL propagation: no decision, but responses must stay matched.
        return match classification {
            Classification::NeedMore => Verdict::NeedMore,
            Classification::Checks { expects_response: false, .. }
            | Classification::UnknownTopicIds { expects_response: false, .. } => {
                forward(core, ResponseAction::Forward, false, RequestDecision::Allowed)
            }
            _ => forward(core, ResponseAction::Forward, true, RequestDecision::Allowed),
        };
    }
    // Matched by reference: the requirements stay where classification wrote them.
    match &classification {
        Classification::NeedMore => Verdict::NeedMore,
        Classification::Unchecked => {
            let action = if header.api_key == ApiKey::ApiVersions as i16 {
                ResponseAction::ClampApiVersions
            } else {
                ResponseAction::Forward
            };
            forward(core, action, true, RequestDecision::Allowed)
        }
        Classification::Unsupported(reason) => {
            let rule = format!("unsupported request: {reason}");
            if core.cfg.authorizer.unknown_requests_allowed() {
                core.events.push(Event::Decision(record(true, None, rule, false)));
                return forward(core, ResponseAction::Forward, true, RequestDecision::Allowed);
            }
            let audit = mode == Mode::Audit;
            core.events.push(Event::Decision(record(false, None, rule.clone(), audit)));
            if audit {
                return forward(core, ResponseAction::Forward, true, RequestDecision::AuditDenied);
            }
            core.count_request(header.api_key, RequestDecision::Denied);
            let message = format!("{} v{}: {rule}", api_name(header.api_key), header.api_version);
            Verdict::Close(Box::new(CloseReason::new(CloseKind::Unsupported, message)))
        }
        &Classification::UnknownTopicIds { ref ids, expects_response } => {
            if mode != Mode::Enforce {
                // Audit: forwarded as sent; the broker decides on ids the filter has not learned.
                let ids: Vec<String> = ids.iter().map(crate::topic_ids::display).collect();
                let rule = format!("topic ids not learned ({}): forwarded undecided", ids.join(", "));
                core.events.push(Event::Decision(record(false, None, rule, true)));
                return forward(core, ResponseAction::Forward, expects_response, RequestDecision::AuditDenied);
            }
            if frame.len() < frame_len {
                // Answered once resolved: the whole request is kept.
                return Verdict::NeedMore;
            }
            super::topic_resolution::resolve(core, &header, body_prefix, ids, expects_response)
        }
        Classification::Checks { .. } if header.api_key == ApiKey::Metadata as i16 => {
            if frame.len() < frame_len {
                return Verdict::NeedMore;
            }
            metadata_request(core, &header, body_prefix)
        }
        Classification::Checks { .. } if header.api_key == ApiKey::DescribeTopicPartitions as i16 => {
            if frame.len() < frame_len {
                return Verdict::NeedMore;
            }
            describe_topic_partitions_request(core, &header, body_prefix)
        }
        &Classification::Checks { ref requirements, expects_response } => {
            let mut denied: Vec<(ResourceType, String)> = Vec::new();
            let mut records = Vec::new();
            let cached = core.decisions.usable(&core.cfg);
            for requirement in requirements {
                if cached && core.decisions.allows(header.api_key, requirement) {
                    continue;
                }
                let ctx = core.request_ctx(header.api_key, header.api_version, header.client_id);
                let outcome = crate::authorize::requirement(&core.cfg.authorizer, &ctx, requirement, |_| {});
                let satisfied = outcome.satisfied;
                if let Some(Asked { action, decision }) = outcome.deciding {
                    if !satisfied {
                        denied.push((action.resource_type, action.name.to_string()));
                    }
                    if !satisfied || core.cfg.log_allowed {
                        records.push(record(satisfied, Some(action), decision.rule.into_owned(), mode == Mode::Audit));
                    } else if cached {
                        core.decisions.remember(header.api_key, action);
                    }
                }
            }
            let partial = mode == Mode::Enforce && partial_candidate(header.api_key, header.api_version, &denied);
            if mode == Mode::Enforce && !denied.is_empty() && (expects_response || partial) && frame.len() < frame_len {
                // Answering or splitting needs the whole request; decided again (once) when it is here.
                return Verdict::NeedMore;
            }
            if !records.is_empty() {
                core.events.extend(records.into_iter().map(Event::Decision));
            }
            if denied.is_empty() && header.api_key == ApiKey::ConsumerGroupHeartbeat as i16 {
                if let Some(refused) = super::regex_subscription::refuse_regex(core, &header, body_prefix) {
                    return refused;
                }
            }
            if denied.is_empty() || mode != Mode::Enforce {
                // Listings (ListGroups, ListTransactions, OffsetFetch for all topics) are narrowed in the
                // response to what the principal may Describe.
                let action = match listing_filter(core, &header, body_prefix) {
                    Some(filter) => {
                        ResponseAction::FilterListing { filter, client_id: header.client_id.map(str::to_string) }
                    }
                    None => ResponseAction::Forward,
                };
                let decision = if denied.is_empty() { RequestDecision::Allowed } else { RequestDecision::AuditDenied };
                return forward(core, action, expects_response, decision);
            }
            refuse(core, &header, body_prefix, &denied, (expects_response, partial))
        }
    }
}

/// A request the policy refused in enforce mode: its allowed part forwarded, dropped (`acks=0`), or answered in
/// the broker's place with Kafka's errors. Out of line: the allowed path, run for nearly every request, stays
/// small (one request at a time, its code is cold at every request: the less of it, the fewer cache misses).
#[inline(never)]
fn refuse(
    core: &mut Core,
    header: &wire::RequestHeader<'_>,
    body_prefix: &[u8],
    denied: &[(ResourceType, String)],
    (expects_response, partial): (bool, bool),
) -> Verdict {
    if partial {
        if let Some(verdict) = forward_allowed_part(core, header, body_prefix, denied, expects_response) {
            if let (Verdict::Replace(forwarded), true) = (&verdict, header.api_key == ApiKey::Produce as i16) {
                // The allowed part is what reaches the broker: it is the produced bytes.
                core.topic_bytes.count_forwarded_produce(&mut core.stats, header.api_version, forwarded);
            }
            return verdict;
        }
    }
    if !expects_response {
        core.count_request(header.api_key, RequestDecision::Denied);
        // Produce with acks=0: the client expects no answer; the request is simply dropped.
        return Verdict::Replace(Vec::new());
    }
    let error_for = |rt: ResourceType, name: &str| {
        // A request refused whole (no part may pass, or the API cannot be split): its allowed
        // parts get the same authorization error as its denied ones, except in AddPartitionsToTxn,
        // whose partitions not at fault Kafka answers OPERATION_NOT_ATTEMPTED (the answer writes
        // that for a resource given no error).
        if denied.iter().any(|(t, n)| *t == rt && n == name) {
            authorization_error(rt)
        } else if header.api_key == ApiKey::AddPartitionsToTxn as i16 {
            error_code::NONE
        } else {
            denied.first().map(|(t, _)| authorization_error(*t)).unwrap_or(authorization_error(rt))
        }
    };
    core.answer_denied(header, body_prefix, &error_for).unwrap_or_else(|e| {
        Verdict::Close(Box::new(CloseReason::new(
            CloseKind::Unsupported,
            format!("denied {} v{} cannot be answered, unsupported: {e}", api_name(header.api_key), header.api_version),
        )))
    })
}

/// The one topic a Produce request writes to, named in the request (not by id): all of the request is its
/// share, known without walking the request again.
fn sole_topic<'a>(requirements: &[Requirement<'a>]) -> Option<&'a str> {
    let mut topics =
        requirements.iter().flat_map(Requirement::any_of).filter(|a| a.resource_type == ResourceType::Topic);
    match (topics.next(), topics.next()) {
        (Some(Action { name: Cow::Borrowed(name), .. }), None) => Some(name),
        _ => None,
    }
}

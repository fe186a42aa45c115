//! What a principal may not Describe, it never sees: Metadata requests lose the topics it may not
//! Describe (and auto-creation without Create), Metadata responses are filtered to the describable topics.
//! ListGroups, ListTransactions, OffsetFetch for all topics and DescribeTopicPartitions are listings Kafka
//! filters instead of failing: their responses lose, at the byte level, the entries the principal may not
//! Describe (see the listings section below). ConsumerGroupDescribe and ShareGroupDescribe lose the members of
//! a group assigned a topic the principal may not Describe (the group answered TOPIC_AUTHORIZATION_FAILED).

use kafka_protocol::messages::ApiKey;

use super::events::{DecisionRecord, Event};
use super::state::{Core, ListingFilter, ResponseAction};
use crate::frame::Verdict;
use crate::metrics::RequestDecision;
use crate::policy::{Mode, RequestCtx};
use crate::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};
use crate::protocol::error_code;
use crate::protocol::layout;
use crate::protocol::layout::{Entry, Keep};
use crate::protocol::wire;

/// May the connection's principal Describe this topic? (Metadata filtering asks per topic.)
fn may_describe_topic<'c>(
    core: &'c Core,
    api_version: i16,
    client_id: Option<&str>,
    topic: &str,
) -> crate::policy::Decision<'c> {
    let ctx = core.request_ctx(ApiKey::Metadata as i16, api_version, client_id);
    let action = Action { op: Operation::Describe, resource_type: ResourceType::Topic, name: topic.into() };
    core.cfg.authorizer.authorize(&ctx, &action)
}

/// Metadata, as Kafka's authorizer treats it: topics the principal may not Describe are absent from an
/// all-topics listing and answered TOPIC_AUTHORIZATION_FAILED when named; they are removed from the
/// forwarded request, and auto-creation is turned off unless Create on the topic or the cluster is allowed.
pub(super) fn metadata_request(core: &mut Core, header: &wire::RequestHeader<'_>, body: &[u8]) -> Verdict {
    let version = header.api_version;
    // Read with its layout (classify() already walked it): the topics array with each entry's byte range.
    let request = match layout::parse(ApiKey::Metadata, version, body, Keep::Resources) {
        Ok(r) => r,
        Err(e) => return Verdict::Close(format!("Metadata v{version} request: {e}").into()),
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
    // By id (v12+): Kafka ignores the names; forwarded as sent, the answer is filtered by id.
    let by_id = crate::classify::metadata_by_id(&request);
    // Entries kept in the forwarded request (byte ranges of the body); `None` for an all-topics request.
    let mut kept: Option<Vec<std::ops::Range<usize>>> = None;
    if let Some(topics) = request.list("topics") {
        let before = topics.items.len();
        let mut retained = Vec::with_capacity(before);
        for (range, entry) in &topics.items {
            if by_id {
                retained.push(range.clone());
                continue;
            }
            let name = entry.node().and_then(|t| t.str("name")).unwrap_or_default();
            let decision = may_describe_topic(core, version, header.client_id, name);
            if !decision.allowed {
                let request = (header.api_key, version, header.correlation_id);
                let topic = (ResourceType::Topic, name);
                events.push(DecisionRecord::hidden(
                    request,
                    header.client_id,
                    topic,
                    audit,
                    decision.rule.into_owned(),
                ));
                denied_named.push(name.to_string());
                if audit {
                    retained.push(range.clone());
                }
                continue;
            }
            let create = |resource_type, name| Action { op: Operation::Create, resource_type, name };
            may_create_all &= core.cfg.authorizer.authorize(&ctx, &create(ResourceType::Topic, name.into())).allowed
                || core
                    .cfg
                    .authorizer
                    .authorize(&ctx, &create(ResourceType::Cluster, crate::protocol::acl::CLUSTER_NAME.into()))
                    .allowed;
            retained.push(range.clone());
        }
        if before > 0 && retained.is_empty() && version == 0 {
            // v0 cannot say "no topics" (an empty list means all): answer it here.
            core.events.extend(events.into_iter().map(Event::Decision));
            let error_for = |_: ResourceType, _: &str| error_code::TOPIC_AUTHORIZATION_FAILED;
            return core
                .answer_denied(header, body, &error_for)
                .unwrap_or_else(|e| Verdict::Close(format!("denied Metadata v0 cannot be answered: {e}").into()));
        }
        kept = Some(retained);
    }
    core.events.extend(events.into_iter().map(Event::Decision));
    let auto_create = request.int("allow_auto_topic_creation").is_some_and(|b| b != 0);
    let disable_auto_create = version >= 4 && auto_create && !may_create_all && !audit;
    let changed = disable_auto_create || (!denied_named.is_empty() && !audit);
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
            by_id,
        },
    );
    if !changed {
        return Verdict::Forward;
    }
    // Something changed only if topics were named: the kept entries are cut out of the client's bytes, and
    // allow_auto_topic_creation (v4+) is the byte right after the array.
    let (Some(kept), Some(topics)) = (kept, request.list("topics")) else {
        return Verdict::Close(format!("Metadata v{version} request changed without named topics").into());
    };
    let flexible = wire::request_header_version(header.api_key, version) >= 2;
    let mut rewritten = Vec::with_capacity(body.len());
    rewritten.extend_from_slice(body.get(..topics.count_start).unwrap_or_default());
    wire::write_array_count(&mut rewritten, kept.len() as u32, flexible);
    for range in kept {
        rewritten.extend_from_slice(body.get(range).unwrap_or_default());
    }
    let rest = rewritten.len();
    rewritten.extend_from_slice(body.get(topics.entries_end..).unwrap_or_default());
    if disable_auto_create {
        match rewritten.get_mut(rest) {
            Some(flag) => *flag = 0,
            None => {
                return Verdict::Close(format!("Metadata v{version} request without allow_auto_topic_creation").into())
            }
        }
    }
    Verdict::Replace(wire::request_frame(header.api_key, version, header.correlation_id, header.client_id, &rewritten))
}

/// Rewrites a Metadata response: only topics the principal may Describe remain; the denied named topics
/// come back with TOPIC_AUTHORIZATION_FAILED and nothing else (no partitions, no id).
///
/// Every topic id the answer names is learned (`crate::topic_ids`). Topics asked by id (`by_id`) that the
/// principal may not Describe come back as Kafka answers them: TOPIC_AUTHORIZATION_FAILED, a null name and
/// the id asked, after the others (KafkaApis.handleTopicMetadataRequest: "Topic IDs are not considered
/// sensitive information").
pub(super) fn filter_metadata_response(
    core: &mut Core,
    frame: &[u8],
    (version, correlation_id, by_id): (i16, i32, bool),
    denied_named: &[String],
    client_id: Option<&str>,
) -> Result<Vec<u8>, String> {
    let api_key = ApiKey::Metadata as i16;
    let body = frame.get(wire::response_body_offset(api_key, version)..).unwrap_or_default();
    let audit = core.cfg.authorizer.mode() == Mode::Audit;
    let mut denied: Vec<Vec<u8>> = denied_named
        .iter()
        .map(|name| crate::enforce::metadata_topic_entry(version, name, error_code::TOPIC_AUTHORIZATION_FAILED))
        .collect();
    // A first walk learns the ids and finds the topics asked by id the principal may not Describe.
    let mut hidden_by_id = Vec::new();
    if version >= 10 {
        let flexible = version >= 9;
        let core_ref = &*core;
        layout::filter_listing(&layout::METADATA_LISTING, version, body, &[], &mut |name, bytes| {
            super::topic_resolution::learn_entry(name, bytes, flexible);
            if let (true, false, Some(name)) = (by_id, audit, name) {
                if let Some(id) = super::topic_resolution::entry_id(bytes, flexible) {
                    let decision = may_describe_topic(core_ref, version, client_id, name);
                    if !decision.allowed {
                        hidden_by_id.push((name.to_string(), id, decision.rule.into_owned()));
                    }
                }
            }
            Ok(Entry::Keep)
        })?;
    }
    for (name, id, rule) in hidden_by_id {
        denied.push(crate::enforce::metadata_topic_entry_by_id(version, &id, error_code::TOPIC_AUTHORIZATION_FAILED));
        let request = (api_key, version, correlation_id);
        let record = DecisionRecord::hidden(request, client_id, (ResourceType::Topic, &name), false, rule);
        core.events.push(Event::Decision(record));
    }
    let core = &*core;
    // Walked, never decoded: the topics the principal may not Describe are cut out, the authorized operations
    // of the others are the principal's, every other byte stays.
    let listing = &layout::METADATA_LISTING;
    let mut filtered = layout::filter_listing(listing, version, body, &denied, &mut |name, bytes| {
        // A null name: an id the broker does not know (UNKNOWN_TOPIC_ID), passed as Kafka answers it.
        let Some(name) = name else { return Ok(Entry::Keep) };
        if audit {
            return Ok(Entry::Keep);
        }
        if !may_describe_topic(core, version, client_id, name).allowed {
            return Ok(Entry::Drop);
        }
        let authorized = || authorized_operations(core, api_key, version, client_id, ResourceType::Topic, name);
        Ok(layout::with_authorized_operations(listing, version, bytes, authorized)?.map_or(Entry::Keep, Entry::Replace))
    })?;
    // cluster_authorized_operations (v8-10), right after the topics.
    if !audit && (8..=10).contains(&version) {
        let at = filtered.after_in_body;
        let slot =
            filtered.body.get_mut(at..at + 4).ok_or("Metadata response without cluster_authorized_operations")?;
        let asked = slot != layout::AUTHORIZED_OPERATIONS_OMITTED.to_be_bytes().as_slice();
        if asked {
            let bits = cluster_authorized_operations(core, api_key, version, client_id);
            slot.copy_from_slice(&bits.to_be_bytes());
        }
    }
    Ok(wire::response_frame(api_key, version, correlation_id, &filtered.body))
}

/// Kafka's authorized operations of a resource for the connection's principal (`AuthHelper.authorizedOperations`):
/// the broker computed them for the filter's own connection, which it may trust with everything.
fn authorized_operations(
    core: &Core,
    api_key: i16,
    api_version: i16,
    client_id: Option<&str>,
    resource_type: ResourceType,
    name: &str,
) -> i32 {
    let ctx = core.request_ctx(api_key, api_version, client_id);
    core.cfg.authorizer.authorized_operations(&ctx, resource_type, name)
}

/// A cluster's authorized operations as Kafka reports them (`KafkaApis.handleTopicMetadataRequest`): only to a
/// principal that may Describe the cluster, `0` to any other.
fn cluster_authorized_operations(core: &Core, api_key: i16, api_version: i16, client_id: Option<&str>) -> i32 {
    let describe = may_describe(core, api_key, api_version, client_id, ResourceType::Cluster, CLUSTER_NAME);
    if describe.allowed {
        authorized_operations(core, api_key, api_version, client_id, ResourceType::Cluster, CLUSTER_NAME)
    } else {
        0
    }
}

// ---------------------------------------------------------------------------------------------------------
// Listings: ListGroups, ListTransactions, OffsetFetch for all topics and DescribeTopicPartitions are
// forwarded as asked and their responses narrowed to what the principal may Describe, at the byte level
// (layout::filter_listing): the broker's bytes are walked with a bounded layout, never decoded.

/// May the connection's principal Describe this resource?
fn may_describe<'c>(
    core: &'c Core,
    api_key: i16,
    api_version: i16,
    client_id: Option<&str>,
    resource_type: ResourceType,
    name: &str,
) -> crate::policy::Decision<'c> {
    let ctx = core.request_ctx(api_key, api_version, client_id);
    let action = Action { op: Operation::Describe, resource_type, name: name.into() };
    core.cfg.authorizer.authorize(&ctx, &action)
}

/// For a request that passed its checks: the filter its response needs, if any. In audit mode the
/// response is only walked, to record what enforcement would hide.
pub(super) fn listing_filter(core: &Core, header: &wire::RequestHeader<'_>, body: &[u8]) -> Option<ListingFilter> {
    let (api_key, version) = (header.api_key, header.api_version);
    match ApiKey::try_from(api_key).ok()? {
        ApiKey::ListGroups => {
            // Describe Cluster shows every group (KafkaApis.handleListGroupsRequest).
            let cluster = Action {
                op: Operation::Describe,
                resource_type: ResourceType::Cluster,
                name: crate::protocol::acl::CLUSTER_NAME.into(),
            };
            let ctx = core.request_ctx(api_key, version, header.client_id);
            (!core.cfg.authorizer.authorize(&ctx, &cluster).allowed).then_some(ListingFilter::Groups)
        }
        ApiKey::ListTransactions => Some(ListingFilter::TransactionalIds),
        // The broker computed authorized operations for the filter's own connection (KafkaApis: the
        // principal's, where the request asked for them).
        ApiKey::DescribeGroups if version >= 3 => Some(ListingFilter::GroupOperations),
        ApiKey::CreateTopics if version >= 5 => Some(ListingFilter::CreatedTopicConfigs),
        ApiKey::DescribeCluster => Some(ListingFilter::ClusterOperations),
        ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => Some(ListingFilter::DescribedGroups),
        // Null topics: all of the group's (OffsetFetch v2+; DescribeShareGroupOffsets per group as v8+).
        key @ (ApiKey::OffsetFetch | ApiKey::DescribeShareGroupOffsets) => {
            let request = layout::parse(key, version, body, Keep::Resources).ok()?;
            if key == ApiKey::OffsetFetch && version <= 7 {
                request.list("topics").is_none().then_some(ListingFilter::OffsetFetchTopics)
            } else {
                let all: Vec<String> = request
                    .nodes("groups")
                    .filter(|g| g.list("topics").is_none())
                    .map(|g| g.str("group_id").unwrap_or_default().to_string())
                    .collect();
                (!all.is_empty()).then_some(ListingFilter::OffsetFetchGroups(all))
            }
        }
        _ => None,
    }
}

/// DescribeTopicPartitions, as Kafka's DescribeTopicPartitionsRequestHandler treats it: named topics the
/// principal may not Describe are removed from the forwarded request and answered TOPIC_AUTHORIZATION_FAILED
/// (no partitions, zero id); all topics (an empty list) are filtered in the response.
pub(super) fn describe_topic_partitions_request(
    core: &mut Core,
    header: &wire::RequestHeader<'_>,
    body: &[u8],
) -> Verdict {
    let version = header.api_version;
    // classify() shape-checked this body; read again for the topics' and the cursor's bytes.
    let mut request = match layout::DtpRequest::read(version, body) {
        Ok(r) => r,
        Err(e) => return Verdict::Close(format!("DescribeTopicPartitions v{version} request: {e}").into()),
    };
    let audit = core.cfg.authorizer.mode() == Mode::Audit;
    let all_topics = request.topics.is_empty();
    // A cursor this connection was handed for a page showing no topic: the broker's own cursor again.
    let mut translated = false;
    if let Some(cursor) = request.cursor.as_mut().filter(|_| all_topics) {
        if let Some((_, name, partition)) = core.dtp_cursors.iter().find(|(token, ..)| *token == cursor.0) {
            *cursor = (name.clone(), *partition);
            translated = true;
        }
    }
    let mut denied = Vec::new();
    let mut events = Vec::new();
    request.topics.retain(|(name, _)| {
        let decision = may_describe(core, header.api_key, version, header.client_id, ResourceType::Topic, name);
        if decision.allowed {
            return true;
        }
        let request = (header.api_key, version, header.correlation_id);
        let topic = (ResourceType::Topic, *name);
        events.push(Event::Decision(DecisionRecord::hidden(
            request,
            header.client_id,
            topic,
            audit,
            decision.rule.into_owned(),
        )));
        denied.push(name.to_string());
        audit
    });
    core.events.extend(events);
    let decision = match (denied.is_empty(), audit) {
        (true, _) => RequestDecision::Allowed,
        (false, true) => RequestDecision::AuditDenied,
        (false, false) => RequestDecision::Denied,
    };
    core.count_request(header.api_key, decision);
    let filter = |denied| ResponseAction::FilterListing {
        filter: ListingFilter::TopicPartitions { all_topics, denied },
        client_id: header.client_id.map(str::to_string),
    };
    let rewritten = |request: &layout::DtpRequest<'_>| {
        request.write().map_err(|e| format!("DescribeTopicPartitions v{version} request rewriting: {e}"))
    };
    if audit || denied.is_empty() {
        // Enforcing, the answer is always walked: its authorized operations become the principal's.
        let action = if all_topics || !audit { filter(Vec::new()) } else { ResponseAction::Forward };
        if translated {
            let encoded = match rewritten(&request) {
                Ok(encoded) => encoded,
                Err(e) => return Verdict::Close(e.into()),
            };
            core.push_inflight(header, (header.api_key, version), action);
            let frame = wire::request_frame(header.api_key, version, header.correlation_id, header.client_id, &encoded);
            return Verdict::Replace(frame);
        }
        core.push_inflight(header, (header.api_key, version), action);
        return Verdict::Forward;
    }
    // Kafka answers only the named topics at or after the cursor (by name)...
    let cursor_name = request.cursor.as_ref().map(|(name, _)| name.clone());
    denied.retain(|name| cursor_name.as_deref().is_none_or(|c| name.as_str() >= c));
    // ...and, when the cursor's topic may not be described, resumes at the next one from partition 0. The
    // broker would refuse a cursor naming a topic the forwarded request no longer lists.
    if let Some(cursor) = request.cursor.as_mut() {
        if !request.topics.iter().any(|(name, _)| *name == cursor.0) {
            let next = request.topics.iter().map(|(name, _)| *name).filter(|n| *n > cursor.0.as_str()).min();
            match next {
                Some(name) => *cursor = (name.to_string(), 0),
                None => request.topics.clear(),
            }
        }
    }
    if request.topics.is_empty() {
        // Nothing left to ask, and an empty list would mean all topics: answered here.
        let answer = crate::enforce::describe_topic_partitions_refused(version, header.correlation_id, &denied);
        return core.answer_in_place(header, answer);
    }
    let encoded = match rewritten(&request) {
        Ok(encoded) => encoded,
        Err(e) => return Verdict::Close(e.into()),
    };
    core.push_inflight(header, (header.api_key, version), filter(denied));
    Verdict::Replace(wire::request_frame(header.api_key, version, header.correlation_id, header.client_id, &encoded))
}

/// How many DescribeTopicPartitions tokens a connection keeps (a client pages one listing at a time).
const DTP_CURSOR_TOKENS: usize = 8;

/// A token for the broker's cursor `(name, partition)` naming a hidden topic, when the page showed none: the
/// client pages on with it and this connection's next DescribeTopicPartitions request gets the broker's
/// cursor back (Kafka itself pages only through describable topics, so its pages are never empty but the
/// last; the broker behind the filter pages through every topic). The token reveals nothing: a NUL, which
/// no topic name contains, and a number. Sent on another connection it sorts before every topic, and the
/// listing starts over.
fn dtp_cursor_token(core: &mut Core, name: String, partition: i32) -> String {
    let serial = core.dtp_cursors.last().and_then(|(t, ..)| t.get(1..)?.parse::<u64>().ok()).map_or(0, |n| n + 1);
    let token = format!("\0{serial}");
    if core.dtp_cursors.len() >= DTP_CURSOR_TOKENS {
        core.dtp_cursors.remove(0);
    }
    core.dtp_cursors.push((token.clone(), name, partition));
    token
}

/// Where the body of a response frame starts: after the size, the correlation id and (header v1) the
/// header's tagged fields, which are kept as the broker sent them.
fn response_body_start(frame: &[u8], api_key: i16, version: i16) -> Option<usize> {
    let mut r = wire::Reader::new(frame);
    r.skip(wire::SIZE_PREFIX + 4)?;
    if wire::response_header_version(api_key, version) >= 1 {
        r.skip_tagged_fields()?;
    }
    Some(r.position())
}

/// Narrows a listing response to what the principal may Describe. `Ok(None)`: forward it unchanged (audit
/// mode records what enforcement would hide instead). Err: malformed, the connection is closed.
pub(super) fn filter_listing_response(
    core: &mut Core,
    frame: &[u8],
    (api_key, version, correlation_id): (i16, i16, i32),
    filter: &ListingFilter,
    client_id: Option<&str>,
) -> Result<Option<Vec<u8>>, String> {
    let start = response_body_start(frame, api_key, version).ok_or("short response")?;
    let body = frame.get(start..).ok_or("short response")?;
    let audit = core.cfg.authorizer.mode() == Mode::Audit;
    let mut hidden: Vec<(ResourceType, String, String)> = Vec::new();
    let mut visible = |core: &Core, resource_type: ResourceType, name: Option<&str>| -> bool {
        // A null name cannot be authorized: hidden (Kafka never lists one).
        let Some(name) = name else { return audit };
        let decision = may_describe(core, api_key, version, client_id, resource_type, name);
        if !decision.allowed && audit {
            hidden.push((resource_type, name.to_string(), decision.rule.into_owned()));
        }
        decision.allowed || audit
    };
    let keep = |yes: bool| if yes { Entry::Keep } else { Entry::Drop };
    let core_ref: &Core = core;
    // A page that showed no topic, ending at a hidden one: its cursor, to hand over as a token.
    let mut hidden_cursor: Option<(String, i32, usize)> = None;
    // OffsetFetch v8+ or DescribeShareGroupOffsets: the groups, and one group's topics.
    let groups = layout::offset_groups_listings(api_key);
    let (filtered, mut rewritten_cursor) = match filter {
        ListingFilter::Groups => (
            layout::filter_listing(&layout::LIST_GROUPS_LISTING, version, body, &[], &mut |key, _| {
                Ok(keep(visible(core_ref, ResourceType::Group, key)))
            })?,
            None,
        ),
        ListingFilter::TransactionalIds => (
            layout::filter_listing(&layout::LIST_TRANSACTIONS_LISTING, version, body, &[], &mut |key, _| {
                Ok(keep(visible(core_ref, ResourceType::TransactionalId, key)))
            })?,
            None,
        ),
        ListingFilter::OffsetFetchTopics => (
            layout::filter_listing(&layout::OFFSET_FETCH_TOPICS_LISTING, version, body, &[], &mut |key, _| {
                Ok(keep(visible(core_ref, ResourceType::Topic, key)))
            })?,
            None,
        ),
        ListingFilter::OffsetFetchGroups(all_topic_groups) => (
            layout::filter_listing(groups.0, version, body, &[], &mut |group, bytes| {
                if !group.is_some_and(|g| all_topic_groups.iter().any(|a| a == g)) {
                    return Ok(Entry::Keep); // named topics: checked on the request side
                }
                let inner = layout::filter_listing(groups.1, version, bytes, &[], &mut |key, _| {
                    Ok(keep(visible(core_ref, ResourceType::Topic, key)))
                })?;
                Ok(Entry::Replace(inner.body))
            })?,
            None,
        ),
        ListingFilter::GroupOperations => (
            layout::filter_listing(&layout::DESCRIBE_GROUPS_LISTING, version, body, &[], &mut |key, bytes| {
                if audit {
                    return Ok(Entry::Keep);
                }
                let name = key.unwrap_or_default();
                let authorized =
                    || authorized_operations(core_ref, api_key, version, client_id, ResourceType::Group, name);
                Ok(layout::with_authorized_operations(&layout::DESCRIBE_GROUPS_LISTING, version, bytes, authorized)?
                    .map_or(Entry::Keep, Entry::Replace))
            })?,
            None,
        ),
        ListingFilter::CreatedTopicConfigs => (
            layout::filter_listing(&layout::CREATE_TOPICS_LISTING, version, body, &[], &mut |key, bytes| {
                let name = key.unwrap_or_default();
                let ctx = core_ref.request_ctx(api_key, version, client_id);
                let action =
                    Action { op: Operation::DescribeConfigs, resource_type: ResourceType::Topic, name: name.into() };
                if audit || core_ref.cfg.authorizer.authorize(&ctx, &action).allowed {
                    return Ok(Entry::Keep);
                }
                let withheld = layout::withhold_topic_configs(version, bytes, error_code::TOPIC_AUTHORIZATION_FAILED)?;
                Ok(withheld.map_or(Entry::Keep, Entry::Replace))
            })?,
            None,
        ),
        ListingFilter::ClusterOperations => {
            let mut filtered =
                layout::filter_listing(&layout::DESCRIBE_CLUSTER_LISTING, version, body, &[], &mut |_, _| {
                    Ok(Entry::Keep)
                })?;
            let at = filtered.after_in_body;
            let slot =
                filtered.body.get_mut(at..at + 4).ok_or("DescribeCluster without cluster_authorized_operations")?;
            if !audit && slot != layout::AUTHORIZED_OPERATIONS_OMITTED.to_be_bytes().as_slice() {
                let bits = cluster_authorized_operations(core_ref, api_key, version, client_id);
                slot.copy_from_slice(&bits.to_be_bytes());
            }
            (filtered, None)
        }
        ListingFilter::DescribedGroups => {
            let listing = if api_key == ApiKey::ShareGroupDescribe as i16 {
                &layout::SHARE_GROUP_DESCRIBE_LISTING
            } else {
                &layout::CONSUMER_GROUP_DESCRIBE_LISTING
            };
            let decide = &mut |group: Option<&str>, bytes: &[u8]| {
                let group = group.unwrap_or_default();
                let topics = layout::described_group_topics(listing, version, bytes)?;
                let mut describable = true;
                for topic in topics {
                    describable &= visible(core_ref, ResourceType::Topic, Some(topic));
                }
                if !describable {
                    return Ok(Entry::Replace(crate::enforce::undescribable_group(api_key, version, group)));
                }
                if audit {
                    return Ok(Entry::Keep);
                }
                let authorized =
                    || authorized_operations(core_ref, api_key, version, client_id, ResourceType::Group, group);
                Ok(layout::with_authorized_operations(listing, version, bytes, authorized)?
                    .map_or(Entry::Keep, Entry::Replace))
            };
            (layout::filter_listing(listing, version, body, &[], decide)?, None)
        }
        ListingFilter::TopicPartitions { all_topics, denied } => {
            let appended: Vec<Vec<u8>> = denied
                .iter()
                .map(|name| crate::enforce::describe_topic_partitions_refused_topic(version, name))
                .collect();
            let mut last_kept: Option<String> = None;
            let filtered = layout::filter_listing(
                &layout::DESCRIBE_TOPIC_PARTITIONS_LISTING,
                version,
                body,
                &appended,
                &mut |key, bytes| {
                    super::topic_resolution::learn_entry(key, bytes, true); // topic ids (see topic_ids)
                    let yes = !*all_topics || visible(core_ref, ResourceType::Topic, key);
                    if !yes {
                        return Ok(Entry::Drop);
                    }
                    last_kept = key.map(str::to_string);
                    let name = key.unwrap_or_default();
                    let authorized =
                        || authorized_operations(core_ref, api_key, version, client_id, ResourceType::Topic, name);
                    let listing = &layout::DESCRIBE_TOPIC_PARTITIONS_LISTING;
                    if audit {
                        return Ok(Entry::Keep);
                    }
                    Ok(layout::with_authorized_operations(listing, version, bytes, authorized)?
                        .map_or(Entry::Keep, Entry::Replace))
                },
            )?;
            // The broker pages through every topic; its next cursor may name one the principal may not
            // Describe. Never shown: it becomes "<last topic shown>\0", which sorts after that topic and
            // not after the hidden one, so the broker (topics >= cursor name) resumes right there. A page
            // that showed no topic gets a token instead, which this connection turns back into the broker's
            // cursor when the client asks for the next page (see `dtp_cursor_token`).
            let (cursor, cursor_end) = layout::read_dtp_cursor(body, filtered.after_in_original)?;
            let rewritten = match cursor {
                Some((name, partition))
                    if *all_topics && !audit && !visible(core_ref, ResourceType::Topic, Some(&name)) =>
                {
                    match last_kept {
                        Some(last) => {
                            let mut bytes = Vec::new();
                            layout::write_dtp_cursor(&mut bytes, Some((&format!("{last}\0"), 0)));
                            Some((bytes, cursor_end))
                        }
                        None => {
                            hidden_cursor = Some((name, partition, cursor_end));
                            None
                        }
                    }
                }
                _ => None,
            };
            (filtered, rewritten)
        }
    };
    let events: Vec<Event> = hidden
        .into_iter()
        .map(|(resource_type, name, rule)| {
            let request = (api_key, version, correlation_id);
            Event::Decision(DecisionRecord::hidden(request, client_id, (resource_type, &name), true, rule))
        })
        .collect();
    core.events.extend(events);
    if audit {
        return Ok(None);
    }
    if let Some((name, partition, cursor_end)) = hidden_cursor {
        let mut bytes = Vec::new();
        layout::write_dtp_cursor(&mut bytes, Some((&dtp_cursor_token(core, name, partition), 0)));
        rewritten_cursor = Some((bytes, cursor_end));
    }
    let mut new_body = filtered.body;
    if let Some((cursor, cursor_end)) = rewritten_cursor {
        let rest = body.get(cursor_end..).ok_or("cursor span")?;
        new_body.truncate(filtered.after_in_body);
        new_body.extend_from_slice(&cursor);
        new_body.extend_from_slice(rest);
    }
    if new_body == body {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(start + new_body.len());
    out.extend_from_slice(frame.get(..start).ok_or("short response")?);
    out.extend_from_slice(&new_body);
    wire::set_frame_size(&mut out);
    Ok(Some(out))
}

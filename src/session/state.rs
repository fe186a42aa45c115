//! The state of one connection that the request and response sides share: the requests in flight with
//! what to do with each answer, the SASL exchange, the stats and events not yet drained.

use std::collections::VecDeque;
use std::rc::Rc;

use kafka_protocol::messages::ApiKey;

use super::events::Event;
use super::topic_bytes::TopicBytes;
use crate::config::Config;
use crate::connection_limits::EndReason;
use crate::frame::Verdict;
use crate::identity::{Identity, ANONYMOUS_PRINCIPAL};
use crate::metrics::{RequestDecision, Stat};
use crate::policy::RequestCtx;
use crate::protocol::acl::ResourceType;
use crate::protocol::wire;

/// What to do with the response to one forwarded request.
#[derive(Debug)]
pub(super) enum ResponseAction {
    Forward,
    /// Replace the broker's answer (to the substituted request) with this complete frame.
    Replace(Vec<u8>),
    /// Clamp the advertised versions to what the filter can parse.
    ClampApiVersions,
    /// A response to the filter's own SASL exchange: consumed, never forwarded to the client.
    Sasl,
    /// The allowed part of a request was forwarded: add the answer for the denied resources (`answer`: a
    /// complete error response frame for a request made of them alone) to the broker's answer, after
    /// narrowing that to what the principal may Describe (`listing`, with the client id for audit).
    MergeDenied {
        answer: Vec<u8>,
        /// An OffsetFetch v8+ split by group (see `split::merge_denied`).
        by_group: bool,
        listing: Option<(ListingFilter, Option<String>)>,
    },
    /// Drop the topics the principal may not Describe; answer TOPIC_AUTHORIZATION_FAILED for the named ones.
    FilterMetadata {
        denied_named: Vec<String>,
        client_id: Option<String>,
        /// Topics were asked by id: those the principal may not Describe are answered by id (see
        /// `visibility::filter_metadata_response`).
        by_id: bool,
    },
    /// The filter's own Metadata request by topic id, in place of a request naming ids not learned: learn
    /// them, then answer that request (see `topic_resolution`).
    ResolveTopicIds(Box<Unresolved>),
    /// Drop the listing's entries the principal may not Describe (audit mode: record them, forward).
    FilterListing {
        filter: ListingFilter,
        client_id: Option<String>,
    },
}

/// A listing response to narrow to the entries the principal may Describe.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ListingFilter {
    /// ListGroups without Describe Cluster: the groups it may Describe.
    Groups,
    /// ListTransactions: the transactional ids it may Describe (Kafka has no cluster shortcut here).
    TransactionalIds,
    /// OffsetFetch v2-v7 for all topics: the topics it may Describe.
    OffsetFetchTopics,
    /// OffsetFetch v8+: the topics it may Describe, in the groups (by id) asked for all topics.
    OffsetFetchGroups(Vec<String>),
    /// CreateTopics v5+: the configs of a created topic withheld without DescribeConfigs on it.
    CreatedTopicConfigs,
    /// DescribeGroups v3+: every group kept, its authorized operations the principal's.
    GroupOperations,
    /// DescribeCluster: its cluster_authorized_operations the principal's (0 without Describe Cluster).
    ClusterOperations,
    /// DescribeTopicPartitions: for all topics, the describable ones; the named topics it may not Describe
    /// (removed from the forwarded request) are added as TOPIC_AUTHORIZATION_FAILED.
    TopicPartitions { all_topics: bool, denied: Vec<String> },
    /// ConsumerGroupDescribe, ShareGroupDescribe: a group whose members' assignments name a topic the principal
    /// may not Describe becomes TOPIC_AUTHORIZATION_FAILED without members; the others get the principal's
    /// authorized operations (KafkaApis).
    DescribedGroups,
}

#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) correlation_id: i32,
    /// The original request's API key (for latency metrics), whatever was forwarded in its place.
    pub(super) measured_api_key: i16,
    /// When the request was forwarded (microseconds of the session clock); `None`: not timed (the glue
    /// reads the clock for a sample of chunks only, see [`Session::set_untimed`]).
    pub(super) started_us: Option<u64>,
    /// Of the request as forwarded (ApiVersions for a substituted one), for response parsing and metrics.
    #[allow(dead_code)]
    pub(super) api_key: i16,
    pub(super) api_version: i16,
    pub(super) action: ResponseAction,
    /// The policy the request was decided under: its response is rewritten under the same one.
    pub(super) cfg: Rc<Config>,
}

/// Everything but the two frame streams (so a stream can borrow it as its handler).
#[derive(Debug)]
pub(super) struct Core {
    pub(super) cfg: Rc<Config>,
    /// Client address without port, for ACL host matching.
    pub(super) host: String,
    pub(super) identity: Option<Identity>,
    pub(super) inflight: VecDeque<InFlight>,
    pub(super) events: Vec<Event>,
    /// Whether responses must be tracked (anything that decides or rewrites).
    pub(super) tracking: bool,
    /// Bytes to put in front of the first bytes sent to the broker (identity preamble).
    pub(super) preamble: Option<Vec<u8>>,
    pub(super) first_request_seen: bool,
    /// The host's clock, set by the glue before each call (microseconds).
    pub(super) now_us: u64,
    /// Whether `now_us` is this chunk's time (see [`Session::set_untimed`]).
    pub(super) timed: bool,
    /// Timed requests answered while untimed: (API key, start), completed by the next `set_time_micros`.
    pub(super) pending_latency: Vec<(i16, u64)>,
    pub(super) stats: Vec<Stat>,
    /// `propagation.mode: sasl`: the filter's own exchange with the broker (see [`SaslState`]).
    pub(super) sasl: Option<SaslState>,
    /// Per-topic byte stats: topic names and the Fetch response being walked.
    pub(super) topic_bytes: TopicBytes,
    /// A newer policy, taken at the next request frame boundary (see `policy_update`).
    pub(super) pending_policy: Option<PendingPolicy>,
    /// A request frame is being buffered (its handler answered `NeedMore`): no policy swap until decided.
    pub(super) deciding: bool,
    /// What the identity was derived from (peer, time), to derive it again under a new policy.
    pub(super) peer: Option<Rc<(crate::identity::PeerInfo, i64)>>,
    /// The client certificate's `notAfter` (seconds since the epoch), when it was read.
    pub(super) not_after: Option<i64>,
    /// DescribeTopicPartitions cursors handed to the client in place of a hidden topic (see
    /// `visibility::dtp_cursor_token`): (token, the broker's cursor topic, partition), newest last.
    pub(super) dtp_cursors: Vec<(String, String, i32)>,
    /// Questions the authorizer allowed on this connection, answered again without it.
    pub(super) decisions: super::decision_cache::DecisionCache,
}

/// The filter's SASL exchange on the client's behalf. The broker answers in order, so the exchange is
/// interleaved with the client's traffic: the client's first ApiVersions goes first (Kafka allows it before
/// authentication), then the handshake and first SaslAuthenticate, pipelined. Client requests that must
/// come after a SASL request not yet sendable (SCRAM's client-final needs the server-first) are held, with
/// their in-flight entries. A proxy-wasm network filter can only send to the broker while handling client
/// bytes, so responses to the client are held too while the exchange still has to send: the client's next
/// request, prompted by them, is the moment to send the client-final.
#[derive(Debug)]
pub(super) struct SaslState {
    pub(super) client: crate::propagation::SaslClient,
    pub(super) started: bool,
    /// SASL request frames to send before anything else at the next client bytes.
    pub(super) outbox: Vec<u8>,
    pub(super) held_requests: Vec<u8>,
    pub(super) held_inflight: Vec<InFlight>,
    pub(super) held_responses: Vec<u8>,
}

impl SaslState {
    pub(super) fn blocks(&self) -> bool {
        self.client.will_send_more() && self.outbox.is_empty()
    }
}
impl Core {
    pub(super) fn push_inflight(
        &mut self,
        header: &wire::RequestHeader<'_>,
        forwarded: (i16, i16),
        action: ResponseAction,
    ) {
        self.inflight.push_back(InFlight {
            correlation_id: header.correlation_id,
            measured_api_key: header.api_key,
            started_us: self.timed.then_some(self.now_us),
            api_key: forwarded.0,
            api_version: forwarded.1,
            action,
            cfg: self.cfg.clone(),
        });
    }

    /// Answers a request in the broker's place: the broker gets ApiVersions v0 with the same correlation
    /// id, and its answer is replaced by `answer` (see the module doc of `session`).
    pub(super) fn answer_in_place(&mut self, header: &wire::RequestHeader<'_>, answer: Vec<u8>) -> Verdict {
        self.push_inflight(header, (ApiKey::ApiVersions as i16, 0), ResponseAction::Replace(answer));
        Verdict::Replace(substitute_request(header.correlation_id))
    }

    /// Refuses a request in the broker's place with Kafka's error answer for it (`error_for`: each resource's
    /// error code), counted as denied. `Err`: the filter cannot write that answer (the caller closes, saying why).
    pub(super) fn answer_denied(
        &mut self,
        header: &wire::RequestHeader<'_>,
        body: &[u8],
        error_for: &dyn Fn(ResourceType, &str) -> i16,
    ) -> Result<Verdict, String> {
        let (key, version, correlation_id) = (header.api_key, header.api_version, header.correlation_id);
        let answer = crate::enforce::error_response(key, version, correlation_id, body, error_for)?;
        self.count_request(header.api_key, RequestDecision::Denied);
        Ok(self.answer_in_place(header, answer))
    }

    /// Who asks, for one request: the connection's principal (identified before any request is read) and
    /// its host.
    pub(super) fn request_ctx<'a>(
        &'a self,
        api_key: i16,
        api_version: i16,
        client_id: Option<&'a str>,
    ) -> RequestCtx<'a> {
        let principal = self.identity.as_ref().map_or(ANONYMOUS_PRINCIPAL, |i| i.principal.as_str());
        RequestCtx { principal, host: &self.host, api_key, api_version, client_id }
    }

    pub(super) fn count_request(&mut self, api_key: i16, decision: RequestDecision) {
        self.stats.push(Stat::Request { api_key, decision });
    }
}

/// ApiVersions v0 with the same correlation id: what the broker answers in place of a denied request.
fn substitute_request(correlation_id: i32) -> Vec<u8> {
    wire::request_frame(ApiKey::ApiVersions as i16, 0, correlation_id, None, &[])
}

/// What the session takes at the next request frame boundary.
#[derive(Debug)]
pub(super) enum PendingPolicy {
    Apply {
        cfg: Rc<Config>,
        generation: u64,
    },
    /// End the connection at the boundary (the newest policy cannot be followed, or a time limit passed).
    Close(EndReason, String),
}

/// What the filter keeps of a request it answers once the ids are resolved.
#[derive(Debug)]
pub(super) struct Unresolved {
    pub(super) api_key: i16,
    pub(super) api_version: i16,
    pub(super) client_id: Option<String>,
    /// The request body (after the header).
    pub(super) body: Vec<u8>,
    pub(super) expects_response: bool,
}

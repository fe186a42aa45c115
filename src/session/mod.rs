//! One client connection, sans-IO: identity once, then every request frame classified and decided, every
//! response matched to its request in order and, where needed, replaced or rewritten.
//!
//! Denials: a network filter cannot write to the client from the request path (Envoy refuses writes to the
//! upstream-to-client buffer there), so a denied request is swapped for a harmless ApiVersions v0 request with
//! the same correlation id, and the broker's answer to it is replaced by the real Kafka error response for
//! the original request. Responses thereby stay in order with pipelined requests.

use std::collections::VecDeque;
use std::rc::Rc;

use kafka_protocol::messages::ApiKey;

use crate::classify::{classify, Classification};
use crate::config::{Config, Propagation};
use crate::frame::{ChunkOutcome, Edit, FrameHandler, FrameStream, Verdict};
use crate::identity::{Identity, PeerInfo};
use crate::metrics::{ProtocolErrorKind, RequestDecision, Stat, TopicId, TopicNames};
use crate::policy::{Mode, RequestCtx};
use crate::protocol::acl::{Action, Operation, ResourceType};
use crate::protocol::api::api_name;
use crate::protocol::error_code::{self, authorization_error};
use crate::protocol::wire::{self, HeaderParse, SIZE_PREFIX};

mod api_versions;
mod split;
mod topic_bytes;
mod visibility;

use api_versions::clamp_api_versions;
pub use api_versions::supported_versions;
use split::{forward_allowed_part, merge_denied, partial_candidate};
use visibility::{
    describe_topic_partitions_request, filter_listing_response, filter_metadata_response, listing_filter,
    metadata_request, ListingFilter,
};

/// Something worth logging, counting or auditing; drained by the glue after each call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Identified(Identity),
    Refused(String),
    Decision(DecisionRecord),
    /// The connection is closed because of what the client or broker sent.
    ProtocolError(String),
    /// The identity reached the broker (SASL propagation).
    Propagated(String),
}

/// One authorization decision about one resource of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    pub operation: Option<Operation>,
    pub allowed: bool,
    /// The request was forwarded despite the denial (audit mode).
    pub audit_only: bool,
    pub rule: String,
}

/// What to do with the response to one forwarded request.
#[derive(Debug)]
enum ResponseAction {
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
    },
    /// Drop the listing's entries the principal may not Describe (audit mode: record them, forward).
    FilterListing {
        filter: ListingFilter,
        client_id: Option<String>,
    },
}

#[derive(Debug)]
struct InFlight {
    correlation_id: i32,
    /// The original request's API key (for latency metrics), whatever was forwarded in its place.
    measured_api_key: i16,
    /// When the request was forwarded (microseconds of the session clock); `None`: not timed (the glue
    /// reads the clock for a sample of chunks only, see [`Session::set_untimed`]).
    started_us: Option<u64>,
    /// Of the request as forwarded (ApiVersions for a substituted one), for response parsing and metrics.
    #[allow(dead_code)]
    api_key: i16,
    api_version: i16,
    action: ResponseAction,
}

/// Everything but the two frame streams (so a stream can borrow it as its handler).
#[derive(Debug)]
struct Core {
    cfg: Rc<Config>,
    /// Client address without port, for ACL host matching.
    host: String,
    identity: Option<Identity>,
    inflight: VecDeque<InFlight>,
    events: Vec<Event>,
    /// Whether responses must be tracked (anything that decides or rewrites).
    tracking: bool,
    /// Bytes to put in front of the first bytes sent to the broker (identity preamble).
    preamble: Option<Vec<u8>>,
    first_request_seen: bool,
    /// The host's clock, set by the glue before each call (microseconds).
    now_us: u64,
    /// Whether `now_us` is this chunk's time (see [`Session::set_untimed`]).
    timed: bool,
    /// Timed requests answered while untimed: (API key, start), completed by the next `set_time_micros`.
    pending_latency: Vec<(i16, u64)>,
    stats: Vec<Stat>,
    /// `propagation.mode: sasl`: the filter's own exchange with the broker (see [`SaslState`]).
    sasl: Option<SaslState>,
    /// Topic names of the per-topic byte stats (bounded by `maxTopicLabelValues`).
    topics: TopicNames,
    /// The Fetch response being walked for its topics' shares (see [`topic_bytes`]).
    fetch_walk: topic_bytes::FetchWalk,
}

/// The filter's SASL exchange on the client's behalf. The broker answers in order, so the exchange is
/// interleaved with the client's traffic: the client's first ApiVersions goes first (Kafka allows it before
/// authentication), then the handshake and first SaslAuthenticate, pipelined. Client requests that must
/// come after a SASL request not yet sendable (SCRAM's client-final needs the server-first) are held, with
/// their in-flight entries. A proxy-wasm network filter can only send to the broker while handling client
/// bytes, so responses to the client are held too while the exchange still has to send: the client's next
/// request, prompted by them, is the moment to send the client-final.
#[derive(Debug)]
struct SaslState {
    client: crate::propagation::SaslClient,
    started: bool,
    /// SASL request frames to send before anything else at the next client bytes.
    outbox: Vec<u8>,
    held_requests: Vec<u8>,
    held_inflight: Vec<InFlight>,
    held_responses: Vec<u8>,
}

impl SaslState {
    fn blocks(&self) -> bool {
        self.client.will_send_more() && self.outbox.is_empty()
    }
}
impl Core {
    fn push_inflight(&mut self, header: &wire::RequestHeader<'_>, forwarded: (i16, i16), action: ResponseAction) {
        self.inflight.push_back(InFlight {
            correlation_id: header.correlation_id,
            measured_api_key: header.api_key,
            started_us: self.timed.then_some(self.now_us),
            api_key: forwarded.0,
            api_version: forwarded.1,
            action,
        });
    }

    fn count_request(&mut self, api_key: i16, decision: RequestDecision) {
        self.stats.push(Stat::Request { api_key, decision });
    }
}

/// One client connection.
#[derive(Debug)]
pub struct Session {
    core: Core,
    requests: FrameStream,
    responses: FrameStream,
}

impl Session {
    /// `source_address`: the client's `ip:port` as the host reports it.
    pub fn new(cfg: Rc<Config>, source_address: Option<&str>) -> Self {
        let host = source_address.map(host_of).unwrap_or_default();
        let max = cfg.max_frame_bytes;
        let tracking = cfg.authorizer.mode() != Mode::Off || cfg.propagation == Propagation::Sasl;
        let topics = TopicNames::new(cfg.max_topic_label_values);
        Session {
            core: Core {
                cfg,
                host,
                identity: None,
                inflight: VecDeque::new(),
                events: Vec::new(),
                tracking,
                preamble: None,
                first_request_seen: false,
                now_us: 0,
                timed: true,
                pending_latency: Vec::new(),
                stats: Vec::new(),
                sasl: None,
                topics,
                fetch_walk: Default::default(),
            },
            requests: FrameStream::new(max),
            responses: FrameStream::new(max),
        }
    }

    /// The client's `ip:port`, when it was not known at construction.
    pub fn set_source_address(&mut self, source_address: &str) {
        self.core.host = host_of(source_address);
    }

    pub fn identity(&self) -> Option<&Identity> {
        self.core.identity.as_ref()
    }

    /// Derives the principal; `Err` means the connection must be closed before any byte is forwarded.
    /// `sasl_nonce`: random bytes for the SCRAM client nonce (`propagation.mode: sasl`; at least 12).
    pub fn identify(&mut self, peer: &PeerInfo, now_unix: i64) -> Result<&Identity, String> {
        self.identify_with_nonce(peer, now_unix, &[])
    }

    /// [`Session::identify`] with the random bytes SCRAM propagation needs.
    pub fn identify_with_nonce(
        &mut self,
        peer: &PeerInfo,
        now_unix: i64,
        sasl_nonce: &[u8],
    ) -> Result<&Identity, String> {
        match self.core.cfg.identity.identify(peer, now_unix) {
            Ok(identity) => {
                if let Propagation::BanzaiPreamble = self.core.cfg.propagation {
                    self.core.preamble = Some(banzai_preamble(&identity.principal));
                }
                if let (Propagation::Sasl, Some(sasl)) = (self.core.cfg.propagation, &self.core.cfg.sasl) {
                    let now = u64::try_from(now_unix).unwrap_or(0);
                    match crate::propagation::SaslClient::new(sasl, &identity.principal, now, sasl_nonce) {
                        Ok(client) => {
                            self.core.sasl = Some(SaslState {
                                client,
                                started: false,
                                outbox: Vec::new(),
                                held_requests: Vec::new(),
                                held_inflight: Vec::new(),
                                held_responses: Vec::new(),
                            })
                        }
                        Err(e) => {
                            let reason = format!("cannot authenticate {} to the broker: {e}", identity.principal);
                            self.core.events.push(Event::Refused(reason.clone()));
                            return Err(reason);
                        }
                    }
                }
                self.core.events.push(Event::Identified(identity.clone()));
                Ok(self.core.identity.insert(identity))
            }
            Err(refusal) => {
                self.core.events.push(Event::Refused(refusal.0.clone()));
                Err(refusal.0)
            }
        }
    }

    /// Bytes of the next client chunk that pass unread (see [`FrameStream::passthrough_len`]).
    pub fn downstream_passthrough(&self) -> u64 {
        if self.core.preamble.is_some() {
            0
        } else {
            self.requests.passthrough_len()
        }
    }

    pub fn skip_downstream(&mut self, n: u64) {
        self.requests.skip(n)
    }

    pub fn upstream_passthrough(&self) -> u64 {
        self.responses.passthrough_len()
    }

    pub fn skip_upstream(&mut self, n: u64) {
        self.responses.skip(n)
    }

    /// Client → broker bytes. Nothing is forwarded before [`Session::identify`] succeeded.
    pub fn on_downstream(&mut self, chunk: &[u8]) -> ChunkOutcome {
        if self.core.identity.is_none() {
            return ChunkOutcome { edits: Vec::new(), close: Some("no identity for this connection".into()) };
        }
        // SASL requests that became sendable (and the client requests held behind them) go first.
        let mut front = Vec::new();
        if let Some(sasl) = self.core.sasl.as_mut() {
            front = std::mem::take(&mut sasl.outbox);
            if !sasl.client.will_send_more() && !sasl.held_requests.is_empty() {
                front.append(&mut sasl.held_requests);
                let held = std::mem::take(&mut sasl.held_inflight);
                self.core.inflight.extend(held);
            }
        }
        let mut out = self.requests.process(chunk, &mut RequestSide(&mut self.core));
        if out.close.is_none() && !front.is_empty() {
            out.edits.insert(0, Edit { start: 0, remove: 0, insert: front });
            merge_front(&mut out.edits);
        }
        if out.close.is_none() {
            if let Some(preamble) = self.core.preamble.take() {
                out.edits.insert(0, Edit { start: 0, remove: 0, insert: preamble });
                merge_front(&mut out.edits);
            }
        }
        if let Some(reason) = &out.close {
            self.core.stats.push(Stat::ProtocolError(ProtocolErrorKind::of_reason(reason)));
            self.core.events.push(Event::ProtocolError(format!("request stream: {reason}")));
        }
        out
    }

    /// Broker → client bytes.
    pub fn on_upstream(&mut self, chunk: &[u8]) -> ChunkOutcome {
        let out = self.responses.process(chunk, &mut ResponseSide(&mut self.core));
        if let Some(reason) = &out.close {
            self.core.stats.push(Stat::ProtocolError(ProtocolErrorKind::of_reason(reason)));
            self.core.events.push(Event::ProtocolError(format!("response stream: {reason}")));
        }
        out
    }

    /// The host clock in microseconds, for request latency; call before `on_downstream`/`on_upstream`
    /// (requests then started are timed), or after an untimed call that [`Session::wants_time`].
    pub fn set_time_micros(&mut self, now_us: u64) {
        self.core.now_us = now_us;
        self.core.timed = true;
        let Core { pending_latency, stats, .. } = &mut self.core;
        stats.extend(
            pending_latency.drain(..).map(|(api_key, started_us)| Stat::LatencyMicros {
                api_key,
                micros: now_us.saturating_sub(started_us),
            }),
        );
    }

    /// The next calls come without the time (reading the host clock costs a hostcall): requests they start
    /// are not timed, and the latency of timed requests they answer waits for [`Session::set_time_micros`].
    pub fn set_untimed(&mut self) {
        self.core.timed = false;
    }

    /// Whether answered timed requests wait for the time ([`Session::set_time_micros`]).
    pub fn wants_time(&self) -> bool {
        !self.core.pending_latency.is_empty()
    }

    /// Drains the counters since the last call (keeping the buffer: this runs on every chunk).
    pub fn drain_stats(&mut self) -> std::vec::Drain<'_, Stat> {
        self.core.stats.drain(..)
    }

    /// [`Session::drain_stats`], with the names of the topics the stats refer to.
    pub fn drain_stats_and_topics(&mut self) -> (std::vec::Drain<'_, Stat>, &TopicNames) {
        (self.core.stats.drain(..), &self.core.topics)
    }

    /// The name of a topic in this session's stats (`other` past the cap).
    pub fn topic_name(&self, topic: TopicId) -> &str {
        self.core.topics.name(topic)
    }

    /// Drains what happened since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.core.events)
    }

    /// Requests forwarded and not yet answered.
    pub fn inflight_len(&self) -> usize {
        self.core.inflight.len()
    }

    /// Bytes held by this session (frames being decided, queued answers), for memory accounting.
    pub fn held_bytes(&self) -> usize {
        let answers: usize = self
            .core
            .inflight
            .iter()
            .map(|f| match &f.action {
                ResponseAction::Replace(b) => b.capacity(),
                _ => 0,
            })
            .sum();
        self.requests.held_len()
            + self.responses.held_len()
            + answers
            + self.core.inflight.capacity() * std::mem::size_of::<InFlight>()
    }
}

/// Two front edits (the preamble and a first-frame edit at offset 0) become one.
fn merge_front(edits: &mut Vec<Edit>) {
    if edits.get(1).is_some_and(|second| second.start == 0) {
        let second = edits.remove(1);
        if let Some(first) = edits.first_mut() {
            first.remove = second.remove;
            first.insert.extend_from_slice(&second.insert);
        }
    }
}

/// The preamble banzaicloud's patched Kafka (`PlaintextChannelWithOptionalUserIdentity`) reads before the
/// first request: a 2-byte big-endian length, then `BZC_UID:<identity>`; the broker uses `User:<identity>`.
pub fn banzai_preamble(principal: &str) -> Vec<u8> {
    let identity = principal.strip_prefix("User:").unwrap_or(principal);
    let text = format!("BZC_UID:{identity}");
    let bytes = text.as_bytes();
    let len = bytes.len().min(u16::MAX as usize);
    let mut out = Vec::with_capacity(2 + len);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(bytes.get(..len).unwrap_or_default());
    out
}

/// `ip:port` or `[v6]:port` → `ip`.
fn host_of(address: &str) -> String {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    match address.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => ip.to_string(),
        _ => address.to_string(),
    }
}

fn is_idempotent_producer_check(api_key: i16, action: &Action) -> bool {
    api_key == ApiKey::InitProducerId as i16
        && action.op == Operation::IdempotentWrite
        && action.resource_type == ResourceType::Cluster
}

/// ApiVersions v0 with the same correlation id: what the broker answers in place of a denied request.
fn substitute_request(correlation_id: i32) -> Vec<u8> {
    wire::request_frame(ApiKey::ApiVersions as i16, 0, correlation_id, None, &[])
}

struct RequestSide<'a>(&'a mut Core);

impl FrameHandler for RequestSide<'_> {
    fn on_frame(&mut self, frame: &[u8], frame_len: usize) -> Verdict {
        let core = &mut *self.0;
        if core.sasl.is_none() {
            return decide_request(core, frame, frame_len);
        }
        // With SASL propagation requests may be held or reordered around the exchange: whole frames only.
        if frame.len() < frame_len {
            return Verdict::NeedMore;
        }
        let is_api_versions = frame.get(4..6) == Some(&(ApiKey::ApiVersions as i16).to_be_bytes()[..]);
        let mut start = Vec::new();
        if let Some(sasl) = core.sasl.as_mut().filter(|s| !s.started) {
            sasl.started = true;
            start = sasl.client.pipelined_start();
            if start.is_empty() {
                return Verdict::Close("cannot start the SASL exchange".into());
            }
        }
        // The client's first ApiVersions goes before the handshake (Kafka allows it unauthenticated); any
        // other first request goes after it.
        let api_versions_first = !start.is_empty() && is_api_versions;
        if !api_versions_first {
            push_sasl_inflight(core, &start);
        }
        let inflight_before = core.inflight.len();
        let client_bytes = match decide_request(core, frame, frame_len) {
            Verdict::Forward | Verdict::ForwardThrough(_) => frame.to_vec(),
            Verdict::Replace(bytes) => bytes,
            Verdict::Close(reason) => return Verdict::Close(reason),
            Verdict::NeedMore => return Verdict::Close("request undecidable from the whole frame".into()),
        };
        if api_versions_first {
            push_sasl_inflight(core, &start);
            let mut out = client_bytes;
            out.append(&mut start);
            return Verdict::Replace(out);
        }
        if let Some(sasl) = core.sasl.as_mut().filter(|s| s.blocks() || !s.held_requests.is_empty()) {
            // Must follow a SASL request not sendable yet: held with its in-flight entries.
            let at = inflight_before.min(core.inflight.len());
            sasl.held_inflight.extend(core.inflight.drain(at..));
            sasl.held_requests.extend_from_slice(&client_bytes);
            return Verdict::Replace(start);
        }
        start.extend_from_slice(&client_bytes);
        Verdict::Replace(start)
    }
}

/// Records an in-flight entry for every SASL request frame in `frames`.
fn push_sasl_inflight(core: &mut Core, frames: &[u8]) {
    let mut rest = frames;
    while let (Some(size), Some(correlation_id)) = (wire::frame_size(rest), rest.get(8..12)) {
        let correlation_id = i32::from_be_bytes(correlation_id.try_into().unwrap_or_default());
        let field = |range: std::ops::Range<usize>| {
            rest.get(range).and_then(|b| b.try_into().ok()).map(i16::from_be_bytes).unwrap_or_default()
        };
        let (api_key, api_version) = (field(4..6), field(6..8));
        core.inflight.push_back(InFlight {
            correlation_id,
            measured_api_key: api_key,
            started_us: core.timed.then_some(core.now_us),
            api_key,
            api_version,
            action: ResponseAction::Sasl,
        });
        rest = rest.get(SIZE_PREFIX + size.max(0) as usize..).unwrap_or_default();
    }
}

/// Classifies and decides one client request.
fn decide_request(core: &mut Core, frame: &[u8], frame_len: usize) -> Verdict {
    let body = frame.get(SIZE_PREFIX..).unwrap_or_default();
    let body_len = frame_len.saturating_sub(SIZE_PREFIX);
    if !core.first_request_seen {
        // A client must not choose its identity: refuse anything shaped like an identity preamble.
        if body.len() < 8 && body.len() < body_len {
            return Verdict::NeedMore;
        }
        if frame.get(2..10) == Some(b"BZC_UID:".as_slice()) {
            return Verdict::Close("client sent an identity preamble".into());
        }
    }
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
    let record = |allowed: bool, action: Option<&Action>, rule: String, audit_only: bool| DecisionRecord {
        api_key: header.api_key,
        api_version: header.api_version,
        correlation_id: header.correlation_id,
        client_id: header.client_id.map(str::to_string),
        resource_type: action.map(|a| a.resource_type),
        resource_name: action.map(|a| a.name.to_string()),
        operation: action.map(|a| a.op),
        allowed,
        audit_only,
        rule,
    };
    let forward = |core: &mut Core, action: ResponseAction, expects_response: bool, decision| {
        core.count_request(header.api_key, decision);
        if header.api_key == ApiKey::Produce as i16 {
            core.stats.push(Stat::ProducedBytes(frame_len as u64));
            let body_offset = SIZE_PREFIX + header.header_len;
            topic_bytes::count_produce(core, header.api_version, body_prefix, request_body_len, body_offset, frame_len);
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
            Classification::Checks { expects_response: false, .. } => {
                forward(core, ResponseAction::Forward, false, RequestDecision::Allowed)
            }
            _ => forward(core, ResponseAction::Forward, true, RequestDecision::Allowed),
        };
    }
    match classification {
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
            Verdict::Close(format!("{} v{}: {rule}", api_name(header.api_key), header.api_version))
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
        Classification::Checks { requirements, expects_response } => {
            let principal = core.identity.as_ref().map(|i| i.principal.as_str()).unwrap_or("User:ANONYMOUS");
            let ctx = RequestCtx {
                principal,
                host: &core.host,
                api_key: header.api_key,
                api_version: header.api_version,
                client_id: header.client_id,
            };
            let mut denied: Vec<(ResourceType, String)> = Vec::new();
            let mut records = Vec::new();
            for requirement in &requirements {
                let mut last = None;
                let mut satisfied = false;
                for action in requirement.any_of() {
                    let mut decision = core.cfg.authorizer.authorize(&ctx, action);
                    if !decision.allowed && is_idempotent_producer_check(header.api_key, action) {
                        // Kafka 3.0+: an idempotent producer needs IdempotentWrite on the cluster OR
                        // Write on any topic.
                        let any = core.cfg.authorizer.authorize_any(&ctx, Operation::Write, ResourceType::Topic);
                        if any.allowed {
                            decision = any;
                        }
                    }
                    if decision.allowed {
                        satisfied = true;
                        last = Some((action, decision));
                        break;
                    }
                    // A failed requirement is recorded by its most specific (last) alternative: Kafka's error
                    // names the topic of a denied CreateTopics, not the cluster, and a split filters by it.
                    last = Some((action, decision));
                }
                if let Some((action, decision)) = last {
                    if !satisfied {
                        denied.push((action.resource_type, action.name.to_string()));
                    }
                    if !satisfied || core.cfg.log_allowed {
                        records.push(record(satisfied, Some(action), decision.rule.into_owned(), mode == Mode::Audit));
                    }
                }
            }
            let partial = mode == Mode::Enforce && partial_candidate(header.api_key, header.api_version, &denied);
            if mode == Mode::Enforce && !denied.is_empty() && (expects_response || partial) && frame.len() < frame_len {
                // Answering or splitting needs the whole request; decided again (once) when it is here.
                return Verdict::NeedMore;
            }
            core.events.extend(records.into_iter().map(Event::Decision));
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
            if partial {
                if let Some(verdict) = forward_allowed_part(core, &header, body_prefix, &denied, expects_response) {
                    if let (Verdict::Replace(forwarded), true) = (&verdict, header.api_key == ApiKey::Produce as i16) {
                        // The allowed part is what reaches the broker: it is the produced bytes.
                        topic_bytes::count_forwarded_produce(core, header.api_version, forwarded);
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
            match crate::enforce::error_response(
                header.api_key,
                header.api_version,
                header.correlation_id,
                body_prefix,
                &error_for,
            ) {
                Ok(answer) => {
                    core.count_request(header.api_key, RequestDecision::Denied);
                    core.push_inflight(&header, (ApiKey::ApiVersions as i16, 0), ResponseAction::Replace(answer));
                    Verdict::Replace(substitute_request(header.correlation_id))
                }
                Err(e) => Verdict::Close(format!(
                    "denied {} v{} cannot be answered, unsupported: {e}",
                    api_name(header.api_key),
                    header.api_version
                )),
            }
        }
    }
}

struct ResponseSide<'a>(&'a mut Core);

impl FrameHandler for ResponseSide<'_> {
    fn on_frame(&mut self, frame: &[u8], frame_len: usize) -> Verdict {
        let core = &mut *self.0;
        if !core.tracking {
            return Verdict::Forward;
        }
        let Some(correlation_id) = wire::response_correlation_id(frame) else {
            return if frame.len() < frame_len { Verdict::NeedMore } else { Verdict::Close("short response".into()) };
        };
        let Some(expected) = core.inflight.front() else {
            return Verdict::Close(format!("response {correlation_id} without a request"));
        };
        if expected.correlation_id != correlation_id {
            return Verdict::Close(format!(
                "response correlation id {correlation_id}, expected {}",
                expected.correlation_id
            ));
        }
        let is_sasl = matches!(expected.action, ResponseAction::Sasl);
        let holding = core.sasl.as_ref().is_some_and(SaslState::blocks);
        let whole_needed = is_sasl
            || holding
            || matches!(
                expected.action,
                ResponseAction::ClampApiVersions
                    | ResponseAction::FilterMetadata { .. }
                    | ResponseAction::FilterListing { .. }
                    | ResponseAction::MergeDenied { .. }
            );
        if whole_needed && frame.len() < frame_len {
            return Verdict::NeedMore;
        }
        let Some(entry) = core.inflight.pop_front() else { return Verdict::Close("no request".into()) };
        if is_sasl {
            return sasl_response(core, frame);
        }
        match entry.started_us {
            Some(started_us) if core.timed => core.stats.push(Stat::LatencyMicros {
                api_key: entry.measured_api_key,
                micros: core.now_us.saturating_sub(started_us),
            }),
            Some(started_us) => core.pending_latency.push((entry.measured_api_key, started_us)),
            None => {}
        }
        // Where the Fetch walk wants to see this response again (its topics' shares; see topic_bytes).
        let mut resume = None;
        if entry.api_key == ApiKey::Fetch as i16 {
            core.stats.push(Stat::FetchedBytes(frame_len as u64));
            resume = topic_bytes::start_fetch(core, entry.api_version, frame, frame_len);
        }
        let verdict = match entry.action {
            ResponseAction::Forward | ResponseAction::Sasl => Verdict::Forward,
            ResponseAction::Replace(answer) => Verdict::Replace(answer),
            ResponseAction::ClampApiVersions => match clamp_api_versions(frame, entry.api_version) {
                Ok(Some(rewritten)) => Verdict::Replace(rewritten),
                Ok(None) => Verdict::Forward,
                Err(e) => Verdict::Close(format!("ApiVersions response: {e}")),
            },
            ResponseAction::FilterMetadata { denied_named, client_id } => {
                match filter_metadata_response(core, frame, entry.api_version, &denied_named, client_id.as_deref()) {
                    Ok(rewritten) => Verdict::Replace(rewritten),
                    Err(e) => Verdict::Close(format!("Metadata response: {e}")),
                }
            }
            ResponseAction::FilterListing { filter, client_id } => {
                let request = (entry.api_key, entry.api_version, entry.correlation_id);
                match filter_listing_response(core, frame, request, &filter, client_id.as_deref()) {
                    Ok(Some(rewritten)) => Verdict::Replace(rewritten),
                    Ok(None) => Verdict::Forward,
                    Err(e) => Verdict::Close(format!("{} response: {e}", api_name(entry.api_key))),
                }
            }
            ResponseAction::MergeDenied { answer, by_group, listing } => {
                let request = (entry.api_key, entry.api_version, entry.correlation_id);
                let narrowed = match &listing {
                    Some((filter, client_id)) => {
                        filter_listing_response(core, frame, request, filter, client_id.as_deref())
                    }
                    None => Ok(None),
                };
                let merged = narrowed.and_then(|narrowed| {
                    let broker = narrowed.as_deref().unwrap_or(frame);
                    merge_denied((entry.api_key, entry.api_version), broker, &answer, by_group)
                });
                match merged {
                    Ok(merged) => Verdict::Replace(merged),
                    Err(e) => Verdict::Close(format!("{} response: {e}", api_name(entry.api_key))),
                }
            }
        };
        match (verdict, core.sasl.as_mut()) {
            // Held until the exchange has sent what must precede the client's next request (see SaslState).
            (Verdict::Forward, Some(sasl)) if holding => {
                sasl.held_responses.extend_from_slice(frame);
                Verdict::Replace(Vec::new())
            }
            (Verdict::Replace(bytes), Some(sasl)) if holding => {
                sasl.held_responses.extend_from_slice(&bytes);
                Verdict::Replace(Vec::new())
            }
            (Verdict::Forward, _) => match resume {
                Some(offset) => Verdict::ForwardThrough(offset),
                None => Verdict::Forward,
            },
            (verdict, _) => verdict,
        }
    }

    fn on_frame_rest(&mut self, bytes: &[u8], offset: usize, _frame_len: usize) -> Verdict {
        match topic_bytes::continue_fetch(self.0, bytes, offset) {
            Some(next) => Verdict::ForwardThrough(next),
            None => Verdict::Forward,
        }
    }
}

/// Feeds the broker's answer to the filter's SASL exchange; it never reaches the client.
fn sasl_response(core: &mut Core, frame: &[u8]) -> Verdict {
    let Some(sasl) = core.sasl.as_mut() else { return Verdict::Close("SASL response without exchange".into()) };
    match sasl.client.on_response(frame) {
        Ok(crate::propagation::SaslStep::Send(next)) => {
            sasl.outbox.extend_from_slice(&next);
            let released = std::mem::take(&mut sasl.held_responses);
            push_sasl_inflight(core, &next);
            Verdict::Replace(released)
        }
        Ok(crate::propagation::SaslStep::Wait) => Verdict::Replace(Vec::new()),
        Ok(crate::propagation::SaslStep::Done) => {
            let released = std::mem::take(&mut sasl.held_responses);
            let user = sasl.client.username().to_string();
            core.events.push(Event::Propagated(format!("authenticated to the broker as SASL user {user}")));
            Verdict::Replace(released)
        }
        Err(e) => Verdict::Close(format!("SASL authentication to the broker failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_ports() {
        assert_eq!(host_of("127.0.0.1:41500"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9092"), "::1");
        assert_eq!(host_of("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn banzai_preamble_bytes() {
        let p = banzai_preamble("User:CN=kafka-default");
        assert_eq!(&p[..2], &[0, 24]);
        assert_eq!(&p[2..], b"BZC_UID:CN=kafka-default");
    }
}

//! One client connection, sans-IO: identity once, then every request frame classified and decided, every
//! response matched to its request in order and, where needed, replaced or rewritten.
//!
//! Denials: a network filter cannot write to the client from the request path (Envoy refuses writes to the
//! upstream-to-client buffer there), so a denied request is swapped for a harmless ApiVersions v0 request with
//! the same correlation id, and the broker's answer to it is replaced by the real Kafka error response for
//! the original request. Responses thereby stay in order with pipelined requests.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::config::{Config, Propagation};
use crate::connection_limits::EndReason;
use crate::frame::{ChunkOutcome, CloseKind, Edit, FrameStream};
use crate::identity::{Identity, PeerInfo};
use crate::metrics::{ProtocolErrorKind, Stat, TopicId, TopicNames};

mod api_versions;
mod decision;
mod decision_cache;
mod early;
mod events;
mod policy_update;
mod regex_subscription;
mod requests;
mod responses;
mod sasl;
mod split;
mod split_groups;
mod state;
mod topic_bytes;
mod topic_resolution;
mod visibility;

pub use api_versions::supported_versions;
use decision_cache::DecisionCache;
pub use events::{DecisionRecord, Event};
pub use policy_update::Standing;
use requests::RequestSide;
use responses::ResponseSide;
use state::{Core, InFlight, ResponseAction, SaslState};
use topic_bytes::TopicBytes;

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
        let tracking = policy_update::tracks_responses(&cfg);
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
                topic_bytes: TopicBytes::new(topics),
                pending_policy: None,
                deciding: false,
                peer: None,
                dtp_cursors: Vec::new(),
                not_after: None,
                decisions: DecisionCache::default(),
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
        self.keep_peer(peer, now_unix);
        match self.core.cfg.identity.identify_detailed(peer, now_unix) {
            Ok(detailed) => {
                self.core.not_after = detailed.not_after;
                let identity = detailed.identity;
                if let Propagation::BanzaiPreamble = self.core.cfg.propagation {
                    self.core.preamble = Some(crate::propagation::banzai_preamble(&identity.principal));
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
        // A policy taken at a frame boundary of this chunk limits the frames that start after it.
        self.requests.set_max_frame_bytes(self.core.cfg.max_frame_bytes);
        self.responses.set_max_frame_bytes(self.core.cfg.max_frame_bytes);
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
            if let CloseKind::Ended(why) = reason.kind {
                self.core.events.push(match why {
                    EndReason::PolicyUpdate => Event::PolicyClosed(reason.message.clone()),
                    _ => Event::Ended(why, reason.message.clone()),
                });
            } else {
                self.core.stats.push(Stat::ProtocolError(ProtocolErrorKind::from(reason.kind)));
                self.core.events.push(Event::ProtocolError(format!("request stream: {reason}")));
            }
        }
        out
    }

    /// Broker → client bytes.
    pub fn on_upstream(&mut self, chunk: &[u8]) -> ChunkOutcome {
        let out = self.responses.process(chunk, &mut ResponseSide(&mut self.core));
        if let Some(reason) = &out.close {
            self.core.stats.push(Stat::ProtocolError(ProtocolErrorKind::from(reason.kind)));
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
        (self.core.stats.drain(..), &self.core.topic_bytes.names)
    }

    /// The name of a topic in this session's stats (`other` past the cap).
    pub fn topic_name(&self, topic: TopicId) -> &str {
        self.core.topic_bytes.names.name(topic)
    }

    /// Whether something happened that [`Session::take_events`] would return.
    pub fn has_events(&self) -> bool {
        !self.core.events.is_empty()
    }

    /// Drains what happened since the last call.
    #[must_use = "events carry the decisions to audit and the reasons to log"]
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.core.events)
    }

    /// The client certificate's `notAfter` (seconds since the epoch), when the certificate was read.
    pub fn certificate_not_after(&self) -> Option<i64> {
        self.core.not_after
    }

    /// The session lifetime the broker granted the filter's SASL authentication (KIP-368; 0: none), once
    /// authenticated.
    pub fn sasl_session_lifetime_ms(&self) -> Option<i64> {
        self.core.sasl.as_ref().and_then(|s| s.client.session_lifetime_ms())
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
                // A request kept until its topic ids are resolved (see `topic_resolution`).
                ResponseAction::ResolveTopicIds(unresolved) => unresolved.body.capacity(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_ports() {
        assert_eq!(host_of("127.0.0.1:41500"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9092"), "::1");
        assert_eq!(host_of("10.0.0.1"), "10.0.0.1");
    }
}

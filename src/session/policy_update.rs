//! A policy update reaching an open connection (issue 22): the glue offers the newest configuration with
//! [`Session::update_policy`], and the session takes it at the next request frame boundary, so a request
//! that is being buffered is decided under exactly one policy, and the first request that starts after the
//! offer is decided under the new one. Requests in flight keep the policy they were decided under for their
//! responses (see `InFlight::cfg`). Nothing is dropped, duplicated or reordered: the swap happens between
//! frames.
//!
//! What changes in place: authorization (ACLs, super users, mode enforce ↔ audit, unknown requests,
//! allow-if-no-ACL), observability, `maxFrameBytes`, and an identity mapping that still derives the same
//! principal. What cannot: another principal or a refusal under the new identity settings, another
//! propagation mode, response tracking switching on or off (authorization `off` ↔ on); the connection is then
//! closed at that request boundary, so the client reconnects under the new policy (fail closed).

use std::rc::Rc;

use super::events::Event;
use super::state::Core;
use super::Session;
use crate::config::{Config, Propagation};
use crate::identity::PeerInfo;
use crate::policy::Mode;

/// What the session takes at the next request frame boundary.
#[derive(Debug)]
pub(super) enum PendingPolicy {
    Apply {
        cfg: Rc<Config>,
        generation: u64,
    },
    /// The newest policy cannot be followed here: end the connection at the boundary.
    Close(String),
}

/// Close reasons of policy updates start with this (so they are not counted as protocol errors).
const CLOSE_PREFIX: &str = "policy update: ";

pub(super) fn is_policy_close(reason: &str) -> bool {
    reason.starts_with(CLOSE_PREFIX)
}

/// Whether a configuration needs the filter to match every response to its request.
pub(super) fn tracks_responses(cfg: &Config) -> bool {
    cfg.authorizer.mode() != Mode::Off || cfg.propagation == Propagation::Sasl
}

impl Session {
    /// Offers the newest policy (`generation`: the publisher's number, reported in
    /// [`Event::PolicyApplied`]). Before the connection is identified it applies at once; afterwards at the
    /// next request frame boundary. A later offer replaces one not yet applied.
    pub fn update_policy(&mut self, cfg: Rc<Config>, generation: u64) {
        if self.core.identity.is_none() && !self.core.first_request_seen {
            self.core.tracking = tracks_responses(&cfg);
            self.requests.set_max_frame_bytes(cfg.max_frame_bytes);
            self.responses.set_max_frame_bytes(cfg.max_frame_bytes);
            self.core.cfg = cfg;
            self.core.events.push(Event::PolicyApplied { generation });
            return;
        }
        self.core.pending_policy = Some(PendingPolicy::Apply { cfg, generation });
    }

    /// Ends the connection at the next request frame boundary (the newest policy cannot be followed):
    /// reported as [`Event::PolicyClosed`] with `policy update: <reason>`.
    pub fn close_at_request_boundary(&mut self, reason: &str) {
        self.core.pending_policy = Some(PendingPolicy::Close(format!("{CLOSE_PREFIX}{reason}")));
    }

    /// The policy the next request is decided under (unless an update is pending).
    pub fn policy(&self) -> &Rc<Config> {
        &self.core.cfg
    }

    /// Remembers what the identity was derived from, so a policy update can derive it again.
    pub(super) fn keep_peer(&mut self, peer: &PeerInfo, now_unix: i64) {
        self.core.peer = Some((peer.clone(), now_unix));
    }
}

impl Core {
    /// At a request frame boundary: takes a pending policy. `Err`: close the connection with this reason.
    pub(super) fn take_pending_policy(&mut self) -> Result<(), String> {
        let (cfg, generation) = match self.pending_policy.take() {
            None => return Ok(()),
            Some(PendingPolicy::Close(reason)) => return Err(reason),
            Some(PendingPolicy::Apply { cfg, generation }) => (cfg, generation),
        };
        if cfg.propagation != self.cfg.propagation {
            return Err(format!("{CLOSE_PREFIX}identity propagation changed; reconnect"));
        }
        if tracks_responses(&cfg) != self.tracking {
            return Err(format!("{CLOSE_PREFIX}authorization switched on or off; reconnect"));
        }
        if let (Some(identity), Some((peer, now_unix))) = (&self.identity, &self.peer) {
            match cfg.identity.identify(peer, *now_unix) {
                Ok(new) if new.principal == identity.principal => {}
                Ok(new) => {
                    return Err(format!(
                        "{CLOSE_PREFIX}the principal is now {} (was {}); reconnect",
                        new.principal, identity.principal
                    ))
                }
                Err(refusal) => return Err(format!("{CLOSE_PREFIX}refused: {}", refusal.0)),
            }
        }
        self.cfg = cfg;
        self.events.push(Event::PolicyApplied { generation });
        Ok(())
    }
}

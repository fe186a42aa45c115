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
//! closed at that request boundary, so the client reconnects under the new policy (fail closed), unless the
//! new policy says `connections.onIncompatiblePolicyChange: keepOldPolicy`. The same check ([`Standing`]) runs
//! in the glue's timer for connections that send nothing (`connection_limits`: `maxCloseDelayMs`).

use std::rc::Rc;

use super::events::Event;
use super::state::Core;
use super::state::PendingPolicy;
use super::Session;
use crate::config::{Config, Propagation};
use crate::connection_limits::{EndReason, OnIncompatibleChange};
use crate::frame::{CloseKind, CloseReason};
use crate::identity::PeerInfo;
use crate::policy::Mode;

/// Close reasons of policy updates start with this.
const CLOSE_PREFIX: &str = "policy update: ";

/// Whether a configuration needs the filter to match every response to its request.
pub(super) fn tracks_responses(cfg: &Config) -> bool {
    cfg.authorizer.mode() != Mode::Off || cfg.propagation == Propagation::Sasl
}

/// What a policy update cannot change on an open connection: the identity it derived and what the broker
/// connection carries. Checked by the session at a request boundary, and by the glue's timer for a connection
/// that sends nothing.
#[derive(Debug, Clone)]
pub struct Standing {
    propagation: Propagation,
    tracking: bool,
    principal: Option<String>,
    peer: Option<Rc<(PeerInfo, i64)>>,
}

impl Standing {
    /// `Err`: why the connection cannot follow `cfg` in place.
    pub fn follows(&self, cfg: &Config) -> Result<(), String> {
        if cfg.propagation != self.propagation {
            return Err(format!("{CLOSE_PREFIX}identity propagation changed; reconnect"));
        }
        if tracks_responses(cfg) != self.tracking {
            return Err(format!("{CLOSE_PREFIX}authorization switched on or off; reconnect"));
        }
        if let (Some(principal), Some(peer)) = (&self.principal, &self.peer) {
            let (peer, now_unix) = peer.as_ref();
            match cfg.identity.identify(peer, *now_unix) {
                Ok(new) if &new.principal == principal => {}
                Ok(new) => {
                    return Err(format!(
                        "{CLOSE_PREFIX}the principal is now {} (was {principal}); reconnect",
                        new.principal
                    ))
                }
                Err(refusal) => return Err(format!("{CLOSE_PREFIX}refused: {}", refusal.0)),
            }
        }
        Ok(())
    }
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
        if matches!(self.core.pending_policy, Some(PendingPolicy::Close(..))) {
            return;
        }
        self.core.pending_policy = Some(PendingPolicy::Apply { cfg, generation });
    }

    /// Ends the connection at the next request frame boundary (the newest policy cannot be followed):
    /// reported as [`Event::PolicyClosed`] with `policy update: <reason>`.
    pub fn close_at_request_boundary(&mut self, reason: &str) {
        self.end_at_request_boundary(EndReason::PolicyUpdate, &format!("{CLOSE_PREFIX}{reason}"));
    }

    /// Ends the connection at the next request frame boundary, for `why` (reported as
    /// [`Event::PolicyClosed`] for a policy update, [`Event::Ended`] otherwise).
    pub fn end_at_request_boundary(&mut self, why: EndReason, reason: &str) {
        self.core.pending_policy = Some(PendingPolicy::Close(why, reason.to_string()));
    }

    /// The policy the next request is decided under (unless an update is pending).
    pub fn policy(&self) -> &Rc<Config> {
        &self.core.cfg
    }

    /// What a policy update cannot change on this connection (see [`Standing::follows`]).
    pub fn standing(&self) -> Standing {
        Standing {
            propagation: self.core.cfg.propagation,
            tracking: self.core.tracking,
            principal: self.core.identity.as_ref().map(|i| i.principal.clone()),
            peer: self.core.peer.clone(),
        }
    }

    /// Remembers what the identity was derived from, so a policy update can derive it again.
    pub(super) fn keep_peer(&mut self, peer: &PeerInfo, now_unix: i64) {
        self.core.peer = Some(Rc::new((peer.clone(), now_unix)));
    }
}

impl Core {
    /// At a request frame boundary: takes a pending policy. `Err`: close the connection for this reason.
    pub(super) fn take_pending_policy(&mut self) -> Result<(), Box<CloseReason>> {
        let ended = |why, message| Box::new(CloseReason::new(CloseKind::Ended(why), message));
        let (cfg, generation) = match self.pending_policy.take() {
            None => return Ok(()),
            Some(PendingPolicy::Close(why, reason)) => return Err(ended(why, reason)),
            Some(PendingPolicy::Apply { cfg, generation }) => (cfg, generation),
        };
        let standing = Standing {
            propagation: self.cfg.propagation,
            tracking: self.tracking,
            principal: self.identity.as_ref().map(|i| i.principal.clone()),
            peer: self.peer.clone(),
        };
        if let Err(reason) = standing.follows(&cfg) {
            if cfg.connections.on_incompatible == OnIncompatibleChange::KeepOldPolicy {
                self.events.push(Event::PolicyKept { generation, reason });
                return Ok(());
            }
            return Err(ended(EndReason::PolicyUpdate, reason));
        }
        self.cfg = cfg;
        self.events.push(Event::PolicyApplied { generation });
        Ok(())
    }
}

//! Ending open connections within a bound (`connection_limits`): a policy update a connection cannot follow in
//! place, its client certificate's expiry, `connections.maxAgeMs`, the broker's SASL session lifetime.
//!
//! A connection that sends requests is ended by its session at the next request boundary. One that sends
//! nothing gets no callback, so the root contexts' timer looks at every connection of its VM (a `Watch` each,
//! in a per-VM list): it reads the newest published policy once per scope and checks each connection against
//! it ([`Standing::follows`]), tells a connection whose time limit comes within the next tick (the connection
//! then reads the clock at its request boundaries until it is due: none otherwise), and closes, as the
//! connection's own context, each connection still open `maxCloseDelayMs` after its reason arose.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use proxy_wasm::types::MetricType;

use super::host;
use super::policy_updates::{Follow, Follower, Scope};
use crate::config::Config;
use crate::connection_limits::{
    describe, reauth_fraction_per_mille, sasl_end_ms, EndReason, Lifetime, OnIncompatibleChange,
};
use crate::session::{Session, Standing};

/// The root contexts' timer period: also the counters' flush period.
pub(super) const TICK_MS: u64 = 1_000;

/// Counter of connections ended, by reason and by where: at a request boundary or at `maxCloseDelayMs`.
fn ended_metric(why: EndReason, at: &str) -> String {
    format!("kafka_filter.connections_ended;reason={};at={at}", why.as_str())
}

pub(super) fn count_ended(why: EndReason, at: &str) {
    if let Ok(id) = host::define_metric(MetricType::Counter, &ended_metric(why, at)) {
        host::increment_metric(id, 1);
    }
}

/// The session ended the connection at a request boundary for a time limit.
pub(super) fn ended_at_boundary(label: &str, why: EndReason, reason: &str) {
    log::warn!("{label}: closing at a request boundary: {reason}");
    count_ended(why, "request_boundary");
}

/// The newest policy cannot be followed in place and says `keepOldPolicy`.
pub(super) fn kept(label: &str, generation: u64, reason: &str) {
    log::warn!("{label}: policy generation {generation} not followed (keepOldPolicy): {reason}");
    super::count_now(super::policy_updates::POLICY_KEPT);
}

/// Why a connection is to end, and when.
#[derive(Debug, Clone)]
struct Ending {
    why: EndReason,
    message: String,
    /// From when the session ends it at a request boundary (ms since the epoch).
    due_ms: u64,
    /// When the timer closes it if it is still open.
    close_by_ms: u64,
    /// The timer's time when it set this (the connection reads the clock only while `due_ms` is later).
    armed_ms: u64,
}

#[derive(Debug, Default)]
struct WatchState {
    standing: Option<Standing>,
    lifetime: Lifetime,
    /// The newest policy's generation this connection was last checked against.
    checked_generation: u64,
    ending: Option<Ending>,
    /// The session was told to end at its next request boundary.
    told: bool,
}

/// One connection as the timer sees it.
#[derive(Debug)]
pub(super) struct Watch {
    context_id: u32,
    scope: Option<Scope>,
    /// The policy the connection started with (its time limits until a newer one is published).
    start: Rc<Config>,
    state: RefCell<WatchState>,
    closed: Cell<bool>,
}

thread_local! {
    /// Every connection of this VM (all roots: an old root may get no timer, a new one does).
    static WATCHES: RefCell<Vec<Weak<Watch>>> = const { RefCell::new(Vec::new()) };
    /// The newest policy per scope, as this VM's timer last read it.
    static NEWEST: RefCell<Vec<Newest>> = const { RefCell::new(Vec::new()) };
    /// When the timer last ran in this VM (every root ticks: once per period is enough).
    static LAST_RUN_MS: Cell<u64> = const { Cell::new(0) };
}

/// The newest policy of a scope and its generation (`None`: none published; `Err`: the generation and why it
/// does not compile here).
type NewestPolicy = Result<Option<(u64, Rc<Config>)>, (u64, String)>;

struct Newest {
    key: String,
    follower: Follower,
    config: Option<(u64, Rc<Config>)>,
    /// The newest policy does not compile here: every connection of the scope ends.
    cannot: Option<(u64, String)>,
}

impl Watch {
    pub(super) fn register(context_id: u32, scope: Option<Scope>, start: Rc<Config>) -> Rc<Watch> {
        let watch = Rc::new(Watch {
            context_id,
            scope,
            start,
            state: RefCell::new(WatchState::default()),
            closed: Cell::new(false),
        });
        WATCHES.with(|w| w.borrow_mut().push(Rc::downgrade(&watch)));
        watch
    }

    /// After the connection was identified: what a policy cannot change, and its time limits.
    pub(super) fn identified(&self, session: &Session, now_ms: u64) {
        let mut state = self.state.borrow_mut();
        state.standing = Some(session.standing());
        state.lifetime.started_ms = now_ms;
        state.lifetime.certificate_not_after_ms =
            session.certificate_not_after().and_then(|s| u64::try_from(s).ok()).map(|s| s.saturating_mul(1_000));
    }

    /// After the filter's SASL exchange: end before the broker's session lifetime (KIP-368) runs out, at a
    /// random point of Kafka's own client's re-authentication window.
    pub(super) fn sasl_authenticated(&self, session: &Session, label: &str) {
        let Some(lifetime_ms) = session.sasl_session_lifetime_ms().filter(|ms| *ms > 0) else { return };
        let now_ms = host::now_nanos().map(|n| n / 1_000_000).unwrap_or(0);
        let mut random = [0u8; 1];
        let _ = getrandom::fill(&mut random);
        let end_ms = sasl_end_ms(now_ms, lifetime_ms, reauth_fraction_per_mille(random[0]));
        if let Some(end_ms) = end_ms {
            log::info!(
                "{label}: the broker's SASL session lasts {lifetime_ms} ms: the connection ends at a request boundary in {} ms",
                end_ms.saturating_sub(now_ms)
            );
        }
        self.state.borrow_mut().lifetime.sasl_end_ms = end_ms;
    }

    /// Whether the timer closed the connection.
    pub(super) fn closed(&self) -> bool {
        self.closed.get()
    }

    /// At a client chunk with a request boundary: tells the session to end at it when a reason is due.
    pub(super) fn notice(&self, session: &mut Session) {
        let Ok(mut state) = self.state.try_borrow_mut() else { return };
        if state.told {
            return;
        }
        let Some(ending) = &state.ending else { return };
        if ending.due_ms > ending.armed_ms {
            let now_ms = host::now_nanos().map(|n| n / 1_000_000).unwrap_or(0);
            if now_ms < ending.due_ms {
                return;
            }
        }
        session.end_at_request_boundary(ending.why, &ending.message);
        state.told = true;
    }
}

/// The newest policy of `scope` in this VM (`None`: none published; `Err`: it does not compile here).
fn newest(scope: &Scope) -> NewestPolicy {
    NEWEST.with(|all| {
        let mut all = all.borrow_mut();
        let position = all.iter().position(|n| n.key == scope.key());
        let entry = match position.and_then(|i| all.get_mut(i)) {
            Some(entry) => entry,
            None => {
                all.push(Newest {
                    key: scope.key().to_string(),
                    follower: Follower::new(scope.clone(), 0),
                    config: None,
                    cannot: None,
                });
                let Some(entry) = all.last_mut() else { return Ok(None) };
                entry
            }
        };
        match entry.follower.check() {
            Follow::Same => {}
            Follow::Update(config, generation, _) => {
                entry.config = Some((generation, config));
                entry.cannot = None;
            }
            Follow::Cannot(reason) => entry.cannot = Some((entry.config.as_ref().map_or(0, |c| c.0) + 1, reason)),
        }
        match &entry.cannot {
            Some(cannot) => Err(cannot.clone()),
            None => Ok(entry.config.clone()),
        }
    })
}

/// The root's timer: see the module doc. `root_context_id`: restored after closing connections.
pub(super) fn tick(root_context_id: u32) {
    let Ok(now_ns) = host::now_nanos() else { return };
    let now_ms = now_ns / 1_000_000;
    if now_ms.saturating_sub(LAST_RUN_MS.with(Cell::get)) < TICK_MS / 2 {
        return;
    }
    LAST_RUN_MS.with(|last| last.set(now_ms));
    let watches: Vec<Rc<Watch>> = WATCHES.with(|all| {
        let mut all = all.borrow_mut();
        all.retain(|w| w.upgrade().is_some_and(|w| !w.closed.get()));
        all.iter().filter_map(Weak::upgrade).collect()
    });
    if watches.is_empty() {
        // Forget the scopes' followers too: the next connection starts from the head again.
        NEWEST.with(|all| all.borrow_mut().clear());
        return;
    }
    let mut newest_by_scope: Vec<(String, NewestPolicy)> = Vec::new();
    let mut to_close = Vec::new();
    for watch in &watches {
        let newest = match &watch.scope {
            None => Ok(None),
            Some(scope) => match newest_by_scope.iter().find(|(key, _)| key == scope.key()) {
                Some((_, newest)) => newest.clone(),
                None => {
                    let newest = newest(scope);
                    newest_by_scope.push((scope.key().to_string(), newest.clone()));
                    newest
                }
            },
        };
        if let Some(ending) = watch.check(newest, now_ms) {
            to_close.push((watch.clone(), ending));
        }
    }
    if to_close.is_empty() {
        return;
    }
    for (watch, ending) in to_close {
        watch.closed.set(true);
        if host::set_effective_context(watch.context_id).is_err() {
            continue;
        }
        log::warn!(
            "connection context {}: closing: {} ms after {} and no request boundary since ({})",
            watch.context_id,
            now_ms.saturating_sub(ending.due_ms),
            describe(ending.why),
            ending.message
        );
        let _ = host::close_downstream();
        let _ = host::close_upstream();
        count_ended(ending.why, "max_close_delay");
        if ending.why == EndReason::PolicyUpdate {
            super::count_now(super::policy_updates::POLICY_CLOSED);
        }
    }
    let _ = host::set_effective_context(root_context_id);
}

impl Watch {
    /// One timer look at this connection: `Some`: close it now.
    fn check(&self, newest: NewestPolicy, now_ms: u64) -> Option<Ending> {
        let mut state = self.state.borrow_mut();
        state.standing.as_ref()?;
        if state.ending.is_none() {
            let policy = match newest {
                Err((generation, reason)) if generation != state.checked_generation => {
                    state.checked_generation = generation;
                    Some((reason, self.start.connections.max_close_delay_ms))
                }
                Ok(Some((generation, config))) if generation != state.checked_generation => {
                    state.checked_generation = generation;
                    let follows = match &state.standing {
                        _ if Rc::ptr_eq(&config, &self.start) => Ok(()),
                        Some(standing) => standing.follows(&config),
                        None => Ok(()),
                    };
                    let limits = config.connections;
                    let time = state.lifetime.deadline(&limits);
                    match follows {
                        Err(reason) if limits.on_incompatible == OnIncompatibleChange::CloseAtRequestBoundary => {
                            Some((reason, limits.max_close_delay_ms))
                        }
                        _ => {
                            state.ending = arm_time(time, &limits, now_ms);
                            None
                        }
                    }
                }
                _ => None,
            };
            if let Some((message, delay)) = policy {
                state.ending = Some(Ending {
                    why: EndReason::PolicyUpdate,
                    message,
                    due_ms: now_ms,
                    close_by_ms: now_ms.saturating_add(delay),
                    armed_ms: now_ms,
                });
            }
        }
        if state.ending.is_none() {
            // Time limits under the newest policy the timer has seen for this scope, else the start's.
            let limits = newest_limits(self).unwrap_or(self.start.connections);
            state.ending = arm_time(state.lifetime.deadline(&limits), &limits, now_ms);
        }
        let ending = state.ending.as_ref()?;
        (ending.close_by_ms <= now_ms).then(|| ending.clone())
    }
}

/// The connection limits of the newest policy of the watch's scope, if one was read.
fn newest_limits(watch: &Watch) -> Option<crate::connection_limits::ConnectionLimits> {
    let scope = watch.scope.as_ref()?;
    NEWEST.with(|all| {
        all.borrow().iter().find(|n| n.key == scope.key()).and_then(|n| n.config.as_ref()).map(|c| c.1.connections)
    })
}

/// An ending for a time limit that comes within the next tick (the connection then checks the clock).
fn arm_time(
    deadline: Option<(u64, EndReason)>,
    limits: &crate::connection_limits::ConnectionLimits,
    now_ms: u64,
) -> Option<Ending> {
    let (due_ms, why) = deadline?;
    if due_ms > now_ms.saturating_add(2 * TICK_MS) {
        return None;
    }
    Some(Ending {
        why,
        message: describe(why).to_string(),
        due_ms,
        close_by_ms: due_ms.saturating_add(limits.max_close_delay_ms),
        armed_ms: now_ms,
    })
}

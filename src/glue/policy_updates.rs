//! The newest configuration, published process-wide through proxy-wasm shared data and followed by open
//! connections (issue 22; the facts and the design: `integration/bench/POLICY-UPDATES.md`).
//!
//! Envoy never calls into an open connection when the filter's configuration changes: the connection keeps
//! its root context, with the configuration it started with (and under Istio even its old VM). But every
//! accepted update runs `on_configure` in at least one VM (the canary, the main thread's, each worker's), and
//! shared data is one store per vm_id for the whole process, across all of them. So each `on_configure`
//! publishes its configuration, once per distinct configuration, as a new generation. Each VM keeps the newest
//! head it knows (`VM_HEADS`): its own roots write it when they publish, a notice from the publishing VM makes
//! every root re-read it at once (`policy_notices`), and every root re-reads it on its timer as the fallback
//! (once a second; every [`POLL_PERIOD_MS`] for a root the notices cannot reach). A connection compares its
//! generation with that copy at each client chunk with a request boundary (no hostcall: reading shared data
//! per request was 0.23x of the read-only module's whole cost per request, measured with callgrind) and, when
//! the generation moved, hands the newer configuration to its session, which takes it at the next request
//! frame boundary.
//!
//! Keys, under `kmf/1/<plugin name>/<root id>` (Istio sets no vm_id, so the store is shared with other
//! plugins; two filter instances with different configurations need different names):
//! * `head`: generation, hash of the raw configuration, publish time in ms (u64 little endian each);
//! * `cfg/<generation % 4>`: the hash, then the raw configuration bytes; written before `head`. Shared data
//!   cannot be deleted: the ring bounds what is kept.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::host;
use crate::config::Config;
use crate::scope_conflict::ScopeSightings;

/// Publication slots (see the module doc).
const SLOTS: u64 = 4;

/// Compare-and-swap attempts before publishing gives up.
const PUBLISH_TRIES: usize = 16;

/// Compiled configurations kept per VM (by hash): the last few are enough, they only save a compilation.
const CACHE_ENTRIES: usize = 8;

/// Counter: configurations the filter refused (Envoy then rejects the update and keeps the policy in force).
pub(super) const CONFIGURATION_REFUSED: &str = "kafka_filter.configuration_refused";
/// Counter: a configuration that could not be published (its connections keep their own root's policy).
pub(super) const PUBLISH_ERRORS: &str = "kafka_filter.policy_publish_errors";
/// Counter: an open connection took a newer policy.
pub(super) const POLICY_APPLIED: &str = "kafka_filter.policy_updates;result=applied";
/// Counter: an open connection could not follow the newest policy and is closed at a request boundary.
pub(super) const POLICY_CLOSED: &str = "kafka_filter.policy_updates;result=closed";
/// Counter: two configurations in force at once under one publication key (`scope_conflict`).
pub(super) const SCOPE_CONFLICTS: &str = "kafka_filter.policy_scope_conflicts";
/// Counter: an open connection could not follow the newest policy, which says `keepOldPolicy`.
pub(super) const POLICY_KEPT: &str = "kafka_filter.policy_updates;result=kept";

/// How often a root without a notice queue (`policy_notices`: the host refused to register it) reads its
/// scope's head from shared data (the VM's copy of it: `VM_HEADS`): the bound, for that VM, on how long an open
/// connection runs under a policy that another VM replaced. A root with a queue is told at once, and re-reads
/// the head once a second as the fallback.
pub(super) const POLL_PERIOD_MS: u32 = 20;

thread_local! {
    /// The newest head this VM knows, per scope (by head key): written when a root of this VM publishes or
    /// reads shared data, read by every connection at each request boundary.
    static VM_HEADS: RefCell<Vec<(Rc<str>, Head)>> = const { RefCell::new(Vec::new()) };
    /// Compiled configurations by hash, per VM: a root puts its own here, connections look a published one
    /// up before compiling it (once per VM and generation). `None`: the configuration does not compile here.
    static COMPILED: RefCell<Vec<(u64, Option<Weak<Config>>)>> = const { RefCell::new(Vec::new()) };
}

/// FNV-1a: the same bytes give the same hash in every VM (the module's own code, no random keys).
pub(super) fn config_hash(raw: &[u8]) -> u64 {
    raw.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A configuration as its publication slot holds it (`cfg/<n>`: the hash, then the text), made from the buffer
/// Envoy gave `on_configure` by putting the hash in front of it: the text is not copied whole, and the VM keeps
/// this one copy (a policy of 100,000 ACL entries is 14.5 MB of text, and a VM's memory never shrinks).
#[derive(Debug)]
pub(super) struct Slot(Vec<u8>);

impl Slot {
    pub(super) fn new(mut text: Vec<u8>) -> Slot {
        let hash = config_hash(&text);
        // Exactly 8 more bytes (the allocator extends the buffer where it lies, at the top of the heap where the
        // host just allocated it); then the text moves up by 8.
        text.reserve_exact(8);
        text.splice(0..0, hash.to_le_bytes());
        Slot(text)
    }

    pub(super) fn text(&self) -> &[u8] {
        self.0.get(8..).unwrap_or_default()
    }

    fn hash(&self) -> u64 {
        self.0.first_chunk::<8>().map_or(0, |hash| u64::from_le_bytes(*hash))
    }
}

fn remember(hash: u64, config: Option<&Rc<Config>>) {
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.retain(|(h, c)| *h != hash && c.as_ref().is_none_or(|c| c.strong_count() > 0));
        if cache.len() >= CACHE_ENTRIES {
            cache.remove(0);
        }
        cache.push((hash, config.map(Rc::downgrade)));
    });
}

/// `Some(Ok)`: compiled here already; `Some(Err)`: does not compile here; `None`: not known.
fn cached(hash: u64) -> Option<Result<Rc<Config>, ()>> {
    COMPILED.with(|cache| {
        cache.borrow().iter().find(|(h, _)| *h == hash).and_then(|(_, c)| match c {
            Some(weak) => weak.upgrade().map(Ok),
            None => Some(Err(())),
        })
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    generation: u64,
    hash: u64,
    published_ms: u64,
}

impl Head {
    fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        for (chunk, value) in out.chunks_exact_mut(8).zip([self.generation, self.hash, self.published_ms]) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Head> {
        let word = |i: usize| bytes.get(i * 8..i * 8 + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        Some(Head { generation: word(0)?, hash: word(1)?, published_ms: word(2)? })
    }
}

/// Where one filter instance publishes: `kmf/1/<plugin name>/<root id>`, read in `on_configure`. The head's
/// key is built once: it is read on every client chunk.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    prefix: Rc<str>,
    head_key: Rc<str>,
}

impl Scope {
    pub(super) fn of_plugin() -> Option<Scope> {
        let property = |name: &str| match host::get_property(&[name]) {
            Ok(Some(v)) => String::from_utf8(v).ok(),
            _ => None,
        };
        let name = property("plugin_name")?;
        let root_id = property("plugin_root_id").unwrap_or_default();
        let prefix = format!("kmf/1/{name}/{root_id}");
        Some(Scope { head_key: format!("{prefix}/head").into(), prefix: prefix.into() })
    }

    /// Names the scope (two scopes are the same filter instance when their keys are equal).
    pub(super) fn key(&self) -> &str {
        &self.prefix
    }

    fn slot_key(&self, generation: u64) -> String {
        format!("{}/cfg/{}", self.prefix, generation % SLOTS)
    }

    /// Reads the head from shared data (a hostcall), and keeps it as the VM's copy.
    fn head(&self) -> Result<Option<(Head, u32)>, host::HostError> {
        let read = host::get_shared_data(&self.head_key)?.and_then(|(bytes, cas)| Some((Head::decode(&bytes)?, cas)));
        if let Some((head, _)) = read {
            self.keep(head);
        }
        Ok(read)
    }

    /// The VM's copy of the head: no hostcall, except the first time this VM looks at the scope.
    fn vm_head(&self) -> Option<Head> {
        let kept = VM_HEADS.with(|heads| heads.borrow().iter().find(|(key, _)| *key == self.head_key).map(|(_, h)| *h));
        kept.or_else(|| self.head().ok().flatten().map(|(head, _)| head))
    }

    /// Makes `head` the VM's copy unless the copy is newer already.
    fn keep(&self, head: Head) {
        VM_HEADS.with(|heads| {
            let mut heads = heads.borrow_mut();
            match heads.iter_mut().find(|(key, _)| *key == self.head_key) {
                Some((_, kept)) if kept.generation < head.generation => *kept = head,
                Some(_) => {}
                None => heads.push((self.head_key.clone(), head)),
            }
        });
    }

    /// The root's timer: refreshes the VM's copy of the head from shared data. Logs (debug) when that brought
    /// this VM a newer generation: the harness waits for the line after an update.
    pub(super) fn poll(&self) {
        let before = VM_HEADS
            .with(|heads| heads.borrow().iter().find(|(key, _)| *key == self.head_key).map(|(_, h)| h.generation));
        if let Ok(Some((head, _))) = self.head() {
            if before.is_some_and(|b| b < head.generation) {
                log::debug!("policy generation {} reached this VM", head.generation);
            }
        }
    }

    /// Publishes a configuration this VM compiled (`on_configure`), unless it is the newest already (the
    /// canary, main and worker VMs configuring one update bump the generation once). Returns the generation,
    /// or the host's status (0: the head kept changing under [`PUBLISH_TRIES`] attempts).
    pub(super) fn publish(&self, slot: &Slot, config: &Rc<Config>, now_ms: u64) -> Result<u64, u32> {
        let hash = slot.hash();
        remember(hash, Some(config));
        for _ in 0..PUBLISH_TRIES {
            let (head, cas) = match self.head() {
                Ok(Some((head, cas))) => (Some(head), cas),
                Ok(None) => (None, 0),
                Err(e) => return Err(e.0),
            };
            if let Some(head) = head.filter(|h| h.hash == hash) {
                return Ok(head.generation);
            }
            let generation = head.map_or(1, |h| h.generation.wrapping_add(1));
            host::set_shared_data(&self.slot_key(generation), &slot.0, 0).map_err(|e| e.0)?;
            let new_head = Head { generation, hash, published_ms: now_ms };
            match host::set_shared_data(&self.head_key, &new_head.encode(), cas) {
                Ok(()) => {
                    self.keep(new_head);
                    super::policy_notices::announce(&self.prefix);
                    return Ok(generation);
                }
                Err(host::HostError(host::CAS_MISMATCH)) => continue,
                Err(e) => return Err(e.0),
            }
        }
        Err(0)
    }
}

/// How long the newest publication must have stood before a root that still gets new connections under
/// another configuration publishes its own again (see [`Publication::reclaim_if_stale`]). The measured
/// spread between the first and the last VM taking an update is at most 46 ms.
const SETTLE_MS: u64 = 2_000;

/// What one root context published: its connections follow the scope from there.
#[derive(Debug, Clone)]
pub(super) struct Publication {
    pub(super) scope: Scope,
    pub(super) hash: u64,
    slot: Rc<Slot>,
}

impl Publication {
    /// Publishes a configuration this root compiled (see [`Scope::publish`]).
    pub(super) fn new(scope: Scope, slot: Slot, config: &Rc<Config>, now_ms: u64) -> (Self, Result<u64, u32>) {
        let result = scope.publish(&slot, config, now_ms);
        (Publication { scope, hash: slot.hash(), slot: Rc::new(slot) }, result)
    }

    /// At a new connection. Envoy gives new connections to the root of the configuration in force, so a root
    /// that gets one while another configuration has been the newest for [`SETTLE_MS`] was brought back
    /// without `on_configure` anywhere: a listener update back to a configuration whose old listener is still
    /// draining reuses its root context and calls no module code (measured). It publishes its configuration
    /// again, and the open connections follow it. Within the settle time the new connection simply follows
    /// the newest (its worker may not have taken an update yet). One shared-data read per new connection.
    pub(super) fn reclaim_if_stale(&self, config: &Rc<Config>) -> Option<Result<u64, u32>> {
        let head = self.scope.head().ok().flatten().map(|(head, _)| head)?;
        if head.hash == self.hash {
            return None;
        }
        let now_ms = host::now_nanos().ok()? / 1_000_000;
        if now_ms.saturating_sub(head.published_ms) < SETTLE_MS {
            return None;
        }
        Some(self.scope.publish(&self.slot, config, now_ms))
    }

    pub(super) fn follower(&self) -> Follower {
        Follower::new(self.scope.clone(), self.hash)
    }

    /// This VM loaded the configuration (`on_configure`), for the conflict detector.
    pub(super) fn note_configured(&self) {
        sightings(&self.scope, |seen| seen.configured(self.hash));
    }

    /// A new connection under this root: reported (log, counter) once per VM and scope when two configurations
    /// are in force under the scope at once (`scope_conflict`).
    pub(super) fn note_new_connection(&self) {
        if sightings(&self.scope, |seen| seen.new_connection(self.hash)) {
            log::error!(
                "two configurations are in force under plugin `{}`: their open connections follow each other's policy; give each filter instance its own plugin name",
                self.scope.key()
            );
            super::count_now(SCOPE_CONFLICTS);
        }
    }
}

thread_local! {
    /// The conflict detector's state per scope, per VM.
    static SIGHTINGS: RefCell<Vec<(Rc<str>, ScopeSightings)>> = const { RefCell::new(Vec::new()) };
}

fn sightings<T>(scope: &Scope, f: impl FnOnce(&mut ScopeSightings) -> T) -> T {
    SIGHTINGS.with(|all| {
        let mut all = all.borrow_mut();
        if let Some((_, seen)) =
            all.iter_mut().find(|(key, _)| Rc::ptr_eq(key, &scope.prefix) || **key == *scope.prefix)
        {
            return f(seen);
        }
        let mut seen = ScopeSightings::default();
        let result = f(&mut seen);
        all.push((scope.prefix.clone(), seen));
        result
    })
}

/// What a connection should do after looking at the head.
pub(super) enum Follow {
    Same,
    /// A newer policy: its generation and when it was published (ms since the epoch).
    Update(Rc<Config>, u64, u64),
    /// The newest policy does not compile in this VM (another module version): end the connection.
    Cannot(String),
}

/// One connection following its scope's head.
#[derive(Debug)]
pub(super) struct Follower {
    scope: Scope,
    /// The generation last seen (0: none yet) and the hash of the configuration the connection is under.
    generation: u64,
    hash: u64,
}

impl Follower {
    /// `hash`: of the configuration the connection starts with (its root's).
    pub(super) fn new(scope: Scope, hash: u64) -> Self {
        Follower { scope, generation: 0, hash }
    }

    /// Offers the newest policy to the session (taken at its next request boundary), or ends the connection
    /// there when the newest does not compile here; `published_ms`: when the offered policy was published.
    pub(super) fn offer(&mut self, session: &mut crate::session::Session, label: &str, published_ms: &mut u64) {
        match self.check() {
            Follow::Same => {}
            Follow::Update(config, generation, published) => {
                *published_ms = published;
                session.update_policy(config, generation);
            }
            Follow::Cannot(reason) => {
                log::error!("{label}: policy update: {reason}");
                session.close_at_request_boundary(&reason);
            }
        }
    }

    /// Looks at the VM's copy of the head (no hostcall); reads shared data only when the generation moved to
    /// another configuration not compiled in this VM yet.
    pub(super) fn check(&mut self) -> Follow {
        // Nothing published (or the host cannot tell): the connection keeps its root's policy.
        let Some(head) = self.scope.vm_head() else { return Follow::Same };
        if head.generation == self.generation {
            return Follow::Same;
        }
        if head.hash == self.hash {
            self.generation = head.generation;
            return Follow::Same;
        }
        let config = match cached(head.hash) {
            Some(Ok(config)) => Ok(config),
            Some(Err(())) => Err("does not compile in this VM".to_string()),
            None => {
                let slot = match host::get_shared_data(&self.scope.slot_key(head.generation)) {
                    Ok(Some((slot, _))) => slot,
                    // Written before the head: a missing slot is a host fault, look again next time.
                    Ok(None) | Err(_) => return Follow::Same,
                };
                let (slot_hash, raw) = slot.split_at_checked(8).unwrap_or((&[], &[]));
                if slot_hash != head.hash.to_le_bytes() || config_hash(raw) != head.hash {
                    // Overwritten by a newer publication meanwhile: its head is read next time.
                    return Follow::Same;
                }
                match Config::parse(raw) {
                    Ok(config) => {
                        let config = Rc::new(config);
                        remember(head.hash, Some(&config));
                        Ok(config)
                    }
                    Err(e) => {
                        remember(head.hash, None);
                        Err(format!("does not compile in this VM: {e}"))
                    }
                }
            }
        };
        self.generation = head.generation;
        self.hash = head.hash;
        match config {
            Ok(config) => Follow::Update(config, head.generation, head.published_ms),
            Err(e) => Follow::Cannot(format!("generation {} {e}; reconnect", head.generation)),
        }
    }
}

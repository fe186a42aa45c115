//! The proxy-wasm shell around the sans-IO [`Session`]: reads host properties and buffers, hands bytes to
//! the core, writes back what the core decided, and logs. The only code that talks to the host.

mod allocator;
mod counters;
mod ending;
mod held;
mod host;
mod policy_notices;
mod policy_updates;

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MetricType, PeerType};

use crate::config::Config;
use crate::feed::{feed, Fed, SessionSide, Windows};
use crate::frame::apply_edits;
use crate::identity::PeerInfo;
use crate::metrics::{self, LabelCap, RequestDecision, Stat};
use crate::session::{Event, Session};
use counters::{
    add_pending_count, flush_pending_counts, request_counter, topic_counter, Deltas, MetricRegistry, PrincipalMetrics,
    TopicCounters, COUNTER_FLUSH_PERIOD_MS,
};
use policy_updates::{Follower, Publication, Scope, Slot};

proxy_wasm::main! {{
    let _ = log::set_logger(&HOST_LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
        Box::new(FilterRoot { context_id, ..FilterRoot::default() })
    });
}}

/// Forwards the `log` crate to the host's log, ignoring failures (a log line is never worth a trap).
struct HostLogger;

static HOST_LOGGER: HostLogger = HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        // Host levels: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
        let wanted = match metadata.level() {
            log::Level::Trace => 0,
            log::Level::Debug => 1,
            log::Level::Info => 2,
            log::Level::Warn => 3,
            log::Level::Error => 4,
        };
        host::log_level().is_none_or(|host_level| wanted >= host_level)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        host::log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}

/// The configuration shared by the root and its connections; replaced on reconfiguration so new
/// connections get the new policy while open ones keep theirs.
type SharedConfig = Rc<RefCell<Rc<Config>>>;

#[derive(Default)]
struct FilterRoot {
    config: SharedConfig,
    metrics: Rc<RefCell<MetricRegistry>>,
    /// Where the configuration is published: its connections follow the newest one.
    follow: Option<Publication>,
    /// Timer ticks so far: counters are flushed every [`COUNTER_FLUSH_PERIOD_MS`].
    ticks: u32,
    /// This root's queue for notices of new policy generations (`policy_notices`).
    notices: Option<String>,
    context_id: u32,
}

impl Context for FilterRoot {
    fn on_done(&mut self) -> bool {
        flush_pending_counts();
        true
    }
}

impl RootContext for FilterRoot {
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let slot = match host::get_buffer(BufferType::PluginConfiguration, 0, plugin_configuration_size) {
            Ok(raw) => Slot::new(raw),
            Err(e) => {
                log::error!("cannot read the plugin configuration: host status {}", e.0);
                return false;
            }
        };
        match Config::parse(slot.text()) {
            Ok(config) => {
                let mut registry = self.metrics.borrow_mut();
                registry.principals = LabelCap::new(config.max_label_values as usize);
                registry.topics = LabelCap::new(config.max_topic_label_values as usize);
                drop(registry);
                let config = Rc::new(config);
                *self.config.borrow_mut() = config.clone();
                log::info!("configuration loaded ({} bytes)", slot.text().len());
                self.publish(slot, &config);
                if let Err(e) = host::set_tick_period_ms(self.tick_period_ms()) {
                    // Without the timer the counters would never reach Envoy, and open connections would follow
                    // updates configured in other VMs late: refuse, as for a bad field.
                    log::error!("cannot start the root's timer: host status {}", e.0);
                    return false;
                }
                true
            }
            Err(e) => {
                // Refusing the configuration makes Envoy reject the filter (or the update: the policy in force
                // stays, for open and new connections): fail closed.
                log::error!("invalid configuration, refusing to load: {e}");
                count_now(policy_updates::CONFIGURATION_REFUSED);
                false
            }
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        // Another VM published a generation (policy_notices): this VM's copy of the head is refreshed now.
        policy_notices::drain(queue_id);
        if let Some(publication) = &self.follow {
            publication.scope.poll();
        }
    }

    fn on_tick(&mut self) {
        if let Some(publication) = &self.follow {
            publication.scope.poll();
        }
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % (COUNTER_FLUSH_PERIOD_MS / self.tick_period_ms()) == 0 {
            ending::tick(self.context_id);
            flush_pending_counts();
            if let (Some(publication), Some(name)) = (&self.follow, &self.notices) {
                policy_notices::relist(publication.scope.key(), name);
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, context_id: u32) -> Option<Box<dyn StreamContext>> {
        let mut connection = Connection::new(self.config.borrow().clone(), self.metrics.clone());
        let scope = self.follow.as_ref().map(|p| p.scope.clone());
        connection.watch = Some(ending::Watch::register(context_id, scope, self.config.borrow().clone()));
        if let Some(publication) = &self.follow {
            let config = self.config.borrow().clone();
            match publication.reclaim_if_stale(&config) {
                None => {}
                Some(Ok(generation)) => {
                    log::warn!("configuration in force published again as generation {generation} (it came back without a reload)")
                }
                Some(Err(status)) => publish_failed(status),
            }
            publication.note_new_connection();
            connection.follower = Some(publication.follower());
        }
        Some(Box::new(connection))
    }
}

impl FilterRoot {
    /// The root's timer period (a divisor of [`COUNTER_FLUSH_PERIOD_MS`]). It flushes the counters and looks at
    /// idle connections every second. A root whose notice queue is registered learns of a new policy generation
    /// from the notice at once, and re-reads the head on that same tick, as the fallback; one without a queue
    /// (the host refused it) has only the timer to learn of it, every [`policy_updates::POLL_PERIOD_MS`]. Each
    /// tick wakes Envoy's thread: at 20 ms an idle Envoy spent 8.5 ms of CPU a second (1.1 ms with the
    /// read-only module; 1.2 ms at once a second).
    fn tick_period_ms(&self) -> u32 {
        if self.follow.is_some() && self.notices.is_none() {
            policy_updates::POLL_PERIOD_MS
        } else {
            COUNTER_FLUSH_PERIOD_MS
        }
    }

    /// Publishes the configuration for the connections of every VM (see `policy_updates`). On failure the
    /// connections keep their own root's policy, as before policy updates reached open connections.
    fn publish(&mut self, slot: Slot, config: &Rc<Config>) {
        let Some(scope) = Scope::of_plugin() else {
            log::error!("cannot read the plugin name: open connections will not follow policy updates");
            count_now(policy_updates::PUBLISH_ERRORS);
            self.follow = None;
            return;
        };
        // Listed before publishing: a publication from another VM from now on reaches this root at once.
        self.notices = policy_notices::listen(scope.key(), self.context_id);
        let now_ms = host::now_nanos().map(|n| n / 1_000_000).unwrap_or(0);
        let (publication, result) = Publication::new(scope, slot, config, now_ms);
        publication.note_configured();
        match result {
            Ok(generation) => log::debug!("configuration published as generation {generation}"),
            Err(status) => publish_failed(status),
        }
        self.follow = Some(publication);
    }
}

/// A configuration could not be published (host status; 0: contended): its connections keep its policy.
fn publish_failed(status: u32) {
    log::error!("cannot publish the configuration to open connections: host status {status}");
    count_now(policy_updates::PUBLISH_ERRORS);
}

/// Increments a counter at once (a VM that may never tick: Envoy's canary).
pub(super) fn count_now(name: &str) {
    if let Ok(id) = host::define_metric(MetricType::Counter, name) {
        host::increment_metric(id, 1);
    }
}

struct Connection {
    session: Session,
    /// Set once the identity step ran (first downstream data).
    identified: bool,
    closed: bool,
    /// The broker's bytes being handled came with its end of stream. Envoy then calls the upstream-close
    /// callback after `on_upstream_data` returns (`Context::onWrite`); if the filter had closed the client's
    /// connection inside the callback, that call would reach a context Envoy already deleted, and proxy-wasm
    /// aborts the whole VM on the unknown context id. So a close then only drops the bytes and lets Envoy end
    /// the connection itself, which it does because the broker ended it.
    upstream_ending: bool,
    /// `connection <id> from <address>` for log lines.
    label: String,
    conn: crate::audit::ConnectionInfo,
    audit_denied: bool,
    metrics: Rc<RefCell<MetricRegistry>>,
    principal_metrics: PrincipalMetrics,
    /// The principal's (capped) metric label.
    principal_label: String,
    /// Per-topic counter ids by the session's topic id, resolved on first use.
    topic_counters: Vec<TopicCounters>,
    /// Request counter ids by API key and decision, resolved on first use.
    request_counters: Vec<(i16, RequestDecision, Option<u32>)>,
    /// Counter deltas not yet collected by the root's timer.
    deltas: Rc<RefCell<Deltas>>,
    /// Client chunks read so far; every [`TIMED_CHUNK_EVERY`]th one is timed.
    downstream_reads: u32,
    /// This connection's undecided bytes in the VM's total, and the bounds on them.
    held: held::HeldShare,
    held_limits: crate::held_budget::HeldLimits,
    /// The `held_bytes` gauge's id, resolved on first use.
    held_gauge: Option<Option<u32>>,
    /// Follows the newest published policy (`None`: the root could not publish; keeps its root's).
    follower: Option<Follower>,
    /// When the policy offered last was published (ms since the epoch), for the log line.
    offered_published_ms: u64,
    /// What the root's timer sees of this connection (`ending`).
    watch: Option<Rc<ending::Watch>>,
}

impl Connection {
    fn new(config: Rc<Config>, metrics: Rc<RefCell<MetricRegistry>>) -> Self {
        let audit_denied = config.audit_denied;
        let held_limits = config.held_limits;
        Connection {
            held: held::HeldShare::default(),
            held_limits,
            held_gauge: None,
            audit_denied,
            metrics,
            principal_metrics: PrincipalMetrics::default(),
            principal_label: String::new(),
            topic_counters: Vec::new(),
            request_counters: Vec::new(),
            deltas: Deltas::registered(),
            downstream_reads: 0,
            follower: None,
            offered_published_ms: 0,
            watch: None,
            session: Session::new(config, None),
            identified: false,
            closed: false,
            upstream_ending: false,
            label: String::new(),
            conn: Default::default(),
        }
    }

    fn property_string(path: &[&str]) -> Option<String> {
        match host::get_property(path) {
            Ok(Some(v)) => String::from_utf8(v).ok().filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    /// Reads the peer's identity (the TLS handshake is complete by the first downstream data).
    #[cold]
    fn identify(&mut self) -> bool {
        self.identified = true;
        let id = match host::get_property(&["connection", "id"]) {
            Ok(Some(v)) => v.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0),
            _ => 0,
        };
        let source = Self::property_string(&["source", "address"]);
        self.label = format!("connection {id} from {}", source.as_deref().unwrap_or("unknown"));
        self.conn = crate::audit::ConnectionInfo { id, source_address: source.clone().unwrap_or_default() };
        let peer = PeerInfo {
            mtls: matches!(host::get_property(&["connection", "mtls"]), Ok(Some(v)) if v.first() == Some(&1)),
            peer_certificate_pem: Self::property_string(&["connection", "peer_certificate"]),
            uri_san: Self::property_string(&["connection", "uri_san_peer_certificate"]),
            subject: Self::property_string(&["connection", "subject_peer_certificate"]),
        };
        let now = host::now_nanos().map(|n| (n / 1_000_000_000) as i64).unwrap_or(0);
        if let Some(source) = &source {
            self.session.set_source_address(source);
        }
        // Random bytes for a SCRAM client nonce (WASI random_get).
        let mut nonce = [0u8; 24];
        if let Err(e) = getrandom::fill(&mut nonce) {
            log::error!("{}: no random source: {e}", self.label);
            return false;
        }
        let ok = self.session.identify_with_nonce(&peer, now, &nonce).is_ok();
        if let (true, Some(watch)) = (ok, &self.watch) {
            watch.identified(&self.session, host::now_nanos().map(|n| n / 1_000_000).unwrap_or(0));
        }
        self.log_events();
        ok
    }

    #[inline(never)]
    fn log_events(&mut self) {
        for event in self.session.take_events() {
            match event {
                Event::Identified(identity) => {
                    log::info!("{}: principal {} ({})", self.label, identity.principal, identity.source.as_str());
                    let mut registry = self.metrics.borrow_mut();
                    registry.increment(MetricType::Counter, metrics::connections(identity.source.as_str()), 1);
                    let label = registry.principals.label(&identity.principal).to_string();
                    self.principal_metrics = PrincipalMetrics {
                        denied: registry.id(MetricType::Counter, metrics::denied_by_principal(&label)),
                        produced: registry.id(MetricType::Counter, metrics::produced_bytes(&label)),
                        fetched: registry.id(MetricType::Counter, metrics::fetched_bytes(&label)),
                    };
                    self.principal_label = label;
                }
                Event::Refused(reason) => {
                    log::warn!("{}: refused: {reason}", self.label);
                    self.metrics.borrow_mut().increment(MetricType::Counter, metrics::connections("refused"), 1);
                }
                Event::ProtocolError(reason) => log::warn!("{}: closing: {reason}", self.label),
                Event::Propagated(what) => {
                    log::info!("{}: {what}", self.label);
                    if let Some(watch) = &self.watch {
                        watch.sasl_authenticated(&self.session, &self.label);
                    }
                }
                Event::PolicyKept { generation, reason } => ending::kept(&self.label, generation, &reason),
                Event::Ended(why, reason) => ending::ended_at_boundary(&self.label, why, &reason),
                Event::PolicyClosed(reason) => {
                    log::warn!("{}: closing at a request boundary: {reason}", self.label);
                    self.metrics.borrow_mut().increment(MetricType::Counter, policy_updates::POLICY_CLOSED.into(), 1);
                    ending::count_ended(crate::connection_limits::EndReason::PolicyUpdate, "request_boundary");
                }
                Event::PolicyApplied { generation } => {
                    self.audit_denied = self.session.policy().audit_denied;
                    let now_ms = host::now_nanos().map(|n| n / 1_000_000).unwrap_or(0);
                    log::info!(
                        "{}: policy generation {generation} applied ({} ms after it was published)",
                        self.label,
                        now_ms.saturating_sub(self.offered_published_ms)
                    );
                    self.metrics.borrow_mut().increment(MetricType::Counter, policy_updates::POLICY_APPLIED.into(), 1);
                }
                Event::Decision(record) if !record.allowed && !self.audit_denied => {}
                Event::Decision(record) => {
                    let now_ms = host::now_nanos().map(|n| n / 1_000_000).unwrap_or(0);
                    let line = crate::audit::audit_line(now_ms, &self.conn, self.session.identity(), &record);
                    if record.allowed {
                        log::info!("{line}");
                    } else {
                        log::warn!("{line}");
                    }
                }
            }
        }
    }

    /// Takes the core's counters into the connection's deltas (see [`Deltas`]); latency samples
    /// go to the host as they come (a histogram cannot be summed).
    fn flush_stats(&mut self) {
        let mut registry = self.metrics.borrow_mut();
        let mut deltas = self.deltas.borrow_mut();
        let mut add = |id: Option<u32>, by: i64| deltas.add(id, by);
        let (stats, topics) = self.session.drain_stats_and_topics();
        for stat in stats {
            match stat {
                Stat::Request { api_key, decision } => {
                    #[cfg(feature = "hostcall-census")]
                    host::census::bump(12, 1);
                    add(request_counter(&mut self.request_counters, &mut registry, api_key, decision), 1);
                    if decision == RequestDecision::Denied {
                        add(self.principal_metrics.denied, 1);
                    }
                }
                Stat::LatencyMicros { api_key, micros } => record_latency(&mut registry, api_key, micros),
                Stat::ProducedBytes(n) => add(self.principal_metrics.produced, i64::try_from(n).unwrap_or(i64::MAX)),
                Stat::FetchedBytes(n) => add(self.principal_metrics.fetched, i64::try_from(n).unwrap_or(i64::MAX)),
                Stat::ProducedTopicBytes { topic, bytes } | Stat::FetchedTopicBytes { topic, bytes } => {
                    let fetched = matches!(stat, Stat::FetchedTopicBytes { .. });
                    let cache = &mut self.topic_counters;
                    let id = topic_counter(cache, &mut registry, &self.principal_label, topics, topic, fetched);
                    add(id, i64::try_from(bytes).unwrap_or(i64::MAX))
                }
                Stat::ProtocolError(kind) => count_protocol_error(&mut registry, kind),
            }
        }
    }

    /// Accounts for the bytes the session now holds (gauge `held_bytes`); `false` when the connection holds
    /// more than its bound or grows the VM's total past its bound: it is then counted, logged with an audit
    /// line, and must be closed.
    fn account_held(&mut self) -> bool {
        let now = u64::try_from(self.session.held_bytes()).unwrap_or(u64::MAX);
        let (delta, verdict) = self.held.update(now, self.held_limits);
        if delta != 0 {
            self.add_to_held_gauge(delta);
        }
        let Err(overrun) = verdict else { return true };
        self.held_overrun(overrun);
        false
    }

    /// A connection over its held-bytes bound: counted and logged with an audit line (then closed).
    #[cold]
    fn held_overrun(&mut self, overrun: crate::held_budget::Overrun) {
        let mut registry = self.metrics.borrow_mut();
        registry.increment(MetricType::Counter, metrics::held_bytes_exceeded(overrun.limit_name()), 1);
        drop(registry);
        let reason = overrun.reason();
        log::warn!("{}: closing: {reason}", self.label);
        let now_ms = host::now_nanos().map(|n| n / 1_000_000).unwrap_or(0);
        log::warn!("{}", crate::audit::closed_line(now_ms, &self.conn, self.session.identity(), &reason));
    }

    /// Moves the VM's pending `held_bytes` gauge delta (summed with the counters, see [`flush_pending_counts`]).
    fn add_to_held_gauge(&mut self, delta: i64) {
        let id = match self.held_gauge {
            Some(id) => id,
            None => {
                let Ok(mut registry) = self.metrics.try_borrow_mut() else { return };
                let id = registry.id(MetricType::Gauge, metrics::held_bytes());
                self.held_gauge = Some(id);
                id
            }
        };
        if let Some(id) = id {
            add_pending_count(id, delta);
        }
    }

    /// Drops the buffered bytes and closes both sides.
    #[cold]
    fn close(&mut self, buffer: BufferType, data_size: usize) -> Action {
        self.closed = true;
        let _ = host::set_buffer(buffer, 0, data_size, &[]);
        if buffer == BufferType::UpstreamData && self.upstream_ending {
            // See `upstream_ending`: Envoy closes the client's side once the broker's end passes.
            return Action::Continue;
        }
        let _ = host::close_downstream();
        let _ = host::close_upstream();
        Action::Pause
    }

    /// Offers the newest published policy to the session, which takes it at the next request boundary.
    fn follow_policy(&mut self) {
        if let Some(follower) = self.follower.as_mut() {
            follower.offer(&mut self.session, &self.label, &mut self.offered_published_ms);
        }
    }

    /// Runs one chunk of one direction through the core and writes the result back.
    ///
    /// The buffer is read in windows, and bytes the core will pass untouched whatever they are (the rest of
    /// a frame already decided) are skipped without being read: a 1 MiB Produce or Fetch crosses the VM
    /// boundary as its first bytes only.
    fn on_data(&mut self, buffer: BufferType, data_size: usize) -> Action {
        let downstream = buffer == BufferType::DownstreamData;
        let label = &self.label;
        let read = |pos: usize, len: usize| {
            host::get_buffer(buffer, pos, len)
                .map_err(|e| log::error!("{label}: cannot read buffer: host status {}", e.0))
        };
        // Request latency is sampled: the clock is read before one client chunk in TIMED_CHUNK_EVERY (the
        // first one included), and after a broker chunk that answered a timed request. Chunks skipped unread
        // cost no hostcall at all.
        let downstream_reads = &mut self.downstream_reads;
        let mut set_clock = |session: &mut Session| {
            let timed = downstream && *downstream_reads % TIMED_CHUNK_EVERY == 0;
            if downstream {
                *downstream_reads = downstream_reads.wrapping_add(1);
            }
            match if timed { host::now_nanos().ok() } else { None } {
                Some(now) => session.set_time_micros(now / 1_000),
                None => session.set_untimed(),
            }
        };
        let mut side = SessionSide { session: &mut self.session, downstream };
        let fed = feed(&mut side, data_size, Windows::GLUE, read, |side| set_clock(side.session));
        let Ok(Fed { edits, closed, started: processed, .. }) = fed else {
            return self.close(buffer, data_size);
        };
        // What the session now holds counts against the connection's and the VM's bounds (held_budget).
        let closed = closed || !self.account_held();
        if processed {
            if self.session.wants_time() {
                if let Ok(now) = host::now_nanos() {
                    self.session.set_time_micros(now / 1_000);
                }
            }
            if self.session.has_events() {
                self.log_events();
            }
            self.flush_stats();
        }
        if closed {
            return self.close(buffer, data_size);
        }
        let result = match edits.as_slice() {
            [] => return Action::Continue,
            // Envoy edits in place only at the front (drain + prepend).
            [only] if only.start == 0 => host::set_buffer(buffer, 0, only.remove, &only.insert),
            // Anything else (rare: a held tail, a replaced frame mid-buffer): rewrite the whole buffer.
            edits => match host::get_buffer(buffer, 0, data_size) {
                Ok(all) => host::set_buffer(buffer, 0, data_size, &apply_edits(&all, edits)),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            log::error!("{}: cannot write buffer: host status {}", self.label, e.0);
            return self.close(buffer, data_size);
        }
        Action::Continue
    }
}

/// One sample of the request latency histogram (a histogram cannot be summed: to the host at once).
#[inline(never)]
fn record_latency(registry: &mut MetricRegistry, api_key: i16, micros: u64) {
    let id = match registry.latency.get(&api_key) {
        Some(id) => *id,
        None => {
            let name = metrics::request_latency(&crate::protocol::api::api_name(api_key));
            let id = registry.id(MetricType::Histogram, name);
            registry.latency.insert(api_key, id);
            id
        }
    };
    if let Some(id) = id {
        host::record_metric(id, micros);
    }
}

#[cold]
fn count_protocol_error(registry: &mut MetricRegistry, kind: metrics::ProtocolErrorKind) {
    registry.increment(MetricType::Counter, metrics::protocol_errors(kind), 1);
}

/// One client chunk in this many is timed for the request latency histogram (see `Connection::on_data`).
const TIMED_CHUNK_EVERY: u32 = 16;

impl Context for Connection {}

impl Drop for Connection {
    fn drop(&mut self) {
        let delta = self.held.release();
        if delta != 0 {
            self.add_to_held_gauge(delta);
        }
    }
}

impl StreamContext for Connection {
    fn on_new_connection(&mut self) -> Action {
        // The TLS handshake is not finished yet: identity is read with the first bytes.
        Action::Continue
    }

    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        #[cfg(feature = "hostcall-census")]
        host::census::data_callback(true);
        if self.closed || self.watch.as_ref().is_some_and(|w| w.closed()) {
            let _ = host::set_buffer(BufferType::DownstreamData, 0, data_size, &[]);
            return Action::Pause;
        }
        if data_size == 0 {
            return Action::Continue;
        }
        // The middle of a large frame already decided (a Produce's records): it passes unread, and nothing else
        // needs doing. A 1 MiB request is dozens of such chunks, each costing no more than this.
        if self.identified && self.session.downstream_passthrough() >= data_size as u64 {
            self.session.skip_downstream(data_size as u64);
            return Action::Continue;
        }
        // A chunk that holds a request frame boundary (or the connection's first).
        #[cfg(not(feature = "bench-no-policy-follow"))]
        {
            self.follow_policy();
            if let Some(watch) = &self.watch {
                watch.notice(&mut self.session);
            }
        }
        if !self.identified && !self.identify() {
            return self.close(BufferType::DownstreamData, data_size);
        }
        self.on_data(BufferType::DownstreamData, data_size)
    }

    fn on_upstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        #[cfg(feature = "hostcall-census")]
        host::census::data_callback(false);
        self.upstream_ending = end_of_stream;
        if self.closed || self.watch.as_ref().is_some_and(|w| w.closed()) {
            let _ = host::set_buffer(BufferType::UpstreamData, 0, data_size, &[]);
            return Action::Pause;
        }
        if data_size == 0 {
            return Action::Continue;
        }
        // The middle of a large answer (a Fetch's records): passes unread (as on the client's side).
        if self.session.upstream_passthrough() >= data_size as u64 {
            self.session.skip_upstream(data_size as u64);
            return Action::Continue;
        }
        self.on_data(BufferType::UpstreamData, data_size)
    }

    fn on_downstream_close(&mut self, _peer_type: PeerType) {}

    fn on_upstream_close(&mut self, _peer_type: PeerType) {}
}

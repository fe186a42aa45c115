//! The VM's metrics: ids defined with the host once and cached, and counter deltas summed across the VM's
//! connections and handed to the host on the root's timer (one call per metric per second, not per request).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use proxy_wasm::types::MetricType;

use super::host;
use crate::metrics::{self, LabelCap, RequestDecision, TopicId, TopicNames, OVERFLOW_LABEL};
use crate::policy::index::FxHashMap;

/// Metric ids by name, defined with the host on first use and cached for the VM's lifetime. Fx-hashed: the
/// request and latency maps are looked up on every chunk, and their keys do not come from clients.
pub(super) struct MetricRegistry {
    pub(super) by_name: FxHashMap<String, u32>,
    pub(super) requests: FxHashMap<(i16, RequestDecision), Option<u32>>,
    pub(super) latency: FxHashMap<i16, Option<u32>>,
    pub(super) principals: LabelCap,
    pub(super) topics: LabelCap,
    /// Per-topic byte counters by principal label, then topic label: names are built once per pair.
    pub(super) by_topic: FxHashMap<String, FxHashMap<String, TopicCounters>>,
}

/// The two byte counters of one topic (and principal), each defined with the host on first use.
#[derive(Default, Clone, Copy)]
pub(super) struct TopicCounters {
    produced: Option<Option<u32>>,
    fetched: Option<Option<u32>>,
}

impl TopicCounters {
    fn slot(&mut self, fetched: bool) -> &mut Option<Option<u32>> {
        if fetched {
            &mut self.fetched
        } else {
            &mut self.produced
        }
    }
}

impl Default for MetricRegistry {
    fn default() -> Self {
        MetricRegistry {
            by_name: FxHashMap::default(),
            requests: FxHashMap::default(),
            latency: FxHashMap::default(),
            principals: LabelCap::new(crate::config::Config::default().max_label_values as usize),
            topics: LabelCap::new(crate::config::Config::default().max_topic_label_values as usize),
            by_topic: FxHashMap::default(),
        }
    }
}

impl MetricRegistry {
    pub(super) fn id(&mut self, metric_type: MetricType, name: String) -> Option<u32> {
        if let Some(id) = self.by_name.get(&name) {
            return Some(*id);
        }
        match host::define_metric(metric_type, &name) {
            Ok(id) => {
                self.by_name.insert(name, id);
                Some(id)
            }
            Err(e) => {
                log::warn!("cannot define metric {name}: host status {}", e.0);
                None
            }
        }
    }

    /// The counter of one principal's bytes to or from one topic. The topic label is capped VM-wide (the
    /// session caps what it tracks per connection; its `other` stays `other`). Cold and out of line, like
    /// [`MetricRegistry::request_counter`]: a connection asks once per topic (see [`topic_counter`]).
    #[cold]
    #[inline(never)]
    pub(super) fn topic_counter(&mut self, principal: &str, topic: TopicId, name: &str, fetched: bool) -> Option<u32> {
        let label = if topic == TopicId::OTHER { OVERFLOW_LABEL } else { self.topics.label(name) };
        let known = self.by_topic.get_mut(principal).and_then(|t| t.get_mut(label)).and_then(|c| *c.slot(fetched));
        if let Some(id) = known {
            return id;
        }
        let metric = if fetched {
            metrics::fetched_bytes_by_topic(principal, label)
        } else {
            metrics::produced_bytes_by_topic(principal, label)
        };
        let id = self.id(MetricType::Counter, metric);
        let counters = self.by_topic.entry(principal.to_string()).or_default().entry(label.to_string()).or_default();
        *counters.slot(fetched) = Some(id);
        id
    }

    /// The counter of one API key's requests with one decision, named and defined once per VM. Cold and out of
    /// line: a connection asks once per kind of request (see [`request_counter`]), and the per-chunk lookup
    /// that calls it stays small.
    #[cold]
    #[inline(never)]
    fn request_counter(&mut self, api_key: i16, decision: RequestDecision) -> Option<u32> {
        if let Some(id) = self.requests.get(&(api_key, decision)) {
            return *id;
        }
        let name = metrics::requests(&crate::protocol::api::api_name(api_key), decision);
        let id = self.id(MetricType::Counter, name);
        self.requests.insert((api_key, decision), id);
        id
    }

    pub(super) fn increment(&mut self, metric_type: MetricType, name: String, by: i64) {
        if let Some(id) = self.id(metric_type, name) {
            add_pending_count(id, by);
        }
    }
}

/// Metric ids labelled with one connection's principal, resolved once per connection.
#[derive(Default, Clone, Copy)]
pub(super) struct PrincipalMetrics {
    pub(super) denied: Option<u32>,
    pub(super) produced: Option<u32>,
    pub(super) fetched: Option<u32>,
}

/// The counter of a topic's share for this connection: cached by the session's topic id, so a name is looked
/// up once per connection and topic, and built once per principal and topic.
pub(super) fn topic_counter(
    cache: &mut Vec<TopicCounters>,
    registry: &mut MetricRegistry,
    principal: &str,
    topics: &TopicNames,
    topic: TopicId,
    fetched: bool,
) -> Option<u32> {
    let index = usize::from(topic.0);
    if let Some(id) = cache.get_mut(index).and_then(|c| *c.slot(fetched)) {
        return id;
    }
    let id = registry.topic_counter(principal, topic, topics.name(topic), fetched);
    if cache.len() <= index {
        // Bounded: topic ids stop at the session's cap.
        cache.resize(index + 1, TopicCounters::default());
    }
    if let Some(counters) = cache.get_mut(index) {
        *counters.slot(fetched) = Some(id);
    }
    id
}

/// The counter of one API key's requests with one decision, for this connection: cached per connection (a
/// short scan: a connection sends a few kinds of request), named and defined in the VM's registry once.
pub(super) fn request_counter(
    cache: &mut Vec<(i16, RequestDecision, Option<u32>)>,
    registry: &mut MetricRegistry,
    api_key: i16,
    decision: RequestDecision,
) -> Option<u32> {
    if let Some(&(_, _, id)) = cache.iter().find(|(k, d, _)| *k == api_key && *d == decision) {
        return id;
    }
    let id = registry.request_counter(api_key, decision);
    // Bounded: API keys times decisions.
    cache.push((api_key, decision, id));
    id
}

/// One connection's counter deltas by metric id, not yet collected by the root's timer. A request moves two
/// to four counters: added here with a short scan, without the VM-wide map's hashing; the timer collects every
/// connection's deltas into the VM's pending counts (see [`flush_pending_counts`]), and a connection that ends
/// leaves its deltas there.
#[derive(Debug, Default)]
pub(super) struct Deltas(Vec<(u32, i64)>);

impl Deltas {
    /// A connection's deltas, registered for the root's timer to collect.
    pub(super) fn registered() -> Rc<RefCell<Deltas>> {
        let deltas = Rc::new(RefCell::new(Deltas::default()));
        CONNECTION_DELTAS.with(|all| all.borrow_mut().push(Rc::downgrade(&deltas)));
        deltas
    }

    pub(super) fn add(&mut self, id: Option<u32>, by: i64) {
        let Some(id) = id else { return };
        match self.0.iter_mut().find(|(known, _)| *known == id) {
            Some((_, total)) => *total = total.saturating_add(by),
            // Bounded: the connection's metrics (requests by kind, its principal's and topics' counters).
            None => self.0.push((id, by)),
        }
    }

    fn collect(&mut self) {
        for (id, by) in self.0.iter_mut() {
            if *by != 0 {
                add_pending_count(*id, std::mem::take(by));
            }
        }
    }
}

impl Drop for Deltas {
    fn drop(&mut self) {
        self.collect();
    }
}

/// How often the VM's pending counter deltas are handed to the host (see [`flush_pending_counts`]).
pub(super) const COUNTER_FLUSH_PERIOD_MS: u32 = 1_000;

thread_local! {
    /// Counter deltas of this VM (Envoy runs one per worker thread) not yet handed to the host, summed per
    /// metric: collected from the connections, and the VM-wide gauge.
    static PENDING_COUNTS: RefCell<FxHashMap<u32, i64>> = RefCell::new(FxHashMap::default());
    /// Every open connection's deltas.
    static CONNECTION_DELTAS: RefCell<Vec<Weak<RefCell<Deltas>>>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn add_pending_count(id: u32, by: i64) {
    // `try_with`: a connection's deltas may be dropped as the VM's thread-locals go.
    let _ = PENDING_COUNTS.try_with(|pending| {
        let mut pending = pending.borrow_mut();
        let total = pending.entry(id).or_insert(0);
        *total = total.saturating_add(by);
    });
}

/// Hands the pending counter deltas (the connections' collected first) to the host: on the root context's
/// timer, every [`COUNTER_FLUSH_PERIOD_MS`], and when the root goes. Each increment is a call out of the VM,
/// and a request moves two or three counters: summed across the worker's connections, counters cost a few
/// calls a second whatever the traffic (measured in Envoy: README, performance), and lag the traffic by at
/// most the period.
pub(super) fn flush_pending_counts() {
    CONNECTION_DELTAS.with(|all| {
        all.borrow_mut().retain(|deltas| match deltas.upgrade() {
            Some(deltas) => {
                if let Ok(mut deltas) = deltas.try_borrow_mut() {
                    deltas.collect();
                }
                true
            }
            None => false,
        })
    });
    PENDING_COUNTS.with(|pending| {
        for (id, by) in pending.borrow_mut().drain() {
            if by != 0 {
                host::increment_metric(id, by);
            }
        }
    });
}

//! The connection's recent allowed decisions. A producer writes to the same topics and a consumer fetches the
//! same topics request after request, each asking the authorizer the same question; Kafka's authorizer answers
//! it afresh every time, and so did the filter: the principal's rules hashed and the name matched against its
//! patterns, about a fifth of the filter's own work on a small produce or fetch. A question answered "allowed"
//! is kept here and answered from here until the policy changes.
//!
//! Exactly Kafka's answers: a decision depends on the principal and host (fixed for the connection: a policy
//! update that would change the principal ends the connection, see `policy_update`), the policy (the cache
//! empties when the connection's policy is another), the operation, the resource and the API key (which
//! selects Kafka's idempotent-producer alternative). Cilium-style rules also match the request's version and
//! client id: with those in the policy nothing is kept. Denials are never kept: they are logged with their
//! rule, and are rare. With `observability.auditAllowed` logging every allowed decision needs its rule: nothing is kept.
//!
//! Bounded: a few entries of short names; a request naming more resources than that asks the authorizer for
//! the rest, as before.

use std::rc::{Rc, Weak};

use crate::classify::Requirement;
use crate::config::Config;
use crate::protocol::acl::{Action, Operation, ResourceType};

/// Entries kept; beyond, the oldest is replaced.
const CAPACITY: usize = 8;
/// Longer names (group and transactional ids may be long) are not kept: at most this much memory per entry.
const MAX_NAME_BYTES: usize = 128;

#[derive(Debug, Default)]
pub(super) struct DecisionCache {
    /// The policy the entries were decided under. A `Weak` keeps its allocation, so no later policy can take
    /// its address while entries refer to it.
    policy: Weak<Config>,
    entries: Vec<Allowed>,
    /// The entry replaced next once full.
    next: usize,
}

#[derive(Debug)]
struct Allowed {
    api_key: i16,
    op: Operation,
    resource_type: ResourceType,
    name: Box<str>,
}

impl DecisionCache {
    /// Whether kept decisions may answer under `cfg`, the connection's policy now; entries decided under
    /// another policy are dropped.
    pub(super) fn usable(&mut self, cfg: &Rc<Config>) -> bool {
        if !std::ptr::eq(self.policy.as_ptr(), Rc::as_ptr(cfg)) {
            self.entries.clear();
            self.next = 0;
            self.policy = Rc::downgrade(cfg);
        }
        !cfg.log_allowed && !cfg.authorizer.request_scoped()
    }

    /// Whether one of the requirement's actions was allowed for this API key.
    pub(super) fn allows(&self, api_key: i16, requirement: &Requirement<'_>) -> bool {
        requirement.any_of().any(|action| {
            self.entries.iter().any(|e| {
                e.api_key == api_key
                    && e.op == action.op
                    && e.resource_type == action.resource_type
                    && *e.name == *action.name
            })
        })
    }

    /// Keeps an allowed decision (call [`DecisionCache::usable`] first).
    pub(super) fn remember(&mut self, api_key: i16, action: &Action<'_>) {
        if action.name.len() > MAX_NAME_BYTES {
            return;
        }
        let entry =
            Allowed { api_key, op: action.op, resource_type: action.resource_type, name: action.name.as_ref().into() };
        if self.entries.len() < CAPACITY {
            self.entries.push(entry);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = entry;
            self.next = (self.next + 1) % CAPACITY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn config(json: &str) -> Rc<Config> {
        Rc::new(Config::parse(json.as_bytes()).expect("config"))
    }

    fn write(topic: &str) -> Action<'_> {
        Action { op: Operation::Write, resource_type: ResourceType::Topic, name: Cow::Borrowed(topic) }
    }

    const ENFORCE: &str = r#"{"authorization": {"mode": "enforce", "users": []}}"#;

    #[test]
    fn answers_what_it_kept_for_the_same_api_key_only() {
        let cfg = config(ENFORCE);
        let mut cache = DecisionCache::default();
        assert!(cache.usable(&cfg));
        cache.remember(0, &write("orders"));
        assert!(cache.allows(0, &Requirement::of(write("orders"))));
        assert!(!cache.allows(1, &Requirement::of(write("orders"))));
        assert!(!cache.allows(0, &Requirement::of(write("orders-eu"))));
        let read = Action { op: Operation::Read, resource_type: ResourceType::Topic, name: Cow::Borrowed("orders") };
        assert!(!cache.allows(0, &Requirement::of(read.clone())));
        assert!(cache.allows(0, &Requirement::either(read, write("orders"))));
    }

    #[test]
    fn another_policy_empties_it() {
        let (first, second) = (config(ENFORCE), config(ENFORCE));
        let mut cache = DecisionCache::default();
        assert!(cache.usable(&first));
        cache.remember(0, &write("orders"));
        assert!(cache.usable(&second));
        assert!(!cache.allows(0, &Requirement::of(write("orders"))));
        // The first policy gone, a third one cannot be taken for it (the Weak keeps its address).
        drop(first);
        let third = config(ENFORCE);
        cache.remember(0, &write("orders"));
        assert!(cache.usable(&third));
        assert!(!cache.allows(0, &Requirement::of(write("orders"))));
    }

    #[test]
    fn bounded_in_entries_and_name_length() {
        let cfg = config(ENFORCE);
        let mut cache = DecisionCache::default();
        assert!(cache.usable(&cfg));
        let names: Vec<String> = (0..CAPACITY + 3).map(|i| format!("topic-{i}")).collect();
        for name in &names {
            cache.remember(0, &write(name));
        }
        assert_eq!(cache.entries.len(), CAPACITY);
        assert!(cache.allows(0, &Requirement::of(write(&names[CAPACITY + 2]))));
        assert!(!cache.allows(0, &Requirement::of(write(&names[0]))));
        let long = "t".repeat(MAX_NAME_BYTES + 1);
        cache.remember(0, &write(&long));
        assert!(!cache.allows(0, &Requirement::of(write(&long))));
    }

    #[test]
    fn not_used_when_decisions_depend_on_more_or_are_all_logged() {
        let mut cache = DecisionCache::default();
        let logged =
            config(r#"{"authorization": {"mode": "enforce", "users": []}, "observability": {"auditAllowed": true}}"#);
        assert!(!cache.usable(&logged));
        let cilium = config(
            r#"{"authorization": {"mode": "enforce", "users": [{"principal": "User:a",
                "kafka": [{"role": "produce", "topic": "orders"}]}]}}"#,
        );
        assert!(!cache.usable(&cilium));
    }
}

//! Topic ids the filter has learned, for requests that address topics by id (Fetch v13+, Produce v13,
//! Metadata and DeleteTopics by id): they are decided on the topic's name, as Kafka decides them.
//!
//! Learned only from the broker's answers (Metadata, DescribeTopicPartitions, and the filter's own Metadata
//! request by id, see `session::topic_resolution`), never from what a client sends. One map per VM (an Envoy
//! worker): every connection of the worker shares what any of them learned. A proxy-wasm VM is single
//! threaded, so the map is a thread local; on the host each test thread has its own.
//!
//! Bounded: at most [`MAX_TOPIC_IDS`] ids; past it the oldest learned is forgotten first (it is learned again
//! from the next answer naming it, or resolved again by the filter's own Metadata request). An id is never
//! reused by Kafka: a topic deleted and created again gets a new id, so a stale entry only names a topic
//! that no longer exists (the broker answers such an id UNKNOWN_TOPIC_ID whatever the filter decides).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// A Kafka topic id (a UUID, as on the wire).
pub type TopicUuid = [u8; 16];

/// The zero id Kafka writes where a topic has none (unknown, or not described to the asker).
pub const ZERO: TopicUuid = [0; 16];

/// How many ids one VM remembers (names are at most 249 bytes: a few MiB at worst).
pub const MAX_TOPIC_IDS: usize = 16_384;

#[derive(Default)]
struct IdMap {
    names: HashMap<TopicUuid, Rc<str>>,
    /// Learning order, for eviction.
    order: VecDeque<TopicUuid>,
}

thread_local! {
    static MAP: RefCell<IdMap> = RefCell::new(IdMap::default());
}

/// Records what the broker said: topic `name` has id `id`. The zero id and empty names are ignored.
pub fn learn(id: TopicUuid, name: &str) {
    if id == ZERO || name.is_empty() {
        return;
    }
    MAP.with(|map| {
        let mut map = map.borrow_mut();
        match map.names.get(&id) {
            Some(known) if &**known == name => return,
            Some(_) => {
                // Kafka never renames a topic; a different name is the broker's word, so it wins.
                map.names.insert(id, name.into());
                return;
            }
            None => {}
        }
        while map.names.len() >= MAX_TOPIC_IDS {
            let Some(oldest) = map.order.pop_front() else { break };
            map.names.remove(&oldest);
        }
        map.names.insert(id, name.into());
        map.order.push_back(id);
    })
}

/// The name of a learned id.
pub fn name_of(id: &TopicUuid) -> Option<Rc<str>> {
    MAP.with(|map| map.borrow().names.get(id).cloned())
}

/// The learned id of a topic name (the broker's answers name the topic's id beside its name).
pub fn id_of(name: &str) -> Option<TopicUuid> {
    MAP.with(|map| map.borrow().names.iter().find(|(_, n)| &***n == name).map(|(id, _)| *id))
}

/// How many ids are remembered (tests, stats).
pub fn len() -> usize {
    MAP.with(|map| map.borrow().names.len())
}

/// Forgets everything (tests).
pub fn clear() {
    MAP.with(|map| *map.borrow_mut() = IdMap::default())
}

/// `8f3c…` style, for logs and decision records.
pub fn display(id: &TopicUuid) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> TopicUuid {
        let mut id = [7; 16];
        id[..4].copy_from_slice(&n.to_be_bytes());
        id
    }

    #[test]
    fn learns_and_ignores_zero_ids() {
        clear();
        learn(id(1), "orders");
        learn(ZERO, "nothing");
        learn(id(2), "");
        assert_eq!(name_of(&id(1)).as_deref(), Some("orders"));
        assert_eq!(name_of(&ZERO), None);
        assert_eq!(name_of(&id(2)), None);
        assert_eq!(len(), 1);
    }

    #[test]
    fn forgets_the_oldest_past_the_bound() {
        clear();
        for n in 0..(MAX_TOPIC_IDS as u32 + 10) {
            learn(id(n), &format!("t{n}"));
        }
        assert_eq!(len(), MAX_TOPIC_IDS);
        assert_eq!(name_of(&id(0)), None);
        assert_eq!(name_of(&id(9)), None);
        assert_eq!(name_of(&id(10)).as_deref(), Some("t10"));
        assert_eq!(name_of(&id(MAX_TOPIC_IDS as u32 + 9)).as_deref(), Some(&*format!("t{}", MAX_TOPIC_IDS + 9)));
        clear();
    }
}

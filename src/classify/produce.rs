//! Produce, classified from a prefix: a walker that skips record batches by their length, so a 10 MiB
//! produce is decided as soon as its last topic name has arrived.

use std::borrow::Cow;

use super::{Needs, Requirements, TopicKey};
use crate::protocol::acl::Operation;
use crate::protocol::layout::{bad, Reader, Stop};
use crate::topic_ids::TopicUuid;

/// Highest Produce version the walker reads (v13 addresses topics by id).
pub(crate) const MAX_PRODUCE_VERSION: i16 = 13;

/// Write on the transactional id and on each topic; with them, the ids the filter has not learned (see
/// `session::topic_resolution`), whose topics are not among them.
pub(crate) fn produce_requirements<'a>(produce: &ProduceSummary<'a>) -> (Requirements<'a>, Vec<TopicUuid>) {
    let mut needs = Needs::default();
    if let Some(id) = &produce.transactional_id {
        needs.txn(Operation::Write, id);
    }
    let mut unknown = Vec::new();
    for (topic, _) in &produce.topics {
        match topic {
            TopicKey::Name(Some(name)) => {
                needs.topic(Operation::Write, name);
            }
            TopicKey::Name(None) => {}
            TopicKey::Id(id) => match crate::topic_ids::name_of(id) {
                Some(name) => {
                    needs.topic_cow(Operation::Write, Cow::Owned(name.to_string()));
                }
                None if !unknown.contains(id) => unknown.push(*id),
                None => {}
            },
        }
    }
    (needs.done(), unknown)
}

/// What authorization and the error response need from a Produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProduceSummary<'a> {
    pub transactional_id: Option<&'a str>,
    pub acks: i16,
    /// Topics (names, or ids from v13) in request order, with partition indexes when the whole body was
    /// walked.
    pub topics: ProduceTopics<'a>,
}

/// A Produce's topics, inline for one or two (most requests): classification walks every Produce.
pub(crate) type ProduceTopics<'a> = smallvec::SmallVec<[(TopicKey<'a>, Vec<i32>); 2]>;

/// Walks a Produce request (v0-v13). With `complete == false` it stops once the last topic name is read
/// (record batches are skipped by length, they need not have arrived); with `complete == true` it walks
/// the whole body, collects partition indexes and requires the body to end exactly.
pub(crate) fn walk_produce(
    version: i16,
    prefix: &[u8],
    body_len: usize,
    complete: bool,
) -> Result<ProduceSummary<'_>, Stop> {
    if !(0..=MAX_PRODUCE_VERSION).contains(&version) {
        return Err(bad("version not handled by the Produce walker"));
    }
    let flexible = version >= 9;
    let mut r = Reader::new(prefix, body_len);
    let transactional_id = if version >= 3 { r.string(flexible)? } else { None };
    let acks = r.i16()?;
    let _timeout_ms = r.i32()?;
    let topic_count = r.count(flexible)?.ok_or_else(|| bad("null topic array"))?;
    let mut topics = ProduceTopics::new();
    for i in 0..topic_count {
        let key = if version >= 13 {
            TopicKey::Id(r.array()?)
        } else {
            TopicKey::Name(Some(r.string(flexible)?.ok_or_else(|| bad("null topic name"))?))
        };
        topics.push((key, Vec::new()));
        if !complete && i + 1 == topic_count {
            break;
        }
        let partition_count = r.count(flexible)?.ok_or_else(|| bad("null partition array"))?;
        for _ in 0..partition_count {
            let index = r.i32()?;
            if let Some(records_len) = r.length(flexible, true)? {
                r.skip(records_len)?;
            }
            if flexible {
                r.tagged_fields()?;
            }
            if let Some((_, partitions)) = topics.last_mut() {
                partitions.push(index);
            }
        }
        if flexible {
            r.tagged_fields()?;
        }
    }
    // Trailing bytes after the request's tagged fields are ignored, as the broker ignores them (see check_shape).
    if complete && flexible {
        r.tagged_fields()?;
    }
    Ok(ProduceSummary { transactional_id, acks, topics })
}

/// Calls `visit(name, entry_start)` for each topic of a Produce request (v0-v13; by id, the learned name), `entry_start` being the
/// body offset where the topic's entry (its name) begins. Walks as [`walk_produce`] with `complete ==
/// false`: it stops after the last topic's name, so the records need not have arrived. Allocates nothing:
/// it runs for every forwarded Produce (per-topic byte counts).
pub(crate) fn produce_topic_entries<'a>(
    version: i16,
    prefix: &'a [u8],
    body_len: usize,
    mut visit: impl FnMut(Cow<'a, str>, usize),
) -> Result<(), Stop> {
    if !(0..=MAX_PRODUCE_VERSION).contains(&version) {
        return Err(bad("version not handled by the Produce walker"));
    }
    let flexible = version >= 9;
    let mut r = Reader::new(prefix, body_len);
    if version >= 3 {
        r.string(flexible)?;
    }
    r.i16()?; // acks
    r.i32()?; // timeout_ms
    let topic_count = r.count(flexible)?.ok_or_else(|| bad("null topic array"))?;
    for i in 0..topic_count {
        let entry_start = r.pos;
        if version >= 13 {
            let id: TopicUuid = r.array()?;
            if let Some(name) = crate::topic_ids::name_of(&id) {
                visit(Cow::Owned(name.to_string()), entry_start);
            }
        } else {
            visit(Cow::Borrowed(r.string(flexible)?.ok_or_else(|| bad("null topic name"))?), entry_start);
        }
        if i + 1 == topic_count {
            break;
        }
        let partition_count = r.count(flexible)?.ok_or_else(|| bad("null partition array"))?;
        for _ in 0..partition_count {
            r.i32()?;
            if let Some(records_len) = r.length(flexible, true)? {
                r.skip(records_len)?;
            }
            if flexible {
                r.tagged_fields()?;
            }
        }
        if flexible {
            r.tagged_fields()?;
        }
    }
    Ok(())
}

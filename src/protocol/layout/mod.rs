//! Request and response layouts, as in Kafka's message JSON (and kafka-protocol's generated decoders): a
//! small language ([`Field`], [`Shape`]) and a walker over it. [`parse`] walks every field, refuses any
//! array count larger than the bytes left (every element takes at least one byte) and any length past the
//! body, and keeps only the named fields asked for, borrowing strings from the body (bytes after the request
//! are ignored, as brokers ignore them). Nothing is allocated from a count read off the wire beyond what the
//! frame holds. The same layouts serve classification, the error responses (`enforce`) and partial requests
//! (`session::split`, which cuts arrays at the byte ranges the walk records); the tests encode populated
//! requests with kafka-protocol at every version to keep the layouts equal to Kafka's. The bodies the tests'
//! oracle hands to kafka-protocol's decoders (`decode_checked`) pass the same walk first, because those
//! decoders call `Vec::with_capacity(n)` with `n` off the wire.

mod describe_topic_partitions;
mod listings;
mod reader;
mod requests;
mod responses;
mod walk;

pub(crate) use describe_topic_partitions::DtpRequest;
pub(crate) use listings::{
    described_group_topics, filter_listing, offset_groups_listings, read_dtp_cursor, with_authorized_operations,
    withhold_topic_configs, write_dtp_cursor, Entry, AUTHORIZED_OPERATIONS_OMITTED, CONSUMER_GROUP_DESCRIBE_LISTING,
    CREATE_TOPICS_LISTING, DESCRIBE_CLUSTER_LISTING, DESCRIBE_GROUPS_LISTING, DESCRIBE_TOPIC_PARTITIONS_LISTING,
    LIST_GROUPS_LISTING, LIST_TRANSACTIONS_LISTING, METADATA_LISTING, OFFSET_FETCH_TOPICS_LISTING,
    SHARE_GROUP_DESCRIBE_LISTING,
};
pub(crate) use reader::{bad, stop_reason, Reader, Stop};
pub(crate) use requests::shape;
pub(crate) use responses::{offset_fetch_groups, response_topic_array};
#[cfg(test)]
pub(crate) use walk::decode_checked;
pub(crate) use walk::{parse, Node, Val};

/// One field's wire type.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    I8,
    I16,
    I32,
    I64,
    Uuid,
    Bool,
    /// String or nullable string (`i16` length, compact in flexible versions).
    Str,
    /// Bytes or nullable bytes (`i32` length, compact in flexible versions).
    Bytes,
    /// (Nullable) array of structs; each struct ends with tagged fields in flexible versions.
    Structs(&'static [Field]),
    /// (Nullable) array of fixed-size elements.
    Fixed(usize),
    /// (Nullable) array of strings.
    Strs,
    /// A struct inline (not in an array); ends with tagged fields in flexible versions.
    Struct(&'static [Field]),
    /// Nullable struct: an `i8` marker (-1 null, 1 present), then the struct.
    Opt(&'static [Field]),
}

/// A field present in versions `min..=max`. A named field is kept by [`parse`] (Kafka's field name);
/// the others are only walked.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    pub(crate) ty: Ty,
    min: i16,
    max: i16,
    name: &'static str,
    /// Kept only when the whole request is read for an answer (`Keep::All`), not to classify it: the
    /// partitions of a Fetch are echoed in its error response but authorized by topic.
    answer_only: bool,
}

impl Field {
    const fn named(self, name: &'static str) -> Field {
        Field { name, ..self }
    }
    /// Named, kept only for answers (see `answer_only`).
    const fn answer(self, name: &'static str) -> Field {
        Field { name, answer_only: true, ..self }
    }
}

pub(crate) const fn all(ty: Ty) -> Field {
    Field { ty, min: 0, max: i16::MAX, name: "", answer_only: false }
}
pub(crate) const fn since(min: i16, ty: Ty) -> Field {
    Field { ty, min, max: i16::MAX, name: "", answer_only: false }
}
pub(crate) const fn until(max: i16, ty: Ty) -> Field {
    Field { ty, min: 0, max, name: "", answer_only: false }
}
pub(crate) const fn between(min: i16, max: i16, ty: Ty) -> Field {
    Field { ty, min, max, name: "", answer_only: false }
}

/// A request layout: fields, and the first flexible version (compact lengths, tagged fields).
pub(crate) struct Shape {
    flexible_from: i16,
    fields: &'static [Field],
}

/// Which named fields [`parse`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// What authorization asks about (resources and the arrays holding them).
    Resources,
    /// Everything named, for answers (error responses).
    All,
}

/// Arrays of 32- and 64-bit integers.
pub(crate) const I32S: Ty = Ty::Fixed(4);
pub(crate) const I64S: Ty = Ty::Fixed(8);

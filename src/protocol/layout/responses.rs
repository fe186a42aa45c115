//! Response layouts: the broker's answers the filter rewrites are bounded the same way before any decode
//! (a broker's bytes are read off the wire too).

use kafka_protocol::messages::ApiKey;

use super::listings::{
    CONSUMER_GROUP_DESCRIBE_GROUP, CREATE_TOPICS_TOPIC, DESCRIBE_GROUPS_GROUP, SHARE_GROUP_DESCRIBE_GROUP,
    SHARE_OFFSETS_RESPONSE_GROUP_TOPIC,
};
use super::walk::{walk_fields, walk_list};
use super::Ty::*;
use super::{all, between, since, stop_reason, until, Field, Reader, I32S, I64S};

/// A response's per-resource array, for splicing the filter's answer for denied resources into the
/// broker's answer (partial requests): the fields before the array and the layout of one element.
pub(crate) struct ResponseArray {
    flexible_from: i16,
    /// Fields before the array.
    head: &'static [Field],
    /// Set when the array lies inside the one element of an outer array (OffsetFetch v8+ `groups`; only
    /// single-group requests are split): that element's fields before and after the array.
    within_single: Option<(&'static [Field], &'static [Field])>,
    /// One element of the array.
    element: &'static [Field],
    /// Fields after the array: walked too, so a truncated response is refused, not passed on.
    tail: &'static [Field],
}

pub(crate) const fn response_array(
    flexible_from: i16,
    head: &'static [Field],
    element: &'static [Field],
) -> ResponseArray {
    ResponseArray { flexible_from, head, within_single: None, element, tail: &[] }
}

pub(crate) static PRODUCE_RESPONSE_TOPICS: ResponseArray = ResponseArray {
    tail: &[since(1, I32)], // throttle_time_ms
    ..response_array(
        9,
        &[],
        &[
            until(12, Str),  // name
            since(13, Uuid), // topic_id
            all(Structs(&[
                all(I32),                                 // index
                all(I16),                                 // error_code
                all(I64),                                 // base_offset
                since(2, I64),                            // log_append_time_ms
                since(5, I64),                            // log_start_offset
                since(8, Structs(&[all(I32), all(Str)])), // record_errors
                since(8, Str),                            // error_message
            ])),
        ],
    )
};

pub(crate) static FETCH_RESPONSE_TOPICS: ResponseArray = response_array(
    12,
    &[since(1, I32), since(7, I16), since(7, I32)], // throttle_time_ms, error_code, session_id
    &[
        until(12, Str),  // topic
        since(13, Uuid), // topic_id
        all(Structs(&[
            all(I32),                                 // partition_index
            all(I16),                                 // error_code
            all(I64),                                 // high_watermark
            since(4, I64),                            // last_stable_offset
            since(5, I64),                            // log_start_offset
            since(4, Structs(&[all(I64), all(I64)])), // aborted_transactions
            since(11, I32),                           // preferred_read_replica
            all(Bytes),                               // records
        ])),
    ],
);

pub(crate) static LIST_OFFSETS_RESPONSE_TOPICS: ResponseArray = response_array(
    6,
    &[since(2, I32)], // throttle_time_ms
    &[
        all(Str), // name
        // partition_index, error_code, old_style_offsets (v0), timestamp, offset, leader_epoch
        all(Structs(&[all(I32), all(I16), until(0, I64S), since(1, I64), since(1, I64), since(4, I32)])),
    ],
);

pub(crate) static OFFSET_COMMIT_RESPONSE_TOPICS: ResponseArray = response_array(
    8,
    &[since(3, I32)],                                                       // throttle_time_ms
    &[until(9, Str), since(10, Uuid), all(Structs(&[all(I32), all(I16)]))], // name, id, (index, error_code)
);

/// v0-7; the top-level error_code (v2+) after the array stays as the broker sent it.
pub(crate) static OFFSET_FETCH_RESPONSE_TOPICS: ResponseArray = ResponseArray {
    tail: &[between(2, 7, I16)], // error_code
    ..response_array(
        6,
        &[since(3, I32)], // throttle_time_ms
        &[
            all(Str), // name
            // partition_index, committed_offset, committed_leader_epoch, metadata, error_code
            all(Structs(&[all(I32), all(I64), since(5, I32), all(Str), all(I16)])),
        ],
    )
};

/// v8+: one topic of a group (name or id; partition, offset, leader epoch, metadata, error_code).
pub(crate) static OFFSET_FETCH_RESPONSE_GROUP_TOPIC: &[Field] =
    &[until(9, Str), since(10, Uuid), all(Structs(&[all(I32), all(I64), all(I32), all(Str), all(I16)]))];

/// v8+: the topics of the one group (a one-group request split by topic).
pub(crate) static OFFSET_FETCH_RESPONSE_GROUP_TOPICS: ResponseArray = ResponseArray {
    flexible_from: 6,
    head: &[all(I32)],                               // throttle_time_ms
    within_single: Some((&[all(Str)], &[all(I16)])), // group_id; error_code
    element: OFFSET_FETCH_RESPONSE_GROUP_TOPIC,
    tail: &[],
};

/// v8+: the groups (a request of several groups split by group).
pub(crate) static OFFSET_FETCH_RESPONSE_GROUPS: ResponseArray = response_array(
    6,
    &[all(I32)], // throttle_time_ms
    // group_id, topics, error_code
    &[all(Str), all(Structs(OFFSET_FETCH_RESPONSE_GROUP_TOPIC)), all(I16)],
);

/// DescribeShareGroupOffsets v0: the groups (group_id, topics, error_code, error_message).
pub(crate) static SHARE_OFFSETS_RESPONSE_GROUPS: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    &[all(Str), all(Structs(SHARE_OFFSETS_RESPONSE_GROUP_TOPIC)), all(I16), all(Str)],
);

/// v4+: one answer per coordinator key (key, node_id, host, port, error_code, error_message).
pub(crate) static FIND_COORDINATOR_RESPONSE_KEYS: ResponseArray =
    response_array(3, &[all(I32)], &[all(Str), all(I32), all(Str), all(I32), all(I16), all(Str)]);

pub(crate) static DELETE_RECORDS_RESPONSE_TOPICS: ResponseArray = response_array(
    2,
    &[all(I32)],                                                // throttle_time_ms
    &[all(Str), all(Structs(&[all(I32), all(I64), all(I16)]))], // name, (index, low_watermark, error_code)
);

pub(crate) static OFFSET_FOR_LEADER_EPOCH_RESPONSE_TOPICS: ResponseArray = response_array(
    4,
    &[since(2, I32)], // throttle_time_ms
    // topic, (error_code, partition, leader_epoch, end_offset)
    &[all(Str), all(Structs(&[all(I16), all(I32), since(1, I32), all(I64)]))],
);

pub(crate) static CREATE_TOPICS_RESPONSE_TOPICS: ResponseArray = response_array(
    5,
    &[since(2, I32)], // throttle_time_ms
    CREATE_TOPICS_TOPIC,
);

pub(crate) static CREATE_PARTITIONS_RESPONSE_TOPICS: ResponseArray = response_array(
    2,
    &[all(I32)],                     // throttle_time_ms
    &[all(Str), all(I16), all(Str)], // name, error_code, error_message
);

/// Topics of partition results (partition_index, error_code).
pub(crate) static TOPIC_PARTITION_ERRORS: &[Field] = &[all(Str), all(Structs(&[all(I32), all(I16)]))];

pub(crate) static TXN_OFFSET_COMMIT_RESPONSE_TOPICS: ResponseArray =
    response_array(3, &[all(I32)], TOPIC_PARTITION_ERRORS);

/// v0 (not flexible); the top-level error_code and throttle_time_ms come first.
pub(crate) static OFFSET_DELETE_RESPONSE_TOPICS: ResponseArray =
    response_array(i16::MAX, &[all(I16), all(I32)], TOPIC_PARTITION_ERRORS);

pub(crate) static DESCRIBE_PRODUCERS_RESPONSE_TOPICS: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    &[
        all(Str), // name
        // partition_index, error_code, error_message, active_producers (producer_id, producer_epoch,
        // last_sequence, last_timestamp, coordinator_epoch, current_txn_start_offset)
        all(Structs(&[
            all(I32),
            all(I16),
            all(Str),
            all(Structs(&[all(I64), all(I32), all(I32), all(I64), all(I32), all(I64)])),
        ])),
    ],
);

/// v1-4 (the filter's supported range).
pub(crate) static DESCRIBE_CONFIGS_RESPONSE_RESULTS: ResponseArray = response_array(
    4,
    &[all(I32)], // throttle_time_ms
    &[
        all(I16), // error_code
        all(Str), // error_message
        all(I8),  // resource_type
        all(Str), // resource_name
        // configs: name, value, read_only, is_default (v0), config_source (v1+), is_sensitive,
        // synonyms (name, value, source), config_type, documentation
        all(Structs(&[
            all(Str),
            all(Str),
            all(Bool),
            until(0, Bool),
            since(1, I8),
            all(Bool),
            since(1, Structs(&[all(Str), all(Str), all(I8)])),
            since(3, I8),
            since(3, Str),
        ])),
    ],
);

/// AlterConfigs (flexible from v2) and IncrementalAlterConfigs (from v1) answer each resource alike:
/// error_code, error_message, resource_type, resource_name.
pub(crate) static ALTER_CONFIGS_RESPONSE: &[Field] = &[all(I16), all(Str), all(I8), all(Str)];

pub(crate) static ALTER_CONFIGS_RESPONSES: ResponseArray = response_array(2, &[all(I32)], ALTER_CONFIGS_RESPONSE);

pub(crate) static INCREMENTAL_ALTER_CONFIGS_RESPONSES: ResponseArray =
    response_array(1, &[all(I32)], ALTER_CONFIGS_RESPONSE);

pub(crate) static DELETE_TOPICS_RESPONSE_TOPICS: ResponseArray = response_array(
    4,
    &[since(1, I32)],                                     // throttle_time_ms
    &[all(Str), since(6, Uuid), all(I16), since(5, Str)], // name, topic_id, error_code, error_message
);

pub(crate) static DESCRIBE_GROUPS_RESPONSE_GROUPS: ResponseArray = response_array(
    5,
    &[since(1, I32)], // throttle_time_ms
    DESCRIBE_GROUPS_GROUP,
);

pub(crate) static DELETE_GROUPS_RESPONSE_GROUPS: ResponseArray = response_array(2, &[all(I32)], &[all(Str), all(I16)]);

pub(crate) static DESCRIBE_TRANSACTIONS_RESPONSE_STATES: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    &[
        all(I16), // error_code
        all(Str), // transactional_id
        all(Str), // transaction_state
        all(I32), // transaction_timeout_ms
        all(I64), // transaction_start_time_ms
        all(I64), // producer_id
        all(I16), // producer_epoch
        all(Structs(&[all(Str), all(I32S)])),
    ],
);

pub(crate) static CONSUMER_GROUP_DESCRIBE_RESPONSE_GROUPS: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    CONSUMER_GROUP_DESCRIBE_GROUP,
);

pub(crate) static SHARE_GROUP_DESCRIBE_RESPONSE_GROUPS: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    SHARE_GROUP_DESCRIBE_GROUP,
);

/// Share groups' partition leader: leader_id, leader_epoch.
static LEADER_ID_AND_EPOCH: &[Field] = &[all(I32), all(I32)];
/// Share groups' node endpoints: node_id, host, port, rack.
static NODE_ENDPOINTS: &[Field] = &[all(Structs(&[all(I32), all(Str), all(I32), all(Str)]))];

/// ShareFetch v1: throttle_time_ms, error_code, error_message, acquisition_lock_timeout_ms; topics by id.
pub(crate) static SHARE_FETCH_RESPONSE_TOPICS: ResponseArray = ResponseArray {
    tail: NODE_ENDPOINTS,
    ..response_array(
        0,
        &[all(I32), all(I16), all(Str), all(I32)],
        &[
            all(Uuid), // topic_id
            all(Structs(&[
                all(I32), // partition_index
                all(I16), // error_code
                all(Str), // error_message
                all(I16), // acknowledge_error_code
                all(Str), // acknowledge_error_message
                all(Struct(LEADER_ID_AND_EPOCH)),
                all(Bytes),                                    // records
                all(Structs(&[all(I64), all(I64), all(I16)])), // acquired_records
            ])),
        ],
    )
};

/// ShareAcknowledge v1: throttle_time_ms, error_code, error_message; topics by id.
pub(crate) static SHARE_ACKNOWLEDGE_RESPONSE_TOPICS: ResponseArray = ResponseArray {
    tail: NODE_ENDPOINTS,
    ..response_array(
        0,
        &[all(I32), all(I16), all(Str)],
        &[
            all(Uuid), // topic_id
            all(Structs(&[all(I32), all(I16), all(Str), all(Struct(LEADER_ID_AND_EPOCH))])),
        ],
    )
};

/// AlterShareGroupOffsets v0: throttle_time_ms, error_code, error_message; topics (name, id, partitions).
pub(crate) static ALTER_SHARE_GROUP_OFFSETS_RESPONSE_TOPICS: ResponseArray = response_array(
    0,
    &[all(I32), all(I16), all(Str)],
    &[all(Str), all(Uuid), all(Structs(&[all(I32), all(I16), all(Str)]))],
);

/// DeleteShareGroupOffsets v0: throttle_time_ms, error_code, error_message; topics (name, id, error).
pub(crate) static DELETE_SHARE_GROUP_OFFSETS_RESPONSE_TOPICS: ResponseArray =
    response_array(0, &[all(I32), all(I16), all(Str)], &[all(Str), all(Uuid), all(I16), all(Str)]);

/// The per-resource response array of an API whose requests the filter splits.
pub(crate) fn response_array_layout(key: ApiKey, version: i16) -> Option<&'static ResponseArray> {
    Some(match key {
        ApiKey::Produce => &PRODUCE_RESPONSE_TOPICS,
        ApiKey::Fetch => &FETCH_RESPONSE_TOPICS,
        ApiKey::ListOffsets => &LIST_OFFSETS_RESPONSE_TOPICS,
        ApiKey::OffsetCommit => &OFFSET_COMMIT_RESPONSE_TOPICS,
        ApiKey::OffsetFetch if version >= 8 => &OFFSET_FETCH_RESPONSE_GROUP_TOPICS,
        ApiKey::OffsetFetch => &OFFSET_FETCH_RESPONSE_TOPICS,
        ApiKey::FindCoordinator if version >= 4 => &FIND_COORDINATOR_RESPONSE_KEYS,
        ApiKey::DeleteRecords => &DELETE_RECORDS_RESPONSE_TOPICS,
        ApiKey::OffsetForLeaderEpoch => &OFFSET_FOR_LEADER_EPOCH_RESPONSE_TOPICS,
        ApiKey::CreateTopics => &CREATE_TOPICS_RESPONSE_TOPICS,
        ApiKey::DeleteTopics => &DELETE_TOPICS_RESPONSE_TOPICS,
        ApiKey::CreatePartitions => &CREATE_PARTITIONS_RESPONSE_TOPICS,
        ApiKey::TxnOffsetCommit => &TXN_OFFSET_COMMIT_RESPONSE_TOPICS,
        ApiKey::OffsetDelete => &OFFSET_DELETE_RESPONSE_TOPICS,
        ApiKey::DescribeProducers => &DESCRIBE_PRODUCERS_RESPONSE_TOPICS,
        ApiKey::DescribeConfigs => &DESCRIBE_CONFIGS_RESPONSE_RESULTS,
        ApiKey::AlterConfigs => &ALTER_CONFIGS_RESPONSES,
        ApiKey::IncrementalAlterConfigs => &INCREMENTAL_ALTER_CONFIGS_RESPONSES,
        ApiKey::DescribeGroups => &DESCRIBE_GROUPS_RESPONSE_GROUPS,
        ApiKey::DeleteGroups => &DELETE_GROUPS_RESPONSE_GROUPS,
        ApiKey::DescribeTransactions => &DESCRIBE_TRANSACTIONS_RESPONSE_STATES,
        ApiKey::ConsumerGroupDescribe => &CONSUMER_GROUP_DESCRIBE_RESPONSE_GROUPS,
        ApiKey::ShareGroupDescribe => &SHARE_GROUP_DESCRIBE_RESPONSE_GROUPS,
        ApiKey::ShareFetch => &SHARE_FETCH_RESPONSE_TOPICS,
        ApiKey::ShareAcknowledge => &SHARE_ACKNOWLEDGE_RESPONSE_TOPICS,
        ApiKey::AlterShareGroupOffsets => &ALTER_SHARE_GROUP_OFFSETS_RESPONSE_TOPICS,
        ApiKey::DeleteShareGroupOffsets => &DELETE_SHARE_GROUP_OFFSETS_RESPONSE_TOPICS,
        _ => return None,
    })
}

/// Where the per-resource array of a response lies in `body` (see [`ResponseArray`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArraySpan {
    /// Where the element count starts (everything before is copied as is).
    pub count_start: usize,
    pub entries_start: usize,
    /// Where the last element ends (everything after is copied as is).
    pub entries_end: usize,
    pub count: usize,
    /// Compact counts (flexible version).
    pub flexible: bool,
}

/// Where the per-resource array of a response to a split API lies in `body`. Walks the broker's bytes
/// with the layout, without decoding them, so rewriting a response never allocates from a count read off
/// the wire.
pub(crate) fn response_topic_array(api_key: i16, version: i16, body: &[u8]) -> Result<ArraySpan, String> {
    let layout = ApiKey::try_from(api_key)
        .ok()
        .and_then(|key| response_array_layout(key, version))
        .ok_or_else(|| format!("no response layout for API key {api_key}"))?;
    response_array_span(layout, version, body)
}

/// [`response_topic_array`] of an OffsetFetch v8+ (or DescribeShareGroupOffsets) response split by group: its
/// `groups` array.
fn offset_groups_span(key: ApiKey, version: i16, body: &[u8]) -> Result<ArraySpan, String> {
    if key == ApiKey::DescribeShareGroupOffsets {
        return response_array_span(&SHARE_OFFSETS_RESPONSE_GROUPS, version, body);
    }
    if version < 8 {
        return Err(format!("OffsetFetch v{version} has no groups"));
    }
    response_array_span(&OFFSET_FETCH_RESPONSE_GROUPS, version, body)
}

pub(crate) fn response_array_span(layout: &ResponseArray, version: i16, body: &[u8]) -> Result<ArraySpan, String> {
    let flexible = version >= layout.flexible_from;
    let mut r = Reader::new(body, body.len());
    walk_list(&mut r, layout.head, version, flexible).map_err(stop_reason)?;
    if let Some((before, _)) = layout.within_single {
        if r.count(flexible).map_err(stop_reason)? != Some(1) {
            return Err("expected exactly one group".into());
        }
        walk_list(&mut r, before, version, flexible).map_err(stop_reason)?;
    }
    let count_start = r.pos;
    let count = r.count(flexible).map_err(stop_reason)?.unwrap_or(0);
    let entries_start = r.pos;
    for _ in 0..count {
        walk_fields(&mut r, layout.element, version, flexible).map_err(stop_reason)?;
    }
    let entries_end = r.pos;
    if let Some((_, after)) = layout.within_single {
        walk_fields(&mut r, after, version, flexible).map_err(stop_reason)?;
    }
    walk_fields(&mut r, layout.tail, version, flexible).map_err(stop_reason)?;
    Ok(ArraySpan { count_start, entries_start, entries_end, count, flexible })
}

/// One group of an OffsetFetch v8+ response, as byte ranges of the body: the group's element
/// (`start..end`), its topics array, its id and its error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetFetchGroupSpan<'a> {
    pub group_id: &'a str,
    pub start: usize,
    pub topics_count_start: usize,
    pub topics_start: usize,
    pub topics_end: usize,
    pub topics_count: usize,
    pub error_code: i16,
    pub end: usize,
}

/// The groups of an OffsetFetch v8+ response: the `groups` array's span and each group's, walked with the
/// layout (never decoded).
/// DescribeShareGroupOffsets' groups the same (each group's error_message after its error_code).
pub(crate) fn offset_fetch_groups(
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<(ArraySpan, Vec<OffsetFetchGroupSpan<'_>>), String> {
    let span = offset_groups_span(key, version, body)?;
    let share = key == ApiKey::DescribeShareGroupOffsets;
    let topic = if share { SHARE_OFFSETS_RESPONSE_GROUP_TOPIC } else { OFFSET_FETCH_RESPONSE_GROUP_TOPIC };
    // v8+ is flexible (from v6).
    let mut r = Reader::new(body, span.entries_end);
    r.pos = span.entries_start;
    let mut groups = Vec::with_capacity(span.count);
    for _ in 0..span.count {
        let start = r.pos;
        let group_id = r.string(true).map_err(stop_reason)?.unwrap_or_default();
        let topics_count_start = r.pos;
        let topics_count = r.count(true).map_err(stop_reason)?.unwrap_or(0);
        let topics_start = r.pos;
        for _ in 0..topics_count {
            walk_fields(&mut r, topic, version, true).map_err(stop_reason)?;
        }
        let topics_end = r.pos;
        let error_code = r.i16().map_err(stop_reason)?;
        if share {
            r.string(true).map_err(stop_reason)?; // error_message
        }
        r.tagged_fields().map_err(stop_reason)?;
        groups.push(OffsetFetchGroupSpan {
            group_id,
            start,
            topics_count_start,
            topics_start,
            topics_end,
            topics_count,
            error_code,
            end: r.pos,
        });
    }
    Ok((span, groups))
}

//! Listings: responses whose entries the filter drops when the principal may not Describe them (ListGroups,
//! ListTransactions, OffsetFetch for all topics, DescribeTopicPartitions). The broker's bytes are walked
//! with these layouts, never decoded: dropped entries are cut out, every other byte stays as sent.

use super::requests::DTP_CURSOR;
use super::walk::{walk_fields, walk_list, walk_struct, Node};
use super::Ty::*;
use super::{all, between, since, stop_reason, Field, Keep, Reader, Stop, I32S};

/// A response body (or one struct of it) holding one array whose entries are kept or dropped by a key.
pub(crate) struct Listing {
    flexible_from: i16,
    /// Fields before the array.
    before: &'static [Field],
    /// The fields of one entry; `key` indexes the string among them that names the entry.
    entry: &'static [Field],
    key: usize,
    /// Fields after the array (then, in flexible versions, the struct's tagged fields).
    after: &'static [Field],
    /// Index in `entry` of the entry's authorized-operations bit field, where it has one.
    authorized_operations: Option<usize>,
}

/// Metadata response: throttle_time_ms, brokers, cluster_id, controller_id, then topics by name; after them
/// cluster_authorized_operations (v8-10) and error_code (v13+).
pub(crate) static METADATA_LISTING: Listing = Listing {
    flexible_from: 9,
    before: &[
        since(3, I32),                                                // throttle_time_ms
        all(Structs(&[all(I32), all(Str), all(I32), since(1, Str)])), // brokers: node_id, host, port, rack
        since(2, Str),                                                // cluster_id
        since(1, I32),                                                // controller_id
    ],
    entry: &[
        all(I16),        // error_code
        all(Str),        // name
        since(10, Uuid), // topic_id
        since(1, Bool),  // is_internal
        all(Structs(&[
            all(I16),       // error_code
            all(I32),       // partition_index
            all(I32),       // leader_id
            since(7, I32),  // leader_epoch
            all(I32S),      // replica_nodes
            all(I32S),      // isr_nodes
            since(5, I32S), // offline_replicas
        ])),
        since(8, I32), // topic_authorized_operations
    ],
    key: 1,
    after: &[between(8, 10, I32), since(13, I16)], // cluster_authorized_operations, error_code
    authorized_operations: Some(5),
};

/// ListGroups response: throttle_time_ms, error_code, groups by group_id.
pub(crate) static LIST_GROUPS_LISTING: Listing = Listing {
    flexible_from: 3,
    before: &[since(1, I32), all(I16)],
    entry: &[all(Str), all(Str), since(4, Str), since(5, Str)], // group_id, protocol_type, state, type
    key: 0,
    after: &[],
    authorized_operations: None,
};

/// ListTransactions response: throttle_time_ms, error_code, unknown_state_filters, transaction_states by id.
pub(crate) static LIST_TRANSACTIONS_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(I32), all(I16), all(Strs)],
    entry: &[all(Str), all(I64), all(Str)], // transactional_id, producer_id, transaction_state
    key: 0,
    after: &[],
    authorized_operations: None,
};

/// One partition of an OffsetFetch response (every version the filter handles).
pub(crate) static OFFSET_FETCH_PARTITION: &[Field] = &[
    all(I32),      // partition_index
    all(I64),      // committed_offset
    since(5, I32), // committed_leader_epoch
    all(Str),      // metadata
    all(I16),      // error_code
];

/// One topic of an OffsetFetch response, by name (the filter caps OffsetFetch below topic ids).
pub(crate) static OFFSET_FETCH_TOPIC: &[Field] = &[all(Str), all(Structs(OFFSET_FETCH_PARTITION))];

/// OffsetFetch response v1-v7: throttle_time_ms, topics by name, error_code.
pub(crate) static OFFSET_FETCH_TOPICS_LISTING: Listing = Listing {
    flexible_from: 6,
    before: &[since(3, I32)],
    entry: OFFSET_FETCH_TOPIC,
    key: 0,
    after: &[since(2, I16)],
    authorized_operations: None,
};

/// OffsetFetch response v8+: throttle_time_ms, groups by group_id (each filtered with the next layout).
pub(crate) static OFFSET_FETCH_GROUPS_LISTING: Listing = Listing {
    flexible_from: 6,
    before: &[all(I32)],
    entry: &[all(Str), all(Structs(OFFSET_FETCH_TOPIC)), all(I16)], // group_id, topics, error_code
    key: 0,
    after: &[],
    authorized_operations: None,
};

/// One group of an OffsetFetch v8+ response: group_id, topics by name, error_code.
pub(crate) static OFFSET_FETCH_GROUP_TOPICS_LISTING: Listing = Listing {
    flexible_from: 6,
    before: &[all(Str)],
    entry: OFFSET_FETCH_TOPIC,
    key: 0,
    after: &[all(I16)],
    authorized_operations: None,
};

/// DescribeShareGroupOffsets response v0: throttle_time_ms, groups by group_id (each filtered with the next
/// layout).
pub(crate) static SHARE_OFFSETS_GROUPS_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(I32)],
    // group_id, topics, error_code, error_message
    entry: &[all(Str), all(Structs(SHARE_OFFSETS_RESPONSE_GROUP_TOPIC)), all(I16), all(Str)],
    key: 0,
    after: &[],
    authorized_operations: None,
};

/// One group of a DescribeShareGroupOffsets response: group_id, topics by name, error_code, error_message.
pub(crate) static SHARE_OFFSETS_GROUP_TOPICS_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(Str)],
    entry: SHARE_OFFSETS_RESPONSE_GROUP_TOPIC,
    key: 0,
    after: &[all(I16), all(Str)],
    authorized_operations: None,
};

/// The listings of a response of groups' offsets: its groups, and one group's topics (OffsetFetch v8+, or
/// DescribeShareGroupOffsets).
pub(crate) fn offset_groups_listings(api_key: i16) -> (&'static Listing, &'static Listing) {
    if api_key == kafka_protocol::messages::ApiKey::DescribeShareGroupOffsets as i16 {
        (&SHARE_OFFSETS_GROUPS_LISTING, &SHARE_OFFSETS_GROUP_TOPICS_LISTING)
    } else {
        (&OFFSET_FETCH_GROUPS_LISTING, &OFFSET_FETCH_GROUP_TOPICS_LISTING)
    }
}

/// DescribeTopicPartitions response: throttle_time_ms, topics by name, next_cursor.
pub(crate) static DESCRIBE_TOPIC_PARTITIONS_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(I32)],
    entry: &[
        all(I16),  // error_code
        all(Str),  // name
        all(Uuid), // topic_id
        all(Bool), // is_internal
        all(Structs(&[
            all(I16),  // error_code
            all(I32),  // partition_index
            all(I32),  // leader_id
            all(I32),  // leader_epoch
            all(I32S), // replica_nodes
            all(I32S), // isr_nodes
            all(I32S), // eligible_leader_replicas
            all(I32S), // last_known_elr
            all(I32S), // offline_replicas
        ])),
        all(I32), // topic_authorized_operations
    ],
    key: 1,
    after: &[all(Opt(DTP_CURSOR))],
    authorized_operations: Some(5),
};

/// One group of a DescribeGroups response (this listing's entry, and the response array the split answers
/// are merged into).
pub(crate) static DESCRIBE_GROUPS_GROUP: &[Field] = &[
    all(I16),      // error_code
    since(6, Str), // error_message
    all(Str),      // group_id
    all(Str),      // group_state
    all(Str),      // protocol_type
    all(Str),      // protocol_data
    // member_id, group_instance_id, client_id, client_host, member_metadata, member_assignment
    all(Structs(&[all(Str), since(4, Str), all(Str), all(Str), all(Bytes), all(Bytes)])),
    since(3, I32), // authorized_operations
];

/// DescribeGroups response: throttle_time_ms (v1+), groups by group_id; none is dropped, but the authorized
/// operations (v3+) of each become the principal's.
pub(crate) static DESCRIBE_GROUPS_LISTING: Listing = Listing {
    flexible_from: 5,
    before: &[since(1, I32)],
    entry: DESCRIBE_GROUPS_GROUP,
    key: 2,
    after: &[],
    authorized_operations: Some(7),
};

/// DescribeCluster response: the brokers are the listing (never filtered); cluster_authorized_operations
/// follows them.
pub(crate) static DESCRIBE_CLUSTER_LISTING: Listing = Listing {
    flexible_from: 0,
    // throttle_time_ms, error_code, error_message, endpoint_type, cluster_id, controller_id
    before: &[all(I32), all(I16), all(Str), since(1, I8), all(Str), all(I32)],
    entry: &[all(I32), all(Str), all(I32), all(Str), since(2, Bool)], // broker_id, host, port, rack, is_fenced
    key: 1,
    after: &[all(I32)], // cluster_authorized_operations
    authorized_operations: None,
};

/// One topic of a CreateTopics response, every version (this listing reads v5+ only).
pub(crate) static CREATE_TOPICS_TOPIC: &[Field] = &[
    all(Str),       // name
    since(7, Uuid), // topic_id
    all(I16),       // error_code
    since(1, Str),  // error_message
    since(5, I32),  // num_partitions
    since(5, I16),  // replication_factor
    // configs: name, value, read_only, config_source, is_sensitive
    since(5, Structs(&[all(Str), all(Str), all(Bool), all(I8), all(Bool)])),
];

/// CreateTopics response v5+ (flexible): throttle_time_ms, topics by name. Never filtered: a created topic's
/// configs are withheld from a principal without DescribeConfigs on it ([`withhold_topic_configs`]).
pub(crate) static CREATE_TOPICS_LISTING: Listing = Listing {
    flexible_from: 5,
    before: &[all(I32)],
    entry: CREATE_TOPICS_TOPIC,
    key: 0,
    after: &[],
    authorized_operations: None,
};

/// One CreateTopics v5+ topic result as Kafka answers a principal without DescribeConfigs on the topic
/// (ReplicationControlManager.createTopic): no configs, num_partitions and replication_factor -1, and
/// topic_config_error_code (tag 0) TOPIC_AUTHORIZATION_FAILED. `None` for a topic not created (an error
/// result carries no configs) or a version without them.
pub(crate) fn withhold_topic_configs(version: i16, entry: &[u8], code: i16) -> Result<Option<Vec<u8>>, String> {
    if version < 5 {
        return Ok(None);
    }
    let mut r = Reader::new(entry, entry.len());
    let before = CREATE_TOPICS_LISTING.entry.get(..2).ok_or("layout")?;
    walk_list(&mut r, before, version, true).map_err(stop_reason)?;
    if r.i16().map_err(stop_reason)? != 0 {
        return Ok(None);
    }
    r.string(true).map_err(stop_reason)?; // error_message
    let at = r.pos;
    let mut out = entry.get(..at).ok_or("entry span")?.to_vec();
    out.extend_from_slice(&(-1i32).to_be_bytes()); // num_partitions
    out.extend_from_slice(&(-1i16).to_be_bytes()); // replication_factor
    out.push(1); // configs: empty (compact count 0 + 1)
                 // Tagged fields: one, tag 0 (topic_config_error_code), 2 bytes.
    out.extend_from_slice(&[1, 0, 2]);
    out.extend_from_slice(&code.to_be_bytes());
    Ok(Some(out))
}

/// What becomes of one entry of a listing.
pub(crate) enum Entry {
    Keep,
    Drop,
    /// Kept, with these bytes instead (a nested listing filtered in turn).
    Replace(Vec<u8>),
}

/// Decides one entry of a listing from its key (`None`: null) and its bytes.
pub(crate) type Decide<'a> = dyn FnMut(Option<&str>, &[u8]) -> Result<Entry, String> + 'a;

/// A filtered listing: the new body, and where the fields after the array start in it and in the original.
pub(crate) struct Filtered {
    pub body: Vec<u8>,
    pub after_in_body: usize,
    pub after_in_original: usize,
}

/// Filters the entries of a listing's array by their key: `decide` sees each entry's key and bytes;
/// `appended` entries (already encoded) are added at the end. The whole body is walked first (every count
/// and length bounded by it, nothing allocated from a count), so a malformed body is an error and nothing
/// is half-written. A null array stays null.
pub(crate) fn filter_listing(
    listing: &Listing,
    version: i16,
    body: &[u8],
    appended: &[Vec<u8>],
    decide: &mut Decide<'_>,
) -> Result<Filtered, String> {
    let flexible = version >= listing.flexible_from;
    let mut r = Reader::new(body, body.len());
    walk_list(&mut r, listing.before, version, flexible).map_err(stop_reason)?;
    let count_start = r.pos;
    let count = r.count(flexible).map_err(stop_reason)?;
    let entries_start = r.pos;
    let mut entries = Vec::with_capacity(body.len().saturating_sub(entries_start).min(1 << 16));
    let mut kept: usize = 0;
    let mut changed = !appended.is_empty();
    for _ in 0..count.unwrap_or(0) {
        let start = r.pos;
        let key = walk_entry(&mut r, listing, version, flexible).map_err(stop_reason)?;
        let bytes = body.get(start..r.pos).ok_or("entry span")?;
        match decide(key, bytes)? {
            Entry::Keep => {
                kept += 1;
                entries.extend_from_slice(bytes);
            }
            Entry::Drop => changed = true,
            Entry::Replace(new) => {
                kept += 1;
                changed |= new != bytes;
                entries.extend_from_slice(&new);
            }
        }
    }
    let after_start = r.pos;
    walk_fields(&mut r, listing.after, version, flexible).map_err(stop_reason)?;
    let head = body.get(..count_start).ok_or("head span")?;
    let rest = body.get(after_start..).ok_or("tail span")?;
    let mut out = Vec::with_capacity(body.len() + appended.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(head);
    if !changed || (count.is_none() && appended.is_empty()) {
        // The count as the broker wrote it (also a null array).
        out.extend_from_slice(body.get(count_start..entries_start).ok_or("count span")?);
    } else {
        let total = u32::try_from(kept + appended.len()).map_err(|_| "too many entries")?;
        crate::protocol::wire::write_array_count(&mut out, total, flexible);
    }
    out.extend_from_slice(&entries);
    for entry in appended {
        out.extend_from_slice(entry);
    }
    let after_in_body = out.len();
    out.extend_from_slice(rest);
    Ok(Filtered { body: out, after_in_body, after_in_original: after_start })
}

/// Kafka's value of an authorized-operations field the request did not ask for (`Integer.MIN_VALUE`).
pub(crate) const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// An entry of `listing` (its bytes) with its authorized-operations field set to `authorized()`, or `None`
/// when it stays as it is: the listing has no such field at this version, the request did not ask for it
/// (Kafka's `Integer.MIN_VALUE`), or the value is already right. The field has a fixed size, so nothing else
/// of the entry moves.
pub(crate) fn with_authorized_operations(
    listing: &Listing,
    version: i16,
    entry: &[u8],
    authorized: impl FnOnce() -> i32,
) -> Result<Option<Vec<u8>>, String> {
    let Some(index) = listing.authorized_operations else { return Ok(None) };
    let (Some(before), Some(field)) = (listing.entry.get(..index), listing.entry.get(index)) else {
        return Err("authorized operations field index".into());
    };
    if !(field.min..=field.max).contains(&version) {
        return Ok(None);
    }
    let mut r = Reader::new(entry, entry.len());
    walk_list(&mut r, before, version, version >= listing.flexible_from).map_err(stop_reason)?;
    let at = r.pos;
    let current = r.i32().map_err(stop_reason)?;
    if current == AUTHORIZED_OPERATIONS_OMITTED {
        return Ok(None);
    }
    let wanted = authorized();
    if wanted == current {
        return Ok(None);
    }
    let mut patched = entry.to_vec();
    match patched.get_mut(at..at + 4) {
        Some(slot) => slot.copy_from_slice(&wanted.to_be_bytes()),
        None => return Err("authorized operations field span".into()),
    }
    Ok(Some(patched))
}

/// Walks one entry of a listing, returning its key (`None` for a null string).
pub(crate) fn walk_entry<'a>(
    r: &mut Reader<'a>,
    listing: &Listing,
    version: i16,
    flexible: bool,
) -> Result<Option<&'a str>, Stop> {
    let mut key = None;
    for (i, field) in listing.entry.iter().enumerate() {
        if i == listing.key && (field.min..=field.max).contains(&version) {
            key = r.string(flexible)?;
        } else {
            walk_list(r, std::slice::from_ref(field), version, flexible)?;
        }
    }
    if flexible {
        r.tagged_fields()?;
    }
    Ok(key)
}

/// The nullable DescribeTopicPartitions cursor at `at` in a (flexible) body: `(topic_name,
/// partition_index)` or `None`, and where the cursor ends.
pub(crate) fn read_dtp_cursor(body: &[u8], at: usize) -> Result<(Option<(String, i32)>, usize), String> {
    let mut r = Reader::new(body, body.len());
    r.pos = at;
    let cursor = match r.array::<1>().map_err(stop_reason)? {
        [0xff] => None,
        [1] => {
            let name = r.string(true).map_err(stop_reason)?.ok_or("null cursor topic")?.to_string();
            let partition = r.i32().map_err(stop_reason)?;
            r.tagged_fields().map_err(stop_reason)?;
            Some((name, partition))
        }
        _ => return Err("nullable struct marker".into()),
    };
    Ok((cursor, r.pos))
}

/// A DescribeTopicPartitions cursor as written on the wire (`None`: null), without tagged fields.
pub(crate) fn write_dtp_cursor(out: &mut Vec<u8>, cursor: Option<(&str, i32)>) {
    match cursor {
        None => out.push(0xff),
        Some((name, partition)) => {
            out.push(1);
            crate::protocol::wire::write_uvarint(out, name.len() as u64 + 1);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&partition.to_be_bytes());
            out.push(0);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// ConsumerGroupDescribe and ShareGroupDescribe (KIP-848, KIP-932): each described group is kept, or replaced
// when its members' assignments name a topic the principal may not Describe (KafkaApis), by group id.

/// A member's assignment: its topics (topic_id, topic_name, partitions), then tagged fields.
static GROUP_ASSIGNMENT: &[Field] =
    &[all(Structs(&[all(Uuid), all(Str).named("topic_name"), all(I32S)])).named("topic_partitions")];

/// DescribeShareGroupOffsets v0: one topic of a group (topic_name, topic_id, partitions (partition_index,
/// start_offset, leader_epoch, error_code, error_message)).
pub(crate) static SHARE_OFFSETS_RESPONSE_GROUP_TOPIC: &[Field] =
    &[all(Str), all(Uuid), all(Structs(&[all(I32), all(I64), all(I32), all(I16), all(Str)]))];

/// One described group of ConsumerGroupDescribe's response (also the layout its split answers are walked with,
/// `responses::CONSUMER_GROUP_DESCRIBE_RESPONSE_GROUPS`).
pub(crate) static CONSUMER_GROUP_DESCRIBE_GROUP: &[Field] = &[
    all(I16), // error_code
    all(Str), // error_message
    all(Str).named("group_id"),
    all(Str), // group_state
    all(I32), // group_epoch
    all(I32), // assignment_epoch
    all(Str), // assignor_name
    all(Structs(&[
        all(Str),  // member_id
        all(Str),  // instance_id
        all(Str),  // rack_id
        all(I32),  // member_epoch
        all(Str),  // client_id
        all(Str),  // client_host
        all(Strs), // subscribed_topic_names
        all(Str),  // subscribed_topic_regex
        all(Struct(GROUP_ASSIGNMENT)).named("assignment"),
        all(Struct(GROUP_ASSIGNMENT)).named("target_assignment"),
        since(1, I8), // member_type
    ]))
    .named("members"),
    all(I32), // authorized_operations
];

/// One described group of ShareGroupDescribe's response (also `responses::SHARE_GROUP_DESCRIBE_RESPONSE_GROUPS`).
pub(crate) static SHARE_GROUP_DESCRIBE_GROUP: &[Field] = &[
    all(I16), // error_code
    all(Str), // error_message
    all(Str).named("group_id"),
    all(Str), // group_state
    all(I32), // group_epoch
    all(I32), // assignment_epoch
    all(Str), // assignor_name
    all(Structs(&[
        all(Str),  // member_id
        all(Str),  // rack_id
        all(I32),  // member_epoch
        all(Str),  // client_id
        all(Str),  // client_host
        all(Strs), // subscribed_topic_names
        all(Struct(GROUP_ASSIGNMENT)).named("assignment"),
    ]))
    .named("members"),
    all(I32), // authorized_operations
];

pub(crate) static CONSUMER_GROUP_DESCRIBE_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(I32)], // throttle_time_ms
    entry: CONSUMER_GROUP_DESCRIBE_GROUP,
    key: 2,
    after: &[],
    authorized_operations: Some(8),
};

pub(crate) static SHARE_GROUP_DESCRIBE_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(I32)], // throttle_time_ms
    entry: SHARE_GROUP_DESCRIBE_GROUP,
    key: 2,
    after: &[],
    authorized_operations: Some(8),
};

/// The topics named in one described group's member assignments (and, for consumer groups, target
/// assignments), each once, as Kafka collects them to check Describe (`entry`: the group's bytes).
pub(crate) fn described_group_topics<'a>(
    listing: &Listing,
    version: i16,
    entry: &'a [u8],
) -> Result<Vec<&'a str>, String> {
    let mut r = Reader::new(entry, entry.len());
    let mut node = Node::default();
    walk_struct(&mut r, listing.entry, version, version >= listing.flexible_from, Some((&mut node, Keep::All)))
        .map_err(stop_reason)?;
    let mut topics = Vec::new();
    for member in node.nodes("members") {
        for assignment in ["assignment", "target_assignment"].iter().filter_map(|a| member.child(a)) {
            for topic in assignment.nodes("topic_partitions") {
                // A few distinct topics, repeated across members: a linear check (a sort costs the module 10 KB).
                let name = topic.str("topic_name").unwrap_or_default();
                if !topics.contains(&name) {
                    topics.push(name);
                }
            }
        }
    }
    Ok(topics)
}

//! Request layouts, one per API the filter reads.

use kafka_protocol::messages::ApiKey;

use super::Ty::*;
use super::{all, between, since, until, Field, Shape, I32S, I64S};

/// Produce for splitting (classification walks Produce from a prefix, see `walk_produce`).
pub(crate) static PRODUCE: Shape = Shape {
    flexible_from: 9,
    fields: &[
        since(3, Str), // transactional_id
        all(I16),      // acks
        all(I32),      // timeout_ms
        all(Structs(&[
            until(12, Str).named("name"),
            since(13, Uuid).named("topic_id"),
            all(Structs(&[all(I32), all(Bytes)])),
        ]))
        .named("topic_data"),
    ],
};

pub(crate) static FETCH: Shape = Shape {
    flexible_from: 12,
    fields: &[
        until(14, I32).named("replica_id"),
        all(I32),      // max_wait_ms
        all(I32),      // min_bytes
        since(3, I32), // max_bytes
        since(4, I8),  // isolation_level
        since(7, I32), // session_id
        since(7, I32), // session_epoch
        all(Structs(&[
            until(12, Str).named("topic"),
            since(13, Uuid).named("topic_id"),
            all(Structs(&[
                all(I32).answer("partition"),
                since(9, I32),  // current_leader_epoch
                all(I64),       // fetch_offset
                since(12, I32), // last_fetched_epoch
                since(5, I64),  // log_start_offset
                all(I32),       // partition_max_bytes
            ]))
            .answer("partitions"),
        ]))
        .named("topics"),
        since(7, Structs(&[between(7, 12, Str), since(13, Uuid), since(7, I32S)])), // forgotten_topics_data
        since(11, Str),                                                             // rack_id
    ],
};

/// Topics of (name, partitions (partition_index, ...)): the per-partition layout differs per API.
macro_rules! named_topics {
    ($($partition:expr),* $(,)?) => {
        Structs(&[all(Str).named("name"), all(Structs(&[$($partition),*])).answer("partitions")])
    };
}

pub(crate) static LIST_OFFSETS: Shape = Shape {
    flexible_from: 6,
    fields: &[
        all(I32),     // replica_id
        since(2, I8), // isolation_level
        // partition_index, current_leader_epoch, timestamp, max_num_offsets
        all(named_topics!(all(I32).answer("partition_index"), since(4, I32), all(I64), until(0, I32))).named("topics"),
        since(10, I32), // timeout_ms
    ],
};

pub(crate) static METADATA: Shape = Shape {
    flexible_from: 9,
    fields: &[
        all(Structs(&[since(10, Uuid).named("topic_id"), all(Str).named("name")])).named("topics"),
        since(4, Bool).named("allow_auto_topic_creation"),
        between(8, 10, Bool), // include_cluster_authorized_operations
        since(8, Bool),       // include_topic_authorized_operations
    ],
};

pub(crate) static OFFSET_COMMIT: Shape = Shape {
    flexible_from: 8,
    fields: &[
        all(Str).named("group_id"),
        since(1, I32),      // generation_id_or_member_epoch
        since(1, Str),      // member_id
        since(7, Str),      // group_instance_id
        between(2, 4, I64), // retention_time_ms
        all(Structs(&[
            until(9, Str).named("name"),
            since(10, Uuid),
            // partition_index, committed_offset, committed_leader_epoch, commit_timestamp, committed_metadata
            all(Structs(&[all(I32).answer("partition_index"), all(I64), since(6, I32), until(1, I64), all(Str)]))
                .answer("partitions"),
        ]))
        .named("topics"),
    ],
};

/// OffsetFetch's topics: name, partition_indexes.
pub(crate) static OFFSET_FETCH_REQUEST_TOPIC: &[Field] =
    &[all(Str).named("name"), all(I32S).answer("partition_indexes")];

pub(crate) static OFFSET_FETCH: Shape = Shape {
    flexible_from: 6,
    fields: &[
        until(7, Str).named("group_id"),
        until(7, Structs(OFFSET_FETCH_REQUEST_TOPIC)).named("topics"),
        since(
            8,
            Structs(&[
                all(Str).named("group_id"),
                since(9, Str), // member_id
                since(9, I32), // member_epoch
                all(Structs(&[until(9, Str).named("name"), since(10, Uuid), all(I32S).answer("partition_indexes")]))
                    .named("topics"),
            ]),
        )
        .named("groups"),
        since(7, Bool), // require_stable
    ],
};

pub(crate) static FIND_COORDINATOR: Shape = Shape {
    flexible_from: 3,
    fields: &[until(3, Str).named("key"), since(1, I8).named("key_type"), since(4, Strs).named("coordinator_keys")],
};

pub(crate) static JOIN_GROUP: Shape = Shape {
    flexible_from: 6,
    fields: &[
        all(Str).named("group_id"),
        all(I32),      // session_timeout_ms
        since(1, I32), // rebalance_timeout_ms
        all(Str).answer("member_id"),
        since(5, Str), // group_instance_id
        all(Str),      // protocol_type
        all(Structs(&[all(Str), all(Bytes)])),
        since(8, Str), // reason
    ],
};

pub(crate) static HEARTBEAT: Shape =
    Shape { flexible_from: 4, fields: &[all(Str).named("group_id"), all(I32), all(Str), since(3, Str)] };

pub(crate) static LEAVE_GROUP: Shape = Shape {
    flexible_from: 4,
    fields: &[all(Str).named("group_id"), until(2, Str), since(3, Structs(&[all(Str), all(Str), since(5, Str)]))],
};

pub(crate) static SYNC_GROUP: Shape = Shape {
    flexible_from: 4,
    fields: &[
        all(Str).named("group_id"),
        all(I32),      // generation_id
        all(Str),      // member_id
        since(3, Str), // group_instance_id
        since(5, Str), // protocol_type
        since(5, Str), // protocol_name
        all(Structs(&[all(Str), all(Bytes)])),
    ],
};

pub(crate) static DESCRIBE_GROUPS: Shape =
    Shape { flexible_from: 5, fields: &[all(Strs).named("groups"), since(3, Bool)] };

pub(crate) static LIST_GROUPS: Shape = Shape { flexible_from: 3, fields: &[since(4, Strs), since(5, Strs)] };

pub(crate) static CREATE_TOPICS: Shape = Shape {
    flexible_from: 5,
    fields: &[
        all(Structs(&[
            all(Str).named("name"),
            all(I32), // num_partitions
            all(I16), // replication_factor
            all(Structs(&[all(I32), all(I32S)])),
            all(Structs(&[all(Str), all(Str)])),
        ]))
        .named("topics"),
        all(I32),       // timeout_ms
        since(1, Bool), // validate_only
    ],
};

pub(crate) static DELETE_TOPICS: Shape = Shape {
    flexible_from: 4,
    fields: &[
        since(6, Structs(&[all(Str).named("name"), all(Uuid).named("topic_id")])).named("topics"),
        until(5, Strs).named("topic_names"),
        all(I32), // timeout_ms
    ],
};

pub(crate) static DELETE_RECORDS: Shape = Shape {
    flexible_from: 2,
    fields: &[all(named_topics!(all(I32).answer("partition_index"), all(I64))).named("topics"), all(I32)],
};

/// ElectLeaders: read only to answer a denied one per partition (its check is Alter on the cluster).
pub(crate) static ELECT_LEADERS: Shape = Shape {
    flexible_from: 2,
    fields: &[
        since(1, I8), // election_type
        all(Structs(&[all(Str).named("topic"), all(I32S).answer("partitions")])).named("topic_partitions"),
        all(I32), // timeout_ms
    ],
};

pub(crate) static INIT_PRODUCER_ID: Shape = Shape {
    flexible_from: 2,
    fields: &[
        all(Str).named("transactional_id"),
        all(I32),
        since(3, I64),
        since(3, I16),
        since(6, Bool),
        since(6, Bool),
    ],
};

pub(crate) static OFFSET_FOR_LEADER_EPOCH: Shape = Shape {
    flexible_from: 4,
    fields: &[
        since(3, I32).named("replica_id"),
        all(Structs(&[
            all(Str).named("topic"),
            // partition, current_leader_epoch, leader_epoch
            all(Structs(&[all(I32).answer("partition"), since(2, I32), all(I32)])).answer("partitions"),
        ]))
        .named("topics"),
    ],
};

/// AddPartitionsToTxn's topics: name, partitions (indexes).
pub(crate) static TXN_TOPIC: &[Field] = &[all(Str).named("name"), all(I32S).answer("partitions")];

pub(crate) static ADD_PARTITIONS_TO_TXN: Shape = Shape {
    flexible_from: 3,
    fields: &[
        since(4, Structs(&[all(Str), all(I64), all(I16), all(Bool), all(Structs(TXN_TOPIC))])),
        until(3, Str).named("v3_and_below_transactional_id"),
        until(3, I64),
        until(3, I16),
        until(3, Structs(TXN_TOPIC)).named("v3_and_below_topics"),
    ],
};

pub(crate) static ADD_OFFSETS_TO_TXN: Shape = Shape {
    flexible_from: 3,
    fields: &[all(Str).named("transactional_id"), all(I64), all(I16), all(Str).named("group_id")],
};

pub(crate) static END_TXN: Shape =
    Shape { flexible_from: 3, fields: &[all(Str).named("transactional_id"), all(I64), all(I16), all(Bool)] };

pub(crate) static TXN_OFFSET_COMMIT: Shape = Shape {
    flexible_from: 3,
    fields: &[
        all(Str).named("transactional_id"),
        all(Str).named("group_id"),
        all(I64),
        all(I16),
        since(3, I32), // generation_id
        since(3, Str), // member_id
        since(3, Str), // group_instance_id
        all(named_topics!(all(I32).answer("partition_index"), all(I64), since(2, I32), all(Str))).named("topics"),
    ],
};

pub(crate) static ACL_FILTER: &[Field] = &[all(I8), all(Str), since(1, I8), all(Str), all(Str), all(I8), all(I8)];

pub(crate) static DESCRIBE_ACLS: Shape = Shape { flexible_from: 2, fields: ACL_FILTER };

pub(crate) static CREATE_ACLS: Shape =
    Shape { flexible_from: 2, fields: &[all(Structs(ACL_FILTER)).answer("creations")] };

pub(crate) static DELETE_ACLS: Shape =
    Shape { flexible_from: 2, fields: &[all(Structs(ACL_FILTER)).answer("filters")] };

/// Config resources: resource_type, resource_name, then the API's own fields.
macro_rules! config_resources {
    ($rest:expr) => {
        all(Structs(&[all(I8).named("resource_type"), all(Str).named("resource_name"), $rest])).named("resources")
    };
}

pub(crate) static DESCRIBE_CONFIGS: Shape =
    Shape { flexible_from: 4, fields: &[config_resources!(all(Strs)), since(1, Bool), since(3, Bool)] };

pub(crate) static ALTER_CONFIGS: Shape =
    Shape { flexible_from: 2, fields: &[config_resources!(all(Structs(&[all(Str), all(Str)]))), all(Bool)] };

pub(crate) static INCREMENTAL_ALTER_CONFIGS: Shape =
    Shape { flexible_from: 1, fields: &[config_resources!(all(Structs(&[all(Str), all(I8), all(Str)]))), all(Bool)] };

pub(crate) static CREATE_PARTITIONS: Shape = Shape {
    flexible_from: 2,
    fields: &[
        all(Structs(&[all(Str).named("name"), all(I32), all(Structs(&[all(I32S)]))])).named("topics"),
        all(I32),
        all(Bool),
    ],
};

pub(crate) static DELETE_GROUPS: Shape = Shape { flexible_from: 2, fields: &[all(Strs).named("groups_names")] };

pub(crate) static OFFSET_DELETE: Shape = Shape {
    flexible_from: i16::MAX,
    fields: &[all(Str).named("group_id"), all(named_topics!(all(I32).answer("partition_index"))).named("topics")],
};

pub(crate) static DESCRIBE_CLUSTER: Shape =
    Shape { flexible_from: 0, fields: &[all(Bool), since(1, I8), since(2, Bool)] };

pub(crate) static DESCRIBE_PRODUCERS: Shape = Shape {
    flexible_from: 0,
    fields: &[all(Structs(&[all(Str).named("name"), all(I32S).answer("partition_indexes")])).named("topics")],
};

pub(crate) static DESCRIBE_TRANSACTIONS: Shape =
    Shape { flexible_from: 0, fields: &[all(Strs).named("transactional_ids")] };

pub(crate) static LIST_TRANSACTIONS: Shape =
    Shape { flexible_from: 0, fields: &[all(Strs), all(I64S), since(1, I64), since(2, Str)] };

pub(crate) static CONSUMER_GROUP_DESCRIBE: Shape =
    Shape { flexible_from: 0, fields: &[all(Strs).named("group_ids"), all(Bool)] };

/// ConsumerGroupHeartbeat: subscribed topics by name (null: unchanged), and from v1 a regex (null: unchanged,
/// empty: none); the owned partitions are by topic id and not authorized by Kafka.
pub(crate) static CONSUMER_GROUP_HEARTBEAT: Shape = Shape {
    flexible_from: 0,
    fields: &[
        all(Str).named("group_id"),
        all(Str).named("member_id"),
        all(I32), // member_epoch
        all(Str), // instance_id
        all(Str), // rack_id
        all(I32), // rebalance_timeout_ms
        all(Strs).named("subscribed_topic_names"),
        since(1, Str).named("subscribed_topic_regex"),
        all(Str),                              // server_assignor
        all(Structs(&[all(Uuid), all(I32S)])), // topic_partitions
    ],
};

/// ShareGroupHeartbeat (v1; v0 was Kafka 4.0's early access).
pub(crate) static SHARE_GROUP_HEARTBEAT: Shape = Shape {
    flexible_from: 0,
    fields: &[
        all(Str).named("group_id"),
        all(Str).named("member_id"),
        all(I32), // member_epoch
        all(Str), // rack_id
        all(Strs).named("subscribed_topic_names"),
    ],
};

pub(crate) static SHARE_GROUP_DESCRIBE: Shape =
    Shape { flexible_from: 0, fields: &[all(Strs).named("group_ids"), all(Bool)] };

/// Share groups' acknowledgement batches: first_offset, last_offset, acknowledge_types.
const ACKNOWLEDGEMENT_BATCHES: super::Ty = Structs(&[all(I64), all(I64), all(Fixed(1))]);

/// ShareFetch (v1; v0 was Kafka 4.0's early access): topics by id, each partition with the acknowledgements
/// it piggybacks.
pub(crate) static SHARE_FETCH: Shape = Shape {
    flexible_from: 0,
    fields: &[
        all(Str).named("group_id"),
        all(Str).named("member_id"),
        all(I32).named("share_session_epoch"),
        all(I32), // max_wait_ms
        all(I32), // min_bytes
        all(I32), // max_bytes
        all(I32), // max_records
        all(I32), // batch_size
        all(Structs(&[
            all(Uuid).named("topic_id"),
            all(Structs(&[
                all(I32).answer("partition_index"),
                all(ACKNOWLEDGEMENT_BATCHES).answer("acknowledgement_batches"),
            ]))
            .answer("partitions"),
        ]))
        .named("topics"),
        all(Structs(&[all(Uuid), all(I32S)])), // forgotten_topics_data
    ],
};

/// ShareAcknowledge (v1): topics by id.
pub(crate) static SHARE_ACKNOWLEDGE: Shape = Shape {
    flexible_from: 0,
    fields: &[
        all(Str).named("group_id"),
        all(Str).named("member_id"),
        all(I32).named("share_session_epoch"),
        all(Structs(&[
            all(Uuid).named("topic_id"),
            all(Structs(&[all(I32).answer("partition_index"), all(ACKNOWLEDGEMENT_BATCHES)])).answer("partitions"),
        ]))
        .named("topics"),
    ],
};

/// DescribeShareGroupOffsets (v0): per group, its topics by name (null: all).
pub(crate) static DESCRIBE_SHARE_GROUP_OFFSETS: Shape = Shape {
    flexible_from: 0,
    fields: &[all(Structs(&[
        all(Str).named("group_id"),
        all(Structs(&[all(Str).named("topic_name"), all(I32S).answer("partitions")])).named("topics"),
    ]))
    .named("groups")],
};

/// AlterShareGroupOffsets (v0): one group, topics by name with (partition_index, start_offset).
pub(crate) static ALTER_SHARE_GROUP_OFFSETS: Shape = Shape {
    flexible_from: 0,
    fields: &[
        all(Str).named("group_id"),
        all(Structs(&[
            all(Str).named("topic_name"),
            all(Structs(&[all(I32).answer("partition_index"), all(I64)])).answer("partitions"),
        ]))
        .named("topics"),
    ],
};

/// DeleteShareGroupOffsets (v0): one group, topics by name.
pub(crate) static DELETE_SHARE_GROUP_OFFSETS: Shape = Shape {
    flexible_from: 0,
    fields: &[all(Str).named("group_id"), all(Structs(&[all(Str).named("topic_name")])).named("topics")],
};

/// DescribeTopicPartitions' cursor (request and response): topic_name, partition_index.
pub(crate) static DTP_CURSOR: &[Field] = &[all(Str), all(I32)];

pub(crate) static DESCRIBE_TOPIC_PARTITIONS: Shape = Shape {
    flexible_from: 0,
    fields: &[all(Structs(&[all(Str).named("name")])).named("topics"), all(I32), all(Opt(DTP_CURSOR))],
};

/// The layout the shape check uses for an API; `None` for APIs the filter never decodes.
pub(crate) fn shape(key: ApiKey) -> Option<&'static Shape> {
    Some(match key {
        ApiKey::Produce => &PRODUCE,
        ApiKey::Fetch => &FETCH,
        ApiKey::ListOffsets => &LIST_OFFSETS,
        ApiKey::Metadata => &METADATA,
        ApiKey::OffsetCommit => &OFFSET_COMMIT,
        ApiKey::OffsetFetch => &OFFSET_FETCH,
        ApiKey::FindCoordinator => &FIND_COORDINATOR,
        ApiKey::JoinGroup => &JOIN_GROUP,
        ApiKey::Heartbeat => &HEARTBEAT,
        ApiKey::LeaveGroup => &LEAVE_GROUP,
        ApiKey::SyncGroup => &SYNC_GROUP,
        ApiKey::DescribeGroups => &DESCRIBE_GROUPS,
        ApiKey::ListGroups => &LIST_GROUPS,
        ApiKey::CreateTopics => &CREATE_TOPICS,
        ApiKey::DeleteTopics => &DELETE_TOPICS,
        ApiKey::DeleteRecords => &DELETE_RECORDS,
        ApiKey::InitProducerId => &INIT_PRODUCER_ID,
        ApiKey::OffsetForLeaderEpoch => &OFFSET_FOR_LEADER_EPOCH,
        ApiKey::AddPartitionsToTxn => &ADD_PARTITIONS_TO_TXN,
        ApiKey::AddOffsetsToTxn => &ADD_OFFSETS_TO_TXN,
        ApiKey::EndTxn => &END_TXN,
        ApiKey::TxnOffsetCommit => &TXN_OFFSET_COMMIT,
        ApiKey::DescribeAcls => &DESCRIBE_ACLS,
        ApiKey::CreateAcls => &CREATE_ACLS,
        ApiKey::DeleteAcls => &DELETE_ACLS,
        ApiKey::DescribeConfigs => &DESCRIBE_CONFIGS,
        ApiKey::AlterConfigs => &ALTER_CONFIGS,
        ApiKey::IncrementalAlterConfigs => &INCREMENTAL_ALTER_CONFIGS,
        ApiKey::CreatePartitions => &CREATE_PARTITIONS,
        ApiKey::ElectLeaders => &ELECT_LEADERS,
        ApiKey::DeleteGroups => &DELETE_GROUPS,
        ApiKey::OffsetDelete => &OFFSET_DELETE,
        ApiKey::DescribeCluster => &DESCRIBE_CLUSTER,
        ApiKey::DescribeProducers => &DESCRIBE_PRODUCERS,
        ApiKey::DescribeTransactions => &DESCRIBE_TRANSACTIONS,
        ApiKey::ListTransactions => &LIST_TRANSACTIONS,
        ApiKey::ConsumerGroupHeartbeat => &CONSUMER_GROUP_HEARTBEAT,
        ApiKey::ConsumerGroupDescribe => &CONSUMER_GROUP_DESCRIBE,
        ApiKey::ShareGroupHeartbeat => &SHARE_GROUP_HEARTBEAT,
        ApiKey::ShareGroupDescribe => &SHARE_GROUP_DESCRIBE,
        ApiKey::DescribeTopicPartitions => &DESCRIBE_TOPIC_PARTITIONS,
        ApiKey::ShareFetch => &SHARE_FETCH,
        ApiKey::ShareAcknowledge => &SHARE_ACKNOWLEDGE,
        ApiKey::DescribeShareGroupOffsets => &DESCRIBE_SHARE_GROUP_OFFSETS,
        ApiKey::AlterShareGroupOffsets => &ALTER_SHARE_GROUP_OFFSETS,
        ApiKey::DeleteShareGroupOffsets => &DELETE_SHARE_GROUP_OFFSETS,
        _ => return None,
    })
}

//! The error response of every API, as data: per API key, the response fields by version, read like Kafka's
//! message JSON (`since(2, THROTTLE)` is `"versions": "2+"`). One interpreter (`writer::write`) walks these
//! rows over the parsed request. The row vocabulary follows the request layouts (`protocol::layout`).
//!
//! What Kafka writes for a denied request: the request's names and indexes echoed, an error code per element
//! (`Code`, from the caller's verdicts), -1 offsets and ids, null or empty strings, empty arrays, throttle 0.
//! Where Kafka's answer is logic rather than shape (a follower's Fetch, AddPartitionsToTxn's
//! OPERATION_NOT_ATTEMPTED, config resources, heartbeats, ShareFetch's acknowledgements), a row names a small
//! hook (`hooks`).
//!
//! To answer a new API: one `static` [`Answer`] of rows below (the share groups' in `shapes/share.rs`), one arm
//! in [`answer`]; the oracle test (`oracle.rs`) then checks it byte for byte against kafka-protocol's encoding
//! at every version.

use kafka_protocol::messages::ApiKey;

use super::hooks::{
    asked_id, config_code, consumer_heartbeat_code, coordinator, follower_or_topic, not_attempted, produce,
    share_heartbeat_code, txn_or_cluster,
};
use super::writer::{all, between, since, until, Answer, Code, Put, Row};
use super::{CREATE_TOPICS_REFUSED, NO_AUTHORIZED_OPERATIONS};
use crate::protocol::error_code::NONE;
use Code::{Cluster, First, Group, Root, Topic, Txn, Up};
use Put::*;

mod share;
pub(super) use share::SHARE_FETCH;
use share::{ALTER_SHARE_GROUP_OFFSETS, DELETE_SHARE_GROUP_OFFSETS, DESCRIBE_SHARE_GROUP_OFFSETS, SHARE_ACKNOWLEDGE};

/// throttle_time_ms
const THROTTLE: Put = I32(0);
/// authorized_operations: not requested / not known
const NO_OPS: Put = I32(NO_AUTHORIZED_OPERATIONS);
/// Kafka's message for CLUSTER_AUTHORIZATION_FAILED (`Errors`), which ApiError gives when it has no other.
const CLUSTER_AUTHORIZATION_FAILED_MESSAGE: &str = "Cluster authorization failed.";

const fn read(code: Code, rows: &'static [Row]) -> Answer {
    Answer { read: true, code, rows }
}
/// Cluster-level APIs: one code for the cluster, the request unread.
const fn cluster(rows: &'static [Row]) -> Answer {
    Answer { read: false, code: Cluster, rows }
}

// Topic data and metadata.

/// Produce is read by the classifier's walker, not by a layout.
static PRODUCE: Answer = Answer { read: false, code: Code::None, rows: &[all(Hook(produce))] };

static FETCH: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        since(7, I16(NONE)), // error_code: the errors are per partition, as in Kafka
        since(7, I32(0)),    // session_id
        all(Each(
            "topics",
            Code::Hook(follower_or_topic),
            &[
                until(12, Echo("topic")),
                since(13, EchoId("topic_id")),
                all(Each(
                    "partitions",
                    Up,
                    &[
                        all(EchoI32("partition")),
                        all(ErrorCode),
                        all(I64(-1)),       // high_watermark
                        all(I64(-1)),       // last_stable_offset
                        since(5, I64(-1)),  // log_start_offset
                        all(NullArray),     // aborted_transactions
                        since(11, I32(-1)), // preferred_read_replica
                        all(EmptyBytes),    // records
                    ],
                )),
            ],
        )),
    ],
);

static LIST_OFFSETS: Answer = read(
    Code::None,
    &[
        since(2, THROTTLE),
        all(Each(
            "topics",
            Topic("name"),
            &[
                all(Echo("name")),
                all(Each(
                    "partitions",
                    Up,
                    &[
                        all(EchoI32("partition_index")),
                        all(ErrorCode),
                        all(I64(-1)),      // timestamp
                        all(I64(-1)),      // offset
                        since(4, I32(-1)), // leader_epoch
                    ],
                )),
            ],
        )),
    ],
);

/// A topic answered with its code and nothing else: no partitions, the zero id, no authorized operations (as
/// Kafka answers a topic the principal may not Describe). Also the filter's entries in a broker's answer.
pub(super) static METADATA_TOPIC: &[Row] = &[
    all(ErrorCode),
    all(Required("name", "Metadata topic addressed by id")),
    since(10, ZeroUuid),   // topic_id
    since(1, Bool(false)), // is_internal
    all(Empty),            // partitions
    since(8, NO_OPS),
];

static METADATA: Answer = read(
    Code::None,
    &[
        since(3, THROTTLE),
        all(Empty),        // brokers
        since(2, NullStr), // cluster_id
        since(1, I32(-1)), // controller_id
        all(Each("topics", Topic("name"), METADATA_TOPIC)),
        between(8, 10, NO_OPS), // cluster_authorized_operations
        since(13, I16(NONE)),
    ],
);

static DELETE_RECORDS: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        all(Each(
            "topics",
            Topic("name"),
            &[
                all(Echo("name")),
                all(Each(
                    "partitions",
                    Up,
                    &[all(EchoI32("partition_index")), all(I64(-1)), all(ErrorCode)], // low_watermark
                )),
            ],
        )),
    ],
);

static OFFSET_FOR_LEADER_EPOCH: Answer = read(
    Code::None,
    &[
        since(2, THROTTLE),
        all(Each(
            "topics",
            Code::Hook(follower_or_topic),
            &[
                all(Echo("topic")),
                all(Each(
                    "partitions",
                    Up,
                    &[
                        all(ErrorCode),
                        all(EchoI32("partition")),
                        since(1, I32(-1)), // leader_epoch
                        all(I64(-1)),      // end_offset
                    ],
                )),
            ],
        )),
    ],
);

static DESCRIBE_PRODUCERS: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        all(Each(
            "topics",
            Topic("name"),
            &[
                all(Echo("name")),
                all(Each(
                    "partition_indexes",
                    Up,
                    &[all(EchoI32("")), all(ErrorCode), all(NullStr), all(Empty)], // error_message, active_producers
                )),
            ],
        )),
    ],
);

/// Kafka answers a topic the principal may not Describe with no partitions and the zero id. Also the filter's
/// entries in a broker's answer.
pub(super) static DESCRIBE_TOPIC_PARTITIONS_TOPIC: &[Row] = &[
    all(ErrorCode),
    all(Echo("name")),
    all(ZeroUuid),
    all(Bool(false)), // is_internal
    all(Empty),       // partitions
    all(NO_OPS),
];

static DESCRIBE_TOPIC_PARTITIONS: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        all(Each("topics", Topic("name"), DESCRIBE_TOPIC_PARTITIONS_TOPIC)),
        all(I8(-1)), // next_cursor: null
    ],
);

// Consumer groups.

/// A topic of a group's offsets, its code the group's error or else the topic's.
static GROUP_TOPIC: &[Row] =
    &[all(Echo("name")), all(Each("partitions", Up, &[all(EchoI32("partition_index")), all(ErrorCode)]))];

static OFFSET_COMMIT: Answer =
    read(Group("group_id"), &[since(3, THROTTLE), all(Each("topics", First(&[Up, Topic("name")]), GROUP_TOPIC))]);

static OFFSET_FETCH_TOPIC: &[Row] = &[
    all(Echo("name")),
    all(Each(
        "partition_indexes",
        Up,
        &[
            all(EchoI32("")),
            all(I64(-1)),      // committed_offset
            since(5, I32(-1)), // committed_leader_epoch
            all(Str("")),      // metadata
            all(ErrorCode),
        ],
    )),
];

/// A refused group fails the request at top level (v2+) with no topics, as Kafka does; v8+ per group.
static OFFSET_FETCH: Answer = read(
    Group("group_id"),
    &[
        since(3, THROTTLE),
        until(1, Each("topics", First(&[Up, Topic("name")]), OFFSET_FETCH_TOPIC)),
        between(2, 7, EachIfAllowed("topics", First(&[Up, Topic("name")]), OFFSET_FETCH_TOPIC)),
        between(2, 7, ErrorCode),
        since(
            8,
            Each(
                "groups",
                Group("group_id"),
                &[
                    all(Echo("group_id")),
                    all(EachIfAllowed("topics", Topic("name"), OFFSET_FETCH_TOPIC)),
                    all(ErrorCode),
                ],
            ),
        ),
    ],
);

/// v0-3 one key, v4+ a batch of keys (each answered).
static FIND_COORDINATOR: Answer = read(
    Code::Hook(coordinator),
    &[
        since(1, THROTTLE),
        until(3, ErrorCode),
        between(1, 3, Str("")), // error_message
        until(3, I32(-1)),      // node_id
        until(3, Str("")),      // host
        until(3, I32(-1)),      // port
        since(
            4,
            Each(
                "coordinator_keys",
                Code::Hook(coordinator),
                &[all(Echo("")), all(I32(-1)), all(Str("")), all(I32(-1)), all(ErrorCode), all(NullStr)],
            ),
        ),
    ],
);

static JOIN_GROUP: Answer = read(
    Group("group_id"),
    &[
        since(2, THROTTLE),
        all(ErrorCode),
        all(I32(-1)),          // generation_id
        since(7, NullStr),     // protocol_type
        since(7, NullStr),     // protocol_name (nullable from v7)
        until(6, Str("")),     // protocol_name
        all(Str("")),          // leader
        since(9, Bool(false)), // skip_assignment
        all(Echo("member_id")),
        all(Empty), // members
    ],
);

static HEARTBEAT: Answer = read(Group("group_id"), &[since(1, THROTTLE), all(ErrorCode)]);

static LEAVE_GROUP: Answer = read(Group("group_id"), &[since(1, THROTTLE), all(ErrorCode), since(3, Empty)]); // members

static SYNC_GROUP: Answer = read(
    Group("group_id"),
    &[
        since(1, THROTTLE),
        all(ErrorCode),
        since(5, NullStr), // protocol_type
        since(5, NullStr), // protocol_name
        all(EmptyBytes),   // assignment
    ],
);

static DESCRIBE_GROUPS: Answer = read(
    Code::None,
    &[
        since(1, THROTTLE),
        all(Each(
            "groups",
            Group(""),
            &[
                all(ErrorCode),
                since(6, NullStr), // error_message
                all(Echo("")),
                all(Str("")), // group_state
                all(Str("")), // protocol_type
                all(Str("")), // protocol_data
                all(Empty),   // members
                since(3, NO_OPS),
            ],
        )),
    ],
);

/// Kafka answers a principal that may describe no group with an empty listing, not an error.
static LIST_GROUPS: Answer = read(Code::None, &[since(1, THROTTLE), all(I16(NONE)), all(Empty)]);

static DELETE_GROUPS: Answer =
    read(Code::None, &[all(THROTTLE), all(Each("groups_names", Group(""), &[all(Echo("")), all(ErrorCode)]))]);

/// A refused group fails the whole request (top level); otherwise partitions carry topic errors.
static OFFSET_DELETE: Answer =
    read(Group("group_id"), &[all(ErrorCode), all(THROTTLE), all(EachIfAllowed("topics", Topic("name"), GROUP_TOPIC))]);

/// Kafka's `getErrorResponse`: no member id, epoch 0, no assignment.
pub(super) static HEARTBEAT_ANSWER: &[Row] = &[
    all(THROTTLE),
    all(ErrorCode),
    all(Message),
    all(NullStr), // member_id
    all(I32(0)),  // member_epoch
    all(I32(0)),  // heartbeat_interval_ms
    all(I8(-1)),  // assignment: null
];

static CONSUMER_GROUP_HEARTBEAT: Answer = read(Code::Hook(consumer_heartbeat_code), HEARTBEAT_ANSWER);
static SHARE_GROUP_HEARTBEAT: Answer = read(Code::Hook(share_heartbeat_code), HEARTBEAT_ANSWER);

/// A described consumer or share group: a refused one has no members.
pub(super) static DESCRIBED_GROUP: &[Row] = &[
    all(ErrorCode),
    all(Message),
    all(Echo("")),
    all(Str("")), // group_state
    all(I32(0)),  // group_epoch
    all(I32(0)),  // assignment_epoch
    all(Str("")), // assignor_name
    all(Empty),   // members
    all(NO_OPS),
];

static GROUP_DESCRIBE: Answer = read(Code::None, &[all(THROTTLE), all(Each("group_ids", Group(""), DESCRIBED_GROUP))]);

// Transactions.

static INIT_PRODUCER_ID: Answer = read(
    Code::Hook(txn_or_cluster),
    &[all(THROTTLE), all(ErrorCode), all(I64(-1)), all(I16(-1))], // producer_id, producer_epoch
);

/// Partitions not at fault get OPERATION_NOT_ATTEMPTED when any was refused (the request's code).
static ADD_PARTITIONS_TO_TXN: Answer = read(
    Code::Hook(not_attempted),
    &[
        all(THROTTLE),
        all(Each(
            "v3_and_below_topics",
            First(&[Root(&Txn("v3_and_below_transactional_id")), Topic("name"), Up]),
            &[all(Echo("name")), all(Each("partitions", Up, &[all(EchoI32("")), all(ErrorCode)]))],
        )),
    ],
);

static ADD_OFFSETS_TO_TXN: Answer =
    read(First(&[Txn("transactional_id"), Group("group_id")]), &[all(THROTTLE), all(ErrorCode)]);

static END_TXN: Answer = read(
    Txn("transactional_id"),
    &[all(THROTTLE), all(ErrorCode), since(5, I64(-1)), since(5, I16(-1))], // producer_id, producer_epoch
);

static TXN_OFFSET_COMMIT: Answer = read(
    First(&[Txn("transactional_id"), Group("group_id")]),
    &[all(THROTTLE), all(Each("topics", First(&[Up, Topic("name")]), GROUP_TOPIC))],
);

static DESCRIBE_TRANSACTIONS: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        all(Each(
            "transactional_ids",
            Txn(""),
            &[
                all(ErrorCode),
                all(Echo("")),
                all(Str("")), // transaction_state
                all(I32(0)),  // transaction_timeout_ms
                all(I64(-1)), // transaction_start_time_ms
                all(I64(0)),  // producer_id: 0, as Kafka leaves a refused entry's
                all(I16(0)),  // producer_epoch
                all(Empty),   // topics
            ],
        )),
    ],
);

/// Like ListGroups: Kafka shows a principal nothing it may not describe, without an error.
static LIST_TRANSACTIONS: Answer = read(
    Code::None,
    &[all(THROTTLE), all(I16(NONE)), all(Empty), all(Empty)], // unknown_state_filters, transaction_states
);

// Administration.

static CREATE_TOPICS: Answer = read(
    Code::None,
    &[
        since(2, THROTTLE),
        all(Each(
            "topics",
            Topic("name"),
            &[
                all(Echo("name")),
                since(7, ZeroUuid),
                all(ErrorCode),
                // Kafka's own words for a refused topic (KafkaApis.handleCreateTopicsRequest).
                since(1, RefusedMessage(CREATE_TOPICS_REFUSED)),
                since(5, I32(-1)), // num_partitions
                since(5, I16(-1)), // replication_factor
                since(5, Empty),   // configs
            ],
        )),
    ],
);

/// v6 names a topic or gives its id (null name): answered by id, without the name (Kafka shows it to a
/// principal that may Describe the topic; the writer knows only the Delete decision).
static DELETE_TOPICS: Answer = read(
    Code::None,
    &[
        since(1, THROTTLE),
        until(5, Each("topic_names", Topic(""), &[all(Echo("")), all(ErrorCode), since(5, NullStr)])),
        since(
            6,
            Each(
                "topics",
                Topic("name"),
                &[all(EchoNullable("name")), all(Hook(asked_id)), all(ErrorCode), all(NullStr)],
            ),
        ),
    ],
);

static DESCRIBE_ACLS: Answer = read(Cluster, &[all(THROTTLE), all(ErrorCode), all(KafkaMessage), all(Empty)]); // resources

static CREATE_ACLS: Answer =
    read(Code::None, &[all(THROTTLE), all(Each("creations", Cluster, &[all(ErrorCode), all(KafkaMessage)]))]);

static DELETE_ACLS: Answer = read(
    Code::None,
    &[all(THROTTLE), all(Each("filters", Cluster, &[all(ErrorCode), all(KafkaMessage), all(Empty)]))], // matching_acls
);

static DESCRIBE_CONFIGS: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        all(Each(
            "resources",
            Code::Hook(config_code),
            &[all(ErrorCode), all(KafkaMessage), all(EchoI8("resource_type")), all(Echo("resource_name")), all(Empty)],
        )),
    ],
);

static ALTER_CONFIGS: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        all(Each(
            "resources",
            Code::Hook(config_code),
            &[all(ErrorCode), all(Str("")), all(EchoI8("resource_type")), all(Echo("resource_name"))],
        )),
    ],
);

static CREATE_PARTITIONS: Answer = read(
    Code::None,
    &[all(THROTTLE), all(Each("topics", Topic("name"), &[all(Echo("name")), all(ErrorCode), all(NullStr)]))],
);

static DESCRIBE_CLUSTER: Answer = read(
    Cluster,
    &[
        all(THROTTLE),
        all(ErrorCode),
        all(NullStr),    // error_message
        since(1, I8(1)), // endpoint_type: brokers
        all(Str("")),    // cluster_id
        all(I32(-1)),    // controller_id
        all(Empty),      // brokers
        all(NO_OPS),
    ],
);

/// Kafka (ElectLeadersRequest.getErrorResponse) answers every requested partition too; v0 has no top-level
/// error, the partitions carry it.
static ELECT_LEADERS: Answer = read(
    Cluster,
    &[
        all(THROTTLE),
        since(1, ErrorCode),
        all(Each(
            "topic_partitions",
            Up,
            &[
                all(Echo("topic")),
                all(Each(
                    "partitions",
                    Up,
                    &[all(EchoI32("")), all(ErrorCode), all(Str(CLUSTER_AUTHORIZATION_FAILED_MESSAGE))],
                )),
            ],
        )),
    ],
);

// APIs whose only check is on the cluster: one top-level code, the other fields empty.

static DESCRIBE_LOG_DIRS: Answer = cluster(&[all(THROTTLE), since(3, ErrorCode), all(Empty)]); // results
/// throttle, code, error_message, one array (topics, results).
static CODE_MESSAGE_ARRAY: Answer = cluster(&[all(THROTTLE), all(ErrorCode), all(Str("")), all(Empty)]);
static UPDATE_FEATURES: Answer = cluster(&[all(THROTTLE), all(ErrorCode), all(Str("")), until(1, Empty)]); // results
/// entries: null, as Kafka answers a refused request
static DESCRIBE_CLIENT_QUOTAS: Answer = cluster(&[all(THROTTLE), all(ErrorCode), all(Str("")), all(NullArray)]);
static ALTER_PARTITION_REASSIGNMENTS: Answer = cluster(&[
    all(THROTTLE),
    since(1, Bool(true)), // allow_replication_factor_change
    all(ErrorCode),
    all(Str("")), // error_message
    all(Empty),   // responses
]);
static CODE_MESSAGE: Answer = cluster(&[all(THROTTLE), all(ErrorCode), all(Str(""))]);
/// error_message (v2+), topics, nodes (v2+).
static DESCRIBE_QUORUM: Answer = cluster(&[all(ErrorCode), since(2, Str("")), all(Empty), since(2, Empty)]);
static QUORUM_EPOCH: Answer = cluster(&[all(ErrorCode), all(Empty)]); // topics
static ENVELOPE: Answer = cluster(&[all(NullBytes), all(ErrorCode)]); // response_data
static BROKER_REGISTRATION: Answer = cluster(&[all(THROTTLE), all(ErrorCode), all(I64(-1))]); // broker_epoch
static BROKER_HEARTBEAT: Answer = cluster(&[
    all(THROTTLE),
    all(ErrorCode),
    all(Bool(false)), // is_caught_up
    all(Bool(true)),  // is_fenced
    all(Bool(false)), // should_shut_down
]);
/// producer_id_start, producer_id_len: 0.
static ALLOCATE_PRODUCER_IDS: Answer = cluster(&[all(THROTTLE), all(ErrorCode), all(I64(0)), all(I32(0))]);
static UPDATE_RAFT_VOTER: Answer = cluster(&[all(THROTTLE), all(ErrorCode)]);
/// ListConfigResources, AlterPartition, FetchSnapshot, AssignReplicasToDirs: throttle, code, one array.
static CODE_ARRAY: Answer = cluster(&[all(THROTTLE), all(ErrorCode), all(Empty)]);

/// The error response of an API; `None` for the APIs the filter never refuses (handshakes) or refuses unread.
pub(super) fn answer(key: ApiKey) -> Option<&'static Answer> {
    use ApiKey::*;
    Some(match key {
        Produce => &PRODUCE,
        Fetch => &FETCH,
        ListOffsets => &LIST_OFFSETS,
        Metadata => &METADATA,
        DeleteRecords => &DELETE_RECORDS,
        OffsetForLeaderEpoch => &OFFSET_FOR_LEADER_EPOCH,
        DescribeProducers => &DESCRIBE_PRODUCERS,
        DescribeTopicPartitions => &DESCRIBE_TOPIC_PARTITIONS,
        OffsetCommit => &OFFSET_COMMIT,
        OffsetFetch => &OFFSET_FETCH,
        FindCoordinator => &FIND_COORDINATOR,
        JoinGroup => &JOIN_GROUP,
        Heartbeat => &HEARTBEAT,
        LeaveGroup => &LEAVE_GROUP,
        SyncGroup => &SYNC_GROUP,
        DescribeGroups => &DESCRIBE_GROUPS,
        ListGroups => &LIST_GROUPS,
        DeleteGroups => &DELETE_GROUPS,
        OffsetDelete => &OFFSET_DELETE,
        ConsumerGroupHeartbeat => &CONSUMER_GROUP_HEARTBEAT,
        ShareGroupHeartbeat => &SHARE_GROUP_HEARTBEAT,
        ConsumerGroupDescribe | ShareGroupDescribe => &GROUP_DESCRIBE,
        ShareFetch => &SHARE_FETCH,
        ShareAcknowledge => &SHARE_ACKNOWLEDGE,
        AlterShareGroupOffsets => &ALTER_SHARE_GROUP_OFFSETS,
        DeleteShareGroupOffsets => &DELETE_SHARE_GROUP_OFFSETS,
        DescribeShareGroupOffsets => &DESCRIBE_SHARE_GROUP_OFFSETS,
        InitProducerId => &INIT_PRODUCER_ID,
        AddPartitionsToTxn => &ADD_PARTITIONS_TO_TXN,
        AddOffsetsToTxn => &ADD_OFFSETS_TO_TXN,
        EndTxn => &END_TXN,
        TxnOffsetCommit => &TXN_OFFSET_COMMIT,
        DescribeTransactions => &DESCRIBE_TRANSACTIONS,
        ListTransactions => &LIST_TRANSACTIONS,
        CreateTopics => &CREATE_TOPICS,
        DeleteTopics => &DELETE_TOPICS,
        DescribeAcls => &DESCRIBE_ACLS,
        CreateAcls => &CREATE_ACLS,
        DeleteAcls => &DELETE_ACLS,
        DescribeConfigs => &DESCRIBE_CONFIGS,
        AlterConfigs | IncrementalAlterConfigs => &ALTER_CONFIGS,
        CreatePartitions => &CREATE_PARTITIONS,
        DescribeCluster => &DESCRIBE_CLUSTER,
        ElectLeaders => &ELECT_LEADERS,
        DescribeLogDirs => &DESCRIBE_LOG_DIRS,
        ListPartitionReassignments | DescribeUserScramCredentials => &CODE_MESSAGE_ARRAY,
        UpdateFeatures => &UPDATE_FEATURES,
        DescribeClientQuotas => &DESCRIBE_CLIENT_QUOTAS,
        AlterPartitionReassignments => &ALTER_PARTITION_REASSIGNMENTS,
        UnregisterBroker | AddRaftVoter | RemoveRaftVoter | ControllerRegistration => &CODE_MESSAGE,
        DescribeQuorum => &DESCRIBE_QUORUM,
        Vote | BeginQuorumEpoch | EndQuorumEpoch => &QUORUM_EPOCH,
        Envelope => &ENVELOPE,
        BrokerRegistration => &BROKER_REGISTRATION,
        BrokerHeartbeat => &BROKER_HEARTBEAT,
        AllocateProducerIds => &ALLOCATE_PRODUCER_IDS,
        UpdateRaftVoter => &UPDATE_RAFT_VOTER,
        ListConfigResources | AlterPartition | FetchSnapshot | AssignReplicasToDirs => &CODE_ARRAY,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::cluster_only_operation;
    use crate::protocol::api::ENTRIES;

    /// A request is read with its layout unless its only check is on the cluster (ElectLeaders, which echoes its
    /// partitions, excepted) or it has its own walker (Produce).
    #[test]
    fn only_produce_and_cluster_level_requests_are_answered_unread() {
        for key in ENTRIES.iter().filter_map(|entry| ApiKey::try_from(entry.key).ok()) {
            let Some(answer) = answer(key) else { continue };
            let unread =
                key == ApiKey::Produce || (cluster_only_operation(key).is_some() && key != ApiKey::ElectLeaders);
            assert_eq!(answer.read, !unread, "{key:?}");
        }
    }
}

//! The error responses of the share groups' record and offset APIs (KIP-932): ShareFetch, ShareAcknowledge,
//! AlterShareGroupOffsets, DeleteShareGroupOffsets, DescribeShareGroupOffsets. Rows as in `shapes`.

use super::{read, THROTTLE};
use crate::enforce::hooks::{acknowledge_code, learned_id};
use crate::enforce::writer::{all, Answer, Code, Put, Row};
use Code::{Group, Topic, Up};
use Put::*;

/// A partition's current_leader: unknown.
static NO_LEADER: &[Row] = &[all(I32(0)), all(I32(0))]; // leader_id, leader_epoch

/// A refused group fails the request at top level with no topics (`getErrorResponse`); otherwise each partition
/// carries its topic's error, and so does its acknowledgement when the client's request acknowledges anything
/// (`acknowledge_code`), no records.
pub(in crate::enforce) static SHARE_FETCH: Answer = read(
    Group("group_id"),
    &[
        all(THROTTLE),
        all(ErrorCode),
        all(NullStr), // error_message
        all(I32(0)),  // acquisition_lock_timeout_ms
        all(EachIfAllowed(
            "topics",
            Topic("topic_id"),
            &[
                all(EchoId("topic_id")),
                all(Each(
                    "partitions",
                    Up,
                    &[
                        all(EchoI32("partition_index")),
                        all(ErrorCode),
                        all(NullStr), // error_message
                        all(Hook(acknowledge_code)),
                        all(NullStr), // acknowledge_error_message
                        all(Struct(NO_LEADER)),
                        all(EmptyBytes), // records
                        all(Empty),      // acquired_records
                    ],
                )),
            ],
        )),
        all(Empty), // node_endpoints
    ],
);

/// A refused group fails the request at top level; otherwise per partition.
pub(super) static SHARE_ACKNOWLEDGE: Answer = read(
    Group("group_id"),
    &[
        all(THROTTLE),
        all(ErrorCode),
        all(NullStr), // error_message
        all(EachIfAllowed(
            "topics",
            Topic("topic_id"),
            &[
                all(EchoId("topic_id")),
                all(Each(
                    "partitions",
                    Up,
                    &[all(EchoI32("partition_index")), all(ErrorCode), all(NullStr), all(Struct(NO_LEADER))],
                )),
            ],
        )),
        all(Empty), // node_endpoints
    ],
);

/// A refused group fails the request at top level with Kafka's message; otherwise each refused topic is
/// answered per partition with its message and the topic's id as the broker knows it.
pub(super) static ALTER_SHARE_GROUP_OFFSETS: Answer = read(
    Group("group_id"),
    &[
        all(THROTTLE),
        all(ErrorCode),
        all(KafkaMessage),
        all(EachIfAllowed(
            "topics",
            Topic("topic_name"),
            &[
                all(Echo("topic_name")),
                all(Hook(learned_id)),
                all(Each("partitions", Up, &[all(EchoI32("partition_index")), all(ErrorCode), all(KafkaMessage)])),
            ],
        )),
    ],
);

/// A refused group fails the request at top level with Kafka's message; otherwise each refused topic is
/// answered with its message (and the zero id, as KafkaApis leaves it).
pub(super) static DELETE_SHARE_GROUP_OFFSETS: Answer = read(
    Group("group_id"),
    &[
        all(THROTTLE),
        all(ErrorCode),
        all(KafkaMessage),
        all(EachIfAllowed(
            "topics",
            Topic("topic_name"),
            &[all(Echo("topic_name")), all(ZeroUuid), all(ErrorCode), all(KafkaMessage)],
        )),
    ],
);

/// Per group: a refused one without topics (no message); each refused topic of an allowed group per partition,
/// no offset, its message, the zero id (KafkaApis' `describeShareGroupOffsetsForGroup`).
pub(super) static DESCRIBE_SHARE_GROUP_OFFSETS: Answer = read(
    Code::None,
    &[
        all(THROTTLE),
        all(Each(
            "groups",
            Group("group_id"),
            &[
                all(Echo("group_id")),
                all(EachIfAllowed(
                    "topics",
                    Topic("topic_name"),
                    &[
                        all(Echo("topic_name")),
                        all(ZeroUuid),
                        all(Each(
                            "partitions",
                            Up,
                            &[
                                all(EchoI32("")),
                                all(I64(-1)), // start_offset
                                all(I32(0)),  // leader_epoch
                                all(ErrorCode),
                                all(KafkaMessage),
                            ],
                        )),
                    ],
                )),
                all(ErrorCode),
                all(NullStr), // error_message
            ],
        )),
    ],
);

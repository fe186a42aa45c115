//! The APIs the filter splits (issue #5), as the split and fixture tests drive them: how to build a request
//! and a broker answer naming given resources, how to read the resources back, and the error a denied one gets.

use bytes::Bytes;
use kafka_protocol::messages::*;

use super::{s, topic};

/// One splittable API.
pub struct SplitApi<Req, Resp> {
    pub key: ApiKey,
    /// The request naming these resources at this version.
    pub request: fn(i16, &[&str]) -> Req,
    /// The resources a request names, in order.
    pub names: fn(&Req) -> Vec<String>,
    /// The broker's answer for these resources at this version (no error, distinctive values).
    pub response: fn(i16, &[&str]) -> Resp,
    /// Removes a response's last resource entry: its name and (first) error code.
    pub pop: fn(&mut Resp) -> Option<(String, i16)>,
    /// The authorization error a denied resource gets.
    pub code: i16,
}

impl<Req, Resp> Clone for SplitApi<Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Resp> Copy for SplitApi<Req, Resp> {}

pub fn topic_names<'a>(names: impl Iterator<Item = &'a TopicName>) -> Vec<String> {
    strings(names.map(|n| n.as_str()))
}

pub fn offset_commit_request(group: &str, names: &[&str]) -> OffsetCommitRequest {
    use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    let topics = names
        .iter()
        .map(|n| {
            OffsetCommitRequestTopic::default().with_name(topic(n)).with_partitions(vec![
                OffsetCommitRequestPartition::default()
                    .with_partition_index(2)
                    .with_committed_offset(42)
                    .with_committed_metadata(Some(s("meta"))),
            ])
        })
        .collect();
    OffsetCommitRequest::default().with_group_id(GroupId(s(group))).with_member_id(s("member")).with_topics(topics)
}

pub fn offset_fetch_request(v: i16, groups: &[&str], names: &[&str]) -> OffsetFetchRequest {
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    if v <= 7 {
        let topics = names
            .iter()
            .map(|n| OffsetFetchRequestTopic::default().with_name(topic(n)).with_partition_indexes(vec![0, 1]))
            .collect();
        return OffsetFetchRequest::default().with_group_id(GroupId(s(groups[0]))).with_topics(Some(topics));
    }
    let topics: Vec<_> = names
        .iter()
        .map(|n| OffsetFetchRequestTopics::default().with_name(topic(n)).with_partition_indexes(vec![0, 1]))
        .collect();
    let groups = groups
        .iter()
        .map(|g| OffsetFetchRequestGroup::default().with_group_id(GroupId(s(g))).with_topics(Some(topics.clone())))
        .collect();
    OffsetFetchRequest::default().with_groups(groups)
}

/// A v8+ OffsetFetch answer for one group: committed offsets 40 and 41 of partitions 0 and 1 of each topic.
pub fn offset_fetch_group_answer(group: &str, names: &[&str]) -> offset_fetch_response::OffsetFetchResponseGroup {
    use offset_fetch_response::{OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics};
    let partition = |i: i32| {
        OffsetFetchResponsePartitions::default()
            .with_partition_index(i)
            .with_committed_offset(40 + i as i64)
            .with_committed_leader_epoch(3)
            .with_metadata(Some(s("meta")))
    };
    let topics = names
        .iter()
        .map(|n| {
            OffsetFetchResponseTopics::default().with_name(topic(n)).with_partitions(vec![partition(0), partition(1)])
        })
        .collect();
    OffsetFetchResponseGroup::default().with_group_id(GroupId(s(group))).with_topics(topics)
}

/// A DescribeTopicPartitions request naming `names` (none: all topics), from `cursor` (topic, partition).
pub fn dtp_request(names: &[&str], cursor: Option<(&str, i32)>) -> DescribeTopicPartitionsRequest {
    use describe_topic_partitions_request::{Cursor, TopicRequest};
    DescribeTopicPartitionsRequest::default()
        .with_topics(names.iter().map(|n| TopicRequest::default().with_name(topic(n))).collect())
        .with_response_partition_limit(2000)
        .with_cursor(cursor.map(|(n, p)| Cursor::default().with_topic_name(topic(n)).with_partition_index(p)))
}

pub fn strings<I: IntoIterator<Item = T>, T: AsRef<str>>(names: I) -> Vec<String> {
    names.into_iter().map(|n| n.as_ref().to_string()).collect()
}

pub fn list_offsets() -> SplitApi<ListOffsetsRequest, ListOffsetsResponse> {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
    SplitApi {
        key: ApiKey::ListOffsets,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    ListOffsetsTopic::default().with_name(topic(n)).with_partitions(vec![
                        ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1),
                    ])
                })
                .collect();
            ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    ListOffsetsTopicResponse::default().with_name(topic(n)).with_partitions(vec![
                        ListOffsetsPartitionResponse::default()
                            .with_partition_index(3)
                            .with_timestamp(11)
                            .with_offset(42),
                    ])
                })
                .collect();
            ListOffsetsResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        code: 29,
    }
}

pub fn offset_commit() -> SplitApi<OffsetCommitRequest, OffsetCommitResponse> {
    use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
    SplitApi {
        key: ApiKey::OffsetCommit,
        request: |_, names| offset_commit_request("grp-ok", names),
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetCommitResponseTopic::default()
                        .with_name(topic(n))
                        .with_partitions(vec![OffsetCommitResponsePartition::default().with_partition_index(2)])
                })
                .collect();
            OffsetCommitResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        code: 29,
    }
}

pub fn offset_fetch() -> SplitApi<OffsetFetchRequest, OffsetFetchResponse> {
    use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
    SplitApi {
        key: ApiKey::OffsetFetch,
        request: |v, names| offset_fetch_request(v, &["grp-ok"], names),
        names: |r| {
            let mut names = topic_names(r.topics.iter().flatten().map(|t| &t.name));
            for g in &r.groups {
                names.extend(topic_names(g.topics.iter().flatten().map(|t| &t.name)));
            }
            names
        },
        response: |v, names| {
            if v <= 7 {
                let topics = names
                    .iter()
                    .map(|n| {
                        let p = |i| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(i)
                                .with_committed_offset(40 + i as i64)
                                .with_metadata(Some(s("meta")))
                        };
                        OffsetFetchResponseTopic::default().with_name(topic(n)).with_partitions(vec![p(0), p(1)])
                    })
                    .collect();
                return OffsetFetchResponse::default().with_throttle_time_ms(5).with_topics(topics);
            }
            OffsetFetchResponse::default()
                .with_throttle_time_ms(5)
                .with_groups(vec![offset_fetch_group_answer("grp-ok", names)])
        },
        pop: |r| match r.groups.first_mut() {
            Some(g) => g.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
            None => r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        },
        code: 29,
    }
}

pub fn delete_records() -> SplitApi<DeleteRecordsRequest, DeleteRecordsResponse> {
    use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
    use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
    SplitApi {
        key: ApiKey::DeleteRecords,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    DeleteRecordsTopic::default()
                        .with_name(topic(n))
                        .with_partitions(vec![DeleteRecordsPartition::default().with_partition_index(1).with_offset(9)])
                })
                .collect();
            DeleteRecordsRequest::default().with_topics(topics).with_timeout_ms(1000)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    DeleteRecordsTopicResult::default().with_name(topic(n)).with_partitions(vec![
                        DeleteRecordsPartitionResult::default().with_partition_index(1).with_low_watermark(9),
                    ])
                })
                .collect();
            DeleteRecordsResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        code: 29,
    }
}

pub fn offset_for_leader_epoch() -> SplitApi<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> {
    use kafka_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
    use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
    SplitApi {
        key: ApiKey::OffsetForLeaderEpoch,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetForLeaderTopic::default().with_topic(topic(n)).with_partitions(vec![
                        OffsetForLeaderPartition::default().with_partition(0).with_leader_epoch(4),
                    ])
                })
                .collect();
            OffsetForLeaderEpochRequest::default().with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.topic)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetForLeaderTopicResult::default().with_topic(topic(n)).with_partitions(vec![
                        EpochEndOffset::default().with_partition(0).with_leader_epoch(4).with_end_offset(100),
                    ])
                })
                .collect();
            OffsetForLeaderEpochResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.topic.to_string(), t.partitions[0].error_code)),
        code: 29,
    }
}

pub fn create_topics() -> SplitApi<CreateTopicsRequest, CreateTopicsResponse> {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
    SplitApi {
        key: ApiKey::CreateTopics,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    CreatableTopic::default().with_name(topic(n)).with_num_partitions(3).with_replication_factor(1)
                })
                .collect();
            CreateTopicsRequest::default().with_topics(topics).with_timeout_ms(1000)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |v, names| {
            let topics = names
                .iter()
                .map(|n| {
                    let mut result = CreatableTopicResult::default().with_name(topic(n));
                    if v >= 5 {
                        result.num_partitions = 3;
                        result.replication_factor = 1;
                    }
                    result
                })
                .collect();
            CreateTopicsResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.error_code)),
        code: 29,
    }
}

pub fn delete_topics() -> SplitApi<DeleteTopicsRequest, DeleteTopicsResponse> {
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
    SplitApi {
        key: ApiKey::DeleteTopics,
        request: |v, names| {
            let request = DeleteTopicsRequest::default().with_timeout_ms(1000);
            if v >= 6 {
                request
                    .with_topics(names.iter().map(|n| DeleteTopicState::default().with_name(Some(topic(n)))).collect())
            } else {
                request.with_topic_names(names.iter().map(|n| topic(n)).collect())
            }
        },
        names: |r| {
            let mut names = topic_names(r.topic_names.iter());
            names.extend(topic_names(r.topics.iter().filter_map(|t| t.name.as_ref())));
            names
        },
        response: |_, names| {
            let responses = names.iter().map(|n| DeletableTopicResult::default().with_name(Some(topic(n)))).collect();
            DeleteTopicsResponse::default().with_throttle_time_ms(5).with_responses(responses)
        },
        pop: |r| r.responses.pop().map(|t| (t.name.map(|n| n.to_string()).unwrap_or_default(), t.error_code)),
        code: 29,
    }
}

pub fn describe_groups() -> SplitApi<DescribeGroupsRequest, DescribeGroupsResponse> {
    use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
    SplitApi {
        key: ApiKey::DescribeGroups,
        request: |_, names| DescribeGroupsRequest::default().with_groups(names.iter().map(|g| GroupId(s(g))).collect()),
        names: |r| strings(r.groups.iter().map(|g| g.as_str())),
        response: |v, names| {
            let groups = names
                .iter()
                .map(|g| {
                    let mut group = DescribedGroup::default()
                        .with_group_id(GroupId(s(g)))
                        .with_group_state(s("Stable"))
                        .with_protocol_type(s("consumer"))
                        .with_protocol_data(s("range"))
                        .with_members(vec![DescribedGroupMember::default()
                            .with_member_id(s("m-1"))
                            .with_client_id(s("client"))
                            .with_client_host(s("/127.0.0.1"))
                            .with_member_metadata(Bytes::from_static(b"metadata"))
                            .with_member_assignment(Bytes::from_static(b"assignment"))]);
                    if v >= 3 {
                        // Not asked for (Kafka's Integer.MIN_VALUE): passed as sent (tests/authorized_operations.rs
                        // covers the asked case, where the filter writes the principal's).
                        group.authorized_operations = i32::MIN;
                    }
                    group
                })
                .collect();
            DescribeGroupsResponse::default().with_throttle_time_ms(5).with_groups(groups)
        },
        pop: |r| r.groups.pop().map(|g| (g.group_id.to_string(), g.error_code)),
        code: 30,
    }
}

pub fn delete_groups() -> SplitApi<DeleteGroupsRequest, DeleteGroupsResponse> {
    use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
    SplitApi {
        key: ApiKey::DeleteGroups,
        request: |_, names| {
            DeleteGroupsRequest::default().with_groups_names(names.iter().map(|g| GroupId(s(g))).collect())
        },
        names: |r| strings(r.groups_names.iter().map(|g| g.as_str())),
        response: |_, names| {
            let results = names.iter().map(|g| DeletableGroupResult::default().with_group_id(GroupId(s(g)))).collect();
            DeleteGroupsResponse::default().with_throttle_time_ms(5).with_results(results)
        },
        pop: |r| r.results.pop().map(|g| (g.group_id.to_string(), g.error_code)),
        code: 30,
    }
}

pub fn describe_transactions() -> SplitApi<DescribeTransactionsRequest, DescribeTransactionsResponse> {
    use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
    SplitApi {
        key: ApiKey::DescribeTransactions,
        request: |_, names| {
            DescribeTransactionsRequest::default()
                .with_transactional_ids(names.iter().map(|t| TransactionalId(s(t))).collect())
        },
        names: |r| strings(r.transactional_ids.iter().map(|t| t.as_str())),
        response: |_, names| {
            let states = names
                .iter()
                .map(|t| {
                    TransactionState::default()
                        .with_transactional_id(TransactionalId(s(t)))
                        .with_transaction_state(s("Ongoing"))
                        .with_transaction_timeout_ms(60000)
                        .with_transaction_start_time_ms(1234)
                        .with_producer_id(ProducerId(99))
                        .with_producer_epoch(2)
                        .with_topics(vec![TopicData::default()
                            .with_topic(topic("allowed"))
                            .with_partitions(vec![0, 1])])
                })
                .collect();
            DescribeTransactionsResponse::default().with_throttle_time_ms(5).with_transaction_states(states)
        },
        pop: |r| r.transaction_states.pop().map(|t| (t.transactional_id.to_string(), t.error_code)),
        code: 53,
    }
}

pub fn consumer_group_describe() -> SplitApi<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse> {
    use kafka_protocol::messages::consumer_group_describe_response::{
        Assignment, DescribedGroup, Member, TopicPartitions,
    };
    SplitApi {
        key: ApiKey::ConsumerGroupDescribe,
        request: |_, names| {
            ConsumerGroupDescribeRequest::default().with_group_ids(names.iter().map(|g| GroupId(s(g))).collect())
        },
        names: |r| strings(r.group_ids.iter().map(|g| g.as_str())),
        response: |_, names| {
            let assignment = Assignment::default().with_topic_partitions(vec![TopicPartitions::default()
                .with_topic_name(topic("allowed"))
                .with_partitions(vec![0, 2])]);
            let groups = names
                .iter()
                .map(|g| {
                    DescribedGroup::default()
                        .with_group_id(GroupId(s(g)))
                        .with_group_state(s("Stable"))
                        .with_group_epoch(3)
                        .with_assignment_epoch(3)
                        .with_assignor_name(s("uniform"))
                        // Not asked for: the filter sets the principal's operations where they were.
                        .with_authorized_operations(i32::MIN)
                        .with_members(vec![Member::default()
                            .with_member_id(s("m-1"))
                            .with_rack_id(Some(s("rack-a")))
                            .with_member_epoch(3)
                            .with_client_id(s("client"))
                            .with_client_host(s("/127.0.0.1"))
                            .with_subscribed_topic_names(vec![topic("allowed")])
                            .with_assignment(assignment.clone())
                            .with_target_assignment(assignment.clone())])
                })
                .collect();
            ConsumerGroupDescribeResponse::default().with_throttle_time_ms(5).with_groups(groups)
        },
        // Kafka lists the refused groups first (KafkaApis.handleConsumerGroupDescribe).
        pop: |r| (!r.groups.is_empty()).then(|| r.groups.remove(0)).map(|g| (g.group_id.to_string(), g.error_code)),
        code: 30,
    }
}

pub fn produce() -> SplitApi<ProduceRequest, ProduceResponse> {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
    SplitApi {
        key: ApiKey::Produce,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    TopicProduceData::default()
                        .with_name(topic(n))
                        .with_topic_id(super::topic_id(n))
                        .with_partition_data(vec![PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(Bytes::from(vec![7u8; 64])))])
                })
                .collect();
            ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(topics)
        },
        names: |r| r.topic_data.iter().map(|t| super::topic_label(&t.name, &t.topic_id)).collect(),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    TopicProduceResponse::default()
                        .with_name(topic(n))
                        .with_topic_id(super::topic_id(n))
                        .with_partition_responses(vec![PartitionProduceResponse::default()
                            .with_index(0)
                            .with_base_offset(42)])
                })
                .collect();
            ProduceResponse::default().with_throttle_time_ms(5).with_responses(topics)
        },
        pop: |r| {
            r.responses.pop().map(|t| (super::topic_label(&t.name, &t.topic_id), t.partition_responses[0].error_code))
        },
        code: 29,
    }
}

pub fn fetch() -> SplitApi<FetchRequest, FetchResponse> {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    SplitApi {
        key: ApiKey::Fetch,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    FetchTopic::default().with_topic(topic(n)).with_topic_id(super::topic_id(n)).with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(5)
                            .with_partition_max_bytes(1 << 20),
                    ])
                })
                .collect();
            FetchRequest::default().with_replica_id(BrokerId(-1)).with_max_wait_ms(100).with_topics(topics)
        },
        names: |r| r.topics.iter().map(|t| super::topic_label(&t.topic, &t.topic_id)).collect(),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    FetchableTopicResponse::default()
                        .with_topic(topic(n))
                        .with_topic_id(super::topic_id(n))
                        .with_partitions(vec![PartitionData::default()
                            .with_partition_index(0)
                            .with_high_watermark(10)
                            .with_records(Some(Bytes::from_static(b"record-batch-bytes")))])
                })
                .collect();
            FetchResponse::default().with_throttle_time_ms(5).with_responses(topics)
        },
        pop: |r| r.responses.pop().map(|t| (super::topic_label(&t.topic, &t.topic_id), t.partitions[0].error_code)),
        code: 29,
    }
}

/// Config resource type of a topic (`ConfigResource.Type.TOPIC`).
pub const CONFIG_TOPIC: i8 = 2;

pub fn describe_configs() -> SplitApi<DescribeConfigsRequest, DescribeConfigsResponse> {
    SplitApi {
        key: ApiKey::DescribeConfigs,
        request: |_, names| describe_configs_request(&names.iter().map(|n| (CONFIG_TOPIC, *n)).collect::<Vec<_>>()),
        names: |r| strings(r.resources.iter().map(|c| c.resource_name.as_str())),
        response: |v, names| describe_configs_answer(v, &names.iter().map(|n| (CONFIG_TOPIC, *n)).collect::<Vec<_>>()),
        pop: |r| r.results.pop().map(|c| (c.resource_name.to_string(), c.error_code)),
        code: 29,
    }
}

/// DescribeConfigs of these (config resource type, name) pairs, with one key asked of each.
pub fn describe_configs_request(resources: &[(i8, &str)]) -> DescribeConfigsRequest {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    let resources = resources
        .iter()
        .map(|(resource_type, name)| {
            DescribeConfigsResource::default()
                .with_resource_type(*resource_type)
                .with_resource_name(s(name))
                .with_configuration_keys(Some(vec![s("retention.ms")]))
        })
        .collect();
    DescribeConfigsRequest::default().with_resources(resources).with_include_synonyms(true)
}

/// The broker's answer to [`describe_configs_request`]: one config (with a synonym) per resource.
pub fn describe_configs_answer(v: i16, resources: &[(i8, &str)]) -> DescribeConfigsResponse {
    use kafka_protocol::messages::describe_configs_response::{
        DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
    };
    let results = resources
        .iter()
        .map(|(resource_type, name)| {
            let mut config = DescribeConfigsResourceResult::default()
                .with_name(s("retention.ms"))
                .with_value(Some(s("604800000")))
                .with_config_source(5)
                .with_synonyms(vec![DescribeConfigsSynonym::default()
                    .with_name(s("log.retention.ms"))
                    .with_value(Some(s("604800000")))
                    .with_source(5)]);
            if v >= 3 {
                config = config.with_config_type(5).with_documentation(Some(s("How long to keep a log.")));
            }
            DescribeConfigsResult::default()
                .with_resource_type(*resource_type)
                .with_resource_name(s(name))
                .with_configs(vec![config])
        })
        .collect();
    DescribeConfigsResponse::default().with_throttle_time_ms(5).with_results(results)
}

/// AlterConfigs and IncrementalAlterConfigs: the same messages in two modules of kafka-protocol.
macro_rules! alter_configs_api {
    ($name:ident, $key:ident, $request:ident, $response:ident, $request_mod:ident, $response_mod:ident) => {
        pub fn $name() -> SplitApi<$request, $response> {
            use kafka_protocol::messages::$request_mod::{AlterConfigsResource, AlterableConfig};
            use kafka_protocol::messages::$response_mod::AlterConfigsResourceResponse;
            SplitApi {
                key: ApiKey::$key,
                request: |_, names| {
                    let resources = names
                        .iter()
                        .map(|n| {
                            AlterConfigsResource::default()
                                .with_resource_type(CONFIG_TOPIC)
                                .with_resource_name(s(n))
                                .with_configs(vec![AlterableConfig::default()
                                    .with_name(s("retention.ms"))
                                    .with_value(Some(s("1000")))])
                        })
                        .collect();
                    $request::default().with_resources(resources)
                },
                names: |r| strings(r.resources.iter().map(|c| c.resource_name.as_str())),
                response: |_, names| {
                    let responses = names
                        .iter()
                        .map(|n| {
                            AlterConfigsResourceResponse::default()
                                .with_resource_type(CONFIG_TOPIC)
                                .with_resource_name(s(n))
                        })
                        .collect();
                    $response::default().with_throttle_time_ms(5).with_responses(responses)
                },
                pop: |r| r.responses.pop().map(|c| (c.resource_name.to_string(), c.error_code)),
                code: 29,
            }
        }
    };
}

alter_configs_api!(
    alter_configs,
    AlterConfigs,
    AlterConfigsRequest,
    AlterConfigsResponse,
    alter_configs_request,
    alter_configs_response
);

alter_configs_api!(
    incremental_alter_configs,
    IncrementalAlterConfigs,
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
    incremental_alter_configs_request,
    incremental_alter_configs_response
);

pub fn create_partitions() -> SplitApi<CreatePartitionsRequest, CreatePartitionsResponse> {
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
    SplitApi {
        key: ApiKey::CreatePartitions,
        request: |_, names| {
            let topics =
                names.iter().map(|n| CreatePartitionsTopic::default().with_name(topic(n)).with_count(3)).collect();
            CreatePartitionsRequest::default().with_topics(topics).with_timeout_ms(1000)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let results = names.iter().map(|n| CreatePartitionsTopicResult::default().with_name(topic(n))).collect();
            CreatePartitionsResponse::default().with_throttle_time_ms(5).with_results(results)
        },
        pop: |r| r.results.pop().map(|t| (t.name.to_string(), t.error_code)),
        code: 29,
    }
}

pub fn txn_offset_commit() -> SplitApi<TxnOffsetCommitRequest, TxnOffsetCommitResponse> {
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::txn_offset_commit_response::{
        TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
    };
    SplitApi {
        key: ApiKey::TxnOffsetCommit,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    TxnOffsetCommitRequestTopic::default().with_name(topic(n)).with_partitions(vec![
                        TxnOffsetCommitRequestPartition::default()
                            .with_partition_index(1)
                            .with_committed_offset(42)
                            .with_committed_metadata(Some(s("meta"))),
                    ])
                })
                .collect();
            TxnOffsetCommitRequest::default()
                .with_transactional_id(TransactionalId(s("txn-ok")))
                .with_group_id(GroupId(s("grp-ok")))
                .with_producer_id(ProducerId(7))
                .with_producer_epoch(1)
                .with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    TxnOffsetCommitResponseTopic::default()
                        .with_name(topic(n))
                        .with_partitions(vec![TxnOffsetCommitResponsePartition::default().with_partition_index(1)])
                })
                .collect();
            TxnOffsetCommitResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        code: 29,
    }
}

pub fn offset_delete() -> SplitApi<OffsetDeleteRequest, OffsetDeleteResponse> {
    use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
    use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
    SplitApi {
        key: ApiKey::OffsetDelete,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetDeleteRequestTopic::default()
                        .with_name(topic(n))
                        .with_partitions(vec![OffsetDeleteRequestPartition::default().with_partition_index(2)])
                })
                .collect();
            OffsetDeleteRequest::default().with_group_id(GroupId(s("grp-ok"))).with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetDeleteResponseTopic::default()
                        .with_name(topic(n))
                        .with_partitions(vec![OffsetDeleteResponsePartition::default().with_partition_index(2)])
                })
                .collect();
            OffsetDeleteResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        code: 29,
    }
}

pub fn describe_producers() -> SplitApi<DescribeProducersRequest, DescribeProducersResponse> {
    use kafka_protocol::messages::describe_producers_request::TopicRequest;
    use kafka_protocol::messages::describe_producers_response::{PartitionResponse, ProducerState, TopicResponse};
    SplitApi {
        key: ApiKey::DescribeProducers,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| TopicRequest::default().with_name(topic(n)).with_partition_indexes(vec![0]))
                .collect();
            DescribeProducersRequest::default().with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    TopicResponse::default().with_name(topic(n)).with_partitions(vec![PartitionResponse::default()
                        .with_partition_index(0)
                        .with_active_producers(vec![ProducerState::default()
                            .with_producer_id(ProducerId(7))
                            .with_producer_epoch(1)
                            .with_last_sequence(9)
                            .with_last_timestamp(1_700_000_000_000)
                            .with_current_txn_start_offset(-1)])])
                })
                .collect();
            DescribeProducersResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        code: 29,
    }
}

//! Minimal Kafka requests for `explain`: the request an API implies for the given topics, group and
//! transactional id, encoded by kafka-protocol at the asked version, so that `explain` runs the very
//! classification the filter runs on the wire.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

/// Kafka's `ConfigResource.Type` codes (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs).
const CONFIG_TOPIC: i8 = 2;
const CONFIG_BROKER: i8 = 4;
const CONFIG_GROUP: i8 = 32;

/// What the request names (from the command line).
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub topics: Vec<String>,
    pub group: Option<String>,
    pub transactional_id: Option<String>,
}

/// A request that cannot be built from the facts given (a usage error: e.g. `produce` without `--topic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFact(pub String);

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

impl RequestFacts {
    fn topics(&self, api: &str) -> Result<&[String], MissingFact> {
        if self.topics.is_empty() {
            return Err(MissingFact(format!("{api} names topics: give at least one --topic")));
        }
        Ok(&self.topics)
    }

    fn group(&self, api: &str) -> Result<GroupId, MissingFact> {
        match &self.group {
            Some(group) => Ok(GroupId(s(group))),
            None => Err(MissingFact(format!("{api} names a consumer group: give --group"))),
        }
    }

    fn transactional_id(&self, api: &str) -> Result<TransactionalId, MissingFact> {
        match &self.transactional_id {
            Some(id) => Ok(TransactionalId(s(id))),
            None => Err(MissingFact(format!("{api} names a transactional id: give --transactional-id"))),
        }
    }

    fn optional_transactional_id(&self) -> Option<TransactionalId> {
        self.transactional_id.as_deref().map(|id| TransactionalId(s(id)))
    }
}

/// The body (after the request header) of a minimal `key` request at `version`. APIs whose only check is
/// on the cluster get an empty body: the filter does not read their body either.
pub fn encode_request(key: ApiKey, version: i16, facts: &RequestFacts) -> Result<Vec<u8>, MissingFact> {
    let name = format!("{key:?}");
    let api = name.as_str();
    let mut body = Vec::new();
    let encoded = match key {
        ApiKey::Produce => {
            use produce_request::{PartitionProduceData, TopicProduceData};
            // The filter skips record batches by their length, so their content does not matter here.
            let data = facts.topics(api)?.iter().map(|t| {
                TopicProduceData::default().with_name(topic_name(t)).with_partition_data(vec![
                    PartitionProduceData::default().with_index(0).with_records(Some(Bytes::from_static(b"records"))),
                ])
            });
            ProduceRequest::default()
                .with_transactional_id(facts.optional_transactional_id())
                .with_acks(-1)
                .with_timeout_ms(30_000)
                .with_topic_data(data.collect())
                .encode(&mut body, version)
        }
        ApiKey::Fetch => {
            use fetch_request::{FetchPartition, FetchTopic};
            let topics = facts.topics(api)?.iter().map(|t| {
                FetchTopic::default().with_topic(topic_name(t)).with_partitions(vec![FetchPartition::default()])
            });
            // replica_id -1: a consumer (a follower broker would need ClusterAction).
            FetchRequest::default()
                .with_replica_id((-1).into())
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::ListOffsets => {
            use list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
            let topics = facts.topics(api)?.iter().map(|t| {
                ListOffsetsTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(vec![ListOffsetsPartition::default().with_timestamp(-1)])
            });
            ListOffsetsRequest::default()
                .with_replica_id((-1).into())
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::Metadata => {
            use metadata_request::MetadataRequestTopic;
            let topics =
                facts.topics(api)?.iter().map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))));
            MetadataRequest::default().with_topics(Some(topics.collect())).encode(&mut body, version)
        }
        ApiKey::DescribeTopicPartitions => {
            use describe_topic_partitions_request::TopicRequest;
            let topics = facts.topics(api)?.iter().map(|t| TopicRequest::default().with_name(topic_name(t)));
            DescribeTopicPartitionsRequest::default()
                .with_topics(topics.collect())
                .with_response_partition_limit(2000)
                .encode(&mut body, version)
        }
        ApiKey::OffsetCommit => {
            use offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
            let topics = facts.topics(api)?.iter().map(|t| {
                OffsetCommitRequestTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(vec![OffsetCommitRequestPartition::default()])
            });
            OffsetCommitRequest::default()
                .with_group_id(facts.group(api)?)
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::OffsetFetch => {
            use offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics};
            let group = facts.group(api)?;
            // No --topic: all committed offsets of the group (topics null).
            if version <= 7 {
                let topics = (!facts.topics.is_empty()).then(|| {
                    facts
                        .topics
                        .iter()
                        .map(|t| {
                            OffsetFetchRequestTopic::default().with_name(topic_name(t)).with_partition_indexes(vec![0])
                        })
                        .collect()
                });
                OffsetFetchRequest::default().with_group_id(group).with_topics(topics).encode(&mut body, version)
            } else {
                let topics = (!facts.topics.is_empty()).then(|| {
                    facts
                        .topics
                        .iter()
                        .map(|t| {
                            OffsetFetchRequestTopics::default().with_name(topic_name(t)).with_partition_indexes(vec![0])
                        })
                        .collect()
                });
                OffsetFetchRequest::default()
                    .with_groups(vec![OffsetFetchRequestGroup::default().with_group_id(group).with_topics(topics)])
                    .encode(&mut body, version)
            }
        }
        ApiKey::FindCoordinator => {
            // The group's coordinator, or the transaction coordinator when only a transactional id is given.
            let (key_type, coordinator_key) = match (&facts.group, &facts.transactional_id) {
                (Some(group), _) => (0, group.as_str()),
                (None, Some(id)) => (1, id.as_str()),
                (None, None) => {
                    return Err(MissingFact(format!(
                        "{api} names a group or a transactional id: give --group or --transactional-id"
                    )))
                }
            };
            let request = FindCoordinatorRequest::default().with_key_type(key_type);
            let request = if version >= 4 {
                request.with_coordinator_keys(vec![s(coordinator_key)])
            } else {
                request.with_key(s(coordinator_key))
            };
            request.encode(&mut body, version)
        }
        ApiKey::JoinGroup => JoinGroupRequest::default()
            .with_group_id(facts.group(api)?)
            .with_session_timeout_ms(45_000)
            .with_protocol_type(s("consumer"))
            .encode(&mut body, version),
        ApiKey::Heartbeat => HeartbeatRequest::default().with_group_id(facts.group(api)?).encode(&mut body, version),
        ApiKey::LeaveGroup => {
            use leave_group_request::MemberIdentity;
            let request = LeaveGroupRequest::default().with_group_id(facts.group(api)?);
            let request = if version >= 3 { request.with_members(vec![MemberIdentity::default()]) } else { request };
            request.encode(&mut body, version)
        }
        ApiKey::SyncGroup => SyncGroupRequest::default().with_group_id(facts.group(api)?).encode(&mut body, version),
        ApiKey::DescribeGroups => {
            DescribeGroupsRequest::default().with_groups(vec![facts.group(api)?]).encode(&mut body, version)
        }
        ApiKey::DeleteGroups => {
            DeleteGroupsRequest::default().with_groups_names(vec![facts.group(api)?]).encode(&mut body, version)
        }
        ApiKey::ConsumerGroupDescribe => {
            ConsumerGroupDescribeRequest::default().with_group_ids(vec![facts.group(api)?]).encode(&mut body, version)
        }
        ApiKey::ShareGroupDescribe => {
            ShareGroupDescribeRequest::default().with_group_ids(vec![facts.group(api)?]).encode(&mut body, version)
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let names = facts.topics(api)?.iter().map(|t| TopicName(s(t))).collect();
            ConsumerGroupHeartbeatRequest::default()
                .with_group_id(facts.group(api)?)
                .with_subscribed_topic_names(Some(names))
                .encode(&mut body, version)
        }
        ApiKey::ShareGroupHeartbeat => {
            let names = facts.topics(api)?.iter().map(|t| TopicName(s(t))).collect();
            ShareGroupHeartbeatRequest::default()
                .with_group_id(facts.group(api)?)
                .with_member_id(s("explain-member"))
                .with_subscribed_topic_names(Some(names))
                .encode(&mut body, version)
        }
        // By id only: the topics go as ids the CLI has not learned (the filter learns them from the broker).
        ApiKey::ShareFetch => {
            use share_fetch_request::{FetchPartition, FetchTopic};
            let topics = facts
                .topics(api)?
                .iter()
                .map(|_| FetchTopic::default().with_partitions(vec![FetchPartition::default()]));
            ShareFetchRequest::default()
                .with_group_id(Some(facts.group(api)?))
                .with_member_id(Some(s("explain-member")))
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::ShareAcknowledge => {
            use share_acknowledge_request::{AcknowledgePartition, AcknowledgeTopic};
            let topics = facts
                .topics(api)?
                .iter()
                .map(|_| AcknowledgeTopic::default().with_partitions(vec![AcknowledgePartition::default()]));
            ShareAcknowledgeRequest::default()
                .with_group_id(Some(facts.group(api)?))
                .with_member_id(Some(s("explain-member")))
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::AlterShareGroupOffsets => {
            use alter_share_group_offsets_request::{
                AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
            };
            let topics = facts.topics(api)?.iter().map(|t| {
                AlterShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(topic_name(t))
                    .with_partitions(vec![AlterShareGroupOffsetsRequestPartition::default()])
            });
            AlterShareGroupOffsetsRequest::default()
                .with_group_id(facts.group(api)?)
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::DescribeShareGroupOffsets => {
            use describe_share_group_offsets_request::{
                DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
            };
            // No --topic: all of the group's offsets (topics null).
            let topics = (!facts.topics.is_empty()).then(|| {
                let topic = |t: &String| {
                    DescribeShareGroupOffsetsRequestTopic::default()
                        .with_topic_name(topic_name(t))
                        .with_partitions(vec![0])
                };
                facts.topics.iter().map(topic).collect()
            });
            let group =
                DescribeShareGroupOffsetsRequestGroup::default().with_group_id(facts.group(api)?).with_topics(topics);
            DescribeShareGroupOffsetsRequest::default().with_groups(vec![group]).encode(&mut body, version)
        }
        ApiKey::DeleteShareGroupOffsets => {
            use delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
            let topics = facts
                .topics(api)?
                .iter()
                .map(|t| DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(topic_name(t)));
            DeleteShareGroupOffsetsRequest::default()
                .with_group_id(facts.group(api)?)
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::ListGroups => ListGroupsRequest::default().encode(&mut body, version),
        ApiKey::ListTransactions => ListTransactionsRequest::default().encode(&mut body, version),
        ApiKey::DescribeCluster => DescribeClusterRequest::default().encode(&mut body, version),
        ApiKey::DescribeAcls => DescribeAclsRequest::default()
            .with_resource_type_filter(1)
            .with_pattern_type_filter(1)
            .with_operation(1)
            .with_permission_type(1)
            .encode(&mut body, version),
        ApiKey::CreateAcls => CreateAclsRequest::default().encode(&mut body, version),
        ApiKey::DeleteAcls => DeleteAclsRequest::default().encode(&mut body, version),
        ApiKey::CreateTopics => {
            use create_topics_request::CreatableTopic;
            let topics = facts.topics(api)?.iter().map(|t| {
                CreatableTopic::default().with_name(topic_name(t)).with_num_partitions(1).with_replication_factor(-1)
            });
            CreateTopicsRequest::default()
                .with_topics(topics.collect())
                .with_timeout_ms(30_000)
                .encode(&mut body, version)
        }
        ApiKey::DeleteTopics => {
            use delete_topics_request::DeleteTopicState;
            let names = facts.topics(api)?;
            let request = if version >= 6 {
                DeleteTopicsRequest::default().with_topics(
                    names.iter().map(|t| DeleteTopicState::default().with_name(Some(topic_name(t)))).collect(),
                )
            } else {
                DeleteTopicsRequest::default().with_topic_names(names.iter().map(|t| topic_name(t)).collect())
            };
            request.encode(&mut body, version)
        }
        ApiKey::DeleteRecords => {
            use delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
            let topics = facts.topics(api)?.iter().map(|t| {
                DeleteRecordsTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(vec![DeleteRecordsPartition::default()])
            });
            DeleteRecordsRequest::default().with_topics(topics.collect()).encode(&mut body, version)
        }
        ApiKey::InitProducerId => InitProducerIdRequest::default()
            .with_transactional_id(facts.optional_transactional_id())
            .with_transaction_timeout_ms(60_000)
            .encode(&mut body, version),
        ApiKey::OffsetForLeaderEpoch => {
            use offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
            let topics = facts.topics(api)?.iter().map(|t| {
                OffsetForLeaderTopic::default()
                    .with_topic(topic_name(t))
                    .with_partitions(vec![OffsetForLeaderPartition::default()])
            });
            OffsetForLeaderEpochRequest::default()
                .with_replica_id((-1).into())
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::AddPartitionsToTxn => {
            use add_partitions_to_txn_request::AddPartitionsToTxnTopic;
            let topics = facts
                .topics(api)?
                .iter()
                .map(|t| AddPartitionsToTxnTopic::default().with_name(topic_name(t)).with_partitions(vec![0]));
            AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(facts.transactional_id(api)?)
                .with_v3_and_below_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::AddOffsetsToTxn => AddOffsetsToTxnRequest::default()
            .with_transactional_id(facts.transactional_id(api)?)
            .with_group_id(facts.group(api)?)
            .encode(&mut body, version),
        ApiKey::EndTxn => {
            EndTxnRequest::default().with_transactional_id(facts.transactional_id(api)?).encode(&mut body, version)
        }
        ApiKey::TxnOffsetCommit => {
            use txn_offset_commit_request::{TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic};
            let topics = facts.topics(api)?.iter().map(|t| {
                TxnOffsetCommitRequestTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(vec![TxnOffsetCommitRequestPartition::default()])
            });
            TxnOffsetCommitRequest::default()
                .with_transactional_id(facts.transactional_id(api)?)
                .with_group_id(facts.group(api)?)
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::DescribeConfigs => {
            use describe_configs_request::DescribeConfigsResource;
            let resources = config_targets(facts).map(|(kind, name)| {
                DescribeConfigsResource::default().with_resource_type(kind).with_resource_name(s(&name))
            });
            DescribeConfigsRequest::default().with_resources(resources.collect()).encode(&mut body, version)
        }
        ApiKey::AlterConfigs => {
            use alter_configs_request::AlterConfigsResource;
            let resources = config_targets(facts).map(|(kind, name)| {
                AlterConfigsResource::default().with_resource_type(kind).with_resource_name(s(&name))
            });
            AlterConfigsRequest::default().with_resources(resources.collect()).encode(&mut body, version)
        }
        ApiKey::IncrementalAlterConfigs => {
            use incremental_alter_configs_request::AlterConfigsResource;
            let resources = config_targets(facts).map(|(kind, name)| {
                AlterConfigsResource::default().with_resource_type(kind).with_resource_name(s(&name))
            });
            IncrementalAlterConfigsRequest::default().with_resources(resources.collect()).encode(&mut body, version)
        }
        ApiKey::CreatePartitions => {
            use create_partitions_request::CreatePartitionsTopic;
            let topics = facts
                .topics(api)?
                .iter()
                .map(|t| CreatePartitionsTopic::default().with_name(topic_name(t)).with_count(2));
            CreatePartitionsRequest::default().with_topics(topics.collect()).encode(&mut body, version)
        }
        ApiKey::OffsetDelete => {
            use offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
            let topics = facts.topics(api)?.iter().map(|t| {
                OffsetDeleteRequestTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(vec![OffsetDeleteRequestPartition::default()])
            });
            OffsetDeleteRequest::default()
                .with_group_id(facts.group(api)?)
                .with_topics(topics.collect())
                .encode(&mut body, version)
        }
        ApiKey::DescribeProducers => {
            use describe_producers_request::TopicRequest;
            let topics = facts
                .topics(api)?
                .iter()
                .map(|t| TopicRequest::default().with_name(topic_name(t)).with_partition_indexes(vec![0]));
            DescribeProducersRequest::default().with_topics(topics.collect()).encode(&mut body, version)
        }
        ApiKey::DescribeTransactions => DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![facts.transactional_id(api)?])
            .encode(&mut body, version),
        // Cluster-only APIs (and APIs the filter refuses): the filter decides them without reading the body.
        _ => Ok(()),
    };
    encoded.map_err(|e| MissingFact(format!("cannot encode {api} v{version}: {e}")))?;
    Ok(body)
}

/// Resources of a configs request: each topic, the group, or the brokers (cluster) when neither is given.
fn config_targets(facts: &RequestFacts) -> impl Iterator<Item = (i8, String)> + '_ {
    let topics = facts.topics.iter().map(|t| (CONFIG_TOPIC, t.clone()));
    let group = facts.group.iter().map(|g| (CONFIG_GROUP, g.clone()));
    let broker = (facts.topics.is_empty() && facts.group.is_none()).then(|| (CONFIG_BROKER, "0".to_string()));
    topics.chain(group).chain(broker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_mtls_filter::classify::{classify, Classification};
    use kafka_mtls_filter::protocol::api::{min_version, ENTRIES};

    fn full_facts() -> RequestFacts {
        RequestFacts {
            topics: vec!["orders".into(), "payments".into()],
            group: Some("billing".into()),
            transactional_id: Some("tx-1".into()),
        }
    }

    /// Every API the filter handles encodes at every supported version into a body the filter classifies.
    #[test]
    fn every_supported_api_and_version_classifies() {
        for entry in ENTRIES.iter().filter(|e| e.max_version >= 0) {
            let Ok(key) = ApiKey::try_from(entry.key) else { continue };
            for version in min_version(entry.key)..=entry.max_version {
                let body = encode_request(key, version, &full_facts())
                    .unwrap_or_else(|e| panic!("{} v{version}: {}", entry.name, e.0));
                let classification = classify(entry.key, version, &body, body.len());
                // By id (Produce v13, Fetch v13+): decided on names learned from a broker the CLI has not.
                let by_id = (matches!(key, ApiKey::Produce | ApiKey::Fetch) && version >= 13)
                    || matches!(key, ApiKey::ShareFetch | ApiKey::ShareAcknowledge);
                assert!(
                    matches!(classification, Classification::Checks { .. } | Classification::Unchecked)
                        || (by_id && matches!(classification, Classification::UnknownTopicIds { .. })),
                    "{} v{version}: {classification:?}",
                    entry.name
                );
            }
        }
    }

    #[test]
    fn missing_facts_are_named() {
        let none = RequestFacts::default();
        let err = encode_request(ApiKey::Produce, 9, &none).unwrap_err();
        assert!(err.0.contains("--topic"), "{err:?}");
        let err = encode_request(ApiKey::JoinGroup, 5, &none).unwrap_err();
        assert!(err.0.contains("--group"), "{err:?}");
        let err = encode_request(ApiKey::EndTxn, 3, &none).unwrap_err();
        assert!(err.0.contains("--transactional-id"), "{err:?}");
    }
}

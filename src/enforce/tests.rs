//! Every error response, byte for byte against kafka-protocol's encoding of the same response (`oracle`),
//! at every supported version, for empty and populated requests and two sets of verdicts.

use super::{error_response, oracle};
use crate::protocol::acl::ResourceType;
use crate::protocol::api::{min_version, ENTRIES};
use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn t(v: &str) -> TopicName {
    TopicName(s(v))
}

/// Topic "denied" 29, group "g" 30, cluster 31, transactional id "tx" 53.
fn strict(resource_type: ResourceType, name: &str) -> i16 {
    match (resource_type, name) {
        (ResourceType::Topic, "denied") => 29,
        (ResourceType::Group, "g") => 30,
        (ResourceType::Cluster, _) => 31,
        (ResourceType::TransactionalId, "tx") => 53,
        _ => 0,
    }
}

/// Only topic "denied" refused (what partial requests ask).
fn topics_only(resource_type: ResourceType, name: &str) -> i16 {
    if resource_type == ResourceType::Topic && name == "denied" {
        29
    } else {
        0
    }
}

/// Encodes `m` at `v`, or nothing when a populated field does not exist at `v`.
fn enc<T: Encodable>(m: &T, v: i16) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    m.encode(&mut buf, v).ok().map(|_| buf)
}

/// Populated requests of `key` at `v`: every array holds an allowed and a denied element.
fn populated(key: ApiKey, v: i16) -> Vec<Vec<u8>> {
    let topics = ["ok", "denied"];
    let groups = || vec![GroupId(s("ok-group")), GroupId(s("g"))];
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    match key {
        ApiKey::Produce => {
            use produce_request::{PartitionProduceData, TopicProduceData};
            for txn in [None, Some("tx"), Some("other-tx")] {
                let data = |name: &str| {
                    TopicProduceData::default().with_name(t(name)).with_partition_data(vec![
                        PartitionProduceData::default().with_index(0).with_records(Some(Bytes::from_static(b"xyz"))),
                        PartitionProduceData::default().with_index(4),
                    ])
                };
                let req = ProduceRequest::default()
                    .with_transactional_id(txn.map(|x| TransactionalId(s(x))))
                    .with_acks(-1)
                    .with_topic_data(topics.iter().map(|n| data(n)).collect());
                out.push(enc(&req, v));
            }
        }
        ApiKey::Fetch => {
            use fetch_request::{FetchPartition, FetchTopic};
            for replica in [-1, 3] {
                let req = FetchRequest::default().with_replica_id(BrokerId(replica)).with_topics(
                    topics
                        .iter()
                        .map(|n| {
                            FetchTopic::default().with_topic(t(n)).with_partitions(vec![
                                FetchPartition::default().with_partition(1),
                                FetchPartition::default().with_partition(7),
                            ])
                        })
                        .collect(),
                );
                out.push(enc(&req, v));
            }
        }
        ApiKey::ListOffsets => {
            use list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
            let req = ListOffsetsRequest::default().with_topics(
                topics
                    .iter()
                    .map(|n| {
                        ListOffsetsTopic::default()
                            .with_name(t(n))
                            .with_partitions(vec![ListOffsetsPartition::default().with_partition_index(2)])
                    })
                    .collect(),
            );
            out.push(enc(&req, v));
        }
        ApiKey::Metadata => {
            use metadata_request::MetadataRequestTopic;
            let named = topics.iter().map(|n| MetadataRequestTopic::default().with_name(Some(t(n)))).collect();
            out.push(enc(&MetadataRequest::default().with_topics(Some(named)), v));
            out.push(enc(&MetadataRequest::default().with_topics(None), v));
        }
        ApiKey::OffsetCommit => {
            use offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
            for group in ["ok-group", "g"] {
                let req = OffsetCommitRequest::default().with_group_id(GroupId(s(group))).with_topics(
                    topics
                        .iter()
                        .map(|n| {
                            OffsetCommitRequestTopic::default().with_name(t(n)).with_partitions(vec![
                                OffsetCommitRequestPartition::default().with_partition_index(3),
                                OffsetCommitRequestPartition::default().with_partition_index(5),
                            ])
                        })
                        .collect(),
                );
                out.push(enc(&req, v));
            }
        }
        ApiKey::OffsetFetch => {
            use offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics};
            for group in ["ok-group", "g"] {
                let named: Vec<_> = topics
                    .iter()
                    .map(|n| OffsetFetchRequestTopic::default().with_name(t(n)).with_partition_indexes(vec![0, 9]))
                    .collect();
                for list in [Some(named), None] {
                    out.push(enc(&OffsetFetchRequest::default().with_group_id(GroupId(s(group))).with_topics(list), v));
                }
            }
            let group = |id: &str, list: Option<Vec<OffsetFetchRequestTopics>>| {
                OffsetFetchRequestGroup::default().with_group_id(GroupId(s(id))).with_topics(list)
            };
            let named: Vec<_> = topics
                .iter()
                .map(|n| OffsetFetchRequestTopics::default().with_name(t(n)).with_partition_indexes(vec![0, 9]))
                .collect();
            let groups = vec![group("ok-group", Some(named.clone())), group("g", Some(named)), group("ok2", None)];
            out.push(enc(&OffsetFetchRequest::default().with_groups(groups), v));
        }
        ApiKey::FindCoordinator => {
            for (key_type, key) in [(0, "g"), (0, "ok-group"), (1, "tx"), (1, "ok-tx")] {
                let req = FindCoordinatorRequest::default()
                    .with_key_type(key_type)
                    .with_key(s(key))
                    .with_coordinator_keys(vec![s(key), s("other")]);
                out.push(enc(&req, v));
                out.push(enc(&FindCoordinatorRequest::default().with_key_type(key_type).with_key(s(key)), v));
            }
        }
        ApiKey::JoinGroup => {
            let req = JoinGroupRequest::default().with_group_id(GroupId(s("g"))).with_member_id(s("member-1"));
            out.push(enc(&req, v));
        }
        ApiKey::Heartbeat => out.push(enc(&HeartbeatRequest::default().with_group_id(GroupId(s("g"))), v)),
        ApiKey::LeaveGroup => out.push(enc(&LeaveGroupRequest::default().with_group_id(GroupId(s("g"))), v)),
        ApiKey::SyncGroup => out.push(enc(&SyncGroupRequest::default().with_group_id(GroupId(s("g"))), v)),
        ApiKey::DescribeGroups => out.push(enc(&DescribeGroupsRequest::default().with_groups(groups()), v)),
        ApiKey::DeleteGroups => out.push(enc(&DeleteGroupsRequest::default().with_groups_names(groups()), v)),
        ApiKey::ConsumerGroupDescribe => {
            out.push(enc(&ConsumerGroupDescribeRequest::default().with_group_ids(groups()), v))
        }
        ApiKey::ShareGroupDescribe => out.push(enc(&ShareGroupDescribeRequest::default().with_group_ids(groups()), v)),
        ApiKey::ConsumerGroupHeartbeat => {
            let names: Vec<TopicName> = topics.iter().map(|n| t(n)).collect();
            let req = ConsumerGroupHeartbeatRequest::default().with_group_id(GroupId(s("g"))).with_member_id(s("m-1"));
            out.push(enc(&req.clone().with_subscribed_topic_names(Some(names)), v));
            out.push(enc(&req.clone().with_group_id(GroupId(s("ok-group"))), v));
            if v >= 1 {
                out.push(enc(&req.with_subscribed_topic_regex(Some(s("it-.*"))), v));
            }
        }
        ApiKey::ShareGroupHeartbeat => {
            let names: Vec<TopicName> = topics.iter().map(|n| t(n)).collect();
            let req = ShareGroupHeartbeatRequest::default().with_group_id(GroupId(s("ok-group")));
            out.push(enc(&req.clone().with_member_id(s("m-1")).with_subscribed_topic_names(Some(names.clone())), v));
            out.push(enc(&req.clone().with_subscribed_topic_names(Some(names)), v)); // empty member id
            out.push(enc(&req.with_group_id(GroupId(s("g"))).with_member_id(s("m-1")), v));
        }
        ApiKey::CreateTopics => {
            use create_topics_request::CreatableTopic;
            let list = topics.iter().map(|n| CreatableTopic::default().with_name(t(n))).collect();
            out.push(enc(&CreateTopicsRequest::default().with_topics(list), v));
        }
        ApiKey::DeleteTopics => {
            use delete_topics_request::DeleteTopicState;
            let names = topics.iter().map(|n| t(n)).collect();
            out.push(enc(&DeleteTopicsRequest::default().with_topic_names(names), v));
            let states = topics.iter().map(|n| DeleteTopicState::default().with_name(Some(t(n)))).collect();
            out.push(enc(&DeleteTopicsRequest::default().with_topics(states), v));
        }
        ApiKey::DeleteRecords => {
            use delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
            let list = topics
                .iter()
                .map(|n| {
                    DeleteRecordsTopic::default()
                        .with_name(t(n))
                        .with_partitions(vec![DeleteRecordsPartition::default().with_partition_index(6)])
                })
                .collect();
            out.push(enc(&DeleteRecordsRequest::default().with_topics(list), v));
        }
        ApiKey::InitProducerId => {
            for txn in [None, Some("tx"), Some("ok-tx")] {
                let req = InitProducerIdRequest::default().with_transactional_id(txn.map(|x| TransactionalId(s(x))));
                out.push(enc(&req, v));
            }
        }
        ApiKey::OffsetForLeaderEpoch => {
            use offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
            for replica in [-1, 2] {
                let list = topics
                    .iter()
                    .map(|n| {
                        OffsetForLeaderTopic::default()
                            .with_topic(t(n))
                            .with_partitions(vec![OffsetForLeaderPartition::default().with_partition(4)])
                    })
                    .collect();
                let req = OffsetForLeaderEpochRequest::default().with_replica_id(BrokerId(replica)).with_topics(list);
                out.push(enc(&req, v));
            }
        }
        ApiKey::AddPartitionsToTxn => {
            use add_partitions_to_txn_request::AddPartitionsToTxnTopic;
            for txn in ["tx", "ok-tx"] {
                for names in [&topics[..], &topics[..1]] {
                    let list = names
                        .iter()
                        .map(|n| AddPartitionsToTxnTopic::default().with_name(t(n)).with_partitions(vec![1, 2]))
                        .collect();
                    let req = AddPartitionsToTxnRequest::default()
                        .with_v3_and_below_transactional_id(TransactionalId(s(txn)))
                        .with_v3_and_below_topics(list);
                    out.push(enc(&req, v));
                }
            }
        }
        ApiKey::AddOffsetsToTxn => {
            for (txn, group) in [("tx", "g"), ("ok-tx", "g"), ("ok-tx", "ok-group")] {
                let req = AddOffsetsToTxnRequest::default()
                    .with_transactional_id(TransactionalId(s(txn)))
                    .with_group_id(GroupId(s(group)));
                out.push(enc(&req, v));
            }
        }
        ApiKey::EndTxn => {
            out.push(enc(&EndTxnRequest::default().with_transactional_id(TransactionalId(s("tx"))), v));
        }
        ApiKey::TxnOffsetCommit => {
            use txn_offset_commit_request::{TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic};
            for (txn, group) in [("tx", "ok-group"), ("ok-tx", "g"), ("ok-tx", "ok-group")] {
                let list = topics
                    .iter()
                    .map(|n| {
                        TxnOffsetCommitRequestTopic::default()
                            .with_name(t(n))
                            .with_partitions(vec![TxnOffsetCommitRequestPartition::default().with_partition_index(8)])
                    })
                    .collect();
                let req = TxnOffsetCommitRequest::default()
                    .with_transactional_id(TransactionalId(s(txn)))
                    .with_group_id(GroupId(s(group)))
                    .with_topics(list);
                out.push(enc(&req, v));
            }
        }
        ApiKey::CreateAcls => {
            use create_acls_request::AclCreation;
            let req = CreateAclsRequest::default().with_creations(vec![AclCreation::default(), AclCreation::default()]);
            out.push(enc(&req, v));
        }
        ApiKey::DeleteAcls => {
            use delete_acls_request::DeleteAclsFilter;
            let req = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()]);
            out.push(enc(&req, v));
        }
        ApiKey::DescribeConfigs => {
            use describe_configs_request::DescribeConfigsResource;
            let list = [(2, "denied"), (2, "ok"), (4, "1"), (32, "g")]
                .iter()
                .map(|(rt, n)| DescribeConfigsResource::default().with_resource_type(*rt).with_resource_name(s(n)))
                .collect();
            out.push(enc(&DescribeConfigsRequest::default().with_resources(list), v));
        }
        ApiKey::AlterConfigs => {
            use alter_configs_request::AlterConfigsResource;
            let list = [(2, "denied"), (4, "1")]
                .iter()
                .map(|(rt, n)| AlterConfigsResource::default().with_resource_type(*rt).with_resource_name(s(n)))
                .collect();
            out.push(enc(&AlterConfigsRequest::default().with_resources(list), v));
        }
        ApiKey::IncrementalAlterConfigs => {
            use incremental_alter_configs_request::AlterConfigsResource;
            let list = [(2, "ok"), (32, "g")]
                .iter()
                .map(|(rt, n)| AlterConfigsResource::default().with_resource_type(*rt).with_resource_name(s(n)))
                .collect();
            out.push(enc(&IncrementalAlterConfigsRequest::default().with_resources(list), v));
        }
        ApiKey::CreatePartitions => {
            use create_partitions_request::CreatePartitionsTopic;
            let list = topics.iter().map(|n| CreatePartitionsTopic::default().with_name(t(n))).collect();
            out.push(enc(&CreatePartitionsRequest::default().with_topics(list), v));
        }
        ApiKey::OffsetDelete => {
            use offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
            for group in ["g", "ok-group"] {
                let list = topics
                    .iter()
                    .map(|n| {
                        OffsetDeleteRequestTopic::default()
                            .with_name(t(n))
                            .with_partitions(vec![OffsetDeleteRequestPartition::default().with_partition_index(1)])
                    })
                    .collect();
                let req = OffsetDeleteRequest::default().with_group_id(GroupId(s(group))).with_topics(list);
                out.push(enc(&req, v));
            }
        }
        ApiKey::DescribeProducers => {
            use describe_producers_request::TopicRequest;
            let list = topics
                .iter()
                .map(|n| TopicRequest::default().with_name(t(n)).with_partition_indexes(vec![0, 3]))
                .collect();
            out.push(enc(&DescribeProducersRequest::default().with_topics(list), v));
        }
        ApiKey::DescribeTransactions => {
            let ids = ["tx", "ok-tx"].iter().map(|x| TransactionalId(s(x))).collect();
            out.push(enc(&DescribeTransactionsRequest::default().with_transactional_ids(ids), v));
        }
        ApiKey::ShareFetch => {
            use share_fetch_request::{AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic};
            // By id: "ok" and "denied" learned as the broker would have taught them.
            crate::topic_ids::learn([7; 16], "ok");
            crate::topic_ids::learn([8; 16], "denied");
            let batch = AcknowledgementBatch::default()
                .with_first_offset(3)
                .with_last_offset(4)
                .with_acknowledge_types(vec![1]);
            for acks in [false, true] {
                let list: Vec<FetchTopic> = [7u8, 8]
                    .iter()
                    .map(|n| {
                        let mut acked = FetchPartition::default().with_partition_index(2);
                        if acks && *n == 8 {
                            acked = acked.with_acknowledgement_batches(vec![batch.clone()]);
                        }
                        FetchTopic::default()
                            .with_topic_id(uuid::Uuid::from_bytes([*n; 16]))
                            .with_partitions(vec![FetchPartition::default().with_partition_index(0), acked])
                    })
                    .collect();
                let forgotten = vec![ForgottenTopic::default()
                    .with_topic_id(uuid::Uuid::from_bytes([9; 16]))
                    .with_partitions(vec![1])];
                for group in ["g", "ok-group"] {
                    let req = ShareFetchRequest::default()
                        .with_group_id(Some(GroupId(s(group))))
                        .with_member_id(Some(s("m-1")))
                        .with_topics(list.clone())
                        .with_forgotten_topics_data(forgotten.clone());
                    out.push(enc(&req, v));
                }
            }
        }
        ApiKey::ShareAcknowledge => {
            use share_acknowledge_request::{AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch};
            crate::topic_ids::learn([7; 16], "ok");
            crate::topic_ids::learn([8; 16], "denied");
            let batch = AcknowledgementBatch::default()
                .with_first_offset(3)
                .with_last_offset(4)
                .with_acknowledge_types(vec![1]);
            let list: Vec<AcknowledgeTopic> = [7u8, 8]
                .iter()
                .map(|n| {
                    AcknowledgeTopic::default().with_topic_id(uuid::Uuid::from_bytes([*n; 16])).with_partitions(vec![
                        AcknowledgePartition::default()
                            .with_partition_index(1)
                            .with_acknowledgement_batches(vec![batch.clone()]),
                    ])
                })
                .collect();
            for group in ["g", "ok-group"] {
                let req = ShareAcknowledgeRequest::default()
                    .with_group_id(Some(GroupId(s(group))))
                    .with_member_id(Some(s("m-1")))
                    .with_topics(list.clone());
                out.push(enc(&req, v));
            }
        }
        ApiKey::AlterShareGroupOffsets => {
            use alter_share_group_offsets_request::{
                AlterShareGroupOffsetsRequestPartition, AlterShareGroupOffsetsRequestTopic,
            };
            crate::topic_ids::learn([8; 16], "denied");
            for group in ["g", "ok-group"] {
                let list = topics
                    .iter()
                    .map(|n| {
                        AlterShareGroupOffsetsRequestTopic::default().with_topic_name(t(n)).with_partitions(vec![
                            AlterShareGroupOffsetsRequestPartition::default()
                                .with_partition_index(5)
                                .with_start_offset(9),
                        ])
                    })
                    .collect();
                let req = AlterShareGroupOffsetsRequest::default().with_group_id(GroupId(s(group))).with_topics(list);
                out.push(enc(&req, v));
            }
        }
        ApiKey::DescribeShareGroupOffsets => {
            use describe_share_group_offsets_request::{
                DescribeShareGroupOffsetsRequestGroup as Group, DescribeShareGroupOffsetsRequestTopic as Topic,
            };
            let list: Vec<Topic> =
                topics.iter().map(|n| Topic::default().with_topic_name(t(n)).with_partitions(vec![0, 2])).collect();
            let req = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
                Group::default().with_group_id(GroupId(s("ok-group"))).with_topics(Some(list.clone())),
                Group::default().with_group_id(GroupId(s("g"))).with_topics(Some(list)),
                Group::default().with_group_id(GroupId(s("ok-all"))).with_topics(None),
            ]);
            out.push(enc(&req, v));
        }
        ApiKey::DeleteShareGroupOffsets => {
            use delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic;
            for group in ["g", "ok-group"] {
                let list = topics
                    .iter()
                    .map(|n| DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(t(n)))
                    .collect();
                let req = DeleteShareGroupOffsetsRequest::default().with_group_id(GroupId(s(group))).with_topics(list);
                out.push(enc(&req, v));
            }
        }
        ApiKey::DescribeTopicPartitions => {
            use describe_topic_partitions_request::TopicRequest;
            let list = topics.iter().map(|n| TopicRequest::default().with_name(t(n))).collect();
            out.push(enc(&DescribeTopicPartitionsRequest::default().with_topics(list), v));
        }
        _ => {}
    }
    out.into_iter().flatten().collect()
}

/// The default (empty) request of every API the filter answers, as kafka-protocol encodes it.
fn default_request(key: ApiKey, v: i16) -> Option<Vec<u8>> {
    macro_rules! defaults {
        ($($key:ident => $req:ty,)*) => {
            match key {
                $(ApiKey::$key => enc(&<$req>::default(), v),)*
                _ => None,
            }
        };
    }
    defaults! {
        Produce => ProduceRequest, Fetch => FetchRequest, ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest, OffsetCommit => OffsetCommitRequest, OffsetFetch => OffsetFetchRequest,
        FindCoordinator => FindCoordinatorRequest, JoinGroup => JoinGroupRequest, Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest, SyncGroup => SyncGroupRequest, DescribeGroups => DescribeGroupsRequest,
        ListGroups => ListGroupsRequest, CreateTopics => CreateTopicsRequest, DeleteTopics => DeleteTopicsRequest,
        DeleteRecords => DeleteRecordsRequest, InitProducerId => InitProducerIdRequest,
        OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, AddPartitionsToTxn => AddPartitionsToTxnRequest,
        AddOffsetsToTxn => AddOffsetsToTxnRequest, EndTxn => EndTxnRequest, TxnOffsetCommit => TxnOffsetCommitRequest,
        DescribeAcls => DescribeAclsRequest, CreateAcls => CreateAclsRequest, DeleteAcls => DeleteAclsRequest,
        DescribeConfigs => DescribeConfigsRequest, AlterConfigs => AlterConfigsRequest,
        DescribeLogDirs => DescribeLogDirsRequest, CreatePartitions => CreatePartitionsRequest,
        DeleteGroups => DeleteGroupsRequest, ElectLeaders => ElectLeadersRequest,
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        AlterPartitionReassignments => AlterPartitionReassignmentsRequest,
        ListPartitionReassignments => ListPartitionReassignmentsRequest, OffsetDelete => OffsetDeleteRequest,
        DescribeClientQuotas => DescribeClientQuotasRequest,
        DescribeUserScramCredentials => DescribeUserScramCredentialsRequest, Vote => VoteRequest,
        BeginQuorumEpoch => BeginQuorumEpochRequest, EndQuorumEpoch => EndQuorumEpochRequest,
        DescribeQuorum => DescribeQuorumRequest, AlterPartition => AlterPartitionRequest,
        UpdateFeatures => UpdateFeaturesRequest, Envelope => EnvelopeRequest, FetchSnapshot => FetchSnapshotRequest,
        DescribeCluster => DescribeClusterRequest, DescribeProducers => DescribeProducersRequest,
        BrokerRegistration => BrokerRegistrationRequest, BrokerHeartbeat => BrokerHeartbeatRequest,
        UnregisterBroker => UnregisterBrokerRequest, DescribeTransactions => DescribeTransactionsRequest,
        ListTransactions => ListTransactionsRequest, AllocateProducerIds => AllocateProducerIdsRequest,
        ConsumerGroupDescribe => ConsumerGroupDescribeRequest, ControllerRegistration => ControllerRegistrationRequest,
        ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest, ShareGroupHeartbeat => ShareGroupHeartbeatRequest,
        ShareGroupDescribe => ShareGroupDescribeRequest,
        AssignReplicasToDirs => AssignReplicasToDirsRequest, ListConfigResources => ListConfigResourcesRequest,
        DescribeTopicPartitions => DescribeTopicPartitionsRequest, AddRaftVoter => AddRaftVoterRequest,
        RemoveRaftVoter => RemoveRaftVoterRequest, UpdateRaftVoter => UpdateRaftVoterRequest,
        ShareFetch => ShareFetchRequest, ShareAcknowledge => ShareAcknowledgeRequest,
        AlterShareGroupOffsets => AlterShareGroupOffsetsRequest, DeleteShareGroupOffsets => DeleteShareGroupOffsetsRequest,
        DescribeShareGroupOffsets => DescribeShareGroupOffsetsRequest,
    }
}

#[test]
fn every_error_response_equals_kafka_protocols_encoding() {
    let unchecked = [17, 18, 36, 71, 72];
    let mut compared = 0;
    let mut failures = Vec::new();
    for entry in ENTRIES.iter().filter(|e| e.max_version >= 0 && !unchecked.contains(&e.key)) {
        let key = ApiKey::try_from(entry.key).expect("known key");
        for v in min_version(entry.key)..=entry.max_version {
            let mut requests = populated(key, v);
            requests.extend(default_request(key, v));
            assert!(!requests.is_empty(), "{key:?} v{v}: no request to compare");
            for request in &requests {
                for codes in [strict as fn(ResourceType, &str) -> i16, topics_only] {
                    let ours = error_response(entry.key, v, 77, request, &codes);
                    let theirs = oracle::error_response(entry.key, v, 77, request, &codes);
                    match (&ours, &theirs) {
                        (Ok(a), Ok(b)) if a == b => compared += 1,
                        (Err(_), Err(_)) => {}
                        _ if failures.iter().any(|f: &String| f.starts_with(&format!("{key:?} v{v}:"))) => {}
                        _ => failures.push(format!("{key:?} v{v}: ours {ours:02x?}\n  kafka-protocol {theirs:02x?}")),
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
    assert!(compared > 1000, "only {compared} responses compared");
}

#[test]
fn group_protocol_pieces_equal_kafka_protocols_encoding() {
    use consumer_group_describe_response::DescribedGroup as ConsumerGroup;
    use share_group_describe_response::DescribedGroup as ShareGroup;
    let message = Some(s(super::UNDESCRIBABLE_ASSIGNMENT));
    for v in 0..=1 {
        let theirs = ConsumerGroupHeartbeatResponse::default().with_error_code(42).with_error_message(Some(s("why")));
        let mut body = 9i32.to_be_bytes().to_vec();
        body.push(0); // response header tags
        theirs.encode(&mut body, v).expect("encode");
        let mut expected = (body.len() as i32).to_be_bytes().to_vec();
        expected.extend(body);
        assert_eq!(super::heartbeat_refusal(v, 9, 42, "why"), expected, "v{v}");

        let group = ConsumerGroup::default()
            .with_error_code(29)
            .with_error_message(message.clone())
            .with_group_id(GroupId(s("grp")))
            .with_authorized_operations(i32::MIN);
        let mut expected = Vec::new();
        group.encode(&mut expected, v).expect("encode");
        assert_eq!(super::undescribable_group(ApiKey::ConsumerGroupDescribe as i16, v, "grp"), expected, "v{v}");
    }
    let group = ShareGroup::default()
        .with_error_code(29)
        .with_error_message(message)
        .with_group_id(GroupId(s("grp")))
        .with_authorized_operations(i32::MIN);
    let mut expected = Vec::new();
    group.encode(&mut expected, 1).expect("encode");
    assert_eq!(super::undescribable_group(ApiKey::ShareGroupDescribe as i16, 1, "grp"), expected);
}

/// The filter's DescribeTopicPartitions pieces (`session::visibility`): a refused topic appended to a broker's
/// answer, and the whole answer when nothing is left to ask.
#[test]
fn describe_topic_partitions_pieces_equal_kafka_protocols_encoding() {
    use describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic as Topic;
    let refused = |name: &str| {
        Topic::default()
            .with_error_code(29)
            .with_name(Some(TopicName(s(name))))
            .with_topic_authorized_operations(i32::MIN)
    };
    let v = 0;
    let mut expected = Vec::new();
    refused("secret").encode(&mut expected, v).expect("encode");
    assert_eq!(super::describe_topic_partitions_refused_topic(v, "secret"), expected);

    for names in [&[][..], &["a"], &["secret", "z.topic"]] {
        let theirs = DescribeTopicPartitionsResponse::default().with_topics(names.iter().map(|n| refused(n)).collect());
        let mut body = 9i32.to_be_bytes().to_vec();
        body.push(0); // response header tags
        theirs.encode(&mut body, v).expect("encode");
        let mut expected = (body.len() as i32).to_be_bytes().to_vec();
        expected.extend(body);
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        assert_eq!(super::describe_topic_partitions_refused(v, 9, &names), expected, "{names:?}");
    }
}

/// The share groups' answers are written (not both refused) for every populated request, so the comparison
/// above covers them.
#[test]
fn share_group_answers_are_compared() {
    for key in
        [ApiKey::ShareFetch, ApiKey::ShareAcknowledge, ApiKey::AlterShareGroupOffsets, ApiKey::DeleteShareGroupOffsets]
    {
        let v = min_version(key as i16);
        let requests = populated(key, v);
        assert!(!requests.is_empty(), "{key:?}");
        for request in &requests {
            for codes in [strict as fn(ResourceType, &str) -> i16, topics_only] {
                let ours = error_response(key as i16, v, 77, request, &codes).expect("answered");
                assert_eq!(Ok(ours), oracle::error_response(key as i16, v, 77, request, &codes), "{key:?}");
            }
        }
    }
}

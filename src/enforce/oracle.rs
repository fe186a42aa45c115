//! The filter's error responses as kafka-protocol encodes them (the encoders the filter used before its
//! own writer): the test oracle for `enforce`, byte for byte at every version.
#![allow(dead_code)]

use super::{first_error, Codes};
use crate::classify::{cluster_only_operation, walk_produce};
use crate::protocol::acl::ResourceType;
use crate::protocol::config_resource::config_resource;
use crate::protocol::layout::decode_checked;
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_acls_response::DeleteAclsFilterResult;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

/// Kafka's "authorized operations not requested/known" marker.
const NO_AUTHORIZED_OPERATIONS: i32 = i32::MIN;

/// Builds the complete response frame (4-byte size, response header, body) answering a denied request.
/// `body` is the complete request body (after the request header). `error_for(resource_type, name)` gives
/// the error code for each named resource in the request (e.g. 29 TOPIC_AUTHORIZATION_FAILED);
/// request-level errors use the code for the request's main resource.
pub(crate) fn error_response(
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &[u8],
    error_for: &dyn Fn(ResourceType, &str) -> i16,
) -> Result<Vec<u8>, String> {
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    let max = crate::protocol::api::lookup(api_key).map_or(-1, |e| e.max_version);
    if api_version < crate::protocol::api::min_version(api_key) || api_version > max {
        return Err(format!("{key:?} v{api_version} is not supported"));
    }
    let e = Codes(error_for);
    let v = api_version;
    let frame = |body: &dyn Encode| frame(key, v, correlation_id, body);
    match key {
        ApiKey::Produce => frame(&produce(v, body, &e)?),
        ApiKey::Fetch => frame(&fetch(v, body, &e)?),
        ApiKey::ListOffsets => frame(&list_offsets(v, body, &e)?),
        ApiKey::Metadata => frame(&metadata(v, body, &e)?),
        ApiKey::OffsetCommit => frame(&offset_commit(v, body, &e)?),
        ApiKey::OffsetFetch => frame(&offset_fetch(v, body, &e)?),
        ApiKey::FindCoordinator => frame(&find_coordinator(v, body, &e)?),
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = decode_checked(api_key, v, body)?;
            let mut resp = JoinGroupResponse::default();
            resp.error_code = e.group(&req.group_id);
            resp.generation_id = -1;
            resp.member_id = req.member_id;
            // Non-nullable before v7.
            resp.protocol_name = if v >= 7 { None } else { Some(StrBytes::default()) };
            frame(&resp)
        }
        ApiKey::Heartbeat => {
            let req: HeartbeatRequest = decode_checked(api_key, v, body)?;
            frame(&HeartbeatResponse::default().with_error_code(e.group(&req.group_id)))
        }
        ApiKey::LeaveGroup => {
            let req: LeaveGroupRequest = decode_checked(api_key, v, body)?;
            frame(&LeaveGroupResponse::default().with_error_code(e.group(&req.group_id)))
        }
        ApiKey::SyncGroup => {
            let req: SyncGroupRequest = decode_checked(api_key, v, body)?;
            frame(&SyncGroupResponse::default().with_error_code(e.group(&req.group_id)))
        }
        ApiKey::DescribeGroups => {
            let req: DescribeGroupsRequest = decode_checked(api_key, v, body)?;
            let groups = req
                .groups
                .into_iter()
                .map(|group| {
                    let mut described = DescribedGroup::default();
                    described.error_code = e.group(&group);
                    described.group_id = group;
                    if v >= 3 {
                        described.authorized_operations = NO_AUTHORIZED_OPERATIONS;
                    }
                    described
                })
                .collect();
            frame(&DescribeGroupsResponse::default().with_groups(groups))
        }
        ApiKey::ListGroups => {
            // Kafka answers a principal that may describe no group with an empty listing, not an error.
            let _: ListGroupsRequest = decode_checked(api_key, v, body)?;
            frame(&ListGroupsResponse::default())
        }
        ApiKey::CreateTopics => {
            let req: CreateTopicsRequest = decode_checked(api_key, v, body)?;
            let topics = req
                .topics
                .into_iter()
                .map(|topic| {
                    let mut result = CreatableTopicResult::default();
                    result.error_code = e.topic(&topic.name);
                    if result.error_code != 0 && v >= 1 {
                        result.error_message = Some(StrBytes::from_static_str(super::CREATE_TOPICS_REFUSED));
                    }
                    result.name = topic.name;
                    if v >= 5 {
                        result.num_partitions = -1;
                        result.replication_factor = -1;
                    }
                    result
                })
                .collect();
            frame(&CreateTopicsResponse::default().with_topics(topics))
        }
        ApiKey::DeleteTopics => {
            let req: DeleteTopicsRequest = decode_checked(api_key, v, body)?;
            let by_name = req.topic_names.into_iter().map(|name| (Some(name), uuid::Uuid::nil()));
            let topics = by_name.chain(req.topics.into_iter().map(|t| match t.name {
                Some(name) => (Some(name), uuid::Uuid::nil()),
                None => (None, t.topic_id),
            }));
            let responses = topics
                .map(|(name, id)| {
                    let learned = crate::topic_ids::name_of(id.as_bytes()).map(|n| n.to_string());
                    let checked = name.as_ref().map(|n| n.to_string()).or(learned).unwrap_or_default();
                    let mut result = DeletableTopicResult::default();
                    result.error_code = e.topic(&checked);
                    result.name = name;
                    result.topic_id = id;
                    result
                })
                .collect();
            frame(&DeleteTopicsResponse::default().with_responses(responses))
        }
        ApiKey::DeleteRecords => {
            let req: DeleteRecordsRequest = decode_checked(api_key, v, body)?;
            let topics = req
                .topics
                .into_iter()
                .map(|topic| {
                    let code = e.topic(&topic.name);
                    let partitions = topic
                        .partitions
                        .iter()
                        .map(|p| {
                            DeleteRecordsPartitionResult::default()
                                .with_partition_index(p.partition_index)
                                .with_low_watermark(-1)
                                .with_error_code(code)
                        })
                        .collect();
                    DeleteRecordsTopicResult::default().with_name(topic.name).with_partitions(partitions)
                })
                .collect();
            frame(&DeleteRecordsResponse::default().with_topics(topics))
        }
        ApiKey::InitProducerId => {
            let req: InitProducerIdRequest = decode_checked(api_key, v, body)?;
            let code = match &req.transactional_id {
                Some(id) => e.txn(id),
                None => e.cluster(),
            };
            let resp = InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
            frame(&resp)
        }
        ApiKey::OffsetForLeaderEpoch => {
            let req: OffsetForLeaderEpochRequest = decode_checked(api_key, v, body)?;
            let follower = req.replica_id.0 >= 0;
            let topics = req
                .topics
                .into_iter()
                .map(|topic| {
                    // Kafka answers an unauthorized follower per partition as well.
                    let code = if follower { e.cluster_as_topic() } else { e.topic(&topic.topic) };
                    let partitions = topic
                        .partitions
                        .iter()
                        .map(|p| {
                            EpochEndOffset::default()
                                .with_partition(p.partition)
                                .with_error_code(code)
                                .with_leader_epoch(-1)
                                .with_end_offset(-1)
                        })
                        .collect();
                    OffsetForLeaderTopicResult::default().with_topic(topic.topic).with_partitions(partitions)
                })
                .collect();
            frame(&OffsetForLeaderEpochResponse::default().with_topics(topics))
        }
        ApiKey::AddPartitionsToTxn => {
            let req: AddPartitionsToTxnRequest = decode_checked(api_key, v, body)?;
            let txn_code = e.txn(&req.v3_and_below_transactional_id);
            let codes: Vec<i16> =
                req.v3_and_below_topics.iter().map(|t| first_error(&[txn_code, e.topic(&t.name)])).collect();
            let refused = codes.iter().any(|c| *c != 0);
            let results = req
                .v3_and_below_topics
                .into_iter()
                .zip(codes)
                .map(|(topic, code)| {
                    let code =
                        if code == 0 && refused { crate::protocol::error_code::OPERATION_NOT_ATTEMPTED } else { code };
                    let partitions = topic
                        .partitions
                        .iter()
                        .map(|p| {
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(code)
                        })
                        .collect();
                    AddPartitionsToTxnTopicResult::default().with_name(topic.name).with_results_by_partition(partitions)
                })
                .collect();
            frame(&AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results))
        }
        ApiKey::AddOffsetsToTxn => {
            let req: AddOffsetsToTxnRequest = decode_checked(api_key, v, body)?;
            let code = first_error(&[e.txn(&req.transactional_id), e.group(&req.group_id)]);
            frame(&AddOffsetsToTxnResponse::default().with_error_code(code))
        }
        ApiKey::EndTxn => {
            let req: EndTxnRequest = decode_checked(api_key, v, body)?;
            let mut resp = EndTxnResponse::default().with_error_code(e.txn(&req.transactional_id));
            if v >= 5 {
                resp.producer_id = ProducerId(-1);
                resp.producer_epoch = -1;
            }
            frame(&resp)
        }
        ApiKey::TxnOffsetCommit => {
            let req: TxnOffsetCommitRequest = decode_checked(api_key, v, body)?;
            let head = first_error(&[e.txn(&req.transactional_id), e.group(&req.group_id)]);
            let topics = req
                .topics
                .into_iter()
                .map(|topic| {
                    let code = first_error(&[head, e.topic(&topic.name)]);
                    let partitions = topic
                        .partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect();
                    TxnOffsetCommitResponseTopic::default().with_name(topic.name).with_partitions(partitions)
                })
                .collect();
            frame(&TxnOffsetCommitResponse::default().with_topics(topics))
        }
        ApiKey::DescribeAcls => {
            let _: DescribeAclsRequest = decode_checked(api_key, v, body)?;
            frame(
                &DescribeAclsResponse::default().with_error_code(e.cluster()).with_error_message(message(e.cluster())),
            )
        }
        ApiKey::CreateAcls => {
            let req: CreateAclsRequest = decode_checked(api_key, v, body)?;
            let results = req
                .creations
                .iter()
                .map(|_| {
                    AclCreationResult::default().with_error_code(e.cluster()).with_error_message(message(e.cluster()))
                })
                .collect();
            frame(&CreateAclsResponse::default().with_results(results))
        }
        ApiKey::DeleteAcls => {
            let req: DeleteAclsRequest = decode_checked(api_key, v, body)?;
            let results = req
                .filters
                .iter()
                .map(|_| {
                    DeleteAclsFilterResult::default()
                        .with_error_code(e.cluster())
                        .with_error_message(message(e.cluster()))
                })
                .collect();
            frame(&DeleteAclsResponse::default().with_filter_results(results))
        }
        ApiKey::DescribeConfigs => {
            let req: DescribeConfigsRequest = decode_checked(api_key, v, body)?;
            let mut results = Vec::new();
            for resource in req.resources {
                let (resource_type, name) = config_resource(resource.resource_type, &resource.resource_name)?;
                results.push(
                    DescribeConfigsResult::default()
                        .with_error_code(e.code(resource_type, name))
                        .with_error_message(message(e.code(resource_type, name)))
                        .with_resource_type(resource.resource_type)
                        .with_resource_name(resource.resource_name),
                );
            }
            frame(&DescribeConfigsResponse::default().with_results(results))
        }
        ApiKey::AlterConfigs => {
            let req: AlterConfigsRequest = decode_checked(api_key, v, body)?;
            let mut responses = Vec::new();
            for resource in req.resources {
                let (resource_type, name) = config_resource(resource.resource_type, &resource.resource_name)?;
                responses.push(
                    AlterConfigsResourceResponse::default()
                        .with_error_code(e.code(resource_type, name))
                        .with_resource_type(resource.resource_type)
                        .with_resource_name(resource.resource_name),
                );
            }
            frame(&AlterConfigsResponse::default().with_responses(responses))
        }
        ApiKey::IncrementalAlterConfigs => {
            use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResult;
            let req: IncrementalAlterConfigsRequest = decode_checked(api_key, v, body)?;
            let mut responses = Vec::new();
            for resource in req.resources {
                let (resource_type, name) = config_resource(resource.resource_type, &resource.resource_name)?;
                responses.push(
                    IncrementalResult::default()
                        .with_error_code(e.code(resource_type, name))
                        .with_resource_type(resource.resource_type)
                        .with_resource_name(resource.resource_name),
                );
            }
            frame(&IncrementalAlterConfigsResponse::default().with_responses(responses))
        }
        ApiKey::CreatePartitions => {
            let req: CreatePartitionsRequest = decode_checked(api_key, v, body)?;
            let results = req
                .topics
                .into_iter()
                .map(|t| CreatePartitionsTopicResult::default().with_error_code(e.topic(&t.name)).with_name(t.name))
                .collect();
            frame(&CreatePartitionsResponse::default().with_results(results))
        }
        ApiKey::DeleteGroups => {
            let req: DeleteGroupsRequest = decode_checked(api_key, v, body)?;
            let results = req
                .groups_names
                .into_iter()
                .map(|g| DeletableGroupResult::default().with_error_code(e.group(&g)).with_group_id(g))
                .collect();
            frame(&DeleteGroupsResponse::default().with_results(results))
        }
        ApiKey::OffsetDelete => {
            let req: OffsetDeleteRequest = decode_checked(api_key, v, body)?;
            let group_code = e.group(&req.group_id);
            let topics = req
                .topics
                .into_iter()
                .map(|topic| {
                    let code = e.topic(&topic.name);
                    let partitions = topic
                        .partitions
                        .iter()
                        .map(|p| {
                            OffsetDeleteResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect();
                    OffsetDeleteResponseTopic::default().with_name(topic.name).with_partitions(partitions)
                })
                .collect();
            // A refused group fails the whole request (top level); otherwise partitions carry topic errors.
            let topics = if group_code != 0 { Vec::new() } else { topics };
            frame(&OffsetDeleteResponse::default().with_error_code(group_code).with_topics(topics))
        }
        ApiKey::DescribeCluster => {
            let _: DescribeClusterRequest = decode_checked(api_key, v, body)?;
            let resp = DescribeClusterResponse::default()
                .with_error_code(e.cluster())
                .with_controller_id(BrokerId(-1))
                .with_cluster_authorized_operations(NO_AUTHORIZED_OPERATIONS);
            frame(&resp)
        }
        ApiKey::DescribeProducers => {
            use kafka_protocol::messages::describe_producers_response::{PartitionResponse, TopicResponse};
            let req: DescribeProducersRequest = decode_checked(api_key, v, body)?;
            let topics = req
                .topics
                .into_iter()
                .map(|topic| {
                    let code = e.topic(&topic.name);
                    let partitions = topic
                        .partition_indexes
                        .iter()
                        .map(|p| PartitionResponse::default().with_partition_index(*p).with_error_code(code))
                        .collect();
                    TopicResponse::default().with_name(topic.name).with_partitions(partitions)
                })
                .collect();
            frame(&DescribeProducersResponse::default().with_topics(topics))
        }
        ApiKey::DescribeTransactions => {
            use kafka_protocol::messages::describe_transactions_response::TransactionState;
            let req: DescribeTransactionsRequest = decode_checked(api_key, v, body)?;
            let states = req
                .transactional_ids
                .into_iter()
                .map(|id| {
                    TransactionState::default()
                        .with_error_code(e.txn(&id))
                        .with_transactional_id(id)
                        .with_producer_id(ProducerId(0))
                        .with_producer_epoch(0)
                        .with_transaction_start_time_ms(-1)
                })
                .collect();
            frame(&DescribeTransactionsResponse::default().with_transaction_states(states))
        }
        ApiKey::ListTransactions => {
            // Like ListGroups: Kafka shows a principal nothing it may not describe, without an error.
            let _: ListTransactionsRequest = decode_checked(api_key, v, body)?;
            frame(&ListTransactionsResponse::default())
        }
        ApiKey::DescribeTopicPartitions => {
            // Kafka answers a topic the principal may not Describe with no partitions and the zero id.
            use kafka_protocol::messages::describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic;
            let req: DescribeTopicPartitionsRequest = decode_checked(api_key, v, body)?;
            let topics = req
                .topics
                .iter()
                .map(|t| {
                    DescribeTopicPartitionsResponseTopic::default()
                        .with_error_code(e.topic(&t.name))
                        .with_name(Some(t.name.clone()))
                        .with_topic_authorized_operations(i32::MIN)
                })
                .collect();
            frame(&DescribeTopicPartitionsResponse::default().with_topics(topics))
        }
        ApiKey::ConsumerGroupDescribe => {
            use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as ConsumerGroup;
            let req: ConsumerGroupDescribeRequest = decode_checked(api_key, v, body)?;
            let groups = req
                .group_ids
                .into_iter()
                .map(|g| {
                    ConsumerGroup::default()
                        .with_error_code(e.group(&g))
                        .with_group_id(g)
                        .with_authorized_operations(NO_AUTHORIZED_OPERATIONS)
                })
                .collect();
            frame(&ConsumerGroupDescribeResponse::default().with_groups(groups))
        }
        ApiKey::ElectLeaders => {
            use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
            let req: ElectLeadersRequest = decode_checked(api_key, v, body)?;
            let code = e.cluster();
            let results = req
                .topic_partitions
                .unwrap_or_default()
                .into_iter()
                .map(|t| {
                    let partitions = t
                        .partitions
                        .into_iter()
                        .map(|p| {
                            PartitionResult::default()
                                .with_partition_id(p)
                                .with_error_code(code)
                                .with_error_message(Some("Cluster authorization failed.".into()))
                        })
                        .collect();
                    ReplicaElectionResult::default().with_topic(t.topic).with_partition_result(partitions)
                })
                .collect();
            let top_level = if v >= 1 { code } else { 0 };
            frame(&ElectLeadersResponse::default().with_error_code(top_level).with_replica_election_results(results))
        }
        ApiKey::ShareGroupDescribe => {
            use kafka_protocol::messages::share_group_describe_response::DescribedGroup as ShareGroup;
            let req: ShareGroupDescribeRequest = decode_checked(api_key, v, body)?;
            let groups = req
                .group_ids
                .into_iter()
                .map(|g| {
                    ShareGroup::default()
                        .with_error_code(e.group(&g))
                        .with_group_id(g)
                        .with_authorized_operations(NO_AUTHORIZED_OPERATIONS)
                })
                .collect();
            frame(&ShareGroupDescribeResponse::default().with_groups(groups))
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let req: ConsumerGroupHeartbeatRequest = decode_checked(api_key, v, body)?;
            let mut code = e.group(&req.group_id);
            if code == 0 {
                let topics: Vec<i16> = req.subscribed_topic_names.iter().flatten().map(|t| e.topic(t)).collect();
                code = first_error(&topics);
            }
            frame(&ConsumerGroupHeartbeatResponse::default().with_error_code(code))
        }
        ApiKey::ShareGroupHeartbeat => {
            let req: ShareGroupHeartbeatRequest = decode_checked(api_key, v, body)?;
            let mut code = e.group(&req.group_id);
            if code == 0 && (req.member_id.is_empty() || req.member_id.chars().count() > 36) {
                code = 42; // INVALID_REQUEST, before the topics (KafkaApis.isMemberIdValid)
            }
            if code == 0 {
                let topics: Vec<i16> = req.subscribed_topic_names.iter().flatten().map(|t| e.topic(t)).collect();
                code = first_error(&topics);
            }
            frame(&ShareGroupHeartbeatResponse::default().with_error_code(code))
        }
        ApiKey::ShareFetch => frame(&share_fetch(v, body, &e)?),
        ApiKey::ShareAcknowledge => frame(&share_acknowledge(v, body, &e)?),
        ApiKey::AlterShareGroupOffsets => frame(&alter_share_group_offsets(v, body, &e)?),
        ApiKey::DeleteShareGroupOffsets => frame(&delete_share_group_offsets(v, body, &e)?),
        ApiKey::DescribeShareGroupOffsets => frame(&describe_share_group_offsets(v, body, &e)?),
        _ if cluster_only_operation(key).is_some() => cluster_only(key, v, correlation_id, e.cluster()),
        _ => Err(format!("no error response for {key:?}")),
    }
}

/// Object-safe view of `Encodable` so one frame builder serves every response type.
trait Encode {
    fn encode_into(&self, buf: &mut Vec<u8>, version: i16) -> Result<(), String>;
}

impl<T: Encodable> Encode for T {
    fn encode_into(&self, buf: &mut Vec<u8>, version: i16) -> Result<(), String> {
        self.encode(buf, version).map_err(|e| format!("encode: {e}"))
    }
}

/// Size prefix, response header (its version follows the API and version), body.
fn frame(key: ApiKey, version: i16, correlation_id: i32, body: &dyn Encode) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; 4];
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode_into(&mut buf, key.response_header_version(version))?;
    body.encode_into(&mut buf, version)?;
    let size = u32::try_from(buf.len() - 4).map_err(|_| "response too large".to_string())?;
    buf.splice(0..4, size.to_be_bytes());
    Ok(buf)
}

fn produce(v: i16, body: &[u8], e: &Codes<'_>) -> Result<ProduceResponse, String> {
    let req = walk_produce(v, body, body.len(), true).map_err(|stop| format!("Produce: {stop:?}"))?;
    let txn_code = req.transactional_id.map_or(0, |id| e.txn(id));
    let responses = req
        .topics
        .into_iter()
        .map(|(key, partitions)| {
            let code = first_error(&[txn_code, e.topic(&crate::classify::topic_key_name(&key))]);
            let partition_responses = partitions
                .into_iter()
                .map(|index| {
                    PartitionProduceResponse::default()
                        .with_index(index)
                        .with_error_code(code)
                        .with_base_offset(-1)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(-1)
                })
                .collect();
            let (name, id) = match key {
                crate::classify::TopicKey::Name(name) => (name.unwrap_or_default().to_string(), [0; 16]),
                crate::classify::TopicKey::Id(id) => (String::new(), id),
            };
            TopicProduceResponse::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_topic_id(uuid::Uuid::from_bytes(id))
                .with_partition_responses(partition_responses)
        })
        .collect();
    Ok(ProduceResponse::default().with_responses(responses))
}

fn fetch(v: i16, body: &[u8], e: &Codes<'_>) -> Result<FetchResponse, String> {
    let req: FetchRequest = decode_checked(ApiKey::Fetch as i16, v, body)?;
    let follower = req.replica_id.0 >= 0;
    let responses = req
        .topics
        .into_iter()
        .map(|topic| {
            // By id (v13+): the learned name ("" for an id not learned).
            let name = if v >= 13 {
                crate::topic_ids::name_of(topic.topic_id.as_bytes()).map(|n| n.to_string()).unwrap_or_default()
            } else {
                topic.topic.to_string()
            };
            let code = if follower { e.cluster_as_topic() } else { e.topic(&name) };
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    PartitionData::default()
                        .with_partition_index(p.partition)
                        .with_error_code(code)
                        .with_high_watermark(-1)
                        .with_last_stable_offset(-1)
                        .with_log_start_offset(-1)
                        .with_aborted_transactions(None)
                        .with_records(Some(Default::default()))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(topic.topic)
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions)
        })
        .collect();
    // Top-level error NONE and session 0 (v7+ defaults): the errors are per partition, as in Kafka.
    Ok(FetchResponse::default().with_responses(responses))
}

fn list_offsets(v: i16, body: &[u8], e: &Codes<'_>) -> Result<ListOffsetsResponse, String> {
    let req: ListOffsetsRequest = decode_checked(ApiKey::ListOffsets as i16, v, body)?;
    let topics = req
        .topics
        .into_iter()
        .map(|topic| {
            let code = e.topic(&topic.name);
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let mut partition = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_timestamp(-1)
                        .with_offset(-1);
                    if v >= 4 {
                        partition.leader_epoch = -1;
                    }
                    partition
                })
                .collect();
            ListOffsetsTopicResponse::default().with_name(topic.name).with_partitions(partitions)
        })
        .collect();
    Ok(ListOffsetsResponse::default().with_topics(topics))
}

fn metadata(v: i16, body: &[u8], e: &Codes<'_>) -> Result<MetadataResponse, String> {
    let req: MetadataRequest = decode_checked(ApiKey::Metadata as i16, v, body)?;
    let mut topics = Vec::new();
    for topic in req.topics.into_iter().flatten() {
        let name = topic.name.ok_or("Metadata topic addressed by id")?;
        let mut result = MetadataResponseTopic::default().with_error_code(e.topic(&name)).with_name(Some(name));
        if v >= 8 {
            result.topic_authorized_operations = NO_AUTHORIZED_OPERATIONS;
        }
        topics.push(result);
    }
    let mut resp = MetadataResponse::default().with_topics(topics).with_controller_id(BrokerId(-1));
    if (8..=10).contains(&v) {
        resp.cluster_authorized_operations = NO_AUTHORIZED_OPERATIONS;
    }
    Ok(resp)
}

fn offset_commit(v: i16, body: &[u8], e: &Codes<'_>) -> Result<OffsetCommitResponse, String> {
    let req: OffsetCommitRequest = decode_checked(ApiKey::OffsetCommit as i16, v, body)?;
    let group_code = e.group(&req.group_id);
    let topics = req
        .topics
        .into_iter()
        .map(|topic| {
            let code = first_error(&[group_code, e.topic(&topic.name)]);
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default().with_name(topic.name).with_partitions(partitions)
        })
        .collect();
    Ok(OffsetCommitResponse::default().with_topics(topics))
}

fn offset_fetch(v: i16, body: &[u8], e: &Codes<'_>) -> Result<OffsetFetchResponse, String> {
    let req: OffsetFetchRequest = decode_checked(ApiKey::OffsetFetch as i16, v, body)?;
    let mut resp = OffsetFetchResponse::default();
    if v <= 7 {
        let group_code = e.group(&req.group_id);
        if v >= 2 {
            resp.error_code = group_code;
        }
        // A refused group fails the request at top level (v2+) with no topics, as Kafka does.
        if group_code == 0 || v < 2 {
            resp.topics = req
                .topics
                .into_iter()
                .flatten()
                .map(|topic| {
                    let code = first_error(&[group_code, e.topic(&topic.name)]);
                    let partitions = topic
                        .partition_indexes
                        .iter()
                        .map(|p| {
                            let mut partition = OffsetFetchResponsePartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(-1)
                                .with_metadata(Some(StrBytes::default()))
                                .with_error_code(code);
                            if v >= 5 {
                                partition.committed_leader_epoch = -1;
                            }
                            partition
                        })
                        .collect();
                    OffsetFetchResponseTopic::default().with_name(topic.name).with_partitions(partitions)
                })
                .collect();
        }
    } else {
        resp.groups = req
            .groups
            .into_iter()
            .map(|group| {
                let group_code = e.group(&group.group_id);
                let topics = if group_code != 0 {
                    Vec::new()
                } else {
                    group
                        .topics
                        .into_iter()
                        .flatten()
                        .map(|topic| {
                            let code = e.topic(&topic.name);
                            let partitions = topic
                                .partition_indexes
                                .iter()
                                .map(|p| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(-1)
                                        .with_committed_leader_epoch(-1)
                                        .with_metadata(Some(StrBytes::default()))
                                        .with_error_code(code)
                                })
                                .collect();
                            OffsetFetchResponseTopics::default().with_name(topic.name).with_partitions(partitions)
                        })
                        .collect()
                };
                OffsetFetchResponseGroup::default()
                    .with_group_id(group.group_id)
                    .with_error_code(group_code)
                    .with_topics(topics)
            })
            .collect();
    }
    Ok(resp)
}

fn find_coordinator(v: i16, body: &[u8], e: &Codes<'_>) -> Result<FindCoordinatorResponse, String> {
    let req: FindCoordinatorRequest = decode_checked(ApiKey::FindCoordinator as i16, v, body)?;
    let resource_type = match req.key_type {
        0 => ResourceType::Group,
        1 => ResourceType::TransactionalId,
        other => return Err(format!("coordinator key type {other}")),
    };
    let mut resp = FindCoordinatorResponse::default();
    if v >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                Coordinator::default()
                    .with_error_code(e.code(resource_type, &key))
                    .with_key(key)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
            })
            .collect();
    } else {
        resp.error_code = e.code(resource_type, &req.key);
        resp.node_id = BrokerId(-1);
        resp.port = -1;
    }
    Ok(resp)
}

/// Responses with one top-level error code (cluster-level APIs); `since` is the first version that has it.
fn cluster_only(key: ApiKey, v: i16, correlation_id: i32, code: i16) -> Result<Vec<u8>, String> {
    macro_rules! top_level {
        ($response:ty, $since:expr) => {{
            let mut resp = <$response>::default();
            if v >= $since {
                resp.error_code = code;
            }
            frame(key, v, correlation_id, &resp)
        }};
    }
    match key {
        ApiKey::DescribeLogDirs => top_level!(DescribeLogDirsResponse, 3),
        ApiKey::ListPartitionReassignments => top_level!(ListPartitionReassignmentsResponse, 0),
        ApiKey::DescribeUserScramCredentials => top_level!(DescribeUserScramCredentialsResponse, 0),
        ApiKey::DescribeQuorum => top_level!(DescribeQuorumResponse, 0),
        ApiKey::AlterPartitionReassignments => top_level!(AlterPartitionReassignmentsResponse, 0),
        ApiKey::UpdateFeatures => top_level!(UpdateFeaturesResponse, 0),
        ApiKey::UnregisterBroker => top_level!(UnregisterBrokerResponse, 0),
        ApiKey::AddRaftVoter => top_level!(AddRaftVoterResponse, 0),
        ApiKey::RemoveRaftVoter => top_level!(RemoveRaftVoterResponse, 0),
        ApiKey::DescribeClientQuotas => {
            // Kafka's answer to a refused request has null entries.
            let resp = DescribeClientQuotasResponse::default().with_error_code(code).with_entries(None);
            frame(key, v, correlation_id, &resp)
        }
        ApiKey::ListConfigResources => top_level!(ListConfigResourcesResponse, 0),
        ApiKey::Vote => top_level!(VoteResponse, 0),
        ApiKey::BeginQuorumEpoch => top_level!(BeginQuorumEpochResponse, 0),
        ApiKey::EndQuorumEpoch => top_level!(EndQuorumEpochResponse, 0),
        ApiKey::AlterPartition => top_level!(AlterPartitionResponse, 0),
        ApiKey::Envelope => top_level!(EnvelopeResponse, 0),
        ApiKey::FetchSnapshot => top_level!(FetchSnapshotResponse, 0),
        ApiKey::BrokerRegistration => top_level!(BrokerRegistrationResponse, 0),
        ApiKey::BrokerHeartbeat => top_level!(BrokerHeartbeatResponse, 0),
        ApiKey::AllocateProducerIds => top_level!(AllocateProducerIdsResponse, 0),
        ApiKey::ControllerRegistration => top_level!(ControllerRegistrationResponse, 0),
        ApiKey::AssignReplicasToDirs => top_level!(AssignReplicasToDirsResponse, 0),
        ApiKey::UpdateRaftVoter => top_level!(UpdateRaftVoterResponse, 0),
        _ => Err(format!("no error response for {key:?}")),
    }
}

/// Kafka's `Errors.message()` of the codes these answers carry one.
fn share_message(code: i16) -> Option<StrBytes> {
    match code {
        29 => Some(StrBytes::from_static_str("Topic authorization failed.")),
        30 => Some(StrBytes::from_static_str("Group authorization failed.")),
        _ => None,
    }
}

fn learned_name(id: &uuid::Uuid) -> String {
    crate::topic_ids::name_of(id.as_bytes()).map(|n| n.to_string()).unwrap_or_default()
}

fn share_fetch(v: i16, body: &[u8], e: &Codes<'_>) -> Result<ShareFetchResponse, String> {
    use kafka_protocol::messages::share_fetch_response::{PartitionData, ShareFetchableTopicResponse};
    let req: ShareFetchRequest = decode_checked(ApiKey::ShareFetch as i16, v, body)?;
    let group_code = e.group(req.group_id.as_deref().map(|g| g.as_str()).unwrap_or_default());
    let mut resp = ShareFetchResponse::default().with_error_code(group_code);
    // Any acknowledgement in the request: every partition's acknowledgement answered (KafkaApis).
    let acknowledging = req.topics.iter().any(|t| t.partitions.iter().any(|p| !p.acknowledgement_batches.is_empty()));
    if group_code == 0 {
        resp.responses = req
            .topics
            .iter()
            .map(|topic| {
                let code = e.topic(&learned_name(&topic.topic_id));
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let ack = if acknowledging { code } else { 0 };
                        PartitionData::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code)
                            .with_acknowledge_error_code(ack)
                            .with_records(Some(Bytes::new()))
                    })
                    .collect();
                ShareFetchableTopicResponse::default().with_topic_id(topic.topic_id).with_partitions(partitions)
            })
            .collect();
    }
    Ok(resp)
}

fn share_acknowledge(v: i16, body: &[u8], e: &Codes<'_>) -> Result<ShareAcknowledgeResponse, String> {
    use kafka_protocol::messages::share_acknowledge_response::{PartitionData, ShareAcknowledgeTopicResponse};
    let req: ShareAcknowledgeRequest = decode_checked(ApiKey::ShareAcknowledge as i16, v, body)?;
    let group_code = e.group(req.group_id.as_deref().map(|g| g.as_str()).unwrap_or_default());
    let mut resp = ShareAcknowledgeResponse::default().with_error_code(group_code);
    if group_code == 0 {
        resp.responses = req
            .topics
            .iter()
            .map(|topic| {
                let code = e.topic(&learned_name(&topic.topic_id));
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| PartitionData::default().with_partition_index(p.partition_index).with_error_code(code))
                    .collect();
                ShareAcknowledgeTopicResponse::default().with_topic_id(topic.topic_id).with_partitions(partitions)
            })
            .collect();
    }
    Ok(resp)
}

fn alter_share_group_offsets(v: i16, body: &[u8], e: &Codes<'_>) -> Result<AlterShareGroupOffsetsResponse, String> {
    use kafka_protocol::messages::alter_share_group_offsets_response::{
        AlterShareGroupOffsetsResponsePartition, AlterShareGroupOffsetsResponseTopic,
    };
    let req: AlterShareGroupOffsetsRequest = decode_checked(ApiKey::AlterShareGroupOffsets as i16, v, body)?;
    let group_code = e.group(&req.group_id);
    let mut resp = AlterShareGroupOffsetsResponse::default().with_error_code(group_code);
    if group_code != 0 {
        return Ok(resp.with_error_message(share_message(group_code)));
    }
    resp.responses = req
        .topics
        .into_iter()
        .map(|topic| {
            let code = e.topic(&topic.topic_name);
            let id = crate::topic_ids::id_of(&topic.topic_name).unwrap_or_default();
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    AlterShareGroupOffsetsResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_error_message(share_message(code))
                })
                .collect();
            AlterShareGroupOffsetsResponseTopic::default()
                .with_topic_name(topic.topic_name)
                .with_topic_id(uuid::Uuid::from_bytes(id))
                .with_partitions(partitions)
        })
        .collect();
    Ok(resp)
}

fn delete_share_group_offsets(v: i16, body: &[u8], e: &Codes<'_>) -> Result<DeleteShareGroupOffsetsResponse, String> {
    use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic;
    let req: DeleteShareGroupOffsetsRequest = decode_checked(ApiKey::DeleteShareGroupOffsets as i16, v, body)?;
    let group_code = e.group(&req.group_id);
    let mut resp = DeleteShareGroupOffsetsResponse::default().with_error_code(group_code);
    if group_code != 0 {
        return Ok(resp.with_error_message(share_message(group_code)));
    }
    resp.responses = req
        .topics
        .into_iter()
        .map(|topic| {
            let code = e.topic(&topic.topic_name);
            DeleteShareGroupOffsetsResponseTopic::default()
                .with_topic_name(topic.topic_name)
                .with_error_code(code)
                .with_error_message(share_message(code))
        })
        .collect();
    Ok(resp)
}

fn describe_share_group_offsets(
    v: i16,
    body: &[u8],
    e: &Codes<'_>,
) -> Result<DescribeShareGroupOffsetsResponse, String> {
    use kafka_protocol::messages::describe_share_group_offsets_response::{
        DescribeShareGroupOffsetsResponseGroup, DescribeShareGroupOffsetsResponsePartition,
        DescribeShareGroupOffsetsResponseTopic,
    };
    let req: DescribeShareGroupOffsetsRequest = decode_checked(ApiKey::DescribeShareGroupOffsets as i16, v, body)?;
    let groups = req
        .groups
        .into_iter()
        .map(|group| {
            let group_code = e.group(&group.group_id);
            let topics = if group_code != 0 {
                Vec::new()
            } else {
                group
                    .topics
                    .into_iter()
                    .flatten()
                    .map(|topic| {
                        let code = e.topic(&topic.topic_name);
                        let partitions = topic
                            .partitions
                            .iter()
                            .map(|p| {
                                DescribeShareGroupOffsetsResponsePartition::default()
                                    .with_partition_index(*p)
                                    .with_start_offset(-1)
                                    .with_error_code(code)
                                    .with_error_message(share_message(code))
                            })
                            .collect();
                        DescribeShareGroupOffsetsResponseTopic::default()
                            .with_topic_name(topic.topic_name)
                            .with_partitions(partitions)
                    })
                    .collect()
            };
            DescribeShareGroupOffsetsResponseGroup::default()
                .with_group_id(group.group_id)
                .with_topics(topics)
                .with_error_code(group_code)
        })
        .collect();
    Ok(DescribeShareGroupOffsetsResponse::default().with_groups(groups))
}

/// Kafka's message for a denied admin answer's code (`Errors.message()`, the exception's default text).
fn message(code: i16) -> Option<kafka_protocol::protocol::StrBytes> {
    super::writer::kafka_message(code).map(kafka_protocol::protocol::StrBytes::from_static_str)
}

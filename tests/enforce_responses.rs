//! Error responses decoded back with kafka-protocol at every supported version: frame length, response
//! header version, correlation id and the error codes Kafka would send.

use bytes::Bytes;
use kafka_mtls_filter::enforce::error_response;
use kafka_mtls_filter::protocol::acl::ResourceType;
use kafka_mtls_filter::protocol::api::{lookup, min_version, ENTRIES};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

mod common;
use common::{enc, s, topic, topic_id};

fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let max = lookup(key as i16).map(|e| e.max_version).unwrap_or(-1);
    min_version(key as i16)..=max
}

/// Topic "denied" 29, group "g" 30, cluster 31, transactional id 53; everything else allowed.
fn codes(resource_type: ResourceType, name: &str) -> i16 {
    match (resource_type, name) {
        (ResourceType::Topic, "denied") => 29,
        (ResourceType::Group, "g") => 30,
        (ResourceType::Cluster, _) => 31,
        (ResourceType::TransactionalId, _) => 53,
        _ => 0,
    }
}

/// Runs error_response and decodes the frame: checks size, header and correlation id, returns the body.
fn respond<R: Decodable>(key: ApiKey, v: i16, request: &[u8]) -> R {
    let frame = error_response(key as i16, v, 4242, request, &codes).unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"));
    let size = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(size, frame.len() - 4, "{key:?} v{v} frame size");
    let mut rest = Bytes::copy_from_slice(&frame[4..]);
    let header = ResponseHeader::decode(&mut rest, key.response_header_version(v)).expect("header");
    assert_eq!(header.correlation_id, 4242);
    let body = R::decode(&mut rest, v).unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"));
    assert!(rest.is_empty(), "{key:?} v{v}: {} trailing bytes", rest.len());
    body
}

#[test]
fn produce_answers_every_partition() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    for v in versions(ApiKey::Produce) {
        for txn in [None, Some("tx")] {
            let data = |name: &str| {
                TopicProduceData::default().with_name(topic(name)).with_topic_id(topic_id(name)).with_partition_data(
                    vec![
                        PartitionProduceData::default().with_index(0).with_records(Some(Bytes::from_static(b"xyz"))),
                        PartitionProduceData::default().with_index(4),
                    ],
                )
            };
            let request = ProduceRequest::default()
                .with_transactional_id(txn.map(|t| TransactionalId(s(t))))
                .with_acks(-1)
                .with_topic_data(vec![data("denied"), data("ok")]);
            let resp: ProduceResponse = respond(ApiKey::Produce, v, &enc(&request, v));
            let got: Vec<_> = resp
                .responses
                .iter()
                .flat_map(|t| {
                    // v13 answers by id: the name it was learned for.
                    let name = match kafka_mtls_filter::topic_ids::name_of(t.topic_id.as_bytes()) {
                        Some(name) if v >= 13 => name.to_string(),
                        _ => t.name.0.to_string(),
                    };
                    t.partition_responses.iter().map(move |p| (name.clone(), p.index, p.error_code))
                })
                .collect();
            let ok_code = if txn.is_some() { 53 } else { 0 };
            let denied_code = if txn.is_some() { 53 } else { 29 };
            assert_eq!(
                got,
                vec![
                    ("denied".into(), 0, denied_code),
                    ("denied".into(), 4, denied_code),
                    ("ok".into(), 0, ok_code),
                    ("ok".into(), 4, ok_code)
                ],
                "v{v}"
            );
        }
    }
}

#[test]
fn fetch_errors_per_partition_without_records() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    for v in versions(ApiKey::Fetch) {
        let request =
            FetchRequest::default().with_session_id(if v >= 7 { 9 } else { 0 }).with_topics(vec![FetchTopic::default(
            )
            .with_topic(topic("denied"))
            .with_topic_id(topic_id("denied"))
            .with_partitions(vec![FetchPartition::default().with_partition(3)])]);
        let resp: FetchResponse = respond(ApiKey::Fetch, v, &enc(&request, v));
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.session_id, 0);
        if v >= 13 {
            assert_eq!(resp.responses[0].topic_id, topic_id("denied"));
        }
        let partition = &resp.responses[0].partitions[0];
        assert_eq!((partition.partition_index, partition.error_code, partition.high_watermark), (3, 29, -1));
        assert_eq!(partition.records.as_ref().map(|r| r.len()).unwrap_or(0), 0);
    }
}

#[test]
fn metadata_list_offsets_and_topic_admin() {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    for v in versions(ApiKey::Metadata) {
        let request = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(topic("denied")))]));
        let resp: MetadataResponse = respond(ApiKey::Metadata, v, &enc(&request, v));
        assert_eq!(resp.topics.len(), 1);
        assert_eq!(resp.topics[0].error_code, 29, "v{v}");
        assert!(resp.brokers.is_empty());
    }
    for v in versions(ApiKey::ListOffsets) {
        let request = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic("denied"))
            .with_partitions(vec![ListOffsetsPartition::default().with_partition_index(2)])]);
        let resp: ListOffsetsResponse = respond(ApiKey::ListOffsets, v, &enc(&request, v));
        let p = &resp.topics[0].partitions[0];
        assert_eq!((p.partition_index, p.error_code, p.offset), (2, 29, -1));
    }
    for v in versions(ApiKey::CreateTopics) {
        let request = CreateTopicsRequest::default().with_topics(vec![
            CreatableTopic::default().with_name(topic("denied")),
            CreatableTopic::default().with_name(topic("ok")),
        ]);
        let resp: CreateTopicsResponse = respond(ApiKey::CreateTopics, v, &enc(&request, v));
        let got: Vec<_> = resp.topics.iter().map(|t| (t.name.0.to_string(), t.error_code)).collect();
        assert_eq!(got, vec![("denied".into(), 29), ("ok".into(), 0)]);
        // Kafka's message for a refused topic (KafkaApis), from v1 where the field exists.
        let messages: Vec<_> = resp.topics.iter().map(|t| t.error_message.as_ref().map(|m| m.to_string())).collect();
        if v >= 1 {
            assert_eq!(messages, vec![Some("Authorization failed.".into()), Some(String::new())]);
        }
    }
    for v in versions(ApiKey::DeleteTopics) {
        use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
        let request = if v >= 6 {
            DeleteTopicsRequest::default()
                .with_topics(vec![DeleteTopicState::default().with_name(Some(topic("denied")))])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![topic("denied")])
        };
        let resp: DeleteTopicsResponse = respond(ApiKey::DeleteTopics, v, &enc(&request, v));
        assert_eq!(resp.responses[0].error_code, 29);
    }
}

#[test]
fn group_apis_answer_group_authorization_failed() {
    use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    let group = || GroupId(s("g"));
    for v in versions(ApiKey::JoinGroup) {
        let request = JoinGroupRequest::default().with_group_id(group()).with_member_id(s("member-1"));
        let resp: JoinGroupResponse = respond(ApiKey::JoinGroup, v, &enc(&request, v));
        assert_eq!((resp.error_code, resp.generation_id, resp.member_id.to_string()), (30, -1, "member-1".into()));
    }
    for v in versions(ApiKey::SyncGroup) {
        let resp: SyncGroupResponse =
            respond(ApiKey::SyncGroup, v, &enc(&SyncGroupRequest::default().with_group_id(group()), v));
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::Heartbeat) {
        let resp: HeartbeatResponse =
            respond(ApiKey::Heartbeat, v, &enc(&HeartbeatRequest::default().with_group_id(group()), v));
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::LeaveGroup) {
        let resp: LeaveGroupResponse =
            respond(ApiKey::LeaveGroup, v, &enc(&LeaveGroupRequest::default().with_group_id(group()), v));
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::DescribeGroups) {
        let request = DescribeGroupsRequest::default().with_groups(vec![group(), GroupId(s("other"))]);
        let resp: DescribeGroupsResponse = respond(ApiKey::DescribeGroups, v, &enc(&request, v));
        assert_eq!(resp.groups.iter().map(|g| g.error_code).collect::<Vec<_>>(), vec![30, 0]);
    }
    for v in versions(ApiKey::ListGroups) {
        let resp: ListGroupsResponse = respond(ApiKey::ListGroups, v, &enc(&ListGroupsRequest::default(), v));
        assert_eq!((resp.error_code, resp.groups.len()), (0, 0));
    }
    for v in versions(ApiKey::OffsetCommit) {
        let request = OffsetCommitRequest::default().with_group_id(GroupId(s("open"))).with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(topic("denied"))
                .with_partitions(vec![OffsetCommitRequestPartition::default().with_partition_index(1)]),
        ]);
        let resp: OffsetCommitResponse = respond(ApiKey::OffsetCommit, v, &enc(&request, v));
        assert_eq!(resp.topics[0].partitions[0].error_code, 29);
        let request = request.with_group_id(group());
        let resp: OffsetCommitResponse = respond(ApiKey::OffsetCommit, v, &enc(&request, v));
        assert_eq!(resp.topics[0].partitions[0].error_code, 30);
    }
    for v in versions(ApiKey::OffsetFetch) {
        if v <= 7 {
            let request = OffsetFetchRequest::default().with_group_id(group()).with_topics(Some(vec![
                OffsetFetchRequestTopic::default().with_name(topic("t")).with_partition_indexes(vec![0]),
            ]));
            let resp: OffsetFetchResponse = respond(ApiKey::OffsetFetch, v, &enc(&request, v));
            if v >= 2 {
                assert_eq!(resp.error_code, 30);
            } else {
                assert_eq!(resp.topics[0].partitions[0].error_code, 30);
            }
        } else {
            let request = OffsetFetchRequest::default().with_groups(vec![
                OffsetFetchRequestGroup::default().with_group_id(group()),
                OffsetFetchRequestGroup::default().with_group_id(GroupId(s("open"))).with_topics(Some(vec![
                    OffsetFetchRequestTopics::default().with_name(topic("denied")).with_partition_indexes(vec![0]),
                ])),
            ]);
            let resp: OffsetFetchResponse = respond(ApiKey::OffsetFetch, v, &enc(&request, v));
            assert_eq!(resp.groups[0].error_code, 30);
            assert_eq!(resp.groups[1].error_code, 0);
            assert_eq!(resp.groups[1].topics[0].partitions[0].error_code, 29);
        }
    }
    for v in versions(ApiKey::FindCoordinator) {
        let request = if v >= 4 {
            FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g"), s("open")])
        } else {
            FindCoordinatorRequest::default().with_key(s("g"))
        };
        let resp: FindCoordinatorResponse = respond(ApiKey::FindCoordinator, v, &enc(&request, v));
        if v >= 4 {
            assert_eq!(resp.coordinators.iter().map(|c| c.error_code).collect::<Vec<_>>(), vec![30, 0]);
        } else {
            assert_eq!((resp.error_code, resp.node_id.0), (30, -1));
        }
    }
}

#[test]
fn transactional_and_cluster_apis() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    for v in versions(ApiKey::InitProducerId) {
        let resp: InitProducerIdResponse = respond(
            ApiKey::InitProducerId,
            v,
            &enc(&InitProducerIdRequest::default().with_transactional_id(Some(TransactionalId(s("tx")))), v),
        );
        assert_eq!((resp.error_code, resp.producer_id.0), (53, -1));
        let resp: InitProducerIdResponse =
            respond(ApiKey::InitProducerId, v, &enc(&InitProducerIdRequest::default().with_transactional_id(None), v));
        assert_eq!(resp.error_code, 31);
    }
    for v in versions(ApiKey::AddPartitionsToTxn) {
        let request =
            AddPartitionsToTxnRequest::default().with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic("denied"))
                .with_partitions(vec![0])]);
        let resp: AddPartitionsToTxnResponse = respond(ApiKey::AddPartitionsToTxn, v, &enc(&request, v));
        assert_eq!(resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code, 53);
    }
    for v in versions(ApiKey::EndTxn) {
        let resp: EndTxnResponse = respond(ApiKey::EndTxn, v, &enc(&EndTxnRequest::default(), v));
        assert_eq!(resp.error_code, 53);
    }
    for v in versions(ApiKey::DescribeAcls) {
        let resp: DescribeAclsResponse = respond(ApiKey::DescribeAcls, v, &enc(&DescribeAclsRequest::default(), v));
        assert_eq!(resp.error_code, 31);
    }
}

/// Every supported API at every version answers something kafka-protocol decodes, for a minimal request.
#[test]
fn every_supported_version_encodes() {
    macro_rules! each {
        ($($key:ident => $req:ty, $resp:ty;)*) => {$(
            for v in versions(ApiKey::$key) {
                let _: $resp = respond(ApiKey::$key, v, &enc(&<$req>::default(), v));
            }
        )*};
    }
    each! {
        DeleteRecords => DeleteRecordsRequest, DeleteRecordsResponse;
        OffsetForLeaderEpoch => OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse;
        AddOffsetsToTxn => AddOffsetsToTxnRequest, AddOffsetsToTxnResponse;
        TxnOffsetCommit => TxnOffsetCommitRequest, TxnOffsetCommitResponse;
        CreateAcls => CreateAclsRequest, CreateAclsResponse;
        DeleteAcls => DeleteAclsRequest, DeleteAclsResponse;
        DescribeConfigs => DescribeConfigsRequest, DescribeConfigsResponse;
        AlterConfigs => AlterConfigsRequest, AlterConfigsResponse;
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
        CreatePartitions => CreatePartitionsRequest, CreatePartitionsResponse;
        DeleteGroups => DeleteGroupsRequest, DeleteGroupsResponse;
        OffsetDelete => OffsetDeleteRequest, OffsetDeleteResponse;
        DescribeCluster => DescribeClusterRequest, DescribeClusterResponse;
        DescribeProducers => DescribeProducersRequest, DescribeProducersResponse;
        DescribeTransactions => DescribeTransactionsRequest, DescribeTransactionsResponse;
        ListTransactions => ListTransactionsRequest, ListTransactionsResponse;
        ConsumerGroupDescribe => ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse;
        DescribeLogDirs => DescribeLogDirsRequest, DescribeLogDirsResponse;
        ListPartitionReassignments => ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse;
        DescribeUserScramCredentials => DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse;
        DescribeQuorum => DescribeQuorumRequest, DescribeQuorumResponse;
        ElectLeaders => ElectLeadersRequest, ElectLeadersResponse;
        AlterPartitionReassignments => AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse;
        UpdateFeatures => UpdateFeaturesRequest, UpdateFeaturesResponse;
        UnregisterBroker => UnregisterBrokerRequest, UnregisterBrokerResponse;
        AddRaftVoter => AddRaftVoterRequest, AddRaftVoterResponse;
        RemoveRaftVoter => RemoveRaftVoterRequest, RemoveRaftVoterResponse;
        DescribeClientQuotas => DescribeClientQuotasRequest, DescribeClientQuotasResponse;
        ListConfigResources => ListConfigResourcesRequest, ListConfigResourcesResponse;
        Vote => VoteRequest, VoteResponse;
        BeginQuorumEpoch => BeginQuorumEpochRequest, BeginQuorumEpochResponse;
        EndQuorumEpoch => EndQuorumEpochRequest, EndQuorumEpochResponse;
        AlterPartition => AlterPartitionRequest, AlterPartitionResponse;
        Envelope => EnvelopeRequest, EnvelopeResponse;
        FetchSnapshot => FetchSnapshotRequest, FetchSnapshotResponse;
        BrokerRegistration => BrokerRegistrationRequest, BrokerRegistrationResponse;
        BrokerHeartbeat => BrokerHeartbeatRequest, BrokerHeartbeatResponse;
        AllocateProducerIds => AllocateProducerIdsRequest, AllocateProducerIdsResponse;
        ControllerRegistration => ControllerRegistrationRequest, ControllerRegistrationResponse;
        AssignReplicasToDirs => AssignReplicasToDirsRequest, AssignReplicasToDirsResponse;
        UpdateRaftVoter => UpdateRaftVoterRequest, UpdateRaftVoterResponse;
    }
}

/// Every table entry with a version is either unchecked or answerable.
#[test]
fn every_checked_api_in_the_table_has_an_error_response() {
    let unchecked = [17, 18, 36, 71, 72];
    for entry in ENTRIES.iter().filter(|e| e.max_version >= 0 && !unchecked.contains(&e.key)) {
        let result = error_response(entry.key, entry.max_version, 1, &[], &codes);
        // Empty bodies are malformed for most APIs; what matters is that the API is known to enforce.
        if let Err(e) = result {
            assert!(!e.contains("no error response"), "{}: {e}", entry.name);
        }
    }
}

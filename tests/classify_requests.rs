//! Classification of real requests (encoded by kafka-protocol at every supported version), the Produce
//! prefix walker at every split point, and random input.

use bytes::Bytes;
use kafka_mtls_filter::classify::{classify, Classification, Requirement};
use kafka_mtls_filter::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};
use kafka_mtls_filter::protocol::api::{lookup, min_version, ENTRIES};
use kafka_protocol::messages::*;

mod common;
use common::{enc, s, topic, topic_id};

fn req(op: Operation, resource_type: ResourceType, name: &str) -> Requirement<'_> {
    Requirement::of(Action { op, resource_type, name: name.into() })
}
fn checks(requirements: Vec<Requirement>) -> Classification {
    Classification::Checks { requirements: requirements.into(), expects_response: true }
}
fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let max = lookup(key as i16).map(|e| e.max_version).unwrap_or(-1);
    min_version(key as i16)..=max
}
fn classify_full(key: ApiKey, v: i16, body: &[u8]) -> Classification<'_> {
    classify(key as i16, v, body, body.len())
}

fn produce_request(v: i16, txn: Option<&str>, acks: i16, records: usize) -> Vec<u8> {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    let data = |name: &str, parts: &[i32]| {
        TopicProduceData::default().with_name(topic(name)).with_topic_id(topic_id(name)).with_partition_data(
            parts
                .iter()
                .map(|p| {
                    PartitionProduceData::default().with_index(*p).with_records(Some(Bytes::from(vec![7u8; records])))
                })
                .collect(),
        )
    };
    let r = ProduceRequest::default()
        .with_transactional_id(txn.map(|t| TransactionalId(s(t))))
        .with_acks(acks)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![data("orders", &[0, 1]), data("payments", &[2])]);
    enc(&r, v)
}

#[test]
fn produce_names_every_topic_and_the_transactional_id() {
    for v in versions(ApiKey::Produce) {
        let body = produce_request(v, Some("tx-1"), -1, 100);
        assert_eq!(
            classify_full(ApiKey::Produce, v, &body),
            checks(vec![
                req(Operation::Write, ResourceType::TransactionalId, "tx-1"),
                req(Operation::Write, ResourceType::Topic, "orders"),
                req(Operation::Write, ResourceType::Topic, "payments"),
            ]),
            "v{v}"
        );
        let body = produce_request(v, None, 0, 10);
        assert_eq!(
            classify_full(ApiKey::Produce, v, &body),
            Classification::Checks {
                requirements: vec![
                    req(Operation::Write, ResourceType::Topic, "orders"),
                    req(Operation::Write, ResourceType::Topic, "payments"),
                ]
                .into(),
                expects_response: false,
            },
            "acks=0 v{v}"
        );
    }
}

#[test]
fn produce_prefixes_are_need_more_or_the_final_answer() {
    for v in versions(ApiKey::Produce) {
        let body = produce_request(v, Some("tx"), 1, 40);
        let full = classify_full(ApiKey::Produce, v, &body);
        let mut decided_at = None;
        for split in 0..=body.len() {
            let c = classify(ApiKey::Produce as i16, v, &body[..split], body.len());
            if c == Classification::NeedMore {
                assert!(decided_at.is_none(), "v{v}: NeedMore at {split} after a decision");
            } else {
                assert_eq!(c, full, "v{v} split {split}");
                decided_at.get_or_insert(split);
            }
        }
        // Decided before the last partition's records arrived.
        assert!(decided_at.is_some_and(|at| at < body.len() - 40), "v{v}: decided at {decided_at:?}");
    }
}

#[test]
fn produce_with_large_records_is_decided_from_the_header_part() {
    let v = 12;
    let body = produce_request(v, None, -1, 4 << 20);
    // Everything but the last partition's records (and the trailing tagged fields).
    let prefix = &body[..body.len() - (4 << 20) - 2];
    assert!(matches!(classify(0, v, prefix, body.len()), Classification::Checks { .. }));
    assert_eq!(classify(0, v, &body[..200], body.len()), Classification::NeedMore);
}

#[test]
fn produce_lengths_past_the_body_are_malformed() {
    let v = 7;
    let body = produce_request(v, None, 1, 10);
    // The first partition's 10 record bytes start at 32: a 35-byte body cannot hold them.
    assert!(matches!(classify(0, v, &body[..35], 35), Classification::Unsupported(_)));
    assert!(matches!(classify(0, v, &body[..31], 31), Classification::Unsupported(_)));
}

#[test]
fn fetch_reads_topics_and_followers_need_cluster_action() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
    for v in versions(ApiKey::Fetch) {
        let mut r = FetchRequest::default().with_topics(vec![
            FetchTopic::default()
                .with_topic(topic("orders"))
                .with_topic_id(topic_id("orders"))
                .with_partitions(vec![FetchPartition::default().with_partition(0), FetchPartition::default()]),
            FetchTopic::default()
                .with_topic(topic("payments"))
                .with_topic_id(topic_id("payments"))
                .with_partitions(vec![FetchPartition::default()]),
        ]);
        if v >= 7 {
            r = r.with_forgotten_topics_data(vec![ForgottenTopic::default()
                .with_topic(topic("old"))
                .with_topic_id(topic_id("old"))
                .with_partitions(vec![1])]);
        }
        if v >= 11 {
            r = r.with_rack_id(s("rack-a"));
        }
        assert_eq!(
            classify_full(ApiKey::Fetch, v, &enc(&r, v)),
            checks(vec![
                req(Operation::Read, ResourceType::Topic, "orders"),
                req(Operation::Read, ResourceType::Topic, "payments")
            ]),
            "v{v}"
        );
        let follower = if v >= 15 {
            r.with_replica_state(fetch_request::ReplicaState::default().with_replica_id(BrokerId(2)))
        } else {
            r.with_replica_id(BrokerId(2))
        };
        assert_eq!(
            classify_full(ApiKey::Fetch, v, &enc(&follower, v)),
            checks(vec![req(Operation::ClusterAction, ResourceType::Cluster, CLUSTER_NAME)])
        );
    }
    assert_eq!(lookup(1).map(|e| e.max_version), Some(18));
}

#[test]
fn topic_ids_not_learned_are_resolved_first() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    let unknown = uuid::Uuid::from_bytes([0xee; 16]);
    let known = topic_id("orders");
    for v in 13..=18 {
        let r = FetchRequest::default().with_topics(vec![
            FetchTopic::default().with_topic_id(known).with_partitions(vec![FetchPartition::default()]),
            FetchTopic::default().with_topic_id(unknown).with_partitions(vec![FetchPartition::default()]),
        ]);
        assert_eq!(
            classify_full(ApiKey::Fetch, v, &enc(&r, v)),
            Classification::UnknownTopicIds { ids: vec![[0xee; 16]], expects_response: true },
            "v{v}"
        );
    }
    let r = produce_request(13, None, 0, 10);
    let mut unknown_produce = r.clone();
    // The first topic's id follows transactional_id (null), acks, timeout_ms and the topic count.
    unknown_produce[1 + 2 + 4 + 1..][..16].copy_from_slice(&[0xee; 16]);
    assert_eq!(
        classify_full(ApiKey::Produce, 13, &unknown_produce),
        Classification::UnknownTopicIds { ids: vec![[0xee; 16]], expects_response: false }
    );
}

#[test]
fn metadata_named_and_all_topics() {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    for v in versions(ApiKey::Metadata) {
        let r = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(topic("orders")))]));
        assert_eq!(
            classify_full(ApiKey::Metadata, v, &enc(&r, v)),
            checks(vec![req(Operation::Describe, ResourceType::Topic, "orders")]),
            "v{v}"
        );
        let all =
            if v == 0 { MetadataRequest::default().with_topics(Some(vec![])) } else { MetadataRequest::default() };
        assert_eq!(classify_full(ApiKey::Metadata, v, &enc(&all, v)), checks(vec![]), "v{v}");
        if v >= 10 {
            // By id from v12 (Kafka refuses a null name before): nothing asked, the answer is filtered.
            let by_id = MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(None)
                .with_topic_id(uuid::Uuid::from_bytes([9; 16]))]));
            let body = enc(&by_id, v);
            let classified = classify_full(ApiKey::Metadata, v, &body);
            if v >= 12 {
                assert_eq!(classified, checks(vec![]), "v{v}");
            } else {
                assert!(matches!(classified, Classification::Unsupported(_)), "v{v}");
            }
        }
    }
}

#[test]
fn consumer_group_apis() {
    use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    let read_group = req(Operation::Read, ResourceType::Group, "g1");
    for v in versions(ApiKey::OffsetCommit) {
        let r = OffsetCommitRequest::default().with_group_id(GroupId(s("g1"))).with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![OffsetCommitRequestPartition::default().with_committed_offset(5)]),
        ]);
        assert_eq!(
            classify_full(ApiKey::OffsetCommit, v, &enc(&r, v)),
            checks(vec![read_group.clone(), req(Operation::Read, ResourceType::Topic, "orders")]),
            "v{v}"
        );
    }
    for v in versions(ApiKey::OffsetFetch) {
        let r = if v <= 7 {
            OffsetFetchRequest::default().with_group_id(GroupId(s("g1"))).with_topics(Some(vec![
                OffsetFetchRequestTopic::default().with_name(topic("orders")).with_partition_indexes(vec![0, 1]),
            ]))
        } else {
            OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(s("g1")))
                .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                    .with_name(topic("orders"))
                    .with_partition_indexes(vec![0])]))])
        };
        assert_eq!(
            classify_full(ApiKey::OffsetFetch, v, &enc(&r, v)),
            checks(vec![
                req(Operation::Describe, ResourceType::Group, "g1"),
                req(Operation::Describe, ResourceType::Topic, "orders")
            ]),
            "v{v}"
        );
    }
    for v in versions(ApiKey::JoinGroup) {
        use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
        let r = JoinGroupRequest::default()
            .with_group_id(GroupId(s("g1")))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"m"))]);
        assert_eq!(classify_full(ApiKey::JoinGroup, v, &enc(&r, v)), checks(vec![read_group.clone()]), "v{v}");
    }
    for v in versions(ApiKey::SyncGroup) {
        use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
        let r = SyncGroupRequest::default().with_group_id(GroupId(s("g1"))).with_assignments(vec![
            SyncGroupRequestAssignment::default().with_member_id(s("m")).with_assignment(Bytes::from_static(b"a")),
        ]);
        assert_eq!(classify_full(ApiKey::SyncGroup, v, &enc(&r, v)), checks(vec![read_group.clone()]), "v{v}");
    }
    for v in versions(ApiKey::Heartbeat) {
        let r = HeartbeatRequest::default().with_group_id(GroupId(s("g1"))).with_member_id(s("m"));
        assert_eq!(classify_full(ApiKey::Heartbeat, v, &enc(&r, v)), checks(vec![read_group.clone()]), "v{v}");
    }
    for v in versions(ApiKey::LeaveGroup) {
        use kafka_protocol::messages::leave_group_request::MemberIdentity;
        let mut r = LeaveGroupRequest::default().with_group_id(GroupId(s("g1")));
        if v >= 3 {
            r = r.with_members(vec![MemberIdentity::default().with_member_id(s("m"))]);
        }
        assert_eq!(classify_full(ApiKey::LeaveGroup, v, &enc(&r, v)), checks(vec![read_group.clone()]), "v{v}");
    }
    for v in versions(ApiKey::DescribeGroups) {
        let r = DescribeGroupsRequest::default().with_groups(vec![GroupId(s("g1")), GroupId(s("g2"))]);
        assert_eq!(
            classify_full(ApiKey::DescribeGroups, v, &enc(&r, v)),
            checks(vec![
                req(Operation::Describe, ResourceType::Group, "g1"),
                req(Operation::Describe, ResourceType::Group, "g2")
            ])
        );
    }
    for v in versions(ApiKey::ListGroups) {
        assert_eq!(
            classify_full(ApiKey::ListGroups, v, &enc(&ListGroupsRequest::default(), v)),
            checks(vec![]),
            "never refused: the listing is filtered (tests/listings.rs)"
        );
    }
}

#[test]
fn find_coordinator_by_key_type() {
    for v in versions(ApiKey::FindCoordinator) {
        for (key_type, resource_type) in [(0, ResourceType::Group), (1, ResourceType::TransactionalId)] {
            if v == 0 && key_type == 1 {
                continue;
            }
            let r = if v >= 4 {
                FindCoordinatorRequest::default().with_key_type(key_type).with_coordinator_keys(vec![s("a"), s("b")])
            } else {
                FindCoordinatorRequest::default().with_key_type(key_type).with_key(s("a"))
            };
            let mut expected = vec![req(Operation::Describe, resource_type, "a")];
            if v >= 4 {
                expected.push(req(Operation::Describe, resource_type, "b"));
            }
            assert_eq!(classify_full(ApiKey::FindCoordinator, v, &enc(&r, v)), checks(expected), "v{v}");
        }
    }
}

#[test]
fn topic_administration_and_producer_ids() {
    use kafka_protocol::messages::create_topics_request::{
        CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
    };
    for v in versions(ApiKey::CreateTopics) {
        let r = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
            .with_name(topic("new"))
            .with_num_partitions(-1)
            .with_assignments(vec![CreatableReplicaAssignment::default().with_broker_ids(vec![BrokerId(1)])])
            .with_configs(vec![CreatableTopicConfig::default()
                .with_name(s("retention.ms"))
                .with_value(Some(s("1")))])]);
        let create = |rt, n: &'static str| Action { op: Operation::Create, resource_type: rt, name: n.into() };
        assert_eq!(
            classify_full(ApiKey::CreateTopics, v, &enc(&r, v)),
            checks(vec![Requirement::either(
                create(ResourceType::Cluster, CLUSTER_NAME),
                create(ResourceType::Topic, "new")
            )]),
            "v{v}"
        );
    }
    for v in versions(ApiKey::DeleteTopics) {
        use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
        let r = if v >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![DeleteTopicState::default().with_name(Some(topic("old")))])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![topic("old")])
        };
        // Delete on the cluster deletes every topic (ControllerApis.deleteTopics: hasClusterAuth).
        let delete = |name| {
            Requirement::either(
                Action { op: Operation::Delete, resource_type: ResourceType::Cluster, name: CLUSTER_NAME.into() },
                Action { op: Operation::Delete, resource_type: ResourceType::Topic, name },
            )
        };
        assert_eq!(classify_full(ApiKey::DeleteTopics, v, &enc(&r, v)), checks(vec![delete("old".into())]), "v{v}");
        if v >= 6 {
            // By id: the learned name; an id not learned is resolved first.
            let by_id =
                |id| DeleteTopicsRequest::default().with_topics(vec![DeleteTopicState::default().with_topic_id(id)]);
            let known = enc(&by_id(topic_id("old")), v);
            assert_eq!(classify_full(ApiKey::DeleteTopics, v, &known), checks(vec![delete("old".into())]));
            let unknown = enc(&by_id(uuid::Uuid::from_bytes([0xdd; 16])), v);
            assert_eq!(
                classify_full(ApiKey::DeleteTopics, v, &unknown),
                Classification::UnknownTopicIds { ids: vec![[0xdd; 16]], expects_response: true }
            );
        }
    }
    for v in versions(ApiKey::InitProducerId) {
        let idempotent = InitProducerIdRequest::default().with_transactional_id(None);
        assert_eq!(
            classify_full(ApiKey::InitProducerId, v, &enc(&idempotent, v)),
            checks(vec![req(Operation::IdempotentWrite, ResourceType::Cluster, CLUSTER_NAME)])
        );
        let txn = InitProducerIdRequest::default().with_transactional_id(Some(TransactionalId(s("tx"))));
        assert_eq!(
            classify_full(ApiKey::InitProducerId, v, &enc(&txn, v)),
            checks(vec![req(Operation::Write, ResourceType::TransactionalId, "tx")])
        );
    }
    for v in versions(ApiKey::ListOffsets) {
        use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
        let r = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![ListOffsetsPartition::default().with_timestamp(-1)])]);
        assert_eq!(
            classify_full(ApiKey::ListOffsets, v, &enc(&r, v)),
            checks(vec![req(Operation::Describe, ResourceType::Topic, "orders")])
        );
    }
}

#[test]
fn transactions() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    let write_txn = req(Operation::Write, ResourceType::TransactionalId, "tx");
    for v in versions(ApiKey::AddPartitionsToTxn) {
        let r = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s("tx")))
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![0])]);
        assert_eq!(
            classify_full(ApiKey::AddPartitionsToTxn, v, &enc(&r, v)),
            checks(vec![write_txn.clone(), req(Operation::Write, ResourceType::Topic, "orders")])
        );
    }
    for v in versions(ApiKey::AddOffsetsToTxn) {
        let r = AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(s("tx")))
            .with_group_id(GroupId(s("g")));
        assert_eq!(
            classify_full(ApiKey::AddOffsetsToTxn, v, &enc(&r, v)),
            checks(vec![write_txn.clone(), req(Operation::Read, ResourceType::Group, "g")])
        );
    }
    for v in versions(ApiKey::EndTxn) {
        let r = EndTxnRequest::default().with_transactional_id(TransactionalId(s("tx")));
        assert_eq!(classify_full(ApiKey::EndTxn, v, &enc(&r, v)), checks(vec![write_txn.clone()]));
    }
    for v in versions(ApiKey::TxnOffsetCommit) {
        let r = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s("tx")))
            .with_group_id(GroupId(s("g")))
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(topic("orders"))
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()])]);
        assert_eq!(
            classify_full(ApiKey::TxnOffsetCommit, v, &enc(&r, v)),
            checks(vec![
                write_txn.clone(),
                req(Operation::Read, ResourceType::Group, "g"),
                req(Operation::Read, ResourceType::Topic, "orders")
            ])
        );
    }
}

#[test]
fn configs_and_admin() {
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    for v in versions(ApiKey::DescribeConfigs) {
        let r = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s("orders"))
                .with_configuration_keys(Some(vec![s("k")])),
            DescribeConfigsResource::default().with_resource_type(4).with_resource_name(s("1")),
        ]);
        assert_eq!(
            classify_full(ApiKey::DescribeConfigs, v, &enc(&r, v)),
            checks(vec![
                req(Operation::DescribeConfigs, ResourceType::Topic, "orders"),
                req(Operation::DescribeConfigs, ResourceType::Cluster, CLUSTER_NAME)
            ])
        );
    }
    for v in versions(ApiKey::DeleteGroups) {
        let r = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("g"))]);
        assert_eq!(
            classify_full(ApiKey::DeleteGroups, v, &enc(&r, v)),
            checks(vec![req(Operation::Delete, ResourceType::Group, "g")])
        );
    }
    for v in versions(ApiKey::CreateAcls) {
        use kafka_protocol::messages::create_acls_request::AclCreation;
        let r = CreateAclsRequest::default().with_creations(vec![AclCreation::default().with_resource_name(s("x"))]);
        assert_eq!(
            classify_full(ApiKey::CreateAcls, v, &enc(&r, v)),
            checks(vec![req(Operation::Alter, ResourceType::Cluster, CLUSTER_NAME)])
        );
    }
    for v in versions(ApiKey::DescribeCluster) {
        assert_eq!(
            classify_full(ApiKey::DescribeCluster, v, &enc(&DescribeClusterRequest::default(), v)),
            checks(vec![])
        );
    }
}

#[test]
fn handshake_apis_are_unchecked_and_unknown_or_unsupported_are_refused() {
    assert_eq!(classify(18, 99, &[], 0), Classification::Unchecked);
    assert_eq!(classify(17, 1, &[], 0), Classification::Unchecked);
    assert_eq!(classify(36, 2, &[1, 2], 2), Classification::Unchecked);
    assert!(matches!(classify(4, 0, &[], 0), Classification::Unsupported(_)));
    assert!(matches!(classify(1, 13, &[], 0), Classification::Unsupported(_)));
    assert!(matches!(classify(0, 2, &[], 0), Classification::Unsupported(_)));
    assert!(matches!(classify(38, 1, &[], 0), Classification::Unsupported(_)));
    assert!(matches!(classify(1000, 0, &[], 0), Classification::Unsupported(_)));
}

/// A null where Kafka's schema has a non-nullable resource name is a malformed request: refused, never
/// authorized as the empty name.
#[test]
fn null_resource_names_are_refused() {
    let refused = |key: i16, version: i16, body: &[u8]| match classify(key, version, body, body.len()) {
        Classification::Unsupported(reason) => assert!(reason.contains("null"), "{reason}"),
        other => panic!("API {key} v{version}: {other:?}"),
    };
    // DescribeGroups v0: one group, a null string.
    refused(15, 0, &[0, 0, 0, 1, 0xff, 0xff]);
    // Heartbeat v0: null group_id, generation 1, member "".
    refused(12, 0, &[0xff, 0xff, 0, 0, 0, 1, 0, 0]);
    // Fetch v4: replica -1, wait, min/max bytes, isolation, one topic with a null name and no partitions.
    let mut fetch = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0];
    fetch.extend_from_slice(&[0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0]);
    refused(1, 4, &fetch);
}

#[test]
fn non_produce_requests_wait_for_the_whole_body() {
    let body = enc(&HeartbeatRequest::default().with_group_id(GroupId(s("g"))), 4);
    assert_eq!(classify(12, 4, &body[..3], body.len()), Classification::NeedMore);
}

#[test]
fn allocation_bombs_are_refused_before_decoding() {
    // DescribeGroups v0: an array claiming i32::MAX group names in a 4-byte body.
    let body = i32::MAX.to_be_bytes();
    assert!(matches!(classify(15, 0, &body, body.len()), Classification::Unsupported(_)));
    // Compact array claiming u32::MAX-1 elements.
    let body = [0xfe, 0xff, 0xff, 0xff, 0x0f, 0];
    assert!(matches!(classify(15, 5, &body, body.len()), Classification::Unsupported(_)));
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_and_mutated_bodies_never_panic() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let seeds = [produce_request(9, Some("tx"), 1, 8), produce_request(5, None, 1, 8)];
    for entry in ENTRIES {
        for v in -1..=entry.max_version.max(0) + 1 {
            for round in 0..60 {
                let body: Vec<u8> = if round % 3 == 0 {
                    let mut b = seeds[round % 2].clone();
                    let i = (rng.next() as usize) % b.len();
                    b[i] = rng.next() as u8;
                    b
                } else {
                    let len = (rng.next() % 48) as usize;
                    (0..len).map(|_| rng.next() as u8).collect()
                };
                let declared = body.len() + (rng.next() % 3) as usize;
                let _ = classify(entry.key, v, &body, declared);
                let _ = classify(entry.key, v, &body, body.len());
                let _ = kafka_mtls_filter::enforce::error_response(entry.key, v, 1, &body, &|_, _| 29);
            }
        }
    }
}

/// KafkaApis.handleOffsetForLeaderEpochRequest: a consumer's topics with ClusterAction on the cluster, otherwise
/// those it may Describe; a follower broker's request needs ClusterAction (found by the differential oracle).
#[test]
fn offset_for_leader_epoch_topics_by_cluster_action_or_describe() {
    use kafka_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderTopic;
    for v in versions(ApiKey::OffsetForLeaderEpoch) {
        let r = OffsetForLeaderEpochRequest::default()
            .with_topics(vec![OffsetForLeaderTopic::default().with_topic(topic("orders"))]);
        let r = if v >= 3 { r.with_replica_id(BrokerId(-1)) } else { r };
        assert_eq!(
            classify_full(ApiKey::OffsetForLeaderEpoch, v, &enc(&r, v)),
            checks(vec![Requirement::either(
                Action {
                    op: Operation::ClusterAction,
                    resource_type: ResourceType::Cluster,
                    name: CLUSTER_NAME.into()
                },
                Action { op: Operation::Describe, resource_type: ResourceType::Topic, name: "orders".into() },
            )]),
            "v{v}"
        );
    }
}

//! Authorized operations are the client principal's, as Kafka's `AuthHelper.authorizedOperations` computes them:
//! the broker answers for the filter's own connection (a super user on its listener), so every such field the
//! client asked for is recomputed from the policy. Found by the differential oracle against Apache Kafka.

mod common;

use std::rc::Rc;

use bytes::Bytes;
use common::{downstream, topic, upstream};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::wire;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
use kafka_protocol::messages::describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["Write", "Read"]},
      {"resource": {"type": "topic", "name": "visible"}, "operations": ["Describe", "AlterConfigs"]},
      {"resource": {"type": "group", "name": "app"}, "operations": ["Read"]},
      {"resource": {"type": "topic", "name": "new-a"}, "operations": ["Create"]},
      {"resource": {"type": "topic", "name": "new-b"}, "operations": ["Create", "DescribeConfigs"]}
    ]},
    {"principal": "User:ops", "acls": [
      {"resource": {"type": "cluster"}, "operations": ["Describe", "IdempotentWrite"]},
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["All"]}
    ]}
  ]}
}"#;

const OMITTED: i32 = i32::MIN;
/// What a super user's broker reports for a topic: every operation Kafka lists for topics.
const EVERY_TOPIC_OPERATION: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
const EVERY_CLUSTER_OPERATION: i32 = (1 << 5) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 7) | (1 << 8);

fn bit(code: u8) -> i32 {
    1 << code
}

fn session(principal_cert_subject: Option<&str>) -> Session {
    let policy = match principal_cert_subject {
        None => POLICY.to_string(),
        Some(_) => {
            POLICY.replace(r#""unauthenticated": "anonymous""#, r#""subject": {"mappingRules": "RULE:^CN=(.*)$/$1/"}"#)
        }
    };
    let cfg = Config::parse(policy.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    let peer = PeerInfo {
        mtls: principal_cert_subject.is_some(),
        subject: principal_cert_subject.map(str::to_string),
        ..PeerInfo::default()
    };
    s.identify(&peer, 0).expect("identified");
    s
}

fn request<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).unwrap();
    wire::request_frame(api_key as i16, version, correlation_id, Some("test"), &encoded)
}

fn response<R: Encodable>(api_key: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut encoded = Vec::new();
    body.encode(&mut encoded, version).unwrap();
    wire::response_frame(api_key as i16, version, correlation_id, &encoded)
}

fn decode<R: Decodable>(frame: &[u8], api_key: ApiKey, version: i16) -> R {
    let mut body = Bytes::copy_from_slice(&frame[wire::response_body_offset(api_key as i16, version)..]);
    R::decode(&mut body, version).unwrap()
}

fn metadata_topic(name: &str, authorized: i32) -> MetadataResponseTopic {
    MetadataResponseTopic::default().with_name(Some(topic(name))).with_topic_authorized_operations(authorized)
}

/// Metadata through a session: the topics and authorized operations the client gets.
fn metadata(
    s: &mut Session,
    version: i16,
    broker_topics: Vec<MetadataResponseTopic>,
    cluster: i32,
) -> (Vec<(String, i32)>, i32) {
    let req = MetadataRequest::default()
        .with_topics(None)
        .with_include_topic_authorized_operations(true)
        .with_include_cluster_authorized_operations(version <= 10);
    downstream(s, &request(ApiKey::Metadata, version, 5, &req));
    let mut answer = MetadataResponse::default().with_topics(broker_topics);
    if version <= 10 {
        answer = answer.with_cluster_authorized_operations(cluster);
    }
    let back: MetadataResponse =
        decode(&upstream(s, &response(ApiKey::Metadata, version, 5, &answer)), ApiKey::Metadata, version);
    let topics =
        back.topics.iter().map(|t| (t.name.as_ref().unwrap().to_string(), t.topic_authorized_operations)).collect();
    (topics, if version <= 10 { back.cluster_authorized_operations } else { OMITTED })
}

#[test]
fn metadata_topic_authorized_operations_are_the_principals() {
    for version in [8, 10, 12] {
        let mut s = session(None);
        let broker =
            vec![metadata_topic("allowed", EVERY_TOPIC_OPERATION), metadata_topic("visible", EVERY_TOPIC_OPERATION)];
        let (topics, cluster) = metadata(&mut s, version, broker, EVERY_CLUSTER_OPERATION);
        // Read and Write imply Describe; AlterConfigs implies DescribeConfigs.
        let allowed = bit(3) | bit(4) | bit(8);
        let visible = bit(8) | bit(10) | bit(11);
        assert_eq!(topics, [("allowed".into(), allowed), ("visible".into(), visible)], "v{version}");
        // No Describe on the cluster: Kafka answers no operation at all.
        if version <= 10 {
            assert_eq!(cluster, 0, "v{version}");
        }
    }
}

#[test]
fn metadata_cluster_authorized_operations_are_the_principals() {
    let mut s = session(Some("CN=ops"));
    let (topics, cluster) =
        metadata(&mut s, 10, vec![metadata_topic("allowed", EVERY_TOPIC_OPERATION)], EVERY_CLUSTER_OPERATION);
    assert_eq!(topics, [("allowed".into(), EVERY_TOPIC_OPERATION)]);
    assert_eq!(cluster, bit(8) | bit(12));
}

#[test]
fn fields_the_client_did_not_ask_for_stay_as_the_broker_sent_them() {
    let mut s = session(None);
    let (topics, cluster) = metadata(&mut s, 10, vec![metadata_topic("allowed", OMITTED)], OMITTED);
    assert_eq!(topics, [("allowed".into(), OMITTED)]);
    assert_eq!(cluster, OMITTED);
}

#[test]
fn named_metadata_topics_get_the_principals_operations_too() {
    let mut s = session(None);
    let named = |n: &str| MetadataRequestTopic::default().with_name(Some(topic(n)));
    let req = MetadataRequest::default()
        .with_topics(Some(vec![named("allowed")]))
        .with_include_topic_authorized_operations(true);
    downstream(&mut s, &request(ApiKey::Metadata, 12, 6, &req));
    let answer = MetadataResponse::default().with_topics(vec![metadata_topic("allowed", EVERY_TOPIC_OPERATION)]);
    let back: MetadataResponse =
        decode(&upstream(&mut s, &response(ApiKey::Metadata, 12, 6, &answer)), ApiKey::Metadata, 12);
    assert_eq!(back.topics[0].topic_authorized_operations, bit(3) | bit(4) | bit(8));
}

#[test]
fn describe_topic_partitions_authorized_operations_are_the_principals() {
    for named in [false, true] {
        let mut s = session(None);
        let topics = if named { vec![TopicRequest::default().with_name(topic("allowed"))] } else { Vec::new() };
        let req = DescribeTopicPartitionsRequest::default().with_topics(topics).with_response_partition_limit(100);
        downstream(&mut s, &request(ApiKey::DescribeTopicPartitions, 0, 9, &req));
        let answer = DescribeTopicPartitionsResponse::default().with_topics(vec![
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(topic("allowed")))
                .with_topic_authorized_operations(EVERY_TOPIC_OPERATION),
        ]);
        let frame = response(ApiKey::DescribeTopicPartitions, 0, 9, &answer);
        let back: DescribeTopicPartitionsResponse =
            decode(&upstream(&mut s, &frame), ApiKey::DescribeTopicPartitions, 0);
        assert_eq!(back.topics[0].topic_authorized_operations, bit(3) | bit(4) | bit(8), "named: {named}");
    }
}

/// What a super user's broker reports for a group: every operation Kafka lists for groups.
const EVERY_GROUP_OPERATION: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

#[test]
fn describe_groups_authorized_operations_are_the_principals() {
    use kafka_protocol::messages::describe_groups_response::DescribedGroup;
    for version in 3..=5 {
        let mut s = session(None);
        let req = DescribeGroupsRequest::default()
            .with_groups(vec![GroupId("app".to_string().into())])
            .with_include_authorized_operations(true);
        downstream(&mut s, &request(ApiKey::DescribeGroups, version, 11, &req));
        let answer = DescribeGroupsResponse::default().with_groups(vec![DescribedGroup::default()
            .with_group_id(GroupId("app".to_string().into()))
            .with_group_state("Stable".to_string().into())
            .with_authorized_operations(EVERY_GROUP_OPERATION)]);
        let frame = response(ApiKey::DescribeGroups, version, 11, &answer);
        let back: DescribeGroupsResponse = decode(&upstream(&mut s, &frame), ApiKey::DescribeGroups, version);
        // Read implies Describe (Kafka: 264).
        assert_eq!(back.groups[0].authorized_operations, bit(3) | bit(8), "v{version}");
        assert_eq!(back.groups[0].group_state.as_str(), "Stable");
    }
}

#[test]
fn describe_cluster_authorized_operations_are_the_principals() {
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    for (subject, expected) in [(None, 0), (Some("CN=ops"), bit(8) | bit(12))] {
        for version in 0..=2 {
            let mut s = session(subject);
            let req = DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
            downstream(&mut s, &request(ApiKey::DescribeCluster, version, 12, &req));
            let broker =
                DescribeClusterBroker::default().with_broker_id(BrokerId(1)).with_host("b1".to_string().into());
            let answer = DescribeClusterResponse::default()
                .with_cluster_id("c".to_string().into())
                .with_brokers(vec![broker])
                .with_cluster_authorized_operations(EVERY_CLUSTER_OPERATION);
            let frame = response(ApiKey::DescribeCluster, version, 12, &answer);
            let back: DescribeClusterResponse = decode(&upstream(&mut s, &frame), ApiKey::DescribeCluster, version);
            // Without Describe on the cluster Kafka answers 0 (AuthHelper.computeDescribeClusterResponse).
            assert_eq!(back.cluster_authorized_operations, expected, "{subject:?} v{version}");
            assert_eq!(back.brokers.len(), 1);
        }
    }
}

/// CreateTopics v5+: Kafka (ControllerApis.createTopics, ReplicationControlManager.createTopic) returns a new
/// topic's configs, partition count and replication factor only to a principal with DescribeConfigs on it;
/// to any other, topicConfigErrorCode TOPIC_AUTHORIZATION_FAILED and none of them.
#[test]
fn created_topic_configs_need_describe_configs() {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
    for version in 5..=7 {
        let mut s = session(None);
        let asked = |n: &str| CreatableTopic::default().with_name(topic(n)).with_num_partitions(2);
        let req = CreateTopicsRequest::default().with_topics(vec![asked("new-a"), asked("new-b")]);
        downstream(&mut s, &request(ApiKey::CreateTopics, version, 13, &req));
        let created = |n: &str| {
            CreatableTopicResult::default()
                .with_name(topic(n))
                .with_num_partitions(2)
                .with_replication_factor(1)
                .with_configs(Some(vec![CreatableTopicConfigs::default()
                    .with_name("cleanup.policy".to_string().into())
                    .with_value(Some("delete".to_string().into()))]))
        };
        let answer = CreateTopicsResponse::default().with_topics(vec![created("new-a"), created("new-b")]);
        let frame = response(ApiKey::CreateTopics, version, 13, &answer);
        let back: CreateTopicsResponse = decode(&upstream(&mut s, &frame), ApiKey::CreateTopics, version);
        let withheld = CreatableTopicResult::default()
            .with_name(topic("new-a"))
            .with_topic_config_error_code(29)
            .with_configs(Some(Vec::new()));
        assert_eq!(back.topics, [withheld, created("new-b")], "v{version}");
    }
}

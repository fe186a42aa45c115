//! Error responses of the administration APIs: topics, ACLs, configs, partitions, the cluster, and the APIs
//! whose only check is on the cluster.

use kafka_protocol::messages::ApiKey;

use crate::protocol::error_code;

use super::writer::{each_node, Out};
use super::{Codes, CREATE_TOPICS_REFUSED, NO_AUTHORIZED_OPERATIONS};
use crate::protocol::config_resource::config_resource;
use crate::protocol::layout::Node;

/// Writes the body of the error response to a denied CreateTopics, DeleteTopics, DescribeAcls, ... request.
// Inlined into `error_response`, the one match these arms were: as calls the module grew by 10 KB.
#[inline(always)]
pub(super) fn answer(key: ApiKey, o: &mut Out, req: &Node<'_>, e: &Codes<'_>) -> Result<(), String> {
    match key {
        ApiKey::CreateTopics => {
            if o.since(2) {
                o.i32(0);
            }
            each_node(o, req, "topics", |o, topic| {
                let name = topic.str("name").unwrap_or_default();
                o.str(name);
                if o.since(7) {
                    o.uuid_zero();
                }
                let code = e.topic(name);
                o.i16(code);
                if o.since(1) {
                    // Kafka's own words for a refused topic (KafkaApis.handleCreateTopicsRequest).
                    o.str(if code != error_code::NONE { CREATE_TOPICS_REFUSED } else { "" });
                    // error_message
                }
                if o.since(5) {
                    o.i32(-1); // num_partitions
                    o.i16(-1); // replication_factor
                    o.count(0); // configs
                }
            });
        }
        ApiKey::DeleteTopics => {
            if o.since(1) {
                o.i32(0);
            }
            // v6 names a topic or gives its id (null name): answered by id, without the name (Kafka shows it to
            // a principal that may Describe the topic; the writer knows only the Delete decision).
            let by_id = |t: &Node<'_>| t.str("name").is_none().then(|| t.id("topic_id")).flatten();
            let topics: Vec<(Option<&str>, Option<crate::topic_ids::TopicUuid>)> = req
                .strs("topic_names")
                .map(|name| (Some(name), None))
                .chain(req.nodes("topics").map(|t| (t.str("name"), by_id(t))))
                .collect();
            o.count(topics.len());
            for (name, id) in topics {
                let learned = id.and_then(|id| crate::topic_ids::name_of(&id));
                let checked = name.or(learned.as_deref()).unwrap_or_default();
                match name {
                    Some(name) => o.str(name),
                    None => o.null_str(),
                }
                if o.since(6) {
                    o.uuid(&id.unwrap_or(crate::topic_ids::ZERO));
                }
                o.i16(e.topic(checked));
                if o.since(5) {
                    o.null_str(); // error_message
                }
                o.tags();
            }
        }
        ApiKey::DescribeAcls => {
            o.i32(0);
            o.i16(e.cluster());
            o.str(""); // error_message
            o.count(0); // resources
        }
        ApiKey::CreateAcls | ApiKey::DeleteAcls => {
            o.i32(0);
            let list = if key == ApiKey::CreateAcls { "creations" } else { "filters" };
            each_node(o, req, list, |o, _| {
                o.i16(e.cluster());
                o.str(""); // error_message
                if key == ApiKey::DeleteAcls {
                    o.count(0); // matching_acls
                }
            });
        }
        ApiKey::DescribeConfigs | ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            o.i32(0);
            let mut codes = Vec::new();
            for resource in req.nodes("resources") {
                let resource_type = resource.int("resource_type").unwrap_or_default() as i8;
                let (checked, name) =
                    config_resource(resource_type, resource.str("resource_name").unwrap_or_default())?;
                codes.push(e.code(checked, name));
            }
            let mut codes = codes.into_iter();
            each_node(o, req, "resources", |o, resource| {
                o.i16(codes.next().unwrap_or_default());
                o.str(""); // error_message
                o.i8(resource.int("resource_type").unwrap_or_default() as i8);
                o.str(resource.str("resource_name").unwrap_or_default());
                if key == ApiKey::DescribeConfigs {
                    o.count(0); // configs
                }
            });
        }
        ApiKey::CreatePartitions => {
            o.i32(0);
            each_node(o, req, "topics", |o, topic| {
                let name = topic.str("name").unwrap_or_default();
                o.str(name);
                o.i16(e.topic(name));
                o.null_str(); // error_message
            });
        }
        ApiKey::DescribeCluster => {
            o.i32(0);
            o.i16(e.cluster());
            o.null_str(); // error_message
            if o.since(1) {
                o.i8(1); // endpoint_type: brokers
            }
            o.str(""); // cluster_id
            o.i32(-1); // controller_id
            o.count(0); // brokers
            o.i32(NO_AUTHORIZED_OPERATIONS);
        }
        _ => return Err(format!("no error response for {key:?}")),
    }
    Ok(())
}

/// A denied ElectLeaders: the top-level error (v1+) and every requested partition with it, as Kafka's
/// ElectLeadersRequest.getErrorResponse answers (v0 has no top-level error: the partitions carry it).
pub(super) fn elect_leaders(o: &mut Out, req: &Node<'_>, code: i16) {
    o.i32(0);
    if o.since(1) {
        o.i16(code);
    }
    each_node(o, req, "topic_partitions", |o, topic| {
        o.str(topic.str("topic").unwrap_or_default());
        o.count(topic.len("partitions"));
        for partition in topic.items("partitions") {
            o.i32(partition.int().unwrap_or_default() as i32);
            o.i16(code);
            o.str(CLUSTER_AUTHORIZATION_FAILED_MESSAGE);
            o.tags();
        }
    });
}

/// Kafka's message for CLUSTER_AUTHORIZATION_FAILED (`Errors`), which ApiError gives when it has no other.
const CLUSTER_AUTHORIZATION_FAILED_MESSAGE: &str = "Cluster authorization failed.";

/// Responses with one top-level error code (cluster-level APIs), with their other fields empty.
pub(super) fn cluster_only(o: &mut Out, key: ApiKey, code: i16) {
    match key {
        ApiKey::DescribeLogDirs => {
            o.i32(0);
            if o.since(3) {
                o.i16(code);
            }
            o.count(0); // results
        }
        ApiKey::ListPartitionReassignments | ApiKey::DescribeUserScramCredentials | ApiKey::UpdateFeatures => {
            o.i32(0);
            o.i16(code);
            o.str(""); // error_message
            if key != ApiKey::UpdateFeatures || o.v < 2 {
                o.count(0); // topics, results
            }
        }
        ApiKey::DescribeClientQuotas => {
            o.i32(0);
            o.i16(code);
            o.str(""); // error_message
            o.null_array(); // entries: null, as Kafka answers a refused request
        }
        ApiKey::AlterPartitionReassignments => {
            o.i32(0);
            if o.since(1) {
                o.bool(true); // allow_replication_factor_change
            }
            o.i16(code);
            o.str(""); // error_message
            o.count(0); // responses
        }
        ApiKey::UnregisterBroker | ApiKey::AddRaftVoter | ApiKey::RemoveRaftVoter | ApiKey::ControllerRegistration => {
            o.i32(0);
            o.i16(code);
            o.str(""); // error_message
        }
        ApiKey::DescribeQuorum => {
            o.i16(code);
            if o.since(2) {
                o.str(""); // error_message
            }
            o.count(0); // topics
            if o.since(2) {
                o.count(0); // nodes
            }
        }
        ApiKey::Vote | ApiKey::BeginQuorumEpoch | ApiKey::EndQuorumEpoch => {
            o.i16(code);
            o.count(0); // topics
        }
        ApiKey::Envelope => {
            o.null_bytes(); // response_data
            o.i16(code);
        }
        ApiKey::BrokerRegistration => {
            o.i32(0);
            o.i16(code);
            o.i64(-1); // broker_epoch
        }
        ApiKey::BrokerHeartbeat => {
            o.i32(0);
            o.i16(code);
            o.bool(false); // is_caught_up
            o.bool(true); // is_fenced
            o.bool(false); // should_shut_down
        }
        ApiKey::AllocateProducerIds => {
            o.i32(0);
            o.i16(code);
            o.i64(0); // producer_id_start
            o.i32(0); // producer_id_len
        }
        ApiKey::UpdateRaftVoter => {
            o.i32(0);
            o.i16(code);
        }
        // ListConfigResources, AlterPartition, FetchSnapshot, AssignReplicasToDirs: throttle, code, one array.
        _ => {
            o.i32(0);
            o.i16(code);
            o.count(0);
        }
    }
}

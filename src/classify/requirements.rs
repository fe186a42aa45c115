//! What a request needs authorized: its requirements, each satisfied by any one of its alternatives, read
//! from the request with its layout (Kafka's "Operations and Resources on Protocols").

use std::borrow::Cow;

use kafka_protocol::messages::ApiKey;

use crate::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};
use crate::protocol::config_resource::config_resource;
use crate::protocol::layout::{parse, Keep};

/// Satisfied when any one of the alternatives is allowed. A request is allowed when all of its requirements
/// are satisfied. Kafka never asks more than two alternatives (CreateTopics: Create on the cluster OR on the
/// topic), so they are held inline: a requirement allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement<'a> {
    first: Action<'a>,
    or: Option<Action<'a>>,
}

impl<'a> Requirement<'a> {
    /// One action.
    pub fn of(action: Action<'a>) -> Self {
        Requirement { first: action, or: None }
    }
    /// Either action, asked in this order.
    pub fn either(first: Action<'a>, or: Action<'a>) -> Self {
        Requirement { first, or: Some(or) }
    }
    /// The alternatives, in the order they are asked.
    pub fn any_of(&self) -> impl Iterator<Item = &Action<'a>> {
        std::iter::once(&self.first).chain(self.or.as_ref())
    }
}

/// What a request needs authorized: nearly always one or two requirements, held inline.
pub type Requirements<'a> = smallvec::SmallVec<[Requirement<'a>; 2]>;

pub(crate) fn action(op: Operation, resource_type: ResourceType, name: &str) -> Action<'_> {
    Action { op, resource_type, name: Cow::Borrowed(name) }
}

pub(crate) fn cluster<'a>(op: Operation) -> Requirements<'a> {
    smallvec::smallvec![Requirement::of(action(op, ResourceType::Cluster, CLUSTER_NAME))]
}

/// Collects requirements without duplicates, in request order (so logs read like the request).
#[derive(Default)]
pub(crate) struct Needs<'a>(Requirements<'a>);

impl<'a> Needs<'a> {
    pub(crate) fn one(&mut self, op: Operation, resource_type: ResourceType, name: &'a str) -> &mut Self {
        self.add(Requirement::of(action(op, resource_type, name)))
    }
    pub(crate) fn add(&mut self, requirement: Requirement<'a>) -> &mut Self {
        if !self.0.contains(&requirement) {
            self.0.push(requirement);
        }
        self
    }
    pub(crate) fn topic(&mut self, op: Operation, name: &'a str) -> &mut Self {
        self.one(op, ResourceType::Topic, name)
    }
    /// A topic by a name that may be owned (one learned for a topic id).
    pub(crate) fn topic_cow(&mut self, op: Operation, name: Cow<'a, str>) -> &mut Self {
        self.add(Requirement::of(Action { op, resource_type: ResourceType::Topic, name }))
    }
    pub(crate) fn group(&mut self, op: Operation, name: &'a str) -> &mut Self {
        self.one(op, ResourceType::Group, name)
    }
    pub(crate) fn txn(&mut self, op: Operation, name: &'a str) -> &mut Self {
        self.one(op, ResourceType::TransactionalId, name)
    }
    /// One requirement per name.
    pub(crate) fn each(
        &mut self,
        op: Operation,
        resource_type: ResourceType,
        names: impl IntoIterator<Item = &'a str>,
    ) {
        for name in names {
            self.one(op, resource_type, name);
        }
    }
    pub(crate) fn done(&mut self) -> Requirements<'a> {
        std::mem::take(&mut self.0)
    }
}

/// Requirements of a complete, non-Produce request body.
pub(crate) fn requirements_of<'a>(api_key: i16, version: i16, body: &'a [u8]) -> Result<Requirements<'a>, String> {
    use Operation::*;
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    if let Some(op) = cluster_only_operation(key) {
        // The body does not matter for these: one cluster-level question.
        return Ok(cluster(op));
    }
    let req = parse(key, version, body, Keep::Resources)?;
    let mut needs = Needs::default();
    // Fields read here are named in the API's layout (`shape`); a name missing there reads as absent.
    let topics = |needs: &mut Needs<'a>, op: Operation, list: &str, name: &str| -> Result<(), String> {
        for topic in req.nodes(list) {
            // By id (Fetch v13+, in this test oracle only): the learned name.
            needs.topic_cow(op, topic.topic(name).ok_or_else(|| format!("{name} is null"))?);
        }
        Ok(())
    };
    match key {
        // `classify` reads Fetch with `walk_fetch`; this layout reading is the oracle its test holds it to.
        #[cfg(test)]
        ApiKey::Fetch => {
            if req.int("replica_id").unwrap_or(-1) >= 0 {
                return Ok(cluster(ClusterAction));
            }
            topics(&mut needs, Read, "topics", "topic")?;
        }
        ApiKey::ListOffsets => topics(&mut needs, Describe, "topics", "name")?,
        ApiKey::Metadata if crate::classify::metadata_by_id(&req) => {
            // By id (v12+; Kafka then ignores the names): nothing asked here; the answer names the topics and is
            // filtered (`session::visibility`), as Kafka answers an id the principal may not Describe.
            if version < 12 {
                return Err("topic ids before Metadata v12".into());
            }
        }
        ApiKey::Metadata => {
            for topic in req.nodes("topics") {
                needs.topic(Describe, topic.str("name").ok_or("topic name is null")?);
            }
        }
        ApiKey::OffsetCommit => {
            needs.group(Read, req.name("group_id")?);
            topics(&mut needs, Read, "topics", "name")?;
        }
        ApiKey::OffsetFetch if version <= 7 => {
            needs.group(Describe, req.name("group_id")?);
            topics(&mut needs, Describe, "topics", "name")?;
        }
        ApiKey::OffsetFetch => {
            for group in req.nodes("groups") {
                needs.group(Describe, group.name("group_id")?);
                for topic in group.nodes("topics") {
                    needs.topic(Describe, topic.name("name")?);
                }
            }
        }
        ApiKey::FindCoordinator => {
            let resource_type = coordinator_resource(req.int("key_type").unwrap_or(0))?;
            if version >= 4 {
                for key in req.names("coordinator_keys")? {
                    needs.one(Describe, resource_type, key);
                }
            } else {
                needs.one(Describe, resource_type, req.name("key")?);
            }
        }
        ApiKey::JoinGroup | ApiKey::Heartbeat | ApiKey::LeaveGroup | ApiKey::SyncGroup => {
            needs.group(Read, req.name("group_id")?);
        }
        ApiKey::DescribeGroups => needs.each(Describe, ResourceType::Group, req.names("groups")?),
        // Never refused: the listings are filtered by Describe Group (or shown whole with Describe Cluster)
        // and Describe TransactionalId. DescribeCluster: Kafka checks nothing.
        ApiKey::ListGroups | ApiKey::ListTransactions | ApiKey::DescribeCluster => {}
        ApiKey::CreateTopics => {
            for topic in req.nodes("topics") {
                needs.add(Requirement::either(
                    action(Create, ResourceType::Cluster, CLUSTER_NAME),
                    action(Create, ResourceType::Topic, topic.name("name")?),
                ));
            }
        }
        ApiKey::DeleteTopics => {
            // Delete on the cluster deletes every topic (ControllerApis.deleteTopics: `hasClusterAuth`).
            let delete = |name: Cow<'a, str>| {
                let topic = Action { op: Delete, resource_type: ResourceType::Topic, name };
                Requirement::either(action(Delete, ResourceType::Cluster, CLUSTER_NAME), topic)
            };
            for name in req.names("topic_names")? {
                needs.add(delete(Cow::Borrowed(name)));
            }
            for topic in req.nodes("topics") {
                // By id (v6): the learned name; an id not learned is resolved first (`classify`).
                match (topic.str("name"), topic.topic("name")) {
                    (Some(name), _) => needs.add(delete(Cow::Borrowed(name))),
                    (None, Some(learned)) => needs.add(delete(learned)),
                    (None, None) => &mut needs,
                };
            }
        }
        ApiKey::DeleteRecords => topics(&mut needs, Delete, "topics", "name")?,
        ApiKey::InitProducerId => {
            return Ok(match req.str("transactional_id") {
                Some(id) => needs.txn(Write, id).done(),
                None => cluster(IdempotentWrite),
            });
        }
        ApiKey::OffsetForLeaderEpoch => {
            // -1 consumer, -2 debugging tool; anything else is a follower broker.
            if req.int("replica_id").unwrap_or(-1) >= 0 {
                return Ok(cluster(ClusterAction));
            }
            // KafkaApis: every topic with ClusterAction on the cluster, otherwise those the principal may
            // Describe (the cluster asked first, the topic recorded when both are denied).
            for topic in req.nodes("topics") {
                needs.add(Requirement::either(
                    action(ClusterAction, ResourceType::Cluster, CLUSTER_NAME),
                    action(Describe, ResourceType::Topic, topic.name("topic")?),
                ));
            }
        }
        ApiKey::AddPartitionsToTxn => {
            needs.txn(Write, req.name("v3_and_below_transactional_id")?);
            topics(&mut needs, Write, "v3_and_below_topics", "name")?;
        }
        ApiKey::AddOffsetsToTxn => {
            needs.txn(Write, req.name("transactional_id")?);
            needs.group(Read, req.name("group_id")?);
        }
        ApiKey::EndTxn => {
            needs.txn(Write, req.name("transactional_id")?);
        }
        ApiKey::TxnOffsetCommit => {
            needs.txn(Write, req.name("transactional_id")?);
            needs.group(Read, req.name("group_id")?);
            topics(&mut needs, Read, "topics", "name")?;
        }
        ApiKey::DescribeAcls => return Ok(cluster(Describe)),
        ApiKey::CreateAcls | ApiKey::DeleteAcls => return Ok(cluster(Alter)),
        ApiKey::DescribeConfigs | ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            let op = if key == ApiKey::DescribeConfigs { DescribeConfigs } else { AlterConfigs };
            for resource in req.nodes("resources") {
                let (resource_type, name) = config_resource(
                    resource.int("resource_type").unwrap_or_default() as i8,
                    resource.name("resource_name")?,
                )?;
                needs.one(op, resource_type, name);
            }
        }
        ApiKey::CreatePartitions => topics(&mut needs, Alter, "topics", "name")?,
        ApiKey::DeleteGroups => needs.each(Delete, ResourceType::Group, req.names("groups_names")?),
        ApiKey::OffsetDelete => {
            needs.group(Delete, req.name("group_id")?);
            topics(&mut needs, Read, "topics", "name")?;
        }
        ApiKey::DescribeProducers => topics(&mut needs, Read, "topics", "name")?,
        ApiKey::DescribeTransactions => {
            needs.each(Describe, ResourceType::TransactionalId, req.names("transactional_ids")?)
        }
        // As Metadata: a denied named topic is answered in place, all topics are filtered later.
        ApiKey::DescribeTopicPartitions => topics(&mut needs, Describe, "topics", "name")?,
        ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => {
            needs.each(Describe, ResourceType::Group, req.names("group_ids")?)
        }
        // KafkaApis: Read on the group, then Describe on every subscribed topic, one denied topic failing the
        // heartbeat (no split). A regex (ConsumerGroupHeartbeat v1) is decided by the session
        // (`session::regex_subscription`): Kafka's coordinator resolves it, leaving out undescribable topics.
        ApiKey::ConsumerGroupHeartbeat | ApiKey::ShareGroupHeartbeat => {
            needs.group(Read, req.name("group_id")?);
            needs.each(Describe, ResourceType::Topic, req.names("subscribed_topic_names")?);
        }
        // KafkaApis: Read on the group (the whole request refused), then Read on each topic, by id: a denied
        // topic is answered per partition. An id not learned is resolved before (`classify`) and left out
        // here (answered UNKNOWN_TOPIC_ID).
        ApiKey::ShareFetch | ApiKey::ShareAcknowledge => {
            needs.group(Read, req.name("group_id")?);
            for topic in req.nodes("topics") {
                if let Some(name) = topic.topic("topic_id") {
                    needs.topic_cow(Read, name);
                }
            }
        }
        // KafkaApis: the group refused whole (Read to alter, Delete to delete), then Read on each topic, each
        // denied topic answered on its own.
        ApiKey::AlterShareGroupOffsets => {
            needs.group(Read, req.name("group_id")?);
            topics(&mut needs, Read, "topics", "topic_name")?;
        }
        // As OffsetFetch v8+: Describe on each group, Describe on each named topic; all topics: filtered.
        ApiKey::DescribeShareGroupOffsets => {
            for group in req.nodes("groups") {
                needs.group(Describe, group.name("group_id")?);
                for topic in group.nodes("topics") {
                    needs.topic(Describe, topic.name("topic_name")?);
                }
            }
        }
        ApiKey::DeleteShareGroupOffsets => {
            needs.group(Delete, req.name("group_id")?);
            topics(&mut needs, Read, "topics", "topic_name")?;
        }
        _ => return Err("not supported by the filter".into()),
    }
    Ok(needs.done())
}

/// The resource a FindCoordinator key names, by key type.
pub(crate) fn coordinator_resource(key_type: i64) -> Result<ResourceType, String> {
    match key_type {
        0 => Ok(ResourceType::Group),
        1 => Ok(ResourceType::TransactionalId),
        other => Err(format!("coordinator key type {other}")),
    }
}

/// APIs whose only check is one operation on the cluster, whatever the body says; their error responses
/// carry a single top-level error code.
pub(crate) fn cluster_only_operation(key: ApiKey) -> Option<Operation> {
    use Operation::*;
    Some(match key {
        ApiKey::DescribeLogDirs
        | ApiKey::ListPartitionReassignments
        | ApiKey::DescribeUserScramCredentials
        | ApiKey::DescribeQuorum => Describe,
        ApiKey::ElectLeaders
        | ApiKey::AlterPartitionReassignments
        | ApiKey::UpdateFeatures
        | ApiKey::UnregisterBroker
        | ApiKey::AddRaftVoter
        | ApiKey::RemoveRaftVoter => Alter,
        ApiKey::DescribeClientQuotas | ApiKey::ListConfigResources => DescribeConfigs,
        ApiKey::Vote
        | ApiKey::BeginQuorumEpoch
        | ApiKey::EndQuorumEpoch
        | ApiKey::AlterPartition
        | ApiKey::Envelope
        | ApiKey::FetchSnapshot
        | ApiKey::BrokerRegistration
        | ApiKey::BrokerHeartbeat
        | ApiKey::AllocateProducerIds
        | ApiKey::ControllerRegistration
        | ApiKey::AssignReplicasToDirs
        | ApiKey::UpdateRaftVoter => ClusterAction,
        _ => return None,
    })
}

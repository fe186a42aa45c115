//! Request classification: from a request body to the authorization questions Kafka's authorizer asks
//! (KafkaApis / "Operations and Resources on Protocols").
//!
//! Produce is classified from a prefix by a hand-written walker that skips record batches by their length,
//! so a 10 MiB produce is decided as soon as its last topic name has arrived. Every other API is decoded
//! from the complete body with kafka-protocol, after a *shape check*: kafka-protocol's array decoders call
//! `Vec::with_capacity(n)` with `n` read off the wire, so a 20-byte body claiming 2^31 elements would abort
//! the process. The shape check walks the body with a per-API layout table ([`Shape`]) and refuses any array
//! count larger than the bytes left (every element takes at least one byte) and any length past the body
//! (bytes after the request are ignored, as brokers ignore them). Only a body that passes is handed to kafka-protocol, and every allocation is then
//! bounded by the frame. A layout table that disagrees with kafka-protocol can only make the check refuse
//! (Unsupported, fail closed); the tests encode populated requests at every version to keep them equal.
//!
//! Choices where the filter cannot ask exactly what Kafka asks:
//! - Metadata for all topics: no requirement; the response must be filtered to described topics later.
//!   Topic auto-creation (Create Cluster/Topic) is not checked here either.
//! - ListGroups / ListTransactions: Kafka never fails them, it filters the listing by Describe Group /
//!   TransactionalId. The filter cannot filter, so it requires Describe Cluster (Kafka's shortcut that shows
//!   everything) and otherwise answers with an empty listing, which is what Kafka answers a principal that
//!   may see nothing.
//! - InitProducerId without transactional id: Kafka (3.0+) allows IdempotentWrite Cluster OR Write on *any*
//!   topic. An `Action` names one resource, so only IdempotentWrite Cluster is asked.
//! - DescribeCluster: Kafka checks nothing (Describe Cluster only gates the authorized-operations field);
//!   no requirement.
//! - Fetch sessions (v7+): the topics listed are checked; partitions cached in an incremental fetch session
//!   were checked when they were listed.
//! - Requests addressing topics by id (Metadata v10+, DeleteTopics v6) are Unsupported when a name is absent.

use crate::api_table;
use crate::policy::{Action, Operation, ResourceType, CLUSTER_NAME};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

/// Satisfied when any one of the alternatives is allowed (e.g. CreateTopics: Create on the cluster OR on
/// the topic). A request is allowed when all of its requirements are satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub any_of: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// More of the body is needed to decide (only returned when `body_prefix` is shorter than the body).
    NeedMore,
    /// ApiVersions, SaslHandshake, SaslAuthenticate: always allowed, never checked.
    Unchecked,
    /// All requirements must be satisfied. `expects_response` is false for Produce with acks=0.
    Checks { requirements: Vec<Requirement>, expects_response: bool },
    /// The filter cannot parse this API key/version: denied (fail closed) unless configured otherwise.
    Unsupported(String),
}

/// Classifies one request. `body_prefix` starts right after the request header; `body_len` is the full
/// body length (the frame may still be arriving). Must never panic on any input.
pub fn classify(api_key: i16, api_version: i16, body_prefix: &[u8], body_len: usize) -> Classification {
    // Part of the handshake/authentication, or never authorized by Kafka: any version, never checked.
    // ApiVersions must pass even above the supported range: the broker answers those with v0.
    if matches!(
        ApiKey::try_from(api_key),
        Ok(ApiKey::ApiVersions
            | ApiKey::SaslHandshake
            | ApiKey::SaslAuthenticate
            | ApiKey::GetTelemetrySubscriptions
            | ApiKey::PushTelemetry)
    ) {
        return Classification::Unchecked;
    }
    let Some(entry) = api_table::lookup(api_key) else {
        return Classification::Unsupported(format!("unknown API key {api_key}"));
    };
    let min_version = api_table::min_version(api_key);
    if entry.max_version < 0 || api_version < min_version || api_version > entry.max_version {
        return Classification::Unsupported(format!(
            "{} v{api_version} is not supported (supported: {})",
            entry.name,
            if entry.max_version < 0 { "none".to_string() } else { format!("v{min_version}-v{}", entry.max_version) }
        ));
    }
    let prefix = body_prefix.get(..body_len).unwrap_or(body_prefix);
    if api_key == ApiKey::Produce as i16 {
        return match walk_produce(api_version, prefix, body_len, false) {
            Ok(produce) => Classification::Checks {
                expects_response: produce.acks != 0,
                requirements: produce_requirements(&produce),
            },
            Err(Stop::NeedMore) => Classification::NeedMore,
            Err(Stop::Bad(reason)) => Classification::Unsupported(format!("malformed Produce: {reason}")),
        };
    }
    if prefix.len() < body_len {
        return Classification::NeedMore;
    }
    match requirements_of(api_key, api_version, prefix) {
        Ok(requirements) => Classification::Checks { requirements, expects_response: true },
        Err(reason) => Classification::Unsupported(format!("{} v{api_version}: {reason}", entry.name)),
    }
}

fn action(op: Operation, resource_type: ResourceType, name: &str) -> Action {
    Action { op, resource_type, name: name.to_string() }
}

fn cluster(op: Operation) -> Vec<Requirement> {
    vec![Requirement { any_of: vec![action(op, ResourceType::Cluster, CLUSTER_NAME)] }]
}

/// Collects requirements without duplicates, in request order (so logs read like the request).
#[derive(Default)]
struct Needs(Vec<Requirement>);

impl Needs {
    fn one(&mut self, op: Operation, resource_type: ResourceType, name: &str) -> &mut Self {
        self.any(vec![action(op, resource_type, name)])
    }
    fn any(&mut self, any_of: Vec<Action>) -> &mut Self {
        let requirement = Requirement { any_of };
        if !self.0.contains(&requirement) {
            self.0.push(requirement);
        }
        self
    }
    fn topic(&mut self, op: Operation, name: &str) -> &mut Self {
        self.one(op, ResourceType::Topic, name)
    }
    fn group(&mut self, op: Operation, name: &str) -> &mut Self {
        self.one(op, ResourceType::Group, name)
    }
    fn txn(&mut self, op: Operation, name: &str) -> &mut Self {
        self.one(op, ResourceType::TransactionalId, name)
    }
    fn done(&mut self) -> Vec<Requirement> {
        std::mem::take(&mut self.0)
    }
}

fn produce_requirements(produce: &ProduceSummary) -> Vec<Requirement> {
    let mut needs = Needs::default();
    if let Some(id) = &produce.transactional_id {
        needs.txn(Operation::Write, id);
    }
    for (topic, _) in &produce.topics {
        needs.topic(Operation::Write, topic);
    }
    needs.done()
}

/// Config resource types (org.apache.kafka.common.config.ConfigResource.Type).
pub(crate) const CONFIG_TOPIC: i8 = 2;
pub(crate) const CONFIG_BROKER: i8 = 4;
pub(crate) const CONFIG_BROKER_LOGGER: i8 = 8;
pub(crate) const CONFIG_CLIENT_METRICS: i8 = 16;
pub(crate) const CONFIG_GROUP: i8 = 32;

/// The resource Kafka authorizes for a config resource (KafkaApis / ConfigHelper).
pub(crate) fn config_resource(resource_type: i8, name: &str) -> Result<(ResourceType, String), String> {
    match resource_type {
        CONFIG_TOPIC => Ok((ResourceType::Topic, name.to_string())),
        CONFIG_BROKER | CONFIG_BROKER_LOGGER | CONFIG_CLIENT_METRICS => {
            Ok((ResourceType::Cluster, CLUSTER_NAME.to_string()))
        }
        CONFIG_GROUP => Ok((ResourceType::Group, name.to_string())),
        other => Err(format!("unknown config resource type {other}")),
    }
}

/// Requirements of a complete, non-Produce request body.
fn requirements_of(api_key: i16, version: i16, body: &[u8]) -> Result<Vec<Requirement>, String> {
    use Operation::*;
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    let mut needs = Needs::default();
    match key {
        ApiKey::Fetch => {
            let req: FetchRequest = decode_checked(api_key, version, body)?;
            if req.replica_id.0 >= 0 {
                return Ok(cluster(ClusterAction));
            }
            for topic in &req.topics {
                needs.topic(Read, &topic.topic);
            }
        }
        ApiKey::ListOffsets => {
            let req: ListOffsetsRequest = decode_checked(api_key, version, body)?;
            for topic in &req.topics {
                needs.topic(Describe, &topic.name);
            }
        }
        ApiKey::Metadata => {
            let req: MetadataRequest = decode_checked(api_key, version, body)?;
            for topic in req.topics.iter().flatten() {
                match &topic.name {
                    Some(name) => needs.topic(Describe, name),
                    None => return Err("topic addressed by id".into()),
                };
            }
        }
        ApiKey::OffsetCommit => {
            let req: OffsetCommitRequest = decode_checked(api_key, version, body)?;
            needs.group(Read, &req.group_id);
            for topic in &req.topics {
                needs.topic(Read, &topic.name);
            }
        }
        ApiKey::OffsetFetch => {
            let req: OffsetFetchRequest = decode_checked(api_key, version, body)?;
            if version <= 7 {
                needs.group(Describe, &req.group_id);
                for topic in req.topics.iter().flatten() {
                    needs.topic(Describe, &topic.name);
                }
            } else {
                for group in req.groups.iter() {
                    needs.group(Describe, &group.group_id);
                    for topic in group.topics.iter().flatten() {
                        needs.topic(Describe, &topic.name);
                    }
                }
            }
        }
        ApiKey::FindCoordinator => {
            let req: FindCoordinatorRequest = decode_checked(api_key, version, body)?;
            let resource_type = match req.key_type {
                0 => ResourceType::Group,
                1 => ResourceType::TransactionalId,
                other => return Err(format!("coordinator key type {other}")),
            };
            let keys = if version >= 4 { req.coordinator_keys.clone() } else { vec![req.key.clone()] };
            for key in &keys {
                needs.one(Describe, resource_type, key);
            }
        }
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = decode_checked(api_key, version, body)?;
            needs.group(Read, &req.group_id);
        }
        ApiKey::Heartbeat => {
            let req: HeartbeatRequest = decode_checked(api_key, version, body)?;
            needs.group(Read, &req.group_id);
        }
        ApiKey::LeaveGroup => {
            let req: LeaveGroupRequest = decode_checked(api_key, version, body)?;
            needs.group(Read, &req.group_id);
        }
        ApiKey::SyncGroup => {
            let req: SyncGroupRequest = decode_checked(api_key, version, body)?;
            needs.group(Read, &req.group_id);
        }
        ApiKey::DescribeGroups => {
            let req: DescribeGroupsRequest = decode_checked(api_key, version, body)?;
            for group in &req.groups {
                needs.group(Describe, group);
            }
        }
        ApiKey::ListGroups => {
            let _: ListGroupsRequest = decode_checked(api_key, version, body)?;
            return Ok(cluster(Describe));
        }
        ApiKey::CreateTopics => {
            let req: CreateTopicsRequest = decode_checked(api_key, version, body)?;
            for topic in &req.topics {
                needs.any(vec![
                    action(Create, ResourceType::Cluster, CLUSTER_NAME),
                    action(Create, ResourceType::Topic, &topic.name),
                ]);
            }
        }
        ApiKey::DeleteTopics => {
            let req: DeleteTopicsRequest = decode_checked(api_key, version, body)?;
            for name in &req.topic_names {
                needs.topic(Delete, name);
            }
            for topic in &req.topics {
                match &topic.name {
                    Some(name) => needs.topic(Delete, name),
                    None => return Err("topic addressed by id".into()),
                };
            }
        }
        ApiKey::DeleteRecords => {
            let req: DeleteRecordsRequest = decode_checked(api_key, version, body)?;
            for topic in &req.topics {
                needs.topic(Delete, &topic.name);
            }
        }
        ApiKey::InitProducerId => {
            let req: InitProducerIdRequest = decode_checked(api_key, version, body)?;
            return Ok(match &req.transactional_id {
                Some(id) => needs.txn(Write, id).done(),
                None => cluster(IdempotentWrite),
            });
        }
        ApiKey::OffsetForLeaderEpoch => {
            let req: OffsetForLeaderEpochRequest = decode_checked(api_key, version, body)?;
            // -1 consumer, -2 debugging tool; anything else is a follower broker.
            if req.replica_id.0 >= 0 {
                return Ok(cluster(ClusterAction));
            }
            for topic in &req.topics {
                needs.topic(Describe, &topic.topic);
            }
        }
        ApiKey::AddPartitionsToTxn => {
            let req: AddPartitionsToTxnRequest = decode_checked(api_key, version, body)?;
            needs.txn(Write, &req.v3_and_below_transactional_id);
            for topic in &req.v3_and_below_topics {
                needs.topic(Write, &topic.name);
            }
        }
        ApiKey::AddOffsetsToTxn => {
            let req: AddOffsetsToTxnRequest = decode_checked(api_key, version, body)?;
            needs.txn(Write, &req.transactional_id).group(Read, &req.group_id);
        }
        ApiKey::EndTxn => {
            let req: EndTxnRequest = decode_checked(api_key, version, body)?;
            needs.txn(Write, &req.transactional_id);
        }
        ApiKey::TxnOffsetCommit => {
            let req: TxnOffsetCommitRequest = decode_checked(api_key, version, body)?;
            needs.txn(Write, &req.transactional_id).group(Read, &req.group_id);
            for topic in &req.topics {
                needs.topic(Read, &topic.name);
            }
        }
        ApiKey::DescribeAcls => {
            let _: DescribeAclsRequest = decode_checked(api_key, version, body)?;
            return Ok(cluster(Describe));
        }
        ApiKey::CreateAcls => {
            let _: CreateAclsRequest = decode_checked(api_key, version, body)?;
            return Ok(cluster(Alter));
        }
        ApiKey::DeleteAcls => {
            let _: DeleteAclsRequest = decode_checked(api_key, version, body)?;
            return Ok(cluster(Alter));
        }
        ApiKey::DescribeConfigs => {
            let req: DescribeConfigsRequest = decode_checked(api_key, version, body)?;
            for resource in &req.resources {
                let (resource_type, name) = config_resource(resource.resource_type, &resource.resource_name)?;
                needs.one(DescribeConfigs, resource_type, &name);
            }
        }
        ApiKey::AlterConfigs => {
            let req: AlterConfigsRequest = decode_checked(api_key, version, body)?;
            for resource in &req.resources {
                let (resource_type, name) = config_resource(resource.resource_type, &resource.resource_name)?;
                needs.one(AlterConfigs, resource_type, &name);
            }
        }
        ApiKey::IncrementalAlterConfigs => {
            let req: IncrementalAlterConfigsRequest = decode_checked(api_key, version, body)?;
            for resource in &req.resources {
                let (resource_type, name) = config_resource(resource.resource_type, &resource.resource_name)?;
                needs.one(AlterConfigs, resource_type, &name);
            }
        }
        ApiKey::CreatePartitions => {
            let req: CreatePartitionsRequest = decode_checked(api_key, version, body)?;
            for topic in &req.topics {
                needs.topic(Alter, &topic.name);
            }
        }
        ApiKey::DeleteGroups => {
            let req: DeleteGroupsRequest = decode_checked(api_key, version, body)?;
            for group in &req.groups_names {
                needs.group(Delete, group);
            }
        }
        ApiKey::OffsetDelete => {
            let req: OffsetDeleteRequest = decode_checked(api_key, version, body)?;
            needs.group(Delete, &req.group_id);
            for topic in &req.topics {
                needs.topic(Read, &topic.name);
            }
        }
        ApiKey::DescribeCluster => {
            let _: DescribeClusterRequest = decode_checked(api_key, version, body)?;
        }
        ApiKey::DescribeProducers => {
            let req: DescribeProducersRequest = decode_checked(api_key, version, body)?;
            for topic in &req.topics {
                needs.topic(Read, &topic.name);
            }
        }
        ApiKey::DescribeTransactions => {
            let req: DescribeTransactionsRequest = decode_checked(api_key, version, body)?;
            for id in &req.transactional_ids {
                needs.txn(Describe, id);
            }
        }
        ApiKey::ListTransactions => {
            let _: ListTransactionsRequest = decode_checked(api_key, version, body)?;
            return Ok(cluster(Describe));
        }
        ApiKey::ConsumerGroupDescribe => {
            let req: ConsumerGroupDescribeRequest = decode_checked(api_key, version, body)?;
            for group in &req.group_ids {
                needs.group(Describe, group);
            }
        }
        _ => match cluster_only_operation(key) {
            // The body does not matter for these: one cluster-level question.
            Some(op) => return Ok(cluster(op)),
            None => return Err("not supported by the filter".into()),
        },
    }
    Ok(needs.done())
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

// ---------------------------------------------------------------------------------------------------------
// Wire reading over a prefix of a body whose full length is known.

/// Why a walk stopped: the bytes needed have not arrived yet, or the body is not a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    NeedMore,
    Bad(String),
}

fn bad(reason: &str) -> Stop {
    Stop::Bad(reason.to_string())
}

/// Bounds-checked cursor. `buf` holds the bytes that have arrived, `end` is the body length: reading
/// past `buf` but within `end` is NeedMore, past `end` is malformed.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], end: usize) -> Self {
        Reader { buf, pos: 0, end }
    }

    fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    fn advance(&mut self, n: usize) -> Result<usize, Stop> {
        let next = self.pos.checked_add(n).filter(|next| *next <= self.end).ok_or_else(|| bad("truncated"))?;
        Ok(std::mem::replace(&mut self.pos, next))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        let start = self.pos;
        let end = start.checked_add(n).ok_or_else(|| bad("length overflow"))?;
        if end > self.end {
            return Err(bad("truncated"));
        }
        let bytes = self.buf.get(start..end).ok_or(Stop::NeedMore)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Skips `n` bytes that need not have arrived yet (record batches).
    fn skip(&mut self, n: usize) -> Result<(), Stop> {
        self.advance(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| bad("internal length mismatch"))
    }

    fn i16(&mut self) -> Result<i16, Stop> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, Stop> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn uvarint(&mut self) -> Result<u32, Stop> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let [b] = self.array::<1>()?;
            if i == 4 && b > 0x0f {
                return Err(bad("varint overflows 32 bits"));
            }
            value |= u32::from(b & 0x7f) << (i * 7);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(bad("varint too long"))
    }

    /// Element count of an array; `None` for a null array. Never more than the bytes left, since every
    /// element takes at least one byte.
    fn count(&mut self, flexible: bool) -> Result<Option<usize>, Stop> {
        let n = if flexible {
            match self.uvarint()? {
                0 => return Ok(None),
                n => (n - 1) as usize,
            }
        } else {
            match self.i32()? {
                -1 => return Ok(None),
                n if n < 0 => return Err(bad("negative array length")),
                n => n as usize,
            }
        };
        if n > self.left() {
            return Err(bad("array longer than the body"));
        }
        Ok(Some(n))
    }

    /// Length of a string (`i16`/compact) or bytes (`i32`/compact) field; `None` when null.
    fn length(&mut self, flexible: bool, wide: bool) -> Result<Option<usize>, Stop> {
        let n: i64 = match (flexible, wide) {
            (true, _) => i64::from(self.uvarint()?) - 1,
            (false, false) => i64::from(self.i16()?),
            (false, true) => i64::from(self.i32()?),
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(bad("negative length")),
            n => usize::try_from(n).map(Some).map_err(|_| bad("length overflow")),
        }
    }

    fn string(&mut self, flexible: bool) -> Result<Option<&'a str>, Stop> {
        match self.length(flexible, false)? {
            None => Ok(None),
            Some(n) => std::str::from_utf8(self.take(n)?).map(Some).map_err(|_| bad("string is not UTF-8")),
        }
    }

    fn tagged_fields(&mut self) -> Result<(), Stop> {
        let n = self.uvarint()? as usize;
        if n > self.left() {
            return Err(bad("more tagged fields than bytes"));
        }
        for _ in 0..n {
            // Tags are non-negative i32s; kafka-protocol reads a larger one as a negative tag it then fails
            // to write back, so such a message is malformed here.
            if self.uvarint()? > i32::MAX as u32 {
                return Err(bad("tagged field tag out of range"));
            }
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Produce walker.

/// What authorization and the error response need from a Produce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProduceSummary {
    pub transactional_id: Option<String>,
    pub acks: i16,
    /// Topic names in request order, with partition indexes when the whole body was walked.
    pub topics: Vec<(String, Vec<i32>)>,
}

/// Walks a Produce request (v0-v12). With `complete == false` it stops once the last topic name is read
/// (record batches are skipped by length, they need not have arrived); with `complete == true` it walks
/// the whole body, collects partition indexes and requires the body to end exactly.
pub(crate) fn walk_produce(
    version: i16,
    prefix: &[u8],
    body_len: usize,
    complete: bool,
) -> Result<ProduceSummary, Stop> {
    if !(0..=12).contains(&version) {
        return Err(bad("version not handled by the Produce walker"));
    }
    let flexible = version >= 9;
    let mut r = Reader::new(prefix, body_len);
    let transactional_id = if version >= 3 { r.string(flexible)?.map(str::to_string) } else { None };
    let acks = r.i16()?;
    let _timeout_ms = r.i32()?;
    let topic_count = r.count(flexible)?.ok_or_else(|| bad("null topic array"))?;
    let mut topics = Vec::new();
    for i in 0..topic_count {
        let name = r.string(flexible)?.ok_or_else(|| bad("null topic name"))?;
        topics.push((name.to_string(), Vec::new()));
        if !complete && i + 1 == topic_count {
            break;
        }
        let partition_count = r.count(flexible)?.ok_or_else(|| bad("null partition array"))?;
        for _ in 0..partition_count {
            let index = r.i32()?;
            if let Some(records_len) = r.length(flexible, true)? {
                r.skip(records_len)?;
            }
            if flexible {
                r.tagged_fields()?;
            }
            if let Some((_, partitions)) = topics.last_mut() {
                partitions.push(index);
            }
        }
        if flexible {
            r.tagged_fields()?;
        }
    }
    // Trailing bytes after the request's tagged fields are ignored, as the broker ignores them (see check_shape).
    if complete && flexible {
        r.tagged_fields()?;
    }
    Ok(ProduceSummary { transactional_id, acks, topics })
}

/// Calls `visit(name, entry_start)` for each topic of a Produce request (v0-v12), `entry_start` being the
/// body offset where the topic's entry (its name) begins. Walks as [`walk_produce`] with `complete ==
/// false`: it stops after the last topic's name, so the records need not have arrived. Allocates nothing:
/// it runs for every forwarded Produce (per-topic byte counts).
pub(crate) fn produce_topic_entries<'a>(
    version: i16,
    prefix: &'a [u8],
    body_len: usize,
    mut visit: impl FnMut(&'a str, usize),
) -> Result<(), Stop> {
    if !(0..=12).contains(&version) {
        return Err(bad("version not handled by the Produce walker"));
    }
    let flexible = version >= 9;
    let mut r = Reader::new(prefix, body_len);
    if version >= 3 {
        r.string(flexible)?;
    }
    r.i16()?; // acks
    r.i32()?; // timeout_ms
    let topic_count = r.count(flexible)?.ok_or_else(|| bad("null topic array"))?;
    for i in 0..topic_count {
        let entry_start = r.pos;
        let name = r.string(flexible)?.ok_or_else(|| bad("null topic name"))?;
        visit(name, entry_start);
        if i + 1 == topic_count {
            break;
        }
        let partition_count = r.count(flexible)?.ok_or_else(|| bad("null partition array"))?;
        for _ in 0..partition_count {
            r.i32()?;
            if let Some(records_len) = r.length(flexible, true)? {
                r.skip(records_len)?;
            }
            if flexible {
                r.tagged_fields()?;
            }
        }
        if flexible {
            r.tagged_fields()?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Shape check: request layouts, as in Kafka's message JSON (and kafka-protocol's generated decoders).

/// One field's wire type.
#[derive(Clone, Copy)]
enum Ty {
    I8,
    I16,
    I32,
    I64,
    Uuid,
    Bool,
    /// String or nullable string (`i16` length, compact in flexible versions).
    Str,
    /// Bytes or nullable bytes (`i32` length, compact in flexible versions).
    Bytes,
    /// (Nullable) array of structs; each struct ends with tagged fields in flexible versions.
    Structs(&'static [Field]),
    /// (Nullable) array of fixed-size elements.
    Fixed(usize),
    /// (Nullable) array of strings.
    Strs,
}

/// A field present in versions `min..=max`.
#[derive(Clone, Copy)]
struct Field {
    ty: Ty,
    min: i16,
    max: i16,
}

const fn all(ty: Ty) -> Field {
    Field { ty, min: 0, max: i16::MAX }
}
const fn since(min: i16, ty: Ty) -> Field {
    Field { ty, min, max: i16::MAX }
}
const fn until(max: i16, ty: Ty) -> Field {
    Field { ty, min: 0, max }
}
const fn between(min: i16, max: i16, ty: Ty) -> Field {
    Field { ty, min, max }
}

/// A request layout: fields, and the first flexible version (compact lengths, tagged fields).
pub(crate) struct Shape {
    flexible_from: i16,
    fields: &'static [Field],
}

use Ty::*;

const I32S: Ty = Fixed(4);
const I64S: Ty = Fixed(8);

static FETCH: Shape = Shape {
    flexible_from: 12,
    fields: &[
        until(14, I32), // replica_id
        all(I32),       // max_wait_ms
        all(I32),       // min_bytes
        since(3, I32),  // max_bytes
        since(4, I8),   // isolation_level
        since(7, I32),  // session_id
        since(7, I32),  // session_epoch
        all(Structs(&[
            until(12, Str), // topic
            since(13, Uuid),
            all(Structs(&[
                all(I32),       // partition
                since(9, I32),  // current_leader_epoch
                all(I64),       // fetch_offset
                since(12, I32), // last_fetched_epoch
                since(5, I64),  // log_start_offset
                all(I32),       // partition_max_bytes
            ])),
        ])),
        since(7, Structs(&[between(7, 12, Str), since(13, Uuid), since(7, I32S)])), // forgotten_topics_data
        since(11, Str),                                                             // rack_id
    ],
};

static LIST_OFFSETS: Shape = Shape {
    flexible_from: 6,
    fields: &[
        all(I32),     // replica_id
        since(2, I8), // isolation_level
        all(Structs(&[
            all(Str),
            all(Structs(&[all(I32), since(4, I32), all(I64), until(0, I32)])), // partition, epoch, timestamp, max_num_offsets
        ])),
        since(10, I32), // timeout_ms
    ],
};

static METADATA: Shape = Shape {
    flexible_from: 9,
    fields: &[
        all(Structs(&[since(10, Uuid), all(Str)])),
        since(4, Bool),       // allow_auto_topic_creation
        between(8, 10, Bool), // include_cluster_authorized_operations
        since(8, Bool),       // include_topic_authorized_operations
    ],
};

static OFFSET_COMMIT: Shape = Shape {
    flexible_from: 8,
    fields: &[
        all(Str),           // group_id
        since(1, I32),      // generation_id_or_member_epoch
        since(1, Str),      // member_id
        since(7, Str),      // group_instance_id
        between(2, 4, I64), // retention_time_ms
        all(Structs(&[
            until(9, Str),
            since(10, Uuid),
            all(Structs(&[all(I32), all(I64), since(6, I32), until(1, I64), all(Str)])),
        ])),
    ],
};

static OFFSET_FETCH: Shape = Shape {
    flexible_from: 6,
    fields: &[
        until(7, Str),                             // group_id
        until(7, Structs(&[all(Str), all(I32S)])), // topics
        since(
            8,
            Structs(&[
                all(Str),      // group_id
                since(9, Str), // member_id
                since(9, I32), // member_epoch
                all(Structs(&[until(9, Str), since(10, Uuid), all(I32S)])),
            ]),
        ),
        since(7, Bool), // require_stable
    ],
};

static FIND_COORDINATOR: Shape = Shape { flexible_from: 3, fields: &[until(3, Str), since(1, I8), since(4, Strs)] };

static JOIN_GROUP: Shape = Shape {
    flexible_from: 6,
    fields: &[
        all(Str),      // group_id
        all(I32),      // session_timeout_ms
        since(1, I32), // rebalance_timeout_ms
        all(Str),      // member_id
        since(5, Str), // group_instance_id
        all(Str),      // protocol_type
        all(Structs(&[all(Str), all(Bytes)])),
        since(8, Str), // reason
    ],
};

static HEARTBEAT: Shape = Shape { flexible_from: 4, fields: &[all(Str), all(I32), all(Str), since(3, Str)] };

static LEAVE_GROUP: Shape = Shape {
    flexible_from: 4,
    fields: &[all(Str), until(2, Str), since(3, Structs(&[all(Str), all(Str), since(5, Str)]))],
};

static SYNC_GROUP: Shape = Shape {
    flexible_from: 4,
    fields: &[
        all(Str),      // group_id
        all(I32),      // generation_id
        all(Str),      // member_id
        since(3, Str), // group_instance_id
        since(5, Str), // protocol_type
        since(5, Str), // protocol_name
        all(Structs(&[all(Str), all(Bytes)])),
    ],
};

static DESCRIBE_GROUPS: Shape = Shape { flexible_from: 5, fields: &[all(Strs), since(3, Bool)] };

static LIST_GROUPS: Shape = Shape { flexible_from: 3, fields: &[since(4, Strs), since(5, Strs)] };

static CREATE_TOPICS: Shape = Shape {
    flexible_from: 5,
    fields: &[
        all(Structs(&[
            all(Str), // name
            all(I32), // num_partitions
            all(I16), // replication_factor
            all(Structs(&[all(I32), all(I32S)])),
            all(Structs(&[all(Str), all(Str)])),
        ])),
        all(I32),       // timeout_ms
        since(1, Bool), // validate_only
    ],
};

static DELETE_TOPICS: Shape =
    Shape { flexible_from: 4, fields: &[since(6, Structs(&[all(Str), all(Uuid)])), until(5, Strs), all(I32)] };

static DELETE_RECORDS: Shape =
    Shape { flexible_from: 2, fields: &[all(Structs(&[all(Str), all(Structs(&[all(I32), all(I64)]))])), all(I32)] };

static INIT_PRODUCER_ID: Shape = Shape {
    flexible_from: 2,
    fields: &[all(Str), all(I32), since(3, I64), since(3, I16), since(6, Bool), since(6, Bool)],
};

static OFFSET_FOR_LEADER_EPOCH: Shape = Shape {
    flexible_from: 4,
    fields: &[since(3, I32), all(Structs(&[all(Str), all(Structs(&[all(I32), since(2, I32), all(I32)]))]))],
};

static ADD_PARTITIONS_TO_TXN: Shape = Shape {
    flexible_from: 3,
    fields: &[
        since(4, Structs(&[all(Str), all(I64), all(I16), all(Bool), all(Structs(&[all(Str), all(I32S)]))])),
        until(3, Str),
        until(3, I64),
        until(3, I16),
        until(3, Structs(&[all(Str), all(I32S)])),
    ],
};

static ADD_OFFSETS_TO_TXN: Shape = Shape { flexible_from: 3, fields: &[all(Str), all(I64), all(I16), all(Str)] };

static END_TXN: Shape = Shape { flexible_from: 3, fields: &[all(Str), all(I64), all(I16), all(Bool)] };

static TXN_OFFSET_COMMIT: Shape = Shape {
    flexible_from: 3,
    fields: &[
        all(Str), // transactional_id
        all(Str), // group_id
        all(I64),
        all(I16),
        since(3, I32), // generation_id
        since(3, Str), // member_id
        since(3, Str), // group_instance_id
        all(Structs(&[all(Str), all(Structs(&[all(I32), all(I64), since(2, I32), all(Str)]))])),
    ],
};

static ACL_FILTER: &[Field] = &[all(I8), all(Str), since(1, I8), all(Str), all(Str), all(I8), all(I8)];

static DESCRIBE_ACLS: Shape = Shape { flexible_from: 2, fields: ACL_FILTER };

static CREATE_ACLS: Shape = Shape { flexible_from: 2, fields: &[all(Structs(ACL_FILTER))] };

static DELETE_ACLS: Shape = Shape { flexible_from: 2, fields: &[all(Structs(ACL_FILTER))] };

static DESCRIBE_CONFIGS: Shape = Shape {
    flexible_from: 4,
    fields: &[all(Structs(&[all(I8), all(Str), all(Strs)])), since(1, Bool), since(3, Bool)],
};

static ALTER_CONFIGS: Shape = Shape {
    flexible_from: 2,
    fields: &[all(Structs(&[all(I8), all(Str), all(Structs(&[all(Str), all(Str)]))])), all(Bool)],
};

static INCREMENTAL_ALTER_CONFIGS: Shape = Shape {
    flexible_from: 1,
    fields: &[all(Structs(&[all(I8), all(Str), all(Structs(&[all(Str), all(I8), all(Str)]))])), all(Bool)],
};

static CREATE_PARTITIONS: Shape = Shape {
    flexible_from: 2,
    fields: &[all(Structs(&[all(Str), all(I32), all(Structs(&[all(I32S)]))])), all(I32), all(Bool)],
};

static DELETE_GROUPS: Shape = Shape { flexible_from: 2, fields: &[all(Strs)] };

static OFFSET_DELETE: Shape =
    Shape { flexible_from: i16::MAX, fields: &[all(Str), all(Structs(&[all(Str), all(Structs(&[all(I32)]))]))] };

static DESCRIBE_CLUSTER: Shape = Shape { flexible_from: 0, fields: &[all(Bool), since(1, I8), since(2, Bool)] };

static DESCRIBE_PRODUCERS: Shape = Shape { flexible_from: 0, fields: &[all(Structs(&[all(Str), all(I32S)]))] };

static DESCRIBE_TRANSACTIONS: Shape = Shape { flexible_from: 0, fields: &[all(Strs)] };

static LIST_TRANSACTIONS: Shape =
    Shape { flexible_from: 0, fields: &[all(Strs), all(I64S), since(1, I64), since(2, Str)] };

static CONSUMER_GROUP_DESCRIBE: Shape = Shape { flexible_from: 0, fields: &[all(Strs), all(Bool)] };

/// The layout the shape check uses for an API; `None` for APIs the filter never decodes.
pub(crate) fn shape(key: ApiKey) -> Option<&'static Shape> {
    Some(match key {
        ApiKey::Fetch => &FETCH,
        ApiKey::ListOffsets => &LIST_OFFSETS,
        ApiKey::Metadata => &METADATA,
        ApiKey::OffsetCommit => &OFFSET_COMMIT,
        ApiKey::OffsetFetch => &OFFSET_FETCH,
        ApiKey::FindCoordinator => &FIND_COORDINATOR,
        ApiKey::JoinGroup => &JOIN_GROUP,
        ApiKey::Heartbeat => &HEARTBEAT,
        ApiKey::LeaveGroup => &LEAVE_GROUP,
        ApiKey::SyncGroup => &SYNC_GROUP,
        ApiKey::DescribeGroups => &DESCRIBE_GROUPS,
        ApiKey::ListGroups => &LIST_GROUPS,
        ApiKey::CreateTopics => &CREATE_TOPICS,
        ApiKey::DeleteTopics => &DELETE_TOPICS,
        ApiKey::DeleteRecords => &DELETE_RECORDS,
        ApiKey::InitProducerId => &INIT_PRODUCER_ID,
        ApiKey::OffsetForLeaderEpoch => &OFFSET_FOR_LEADER_EPOCH,
        ApiKey::AddPartitionsToTxn => &ADD_PARTITIONS_TO_TXN,
        ApiKey::AddOffsetsToTxn => &ADD_OFFSETS_TO_TXN,
        ApiKey::EndTxn => &END_TXN,
        ApiKey::TxnOffsetCommit => &TXN_OFFSET_COMMIT,
        ApiKey::DescribeAcls => &DESCRIBE_ACLS,
        ApiKey::CreateAcls => &CREATE_ACLS,
        ApiKey::DeleteAcls => &DELETE_ACLS,
        ApiKey::DescribeConfigs => &DESCRIBE_CONFIGS,
        ApiKey::AlterConfigs => &ALTER_CONFIGS,
        ApiKey::IncrementalAlterConfigs => &INCREMENTAL_ALTER_CONFIGS,
        ApiKey::CreatePartitions => &CREATE_PARTITIONS,
        ApiKey::DeleteGroups => &DELETE_GROUPS,
        ApiKey::OffsetDelete => &OFFSET_DELETE,
        ApiKey::DescribeCluster => &DESCRIBE_CLUSTER,
        ApiKey::DescribeProducers => &DESCRIBE_PRODUCERS,
        ApiKey::DescribeTransactions => &DESCRIBE_TRANSACTIONS,
        ApiKey::ListTransactions => &LIST_TRANSACTIONS,
        ApiKey::ConsumerGroupDescribe => &CONSUMER_GROUP_DESCRIBE,
        _ => return None,
    })
}

/// Walks a struct: its fields, then (flexible versions) its tagged fields.
fn walk_fields(r: &mut Reader<'_>, fields: &[Field], version: i16, flexible: bool) -> Result<(), Stop> {
    walk_list(r, fields, version, flexible)?;
    if flexible {
        r.tagged_fields()?;
    }
    Ok(())
}

/// Walks consecutive fields (part of a struct: no tagged fields at the end).
fn walk_list(r: &mut Reader<'_>, fields: &[Field], version: i16, flexible: bool) -> Result<(), Stop> {
    for field in fields.iter().filter(|f| (f.min..=f.max).contains(&version)) {
        match field.ty {
            I8 | Bool => r.take(1).map(|_| ())?,
            I16 => r.take(2).map(|_| ())?,
            I32 => r.take(4).map(|_| ())?,
            I64 => r.take(8).map(|_| ())?,
            Uuid => r.take(16).map(|_| ())?,
            Str => {
                if let Some(n) = r.length(flexible, false)? {
                    r.take(n)?;
                }
            }
            Bytes => {
                if let Some(n) = r.length(flexible, true)? {
                    r.take(n)?;
                }
            }
            Structs(inner) => {
                for _ in 0..r.count(flexible)?.unwrap_or(0) {
                    walk_fields(r, inner, version, flexible)?;
                }
            }
            Fixed(size) => {
                let n = r.count(flexible)?.unwrap_or(0);
                r.take(n.checked_mul(size).ok_or_else(|| bad("array overflow"))?)?;
            }
            Strs => {
                for _ in 0..r.count(flexible)?.unwrap_or(0) {
                    if let Some(n) = r.length(flexible, false)? {
                        r.take(n)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Checks that `body` is a well-formed request of `key` at `version` whose every array count and length
/// fits in the body (see the module doc).
pub(crate) fn check_shape(key: ApiKey, version: i16, body: &[u8]) -> Result<(), String> {
    let shape = shape(key).ok_or("no layout for this API")?;
    let mut r = Reader::new(body, body.len());
    match walk_fields(&mut r, shape.fields, version, version >= shape.flexible_from) {
        // Bytes after the request are ignored, as Kafka's own request parser ignores them: librdkafka 2.16's
        // Metadata v12 (kcat -L) carries bytes past the v12 fields, and brokers accept it. The filter reads
        // the same prefix the broker reads.
        Ok(()) => Ok(()),
        Err(Stop::Bad(reason)) => Err(reason),
        Err(Stop::NeedMore) => Err("truncated".into()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Response layouts: the broker's answers the filter rewrites are bounded the same way before any decode
// (a broker's bytes are read off the wire too).

static METADATA_RESPONSE: Shape = Shape {
    flexible_from: 9,
    fields: &[
        since(3, I32),                                                // throttle_time_ms
        all(Structs(&[all(I32), all(Str), all(I32), since(1, Str)])), // brokers: node_id, host, port, rack
        since(2, Str),                                                // cluster_id
        since(1, I32),                                                // controller_id
        all(Structs(&[
            all(I16),        // error_code
            all(Str),        // name
            since(10, Uuid), // topic_id
            since(1, Bool),  // is_internal
            all(Structs(&[
                all(I16),       // error_code
                all(I32),       // partition_index
                all(I32),       // leader_id
                since(7, I32),  // leader_epoch
                all(I32S),      // replica_nodes
                all(I32S),      // isr_nodes
                since(5, I32S), // offline_replicas
            ])),
            since(8, I32), // topic_authorized_operations
        ])),
        between(8, 10, I32), // cluster_authorized_operations
        since(13, I16),      // error_code
    ],
};

/// The per-topic array of a Produce response (its first field).
static PRODUCE_RESPONSE_TOPICS: Shape = Shape {
    flexible_from: 9,
    fields: &[all(Structs(&[
        all(Str), // name
        all(Structs(&[
            all(I32),                                 // index
            all(I16),                                 // error_code
            all(I64),                                 // base_offset
            since(2, I64),                            // log_append_time_ms
            since(5, I64),                            // log_start_offset
            since(8, Structs(&[all(I32), all(Str)])), // record_errors
            since(8, Str),                            // error_message
        ])),
    ]))],
};

/// The fields of a Fetch response before its per-topic array.
static FETCH_RESPONSE_HEAD: Shape = Shape { flexible_from: 12, fields: &[since(1, I32), since(7, I16), since(7, I32)] };

/// The per-topic array of a Fetch response.
static FETCH_RESPONSE_TOPICS: Shape = Shape {
    flexible_from: 12,
    fields: &[all(Structs(&[
        all(Str), // topic (the filter caps Fetch below the topic-id versions)
        all(Structs(&[
            all(I32),                                 // partition_index
            all(I16),                                 // error_code
            all(I64),                                 // high_watermark
            since(4, I64),                            // last_stable_offset
            since(5, I64),                            // log_start_offset
            since(4, Structs(&[all(I64), all(I64)])), // aborted_transactions
            since(11, I32),                           // preferred_read_replica
            all(Bytes),                               // records
        ])),
    ]))],
};

/// Checks a Metadata response body before kafka-protocol decodes it (every count and length bounded).
/// Metadata responses carry no known tagged fields, so skipping tagged fields by size bounds them too.
pub(crate) fn check_metadata_response(version: i16, body: &[u8]) -> Result<(), String> {
    let mut r = Reader::new(body, body.len());
    let flexible = version >= METADATA_RESPONSE.flexible_from;
    match walk_fields(&mut r, METADATA_RESPONSE.fields, version, flexible) {
        Ok(()) => Ok(()),
        Err(Stop::Bad(reason)) => Err(reason),
        Err(Stop::NeedMore) => Err("truncated".into()),
    }
}

/// Where the per-topic array of a Produce or Fetch response lies in `body`: `(count_start, entries_start,
/// entries_end, count)`. Walks the broker's bytes without decoding them, so rewriting a response never
/// allocates from a count read off the wire.
pub(crate) fn response_topic_array(
    api_key: i16,
    version: i16,
    body: &[u8],
) -> Result<(usize, usize, usize, usize), String> {
    let stop = |e: Stop| match e {
        Stop::Bad(reason) => reason,
        Stop::NeedMore => "truncated".to_string(),
    };
    let (head, topics) = if api_key == ApiKey::Produce as i16 {
        (None, &PRODUCE_RESPONSE_TOPICS)
    } else if api_key == ApiKey::Fetch as i16 {
        (Some(&FETCH_RESPONSE_HEAD), &FETCH_RESPONSE_TOPICS)
    } else {
        return Err(format!("no response layout for API key {api_key}"));
    };
    let flexible = version >= topics.flexible_from;
    let mut r = Reader::new(body, body.len());
    if let Some(head) = head {
        walk_list(&mut r, head.fields, version, flexible).map_err(stop)?;
    }
    let count_start = r.pos;
    let count = r.count(flexible).map_err(stop)?.unwrap_or(0);
    let entries_start = r.pos;
    let mut whole = Reader::new(body, body.len());
    whole.pos = count_start;
    walk_list(&mut whole, topics.fields, version, flexible).map_err(stop)?;
    Ok((count_start, entries_start, whole.pos, count))
}

/// Decodes a complete request body with kafka-protocol, after the shape check has bounded every
/// allocation the decoder will make.
pub(crate) fn decode_checked<T: Decodable>(api_key: i16, version: i16, body: &[u8]) -> Result<T, String> {
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    check_shape(key, version, body)?;
    let mut buf = body;
    T::decode(&mut buf, version).map_err(|e| format!("decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_array_counts_beyond_the_body() {
        // Fetch v4 header fields then an array claiming 2^31-1 topics.
        let mut body = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0];
        body.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(check_shape(ApiKey::Fetch, 4, &body).unwrap_err().contains("array longer"));
    }

    #[test]
    fn uvarint_limits_to_32_bits_in_five_bytes() {
        let bytes = [0xff; 6];
        let mut r = Reader::new(&bytes, bytes.len());
        assert_eq!(r.uvarint(), Err(bad("varint overflows 32 bits")));
        let max = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(Reader::new(&max, max.len()).uvarint(), Ok(u32::MAX));
    }
}

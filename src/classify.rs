//! Request classification: from a request body to the authorization questions Kafka's authorizer asks
//! (KafkaApis / "Operations and Resources on Protocols").
//!
//! Produce is classified from a prefix by a hand-written walker that skips record batches by their length, so
//! a 10 MiB produce is decided as soon as its last topic name has arrived. Fetch, which every consumer sends
//! in a loop, has a walker of its own too (`walk_fetch`, held to the layout reading by a test). Every other
//! API is read from the complete body with its per-API layout table ([`Shape`], Kafka's message definitions):
//! [`parse`] walks every field, refuses any array count larger than the bytes left (every element takes at
//! least one byte) and any length past the body, and keeps only the named fields authorization asks about,
//! borrowing strings from the body (bytes after the request are ignored, as brokers ignore them). Nothing is
//! allocated from a count read off the wire beyond what the frame holds. The same layouts serve the error
//! responses (`enforce`) and partial requests (`session::split`, which cuts arrays at the byte ranges the
//! walk records); the tests encode populated requests with kafka-protocol at every version to keep the
//! layouts equal to Kafka's. The few bodies still handed to kafka-protocol's decoders (`decode_checked`) pass
//! the same walk first, because those decoders call `Vec::with_capacity(n)` with `n` off the wire.
//!
//! Choices where the filter cannot ask exactly what Kafka asks:
//! - Metadata for all topics: no requirement; the response must be filtered to described topics later.
//!   Topic auto-creation (Create Cluster/Topic) is not checked here either.
//! - ListGroups / ListTransactions: Kafka never fails them, it filters the listing by Describe Group /
//!   TransactionalId (ListGroups: Describe Cluster shows every group). No requirement here; the response
//!   is filtered to the describable entries (session::visibility).
//! - OffsetFetch for all topics (null topics, v2+; per group in v8+): Describe Group only; the response's
//!   topics are filtered to the describable ones.
//! - DescribeTopicPartitions: like Metadata, Describe Topic per named topic (a denied one is answered
//!   TOPIC_AUTHORIZATION_FAILED, not refused); all topics: no requirement, the response is filtered.
//! - InitProducerId without transactional id: Kafka (3.0+) allows IdempotentWrite Cluster OR Write on *any*
//!   topic. An `Action` names one resource, so only IdempotentWrite Cluster is asked.
//! - DescribeCluster: Kafka checks nothing (Describe Cluster only gates the authorized-operations field);
//!   no requirement.
//! - Fetch sessions (v7+): the topics listed are checked; partitions cached in an incremental fetch session
//!   were checked when they were listed.
//! - Requests addressing topics by id (Metadata v10+, DeleteTopics v6) are Unsupported when a name is absent.

use std::borrow::Cow;

use crate::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};
use crate::protocol::api;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification<'a> {
    /// More of the body is needed to decide (only returned when `body_prefix` is shorter than the body).
    NeedMore,
    /// ApiVersions, SaslHandshake, SaslAuthenticate: always allowed, never checked.
    Unchecked,
    /// All requirements must be satisfied. `expects_response` is false for Produce with acks=0.
    Checks { requirements: Requirements<'a>, expects_response: bool },
    /// The filter cannot parse this API key/version: denied (fail closed) unless configured otherwise.
    Unsupported(String),
}

/// Classifies one request. `body_prefix` starts right after the request header; `body_len` is the full
/// body length (the frame may still be arriving). Must never panic on any input.
pub fn classify(api_key: i16, api_version: i16, body_prefix: &[u8], body_len: usize) -> Classification<'_> {
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
    let Some(entry) = api::lookup(api_key) else {
        return Classification::Unsupported(format!("unknown API key {api_key}"));
    };
    let min_version = api::min_version(api_key);
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
    if api_key == ApiKey::Fetch as i16 {
        // Every consumer sends one Fetch after another: read by a walker written for it, which keeps
        // nothing but the topic names (the layout walk builds a tree of every named field).
        return match fetch_requirements(api_version, prefix) {
            Ok(requirements) => Classification::Checks { requirements, expects_response: true },
            Err(reason) => Classification::Unsupported(format!("{} v{api_version}: {reason}", entry.name)),
        };
    }
    match requirements_of(api_key, api_version, prefix) {
        Ok(requirements) => Classification::Checks { requirements, expects_response: true },
        Err(reason) => Classification::Unsupported(format!("{} v{api_version}: {reason}", entry.name)),
    }
}

fn action(op: Operation, resource_type: ResourceType, name: &str) -> Action<'_> {
    Action { op, resource_type, name: Cow::Borrowed(name) }
}

fn cluster<'a>(op: Operation) -> Requirements<'a> {
    smallvec::smallvec![Requirement::of(action(op, ResourceType::Cluster, CLUSTER_NAME))]
}

/// Collects requirements without duplicates, in request order (so logs read like the request).
#[derive(Default)]
struct Needs<'a>(Requirements<'a>);

impl<'a> Needs<'a> {
    fn one(&mut self, op: Operation, resource_type: ResourceType, name: &'a str) -> &mut Self {
        self.add(Requirement::of(action(op, resource_type, name)))
    }
    fn add(&mut self, requirement: Requirement<'a>) -> &mut Self {
        if !self.0.contains(&requirement) {
            self.0.push(requirement);
        }
        self
    }
    fn topic(&mut self, op: Operation, name: &'a str) -> &mut Self {
        self.one(op, ResourceType::Topic, name)
    }
    fn group(&mut self, op: Operation, name: &'a str) -> &mut Self {
        self.one(op, ResourceType::Group, name)
    }
    fn txn(&mut self, op: Operation, name: &'a str) -> &mut Self {
        self.one(op, ResourceType::TransactionalId, name)
    }
    /// One requirement per name.
    fn each(&mut self, op: Operation, resource_type: ResourceType, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            self.one(op, resource_type, name);
        }
    }
    fn done(&mut self) -> Requirements<'a> {
        std::mem::take(&mut self.0)
    }
}

fn produce_requirements<'a>(produce: &ProduceSummary<'a>) -> Requirements<'a> {
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
pub(crate) fn config_resource(resource_type: i8, name: &str) -> Result<(ResourceType, &str), String> {
    match resource_type {
        CONFIG_TOPIC => Ok((ResourceType::Topic, name)),
        CONFIG_BROKER | CONFIG_BROKER_LOGGER | CONFIG_CLIENT_METRICS => Ok((ResourceType::Cluster, CLUSTER_NAME)),
        CONFIG_GROUP => Ok((ResourceType::Group, name)),
        other => Err(format!("unknown config resource type {other}")),
    }
}

/// Requirements of a complete, non-Produce request body.
fn requirements_of<'a>(api_key: i16, version: i16, body: &'a [u8]) -> Result<Requirements<'a>, String> {
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
            needs.topic(op, topic.name(name)?);
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
        ApiKey::Metadata => {
            for topic in req.nodes("topics") {
                let name = topic.str("name").ok_or("topic addressed by id")?;
                needs.topic(Describe, name);
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
            needs.each(Delete, ResourceType::Topic, req.names("topic_names")?);
            for topic in req.nodes("topics") {
                needs.topic(Delete, topic.str("name").ok_or("topic addressed by id")?);
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
            topics(&mut needs, Describe, "topics", "topic")?;
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
        ApiKey::ConsumerGroupDescribe => needs.each(Describe, ResourceType::Group, req.names("group_ids")?),
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

// ---------------------------------------------------------------------------------------------------------
// Wire reading over a prefix of a body whose full length is known.

/// Why a walk stopped: the bytes needed have not arrived yet, or the body is not a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    NeedMore,
    Bad(&'static str),
}

/// Why a walk of a complete body failed (bytes that have not arrived there are missing).
fn stop_reason(e: Stop) -> String {
    match e {
        Stop::Bad(reason) => reason.to_string(),
        Stop::NeedMore => "truncated".to_string(),
    }
}

fn bad(reason: &'static str) -> Stop {
    Stop::Bad(reason)
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

    #[inline]
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

    /// Skips `n` bytes that must have arrived (a field being walked).
    #[inline]
    fn skip_read(&mut self, n: usize) -> Result<(), Stop> {
        self.take(n).map(|_| ())
    }

    /// Skips `n` bytes that need not have arrived yet (record batches).
    fn skip(&mut self, n: usize) -> Result<(), Stop> {
        self.advance(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| bad("internal length mismatch"))
    }

    /// One byte (varints, markers): the hot path of every flexible-version walk.
    #[inline]
    fn byte(&mut self) -> Result<u8, Stop> {
        if self.pos >= self.end {
            return Err(bad("truncated"));
        }
        let b = *self.buf.get(self.pos).ok_or(Stop::NeedMore)?;
        self.pos += 1;
        Ok(b)
    }

    fn i16(&mut self) -> Result<i16, Stop> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, Stop> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn uvarint(&mut self) -> Result<u32, Stop> {
        // Nearly every varint in a request (lengths, counts, tagged-field counts) is one byte.
        if let Some(&b) = self.buf.get(self.pos).filter(|&&b| b < 0x80 && self.pos < self.end) {
            self.pos += 1;
            return Ok(u32::from(b));
        }
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.byte()?;
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
            Some(n) => crate::protocol::wire::utf8(self.take(n)?).map(Some).ok_or_else(|| bad("string is not UTF-8")),
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
pub(crate) struct ProduceSummary<'a> {
    pub transactional_id: Option<&'a str>,
    pub acks: i16,
    /// Topic names in request order, with partition indexes when the whole body was walked.
    pub topics: ProduceTopics<'a>,
}

/// A Produce's topics, inline for one or two (most requests): classification walks every Produce.
pub(crate) type ProduceTopics<'a> = smallvec::SmallVec<[(&'a str, Vec<i32>); 2]>;

/// Walks a Produce request (v0-v12). With `complete == false` it stops once the last topic name is read
/// (record batches are skipped by length, they need not have arrived); with `complete == true` it walks
/// the whole body, collects partition indexes and requires the body to end exactly.
pub(crate) fn walk_produce(
    version: i16,
    prefix: &[u8],
    body_len: usize,
    complete: bool,
) -> Result<ProduceSummary<'_>, Stop> {
    if !(0..=12).contains(&version) {
        return Err(bad("version not handled by the Produce walker"));
    }
    let flexible = version >= 9;
    let mut r = Reader::new(prefix, body_len);
    let transactional_id = if version >= 3 { r.string(flexible)? } else { None };
    let acks = r.i16()?;
    let _timeout_ms = r.i32()?;
    let topic_count = r.count(flexible)?.ok_or_else(|| bad("null topic array"))?;
    let mut topics = ProduceTopics::new();
    for i in 0..topic_count {
        let name = r.string(flexible)?.ok_or_else(|| bad("null topic name"))?;
        topics.push((name, Vec::new()));
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
// Fetch walker.

/// The requirements of a complete Fetch request (v0-v12; the topic-id versions are never classified): Read
/// on each topic, or ClusterAction for a follower broker. The same strictness as [`parse`] with the FETCH
/// layout, which the tests check it against: every count and length within the body, tagged fields walked,
/// bytes after the request ignored.
fn fetch_requirements(version: i16, body: &[u8]) -> Result<Requirements<'_>, String> {
    let mut needs = Needs::default();
    let mut null_name = false;
    let follower = walk_fetch(version, body, |name| match name {
        Some(name) => {
            needs.topic(Operation::Read, name);
        }
        None => null_name = true,
    })
    .map_err(stop_reason)?;
    if follower {
        // A follower is asked ClusterAction only, whatever it names.
        return Ok(cluster(Operation::ClusterAction));
    }
    if null_name {
        return Err("topic is null".into());
    }
    Ok(needs.done())
}

/// Walks a Fetch request v0-v12, calling `topic` with each topic name (`None`: null); returns whether a
/// follower broker sent it (replica id >= 0).
fn walk_fetch<'a>(version: i16, body: &'a [u8], mut topic: impl FnMut(Option<&'a str>)) -> Result<bool, Stop> {
    if !(0..=12).contains(&version) {
        return Err(bad("version not handled by the Fetch walker"));
    }
    let flexible = version >= 12;
    let mut r = Reader::new(body, body.len());
    let replica_id = r.i32()?;
    // max_wait_ms, min_bytes; max_bytes (v3+); isolation_level (v4+); session_id, session_epoch (v7+).
    let fixed =
        8 + if version >= 3 { 4 } else { 0 } + if version >= 4 { 1 } else { 0 } + if version >= 7 { 8 } else { 0 };
    r.skip_read(fixed)?;
    // partition, current_leader_epoch (v9+), fetch_offset, last_fetched_epoch (v12+), log_start_offset (v5+),
    // partition_max_bytes.
    let partition =
        16 + if version >= 9 { 4 } else { 0 } + if version >= 12 { 4 } else { 0 } + if version >= 5 { 8 } else { 0 };
    for _ in 0..r.count(flexible)?.unwrap_or(0) {
        let name = r.string(flexible)?;
        for _ in 0..r.count(flexible)?.unwrap_or(0) {
            r.skip_read(partition)?;
            if flexible {
                r.tagged_fields()?;
            }
        }
        if flexible {
            r.tagged_fields()?;
        }
        topic(name);
    }
    if version >= 7 {
        // forgotten_topics_data: topic, partitions (i32s).
        for _ in 0..r.count(flexible)?.unwrap_or(0) {
            if let Some(n) = r.length(flexible, false)? {
                r.skip_read(n)?;
            }
            let partitions = r.count(flexible)?.unwrap_or(0);
            r.skip_read(partitions.checked_mul(4).ok_or_else(|| bad("array overflow"))?)?;
            if flexible {
                r.tagged_fields()?;
            }
        }
    }
    if version >= 11 {
        // rack_id
        if let Some(n) = r.length(flexible, false)? {
            r.skip_read(n)?;
        }
    }
    if flexible {
        r.tagged_fields()?;
    }
    Ok(replica_id >= 0)
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
    /// A struct inline (not in an array); ends with tagged fields in flexible versions.
    Struct(&'static [Field]),
    /// Nullable struct: an `i8` marker (-1 null, 1 present), then the struct.
    Opt(&'static [Field]),
}

/// A field present in versions `min..=max`. A named field is kept by [`parse`] (Kafka's field name);
/// the others are only walked.
#[derive(Clone, Copy)]
struct Field {
    ty: Ty,
    min: i16,
    max: i16,
    name: &'static str,
    /// Kept only when the whole request is read for an answer (`Keep::All`), not to classify it: the
    /// partitions of a Fetch are echoed in its error response but authorized by topic.
    answer_only: bool,
}

impl Field {
    const fn named(self, name: &'static str) -> Field {
        Field { name, ..self }
    }
    /// Named, kept only for answers (see `answer_only`).
    const fn answer(self, name: &'static str) -> Field {
        Field { name, answer_only: true, ..self }
    }
}

const fn all(ty: Ty) -> Field {
    Field { ty, min: 0, max: i16::MAX, name: "", answer_only: false }
}
const fn since(min: i16, ty: Ty) -> Field {
    Field { ty, min, max: i16::MAX, name: "", answer_only: false }
}
const fn until(max: i16, ty: Ty) -> Field {
    Field { ty, min: 0, max, name: "", answer_only: false }
}
const fn between(min: i16, max: i16, ty: Ty) -> Field {
    Field { ty, min, max, name: "", answer_only: false }
}

/// A request layout: fields, and the first flexible version (compact lengths, tagged fields).
pub(crate) struct Shape {
    flexible_from: i16,
    fields: &'static [Field],
}

use Ty::*;

const I32S: Ty = Fixed(4);
const I64S: Ty = Fixed(8);

/// Produce for splitting (classification walks Produce from a prefix, see `walk_produce`).
static PRODUCE: Shape = Shape {
    flexible_from: 9,
    fields: &[
        since(3, Str), // transactional_id
        all(I16),      // acks
        all(I32),      // timeout_ms
        all(Structs(&[all(Str).named("name"), all(Structs(&[all(I32), all(Bytes)]))])).named("topic_data"),
    ],
};

static FETCH: Shape = Shape {
    flexible_from: 12,
    fields: &[
        until(14, I32).named("replica_id"),
        all(I32),      // max_wait_ms
        all(I32),      // min_bytes
        since(3, I32), // max_bytes
        since(4, I8),  // isolation_level
        since(7, I32), // session_id
        since(7, I32), // session_epoch
        all(Structs(&[
            until(12, Str).named("topic"),
            since(13, Uuid), // topic_id
            all(Structs(&[
                all(I32).answer("partition"),
                since(9, I32),  // current_leader_epoch
                all(I64),       // fetch_offset
                since(12, I32), // last_fetched_epoch
                since(5, I64),  // log_start_offset
                all(I32),       // partition_max_bytes
            ]))
            .answer("partitions"),
        ]))
        .named("topics"),
        since(7, Structs(&[between(7, 12, Str), since(13, Uuid), since(7, I32S)])), // forgotten_topics_data
        since(11, Str),                                                             // rack_id
    ],
};

/// Topics of (name, partitions (partition_index, ...)): the per-partition layout differs per API.
macro_rules! named_topics {
    ($($partition:expr),* $(,)?) => {
        Structs(&[all(Str).named("name"), all(Structs(&[$($partition),*])).answer("partitions")])
    };
}

static LIST_OFFSETS: Shape = Shape {
    flexible_from: 6,
    fields: &[
        all(I32),     // replica_id
        since(2, I8), // isolation_level
        // partition_index, current_leader_epoch, timestamp, max_num_offsets
        all(named_topics!(all(I32).answer("partition_index"), since(4, I32), all(I64), until(0, I32))).named("topics"),
        since(10, I32), // timeout_ms
    ],
};

static METADATA: Shape = Shape {
    flexible_from: 9,
    fields: &[
        all(Structs(&[since(10, Uuid), all(Str).named("name")])).named("topics"),
        since(4, Bool).named("allow_auto_topic_creation"),
        between(8, 10, Bool), // include_cluster_authorized_operations
        since(8, Bool),       // include_topic_authorized_operations
    ],
};

static OFFSET_COMMIT: Shape = Shape {
    flexible_from: 8,
    fields: &[
        all(Str).named("group_id"),
        since(1, I32),      // generation_id_or_member_epoch
        since(1, Str),      // member_id
        since(7, Str),      // group_instance_id
        between(2, 4, I64), // retention_time_ms
        all(Structs(&[
            until(9, Str).named("name"),
            since(10, Uuid),
            // partition_index, committed_offset, committed_leader_epoch, commit_timestamp, committed_metadata
            all(Structs(&[all(I32).answer("partition_index"), all(I64), since(6, I32), until(1, I64), all(Str)]))
                .answer("partitions"),
        ]))
        .named("topics"),
    ],
};

/// OffsetFetch's topics: name, partition_indexes.
static OFFSET_FETCH_REQUEST_TOPIC: &[Field] = &[all(Str).named("name"), all(I32S).answer("partition_indexes")];

static OFFSET_FETCH: Shape = Shape {
    flexible_from: 6,
    fields: &[
        until(7, Str).named("group_id"),
        until(7, Structs(OFFSET_FETCH_REQUEST_TOPIC)).named("topics"),
        since(
            8,
            Structs(&[
                all(Str).named("group_id"),
                since(9, Str), // member_id
                since(9, I32), // member_epoch
                all(Structs(&[until(9, Str).named("name"), since(10, Uuid), all(I32S).answer("partition_indexes")]))
                    .named("topics"),
            ]),
        )
        .named("groups"),
        since(7, Bool), // require_stable
    ],
};

static FIND_COORDINATOR: Shape = Shape {
    flexible_from: 3,
    fields: &[until(3, Str).named("key"), since(1, I8).named("key_type"), since(4, Strs).named("coordinator_keys")],
};

static JOIN_GROUP: Shape = Shape {
    flexible_from: 6,
    fields: &[
        all(Str).named("group_id"),
        all(I32),      // session_timeout_ms
        since(1, I32), // rebalance_timeout_ms
        all(Str).answer("member_id"),
        since(5, Str), // group_instance_id
        all(Str),      // protocol_type
        all(Structs(&[all(Str), all(Bytes)])),
        since(8, Str), // reason
    ],
};

static HEARTBEAT: Shape =
    Shape { flexible_from: 4, fields: &[all(Str).named("group_id"), all(I32), all(Str), since(3, Str)] };

static LEAVE_GROUP: Shape = Shape {
    flexible_from: 4,
    fields: &[all(Str).named("group_id"), until(2, Str), since(3, Structs(&[all(Str), all(Str), since(5, Str)]))],
};

static SYNC_GROUP: Shape = Shape {
    flexible_from: 4,
    fields: &[
        all(Str).named("group_id"),
        all(I32),      // generation_id
        all(Str),      // member_id
        since(3, Str), // group_instance_id
        since(5, Str), // protocol_type
        since(5, Str), // protocol_name
        all(Structs(&[all(Str), all(Bytes)])),
    ],
};

static DESCRIBE_GROUPS: Shape = Shape { flexible_from: 5, fields: &[all(Strs).named("groups"), since(3, Bool)] };

static LIST_GROUPS: Shape = Shape { flexible_from: 3, fields: &[since(4, Strs), since(5, Strs)] };

static CREATE_TOPICS: Shape = Shape {
    flexible_from: 5,
    fields: &[
        all(Structs(&[
            all(Str).named("name"),
            all(I32), // num_partitions
            all(I16), // replication_factor
            all(Structs(&[all(I32), all(I32S)])),
            all(Structs(&[all(Str), all(Str)])),
        ]))
        .named("topics"),
        all(I32),       // timeout_ms
        since(1, Bool), // validate_only
    ],
};

static DELETE_TOPICS: Shape = Shape {
    flexible_from: 4,
    fields: &[
        since(6, Structs(&[all(Str).named("name"), all(Uuid)])).named("topics"),
        until(5, Strs).named("topic_names"),
        all(I32), // timeout_ms
    ],
};

static DELETE_RECORDS: Shape = Shape {
    flexible_from: 2,
    fields: &[all(named_topics!(all(I32).answer("partition_index"), all(I64))).named("topics"), all(I32)],
};

static INIT_PRODUCER_ID: Shape = Shape {
    flexible_from: 2,
    fields: &[
        all(Str).named("transactional_id"),
        all(I32),
        since(3, I64),
        since(3, I16),
        since(6, Bool),
        since(6, Bool),
    ],
};

static OFFSET_FOR_LEADER_EPOCH: Shape = Shape {
    flexible_from: 4,
    fields: &[
        since(3, I32).named("replica_id"),
        all(Structs(&[
            all(Str).named("topic"),
            // partition, current_leader_epoch, leader_epoch
            all(Structs(&[all(I32).answer("partition"), since(2, I32), all(I32)])).answer("partitions"),
        ]))
        .named("topics"),
    ],
};

/// AddPartitionsToTxn's topics: name, partitions (indexes).
static TXN_TOPIC: &[Field] = &[all(Str).named("name"), all(I32S).answer("partitions")];

static ADD_PARTITIONS_TO_TXN: Shape = Shape {
    flexible_from: 3,
    fields: &[
        since(4, Structs(&[all(Str), all(I64), all(I16), all(Bool), all(Structs(TXN_TOPIC))])),
        until(3, Str).named("v3_and_below_transactional_id"),
        until(3, I64),
        until(3, I16),
        until(3, Structs(TXN_TOPIC)).named("v3_and_below_topics"),
    ],
};

static ADD_OFFSETS_TO_TXN: Shape = Shape {
    flexible_from: 3,
    fields: &[all(Str).named("transactional_id"), all(I64), all(I16), all(Str).named("group_id")],
};

static END_TXN: Shape =
    Shape { flexible_from: 3, fields: &[all(Str).named("transactional_id"), all(I64), all(I16), all(Bool)] };

static TXN_OFFSET_COMMIT: Shape = Shape {
    flexible_from: 3,
    fields: &[
        all(Str).named("transactional_id"),
        all(Str).named("group_id"),
        all(I64),
        all(I16),
        since(3, I32), // generation_id
        since(3, Str), // member_id
        since(3, Str), // group_instance_id
        all(named_topics!(all(I32).answer("partition_index"), all(I64), since(2, I32), all(Str))).named("topics"),
    ],
};

static ACL_FILTER: &[Field] = &[all(I8), all(Str), since(1, I8), all(Str), all(Str), all(I8), all(I8)];

static DESCRIBE_ACLS: Shape = Shape { flexible_from: 2, fields: ACL_FILTER };

static CREATE_ACLS: Shape = Shape { flexible_from: 2, fields: &[all(Structs(ACL_FILTER)).answer("creations")] };

static DELETE_ACLS: Shape = Shape { flexible_from: 2, fields: &[all(Structs(ACL_FILTER)).answer("filters")] };

/// Config resources: resource_type, resource_name, then the API's own fields.
macro_rules! config_resources {
    ($rest:expr) => {
        all(Structs(&[all(I8).named("resource_type"), all(Str).named("resource_name"), $rest])).named("resources")
    };
}

static DESCRIBE_CONFIGS: Shape =
    Shape { flexible_from: 4, fields: &[config_resources!(all(Strs)), since(1, Bool), since(3, Bool)] };

static ALTER_CONFIGS: Shape =
    Shape { flexible_from: 2, fields: &[config_resources!(all(Structs(&[all(Str), all(Str)]))), all(Bool)] };

static INCREMENTAL_ALTER_CONFIGS: Shape =
    Shape { flexible_from: 1, fields: &[config_resources!(all(Structs(&[all(Str), all(I8), all(Str)]))), all(Bool)] };

static CREATE_PARTITIONS: Shape = Shape {
    flexible_from: 2,
    fields: &[
        all(Structs(&[all(Str).named("name"), all(I32), all(Structs(&[all(I32S)]))])).named("topics"),
        all(I32),
        all(Bool),
    ],
};

static DELETE_GROUPS: Shape = Shape { flexible_from: 2, fields: &[all(Strs).named("groups_names")] };

static OFFSET_DELETE: Shape = Shape {
    flexible_from: i16::MAX,
    fields: &[all(Str).named("group_id"), all(named_topics!(all(I32).answer("partition_index"))).named("topics")],
};

static DESCRIBE_CLUSTER: Shape = Shape { flexible_from: 0, fields: &[all(Bool), since(1, I8), since(2, Bool)] };

static DESCRIBE_PRODUCERS: Shape = Shape {
    flexible_from: 0,
    fields: &[all(Structs(&[all(Str).named("name"), all(I32S).answer("partition_indexes")])).named("topics")],
};

static DESCRIBE_TRANSACTIONS: Shape = Shape { flexible_from: 0, fields: &[all(Strs).named("transactional_ids")] };

static LIST_TRANSACTIONS: Shape =
    Shape { flexible_from: 0, fields: &[all(Strs), all(I64S), since(1, I64), since(2, Str)] };

static CONSUMER_GROUP_DESCRIBE: Shape = Shape { flexible_from: 0, fields: &[all(Strs).named("group_ids"), all(Bool)] };

/// DescribeTopicPartitions' cursor (request and response): topic_name, partition_index.
static DTP_CURSOR: &[Field] = &[all(Str), all(I32)];

static DESCRIBE_TOPIC_PARTITIONS: Shape = Shape {
    flexible_from: 0,
    fields: &[all(Structs(&[all(Str).named("name")])).named("topics"), all(I32), all(Opt(DTP_CURSOR))],
};

/// The layout the shape check uses for an API; `None` for APIs the filter never decodes.
pub(crate) fn shape(key: ApiKey) -> Option<&'static Shape> {
    Some(match key {
        ApiKey::Produce => &PRODUCE,
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
        ApiKey::DescribeTopicPartitions => &DESCRIBE_TOPIC_PARTITIONS,
        _ => return None,
    })
}

/// Walks a struct: its fields, then (flexible versions) its tagged fields.
fn walk_fields(r: &mut Reader<'_>, fields: &[Field], version: i16, flexible: bool) -> Result<(), Stop> {
    walk_struct(r, fields, version, flexible, None)
}

/// Walks consecutive fields (part of a struct: no tagged fields at the end).
fn walk_list(r: &mut Reader<'_>, fields: &[Field], version: i16, flexible: bool) -> Result<(), Stop> {
    walk_into(r, fields, version, flexible, None)
}

fn walk_struct<'a>(
    r: &mut Reader<'a>,
    fields: &[Field],
    version: i16,
    flexible: bool,
    node: Option<(&mut Node<'a>, Keep)>,
) -> Result<(), Stop> {
    walk_into(r, fields, version, flexible, node)?;
    if flexible {
        r.tagged_fields()?;
    }
    Ok(())
}

/// Walks consecutive fields; with a `node`, the named ones `keep` asks for are kept in it (see [`parse`]).
fn walk_into<'a>(
    r: &mut Reader<'a>,
    fields: &[Field],
    version: i16,
    flexible: bool,
    mut node: Option<(&mut Node<'a>, Keep)>,
) -> Result<(), Stop> {
    let level = node.as_ref().map(|(_, level)| *level);
    for field in fields.iter().filter(|f| (f.min..=f.max).contains(&version)) {
        let kept = level.filter(|level| !field.name.is_empty() && (*level == Keep::All || !field.answer_only));
        let Some(level) = kept else {
            skip_field(r, field.ty, version, flexible)?;
            continue;
        };
        let value = match field.ty {
            I8 | Bool => Val::Int(i8::from_be_bytes(r.array()?).into()),
            I16 => Val::Int(r.i16()?.into()),
            I32 => Val::Int(r.i32()?.into()),
            I64 => Val::Int(i64::from_be_bytes(r.array()?)),
            Uuid => r.take(16).map(|_| Val::Int(0))?,
            Str => Val::Str(r.string(flexible)?),
            Bytes => {
                if let Some(n) = r.length(flexible, true)? {
                    r.take(n)?;
                }
                Val::Int(0)
            }
            Struct(inner) => {
                let mut inner_node = Node::default();
                walk_struct(r, inner, version, flexible, Some((&mut inner_node, level)))?;
                Val::Struct(Some(inner_node))
            }
            Opt(inner) => match r.array::<1>()? {
                [0xff] => Val::Struct(None),
                [1] => {
                    let mut inner_node = Node::default();
                    walk_struct(r, inner, version, flexible, Some((&mut inner_node, level)))?;
                    Val::Struct(Some(inner_node))
                }
                _ => return Err(bad("nullable struct marker")),
            },
            Structs(_) | Fixed(_) | Strs => Val::List(walk_array(r, field.ty, version, flexible, level)?),
        };
        if let Some((node, _)) = node.as_mut() {
            node.fields.push((field.name, value));
        }
    }
    Ok(())
}

/// Walks one field without keeping anything (the fast path: no values are built).
fn skip_field(r: &mut Reader<'_>, ty: Ty, version: i16, flexible: bool) -> Result<(), Stop> {
    match ty {
        I8 | Bool => r.skip_read(1),
        I16 => r.skip_read(2),
        I32 => r.skip_read(4),
        I64 => r.skip_read(8),
        Uuid => r.skip_read(16),
        Str | Bytes => match r.length(flexible, matches!(ty, Bytes))? {
            Some(n) => r.skip_read(n),
            None => Ok(()),
        },
        Struct(inner) => walk_fields(r, inner, version, flexible),
        Opt(inner) => match r.byte()? {
            0xff => Ok(()),
            1 => walk_fields(r, inner, version, flexible),
            _ => Err(bad("nullable struct marker")),
        },
        Structs(inner) => {
            for _ in 0..r.count(flexible)?.unwrap_or(0) {
                walk_fields(r, inner, version, flexible)?;
            }
            Ok(())
        }
        Fixed(size) => {
            let n = r.count(flexible)?.unwrap_or(0);
            r.skip_read(n.checked_mul(size).ok_or_else(|| bad("array overflow"))?)
        }
        Strs => {
            for _ in 0..r.count(flexible)?.unwrap_or(0) {
                if let Some(n) = r.length(flexible, false)? {
                    r.skip_read(n)?;
                }
            }
            Ok(())
        }
    }
}

/// Walks a kept array: its elements at `level`, each with the body range it occupies.
fn walk_array<'a>(
    r: &mut Reader<'a>,
    ty: Ty,
    version: i16,
    flexible: bool,
    level: Keep,
) -> Result<Option<List<'a>>, Stop> {
    let count_start = r.pos;
    let Some(count) = r.count(flexible)? else {
        return Ok(None);
    };
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let start = r.pos;
        let value = match ty {
            Structs(inner) => {
                let mut element = Node::default();
                walk_struct(r, inner, version, flexible, Some((&mut element, level)))?;
                Val::Struct(Some(element))
            }
            Fixed(4) => Val::Int(r.i32()?.into()),
            Fixed(size) => r.take(size).map(|_| Val::Int(0))?,
            Strs => Val::Str(r.string(flexible)?),
            _ => return Err(bad("not an array layout")),
        };
        items.push((start..r.pos, value));
    }
    Ok(Some(List { count_start, entries_end: r.pos, items }))
}

/// A request (or struct) as [`parse`] reads it: its named fields present at the version, in order.
/// Strings borrow from the body.
#[derive(Debug, Default)]
pub(crate) struct Node<'a> {
    fields: Vec<(&'static str, Val<'a>)>,
}

/// One field's value. Integers of every width (and booleans) are `Int`; fields the filter never reads
/// (uuids, bytes) are not kept.
#[derive(Debug)]
pub(crate) enum Val<'a> {
    Int(i64),
    Str(Option<&'a str>),
    /// An array; `None` when null.
    List(Option<List<'a>>),
    /// A struct; `None` when a nullable struct is null.
    Struct(Option<Node<'a>>),
}

/// An array and where it lies in the body, for byte-level rewriting (partial requests).
#[derive(Debug)]
pub(crate) struct List<'a> {
    /// Where the element count starts.
    pub count_start: usize,
    /// Where the last element ends.
    pub entries_end: usize,
    /// Each element with the body range it occupies.
    pub items: Vec<(std::ops::Range<usize>, Val<'a>)>,
}

impl<'a> Node<'a> {
    fn get(&self, name: &str) -> Option<&Val<'a>> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    /// An integer field; `None` when absent at this version.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Val::int)
    }
    /// A string field; `None` when absent or null.
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(Val::str)
    }
    /// An array field; `None` when absent or null.
    pub fn list(&self, name: &str) -> Option<&List<'a>> {
        match self.get(name) {
            Some(Val::List(list)) => list.as_ref(),
            _ => None,
        }
    }
    /// The elements of an array field (none when absent or null).
    pub fn items(&self, name: &str) -> impl Iterator<Item = &Val<'a>> {
        self.list(name).into_iter().flat_map(|l| l.items.iter().map(|(_, v)| v))
    }
    /// The struct elements of an array field.
    pub fn nodes(&self, name: &str) -> impl Iterator<Item = &Node<'a>> {
        self.items(name).filter_map(Val::node)
    }
    /// A string field authorization names a resource by: absent or null is a malformed request (Kafka's
    /// schemas make these non-nullable), refused rather than asked about as "".
    pub fn name(&self, name: &str) -> Result<&'a str, String> {
        self.str(name).ok_or_else(|| format!("{name} is null"))
    }
    /// The string elements of an array field naming resources; a null element is a malformed request.
    pub fn names(&self, name: &str) -> Result<Vec<&'a str>, String> {
        self.items(name).map(|v| v.str().ok_or_else(|| format!("null in {name}"))).collect()
    }
    /// The string elements of an array field; a null element reads as "".
    pub fn strs(&self, name: &str) -> impl Iterator<Item = &'a str> + '_ {
        self.items(name).map(|v| v.str().unwrap_or(""))
    }
    /// Number of elements of an array field (0 when absent or null).
    pub fn len(&self, name: &str) -> usize {
        self.list(name).map_or(0, |l| l.items.len())
    }
}

impl<'a> Val<'a> {
    pub fn int(&self) -> Option<i64> {
        match self {
            Val::Int(n) => Some(*n),
            _ => None,
        }
    }
    pub fn str(&self) -> Option<&'a str> {
        match self {
            Val::Str(s) => *s,
            _ => None,
        }
    }
    pub fn node(&self) -> Option<&Node<'a>> {
        match self {
            Val::Struct(node) => node.as_ref(),
            _ => None,
        }
    }
}

/// Reads a complete request body with its layout: every count and length is checked against the body
/// (see the module doc) and the named fields are kept. Bytes after the request are ignored, as Kafka's own
/// request parser ignores them: librdkafka 2.16's Metadata v12 (kcat -L) carries bytes past the v12 fields,
/// and brokers accept it. The filter reads the same prefix the broker reads.
pub(crate) fn parse(key: ApiKey, version: i16, body: &[u8], keep: Keep) -> Result<Node<'_>, String> {
    let shape = shape(key).ok_or("no layout for this API")?;
    let mut r = Reader::new(body, body.len());
    let mut node = Node::default();
    match walk_struct(&mut r, shape.fields, version, version >= shape.flexible_from, Some((&mut node, keep))) {
        Ok(()) => Ok(node),
        Err(stop) => Err(stop_reason(stop)),
    }
}

/// Checks that `body` is a well-formed request of `key` at `version` whose every array count and length
/// fits in the body (see the module doc).
pub(crate) fn check_shape(key: ApiKey, version: i16, body: &[u8]) -> Result<(), String> {
    let shape = shape(key).ok_or("no layout for this API")?;
    let mut r = Reader::new(body, body.len());
    match walk_fields(&mut r, shape.fields, version, version >= shape.flexible_from) {
        Ok(()) => Ok(()),
        Err(stop) => Err(stop_reason(stop)),
    }
}

/// Which named fields [`parse`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// What authorization asks about (resources and the arrays holding them).
    Resources,
    /// Everything named, for answers (error responses).
    All,
}

// ---------------------------------------------------------------------------------------------------------
// Response layouts: the broker's answers the filter rewrites are bounded the same way before any decode
// (a broker's bytes are read off the wire too).

/// A response's per-resource array, for splicing the filter's answer for denied resources into the
/// broker's answer (partial requests): the fields before the array and the layout of one element.
pub(crate) struct ResponseArray {
    flexible_from: i16,
    /// Fields before the array.
    head: &'static [Field],
    /// Set when the array lies inside the one element of an outer array (OffsetFetch v8+ `groups`; only
    /// single-group requests are split): that element's fields before and after the array.
    within_single: Option<(&'static [Field], &'static [Field])>,
    /// One element of the array.
    element: &'static [Field],
    /// Fields after the array: walked too, so a truncated response is refused, not passed on.
    tail: &'static [Field],
}

const fn response_array(flexible_from: i16, head: &'static [Field], element: &'static [Field]) -> ResponseArray {
    ResponseArray { flexible_from, head, within_single: None, element, tail: &[] }
}

static PRODUCE_RESPONSE_TOPICS: ResponseArray = ResponseArray {
    tail: &[since(1, I32)], // throttle_time_ms
    ..response_array(
        9,
        &[],
        &[
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
        ],
    )
};

static FETCH_RESPONSE_TOPICS: ResponseArray = response_array(
    12,
    &[since(1, I32), since(7, I16), since(7, I32)], // throttle_time_ms, error_code, session_id
    &[
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
    ],
);

static LIST_OFFSETS_RESPONSE_TOPICS: ResponseArray = response_array(
    6,
    &[since(2, I32)], // throttle_time_ms
    &[
        all(Str), // name
        // partition_index, error_code, old_style_offsets (v0), timestamp, offset, leader_epoch
        all(Structs(&[all(I32), all(I16), until(0, I64S), since(1, I64), since(1, I64), since(4, I32)])),
    ],
);

static OFFSET_COMMIT_RESPONSE_TOPICS: ResponseArray = response_array(
    8,
    &[since(3, I32)],                                                       // throttle_time_ms
    &[until(9, Str), since(10, Uuid), all(Structs(&[all(I32), all(I16)]))], // name, id, (index, error_code)
);

/// v0-7; the top-level error_code (v2+) after the array stays as the broker sent it.
static OFFSET_FETCH_RESPONSE_TOPICS: ResponseArray = ResponseArray {
    tail: &[between(2, 7, I16)], // error_code
    ..response_array(
        6,
        &[since(3, I32)], // throttle_time_ms
        &[
            all(Str), // name
            // partition_index, committed_offset, committed_leader_epoch, metadata, error_code
            all(Structs(&[all(I32), all(I64), since(5, I32), all(Str), all(I16)])),
        ],
    )
};

/// v8+: one topic of a group (name or id; partition, offset, leader epoch, metadata, error_code).
static OFFSET_FETCH_RESPONSE_GROUP_TOPIC: &[Field] =
    &[until(9, Str), since(10, Uuid), all(Structs(&[all(I32), all(I64), all(I32), all(Str), all(I16)]))];

/// v8+: the topics of the one group (a one-group request split by topic).
static OFFSET_FETCH_RESPONSE_GROUP_TOPICS: ResponseArray = ResponseArray {
    flexible_from: 6,
    head: &[all(I32)],                               // throttle_time_ms
    within_single: Some((&[all(Str)], &[all(I16)])), // group_id; error_code
    element: OFFSET_FETCH_RESPONSE_GROUP_TOPIC,
    tail: &[],
};

/// v8+: the groups (a request of several groups split by group).
static OFFSET_FETCH_RESPONSE_GROUPS: ResponseArray = response_array(
    6,
    &[all(I32)], // throttle_time_ms
    // group_id, topics, error_code
    &[all(Str), all(Structs(OFFSET_FETCH_RESPONSE_GROUP_TOPIC)), all(I16)],
);

static DELETE_RECORDS_RESPONSE_TOPICS: ResponseArray = response_array(
    2,
    &[all(I32)],                                                // throttle_time_ms
    &[all(Str), all(Structs(&[all(I32), all(I64), all(I16)]))], // name, (index, low_watermark, error_code)
);

static OFFSET_FOR_LEADER_EPOCH_RESPONSE_TOPICS: ResponseArray = response_array(
    4,
    &[since(2, I32)], // throttle_time_ms
    // topic, (error_code, partition, leader_epoch, end_offset)
    &[all(Str), all(Structs(&[all(I16), all(I32), since(1, I32), all(I64)]))],
);

static CREATE_TOPICS_RESPONSE_TOPICS: ResponseArray = response_array(
    5,
    &[since(2, I32)], // throttle_time_ms
    &[
        all(Str),                                                                // name
        since(7, Uuid),                                                          // topic_id
        all(I16),                                                                // error_code
        since(1, Str),                                                           // error_message
        since(5, I32),                                                           // num_partitions
        since(5, I16),                                                           // replication_factor
        since(5, Structs(&[all(Str), all(Str), all(Bool), all(I8), all(Bool)])), // configs
    ],
);

static CREATE_PARTITIONS_RESPONSE_TOPICS: ResponseArray = response_array(
    2,
    &[all(I32)],                     // throttle_time_ms
    &[all(Str), all(I16), all(Str)], // name, error_code, error_message
);

/// Topics of partition results (partition_index, error_code).
static TOPIC_PARTITION_ERRORS: &[Field] = &[all(Str), all(Structs(&[all(I32), all(I16)]))];

static TXN_OFFSET_COMMIT_RESPONSE_TOPICS: ResponseArray = response_array(3, &[all(I32)], TOPIC_PARTITION_ERRORS);

/// v0 (not flexible); the top-level error_code and throttle_time_ms come first.
static OFFSET_DELETE_RESPONSE_TOPICS: ResponseArray =
    response_array(i16::MAX, &[all(I16), all(I32)], TOPIC_PARTITION_ERRORS);

static DESCRIBE_PRODUCERS_RESPONSE_TOPICS: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    &[
        all(Str), // name
        // partition_index, error_code, error_message, active_producers (producer_id, producer_epoch,
        // last_sequence, last_timestamp, coordinator_epoch, current_txn_start_offset)
        all(Structs(&[
            all(I32),
            all(I16),
            all(Str),
            all(Structs(&[all(I64), all(I32), all(I32), all(I64), all(I32), all(I64)])),
        ])),
    ],
);

/// v1-4 (the filter's supported range).
static DESCRIBE_CONFIGS_RESPONSE_RESULTS: ResponseArray = response_array(
    4,
    &[all(I32)], // throttle_time_ms
    &[
        all(I16), // error_code
        all(Str), // error_message
        all(I8),  // resource_type
        all(Str), // resource_name
        // configs: name, value, read_only, is_default (v0), config_source (v1+), is_sensitive,
        // synonyms (name, value, source), config_type, documentation
        all(Structs(&[
            all(Str),
            all(Str),
            all(Bool),
            until(0, Bool),
            since(1, I8),
            all(Bool),
            since(1, Structs(&[all(Str), all(Str), all(I8)])),
            since(3, I8),
            since(3, Str),
        ])),
    ],
);

/// AlterConfigs (flexible from v2) and IncrementalAlterConfigs (from v1) answer each resource alike:
/// error_code, error_message, resource_type, resource_name.
static ALTER_CONFIGS_RESPONSE: &[Field] = &[all(I16), all(Str), all(I8), all(Str)];

static ALTER_CONFIGS_RESPONSES: ResponseArray = response_array(2, &[all(I32)], ALTER_CONFIGS_RESPONSE);

static INCREMENTAL_ALTER_CONFIGS_RESPONSES: ResponseArray = response_array(1, &[all(I32)], ALTER_CONFIGS_RESPONSE);

static DELETE_TOPICS_RESPONSE_TOPICS: ResponseArray = response_array(
    4,
    &[since(1, I32)],                                     // throttle_time_ms
    &[all(Str), since(6, Uuid), all(I16), since(5, Str)], // name, topic_id, error_code, error_message
);

static DESCRIBE_GROUPS_RESPONSE_GROUPS: ResponseArray = response_array(
    5,
    &[since(1, I32)], // throttle_time_ms
    &[
        all(I16),      // error_code
        since(6, Str), // error_message
        all(Str),      // group_id
        all(Str),      // group_state
        all(Str),      // protocol_type
        all(Str),      // protocol_data
        // member_id, group_instance_id, client_id, client_host, member_metadata, member_assignment
        all(Structs(&[all(Str), since(4, Str), all(Str), all(Str), all(Bytes), all(Bytes)])),
        since(3, I32), // authorized_operations
    ],
);

static DELETE_GROUPS_RESPONSE_GROUPS: ResponseArray = response_array(2, &[all(I32)], &[all(Str), all(I16)]);

static DESCRIBE_TRANSACTIONS_RESPONSE_STATES: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    &[
        all(I16), // error_code
        all(Str), // transactional_id
        all(Str), // transaction_state
        all(I32), // transaction_timeout_ms
        all(I64), // transaction_start_time_ms
        all(I64), // producer_id
        all(I16), // producer_epoch
        all(Structs(&[all(Str), all(I32S)])),
    ],
);

/// ConsumerGroupDescribe's member assignment: (topic_id, topic_name, partitions) per topic.
static ASSIGNMENT: &[Field] = &[all(Structs(&[all(Uuid), all(Str), all(I32S)]))];

static CONSUMER_GROUP_DESCRIBE_RESPONSE_GROUPS: ResponseArray = response_array(
    0,
    &[all(I32)], // throttle_time_ms
    &[
        all(I16), // error_code
        all(Str), // error_message
        all(Str), // group_id
        all(Str), // group_state
        all(I32), // group_epoch
        all(I32), // assignment_epoch
        all(Str), // assignor_name
        all(Structs(&[
            all(Str),  // member_id
            all(Str),  // instance_id
            all(Str),  // rack_id
            all(I32),  // member_epoch
            all(Str),  // client_id
            all(Str),  // client_host
            all(Strs), // subscribed_topic_names
            all(Str),  // subscribed_topic_regex
            all(Struct(ASSIGNMENT)),
            all(Struct(ASSIGNMENT)), // target_assignment
            since(1, I8),            // member_type
        ])),
        all(I32), // authorized_operations
    ],
);

/// The per-resource response array of an API whose requests the filter splits.
fn response_array_layout(key: ApiKey, version: i16) -> Option<&'static ResponseArray> {
    Some(match key {
        ApiKey::Produce => &PRODUCE_RESPONSE_TOPICS,
        ApiKey::Fetch => &FETCH_RESPONSE_TOPICS,
        ApiKey::ListOffsets => &LIST_OFFSETS_RESPONSE_TOPICS,
        ApiKey::OffsetCommit => &OFFSET_COMMIT_RESPONSE_TOPICS,
        ApiKey::OffsetFetch if version >= 8 => &OFFSET_FETCH_RESPONSE_GROUP_TOPICS,
        ApiKey::OffsetFetch => &OFFSET_FETCH_RESPONSE_TOPICS,
        ApiKey::DeleteRecords => &DELETE_RECORDS_RESPONSE_TOPICS,
        ApiKey::OffsetForLeaderEpoch => &OFFSET_FOR_LEADER_EPOCH_RESPONSE_TOPICS,
        ApiKey::CreateTopics => &CREATE_TOPICS_RESPONSE_TOPICS,
        ApiKey::DeleteTopics => &DELETE_TOPICS_RESPONSE_TOPICS,
        ApiKey::CreatePartitions => &CREATE_PARTITIONS_RESPONSE_TOPICS,
        ApiKey::TxnOffsetCommit => &TXN_OFFSET_COMMIT_RESPONSE_TOPICS,
        ApiKey::OffsetDelete => &OFFSET_DELETE_RESPONSE_TOPICS,
        ApiKey::DescribeProducers => &DESCRIBE_PRODUCERS_RESPONSE_TOPICS,
        ApiKey::DescribeConfigs => &DESCRIBE_CONFIGS_RESPONSE_RESULTS,
        ApiKey::AlterConfigs => &ALTER_CONFIGS_RESPONSES,
        ApiKey::IncrementalAlterConfigs => &INCREMENTAL_ALTER_CONFIGS_RESPONSES,
        ApiKey::DescribeGroups => &DESCRIBE_GROUPS_RESPONSE_GROUPS,
        ApiKey::DeleteGroups => &DELETE_GROUPS_RESPONSE_GROUPS,
        ApiKey::DescribeTransactions => &DESCRIBE_TRANSACTIONS_RESPONSE_STATES,
        ApiKey::ConsumerGroupDescribe => &CONSUMER_GROUP_DESCRIBE_RESPONSE_GROUPS,
        _ => return None,
    })
}

/// Where the per-resource array of a response lies in `body` (see [`ResponseArray`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArraySpan {
    /// Where the element count starts (everything before is copied as is).
    pub count_start: usize,
    pub entries_start: usize,
    /// Where the last element ends (everything after is copied as is).
    pub entries_end: usize,
    pub count: usize,
    /// Compact counts (flexible version).
    pub flexible: bool,
}

/// Where the per-resource array of a response to a split API lies in `body`. Walks the broker's bytes
/// with the layout, without decoding them, so rewriting a response never allocates from a count read off
/// the wire.
pub(crate) fn response_topic_array(api_key: i16, version: i16, body: &[u8]) -> Result<ArraySpan, String> {
    let layout = ApiKey::try_from(api_key)
        .ok()
        .and_then(|key| response_array_layout(key, version))
        .ok_or_else(|| format!("no response layout for API key {api_key}"))?;
    response_array_span(layout, version, body)
}

/// [`response_topic_array`] of an OffsetFetch v8+ response split by group: its `groups` array.
pub(crate) fn offset_fetch_response_groups(version: i16, body: &[u8]) -> Result<ArraySpan, String> {
    if version < 8 {
        return Err(format!("OffsetFetch v{version} has no groups"));
    }
    response_array_span(&OFFSET_FETCH_RESPONSE_GROUPS, version, body)
}

fn response_array_span(layout: &ResponseArray, version: i16, body: &[u8]) -> Result<ArraySpan, String> {
    let flexible = version >= layout.flexible_from;
    let mut r = Reader::new(body, body.len());
    walk_list(&mut r, layout.head, version, flexible).map_err(stop_reason)?;
    if let Some((before, _)) = layout.within_single {
        if r.count(flexible).map_err(stop_reason)? != Some(1) {
            return Err("expected exactly one group".into());
        }
        walk_list(&mut r, before, version, flexible).map_err(stop_reason)?;
    }
    let count_start = r.pos;
    let count = r.count(flexible).map_err(stop_reason)?.unwrap_or(0);
    let entries_start = r.pos;
    for _ in 0..count {
        walk_fields(&mut r, layout.element, version, flexible).map_err(stop_reason)?;
    }
    let entries_end = r.pos;
    if let Some((_, after)) = layout.within_single {
        walk_fields(&mut r, after, version, flexible).map_err(stop_reason)?;
    }
    walk_fields(&mut r, layout.tail, version, flexible).map_err(stop_reason)?;
    Ok(ArraySpan { count_start, entries_start, entries_end, count, flexible })
}

// ---------------------------------------------------------------------------------------------------------
// Listings: responses whose entries the filter drops when the principal may not Describe them (ListGroups,
// ListTransactions, OffsetFetch for all topics, DescribeTopicPartitions). The broker's bytes are walked
// with these layouts, never decoded: dropped entries are cut out, every other byte stays as sent.

/// A response body (or one struct of it) holding one array whose entries are kept or dropped by a key.
pub(crate) struct Listing {
    flexible_from: i16,
    /// Fields before the array.
    before: &'static [Field],
    /// The fields of one entry; `key` indexes the string among them that names the entry.
    entry: &'static [Field],
    key: usize,
    /// Fields after the array (then, in flexible versions, the struct's tagged fields).
    after: &'static [Field],
}

/// Metadata response: throttle_time_ms, brokers, cluster_id, controller_id, then topics by name; after them
/// cluster_authorized_operations (v8-10) and error_code (v13+).
pub(crate) static METADATA_LISTING: Listing = Listing {
    flexible_from: 9,
    before: &[
        since(3, I32),                                                // throttle_time_ms
        all(Structs(&[all(I32), all(Str), all(I32), since(1, Str)])), // brokers: node_id, host, port, rack
        since(2, Str),                                                // cluster_id
        since(1, I32),                                                // controller_id
    ],
    entry: &[
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
    ],
    key: 1,
    after: &[between(8, 10, I32), since(13, I16)], // cluster_authorized_operations, error_code
};

/// ListGroups response: throttle_time_ms, error_code, groups by group_id.
pub(crate) static LIST_GROUPS_LISTING: Listing = Listing {
    flexible_from: 3,
    before: &[since(1, I32), all(I16)],
    entry: &[all(Str), all(Str), since(4, Str), since(5, Str)], // group_id, protocol_type, state, type
    key: 0,
    after: &[],
};

/// ListTransactions response: throttle_time_ms, error_code, unknown_state_filters, transaction_states by id.
pub(crate) static LIST_TRANSACTIONS_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(I32), all(I16), all(Strs)],
    entry: &[all(Str), all(I64), all(Str)], // transactional_id, producer_id, transaction_state
    key: 0,
    after: &[],
};

/// One partition of an OffsetFetch response (every version the filter handles).
static OFFSET_FETCH_PARTITION: &[Field] = &[
    all(I32),      // partition_index
    all(I64),      // committed_offset
    since(5, I32), // committed_leader_epoch
    all(Str),      // metadata
    all(I16),      // error_code
];

/// One topic of an OffsetFetch response, by name (the filter caps OffsetFetch below topic ids).
static OFFSET_FETCH_TOPIC: &[Field] = &[all(Str), all(Structs(OFFSET_FETCH_PARTITION))];

/// OffsetFetch response v1-v7: throttle_time_ms, topics by name, error_code.
pub(crate) static OFFSET_FETCH_TOPICS_LISTING: Listing =
    Listing { flexible_from: 6, before: &[since(3, I32)], entry: OFFSET_FETCH_TOPIC, key: 0, after: &[since(2, I16)] };

/// OffsetFetch response v8+: throttle_time_ms, groups by group_id (each filtered with the next layout).
pub(crate) static OFFSET_FETCH_GROUPS_LISTING: Listing = Listing {
    flexible_from: 6,
    before: &[all(I32)],
    entry: &[all(Str), all(Structs(OFFSET_FETCH_TOPIC)), all(I16)], // group_id, topics, error_code
    key: 0,
    after: &[],
};

/// One group of an OffsetFetch v8+ response: group_id, topics by name, error_code.
pub(crate) static OFFSET_FETCH_GROUP_TOPICS_LISTING: Listing =
    Listing { flexible_from: 6, before: &[all(Str)], entry: OFFSET_FETCH_TOPIC, key: 0, after: &[all(I16)] };

/// DescribeTopicPartitions response: throttle_time_ms, topics by name, next_cursor.
pub(crate) static DESCRIBE_TOPIC_PARTITIONS_LISTING: Listing = Listing {
    flexible_from: 0,
    before: &[all(I32)],
    entry: &[
        all(I16),  // error_code
        all(Str),  // name
        all(Uuid), // topic_id
        all(Bool), // is_internal
        all(Structs(&[
            all(I16),  // error_code
            all(I32),  // partition_index
            all(I32),  // leader_id
            all(I32),  // leader_epoch
            all(I32S), // replica_nodes
            all(I32S), // isr_nodes
            all(I32S), // eligible_leader_replicas
            all(I32S), // last_known_elr
            all(I32S), // offline_replicas
        ])),
        all(I32), // topic_authorized_operations
    ],
    key: 1,
    after: &[all(Opt(DTP_CURSOR))],
};

/// What becomes of one entry of a listing.
pub(crate) enum Entry {
    Keep,
    Drop,
    /// Kept, with these bytes instead (a nested listing filtered in turn).
    Replace(Vec<u8>),
}

/// Decides one entry of a listing from its key (`None`: null) and its bytes.
pub(crate) type Decide<'a> = dyn FnMut(Option<&str>, &[u8]) -> Result<Entry, String> + 'a;

/// A filtered listing: the new body, and where the fields after the array start in it and in the original.
pub(crate) struct Filtered {
    pub body: Vec<u8>,
    pub after_in_body: usize,
    pub after_in_original: usize,
}

/// Filters the entries of a listing's array by their key: `decide` sees each entry's key and bytes;
/// `appended` entries (already encoded) are added at the end. The whole body is walked first (every count
/// and length bounded by it, nothing allocated from a count), so a malformed body is an error and nothing
/// is half-written. A null array stays null.
pub(crate) fn filter_listing(
    listing: &Listing,
    version: i16,
    body: &[u8],
    appended: &[Vec<u8>],
    decide: &mut Decide<'_>,
) -> Result<Filtered, String> {
    let flexible = version >= listing.flexible_from;
    let mut r = Reader::new(body, body.len());
    walk_list(&mut r, listing.before, version, flexible).map_err(stop_reason)?;
    let count_start = r.pos;
    let count = r.count(flexible).map_err(stop_reason)?;
    let entries_start = r.pos;
    let mut entries = Vec::with_capacity(body.len().saturating_sub(entries_start).min(1 << 16));
    let mut kept: usize = 0;
    let mut changed = !appended.is_empty();
    for _ in 0..count.unwrap_or(0) {
        let start = r.pos;
        let key = walk_entry(&mut r, listing, version, flexible).map_err(stop_reason)?;
        let bytes = body.get(start..r.pos).ok_or("entry span")?;
        match decide(key, bytes)? {
            Entry::Keep => {
                kept += 1;
                entries.extend_from_slice(bytes);
            }
            Entry::Drop => changed = true,
            Entry::Replace(new) => {
                kept += 1;
                changed |= new != bytes;
                entries.extend_from_slice(&new);
            }
        }
    }
    let after_start = r.pos;
    walk_fields(&mut r, listing.after, version, flexible).map_err(stop_reason)?;
    let head = body.get(..count_start).ok_or("head span")?;
    let rest = body.get(after_start..).ok_or("tail span")?;
    let mut out = Vec::with_capacity(body.len() + appended.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(head);
    if !changed || (count.is_none() && appended.is_empty()) {
        // The count as the broker wrote it (also a null array).
        out.extend_from_slice(body.get(count_start..entries_start).ok_or("count span")?);
    } else {
        let total = u32::try_from(kept + appended.len()).map_err(|_| "too many entries")?;
        crate::protocol::wire::write_array_count(&mut out, total, flexible);
    }
    out.extend_from_slice(&entries);
    for entry in appended {
        out.extend_from_slice(entry);
    }
    let after_in_body = out.len();
    out.extend_from_slice(rest);
    Ok(Filtered { body: out, after_in_body, after_in_original: after_start })
}

/// Walks one entry of a listing, returning its key (`None` for a null string).
fn walk_entry<'a>(
    r: &mut Reader<'a>,
    listing: &Listing,
    version: i16,
    flexible: bool,
) -> Result<Option<&'a str>, Stop> {
    let mut key = None;
    for (i, field) in listing.entry.iter().enumerate() {
        if i == listing.key && (field.min..=field.max).contains(&version) {
            key = r.string(flexible)?;
        } else {
            walk_list(r, std::slice::from_ref(field), version, flexible)?;
        }
    }
    if flexible {
        r.tagged_fields()?;
    }
    Ok(key)
}

/// The nullable DescribeTopicPartitions cursor at `at` in a (flexible) body: `(topic_name,
/// partition_index)` or `None`, and where the cursor ends.
pub(crate) fn read_dtp_cursor(body: &[u8], at: usize) -> Result<(Option<(String, i32)>, usize), String> {
    let mut r = Reader::new(body, body.len());
    r.pos = at;
    let cursor = match r.array::<1>().map_err(stop_reason)? {
        [0xff] => None,
        [1] => {
            let name = r.string(true).map_err(stop_reason)?.ok_or("null cursor topic")?.to_string();
            let partition = r.i32().map_err(stop_reason)?;
            r.tagged_fields().map_err(stop_reason)?;
            Some((name, partition))
        }
        _ => return Err("nullable struct marker".into()),
    };
    Ok((cursor, r.pos))
}

/// A DescribeTopicPartitions cursor as written on the wire (`None`: null), without tagged fields.
pub(crate) fn write_dtp_cursor(out: &mut Vec<u8>, cursor: Option<(&str, i32)>) {
    match cursor {
        None => out.push(0xff),
        Some((name, partition)) => {
            out.push(1);
            crate::protocol::wire::write_uvarint(out, name.len() as u64 + 1);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&partition.to_be_bytes());
            out.push(0);
        }
    }
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

    /// The Fetch walker against the layout walk it replaces, on every version, on real requests and on
    /// thousands of corruptions of them (bytes flipped, cut, extended): the same verdict and the same topics.
    #[test]
    fn fetch_walker_agrees_with_the_fetch_layout() {
        use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
        use kafka_protocol::protocol::{Encodable, StrBytes};
        let topic = |name: &str| TopicName(StrBytes::from_string(name.into()));
        let mut checked = 0;
        // kafka-protocol encodes the versions current brokers accept (v4+).
        for version in crate::protocol::api::min_version(ApiKey::Fetch as i16)..=12i16 {
            let mut request = FetchRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
                FetchTopic::default().with_topic(topic("orders")).with_partitions(vec![
                    FetchPartition::default().with_partition(0),
                    FetchPartition::default().with_partition(1),
                ]),
                FetchTopic::default().with_topic(topic("payments")).with_partitions(vec![FetchPartition::default()]),
            ]);
            if version >= 7 {
                request = request.with_forgotten_topics_data(vec![ForgottenTopic::default()
                    .with_topic(topic("old"))
                    .with_partitions(vec![3, 4])]);
            }
            if version >= 11 {
                request = request.with_rack_id(StrBytes::from_static_str("rack-a"));
            }
            let mut follower = request.clone().with_replica_id(BrokerId(2));
            follower.topics.truncate(1);
            for request in [request, follower] {
                let mut body = Vec::new();
                request.encode(&mut body, version).expect("encodable");
                let mut variants = vec![body.clone(), [body.as_slice(), &[0, 1, 2]].concat()];
                for at in 0..body.len() {
                    variants.push(body[..at].to_vec());
                    for byte in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                        let mut changed = body.clone();
                        changed[at] = byte;
                        variants.push(changed);
                    }
                }
                for variant in &variants {
                    let by_layout = requirements_of(ApiKey::Fetch as i16, version, variant);
                    let by_walker = fetch_requirements(version, variant);
                    assert_eq!(
                        by_walker.is_ok(),
                        by_layout.is_ok(),
                        "v{version} {variant:?}: {by_walker:?} {by_layout:?}"
                    );
                    if let (Ok(walker), Ok(layout)) = (by_walker, by_layout) {
                        assert_eq!(walker, layout, "v{version} {variant:?}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 5_000, "{checked} requests compared");
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

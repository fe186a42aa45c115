//! Enforcement: the Kafka error response a client gets for a denied request, encoded at the request's
//! API version and response-header version, so clients see real Kafka errors, never a disconnect.
//!
//! The responses mirror what Kafka's KafkaApis sends when authorization fails: the request's topics,
//! partitions, groups or transactional ids are echoed with an error code each, offsets and ids are -1,
//! no data, throttle time 0.
//!
//! Error codes come from `error_for(resource_type, name)` for every named resource, trusted as given: a
//! resource whose own check passed gets what the caller says (0 when the caller forwards that part
//! separately). Where one item depends on several resources (a partition of a transactional produce depends
//! on the transactional id and the topic), the first non-zero code in Kafka's check order wins. The one
//! exception is AddPartitionsToTxn, where Kafka itself answers OPERATION_NOT_ATTEMPTED for the partitions
//! that were not refused, so the client never believes them added.
//!
//! The request is read with its layout (`protocol::layout::parse`) and the response written field by field
//! (Kafka's message definitions, per version): kafka-protocol's generated encoders for ~60 response types
//! were the largest part of the wasm module. A test checks every answer byte for byte against
//! kafka-protocol's encoding of the same response (`oracle`).

use crate::classify::{cluster_only_operation, coordinator_resource, walk_produce};
use crate::protocol::acl::{ResourceType, CLUSTER_NAME};
use crate::protocol::config_resource::config_resource;
use crate::protocol::layout::{parse, Keep, Node, Val};
use crate::protocol::wire;
use kafka_protocol::messages::ApiKey;

#[cfg(test)]
mod oracle;

/// OPERATION_NOT_ATTEMPTED: AddPartitionsToTxn's answer for partitions not at fault.
const OPERATION_NOT_ATTEMPTED: i16 = 55;
/// The error message Kafka gives a topic CreateTopics may not create.
pub(crate) const CREATE_TOPICS_REFUSED: &str = "Authorization failed.";
/// Kafka's "authorized operations not requested/known" marker.
const NO_AUTHORIZED_OPERATIONS: i32 = i32::MIN;

/// Builds the complete response frame (4-byte size, response header, body) answering a denied request.
/// `body` is the complete request body (after the request header). `error_for(resource_type, name)` gives
/// the error code for each named resource in the request (e.g. 29 TOPIC_AUTHORIZATION_FAILED);
/// request-level errors use the code for the request's main resource.
pub fn error_response(
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &[u8],
    error_for: &dyn Fn(ResourceType, &str) -> i16,
) -> Result<Vec<u8>, String> {
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    let max = crate::protocol::api::lookup(api_key).map_or(-1, |e| e.max_version);
    let v = api_version;
    if v < crate::protocol::api::min_version(api_key) || v > max {
        return Err(format!("{key:?} v{v} is not supported"));
    }
    let e = Codes(error_for);
    let mut o = Out::frame(api_key, v, correlation_id);
    if cluster_only_operation(key).is_some() {
        cluster_only(&mut o, key, e.cluster());
        return Ok(o.finish());
    }
    if key == ApiKey::Produce {
        produce(&mut o, body, &e)?;
        return Ok(o.finish());
    }
    let req = parse(key, v, body, Keep::All).map_err(|reason| format!("{key:?} v{v}: {reason}"))?;
    let group = || e.group(req.str("group_id").unwrap_or_default());
    match key {
        ApiKey::Fetch => {
            o.i32(0); // throttle_time_ms
            if o.since(7) {
                o.i16(0); // error_code: the errors are per partition, as in Kafka
                o.i32(0); // session_id
            }
            let follower = req.int("replica_id").unwrap_or(-1) >= 0;
            let code = |topic: &str| if follower { e.cluster_as_topic() } else { e.topic(topic) };
            per_partition(&mut o, &req, "topics", "topic", ("partitions", "partition"), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
                o.i64(-1); // high_watermark
                o.i64(-1); // last_stable_offset
                if o.since(5) {
                    o.i64(-1); // log_start_offset
                }
                o.null_array(); // aborted_transactions
                if o.since(11) {
                    o.i32(-1); // preferred_read_replica
                }
                o.empty_bytes(); // records
            });
        }
        ApiKey::ListOffsets => {
            if o.since(2) {
                o.i32(0);
            }
            per_partition(
                &mut o,
                &req,
                "topics",
                "name",
                ("partitions", "partition_index"),
                |t| e.topic(t),
                |o, index, code| {
                    o.i32(index);
                    o.i16(code);
                    o.i64(-1); // timestamp
                    o.i64(-1); // offset
                    if o.since(4) {
                        o.i32(-1); // leader_epoch
                    }
                },
            );
        }
        ApiKey::Metadata => {
            if o.since(3) {
                o.i32(0);
            }
            o.count(0); // brokers
            if o.since(2) {
                o.null_str(); // cluster_id
            }
            if o.since(1) {
                o.i32(-1); // controller_id
            }
            o.count(req.len("topics"));
            for topic in req.nodes("topics") {
                let name = topic.str("name").ok_or("Metadata topic addressed by id")?;
                metadata_topic(&mut o, name, e.topic(name));
            }
            if (8..=10).contains(&o.v) {
                o.i32(NO_AUTHORIZED_OPERATIONS); // cluster_authorized_operations
            }
            if o.since(13) {
                o.i16(0);
            }
        }
        ApiKey::OffsetCommit => {
            if o.since(3) {
                o.i32(0);
            }
            let group_code = group();
            let code = |topic: &str| first_error(&[group_code, e.topic(topic)]);
            per_partition(&mut o, &req, "topics", "name", ("partitions", "partition_index"), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
            });
        }
        ApiKey::OffsetFetch if v <= 7 => {
            if o.since(3) {
                o.i32(0);
            }
            let group_code = group();
            // A refused group fails the request at top level (v2+) with no topics, as Kafka does.
            if group_code == 0 || v < 2 {
                let code = |topic: &str| first_error(&[group_code, e.topic(topic)]);
                per_partition(&mut o, &req, "topics", "name", ("partition_indexes", ""), code, offset_fetch_partition);
            } else {
                o.count(0);
            }
            if o.since(2) {
                o.i16(group_code);
            }
        }
        ApiKey::OffsetFetch => {
            o.i32(0);
            o.count(req.len("groups"));
            for group in req.nodes("groups") {
                let group_id = group.str("group_id").unwrap_or_default();
                let group_code = e.group(group_id);
                o.str(group_id);
                if group_code == 0 {
                    let code = |topic: &str| e.topic(topic);
                    per_partition(
                        &mut o,
                        group,
                        "topics",
                        "name",
                        ("partition_indexes", ""),
                        code,
                        offset_fetch_partition,
                    );
                } else {
                    o.count(0);
                }
                o.i16(group_code);
                o.tags();
            }
        }
        ApiKey::FindCoordinator => {
            let resource_type = coordinator_resource(req.int("key_type").unwrap_or(0))?;
            if o.since(1) {
                o.i32(0);
            }
            if o.since(4) {
                o.count(req.len("coordinator_keys"));
                for key in req.strs("coordinator_keys") {
                    o.str(key);
                    o.i32(-1); // node_id
                    o.str(""); // host
                    o.i32(-1); // port
                    o.i16(e.code(resource_type, key));
                    o.null_str(); // error_message
                    o.tags();
                }
            } else {
                o.i16(e.code(resource_type, req.str("key").unwrap_or_default()));
                if o.since(1) {
                    o.str(""); // error_message
                }
                o.i32(-1); // node_id
                o.str(""); // host
                o.i32(-1); // port
            }
        }
        ApiKey::JoinGroup => {
            if o.since(2) {
                o.i32(0);
            }
            o.i16(group());
            o.i32(-1); // generation_id
            if o.since(7) {
                o.null_str(); // protocol_type
                o.null_str(); // protocol_name (nullable from v7)
            } else {
                o.str("");
            }
            o.str(""); // leader
            if o.since(9) {
                o.bool(false); // skip_assignment
            }
            o.str(req.str("member_id").unwrap_or_default());
            o.count(0); // members
        }
        ApiKey::Heartbeat | ApiKey::LeaveGroup | ApiKey::SyncGroup => {
            if o.since(1) {
                o.i32(0);
            }
            o.i16(group());
            if key == ApiKey::LeaveGroup && o.since(3) {
                o.count(0); // members
            }
            if key == ApiKey::SyncGroup {
                if o.since(5) {
                    o.null_str(); // protocol_type
                    o.null_str(); // protocol_name
                }
                o.empty_bytes(); // assignment
            }
        }
        ApiKey::DescribeGroups => {
            if o.since(1) {
                o.i32(0);
            }
            each_str(&mut o, &req, "groups", |o, group| {
                o.i16(e.group(group));
                if o.since(6) {
                    o.null_str(); // error_message
                }
                o.str(group);
                o.str(""); // group_state
                o.str(""); // protocol_type
                o.str(""); // protocol_data
                o.count(0); // members
                if o.since(3) {
                    o.i32(NO_AUTHORIZED_OPERATIONS);
                }
            });
        }
        ApiKey::ListGroups => {
            // Kafka answers a principal that may describe no group with an empty listing, not an error.
            if o.since(1) {
                o.i32(0);
            }
            o.i16(0);
            o.count(0);
        }
        ApiKey::CreateTopics => {
            if o.since(2) {
                o.i32(0);
            }
            each_node(&mut o, &req, "topics", |o, topic| {
                let name = topic.str("name").unwrap_or_default();
                o.str(name);
                if o.since(7) {
                    o.uuid_zero();
                }
                let code = e.topic(name);
                o.i16(code);
                if o.since(1) {
                    // Kafka's own words for a refused topic (KafkaApis.handleCreateTopicsRequest).
                    o.str(if code != 0 { CREATE_TOPICS_REFUSED } else { "" }); // error_message
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
            let names: Vec<&str> =
                req.strs("topic_names").chain(req.nodes("topics").filter_map(|t| t.str("name"))).collect();
            o.count(names.len());
            for name in names {
                o.str(name);
                if o.since(6) {
                    o.uuid_zero();
                }
                o.i16(e.topic(name));
                if o.since(5) {
                    o.null_str(); // error_message
                }
                o.tags();
            }
        }
        ApiKey::DeleteRecords => {
            o.i32(0);
            per_partition(
                &mut o,
                &req,
                "topics",
                "name",
                ("partitions", "partition_index"),
                |t| e.topic(t),
                |o, index, code| {
                    o.i32(index);
                    o.i64(-1); // low_watermark
                    o.i16(code);
                },
            );
        }
        ApiKey::InitProducerId => {
            o.i32(0);
            o.i16(match req.str("transactional_id") {
                Some(id) => e.txn(id),
                None => e.cluster(),
            });
            o.i64(-1); // producer_id
            o.i16(-1); // producer_epoch
        }
        ApiKey::OffsetForLeaderEpoch => {
            if o.since(2) {
                o.i32(0);
            }
            // Kafka answers an unauthorized follower per partition as well.
            let follower = req.int("replica_id").unwrap_or(-1) >= 0;
            let code = |topic: &str| if follower { e.cluster_as_topic() } else { e.topic(topic) };
            per_partition(&mut o, &req, "topics", "topic", ("partitions", "partition"), code, |o, index, code| {
                o.i16(code);
                o.i32(index);
                if o.since(1) {
                    o.i32(-1); // leader_epoch
                }
                o.i64(-1); // end_offset
            });
        }
        ApiKey::AddPartitionsToTxn => {
            o.i32(0);
            let txn_code = e.txn(req.str("v3_and_below_transactional_id").unwrap_or_default());
            let refused = req
                .nodes("v3_and_below_topics")
                .any(|t| first_error(&[txn_code, e.topic(t.str("name").unwrap_or_default())]) != 0);
            let code = |topic: &str| match first_error(&[txn_code, e.topic(topic)]) {
                0 if refused => OPERATION_NOT_ATTEMPTED,
                code => code,
            };
            per_partition(&mut o, &req, "v3_and_below_topics", "name", ("partitions", ""), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
            });
        }
        ApiKey::AddOffsetsToTxn | ApiKey::EndTxn => {
            o.i32(0);
            let txn_code = e.txn(req.str("transactional_id").unwrap_or_default());
            if key == ApiKey::AddOffsetsToTxn {
                o.i16(first_error(&[txn_code, group()]));
            } else {
                o.i16(txn_code);
                if o.since(5) {
                    o.i64(-1); // producer_id
                    o.i16(-1); // producer_epoch
                }
            }
        }
        ApiKey::TxnOffsetCommit => {
            o.i32(0);
            let head = first_error(&[e.txn(req.str("transactional_id").unwrap_or_default()), group()]);
            let code = |topic: &str| first_error(&[head, e.topic(topic)]);
            per_partition(&mut o, &req, "topics", "name", ("partitions", "partition_index"), code, |o, index, code| {
                o.i32(index);
                o.i16(code);
            });
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
            each_node(&mut o, &req, list, |o, _| {
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
            each_node(&mut o, &req, "resources", |o, resource| {
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
            each_node(&mut o, &req, "topics", |o, topic| {
                let name = topic.str("name").unwrap_or_default();
                o.str(name);
                o.i16(e.topic(name));
                o.null_str(); // error_message
            });
        }
        ApiKey::DeleteGroups => {
            o.i32(0);
            each_str(&mut o, &req, "groups_names", |o, group| {
                o.str(group);
                o.i16(e.group(group));
            });
        }
        ApiKey::OffsetDelete => {
            let group_code = group();
            o.i16(group_code);
            o.i32(0);
            // A refused group fails the whole request (top level); otherwise partitions carry topic errors.
            if group_code == 0 {
                per_partition(
                    &mut o,
                    &req,
                    "topics",
                    "name",
                    ("partitions", "partition_index"),
                    |t| e.topic(t),
                    |o, index, code| {
                        o.i32(index);
                        o.i16(code);
                    },
                );
            } else {
                o.count(0);
            }
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
        ApiKey::DescribeProducers => {
            o.i32(0);
            per_partition(
                &mut o,
                &req,
                "topics",
                "name",
                ("partition_indexes", ""),
                |t| e.topic(t),
                |o, index, code| {
                    o.i32(index);
                    o.i16(code);
                    o.null_str(); // error_message
                    o.count(0); // active_producers
                },
            );
        }
        ApiKey::DescribeTransactions => {
            o.i32(0);
            each_str(&mut o, &req, "transactional_ids", |o, id| {
                o.i16(e.txn(id));
                o.str(id);
                o.str(""); // transaction_state
                o.i32(0); // transaction_timeout_ms
                o.i64(-1); // transaction_start_time_ms
                o.i64(-1); // producer_id
                o.i16(-1); // producer_epoch
                o.count(0); // topics
            });
        }
        ApiKey::ListTransactions => {
            // Like ListGroups: Kafka shows a principal nothing it may not describe, without an error.
            o.i32(0);
            o.i16(0);
            o.count(0); // unknown_state_filters
            o.count(0); // transaction_states
        }
        ApiKey::DescribeTopicPartitions => {
            // Kafka answers a topic the principal may not Describe with no partitions and the zero id.
            o.i32(0);
            each_node(&mut o, &req, "topics", |o, topic| {
                let name = topic.str("name").unwrap_or_default();
                o.i16(e.topic(name));
                o.str(name);
                o.uuid_zero();
                o.bool(false); // is_internal
                o.count(0); // partitions
                o.i32(NO_AUTHORIZED_OPERATIONS);
            });
            o.i8(-1); // next_cursor: null
        }
        ApiKey::ConsumerGroupDescribe => {
            o.i32(0);
            each_str(&mut o, &req, "group_ids", |o, group| {
                o.i16(e.group(group));
                o.null_str(); // error_message
                o.str(group);
                o.str(""); // group_state
                o.i32(0); // group_epoch
                o.i32(0); // assignment_epoch
                o.str(""); // assignor_name
                o.count(0); // members
                o.i32(NO_AUTHORIZED_OPERATIONS);
            });
        }
        _ => return Err(format!("no error response for {key:?}")),
    }
    Ok(o.finish())
}

/// A Metadata response's entry for a topic answered with `code` and nothing else: no partitions, the zero
/// id, no authorized operations (as Kafka answers a topic the principal may not Describe).
fn metadata_topic(o: &mut Out, name: &str, code: i16) {
    o.i16(code);
    o.str(name);
    if o.since(10) {
        o.uuid_zero();
    }
    if o.since(1) {
        o.bool(false); // is_internal
    }
    o.count(0); // partitions
    if o.since(8) {
        o.i32(NO_AUTHORIZED_OPERATIONS);
    }
    o.tags();
}

/// [`metadata_topic`]'s bytes, for the filter's entries appended to a broker's Metadata response.
pub(crate) fn metadata_topic_entry(version: i16, name: &str, code: i16) -> Vec<u8> {
    let mut o = Out::body(ApiKey::Metadata as i16, version);
    metadata_topic(&mut o, name, code);
    o.buf
}

/// Produce is read by its own walker (the classifier's), not by a layout.
fn produce(o: &mut Out, body: &[u8], e: &Codes<'_>) -> Result<(), String> {
    let req = walk_produce(o.v, body, body.len(), true).map_err(|stop| format!("Produce: {stop:?}"))?;
    let txn_code = req.transactional_id.map_or(0, |id| e.txn(id));
    o.count(req.topics.len());
    for (name, partitions) in &req.topics {
        let code = first_error(&[txn_code, e.topic(name)]);
        o.str(name);
        o.count(partitions.len());
        for index in partitions {
            o.i32(*index);
            o.i16(code);
            o.i64(-1); // base_offset
            o.i64(-1); // log_append_time_ms
            if o.since(5) {
                o.i64(-1); // log_start_offset
            }
            if o.since(8) {
                o.count(0); // record_errors
                o.null_str(); // error_message
            }
            o.tags();
        }
        o.tags();
    }
    o.i32(0); // throttle_time_ms
    Ok(())
}

/// OffsetFetch's partition answer (v1-7 and the groups of v8+).
fn offset_fetch_partition(o: &mut Out, index: i32, code: i16) {
    o.i32(index);
    o.i64(-1); // committed_offset
    if o.since(5) {
        o.i32(-1); // committed_leader_epoch
    }
    o.str(""); // metadata
    o.i16(code);
}

/// Echoes the topics of a request array: per topic its name, then per partition `partition(index, code)`,
/// `code` being the topic's. `(list, index)` names the partitions array and the index field of its structs
/// ("" for an array of plain indexes).
fn per_partition(
    o: &mut Out,
    req: &Node<'_>,
    topics: &str,
    name: &str,
    (list, index): (&str, &str),
    code: impl Fn(&str) -> i16,
    partition: impl Fn(&mut Out, i32, i16),
) {
    each_node(o, req, topics, |o, topic| {
        let topic_name = topic.str(name).unwrap_or_default();
        let code = code(topic_name);
        o.str(topic_name);
        o.count(topic.len(list));
        for item in topic.items(list) {
            let partition_index = match item {
                Val::Struct(Some(p)) => p.int(index),
                other => other.int(),
            };
            partition(o, partition_index.unwrap_or_default() as i32, code);
            o.tags();
        }
    });
}

/// One response struct per element of a request's struct array (tagged fields closed here).
fn each_node<'a>(o: &mut Out, req: &Node<'a>, list: &str, mut write: impl FnMut(&mut Out, &Node<'a>)) {
    o.count(req.len(list));
    for node in req.nodes(list) {
        write(o, node);
        o.tags();
    }
}

/// One response struct per string of a request's string array (tagged fields closed here).
fn each_str(o: &mut Out, req: &Node<'_>, list: &str, mut write: impl FnMut(&mut Out, &str)) {
    o.count(req.len(list));
    for s in req.strs(list) {
        write(o, s);
        o.tags();
    }
}

/// Responses with one top-level error code (cluster-level APIs), with their other fields empty.
fn cluster_only(o: &mut Out, key: ApiKey, code: i16) {
    match key {
        ApiKey::DescribeLogDirs => {
            o.i32(0);
            if o.since(3) {
                o.i16(code);
            }
            o.count(0); // results
        }
        ApiKey::ElectLeaders => {
            o.i32(0);
            if o.since(1) {
                o.i16(code);
            }
            o.count(0); // replica_election_results
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
            o.count(0); // entries
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

/// Per-resource error codes from the caller.
struct Codes<'a>(&'a dyn Fn(ResourceType, &str) -> i16);

impl Codes<'_> {
    fn code(&self, resource_type: ResourceType, name: &str) -> i16 {
        (self.0)(resource_type, name)
    }
    fn topic(&self, name: &str) -> i16 {
        self.code(ResourceType::Topic, name)
    }
    fn group(&self, name: &str) -> i16 {
        self.code(ResourceType::Group, name)
    }
    fn txn(&self, name: &str) -> i16 {
        self.code(ResourceType::TransactionalId, name)
    }
    fn cluster(&self) -> i16 {
        self.code(ResourceType::Cluster, CLUSTER_NAME)
    }
    /// A refused follower request is answered per partition with TOPIC_AUTHORIZATION_FAILED (Kafka).
    fn cluster_as_topic(&self) -> i16 {
        if self.cluster() != 0 {
            29
        } else {
            0
        }
    }
}

fn first_error(codes: &[i16]) -> i16 {
    codes.iter().copied().find(|c| *c != 0).unwrap_or(0)
}

/// A response frame being written: Kafka's wire types at one API version (compact lengths and tagged
/// fields in flexible versions).
struct Out {
    buf: Vec<u8>,
    v: i16,
    flexible: bool,
}

impl Out {
    /// Size prefix (set by `finish`), response header.
    fn frame(api_key: i16, v: i16, correlation_id: i32) -> Out {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; wire::SIZE_PREFIX]);
        buf.extend_from_slice(&correlation_id.to_be_bytes());
        let flexible = wire::response_header_version(api_key, v) >= 1;
        let mut out = Out { buf, v, flexible };
        out.tags();
        out
    }
    /// A bare piece of a response body (no frame, no header).
    fn body(api_key: i16, v: i16) -> Out {
        Out { buf: Vec::new(), v, flexible: wire::response_header_version(api_key, v) >= 1 }
    }
    /// Closes the body (its tagged fields) and sets the size prefix.
    fn finish(mut self) -> Vec<u8> {
        self.tags();
        wire::set_frame_size(&mut self.buf);
        self.buf
    }
    fn since(&self, version: i16) -> bool {
        self.v >= version
    }
    fn i8(&mut self, n: i8) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    fn bool(&mut self, b: bool) {
        self.buf.push(u8::from(b));
    }
    fn i16(&mut self, n: i16) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    fn i32(&mut self, n: i32) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    fn i64(&mut self, n: i64) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    fn uuid_zero(&mut self) {
        self.buf.extend_from_slice(&[0; 16]);
    }
    /// A length or count: `width` bytes, or an unsigned varint of `n + 1` in flexible versions.
    fn length(&mut self, n: usize, wide: bool) {
        if self.flexible {
            wire::write_uvarint(&mut self.buf, n as u64 + 1);
        } else if wide {
            self.i32(n as i32);
        } else {
            self.i16(n as i16);
        }
    }
    /// The null marker of a string (`wide == false`), bytes or array.
    fn null(&mut self, wide: bool) {
        match (self.flexible, wide) {
            (true, _) => self.buf.push(0),
            (false, false) => self.i16(-1),
            (false, true) => self.i32(-1),
        }
    }
    fn str(&mut self, s: &str) {
        self.length(s.len(), false);
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn null_str(&mut self) {
        self.null(false);
    }
    fn count(&mut self, n: usize) {
        self.length(n, true);
    }
    fn null_array(&mut self) {
        self.null(true);
    }
    fn empty_bytes(&mut self) {
        self.length(0, true);
    }
    fn null_bytes(&mut self) {
        self.null(true);
    }
    /// No tagged fields (flexible versions).
    fn tags(&mut self) {
        if self.flexible {
            self.buf.push(0);
        }
    }
}

#[cfg(test)]
mod tests;

//! Partial multi-resource requests (issue #5): for every API the filter splits, at every version it
//! supports, a request naming an allowed and a denied resource reaches the broker with the allowed one only,
//! and the client gets the broker's answer with the denied resource's authorization error spliced in.

mod common;

use std::fmt::Debug;
use std::rc::Rc;

use bytes::Bytes;
use common::{enc, s, topic};
use kafka_mtls_filter::api_table::{lookup, min_version};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::metrics::{RequestDecision, Stat};
use kafka_mtls_filter::session::{Event, Session};
use kafka_mtls_filter::wire;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};

/// Topic `allowed`, group `grp-ok` and transactional id `txn-ok` may do everything; nothing else is allowed.
const POLICY: &str = r#"{
  "identity": {"unauthenticated": "anonymous"},
  "authorization": {"mode": "enforce", "users": [
    {"principal": "User:ANONYMOUS", "acls": [
      {"resource": {"type": "topic", "name": "allowed"}, "operations": ["All"]},
      {"resource": {"type": "group", "name": "grp-ok"}, "operations": ["All"]},
      {"resource": {"type": "transactionalId", "name": "txn-ok"}, "operations": ["All"]}
    ]}
  ]}
}"#;

const CORRELATION_ID: i32 = 77;

fn session() -> Session {
    let cfg = Config::parse(POLICY.as_bytes()).expect("valid config");
    let mut s = Session::new(Rc::new(cfg), Some("127.0.0.1:5000"));
    s.identify(&PeerInfo::default(), 0).expect("anonymous allowed");
    s
}

fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let max = lookup(key as i16).map(|e| e.max_version).unwrap_or(-1);
    min_version(key as i16)..=max
}

fn downstream(s: &mut Session, bytes: &[u8]) -> Vec<u8> {
    let out = s.on_downstream(bytes);
    assert_eq!(out.close, None);
    apply_edits(bytes, &out.edits)
}

fn decode_request<T: Decodable>(key: ApiKey, v: i16, frame: &[u8]) -> T {
    let mut body = Bytes::copy_from_slice(&frame[4..]);
    let header = RequestHeader::decode(&mut body, key.request_header_version(v)).expect("request header");
    assert_eq!((header.request_api_key, header.request_api_version), (key as i16, v));
    assert_eq!(header.correlation_id, CORRELATION_ID);
    T::decode(&mut body, v).expect("forwarded request decodes")
}

fn decode_response<T: Decodable>(key: ApiKey, v: i16, frame: &[u8]) -> T {
    assert_eq!(&frame[4..8], &CORRELATION_ID.to_be_bytes(), "correlation id");
    let size = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(size + 4, frame.len(), "one whole frame");
    let mut body = Bytes::copy_from_slice(&frame[wire::response_body_offset(key as i16, v)..]);
    let decoded = T::decode(&mut body, v).expect("response decodes");
    assert!(body.is_empty(), "no bytes left after the response");
    decoded
}

/// One splittable API, as the tests drive it.
struct Api<Req, Resp> {
    key: ApiKey,
    /// The request naming these resources.
    request: fn(i16, &[&str]) -> Req,
    /// The resources a request names, in order.
    names: fn(&Req) -> Vec<String>,
    /// The broker's answer for these resources (no error, distinctive values).
    response: fn(i16, &[&str]) -> Resp,
    /// Removes a response's last resource entry: its name and (first) error code.
    pop: fn(&mut Resp) -> Option<(String, i16)>,
    allowed: &'static str,
    denied: &'static str,
    /// A second denied resource (all-denied case).
    denied_too: &'static str,
    code: i16,
}

fn strings<I: IntoIterator<Item = T>, T: AsRef<str>>(names: I) -> Vec<String> {
    names.into_iter().map(|n| n.as_ref().to_string()).collect()
}

fn check<Req, Resp>(api: Api<Req, Resp>)
where
    Req: Encodable + Decodable,
    Resp: Encodable + Decodable + PartialEq + Debug,
{
    let key = api.key;
    let versions = versions(key);
    assert!(!versions.is_empty(), "{key:?} has versions");
    for v in versions {
        let frame = |req: &Req| wire::request_frame(key as i16, v, CORRELATION_ID, Some("test"), &enc(req, v));
        let both = frame(&(api.request)(v, &[api.allowed, api.denied]));

        // Split: only the allowed resource reaches the broker.
        let mut s = session();
        let forwarded = downstream(&mut s, &both);
        let sent: Req = decode_request(key, v, &forwarded);
        assert_eq!((api.names)(&sent), [api.allowed], "{key:?} v{v}: forwarded resources");
        let denials: Vec<_> = s
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Decision(d) if !d.allowed => Some(d.resource_name.unwrap_or_default()),
                _ => None,
            })
            .collect();
        assert_eq!(denials, [api.denied], "{key:?} v{v}: one audit record per denied resource");
        let decisions: Vec<_> = s
            .drain_stats()
            .filter_map(|st| match st {
                Stat::Request { decision, .. } => Some(decision),
                _ => None,
            })
            .collect();
        assert_eq!(decisions, [RequestDecision::Denied], "{key:?} v{v}: counted once, as denied");

        // The broker's answer keeps its entries and fields; the denied resource follows with its error.
        let broker = wire::response_frame(key as i16, v, CORRELATION_ID, &enc(&(api.response)(v, &[api.allowed]), v));
        let out = s.on_upstream(&broker);
        assert_eq!(out.close, None, "{key:?} v{v}");
        let merged_bytes = apply_edits(&broker, &out.edits);
        let mut merged: Resp = decode_response(key, v, &merged_bytes);
        let last = (api.pop)(&mut merged);
        assert_eq!(last, Some((api.denied.to_string(), api.code)), "{key:?} v{v}: denied entry");
        let expected: Resp = decode_response(key, v, &broker);
        assert_eq!(merged, expected, "{key:?} v{v}: broker's answer unchanged");
        assert_eq!(s.inflight_len(), 0);

        // Everything denied: refused whole, as before (ApiVersions in its place).
        let mut s = session();
        let forwarded = downstream(&mut s, &frame(&(api.request)(v, &[api.denied, api.denied_too])));
        assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "{key:?} v{v}: substituted by ApiVersions v0");

        // A malformed broker answer closes the connection (with a reason), whatever the cut.
        let body_at = wire::response_body_offset(key as i16, v);
        for cut in body_at..broker.len() {
            let mut truncated = broker[..cut].to_vec();
            let size = (cut - 4) as u32;
            truncated[..4].copy_from_slice(&size.to_be_bytes());
            let mut s = session();
            downstream(&mut s, &both);
            let out = s.on_upstream(&truncated);
            assert!(out.close.is_some(), "{key:?} v{v}: body cut at {cut} must close");
            assert!(s.take_events().iter().any(|e| matches!(e, Event::ProtocolError(_))));
        }
        // Array counts claiming more elements than bytes.
        for at in body_at..broker.len().saturating_sub(4) {
            let mut bad = broker.clone();
            bad[at..at + 4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
            let mut s = session();
            downstream(&mut s, &both);
            let _ = s.on_upstream(&bad); // closes or forwards something: never panics
        }
    }
}

fn topic_names<'a>(names: impl Iterator<Item = &'a TopicName>) -> Vec<String> {
    strings(names.map(|n| n.as_str()))
}

#[test]
fn list_offsets() {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
    check(Api {
        key: ApiKey::ListOffsets,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    ListOffsetsTopic::default().with_name(topic(n)).with_partitions(vec![
                        ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1),
                    ])
                })
                .collect();
            ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    ListOffsetsTopicResponse::default().with_name(topic(n)).with_partitions(vec![
                        ListOffsetsPartitionResponse::default()
                            .with_partition_index(3)
                            .with_timestamp(11)
                            .with_offset(42),
                    ])
                })
                .collect();
            ListOffsetsResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

#[test]
fn offset_commit() {
    use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
    check(Api {
        key: ApiKey::OffsetCommit,
        request: |_, names| offset_commit_request("grp-ok", names),
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetCommitResponseTopic::default()
                        .with_name(topic(n))
                        .with_partitions(vec![OffsetCommitResponsePartition::default().with_partition_index(2)])
                })
                .collect();
            OffsetCommitResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

fn offset_commit_request(group: &str, names: &[&str]) -> OffsetCommitRequest {
    use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
    let topics = names
        .iter()
        .map(|n| {
            OffsetCommitRequestTopic::default().with_name(topic(n)).with_partitions(vec![
                OffsetCommitRequestPartition::default()
                    .with_partition_index(2)
                    .with_committed_offset(42)
                    .with_committed_metadata(Some(s("meta"))),
            ])
        })
        .collect();
    OffsetCommitRequest::default().with_group_id(GroupId(s(group))).with_member_id(s("member")).with_topics(topics)
}

#[test]
fn offset_commit_with_a_denied_group_is_refused_whole() {
    for v in versions(ApiKey::OffsetCommit) {
        let req = offset_commit_request("grp-no", &["allowed", "forbidden"]);
        let mut s = session();
        let forwarded = downstream(&mut s, &wire::request_frame(8, v, CORRELATION_ID, Some("test"), &enc(&req, v)));
        assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "v{v}: substituted by ApiVersions v0");
    }
}

fn offset_fetch_request(v: i16, groups: &[&str], names: &[&str]) -> OffsetFetchRequest {
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    if v <= 7 {
        let topics = names
            .iter()
            .map(|n| OffsetFetchRequestTopic::default().with_name(topic(n)).with_partition_indexes(vec![0, 1]))
            .collect();
        return OffsetFetchRequest::default().with_group_id(GroupId(s(groups[0]))).with_topics(Some(topics));
    }
    let topics: Vec<_> = names
        .iter()
        .map(|n| OffsetFetchRequestTopics::default().with_name(topic(n)).with_partition_indexes(vec![0, 1]))
        .collect();
    let groups = groups
        .iter()
        .map(|g| OffsetFetchRequestGroup::default().with_group_id(GroupId(s(g))).with_topics(Some(topics.clone())))
        .collect();
    OffsetFetchRequest::default().with_groups(groups)
}

#[test]
fn offset_fetch() {
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    };
    check(Api {
        key: ApiKey::OffsetFetch,
        request: |v, names| offset_fetch_request(v, &["grp-ok"], names),
        names: |r| {
            let mut names = topic_names(r.topics.iter().flatten().map(|t| &t.name));
            for g in &r.groups {
                names.extend(topic_names(g.topics.iter().flatten().map(|t| &t.name)));
            }
            names
        },
        response: |v, names| {
            if v <= 7 {
                let topics = names
                    .iter()
                    .map(|n| {
                        let p = |i| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(i)
                                .with_committed_offset(40 + i as i64)
                                .with_metadata(Some(s("meta")))
                        };
                        OffsetFetchResponseTopic::default().with_name(topic(n)).with_partitions(vec![p(0), p(1)])
                    })
                    .collect();
                return OffsetFetchResponse::default().with_throttle_time_ms(5).with_topics(topics);
            }
            let topics = names
                .iter()
                .map(|n| {
                    let p = |i| {
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(i)
                            .with_committed_offset(40 + i as i64)
                            .with_committed_leader_epoch(3)
                            .with_metadata(Some(s("meta")))
                    };
                    OffsetFetchResponseTopics::default().with_name(topic(n)).with_partitions(vec![p(0), p(1)])
                })
                .collect();
            OffsetFetchResponse::default().with_throttle_time_ms(5).with_groups(vec![
                OffsetFetchResponseGroup::default().with_group_id(GroupId(s("grp-ok"))).with_topics(topics),
            ])
        },
        pop: |r| match r.groups.first_mut() {
            Some(g) => g.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
            None => r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        },
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

#[test]
fn offset_fetch_of_several_groups_or_a_denied_group_is_refused_whole() {
    for v in versions(ApiKey::OffsetFetch) {
        let mut cases = vec![offset_fetch_request(v, &["grp-no"], &["allowed", "forbidden"])];
        if v >= 8 {
            cases.push(offset_fetch_request(v, &["grp-ok", "grp-ok2"], &["allowed", "forbidden"]));
        }
        for req in cases {
            let mut s = session();
            let forwarded = downstream(&mut s, &wire::request_frame(9, v, CORRELATION_ID, Some("test"), &enc(&req, v)));
            assert_eq!(&forwarded[4..8], &[0, 18, 0, 0], "v{v}: substituted by ApiVersions v0");
        }
    }
}

#[test]
fn delete_records() {
    use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
    use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
    check(Api {
        key: ApiKey::DeleteRecords,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    DeleteRecordsTopic::default()
                        .with_name(topic(n))
                        .with_partitions(vec![DeleteRecordsPartition::default().with_partition_index(1).with_offset(9)])
                })
                .collect();
            DeleteRecordsRequest::default().with_topics(topics).with_timeout_ms(1000)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    DeleteRecordsTopicResult::default().with_name(topic(n)).with_partitions(vec![
                        DeleteRecordsPartitionResult::default().with_partition_index(1).with_low_watermark(9),
                    ])
                })
                .collect();
            DeleteRecordsResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.partitions[0].error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

#[test]
fn offset_for_leader_epoch() {
    use kafka_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
    use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
    check(Api {
        key: ApiKey::OffsetForLeaderEpoch,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetForLeaderTopic::default().with_topic(topic(n)).with_partitions(vec![
                        OffsetForLeaderPartition::default().with_partition(0).with_leader_epoch(4),
                    ])
                })
                .collect();
            OffsetForLeaderEpochRequest::default().with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.topic)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    OffsetForLeaderTopicResult::default().with_topic(topic(n)).with_partitions(vec![
                        EpochEndOffset::default().with_partition(0).with_leader_epoch(4).with_end_offset(100),
                    ])
                })
                .collect();
            OffsetForLeaderEpochResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.topic.to_string(), t.partitions[0].error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

#[test]
fn create_topics() {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
    check(Api {
        key: ApiKey::CreateTopics,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    CreatableTopic::default().with_name(topic(n)).with_num_partitions(3).with_replication_factor(1)
                })
                .collect();
            CreateTopicsRequest::default().with_topics(topics).with_timeout_ms(1000)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.name)),
        response: |v, names| {
            let topics = names
                .iter()
                .map(|n| {
                    let mut result = CreatableTopicResult::default().with_name(topic(n));
                    if v >= 5 {
                        result.num_partitions = 3;
                        result.replication_factor = 1;
                    }
                    result
                })
                .collect();
            CreateTopicsResponse::default().with_throttle_time_ms(5).with_topics(topics)
        },
        pop: |r| r.topics.pop().map(|t| (t.name.to_string(), t.error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

#[test]
fn delete_topics() {
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
    check(Api {
        key: ApiKey::DeleteTopics,
        request: |v, names| {
            let request = DeleteTopicsRequest::default().with_timeout_ms(1000);
            if v >= 6 {
                request
                    .with_topics(names.iter().map(|n| DeleteTopicState::default().with_name(Some(topic(n)))).collect())
            } else {
                request.with_topic_names(names.iter().map(|n| topic(n)).collect())
            }
        },
        names: |r| {
            let mut names = topic_names(r.topic_names.iter());
            names.extend(topic_names(r.topics.iter().filter_map(|t| t.name.as_ref())));
            names
        },
        response: |_, names| {
            let responses = names.iter().map(|n| DeletableTopicResult::default().with_name(Some(topic(n)))).collect();
            DeleteTopicsResponse::default().with_throttle_time_ms(5).with_responses(responses)
        },
        pop: |r| r.responses.pop().map(|t| (t.name.map(|n| n.to_string()).unwrap_or_default(), t.error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

#[test]
fn describe_groups() {
    use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
    check(Api {
        key: ApiKey::DescribeGroups,
        request: |_, names| DescribeGroupsRequest::default().with_groups(names.iter().map(|g| GroupId(s(g))).collect()),
        names: |r| strings(r.groups.iter().map(|g| g.as_str())),
        response: |v, names| {
            let groups = names
                .iter()
                .map(|g| {
                    let mut group = DescribedGroup::default()
                        .with_group_id(GroupId(s(g)))
                        .with_group_state(s("Stable"))
                        .with_protocol_type(s("consumer"))
                        .with_protocol_data(s("range"))
                        .with_members(vec![DescribedGroupMember::default()
                            .with_member_id(s("m-1"))
                            .with_client_id(s("client"))
                            .with_client_host(s("/127.0.0.1"))
                            .with_member_metadata(Bytes::from_static(b"metadata"))
                            .with_member_assignment(Bytes::from_static(b"assignment"))]);
                    if v >= 3 {
                        group.authorized_operations = 0x18;
                    }
                    group
                })
                .collect();
            DescribeGroupsResponse::default().with_throttle_time_ms(5).with_groups(groups)
        },
        pop: |r| r.groups.pop().map(|g| (g.group_id.to_string(), g.error_code)),
        allowed: "grp-ok",
        denied: "grp-no",
        denied_too: "grp-secret",
        code: 30,
    });
}

#[test]
fn delete_groups() {
    use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
    check(Api {
        key: ApiKey::DeleteGroups,
        request: |_, names| {
            DeleteGroupsRequest::default().with_groups_names(names.iter().map(|g| GroupId(s(g))).collect())
        },
        names: |r| strings(r.groups_names.iter().map(|g| g.as_str())),
        response: |_, names| {
            let results = names.iter().map(|g| DeletableGroupResult::default().with_group_id(GroupId(s(g)))).collect();
            DeleteGroupsResponse::default().with_throttle_time_ms(5).with_results(results)
        },
        pop: |r| r.results.pop().map(|g| (g.group_id.to_string(), g.error_code)),
        allowed: "grp-ok",
        denied: "grp-no",
        denied_too: "grp-secret",
        code: 30,
    });
}

#[test]
fn describe_transactions() {
    use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
    check(Api {
        key: ApiKey::DescribeTransactions,
        request: |_, names| {
            DescribeTransactionsRequest::default()
                .with_transactional_ids(names.iter().map(|t| TransactionalId(s(t))).collect())
        },
        names: |r| strings(r.transactional_ids.iter().map(|t| t.as_str())),
        response: |_, names| {
            let states = names
                .iter()
                .map(|t| {
                    TransactionState::default()
                        .with_transactional_id(TransactionalId(s(t)))
                        .with_transaction_state(s("Ongoing"))
                        .with_transaction_timeout_ms(60000)
                        .with_transaction_start_time_ms(1234)
                        .with_producer_id(ProducerId(99))
                        .with_producer_epoch(2)
                        .with_topics(vec![TopicData::default()
                            .with_topic(topic("allowed"))
                            .with_partitions(vec![0, 1])])
                })
                .collect();
            DescribeTransactionsResponse::default().with_throttle_time_ms(5).with_transaction_states(states)
        },
        pop: |r| r.transaction_states.pop().map(|t| (t.transactional_id.to_string(), t.error_code)),
        allowed: "txn-ok",
        denied: "txn-no",
        denied_too: "txn-secret",
        code: 53,
    });
}

#[test]
fn consumer_group_describe() {
    use kafka_protocol::messages::consumer_group_describe_response::{
        Assignment, DescribedGroup, Member, TopicPartitions,
    };
    check(Api {
        key: ApiKey::ConsumerGroupDescribe,
        request: |_, names| {
            ConsumerGroupDescribeRequest::default().with_group_ids(names.iter().map(|g| GroupId(s(g))).collect())
        },
        names: |r| strings(r.group_ids.iter().map(|g| g.as_str())),
        response: |_, names| {
            let assignment = Assignment::default().with_topic_partitions(vec![TopicPartitions::default()
                .with_topic_name(topic("allowed"))
                .with_partitions(vec![0, 2])]);
            let groups = names
                .iter()
                .map(|g| {
                    DescribedGroup::default()
                        .with_group_id(GroupId(s(g)))
                        .with_group_state(s("Stable"))
                        .with_group_epoch(3)
                        .with_assignment_epoch(3)
                        .with_assignor_name(s("uniform"))
                        .with_authorized_operations(0x18)
                        .with_members(vec![Member::default()
                            .with_member_id(s("m-1"))
                            .with_rack_id(Some(s("rack-a")))
                            .with_member_epoch(3)
                            .with_client_id(s("client"))
                            .with_client_host(s("/127.0.0.1"))
                            .with_subscribed_topic_names(vec![topic("allowed")])
                            .with_assignment(assignment.clone())
                            .with_target_assignment(assignment.clone())])
                })
                .collect();
            ConsumerGroupDescribeResponse::default().with_throttle_time_ms(5).with_groups(groups)
        },
        pop: |r| r.groups.pop().map(|g| (g.group_id.to_string(), g.error_code)),
        allowed: "grp-ok",
        denied: "grp-no",
        denied_too: "grp-secret",
        code: 30,
    });
}

#[test]
fn produce() {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
    check(Api {
        key: ApiKey::Produce,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    TopicProduceData::default().with_name(topic(n)).with_partition_data(vec![
                        PartitionProduceData::default().with_index(0).with_records(Some(Bytes::from(vec![7u8; 64]))),
                    ])
                })
                .collect();
            ProduceRequest::default().with_acks(-1).with_timeout_ms(1000).with_topic_data(topics)
        },
        names: |r| topic_names(r.topic_data.iter().map(|t| &t.name)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    TopicProduceResponse::default().with_name(topic(n)).with_partition_responses(vec![
                        PartitionProduceResponse::default().with_index(0).with_base_offset(42),
                    ])
                })
                .collect();
            ProduceResponse::default().with_throttle_time_ms(5).with_responses(topics)
        },
        pop: |r| r.responses.pop().map(|t| (t.name.to_string(), t.partition_responses[0].error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

#[test]
fn fetch() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    check(Api {
        key: ApiKey::Fetch,
        request: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    FetchTopic::default().with_topic(topic(n)).with_partitions(vec![FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(5)
                        .with_partition_max_bytes(1 << 20)])
                })
                .collect();
            FetchRequest::default().with_replica_id(BrokerId(-1)).with_max_wait_ms(100).with_topics(topics)
        },
        names: |r| topic_names(r.topics.iter().map(|t| &t.topic)),
        response: |_, names| {
            let topics = names
                .iter()
                .map(|n| {
                    FetchableTopicResponse::default().with_topic(topic(n)).with_partitions(vec![
                        PartitionData::default()
                            .with_partition_index(0)
                            .with_high_watermark(10)
                            .with_records(Some(Bytes::from_static(b"record-batch-bytes"))),
                    ])
                })
                .collect();
            FetchResponse::default().with_throttle_time_ms(5).with_responses(topics)
        },
        pop: |r| r.responses.pop().map(|t| (t.topic.to_string(), t.partitions[0].error_code)),
        allowed: "allowed",
        denied: "forbidden",
        denied_too: "secret",
        code: 29,
    });
}

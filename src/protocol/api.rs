//! The one table of Kafka APIs the filter knows: name, the highest version the filter can parse and
//! rewrite, and what Kafka's authorizer checks for it ("Operations and Resources on Protocols" in Kafka's
//! security documentation, checked against KafkaApis where the two differ).
//!
//! `max_version` is capped
//! - to what kafka-protocol 0.18 decodes and encodes,
//!   (OffsetCommit v10 and OffsetFetch v10, which address topics by id, are beyond it),
//! - below versions whose semantics the filter does not model (AddPartitionsToTxn v4+ is broker-to-broker
//!   batching, InitProducerId v6 is two-phase commit).
//!
//! `-1` marks APIs the filter refuses: delegation tokens (ownership rules need the token store),
//! WriteTxnMarkers and the share-state APIs. The lowest version handled is kafka-protocol's minimum ([`min_version`]).
//!
//! OWNER: kafka-api helper. Interface: `ApiEntry`, `lookup`, `ENTRIES`, `min_version`.

use kafka_protocol::messages::ApiKey;

/// One Kafka API.
#[derive(Debug, Clone, Copy)]
pub struct ApiEntry {
    pub key: i16,
    pub name: &'static str,
    /// Highest request version the filter parses and can answer with an error. ApiVersions responses
    /// are clamped to this, so clients never send a version the filter would have to refuse.
    /// `-1`: the filter cannot handle this API at all (removed from ApiVersions, denied).
    pub max_version: i16,
    /// What Kafka checks, as documentation (e.g. `Write Topic; Write TransactionalId if transactional`).
    pub checks: &'static str,
}

const fn api(key: i16, name: &'static str, max_version: i16, checks: &'static str) -> ApiEntry {
    ApiEntry { key, name, max_version, checks }
}

const NOT_CHECKED: &str = "nothing: Kafka authorizes no handshake, authentication or telemetry request";
const CLUSTER_ACTION: &str = "ClusterAction Cluster (inter-broker or controller request)";

pub static ENTRIES: &[ApiEntry] = &[
    api(0, "Produce", 13, "Write TransactionalId if transactional; Write Topic per topic (v13: by id)"),
    api(1, "Fetch", 18, "Read Topic per topic (v13+: by id); ClusterAction Cluster for a follower (replica_id >= 0)"),
    api(2, "ListOffsets", 10, "Describe Topic per topic"),
    api(3, "Metadata", 13, "Describe Topic per named topic; all topics: none (response filtered)"),
    api(8, "OffsetCommit", 9, "Read Group; Read Topic per topic"),
    api(9, "OffsetFetch", 9, "Describe Group per group; Describe Topic per named topic; all topics: filtered"),
    api(10, "FindCoordinator", 6, "Describe Group or Describe TransactionalId per key (v4+: each key answered)"),
    api(11, "JoinGroup", 9, "Read Group"),
    api(12, "Heartbeat", 4, "Read Group"),
    api(13, "LeaveGroup", 5, "Read Group"),
    api(14, "SyncGroup", 5, "Read Group"),
    api(15, "DescribeGroups", 6, "Describe Group per group; authorizedOperations: the principal's"),
    api(16, "ListGroups", 5, "never refused: lists the groups with Describe Group (every group with Describe Cluster)"),
    api(17, "SaslHandshake", 1, NOT_CHECKED),
    api(18, "ApiVersions", 4, NOT_CHECKED),
    api(19, "CreateTopics", 7, "Create Cluster or Create Topic, per topic; v5+ configs: DescribeConfigs Topic"),
    api(20, "DeleteTopics", 6, "Delete Topic per topic"),
    api(21, "DeleteRecords", 2, "Delete Topic per topic"),
    api(22, "InitProducerId", 5, "Write TransactionalId if set, else IdempotentWrite Cluster or Write on any topic"),
    api(
        23,
        "OffsetForLeaderEpoch",
        4,
        "ClusterAction Cluster or Describe Topic per topic; ClusterAction Cluster for a follower",
    ),
    api(24, "AddPartitionsToTxn", 3, "Write TransactionalId; Write Topic per topic"),
    api(25, "AddOffsetsToTxn", 4, "Write TransactionalId; Read Group"),
    api(26, "EndTxn", 5, "Write TransactionalId"),
    api(27, "WriteTxnMarkers", -1, CLUSTER_ACTION),
    api(28, "TxnOffsetCommit", 5, "Write TransactionalId; Read Group; Read Topic per topic"),
    api(29, "DescribeAcls", 3, "Describe Cluster"),
    api(30, "CreateAcls", 3, "Alter Cluster"),
    api(31, "DeleteAcls", 3, "Alter Cluster"),
    api(32, "DescribeConfigs", 4, "DescribeConfigs Topic/Group, or Cluster for broker configs"),
    api(33, "AlterConfigs", 2, "AlterConfigs Topic/Group, or Cluster for broker configs"),
    api(34, "AlterReplicaLogDirs", -1, "Alter Cluster"),
    api(35, "DescribeLogDirs", 4, "Describe Cluster"),
    api(36, "SaslAuthenticate", 2, NOT_CHECKED),
    api(37, "CreatePartitions", 3, "Alter Topic per topic"),
    api(38, "CreateDelegationToken", -1, "CreateTokens User (owner); delegation token rules"),
    api(39, "RenewDelegationToken", -1, "token owner/renewer rules"),
    api(40, "ExpireDelegationToken", -1, "token owner/renewer rules"),
    api(41, "DescribeDelegationToken", -1, "Describe DelegationToken / DescribeTokens User"),
    api(42, "DeleteGroups", 2, "Delete Group per group"),
    api(43, "ElectLeaders", 2, "Alter Cluster (a denied one answers each partition)"),
    api(44, "IncrementalAlterConfigs", 1, "AlterConfigs Topic/Group, or Cluster for broker configs"),
    api(45, "AlterPartitionReassignments", 1, "Alter Cluster"),
    api(46, "ListPartitionReassignments", 0, "Describe Cluster"),
    api(47, "OffsetDelete", 0, "Delete Group; Read Topic per topic (the group asked even with every topic denied)"),
    api(48, "DescribeClientQuotas", 1, "DescribeConfigs Cluster"),
    api(49, "AlterClientQuotas", -1, "AlterConfigs Cluster"),
    api(50, "DescribeUserScramCredentials", 0, "Describe Cluster"),
    api(51, "AlterUserScramCredentials", -1, "Alter Cluster"),
    api(52, "Vote", 2, CLUSTER_ACTION),
    api(53, "BeginQuorumEpoch", 1, CLUSTER_ACTION),
    api(54, "EndQuorumEpoch", 1, CLUSTER_ACTION),
    api(55, "DescribeQuorum", 2, "Describe Cluster"),
    api(56, "AlterPartition", 3, CLUSTER_ACTION),
    api(57, "UpdateFeatures", 2, "Alter Cluster"),
    api(58, "Envelope", 0, CLUSTER_ACTION),
    api(59, "FetchSnapshot", 1, CLUSTER_ACTION),
    api(
        60,
        "DescribeCluster",
        2,
        "nothing; clusterAuthorizedOperations: the principal's with Describe Cluster, else 0",
    ),
    api(61, "DescribeProducers", 0, "Read Topic per topic"),
    api(62, "BrokerRegistration", 4, CLUSTER_ACTION),
    api(63, "BrokerHeartbeat", 1, CLUSTER_ACTION),
    api(64, "UnregisterBroker", 0, "Alter Cluster"),
    api(65, "DescribeTransactions", 0, "Describe TransactionalId per id"),
    api(66, "ListTransactions", 2, "never refused: lists the transactional ids with Describe TransactionalId"),
    api(67, "AllocateProducerIds", 0, CLUSTER_ACTION),
    api(
        68,
        "ConsumerGroupHeartbeat",
        1,
        "Read Group; Describe Topic per subscribed topic; a regex: Describe on every topic it can match",
    ),
    api(69, "ConsumerGroupDescribe", 1, "Describe Group per group; Describe Topic per assigned topic"),
    api(70, "ControllerRegistration", 0, CLUSTER_ACTION),
    api(71, "GetTelemetrySubscriptions", 0, NOT_CHECKED),
    api(72, "PushTelemetry", 0, NOT_CHECKED),
    api(73, "AssignReplicasToDirs", 0, CLUSTER_ACTION),
    api(74, "ListConfigResources", 1, "DescribeConfigs Cluster"),
    api(75, "DescribeTopicPartitions", 0, "Describe Topic per named topic; all topics: none (response filtered)"),
    api(76, "ShareGroupHeartbeat", 1, "Read Group; Describe Topic per subscribed topic"),
    api(77, "ShareGroupDescribe", 1, "Describe Group per group; Describe Topic per assigned topic"),
    api(
        78,
        "ShareFetch",
        1,
        "Read Group; Read Topic per topic (by id; acknowledgements of a denied topic refused too)",
    ),
    api(79, "ShareAcknowledge", 1, "Read Group; Read Topic per topic (by id)"),
    api(80, "AddRaftVoter", 0, "Alter Cluster"),
    api(81, "RemoveRaftVoter", 0, "Alter Cluster"),
    api(82, "UpdateRaftVoter", 0, CLUSTER_ACTION),
    api(83, "InitializeShareGroupState", -1, CLUSTER_ACTION),
    api(84, "ReadShareGroupState", -1, CLUSTER_ACTION),
    api(85, "WriteShareGroupState", -1, CLUSTER_ACTION),
    api(86, "DeleteShareGroupState", -1, CLUSTER_ACTION),
    api(87, "ReadShareGroupStateSummary", -1, CLUSTER_ACTION),
    api(
        90,
        "DescribeShareGroupOffsets",
        0,
        "Describe Group per group; Describe Topic per named topic; all topics: filtered",
    ),
    api(
        91,
        "AlterShareGroupOffsets",
        0,
        "Read Group; Read Topic per topic (the group asked even with every topic denied)",
    ),
    api(
        92,
        "DeleteShareGroupOffsets",
        0,
        "Delete Group; Read Topic per topic (the group asked even with every topic denied)",
    ),
];

/// Why the filter refuses each API it refuses (`max_version == -1`), for the README's table of API keys
/// (`api_table`). Kept apart from `ENTRIES` so that supporting an API is a change of its entry plus the
/// removal of its line here (a test holds the two together).
pub static REFUSALS: &[(i16, &str)] = &[
    (27, "inter-broker: the transaction coordinator sends it to partition leaders; no client does"),
    (34, "an operator's write the filter has no layout for yet: refused rather than forwarded unchecked"),
    (38, DELEGATION_TOKENS),
    (39, DELEGATION_TOKENS),
    (40, DELEGATION_TOKENS),
    (41, DELEGATION_TOKENS),
    (49, "an operator's write the filter has no layout for yet: refused rather than forwarded unchecked"),
    (51, "an operator's write the filter has no layout for yet: refused rather than forwarded unchecked"),
    (83, SHARE_STATE),
    (84, SHARE_STATE),
    (85, SHARE_STATE),
    (86, SHARE_STATE),
    (87, SHARE_STATE),
];

const DELEGATION_TOKENS: &str =
    "Kafka's token rules (owner, renewers, CreateTokens and DescribeTokens on the User) need the broker's token store";
const SHARE_STATE: &str = "inter-broker: the share coordinator's state; no client sends it";

/// Why the filter refuses this API (`None` for an API it handles).
pub fn refusal(key: i16) -> Option<&'static str> {
    REFUSALS.iter().find(|(k, _)| *k == key).map(|(_, why)| *why)
}

pub fn lookup(key: i16) -> Option<&'static ApiEntry> {
    ENTRIES.iter().find(|e| e.key == key)
}

/// Whether the filter reads requests of this API key and version: the key has an entry that is not refused,
/// and the version is within [`min_version`]..=`max_version`. Asked of every request, so answered from a table
/// indexed by key, built once (a search of the entries and two matches over every key cost as much as
/// classifying a Fetch).
pub fn reads(key: i16, version: i16) -> bool {
    usize::try_from(key)
        .ok()
        .and_then(|k| READ_VERSIONS.get(k).copied().flatten())
        .is_some_and(|(min, max)| (min..=max).contains(&version))
}

/// Keys below this have a place in [`READ_VERSIONS`] (Kafka 4.4's highest is 94; a test holds [`ENTRIES`] to it).
const TABLE_KEYS: usize = 128;

/// `(min, max)` version read, by API key; `None`: no entry, or refused.
static READ_VERSIONS: std::sync::LazyLock<[Option<(i16, i16)>; TABLE_KEYS]> = std::sync::LazyLock::new(|| {
    let mut table = [None; TABLE_KEYS];
    for entry in ENTRIES.iter().filter(|e| e.max_version >= 0) {
        if let Some(slot) = usize::try_from(entry.key).ok().and_then(|k| table.get_mut(k)) {
            *slot = Some((min_version(entry.key), entry.max_version));
        }
    }
    table
});

/// Lowest request version the filter handles: kafka-protocol's minimum (older versions were removed in
/// Kafka 4.0 and are refused). `i16::MAX` for an unknown key.
pub fn min_version(key: i16) -> i16 {
    ApiKey::try_from(key).map(|k| k.valid_versions().min).unwrap_or(i16::MAX)
}

/// A human name for an API key (`Produce`, `Fetch`, ... or the number).
pub fn api_name(api_key: i16) -> String {
    match lookup(api_key) {
        Some(e) => e.name.to_string(),
        None => match ApiKey::try_from(api_key) {
            Ok(k) => format!("{k:?}"),
            Err(()) => format!("ApiKey({api_key})"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_table_answers_as_the_entries_do() {
        assert!(ENTRIES.iter().all(|e| usize::try_from(e.key).is_ok_and(|k| k < TABLE_KEYS)));
        for key in -2..(TABLE_KEYS as i16 + 2) {
            for version in -1..25 {
                let expected = lookup(key)
                    .is_some_and(|e| e.max_version >= 0 && version >= min_version(key) && version <= e.max_version);
                assert_eq!(reads(key, version), expected, "key {key} v{version}");
            }
        }
    }

    #[test]
    fn every_kafka_protocol_api_key_has_exactly_one_entry() {
        for key in ApiKey::iter() {
            let entries: Vec<_> = ENTRIES.iter().filter(|e| e.key == key as i16).collect();
            assert_eq!(entries.len(), 1, "{key:?}");
            assert_eq!(entries[0].name, format!("{key:?}"), "name of key {}", key as i16);
        }
    }

    #[test]
    fn every_entry_is_a_kafka_protocol_api_key_within_its_versions() {
        for entry in ENTRIES {
            let key = ApiKey::try_from(entry.key).unwrap_or_else(|_| panic!("{} is not in kafka-protocol", entry.name));
            let range = key.valid_versions();
            assert!(entry.max_version <= range.max, "{} above kafka-protocol", entry.name);
            assert!(entry.max_version == -1 || entry.max_version >= range.min, "{} below minimum", entry.name);
        }
    }

    #[test]
    fn every_refused_api_says_why_and_only_those() {
        for entry in ENTRIES {
            assert_eq!(
                entry.max_version < 0,
                refusal(entry.key).is_some(),
                "{}: refused iff REFUSALS says why",
                entry.name
            );
        }
        for (key, _) in REFUSALS {
            assert!(lookup(*key).is_some(), "REFUSALS names unknown key {key}");
        }
    }

    #[test]
    fn topic_id_versions() {
        // Produce and Fetch by id are decided on learned names (`crate::topic_ids`).
        assert_eq!(lookup(0).map(|e| e.max_version), Some(13));
        assert_eq!(lookup(1).map(|e| e.max_version), Some(18));
        assert_eq!(lookup(8).map(|e| e.max_version), Some(9));
        assert_eq!(lookup(9).map(|e| e.max_version), Some(9));
        assert!(lookup(4).is_none());
    }
}

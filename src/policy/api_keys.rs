//! Kafka API key names as Cilium's `kafka` rules spell them (`apiKey: "fetch"`), and Cilium's roles.

use kafka_protocol::messages::ApiKey;

/// Cilium's names (pkg/policy/api/kafka `APIKeyMap`): lower-case request names, with Kafka's ListOffsets
/// called `offsets` and the broker-internal keys 4..7 that newer Kafka removed.
const CILIUM_API_KEYS: &[(&str, i16)] = &[
    ("produce", 0),
    ("fetch", 1),
    ("offsets", 2),
    ("metadata", 3),
    ("leaderandisr", 4),
    ("stopreplica", 5),
    ("updatemetadata", 6),
    ("controlledshutdown", 7),
    ("offsetcommit", 8),
    ("offsetfetch", 9),
    ("findcoordinator", 10),
    ("joingroup", 11),
    ("heartbeat", 12),
    ("leavegroup", 13),
    ("syncgroup", 14),
    ("describegroups", 15),
    ("listgroups", 16),
    ("saslhandshake", 17),
    ("apiversions", 18),
    ("createtopics", 19),
    ("deletetopics", 20),
    ("deleterecords", 21),
    ("initproducerid", 22),
    ("offsetforleaderepoch", 23),
    ("addpartitionstotxn", 24),
    ("addoffsetstotxn", 25),
    ("endtxn", 26),
    ("writetxnmarkers", 27),
    ("txnoffsetcommit", 28),
    ("describeacls", 29),
    ("createacls", 30),
    ("deleteacls", 31),
    ("describeconfigs", 32),
    ("alterconfigs", 33),
];

/// Cilium's `produce` role (PortRule.GetAPIKeys): Produce, Metadata, ApiVersions.
pub const PRODUCE_ROLE_KEYS: &[i16] = &[0, 3, 18];

/// Cilium's `consume` role (PortRule.GetAPIKeys): Fetch, ListOffsets ("offsets"), Metadata, OffsetCommit,
/// OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ApiVersions.
pub const CONSUME_ROLE_KEYS: &[i16] = &[1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18];

/// The API key named `name`, case-insensitively: Cilium's spelling first, then any request kafka-protocol
/// knows, by its Kafka name without separators (`listoffsets`, `describecluster`, `ListOffsets`).
pub fn api_key_by_name(name: &str) -> Option<i16> {
    let wanted: String = name.chars().filter(|c| !matches!(c, '_' | '-')).collect::<String>().to_ascii_lowercase();
    if let Some((_, key)) = CILIUM_API_KEYS.iter().find(|(known, _)| *known == wanted) {
        return Some(*key);
    }
    ApiKey::iter().find(|key| format!("{key:?}").to_ascii_lowercase() == wanted).map(|key| key as i16)
}

/// The name of an API key for messages: Cilium's spelling when it has one, else kafka-protocol's.
pub fn api_key_name(key: i16) -> String {
    if let Some((name, _)) = CILIUM_API_KEYS.iter().find(|(_, known)| *known == key) {
        return (*name).to_string();
    }
    match ApiKey::try_from(key) {
        Ok(api) => format!("{api:?}").to_ascii_lowercase(),
        Err(()) => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_cilium_and_kafka() {
        assert_eq!(api_key_by_name("produce"), Some(0));
        assert_eq!(api_key_by_name("Fetch"), Some(1));
        assert_eq!(api_key_by_name("offsets"), Some(2));
        assert_eq!(api_key_by_name("ListOffsets"), Some(2));
        assert_eq!(api_key_by_name("apiversions"), Some(18));
        assert_eq!(api_key_by_name("DescribeCluster"), Some(60));
        assert_eq!(api_key_by_name("INIT_PRODUCER_ID"), Some(22));
        assert_eq!(api_key_by_name("fetchh"), None);
        assert_eq!(api_key_name(2), "offsets");
        assert_eq!(api_key_name(60), "describecluster");
        assert_eq!(api_key_name(-3), "-3");
    }
}

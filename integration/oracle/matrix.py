"""The oracle's matrix: ACL sets and client actions, generated from a seed.

A case is (ACL set, client certificate, client address, action); an action is one or more Kafka requests given as
JSON in the field names of Kafka's message schemas (the Java driver encodes them). Every resource name is written
with the `@` namespace marker: the runner replaces it with `a.` for path A (Kafka's SSL listener) and `b.` for
path B (Envoy + filter), so both paths run the same sequence on the same cluster without touching each other's
topics, groups and transactional ids; the ACLs are written the same way (`@orders` literal, `@ord` prefixed, `*`).

`generate(seed, ...)` is deterministic: the same seed gives the same ACL sets and cases (ids `<phase>.<set>.<n>`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pki

# Resources. Existing topics are created (namespaced) before the cases run; the others do not exist.
TOPICS = {"orders": 2, "orders-eu": 1, "payments": 1, "audit": 1}
MISSING_TOPICS = ["orders-new", "logs"]
ALL_TOPIC_NAMES = [*TOPICS, *MISSING_TOPICS]
GROUPS = ["app", "app-eu", "billing"]
TXN_IDS = ["tx", "tx-eu", "billing-tx"]
# Prefixes: each covers some of the names above and not others.
TOPIC_PREFIXES = ["orders", "ord", "pay", "orders-"]
GROUP_PREFIXES = ["app", "bill"]
TXN_PREFIXES = ["tx", "billing"]
HOSTS = ["127.0.0.1", "127.0.0.2"]
CLUSTER = "kafka-cluster"

OPERATIONS = {
    "topic": ["Read", "Write", "Create", "Describe", "Delete", "Alter", "DescribeConfigs", "AlterConfigs", "All"],
    "group": ["Read", "Describe", "Delete", "All"],
    "transactionalId": ["Describe", "Write", "All"],
    "cluster": ["Create", "ClusterAction", "DescribeConfigs", "AlterConfigs", "IdempotentWrite", "Alter",
                "Describe", "All"],
}  # fmt: skip

PRINCIPALS = [client.principal for client in pki.CLIENTS if client.principal != pki.SUPER_USER]

# API keys and the versions the cases use: inside what Apache Kafka 4.4 and the filter (its ApiVersions clamp)
# both serve, and the request shapes below build (the runner checks both sides' ApiVersions before running).
API = {
    "Produce": (0, 3, 12), "Fetch": (1, 4, 12), "ListOffsets": (2, 1, 10), "Metadata": (3, 4, 13),
    "OffsetCommit": (8, 2, 9), "OffsetFetch": (9, 1, 9), "FindCoordinator": (10, 1, 6),
    "DescribeGroups": (15, 0, 5), "ListGroups": (16, 0, 5), "CreateTopics": (19, 2, 7), "DeleteTopics": (20, 1, 6),
    "DeleteRecords": (21, 0, 2), "InitProducerId": (22, 0, 5), "OffsetForLeaderEpoch": (23, 2, 4),
    "AddPartitionsToTxn": (24, 0, 3), "AddOffsetsToTxn": (25, 0, 4), "EndTxn": (26, 0, 4),
    "TxnOffsetCommit": (28, 0, 5), "DescribeConfigs": (32, 1, 4), "AlterConfigs": (33, 0, 2),
    "CreatePartitions": (37, 0, 3), "DeleteGroups": (42, 0, 2), "IncrementalAlterConfigs": (44, 0, 1),
    "OffsetDelete": (47, 0, 0), "DescribeCluster": (60, 0, 1), "DescribeProducers": (61, 0, 0),
    "DescribeTransactions": (65, 0, 0), "ListTransactions": (66, 0, 1), "ConsumerGroupDescribe": (69, 0, 1),
    "DescribeTopicPartitions": (75, 0, 0), "JoinGroup": (11, 4, 9), "Heartbeat": (12, 0, 4),
    "LeaveGroup": (13, 0, 5), "SyncGroup": (14, 0, 5), "DescribeLogDirs": (35, 1, 4), "ElectLeaders": (43, 0, 2),
    "ListPartitionReassignments": (46, 0, 0), "DescribeClientQuotas": (48, 0, 1), "DescribeQuorum": (55, 0, 2),
    "ConsumerGroupHeartbeat": (68, 1, 1), "ShareGroupHeartbeat": (76, 1, 1), "ShareGroupDescribe": (77, 1, 1),
    "ShareFetch": (78, 1, 1), "ShareAcknowledge": (79, 1, 1), "AlterShareGroupOffsets": (91, 0, 0),
    "DeleteShareGroupOffsets": (92, 0, 0), "DescribeShareGroupOffsets": (90, 0, 0),
}  # fmt: skip
API_NAMES = {key: name for name, (key, _, _) in API.items()}


@dataclass(frozen=True)
class Acl:
    principal: str
    resource_type: str  # topic, group, transactionalId, cluster
    name: str  # "@orders", "*", or kafka-cluster
    pattern: str  # literal or prefixed
    operation: str
    permission: str  # allow or deny
    host: str = "*"

    def describe(self) -> str:
        return (f"{self.permission} {self.principal} {self.operation} {self.resource_type}:{self.pattern}:"
                f"{self.name} host={self.host}")  # fmt: skip


@dataclass
class Case:
    id: str
    cert: str
    source: str
    kind: str
    steps: list  # [{"api": key, "version": v, "request": {...}}]; "$pid"/"$epoch" from the last InitProducerId
    # Sent by the super user on the same path before and after the steps, not compared (e.g. a group member).
    setup: list = field(default_factory=list)
    teardown: list = field(default_factory=list)

    def describe(self) -> str:
        apis = ", ".join(f"{API_NAMES[s['api']]} v{s['version']}" for s in self.steps)
        return f"case {self.id}: {self.cert}@{self.source} {self.kind}: {apis}"


@dataclass
class AclSet:
    id: str
    acls: list
    cases: list = field(default_factory=list)


@dataclass
class Phase:
    """One cluster configuration: Kafka's allow.everyone.if.no.acl.found = the filter's allowEveryoneIfNoAclFound."""

    id: str
    allow_everyone: bool
    sets: list


def ns(name: str) -> str:
    return name if name == "*" else "@" + name


# --- ACL sets ---------------------------------------------------------------------------------------------------


def random_acl(rng: random.Random, principal: str) -> Acl:
    rtype = rng.choices(["topic", "group", "transactionalId", "cluster"], [5, 3, 2, 2])[0]
    operation = rng.choice(OPERATIONS[rtype])
    if rtype == "cluster":
        name, pattern = CLUSTER, "literal"
    else:
        names = {"topic": ALL_TOPIC_NAMES, "group": GROUPS, "transactionalId": TXN_IDS}[rtype]
        prefixes = {"topic": TOPIC_PREFIXES, "group": GROUP_PREFIXES, "transactionalId": TXN_PREFIXES}[rtype]
        kind = rng.choices(["literal", "prefixed", "wildcard"], [5, 3, 1])[0]
        if kind == "literal":
            name, pattern = ns(rng.choice(names)), "literal"
        elif kind == "prefixed":
            name, pattern = ns(rng.choice(prefixes)), "prefixed"
        else:
            name, pattern = "*", "literal"
    permission = "deny" if rng.random() < 0.18 else "allow"
    host = rng.choices(["*", *HOSTS], [8, 1, 1])[0]
    return Acl(principal, rtype, name, pattern, operation, permission, host)


def random_acl_set(rng: random.Random, set_id: str) -> AclSet:
    acls: list[Acl] = []
    active = rng.sample(PRINCIPALS, rng.randint(2, len(PRINCIPALS)))
    for principal in active:
        for _ in range(rng.randint(2, 7)):
            acls.append(random_acl(rng, principal))
    for _ in range(rng.choice([0, 0, 1, 2])):
        acls.append(random_acl(rng, "User:*"))
    # Kafka's authorizer stores each binding once; so does the comparison.
    unique = list(dict.fromkeys(acls))
    return AclSet(set_id, unique)


# --- actions ----------------------------------------------------------------------------------------------------


def _version(rng: random.Random, api: str, low: int | None = None, high: int | None = None) -> int:
    _, lo, hi = API[api]
    return rng.randint(max(lo, low if low is not None else lo), min(hi, high if high is not None else hi))


def _step(api: str, version: int, request: dict) -> dict:
    return {"api": API[api][0], "version": version, "request": request}


def _topics(rng: random.Random, k_max: int = 2, existing_only: bool = False) -> list[str]:
    pool = list(TOPICS) if existing_only else ALL_TOPIC_NAMES
    return rng.sample(pool, rng.randint(1, k_max))


def _partitions(name: str) -> list[int]:
    return list(range(TOPICS.get(name, 1)))


def act_metadata(rng):
    v = _version(rng, "Metadata")
    names = None if rng.random() < 0.35 else _topics(rng, 3)
    request = {"topics": None if names is None else [{"name": ns(n)} for n in names],
               "allowAutoTopicCreation": rng.random() < 0.3,
               "includeTopicAuthorizedOperations": v >= 8 and rng.random() < 0.6,
               "includeClusterAuthorizedOperations": 8 <= v <= 10 and rng.random() < 0.5}  # fmt: skip
    return [_step("Metadata", v, request)]


def act_produce(rng):
    v = _version(rng, "Produce")
    topics = [{"name": ns(n), "partitionData": [{"index": 0, "records": {"values": ["x"]}}]} for n in _topics(rng)]
    return [_step("Produce", v, {"acks": rng.choice([1, -1]), "timeoutMs": 5000, "topicData": topics})]


def act_idempotent_produce(rng):
    v = _version(rng, "InitProducerId")
    steps = [_step("InitProducerId", v, {"transactionalId": None, "transactionTimeoutMs": 60000})]
    topics = [
        {
            "name": ns(n),
            "partitionData": [
                {
                    "index": 0,
                    "records": {"values": ["i"], "producerId": "$pid", "producerEpoch": "$epoch", "baseSequence": 0},
                }
            ],
        }
        for n in _topics(rng, 1, True)
    ]
    steps.append(_step("Produce", _version(rng, "Produce"), {"acks": -1, "timeoutMs": 5000, "topicData": topics}))
    return steps


def act_fetch(rng):
    v = _version(rng, "Fetch")
    topics = [{"topic": ns(n), "partitions": [{"partition": p, "fetchOffset": 0, "partitionMaxBytes": 65536}
                                             for p in _partitions(n)]} for n in _topics(rng)]  # fmt: skip
    return [_step("Fetch", v, {"maxWaitMs": 0, "minBytes": 0, "maxBytes": 1048576, "topics": topics})]


def act_list_offsets(rng):
    v = _version(rng, "ListOffsets")
    topics = [{"name": ns(n), "partitions": [{"partitionIndex": 0, "timestamp": rng.choice([-1, -2])}]}
              for n in _topics(rng)]  # fmt: skip
    return [_step("ListOffsets", v, {"replicaId": -1, "topics": topics})]


def act_offset_commit(rng):
    v = _version(rng, "OffsetCommit")
    topics = [{"name": ns(n), "partitions": [{"partitionIndex": 0, "committedOffset": 0}]} for n in _topics(rng)]
    return [_step("OffsetCommit", v, {"groupId": ns(rng.choice(GROUPS)), "generationIdOrMemberEpoch": -1,
                                      "memberId": "", "topics": topics})]  # fmt: skip


def act_offset_fetch(rng):
    v = _version(rng, "OffsetFetch")

    def topics():
        if v >= 2 and rng.random() < 0.4:
            return None
        return [{"name": ns(n), "partitionIndexes": [0]} for n in _topics(rng)]

    if v <= 7:
        request = {"groupId": ns(rng.choice(GROUPS)), "topics": topics()}
    else:
        groups = rng.sample(GROUPS, rng.randint(1, 2))
        request = {"groups": [{"groupId": ns(g), "memberEpoch": -1, "topics": topics()} for g in groups]}
    return [_step("OffsetFetch", v, request)]


def act_find_coordinator(rng):
    v = _version(rng, "FindCoordinator")
    key_type = rng.choice([0, 1])
    names = GROUPS if key_type == 0 else TXN_IDS
    if v <= 3:
        return [_step("FindCoordinator", v, {"key": ns(rng.choice(names)), "keyType": key_type})]
    keys = [ns(n) for n in rng.sample(names, rng.randint(1, 2))]
    return [_step("FindCoordinator", v, {"keyType": key_type, "coordinatorKeys": keys})]


def act_describe_groups(rng):
    v = _version(rng, "DescribeGroups")
    groups = [ns(g) for g in rng.sample(GROUPS, rng.randint(1, 2))]
    return [
        _step("DescribeGroups", v, {"groups": groups, "includeAuthorizedOperations": v >= 3 and rng.random() < 0.6})
    ]


def act_list_groups(rng):
    return [_step("ListGroups", _version(rng, "ListGroups"), {})]


def act_delete_groups(rng):
    return [_step("DeleteGroups", _version(rng, "DeleteGroups"), {"groupsNames": [ns(rng.choice(GROUPS))]})]


def act_offset_delete(rng):
    topics = [{"name": ns(n), "partitions": [{"partitionIndex": 0}]} for n in _topics(rng)]
    return [_step("OffsetDelete", 0, {"groupId": ns(rng.choice(GROUPS)), "topics": topics})]


def act_create_topics(rng):
    v = _version(rng, "CreateTopics")
    topics = [{"name": ns(n), "numPartitions": 1, "replicationFactor": 1, "assignments": [], "configs": []}
              for n in _topics(rng)]  # fmt: skip
    return [_step("CreateTopics", v, {"topics": topics, "timeoutMs": 5000, "validateOnly": True})]


def act_delete_topics(rng):
    v = _version(rng, "DeleteTopics")
    names = [ns(n) for n in _topics(rng, 1)]
    if v <= 5:
        return [_step("DeleteTopics", v, {"topicNames": names, "timeoutMs": 5000})]
    return [_step("DeleteTopics", v, {"topics": [{"name": n} for n in names], "timeoutMs": 5000})]


def act_create_partitions(rng):
    v = _version(rng, "CreatePartitions")
    topics = [{"name": ns(n), "count": 3, "assignments": None} for n in _topics(rng)]
    return [_step("CreatePartitions", v, {"topics": topics, "timeoutMs": 5000, "validateOnly": True})]


def _config_resources(rng, with_broker: bool = True, with_group: bool = False):
    resources = [(2, ns(n)) for n in _topics(rng, 2)]
    if with_broker and rng.random() < 0.4:
        resources.append((4, "1"))
    if with_group and rng.random() < 0.4:
        resources.append((32, ns(rng.choice(GROUPS))))
    if with_group and rng.random() < 0.2:
        resources.append((8, "1"))  # BROKER_LOGGER
    return resources


GROUP_CONFIG = "consumer.session.timeout.ms"


def act_describe_configs(rng):
    v = _version(rng, "DescribeConfigs")
    resources = []
    for rtype, name in _config_resources(rng, with_group=True):
        keys = {2: ["retention.ms", "cleanup.policy"], 4: ["num.partitions", "log.retention.hours"],
                32: [GROUP_CONFIG], 8: ["kafka.server.ReplicaManager"]}[rtype]  # fmt: skip
        resources.append({"resourceType": rtype, "resourceName": name, "configurationKeys": keys})
    return [_step("DescribeConfigs", v, {"resources": resources, "includeSynonyms": rng.random() < 0.5})]


def act_alter_configs(rng):
    v = _version(rng, "AlterConfigs")
    resources = []
    for rtype, name in _config_resources(rng):
        config = (
            {"name": "retention.ms", "value": "3600000"}
            if rtype == 2
            else {"name": "log.cleaner.threads", "value": "1"}
        )
        resources.append({"resourceType": rtype, "resourceName": name, "configs": [config]})
    return [_step("AlterConfigs", v, {"resources": resources, "validateOnly": True})]


def act_incremental_alter_configs(rng):
    v = _version(rng, "IncrementalAlterConfigs")
    resources = []
    for rtype, name in _config_resources(rng, with_group=True):
        config = {2: {"name": "retention.ms", "configOperation": 0, "value": "3600000"},
                  4: {"name": "log.cleaner.threads", "configOperation": 0, "value": "1"},
                  32: {"name": GROUP_CONFIG, "configOperation": 0, "value": "45000"},
                  8: {"name": "kafka.server.ReplicaManager", "configOperation": 0, "value": "INFO"}}[rtype]  # fmt: skip
        resources.append({"resourceType": rtype, "resourceName": name, "configs": [config]})
    return [_step("IncrementalAlterConfigs", v, {"resources": resources, "validateOnly": True})]


def act_init_producer_id(rng):
    v = _version(rng, "InitProducerId")
    txn = None if rng.random() < 0.5 else ns(rng.choice(TXN_IDS))
    return [_step("InitProducerId", v, {"transactionalId": txn, "transactionTimeoutMs": 60000})]


def act_transaction(rng):
    """A transactional producer's whole exchange: each step is compared, whatever the earlier ones answered."""
    txn = ns(rng.choice(TXN_IDS))
    group = ns(rng.choice(GROUPS))
    names = _topics(rng, 2, existing_only=True)
    steps = [
        _step(
            "InitProducerId", _version(rng, "InitProducerId"), {"transactionalId": txn, "transactionTimeoutMs": 60000}
        )
    ]
    add_v = _version(rng, "AddPartitionsToTxn")
    steps.append(_step("AddPartitionsToTxn", add_v, {
        "v3AndBelowTransactionalId": txn, "v3AndBelowProducerId": "$pid", "v3AndBelowProducerEpoch": "$epoch",
        "v3AndBelowTopics": [{"name": ns(n), "partitions": [0]} for n in names]}))  # fmt: skip
    records = {
        "values": ["t"],
        "producerId": "$pid",
        "producerEpoch": "$epoch",
        "baseSequence": 0,
        "transactional": True,
    }
    producer = {"transactionalId": txn, "producerId": "$pid", "producerEpoch": "$epoch"}
    topic_data = [{"name": ns(n), "partitionData": [{"index": 0, "records": records}]} for n in names]
    produce = {"transactionalId": txn, "acks": -1, "timeoutMs": 5000, "topicData": topic_data}
    steps.append(_step("Produce", _version(rng, "Produce", high=11), produce))
    if rng.random() < 0.7:
        steps.append(_step("AddOffsetsToTxn", _version(rng, "AddOffsetsToTxn"), {**producer, "groupId": group}))
        offsets = [{"name": ns(n), "partitions": [{"partitionIndex": 0, "committedOffset": 0}]} for n in names]
        commit = {**producer, "groupId": group, "generationId": -1, "memberId": "", "topics": offsets}
        steps.append(_step("TxnOffsetCommit", _version(rng, "TxnOffsetCommit"), commit))
    steps.append(_step("EndTxn", _version(rng, "EndTxn"), {**producer, "committed": rng.random() < 0.5}))
    return steps


def act_delete_records(rng):
    topics = [{"name": ns(n), "partitions": [{"partitionIndex": 0, "offset": 0}]} for n in _topics(rng)]
    return [_step("DeleteRecords", _version(rng, "DeleteRecords"), {"topics": topics, "timeoutMs": 5000})]


def act_describe_producers(rng):
    topics = [{"name": ns(n), "partitionIndexes": [0]} for n in _topics(rng)]
    return [_step("DescribeProducers", 0, {"topics": topics})]


def act_list_transactions(rng):
    return [_step("ListTransactions", _version(rng, "ListTransactions"), {"stateFilters": [], "producerIdFilters": []})]


def act_describe_transactions(rng):
    return [
        _step("DescribeTransactions", 0, {"transactionalIds": [ns(t) for t in rng.sample(TXN_IDS, rng.randint(1, 2))]})
    ]


def act_describe_cluster(rng):
    v = _version(rng, "DescribeCluster")
    return [_step("DescribeCluster", v, {"includeClusterAuthorizedOperations": rng.random() < 0.7})]


def act_describe_topic_partitions(rng):
    return [_step("DescribeTopicPartitions", 0, {"topics": [{"name": ns(n)} for n in _topics(rng, 3)],
                                                 "responsePartitionLimit": 100, "cursor": None})]  # fmt: skip


def act_consumer_group_describe(rng):
    v = _version(rng, "ConsumerGroupDescribe")
    return [_step("ConsumerGroupDescribe", v, {"groupIds": [ns(g) for g in rng.sample(GROUPS, rng.randint(1, 2))],
                                               "includeAuthorizedOperations": rng.random() < 0.5})]  # fmt: skip


def act_offset_for_leader_epoch(rng):
    v = _version(rng, "OffsetForLeaderEpoch")
    topics = [{"topic": ns(n), "partitions": [{"partition": 0, "currentLeaderEpoch": -1, "leaderEpoch": 0}]}
              for n in _topics(rng, 2, existing_only=True)]  # fmt: skip
    return [_step("OffsetForLeaderEpoch", v, {"replicaId": -1, "topics": topics})]


def act_group_membership(rng):
    """A classic consumer's group membership: join (twice: Kafka first hands out a member id), sync, heartbeat,
    leave. `$member` and `$generation` come from the last JoinGroup answer."""
    group = ns(rng.choice(GROUPS))
    join_v = _version(rng, "JoinGroup")
    join = {"groupId": group, "sessionTimeoutMs": 10000, "rebalanceTimeoutMs": 10000, "memberId": "",
            "protocolType": "consumer", "protocols": [{"name": "range", "metadata": ""}]}  # fmt: skip
    steps = [_step("JoinGroup", join_v, join), _step("JoinGroup", join_v, {**join, "memberId": "$member"})]
    sync_v = _version(rng, "SyncGroup")
    sync = {"groupId": group, "generationId": "$generation", "memberId": "$member",
            "assignments": [{"memberId": "$member", "assignment": ""}]}  # fmt: skip
    if sync_v >= 5:
        sync.update(protocolType="consumer", protocolName="range")
    steps.append(_step("SyncGroup", sync_v, sync))
    steps.append(_step("Heartbeat", _version(rng, "Heartbeat"),
                       {"groupId": group, "generationId": "$generation", "memberId": "$member"}))  # fmt: skip
    leave_v = _version(rng, "LeaveGroup")
    if leave_v <= 2:
        steps.append(_step("LeaveGroup", leave_v, {"groupId": group, "memberId": "$member"}))
    else:
        steps.append(_step("LeaveGroup", leave_v, {"groupId": group, "members": [{"memberId": "$member"}]}))
    return steps


def act_describe_log_dirs(rng):
    topics = None if rng.random() < 0.4 else [{"topic": ns(n), "partitions": [0]} for n in _topics(rng, 2, True)]
    return [_step("DescribeLogDirs", _version(rng, "DescribeLogDirs"), {"topics": topics})]


def act_elect_leaders(rng):
    v = _version(rng, "ElectLeaders")
    request = {"topicPartitions": [{"topic": ns(n), "partitions": [0]} for n in _topics(rng, 2, True)],
               "timeoutMs": 5000}  # fmt: skip
    if v >= 1:
        request["electionType"] = 0
    return [_step("ElectLeaders", v, request)]


def act_cluster_describes(rng):
    """Requests that need Describe or DescribeConfigs on the cluster."""
    choice = rng.choice(["reassignments", "quotas", "quorum"])
    if choice == "reassignments":
        return [_step("ListPartitionReassignments", 0, {"timeoutMs": 5000, "topics": None})]
    if choice == "quotas":
        return [
            _step("DescribeClientQuotas", _version(rng, "DescribeClientQuotas"), {"components": [], "strict": False})
        ]
    return [
        _step(
            "DescribeQuorum",
            _version(rng, "DescribeQuorum"),
            {"topics": [{"topicName": "__cluster_metadata", "partitions": [{"partitionIndex": 0}]}]},
        )
    ]


ACTIONS = {
    "metadata": (act_metadata, 8), "produce": (act_produce, 5), "idempotent-produce": (act_idempotent_produce, 3),
    "fetch": (act_fetch, 4), "list-offsets": (act_list_offsets, 3), "offset-commit": (act_offset_commit, 4),
    "offset-fetch": (act_offset_fetch, 4), "find-coordinator": (act_find_coordinator, 2),
    "describe-groups": (act_describe_groups, 3), "list-groups": (act_list_groups, 2),
    "delete-groups": (act_delete_groups, 1), "offset-delete": (act_offset_delete, 1),
    "create-topics": (act_create_topics, 3), "delete-topics": (act_delete_topics, 2),
    "create-partitions": (act_create_partitions, 2), "describe-configs": (act_describe_configs, 3),
    "alter-configs": (act_alter_configs, 2), "incremental-alter-configs": (act_incremental_alter_configs, 2),
    "init-producer-id": (act_init_producer_id, 4), "transaction": (act_transaction, 5),
    "delete-records": (act_delete_records, 2), "describe-producers": (act_describe_producers, 2),
    "list-transactions": (act_list_transactions, 2), "describe-transactions": (act_describe_transactions, 2),
    "describe-cluster": (act_describe_cluster, 1), "describe-topic-partitions": (act_describe_topic_partitions, 2),
    "consumer-group-describe": (act_consumer_group_describe, 1),
    "offset-for-leader-epoch": (act_offset_for_leader_epoch, 1),
    "group-membership": (act_group_membership, 3), "describe-log-dirs": (act_describe_log_dirs, 1),
    "elect-leaders": (act_elect_leaders, 1), "cluster-describes": (act_cluster_describes, 2),
}  # fmt: skip

CERT_WEIGHTS = {"alice": 4, "bob": 3, "carol": 3, "mesh": 3, "admin": 1}


def random_case(rng: random.Random, case_id: str) -> Case:
    kind = rng.choices(list(ACTIONS), [w for _, w in ACTIONS.values()])[0]
    cert = rng.choices(list(CERT_WEIGHTS), list(CERT_WEIGHTS.values()))[0]
    source = rng.choices(HOSTS, [3, 1])[0]
    return Case(case_id, cert, source, kind, ACTIONS[kind][0](rng))


def generate(seed: int, sets_per_phase: int, cases_per_set: int) -> list[Phase]:
    rng = random.Random(seed)
    phases = []
    for phase_id, allow_everyone in (("d", False), ("e", True)):
        sets = []
        for s in range(sets_per_phase):
            acl_set = random_acl_set(rng, f"{phase_id}.{s}")
            acl_set.cases = [random_case(rng, f"{phase_id}.{s}.{n}") for n in range(cases_per_set)]
            sets.append(acl_set)
        phases.append(Phase(phase_id, allow_everyone, sets))
    return phases


# --- curated cases ----------------------------------------------------------------------------------------------
# Hand-written ACL sets, each with the case that shows one rule of Kafka's authorizer (ids `<phase>.c<n>.0`).
# `expect` is "match", or the divergence the filter shows today, precisely (the test marks those xfail(strict)).


@dataclass
class Curated:
    id: str
    allow_everyone: bool
    acls: list
    case: Case
    expect: str


def _acl(principal, rtype, name, op, permission="allow", pattern="literal", host="*"):
    return Acl(principal, rtype, name, pattern, op, permission, host)


ALICE, BOB, CAROL = "User:alice", "User:bob", "User:CN=carol,OU=ops,O=acme"


def _idempotent(version=4):
    return [_step("InitProducerId", version, {"transactionalId": None, "transactionTimeoutMs": 60000})]


def curated() -> list[Curated]:
    c = []

    def add(phase, n, acls, cert, kind, steps, expect, source="127.0.0.1"):
        c.append(
            Curated(f"{phase}.c{n}", phase == "e", acls, Case(f"{phase}.c{n}.0", cert, source, kind, steps), expect)
        )

    # Identity: each certificate's principal, as Kafka's ssl.principal.mapping.rules and the filter derive it, is
    # the one its ACL names (alice: RULE; bob: RULE with /L; carol: DEFAULT; mesh: SPIFFE in the filter, DEFAULT
    # on the DN in Kafka); the other principals' ACLs do not apply to it.
    for n, (cert, principal) in enumerate(
        [("alice", ALICE), ("bob", BOB), ("carol", CAROL), ("mesh", "User:CN=kafka-default")], start=30
    ):
        others = [p for p in (ALICE, BOB, CAROL, "User:CN=kafka-default") if p != principal]
        add(
            "d",
            n,
            [_acl(principal, "topic", "@orders", "Describe")]
            + [_acl(p, "topic", "@payments", "Describe") for p in others],
            cert,
            "metadata",
            [_step("Metadata", 12, {"topics": [{"name": "@orders"}, {"name": "@payments"}]})],
            "match",
        )
    # InitProducerId without a transactional id: Kafka's authorizeByResourceType (Write on any topic).
    add("d", 1, [_acl(ALICE, "topic", "@orders", "Write")], "alice", "init-producer-id", _idempotent(), "match")
    add(
        "d",
        2,
        [_acl(ALICE, "topic", "@orders", "Write"), _acl(ALICE, "topic", "@ord", "Write", "deny", "prefixed")],
        "alice",
        "init-producer-id",
        _idempotent(),
        "match",
    )  # a prefixed deny covering the allow dominates
    add(
        "d",
        3,
        [_acl(ALICE, "topic", "@orders", "Write"), _acl(ALICE, "topic", "*", "Write", "deny")],
        "alice",
        "init-producer-id",
        _idempotent(),
        "match",
    )  # a wildcard deny dominates
    add(
        "d",
        4,
        [_acl(ALICE, "topic", "@orders", "Write", host="127.0.0.2")],
        "alice",
        "init-producer-id",
        _idempotent(),
        "match",
    )  # an allow for another host
    add("d", 5, [_acl("User:*", "topic", "@payments", "Write")], "alice", "init-producer-id", _idempotent(), "match")
    add(
        "d",
        6,
        [_acl(ALICE, "topic", "@ord", "Write", pattern="prefixed"), _acl(ALICE, "topic", "@orders", "Write", "deny")],
        "alice",
        "init-producer-id",
        _idempotent(),
        "match",
    )  # an unrelated (narrower) deny does not dominate
    add(
        "d",
        7,
        [_acl(ALICE, "cluster", CLUSTER, "IdempotentWrite")],
        "alice",
        "init-producer-id",
        _idempotent(2),
        "match",
    )
    # OffsetForLeaderEpoch: Kafka allows it with ClusterAction on the cluster OR Describe on the topic.
    add(
        "d",
        8,
        [_acl(ALICE, "cluster", CLUSTER, "ClusterAction")],
        "alice",
        "offset-for-leader-epoch",
        [
            _step(
                "OffsetForLeaderEpoch",
                4,
                {
                    "replicaId": -1,
                    "topics": [
                        {
                            "topic": "@orders",
                            "partitions": [{"partition": 0, "currentLeaderEpoch": -1, "leaderEpoch": 0}],
                        }
                    ],
                },
            )
        ],
        # Kafka (KafkaApis.handleOffsetForLeaderEpochRequest) authorizes every topic with ClusterAction on the
        # cluster; the filter checked only Describe per topic (29 where Kafka answers 0) until ffc8f75.
        "match",
    )
    # OffsetFetch: a topic the principal may not describe is answered per partition, the group is answered.
    add(
        "d",
        9,
        [_acl(ALICE, "group", "@app", "Describe")],
        "alice",
        "offset-fetch",
        [_step("OffsetFetch", 7, {"groupId": "@app", "topics": [{"name": "@orders", "partitionIndexes": [0]}]})],
        # Kafka (KafkaApis.fetchOffsetsForGroup) answers the group 0 and each denied partition 29; the filter refused
        # the whole request (top-level 29, no topics) until it forwarded the group with no topics.
        "match",
    )
    add(
        "d",
        10,
        [
            _acl(ALICE, "group", "@app", "Describe"),
            _acl(ALICE, "group", "@billing", "Describe"),
            _acl(ALICE, "topic", "@orders", "Describe"),
        ],
        "alice",
        "offset-fetch",
        [
            _step(
                "OffsetFetch",
                8,
                {
                    "groups": [
                        {
                            "groupId": "@app",
                            "memberEpoch": -1,
                            "topics": [{"name": "@orders", "partitionIndexes": [0]}],
                        },
                        {
                            "groupId": "@billing",
                            "memberEpoch": -1,
                            "topics": [{"name": "@payments", "partitionIndexes": [0]}],
                        },
                    ]
                },
            )
        ],
        # OffsetFetch v8+: answered per group and per topic, as Kafka does; the filter refused the whole batch
        # (each group 29, no topics) until it split each group by topic.
        "match",
    )
    # DeleteTopics of a topic that does not exist: Kafka says so to a principal that may Describe it.
    add(
        "d",
        11,
        [_acl(ALICE, "topic", "@logs", "Describe")],
        "alice",
        "delete-topics",
        [_step("DeleteTopics", 5, {"topicNames": ["@logs"], "timeoutMs": 5000})],
        "diverges: Kafka (ControllerApis.deleteTopics) answers UNKNOWN_TOPIC_OR_PARTITION (3) for a missing topic "
        "the principal may Describe, before it checks Delete; the filter answers TOPIC_AUTHORIZATION_FAILED (29)",
    )
    # DeleteTopics with Delete on the cluster (an All ACL on the cluster covers it): Kafka deletes any topic.
    add(
        "d",
        12,
        [_acl(ALICE, "cluster", CLUSTER, "All")],
        "alice",
        "delete-topics",
        [_step("DeleteTopics", 5, {"topicNames": ["@audit"], "timeoutMs": 5000})],
        "match",  # ControllerApis.deleteTopics: Delete on the cluster (All grants it) deletes every topic
    )
    # CreateTopics: Create allowed, DescribeConfigs not: Kafka withholds the new topic's configs.
    add(
        "d",
        13,
        [_acl(ALICE, "topic", "@orders-new", "Create")],
        "alice",
        "create-topics",
        [
            _step(
                "CreateTopics",
                7,
                {
                    "topics": [{"name": "@orders-new", "numPartitions": 1, "replicationFactor": 1}],
                    "timeoutMs": 5000,
                    "validateOnly": True,
                },
            )
        ],
        # Kafka (ControllerApis.createTopics) withholds the new topic's configs without DescribeConfigs on it
        # (topicConfigErrorCode 29, numPartitions and replicationFactor -1, no configs); the filter passed the
        # broker's answer until it did the same.
        "match",
    )
    # Authorized operations: Kafka reports the principal's own; the broker behind the filter sees a super user.
    add(
        "d",
        14,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "metadata",
        [
            _step(
                "Metadata",
                12,
                {
                    "topics": [{"name": "@orders"}],
                    "allowAutoTopicCreation": False,
                    "includeTopicAuthorizedOperations": True,
                },
            )
        ],
        "match",
    )  # topicAuthorizedOperations 256 (Describe) on both since 82c52ed; the broker's 3576 before
    add(
        "d",
        36,
        [_acl(ALICE, "topic", "@orders", "Describe"), _acl(ALICE, "cluster", CLUSTER, "Describe")],
        "alice",
        "metadata",
        [
            _step(
                "Metadata",
                10,
                {
                    "topics": [{"name": "@orders"}],
                    "includeClusterAuthorizedOperations": True,
                    "includeTopicAuthorizedOperations": True,
                },
            )
        ],
        "match",
    )
    add(
        "d",
        37,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "metadata",
        [_step("Metadata", 10, {"topics": [{"name": "@orders"}], "includeClusterAuthorizedOperations": True})],
        # Kafka (KafkaApis.handleTopicMetadataRequest) answers clusterAuthorizedOperations 0 without Describe on
        # the cluster; the filter did answer -2147483648 (the schema's "not asked") for a while.
        "match",
    )
    add(
        "d",
        15,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "describe-cluster",
        [_step("DescribeCluster", 1, {"includeClusterAuthorizedOperations": True})],
        # clusterAuthorizedOperations 0 (no Describe on the cluster) on both; the filter passed the broker's 8096
        # (every cluster operation) until it wrote the principal's.
        "match",
    )
    add(
        "d",
        16,
        [_acl(ALICE, "group", "@app", "Read")],
        "alice",
        "describe-groups",
        [_step("DescribeGroups", 5, {"groups": ["@app"], "includeAuthorizedOperations": True})],
        # authorizedOperations 264 (Read, Describe) on both; the filter passed the broker's 3400 (every group
        # operation) until it wrote the principal's.
        "match",
    )
    add(
        "d",
        17,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "describe-topic-partitions",
        [_step("DescribeTopicPartitions", 0, {"topics": [{"name": "@orders"}], "responsePartitionLimit": 100})],
        "match",
    )  # 256 on both since 82c52ed; the broker's 3576 before
    add(
        "d",
        18,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "describe-transactions",
        [_step("DescribeTransactions", 0, {"transactionalIds": ["@tx"]})],
        # Kafka leaves a refused entry's producerId and producerEpoch at 0; the filter answered -1 for a while.
        "match",
    )
    # allow.everyone.if.no.acl.found = true
    add(
        "e", 1, [_acl(ALICE, "cluster", CLUSTER, "Describe")], "alice", "init-producer-id", _idempotent(), "match"
    )  # no ACL covers the topics: allowed on both since 88601df; CLUSTER_AUTHORIZATION_FAILED before
    add(
        "e",
        2,
        [_acl(ALICE, "cluster", CLUSTER, "Describe")],
        "alice",
        "metadata",
        [_step("Metadata", 12, {"topics": [{"name": "@logs"}], "allowAutoTopicCreation": True})],
        "match",
    )
    add(
        "e",
        3,
        [_acl(BOB, "topic", "@orders", "Write")],
        "alice",
        "produce",
        [
            _step(
                "Produce",
                9,
                {
                    "acks": 1,
                    "timeoutMs": 5000,
                    "topicData": [
                        {"name": "@payments", "partitionData": [{"index": 0, "records": {"values": ["x"]}}]},
                        {"name": "@orders", "partitionData": [{"index": 0, "records": {"values": ["x"]}}]},
                    ],
                },
            )
        ],
        "match",
    )
    # Metadata auto-creation: Kafka checks Create only for the named topics that do not exist.
    add(
        "d",
        19,
        [
            _acl(ALICE, "topic", "@logs", "Create"),
            _acl(ALICE, "topic", "@logs", "Describe"),
            _acl(ALICE, "topic", "@payments", "Describe"),
        ],
        "alice",
        "metadata",
        [_step("Metadata", 12, {"topics": [{"name": "@payments"}, {"name": "@logs"}], "allowAutoTopicCreation": True})],
        AUTO_CREATE_DIVERGENCE,
    )
    # Metadata asking to auto-create a missing topic the principal may Describe but not Create.
    add(
        "d",
        20,
        [_acl(ALICE, "topic", "@logs", "Describe")],
        "alice",
        "metadata",
        [_step("Metadata", 12, {"topics": [{"name": "@logs"}], "allowAutoTopicCreation": True})],
        "diverges: Kafka (KafkaApis.handleTopicMetadataRequest, unauthorizedForCreateTopics) answers "
        "TOPIC_AUTHORIZATION_FAILED (29) for a missing topic the principal may Describe but not Create when "
        "auto-creation is asked; the filter turns auto-creation off and passes the broker's "
        "UNKNOWN_TOPIC_OR_PARTITION (3)",
    )
    # OffsetDelete with every topic denied: Kafka still asks the group coordinator.
    add(
        "d",
        21,
        [_acl(ALICE, "group", "@app", "Delete")],
        "alice",
        "offset-delete",
        [
            _step(
                "OffsetDelete",
                0,
                {"groupId": "@app", "topics": [{"name": "@orders", "partitions": [{"partitionIndex": 0}]}]},
            )
        ],
        # Kafka (KafkaApis.handleOffsetDeleteRequest) still asks the group coordinator (here GROUP_ID_NOT_FOUND, 69)
        # with no topics; the filter refused the request whole (top-level 29) until it did the same.
        "match",
    )
    # OffsetFetch with an allowed and a denied topic: split (controls for the refusals above).
    add(
        "d",
        22,
        [_acl(ALICE, "group", "@app", "Describe"), _acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "offset-fetch",
        [
            _step(
                "OffsetFetch",
                7,
                {
                    "groupId": "@app",
                    "topics": [
                        {"name": "@orders", "partitionIndexes": [0]},
                        {"name": "@payments", "partitionIndexes": [0]},
                    ],
                },
            )
        ],
        "match",
    )
    add(
        "d",
        23,
        [_acl(ALICE, "group", "@app", "Describe"), _acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "offset-fetch",
        [
            _step(
                "OffsetFetch",
                8,
                {
                    "groups": [
                        {
                            "groupId": "@app",
                            "memberEpoch": -1,
                            "topics": [
                                {"name": "@orders", "partitionIndexes": [0]},
                                {"name": "@payments", "partitionIndexes": [0]},
                            ],
                        }
                    ]
                },
            )
        ],
        "match",
    )
    # FindCoordinator v4+ batches keys: Kafka answers each.
    add(
        "d",
        24,
        [_acl(ALICE, "group", "@app", "Describe")],
        "alice",
        "find-coordinator",
        [_step("FindCoordinator", 4, {"keyType": 0, "coordinatorKeys": ["@app", "@billing"]})],
        # Kafka (KafkaApis.getCoordinator) answers each key; the filter refused the whole batch until it split it.
        "match",
    )
    # ElectLeaders without Alter on the cluster.
    add(
        "d",
        25,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "elect-leaders",
        [_step("ElectLeaders", 0, {"topicPartitions": [{"topic": "@orders", "partitions": [0]}], "timeoutMs": 5000})],
        # Kafka (ElectLeadersRequest.getErrorResponse) answers each requested partition 31; the filter's answer had
        # no partitions (so a v0 answer carried no error) until it listed them.
        "match",
    )
    add(
        "d",
        26,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "elect-leaders",
        [
            _step(
                "ElectLeaders",
                2,
                {"electionType": 0, "timeoutMs": 5000, "topicPartitions": [{"topic": "@orders", "partitions": [0]}]},
            )
        ],
        # as d.c25 at v2: the top-level 31 and each partition 31.
        "match",
    )
    add(
        "d",
        27,
        [_acl(ALICE, "topic", "@orders", "Describe")],
        "alice",
        "cluster-describes",
        [_step("DescribeClientQuotas", 1, {"components": [], "strict": False})],
        # Kafka (DescribeClientQuotasRequest.getErrorResponse) sets entries to null; the filter answered an empty
        # array for a while.
        "match",
    )
    # OffsetFetch v8+: two groups, each asking an allowed and a denied topic; one group, its only topic denied.
    add(
        "d",
        34,
        [
            _acl(ALICE, "group", "@app", "Describe"),
            _acl(ALICE, "group", "@billing", "Describe"),
            _acl(ALICE, "topic", "@orders", "Describe"),
        ],
        "alice",
        "offset-fetch",
        [
            _step(
                "OffsetFetch",
                8,
                {
                    "groups": [
                        {
                            "groupId": g,
                            "memberEpoch": -1,
                            "topics": [
                                {"name": "@orders", "partitionIndexes": [0]},
                                {"name": "@payments", "partitionIndexes": [0]},
                            ],
                        }
                        for g in ("@app", "@billing")
                    ]
                },
            )
        ],
        # Kafka answers per partition (@orders 0, @payments 29, groups 0); the filter refused the whole batch until
        # it split each group by topic.
        "match",
    )
    add(
        "d",
        35,
        [_acl(ALICE, "group", "@app", "Describe")],
        "alice",
        "offset-fetch",
        [
            _step(
                "OffsetFetch",
                9,
                {
                    "groups": [
                        {
                            "groupId": "@app",
                            "memberEpoch": -1,
                            "topics": [{"name": "@payments", "partitionIndexes": [0]}],
                        }
                    ]
                },
            )
        ],
        # Kafka answers the group 0 and @payments-0 29; the filter answered the group 29 with no topics until it
        # forwarded the group with no topics.
        "match",
    )
    # InitProducerId under allowEveryone when topics do have ACLs (another principal's, a deny, or IdempotentWrite).
    add("e", 5, [_acl(BOB, "topic", "@orders", "Write")], "alice", "init-producer-id", _idempotent(), "match")
    add("e", 6, [_acl(ALICE, "topic", "*", "Write", "deny")], "alice", "init-producer-id", _idempotent(), "match")
    add(
        "e",
        7,
        [_acl(ALICE, "cluster", CLUSTER, "IdempotentWrite")],
        "alice",
        "init-producer-id",
        _idempotent(),
        "match",
    )
    add(
        "e",
        8,
        [_acl(BOB, "topic", "@orders", "Write", pattern="prefixed")],
        "alice",
        "init-producer-id",
        _idempotent(),
        "match",
    )
    # DeleteTopics under allowEveryone with no ACL on the cluster: Delete on the cluster, every topic.
    add(
        "e",
        9,
        [_acl("User:*", "topic", "@pay", "All", "deny", "prefixed")],
        "alice",
        "delete-topics",
        [_step("DeleteTopics", 6, {"topics": [{"name": "@payments"}], "timeoutMs": 5000})],
        # No ACL on the cluster: under allow.everyone.if.no.acl.found, Delete on the cluster deletes @payments
        # although a User:* deny All covers it (ControllerApis.deleteTopics), in Kafka and in the filter.
        "match",
    )
    # ... and with allowEveryone, an existing topic the principal may not even Describe does not stop it.
    add(
        "e",
        4,
        [_acl(ALICE, "topic", "@pay", "AlterConfigs", pattern="prefixed")],
        "alice",
        "metadata",
        [_step("Metadata", 12, {"topics": [{"name": "@payments"}, {"name": "@logs"}], "allowAutoTopicCreation": True})],
        "match",
    )
    # Topics by id (issue 23): "$id:@name" is the topic's id on each path (the runner looks it up). The filter
    # decides on the names it learned from the broker; an id it has not learned yet is resolved by its own
    # Metadata request and answered UNKNOWN_TOPIC_ID, which the runner retries as clients do.
    fetch_by_id = lambda *names: {"maxWaitMs": 0, "minBytes": 0, "maxBytes": 1048576, "topics": [  # noqa: E731
        {"topicId": f"$id:@{n}", "partitions": [{"partition": 0, "fetchOffset": 0, "partitionMaxBytes": 65536}]}
        for n in names]}  # fmt: skip
    add("d", 60, [_acl(ALICE, "topic", "@orders", "Read")], "alice", "fetch",
        [_step("Fetch", 18, fetch_by_id("orders"))], "match")  # fmt: skip
    add("d", 61, [_acl(ALICE, "topic", "@orders", "Read"), _acl(ALICE, "topic", "@payments", "Describe")], "alice",
        "fetch", [_step("Fetch", 18, fetch_by_id("orders", "payments"))], "match")  # fmt: skip
    add("d", 62, [_acl(ALICE, "topic", "@orders", "Write"), _acl(ALICE, "topic", "@payments", "Describe")], "alice",
        "produce", [_step("Produce", 13, {"acks": -1, "timeoutMs": 5000, "topicData": [
            {"topicId": f"$id:@{n}", "partitionData": [{"index": 0, "records": {"values": ["x"]}}]}
            for n in ("orders", "payments")]})], "match")  # fmt: skip
    add("d", 63, [_acl(ALICE, "topic", "@orders", "Describe")], "alice", "metadata",
        [_step("Metadata", 12, {"topics": [{"topicId": "$id:@orders", "name": None},
                                           {"topicId": "$id:@payments", "name": None}],
                                "allowAutoTopicCreation": False})], "match")  # fmt: skip
    # ... as Kafka's Java admin asks it: the names "" (Kafka ignores the names when ids are given).
    add("d", 66, [_acl(ALICE, "topic", "@orders", "Describe")], "alice", "metadata",
        [_step("Metadata", 13, {"topics": [{"topicId": "$id:@orders", "name": ""},
                                           {"topicId": "$id:@payments", "name": ""}],
                                "allowAutoTopicCreation": False})], "match")  # fmt: skip
    add("d", 64, [_acl(ALICE, "topic", "@orders", "Describe")], "alice", "delete-topics",
        [_step("DeleteTopics", 6, {"topics": [{"topicId": "$id:@audit", "name": None}], "timeoutMs": 5000})],
        "match")  # fmt: skip
    add("d", 65, [_acl(ALICE, "cluster", CLUSTER, "All")], "alice", "delete-topics",
        [_step("DeleteTopics", 6, {"topics": [{"topicId": "$id:@audit", "name": None}], "timeoutMs": 5000})],
        "match")  # fmt: skip
    c.extend(group_protocol_cases())
    c.extend(share_records_cases())
    return c


REGEX_DIVERGENCE = (
    "diverges by design: a regex subscription that could match topics the principal may not Describe (the regex "
    "'@orders-.*' namespaced as 'b.orders-.*' has the literal prefix 'b', and alice may Describe only '@ord*'). "
    "Kafka's coordinator resolves the regex leaving out undescribable topics (GroupMetadataManager."
    "refreshRegularExpressions) and answers 0; the broker behind the filter does not know the principal, so the "
    "filter refuses the regex: INVALID_REQUEST (42) with a message naming the prefix to grant"
)


def _heartbeat(group, member, topics=None, regex=None, epoch=0):
    request = {"groupId": group, "memberId": member, "memberEpoch": epoch, "instanceId": None, "rackId": None,
               "rebalanceTimeoutMs": 10000, "subscribedTopicNames": topics, "subscribedTopicRegex": regex,
               "serverAssignor": None, "topicPartitions": [] if epoch == 0 else None}  # fmt: skip
    return _step("ConsumerGroupHeartbeat", 1, request)


def _share_heartbeat(group, member, topics=None, epoch=0):
    request = {"groupId": group, "memberId": member, "memberEpoch": epoch, "rackId": None,
               "subscribedTopicNames": topics}  # fmt: skip
    return _step("ShareGroupHeartbeat", 1, request)


def group_protocol_cases() -> list[Curated]:
    """Kafka 4's group protocols (KIP-848 ConsumerGroupHeartbeat/ConsumerGroupDescribe, KIP-932
    ShareGroupHeartbeat/ShareGroupDescribe), ids d.c80-d.c91 and e.c80: each member that joins leaves again (epoch -1)
    and the super user deletes the case's groups after it; a described member is joined by the super user (setup)."""
    c = []

    def add(n, acls, kind, steps, expect="match", setup=(), teardown=(), phase="d"):
        # The groups a case made are deleted afterwards: later ListGroups cases must not see them (nor a group
        # only one path made, as a refused regex does).
        groups = sorted({s["request"]["groupId"] for s in [*setup, *steps] if "groupId" in s["request"]})
        cleanup = [*teardown, _step("DeleteGroups", 2, {"groupsNames": groups})]
        case = Case(f"{phase}.c{n}.0", "alice", "127.0.0.1", kind, steps, list(setup), cleanup)
        c.append(Curated(f"{phase}.c{n}", phase == "e", acls, case, expect))

    member = "oracle-member-0001"
    read_group = lambda g: _acl(ALICE, "group", g, "Read")  # noqa: E731
    describe = lambda t: _acl(ALICE, "topic", t, "Describe")  # noqa: E731
    # ConsumerGroupHeartbeat: Read on the group, Describe on every subscribed topic (KafkaApis).
    add(80, [read_group("@cg80"), describe("@orders")], "consumer-group-heartbeat",
        [_heartbeat("@cg80", member, ["@orders"]), _heartbeat("@cg80", member, epoch=-1)])  # fmt: skip
    add(81, [describe("@orders")], "consumer-group-heartbeat",
        [_heartbeat("@cg81", member, ["@orders"])])  # fmt: skip
    add(82, [read_group("@cg82"), describe("@orders")], "consumer-group-heartbeat",
        [_heartbeat("@cg82", member, ["@orders", "@payments"])])  # fmt: skip
    # A regex: Describe on every topic (the literal *) lets the broker's resolution stand; Describe on a prefix
    # does not cover what the namespaced regex can match.
    add(83, [read_group("@cg83"), _acl(ALICE, "topic", "*", "Describe")], "consumer-group-heartbeat",
        [_heartbeat("@cg83", member, regex="@orders-.*"), _heartbeat("@cg83", member, epoch=-1)])  # fmt: skip
    add(84, [read_group("@cg84"), _acl(ALICE, "topic", "@ord", "Describe", pattern="prefixed")],
        "consumer-group-heartbeat",
        [_heartbeat("@cg84", member, regex="@orders-.*"), _heartbeat("@cg84", member, epoch=-1)],
        REGEX_DIVERGENCE)  # fmt: skip
    # Under allow.everyone.if.no.acl.found with no topic ACL at all: every topic is describable, the regex passes.
    add(80, [_acl(BOB, "group", "@other", "Read")], "consumer-group-heartbeat",
        [_heartbeat("@cg80", member, regex="@orders-.*"), _heartbeat("@cg80", member, epoch=-1)], phase="e")  # fmt: skip
    # ConsumerGroupDescribe of a group whose member (joined by the super user) is assigned @orders and @payments.
    joined = [_heartbeat("@cg85", "oracle-admin-member", ["@orders", "@payments"])]
    left = [_heartbeat("@cg85", "oracle-admin-member", epoch=-1)]
    describe_cg85 = [_step("ConsumerGroupDescribe", 1, {"groupIds": ["@cg85", "@cg85-other"],
                                                         "includeAuthorizedOperations": True})]  # fmt: skip
    add(85, [_acl(ALICE, "group", "@cg85", "Describe"), describe("@orders"), describe("@payments")],
        "consumer-group-describe", describe_cg85, setup=joined, teardown=left)  # fmt: skip
    # Only @orders describable: Kafka answers the group TOPIC_AUTHORIZATION_FAILED without members.
    add(86, [_acl(ALICE, "group", "@cg85", "Describe"), describe("@orders")],
        "consumer-group-describe", describe_cg85, setup=joined, teardown=left)  # fmt: skip
    # ShareGroupHeartbeat and ShareGroupDescribe, the same checks.
    add(87, [read_group("@sg87"), describe("@orders")], "share-group-heartbeat",
        [_share_heartbeat("@sg87", member, ["@orders"]), _share_heartbeat("@sg87", member, epoch=-1)])  # fmt: skip
    add(88, [read_group("@sg88")], "share-group-heartbeat",
        [_share_heartbeat("@sg88", member, ["@orders"])])  # fmt: skip
    add(89, [describe("@orders")], "share-group-heartbeat", [_share_heartbeat("@sg89", member, ["@orders"])])
    share_joined = [_share_heartbeat("@sg90", "oracle-admin-member", ["@orders", "@payments"])]
    share_left = [_share_heartbeat("@sg90", "oracle-admin-member", epoch=-1)]
    describe_sg90 = [_step("ShareGroupDescribe", 1, {"groupIds": ["@sg90", "@sg90-other"],
                                                      "includeAuthorizedOperations": True})]  # fmt: skip
    add(90, [_acl(ALICE, "group", "@sg90", "Describe"), describe("@orders"), describe("@payments")],
        "share-group-describe", describe_sg90, setup=share_joined, teardown=share_left)  # fmt: skip
    add(91, [_acl(ALICE, "group", "@sg90", "Describe"), describe("@orders")],
        "share-group-describe", describe_sg90, setup=share_joined, teardown=share_left)  # fmt: skip
    return c


def _share_fetch(group, member, topics, epoch=0, acks=(), partition=7):
    """ShareFetch v1 of one partition of each topic (by id); `acks`: topics whose partition acknowledges offset 0.
    Partition 7, which no topic has: a readable topic's answer is then UNKNOWN_TOPIC_OR_PARTITION on both paths,
    where an existing partition's would depend on when the broker has loaded the share partition's state (its
    fetch answered nothing or -1, its acknowledgement 3 or 121, by timing alone)."""
    batch = [{"firstOffset": 0, "lastOffset": 0, "acknowledgeTypes": [1]}]
    request = {"groupId": group, "memberId": member, "shareSessionEpoch": epoch, "maxWaitMs": 0, "minBytes": 0,
               "maxBytes": 1048576, "maxRecords": 10, "batchSize": 10,
               "topics": [{"topicId": f"$id:{t}", "partitions": [
                   {"partitionIndex": partition, "acknowledgementBatches": batch if t in acks else []}]} for t in topics],
               "forgottenTopicsData": []}  # fmt: skip
    return _step("ShareFetch", 1, request)


def _share_acknowledge(group, member, topics, epoch, partition=7):
    batch = [{"firstOffset": 0, "lastOffset": 0, "acknowledgeTypes": [1]}]
    request = {"groupId": group, "memberId": member, "shareSessionEpoch": epoch,
               "topics": [{"topicId": f"$id:{t}", "partitions": [{"partitionIndex": partition,
                                                                 "acknowledgementBatches": batch}]}
                          for t in topics]}  # fmt: skip
    return _step("ShareAcknowledge", 1, request)


def share_records_cases() -> list[Curated]:
    """KIP-932's records and offsets, ids d.c92-d.c105: ShareFetch and ShareAcknowledge v1 (Read on the group, Read on
    each topic by id: a refused topic answered per partition, acknowledgements included), AlterShareGroupOffsets and
    DeleteShareGroupOffsets v0 (Read or Delete on the group, Read on each topic), DescribeShareGroupOffsets v0
    (Describe on each group and named topic; all topics narrowed to the describable ones). A share session a case opens is
    closed (final epoch -1); the case's groups are deleted afterwards by the super user."""
    c = []

    def add(n, acls, kind, steps, expect="match", setup=()):
        groups = sorted({s["request"]["groupId"] for s in [*setup, *steps] if "groupId" in s["request"]})
        cleanup = [_step("DeleteGroups", 2, {"groupsNames": groups})]
        case = Case(f"d.c{n}.0", "alice", "127.0.0.1", kind, steps, list(setup), cleanup)
        c.append(Curated(f"d.c{n}", False, acls, case, expect))

    member = "oracle-share-member-1"
    read = lambda kind, name: _acl(ALICE, kind, name, "Read")  # noqa: E731
    # Allowed: a session opened, then closed.
    add(92, [read("group", "@sf92"), read("topic", "@orders")], "share-fetch",
        [_share_fetch("@sf92", member, ["@orders"]), _share_fetch("@sf92", member, ["@orders"], epoch=-1)])  # fmt: skip
    # The group refused: GROUP_AUTHORIZATION_FAILED at top level.
    add(93, [read("topic", "@orders")], "share-fetch", [_share_fetch("@sf93", member, ["@orders"])])
    # One topic not readable (only describable): its partitions TOPIC_AUTHORIZATION_FAILED, the acknowledgements of
    # the whole request with it; the other topic fetched. Then acknowledged in the session (ShareAcknowledge), and
    # the session closed.
    partial = [read("group", "@sf94"), read("topic", "@orders"), _acl(ALICE, "topic", "@payments", "Describe")]
    add(94, partial, "share-fetch",
        [_share_fetch("@sf94", member, ["@orders", "@payments"]),
         _share_fetch("@sf94", member, ["@orders", "@payments"], epoch=1, acks=("@orders", "@payments")),
         _share_acknowledge("@sf94", member, ["@orders", "@payments"], epoch=2),
         _share_fetch("@sf94", member, [], epoch=-1)])  # fmt: skip
    # Every topic refused: the request still reaches the broker (the share session moves on), each topic answered.
    add(100, [read("group", "@sf100"), _acl(ALICE, "topic", "@payments", "Describe")], "share-fetch",
        [_share_fetch("@sf100", member, ["@payments"]), _share_fetch("@sf100", member, ["@payments"], epoch=1),
         _share_fetch("@sf100", member, [], epoch=-1)])  # fmt: skip
    # ShareAcknowledge with the group refused.
    add(95, [read("topic", "@orders")], "share-acknowledge", [_share_acknowledge("@sf95", member, ["@orders"], 1)])
    alter = lambda group, topics: _step("AlterShareGroupOffsets", 0, {  # noqa: E731
        "groupId": group, "topics": [{"topicName": t, "partitions": [{"partitionIndex": 0, "startOffset": 0}]}
                                     for t in topics]})  # fmt: skip
    delete = lambda group, topics: _step("DeleteShareGroupOffsets", 0, {  # noqa: E731
        "groupId": group, "topics": [{"topicName": t} for t in topics]})  # fmt: skip
    # Kafka names a refused topic's id in AlterShareGroupOffsets: the filter answers the id it learned, so the case
    # lets it learn it first (Metadata, alice may Describe @payments).
    learn = _step("Metadata", 12, {"topics": [{"topicId": "AAAAAAAAAAAAAAAAAAAAAA", "name": "@payments"}], "allowAutoTopicCreation": False,
                                   "includeTopicAuthorizedOperations": False})  # fmt: skip
    add(96, [read("group", "@sf96"), read("topic", "@orders"), _acl(ALICE, "topic", "@payments", "Describe")],
        "alter-share-group-offsets", [learn, alter("@sf96", ["@orders", "@payments"])])  # fmt: skip
    add(97, [read("topic", "@orders")], "alter-share-group-offsets", [alter("@sf97", ["@orders"])])
    # The group made by the super user (setup): @orders' offsets deleted, @payments refused (listed first).
    add(98, [_acl(ALICE, "group", "@sf98", "Delete"), read("topic", "@orders")], "delete-share-group-offsets",
        [alter("@sf98", ["@orders"]), delete("@sf98", ["@orders", "@payments"])],
        setup=[alter("@sf98", ["@orders"])])  # fmt: skip
    add(99, [read("group", "@sf99"), read("topic", "@orders")], "delete-share-group-offsets",
        [delete("@sf99", ["@orders"])])  # fmt: skip
    # DescribeShareGroupOffsets: per group (Describe), per named topic (Describe); all topics: the listing narrowed.
    # The group's offsets on @orders and @payments are the super user's (setup).
    describe = lambda groups: _step("DescribeShareGroupOffsets", 0, {"groups": [  # noqa: E731
        {"groupId": g, "topics": None if topics is None else [{"topicName": t, "partitions": [0]} for t in topics]}
        for g, topics in groups]})  # fmt: skip
    offsets = [alter("@sf101", ["@orders", "@payments"])]
    describable = [_acl(ALICE, "group", "@sf101", "Describe"), _acl(ALICE, "topic", "@orders", "Describe")]
    add(101, describable, "describe-share-group-offsets", [describe([("@sf101", None)])], setup=offsets)
    add(102, describable, "describe-share-group-offsets",
        [describe([("@sf101", ["@orders", "@payments"]), ("@sf101-other", ["@orders"])])], setup=offsets)  # fmt: skip
    add(103, [*describable, _acl(ALICE, "topic", "@payments", "Describe")], "describe-share-group-offsets",
        [describe([("@sf101", None), ("@sf101", ["@payments"])])], setup=offsets)  # fmt: skip
    # A group that does not exist, its one named topic refused.
    add(104, [_acl(ALICE, "group", "@sf104", "Describe")], "describe-share-group-offsets",
        [describe([("@sf104", ["@orders"])])])  # fmt: skip
    # Acknowledgements on the readable topic only: Kafka refuses the refused partition's acknowledgement too.
    partial = [read("group", "@sf105"), read("topic", "@orders"), _acl(ALICE, "topic", "@payments", "Describe")]
    add(105, partial, "share-fetch",
        [_share_fetch("@sf105", member, ["@orders", "@payments"]),
         _share_fetch("@sf105", member, ["@orders", "@payments"], epoch=1, acks=("@orders",)),
         _share_fetch("@sf105", member, [], epoch=-1)])  # fmt: skip
    return c


AUTO_CREATE_DIVERGENCE = (
    "diverges (side effect): a Metadata request with allowAutoTopicCreation naming an existing topic the principal "
    "may Describe but not Create (@payments) and a missing one it may Create (@logs): Kafka "
    "(KafkaApis.handleTopicMetadataRequest) checks Create only for the topics that do not exist and creates @logs; "
    "the filter turns auto-creation off for the whole forwarded request, so @logs is never created (both answers "
    "say UNKNOWN_TOPIC_OR_PARTITION at once)"
)

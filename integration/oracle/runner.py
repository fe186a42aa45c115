"""The differential oracle: every case of the matrix (matrix.py) runs two ways on the same Apache Kafka node,

  A  straight to Kafka's SSL listener (ssl.client.auth=required, ssl.principal.mapping.rules = the filter's
     mapping rules), Kafka's StandardAuthorizer deciding, the ACLs created through Kafka's Admin API;
  B  through Envoy + the filter (the same ACLs as the filter's `authorization.users[].acls`) to a PLAINTEXT
     listener of that node, where the broker sees User:ANONYMOUS, a super user,

and the two answers are compared per request after normalising what legitimately differs (see `normalise`).

With the project's venv python ($KMF_CACHE/venv/bin/python, as integration/setup.sh makes it):

    runner.py                           the fixed subset and the curated cases (what test_oracle.py runs)
    runner.py --full                    the whole matrix; prints the tables (--results FILE: also as Markdown)
    runner.py --full --only e.3.12      replay one case: its ACL set, that case alone, on a fresh cluster
    runner.py --full --set e.3          one ACL set, all its cases in order
    runner.py --seed 7 --full --list    print the ACL sets and cases of another seed, run nothing

Every divergence is printed with the seed, the case id, the ACLs of the case's principal and the differences;
each differing request is written whole (request, both normalised answers) to <run dir>/divergences.jsonl, every
request to steps.jsonl (run dir: integration/.run/oracle-subset or oracle-full).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import driver as driver_mod  # noqa: E402
import harness  # noqa: E402
import kafka_broker  # noqa: E402
import matrix  # noqa: E402
import pki  # noqa: E402

DEFAULT_SEED = 19
SUBSET = {"seed": DEFAULT_SEED, "sets_per_phase": 2, "cases_per_set": 15}
FULL = {"seed": DEFAULT_SEED, "sets_per_phase": 8, "cases_per_set": 40}
SIDES = {"A": "a.", "B": "b."}
# Transient errors, retried (the same way on both paths) until the answer settles: a coordinator loading, a
# transaction's markers still being written, a recreated topic's leader not elected yet.
RETRIABLE = {5, 6, 14, 15, 16, 51}
RETRIES = 25
FAKE_PRODUCER_ID = 424242


class OracleError(RuntimeError):
    pass


# --- normalisation ----------------------------------------------------------------------------------------------

# Values that differ between two runs of the same sequence for reasons that are not authorization: allocated
# ids, offsets and times (compared as "set or not"), messages (the broker's text), ports (each path's own).
DROP_KEYS = {"throttleTimeMs", "errorMessage", "port", "recordsSizeInBytes", "records", "sessionId",
             "abortedTransactions", "preferredReadReplica", "divergingEpoch", "snapshotId", "currentLeader",
             "nodeEndpoints", "leaderEpoch", "leaderId", "replicaNodes", "isrNodes", "offlineReplicas",
             "eligibleLeaderReplicas", "lastKnownElr", "controllerId", "endpoints", "brokers", "coordinatorEpoch",
             "transactionStartTimeMs", "transactionTimeoutMs", "lastTimestamp", "timestamp", "durationFilter"}  # fmt: skip
SET_OR_NOT_KEYS = {"producerEpoch", "offset", "baseOffset", "logStartOffset", "highWatermark",
                   "lastStableOffset", "committedOffset", "lowWatermark", "endOffset", "lastSequence",
                   "currentTxnStartOffset", "logAppendTimeMs", "committedLeaderEpoch", "generationId"}  # fmt: skip
NAME_KEYS = ("name", "topic", "groupId", "transactionalId", "resourceName", "key")


def _set_or_not(value):
    return value if not isinstance(value, int) or value <= 0 else "set"


def normalise(node, side: str):
    """The answer with this path's namespace written back as `@`, the other path's entries removed from
    listings, and DROP_KEYS / SET_OR_NOT_KEYS applied."""
    own = SIDES[side]
    other = SIDES["B" if side == "A" else "A"]
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key in DROP_KEYS:
                continue
            if key == "producerId":
                # An allocated id: the first one a cluster hands out is 0.
                result[key] = "id" if isinstance(value, int) and value >= 0 else value
            elif key in SET_OR_NOT_KEYS:
                result[key] = _set_or_not(value)
            elif key == "topicId":
                result[key] = "zero" if value == "AAAAAAAAAAAAAAAAAAAAAA" else "id"
            else:
                result[key] = normalise(value, side)
        return result
    if isinstance(node, list):
        kept = []
        for item in node:
            if isinstance(item, dict) and any(
                isinstance(item.get(k), str) and item[k].startswith(other) for k in NAME_KEYS
            ):
                continue
            if isinstance(item, str) and item.startswith(other):
                continue
            kept.append(normalise(item, side))
        return kept
    if isinstance(node, str) and node.startswith(own):
        return "@" + node[len(own) :]
    return node


def canonical(node):
    """Lists of named entries sorted by name: Kafka builds several answers from hash maps (Produce's topics, the
    controller's config results), so the order of entries carries no meaning to a client."""
    if isinstance(node, dict):
        return {key: canonical(value) for key, value in node.items()}
    if isinstance(node, list):
        items = [canonical(item) for item in node]
        if items and all(isinstance(item, dict) for item in items):
            def key(item):
                name = next((str(item[k]) for k in NAME_KEYS if k in item), "")
                return (name, json.dumps(item, sort_keys=True))

            return sorted(items, key=key)
        if items and all(isinstance(item, (str, int)) for item in items):
            return sorted(items, key=str)
        return items
    return node


def error_codes(node) -> list[int]:
    codes = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "errorCode" and isinstance(value, int):
                codes.append(value)
            else:
                codes.extend(error_codes(value))
    elif isinstance(node, list):
        for item in node:
            codes.extend(error_codes(item))
    return codes


def diff(a, b, path: str = "") -> list[str]:
    """Human-readable differences, at most a few per request."""
    if type(a) is not type(b):
        return [f"{path or '/'}: A={json.dumps(a)[:200]} B={json.dumps(b)[:200]}"]
    if isinstance(a, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}/{key}: A={json.dumps(a.get(key))[:200]} B={json.dumps(b.get(key))[:200]}")
            else:
                out.extend(diff(a[key], b[key], f"{path}/{key}"))
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: A={json.dumps(a)[:300]} B={json.dumps(b)[:300]}"]
        out = []
        for index, (x, y) in enumerate(zip(a, b)):
            out.extend(diff(x, y, f"{path}[{index}]"))
        return out
    return [] if a == b else [f"{path}: A={json.dumps(a)[:200]} B={json.dumps(b)[:200]}"]


# --- known divergences -----------------------------------------------------------------------------------------
# Each divergence the oracle has found, by the first request of a case that differs: (name, test, description).
# A case whose first difference none of these explains is a new divergence.

KNOWN_DIVERGENCES = [
    ("authorized-operations",
     lambda api, d: re.search(r"[aA]uthorizedOperations: ", d),
     "authorized-operations fields (Metadata topicAuthorizedOperations and clusterAuthorizedOperations, "
     "DescribeTopicPartitions, DescribeGroups, DescribeCluster, ConsumerGroupDescribe) carry the broker's answer "
     "for the filter's own connection (a super user on the PLAINTEXT listener: every operation), not the "
     "client principal's"),
    ("offset-for-leader-epoch-cluster-action",
     lambda api, d: api == "OffsetForLeaderEpoch" and re.search(r"/(errorCode: A=0 B=29|endOffset: A=\S+ B=-1)$", d),
     "OffsetForLeaderEpoch: Kafka authorizes every topic with ClusterAction on the cluster, else Describe per "
     "topic; the filter checks only Describe on the topic"),
    ("offset-fetch-refused-whole",
     lambda api, d: api == "OffsetFetch" and re.search(r"(errorCode|/topics): ", d),
     "OffsetFetch: Kafka answers a topic the principal may not Describe per partition (29) and the group with 0; "
     "the filter refuses the request whole (group or top-level errorCode 29, no topics)"),
    ("offset-delete-refused-whole",
     lambda api, d: api == "OffsetDelete" and re.search(r"(errorCode: A=\d+ B=29|/topics: )", d),
     "OffsetDelete with every topic denied: Kafka answers each partition 29 and still asks the group coordinator "
     "(top-level error such as GROUP_ID_NOT_FOUND, or 0); the filter refuses the request whole, top-level 29"),
    ("delete-topics",
     lambda api, d: api == "DeleteTopics" and re.search(r"errorCode: A=(0|3) B=29$", d),
     "DeleteTopics: Kafka answers UNKNOWN_TOPIC_OR_PARTITION for a missing topic the principal may Describe, and "
     "allows every topic with Delete on the cluster (an All ACL on the cluster); the filter answers 29"),
    ("create-topics-configs",
     lambda api, d: api == "CreateTopics" and re.search(
         r"/(configs|topicConfigErrorCode|numPartitions|replicationFactor): ", d),
     "CreateTopics v5+: Kafka withholds a topic's configs without DescribeConfigs on it "
     "(topicConfigErrorCode 29); the filter passes the broker's configs"),
    ("describe-transactions-error-fields",
     lambda api, d: api == "DescribeTransactions" and re.search(r"/producer(Id|Epoch): ", d),
     "DescribeTransactions: the denied entries' producerId/producerEpoch are 0 in Kafka's answer, -1 in the filter's"),
    ("init-producer-id-allow-everyone",
     lambda api, d: api == "InitProducerId" and re.search(r"/(errorCode: A=0 B=31|producerId: A=\S+ B=-1|"
                                                          r"producerEpoch: A=\S+ B=-1)$", d),
     "InitProducerId without a transactional id under allow.everyone.if.no.acl.found: Kafka allows it when no ACL "
     "covers the topics; the filter answers CLUSTER_AUTHORIZATION_FAILED (issue 21 item 1)"),
    ("metadata-create-denied-error",
     lambda api, d: api == "Metadata" and re.search(r"/topics\[\d+\]/errorCode: A=29 B=3$", d),
     "Metadata with allowAutoTopicCreation naming a missing topic the principal may Describe but not Create: "
     "Kafka answers TOPIC_AUTHORIZATION_FAILED (29), the filter UNKNOWN_TOPIC_OR_PARTITION (3)"),
    ("metadata-auto-create",
     lambda api, d: api == "side effects: topics" and re.search(r"/topics/@[^:]+: A=\d+ B=null$", d),
     "Metadata auto-creation: Kafka checks Create only on the named topics that do not exist; the filter turns "
     "auto-creation off when a named topic it forwards lacks Create"),
]  # fmt: skip


def classify(results: list) -> str | None:
    """The known divergences ("+"-joined) that explain every difference of a case's first differing request (later
    requests may differ as a consequence); None when all match; "new" when a difference is not explained."""
    first = next((r for r in results if not r.matched), None)
    if first is None:
        return None
    names = set()
    for line in first.differences:
        name = next((name for name, test, _ in KNOWN_DIVERGENCES if test(first.api, line)), None)
        if name is None:
            return "new"
        names.add(name)
    return "+".join(sorted(names))


# --- policy in both forms ---------------------------------------------------------------------------------------


def filter_config(acls: list, allow_everyone: bool) -> dict:
    users: dict[str, list] = {}
    for acl in acls:
        resource = {"type": acl.resource_type}
        if acl.resource_type != "cluster":
            resource["name"] = acl.name.replace("@", SIDES["B"])
            resource["patternType"] = "prefix" if acl.pattern == "prefixed" else "literal"
        users.setdefault(acl.principal, []).append(
            {"resource": resource, "operations": [acl.operation], "host": acl.host, "type": acl.permission}
        )
    return {
        "identity": {
            "spiffe": {"principal": pki.SPIFFE_TEMPLATE, "trustDomains": ["cluster.local"]},
            "subject": {"mappingRules": pki.MAPPING_RULES},
            "prefer": "spiffe",
            "unauthenticated": "deny",
        },
        "authorization": {
            "mode": "enforce",
            "superUsers": [pki.SUPER_USER],
            "allowEveryoneIfNoAclFound": allow_everyone,
            "users": [{"principal": principal, "acls": entries} for principal, entries in users.items()],
        },
        "observability": {"auditDenied": False},
    }


def kafka_bindings(acls: list):
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    types = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER,
             "transactionalId": ResourceType.TRANSACTIONAL_ID}  # fmt: skip
    operations = {"Read": "READ", "Write": "WRITE", "Create": "CREATE", "Delete": "DELETE", "Alter": "ALTER",
                  "Describe": "DESCRIBE", "ClusterAction": "CLUSTER_ACTION", "DescribeConfigs": "DESCRIBE_CONFIGS",
                  "AlterConfigs": "ALTER_CONFIGS", "IdempotentWrite": "IDEMPOTENT_WRITE", "All": "ALL"}  # fmt: skip
    bindings = []
    for acl in acls:
        bindings.append(AclBinding(
            types[acl.resource_type], acl.name.replace("@", SIDES["A"]),
            ResourcePatternType.PREFIXED if acl.pattern == "prefixed" else ResourcePatternType.LITERAL,
            acl.principal, acl.host, getattr(AclOperation, operations[acl.operation]),
            AclPermissionType.ALLOW if acl.permission == "allow" else AclPermissionType.DENY,
        ))  # fmt: skip
    return bindings


# --- the runner -------------------------------------------------------------------------------------------------


@dataclass
class StepResult:
    case: str
    api: str
    version: int
    matched: bool
    differences: list = field(default_factory=list)
    order_only: bool = False
    a: object = None
    b: object = None


class Oracle:
    def __init__(self, run_dir: Path, log=print):
        self.run_dir = run_dir
        self.log = log
        self.certs = pki.generate(run_dir / "certs")
        self.kafka: kafka_broker.Kafka | None = None
        self.envoy: harness.Envoy | None = None
        self.driver = driver_mod.Driver(run_dir / "driver.log")
        self.results: list[StepResult] = []
        self.cases_run = 0
        self.cases_matched = 0
        self.failed_cases: list[str] = []

    # -- lifecycle --

    def start_cluster(self, allow_everyone: bool) -> None:
        self.stop_cluster()
        certs = self.certs
        self.envoy_port = harness.free_port()
        self.ssl_listener = kafka_broker.Listener("SSL", protocol="SSL", properties={
            "ssl.client.auth": "required",
            "ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(certs / "server.p12"),
            "ssl.keystore.password": pki.PASSWORD.decode(),
            "ssl.truststore.type": "PEM", "ssl.truststore.location": str(certs / "ca.crt"),
            "ssl.principal.mapping.rules": pki.MAPPING_RULES,
        })  # fmt: skip
        self.plain_listener = kafka_broker.Listener("EXTERNAL", advertised_port=self.envoy_port)
        self.kafka = kafka_broker.Kafka(
            self.run_dir / f"kafka-{'e' if allow_everyone else 'd'}",
            [[self.ssl_listener, self.plain_listener]],
            properties={
                "authorizer.class.name": kafka_broker.STANDARD_AUTHORIZER,
                "super.users": pki.SUPER_USER,
                "allow.everyone.if.no.acl.found": str(allow_everyone).lower(),
            },
        )
        self.internal_port = self.kafka.nodes[0].internal_port
        self.driver.connect("admin", self.internal_port)
        for prefix in SIDES.values():
            for name, partitions in matrix.TOPICS.items():
                self.ensure_topic(prefix + name, partitions)
        # The coordinators' internal topics, created and loaded before any case runs.
        for key_type, key in ((0, "warmup"), (1, "warmup")):
            self.admin_request(10, 3, {"key": key, "keyType": key_type}, settle=True)

    def stop_cluster(self) -> None:
        if self.envoy is not None:
            self.envoy.stop()
            self.envoy = None
        if self.kafka is not None:
            self.kafka.stop()
            self.kafka = None

    def stop(self) -> None:
        self.stop_cluster()
        self.driver.stop()

    def admin_request(self, api: int, version: int, request: dict, settle: bool = False) -> dict:
        """A request on the INTERNAL listener (User:ANONYMOUS, a super user): setup only."""
        for _ in range(RETRIES if settle else 1):
            answer = self.driver.send("admin", api, version, request)
            if "error" in answer:
                self.driver.connect("admin", self.internal_port)
                answer = self.driver.send("admin", api, version, request)
                if "error" in answer:
                    raise OracleError(f"setup request {api} v{version} failed: {answer['error']}")
            codes = error_codes(answer["response"])
            if not settle or not any(code in RETRIABLE for code in codes):
                return answer["response"]
            time.sleep(0.2)
        raise OracleError(f"setup request {api} v{version} did not settle: {answer}")

    def ensure_topic(self, name: str, partitions: int) -> None:
        harness.create_topic("127.0.0.1", self.internal_port, name, partitions)
        for _ in range(100):
            response = self.admin_request(3, 12, {"topics": [{"name": name}], "allowAutoTopicCreation": False})
            topic = response["topics"][0]
            if topic["errorCode"] == 0 and all(p["errorCode"] == 0 and p["leaderId"] >= 0 for p in topic["partitions"]):
                return
            time.sleep(0.1)
        raise OracleError(f"topic {name} has no leader")

    def apply_acls(self, acl_set: matrix.AclSet, allow_everyone: bool) -> None:
        from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                           ResourcePatternType, ResourceType)  # fmt: skip

        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{self.internal_port}"})
        everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                                      AclPermissionType.ANY)  # fmt: skip
        for future in admin.delete_acls([everything]).values():
            future.result(timeout=30)
        bindings = kafka_bindings(acl_set.acls)
        if bindings:
            for future in admin.create_acls(bindings).values():
                future.result(timeout=30)
        expected = {str(b) for b in bindings}
        for _ in range(100):
            if {str(b) for b in admin.describe_acls(everything).result(timeout=30)} == expected:
                break
            time.sleep(0.1)
        else:
            raise OracleError(f"Kafka's ACLs of set {acl_set.id} not visible through DescribeAcls")
        config = filter_config(acl_set.acls, allow_everyone)
        if self.envoy is None:
            # One Envoy per cluster, its listener from a file (LDS): each ACL set is a listener update, which
            # Envoy applies to new connections (every case opens its own).
            envoy_dir = self.run_dir / f"envoy-{'e' if allow_everyone else 'd'}"
            shutil.rmtree(envoy_dir, ignore_errors=True)
            envoy_dir.mkdir(parents=True)
            self.envoy = harness.Envoy(envoy_dir, "mtls", self.envoy_port, "127.0.0.1", self.plain_listener.port,
                                       self.certs, config, log_level="warn", dynamic_listeners=True)  # fmt: skip
        else:
            self.envoy.update_plugin_config(config)
            for _ in range(200):
                if self.envoy.stats("listener_manager.total_listeners_warming").get(
                    "listener_manager.total_listeners_warming", 0) == 0:
                    break
                time.sleep(0.05)
            else:
                raise OracleError(f"Envoy's listener for set {acl_set.id} still warming")

    def check_versions(self) -> None:
        """Every API version the matrix uses is served by Kafka's SSL listener and through Envoy."""
        for side, port in (("A", self.ssl_listener.port), ("B", self.envoy_port)):
            connected = self.driver.connect("v", port, self.certs / "admin.p12", self.certs / "ca.crt")
            if "error" in connected:
                raise OracleError(f"connecting path {side}: {connected['error']}")
            answer = self.driver.send("v", 18, 3, {"clientSoftwareName": "kmf-oracle", "clientSoftwareVersion": "1"})
            self.driver.close("v")
            if "error" in answer:
                raise OracleError(f"ApiVersions on path {side}: {answer['error']}")
            served = {k["apiKey"]: (k["minVersion"], k["maxVersion"]) for k in answer["response"]["apiKeys"]}
            for name, (key, low, high) in matrix.API.items():
                if key not in served or served[key][0] > low or served[key][1] < high:
                    raise OracleError(f"path {side} serves {name} {served.get(key)}, the matrix uses v{low}-{high}")

    # -- cases --

    def run_side(self, side: str, case: matrix.Case) -> list:
        prefix = SIDES[side]
        port = self.ssl_listener.port if side == "A" else self.envoy_port
        conn = f"{side}-{case.id}"
        answers = []
        connected = self.driver.connect(conn, port, self.certs / f"{case.cert}.p12", self.certs / "ca.crt", case.source)
        closed = "error" in connected
        # Without a producer id from InitProducerId, the later steps carry a made-up one (a record batch needs one):
        # both paths then send the same bytes.
        pid, epoch, real_pid = FAKE_PRODUCER_ID, 0, False
        for step in case.steps:
            if closed:
                answers.append("closed")
                continue
            text = json.dumps(step["request"]).replace('"@', '"' + prefix)
            text = text.replace('"$pid"', str(pid)).replace('"$epoch"', str(epoch))
            request = json.loads(text)
            for attempt in range(RETRIES):
                answer = self.driver.send(conn, step["api"], step["version"], request)
                if "error" in answer:
                    if answer["error"].startswith("driver"):
                        raise OracleError(f"{case.describe()}: path {side}: {answer['error']}")
                    closed = True
                    answers.append("closed")
                    break
                response = answer["response"]
                if attempt + 1 < RETRIES and any(code in RETRIABLE for code in error_codes(response)):
                    time.sleep(0.2)
                    continue
                answers.append(response)
                if step["api"] == 22:
                    real_pid = response.get("producerId", -1) >= 0
                    if real_pid:
                        pid, epoch = response["producerId"], response["producerEpoch"]
                break
        self.driver.close(conn)
        self.cleanup(case, prefix, pid if real_pid else -1, epoch)
        return answers

    def cleanup(self, case: matrix.Case, prefix: str, pid: int, epoch: int) -> None:
        """Puts back what a case may have changed that later cases rely on: deleted topics, open transactions."""
        if case.kind == "delete-topics":
            for name, partitions in matrix.TOPICS.items():
                self.ensure_topic(prefix + name, partitions)
        for step in case.steps:
            txn = step["request"].get("transactionalId")
            if step["api"] == 22 and txn and pid >= 0:
                response = self.admin_request(26, 3, {"transactionalId": txn.replace("@", prefix), "producerId": pid,
                                                      "producerEpoch": epoch, "committed": False})  # fmt: skip
                del response

    def topics_state(self) -> dict:
        """Each path's topics and partition counts, namespace written as `@`: the side effects of a case."""
        response = self.admin_request(3, 12, {"topics": None, "allowAutoTopicCreation": False})
        state = {"A": {}, "B": {}}
        for topic in response["topics"]:
            for side, prefix in SIDES.items():
                if topic["name"].startswith(prefix) and topic["errorCode"] == 0:
                    state[side]["@" + topic["name"][len(prefix) :]] = len(topic["partitions"])
        return state

    def compare_state(self, case: matrix.Case) -> dict | None:
        """Topics created or deleted on one path only (auto-creation by Metadata, a deletion). Auto-creation is
        asynchronous: a difference must last 3 s to count. Afterwards both paths are made equal again (the topic
        the other path lacks is deleted), so one divergence does not spill into later cases."""
        requested = {t["name"] for s in case.steps if s["api"] == 3 and s["request"].get("allowAutoTopicCreation")
                     for t in s["request"]["topics"] or []} - {"@" + t for t in matrix.TOPICS}  # fmt: skip
        state = self.topics_state()
        deadline = time.monotonic() + 3
        # Kafka creates a topic asynchronously after the Metadata answer: wait for it (3 s at most).
        while requested and not requested & (set(state["A"]) | set(state["B"])) and time.monotonic() < deadline:
            time.sleep(0.2)
            state = self.topics_state()
        deadline = time.monotonic() + 3
        while state["A"] != state["B"] and time.monotonic() < deadline:
            time.sleep(0.2)
            state = self.topics_state()
        if state["A"] == state["B"]:
            return None
        for side, other in (("A", "B"), ("B", "A")):
            extra = sorted(set(state[side]) - set(state[other]) - {"@" + t for t in matrix.TOPICS})
            if extra:
                names = [n.replace("@", SIDES[side]) for n in extra]
                self.admin_request(20, 5, {"topicNames": names, "timeoutMs": 10000})
                for _ in range(100):
                    if not set(extra) & set(self.topics_state()[side]):
                        break
                    time.sleep(0.1)
        return state

    def run_case(self, case: matrix.Case) -> bool:
        a = self.run_side("A", case)
        b = self.run_side("B", case)
        state = self.compare_state(case)
        # The topics' state after the case: one more comparison, counted as "side effects: topics".
        case_steps = [*case.steps, {"api": "state", "version": 0, "request": {}}]
        a.append({"topics": state["A"]} if state else "same")
        b.append({"topics": state["B"]} if state else "same")
        ok = True
        for step, x, y in zip(case_steps, a, b):
            nx, ny = normalise(x, "A"), normalise(y, "B")
            differences = diff(canonical(nx), canonical(ny))
            order_only = not differences and nx != ny
            api = matrix.API_NAMES.get(step["api"], "side effects: topics")
            result = StepResult(case.id, api, step["version"], not differences, differences, order_only, nx, ny)
            self.results.append(result)
            with open(self.run_dir / "steps.jsonl", "a") as out:
                out.write(json.dumps({"case": case.describe(), "api": api, "version": step["version"],
                                      "request": step["request"], "A": nx, "B": ny}) + "\n")  # fmt: skip
            if differences or order_only:
                with open(self.run_dir / "divergences.jsonl", "a") as out:
                    out.write(json.dumps({"case": case.describe(), "api": api, "version": step["version"],
                                          "orderOnly": order_only, "request": step["request"],
                                          "differences": differences, "A": nx, "B": ny}) + "\n")  # fmt: skip
            ok = ok and not differences
        self.cases_run += 1
        self.cases_matched += ok
        if not ok:
            self.failed_cases.append(case.id)
        return ok

    def run(self, phases: list, only: set | None = None, seed: int = DEFAULT_SEED, set_ids: set | None = None) -> None:
        for phase in phases:
            sets = [s for s in phase.sets if not only or any(c.id in only for c in s.cases)]
            sets = [s for s in sets if not set_ids or s.id in set_ids]
            if not sets:
                continue
            started = time.monotonic()
            self.start_cluster(phase.allow_everyone)
            versions_checked = False
            self.log(f"phase {phase.id} (allow.everyone.if.no.acl.found={phase.allow_everyone}): cluster up in "
                     f"{time.monotonic() - started:.1f}s")  # fmt: skip
            for acl_set in sets:
                started = time.monotonic()
                self.apply_acls(acl_set, phase.allow_everyone)
                if not versions_checked:
                    self.check_versions()
                    versions_checked = True
                for case in acl_set.cases:
                    if only and case.id not in only:
                        continue
                    if not self.run_case(case):
                        self.log(f"DIVERGENCE seed={seed} {case.describe()}")
                        principal = {c.name: c.principal for c in pki.CLIENTS}[case.cert]
                        for acl in acl_set.acls:
                            if acl.principal in (principal, "User:*"):
                                self.log(f"    acl: {acl.describe()}")
                        for result in self.results:
                            if result.case == case.id and not result.matched:
                                for line in result.differences[:6]:
                                    self.log(f"    {result.api} v{result.version} {line}")
                self.log(f"set {acl_set.id}: {len(acl_set.acls)} ACLs, {len(acl_set.cases)} cases, "
                         f"{time.monotonic() - started:.1f}s")  # fmt: skip
            self.stop_cluster()

    # -- report --

    def case_results(self, case_id: str) -> list:
        return [r for r in self.results if r.case == case_id]

    def classes(self) -> dict:
        """case id -> the known divergence (or "new") of each diverging case."""
        out = {}
        for case_id in dict.fromkeys(r.case for r in self.results):
            name = classify(self.case_results(case_id))
            if name is not None:
                out[case_id] = name
        return out

    def classes_table(self) -> str:
        counts = Counter(name for joined in self.classes().values() for name in joined.split("+"))
        descriptions = {name: text for name, _, text in KNOWN_DIVERGENCES}
        descriptions["new"] = "not explained by a known divergence"
        lines = ["| divergence | cases | what differs |", "|---|---:|---|"]
        for name, count in sorted(counts.items()):
            lines.append(f"| {name} | {count} | {descriptions[name]} |")
        return "\n".join(lines)

    def table(self) -> str:
        by_api: dict[str, Counter] = defaultdict(Counter)
        for result in self.results:
            by_api[result.api]["requests"] += 1
            by_api[result.api]["matches" if result.matched else "divergences"] += 1
            by_api[result.api]["order"] += result.order_only
        lines = ["| API | requests | matches | of which order only | divergences |", "|---|---:|---:|---:|---:|"]
        for api in sorted(by_api):
            c = by_api[api]
            lines.append(f"| {api} | {c['requests']} | {c['matches']} | {c['order']} | {c['divergences']} |")
        total = Counter()
        for c in by_api.values():
            total.update(c)
        lines.append(f"| **all** | {total['requests']} | {total['matches']} | {total['order']} | {total['divergences']} |")
        summary = (f"cases: {self.cases_run}, matching in every request: {self.cases_matched}, "
                   f"with a divergence: {self.cases_run - self.cases_matched}")  # fmt: skip
        return summary + "\n\n" + "\n".join(lines)


def build_phases(shape: dict) -> list:
    """The curated cases (matrix.curated()) first, then the seeded matrix, one cluster per phase."""
    phases = matrix.generate(shape["seed"], shape["sets_per_phase"], shape["cases_per_set"])
    for phase in phases:
        curated = [c for c in matrix.curated() if c.allow_everyone == phase.allow_everyone]
        phase.sets[:0] = [matrix.AclSet(c.id, c.acls, [c.case]) for c in curated]
    return phases


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the whole matrix (default: the fixed subset)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--only", action="append", default=[], help="case id to run (repeatable)")
    parser.add_argument("--set", action="append", default=[], help="ACL set id to run, all its cases (repeatable)")
    parser.add_argument("--results", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument("--list", action="store_true", help="print the cases and their ACL sets, run nothing")
    args = parser.parse_args(argv)
    shape = dict(FULL if args.full else SUBSET)
    if args.seed is not None:
        shape["seed"] = args.seed
    phases = build_phases(shape)
    if args.list:
        for phase in phases:
            for acl_set in phase.sets:
                print(f"set {acl_set.id} (allowEveryoneIfNoAclFound={phase.allow_everyone})")
                for acl in acl_set.acls:
                    print(f"    {acl.describe()}")
                for case in acl_set.cases:
                    print(f"  {case.describe()}")
        return 0
    run_dir = harness.RUN_DIR / f"oracle-{'full' if args.full else 'subset'}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    started = time.monotonic()
    oracle = Oracle(run_dir)
    try:
        oracle.run(phases, set(args.only) or None, shape["seed"], set(args.set) or None)
    finally:
        oracle.stop()
    elapsed = time.monotonic() - started
    print(f"\nseed {shape['seed']}, Apache Kafka {kafka_broker.kafka_version()}, {elapsed:.0f}s")
    print(oracle.table())
    print()
    print(oracle.classes_table())
    if args.results:
        command = "python integration/oracle/runner.py " + " ".join(a for a in (argv or sys.argv[1:]) if a)
        args.results.write_text(
            "# Differential oracle: results\n\n"
            f"Apache Kafka {kafka_broker.kafka_version()} (StandardAuthorizer, KRaft, one node) against Envoy + "
            f"kafka-mtls-filter, seed {shape['seed']}, {shape['sets_per_phase']} ACL sets x "
            f"{shape['cases_per_set']} cases per phase (allow.everyone.if.no.acl.found false, then true) and the "
            f"curated cases; {elapsed:.0f} s.\n\n"
            f"Produced by `{command}` (the same matrix: `KMF_ORACLE_FULL=1 pytest integration/tests/test_oracle.py`)."
            "\n\nA request matches when both answers are equal after normalisation (runner.normalise: throttle times, "
            "error messages, ports, allocated ids, offsets and times as set or not, each path's namespace); "
            "\"order only\" counts answers equal except for the order of their entries. \"side effects: topics\" "
            "compares the topics each path has after each case.\n\n"
            + oracle.table() + "\n\nThe divergences (a case counts under each that explains its first differing "
            "request):\n\n" + oracle.classes_table() + "\n"
        )  # fmt: skip
    for case_id, name in oracle.classes().items():
        print(f"  {case_id}: {name}")
    return 0 if not oracle.failed_cases else 1


if __name__ == "__main__":
    sys.exit(main())

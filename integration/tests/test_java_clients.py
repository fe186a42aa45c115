"""Kafka's own clients through Envoy and the filter: the Java client (kafka-clients, the broker's version) and
Kafka's command-line tools run from their main classes (console producer and consumer, kafka-topics,
kafka-consumer-groups, kafka-acls, kafka-configs), with SSL client configurations whose keystores are the test
certificates (PEM and PKCS12). Allowed actions work; denied ones end in the authorization error Kafka's
authorizer would give, named in the tool's output (for admin commands compared with a Kafka node that runs
StandardAuthorizer itself). Beside them, kcat and kafka-python produce and consume through the filter.

The Java programs are integration/java-clients/*.java, compiled with javac against Kafka's jars into the cache
at first use (no build tool). One stack (one Kafka node, one Envoy) serves the module: every JVM start costs
seconds on 2 cores, so the module runs each tool once per outcome."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import harness
from harness import kafka_broker
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from conftest import IDENTITY, WITH_FILTER

pytestmark = pytest.mark.filter

JAVA_SOURCES = harness.INTEGRATION / "java-clients"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
TOPICS = "org.apache.kafka.tools.TopicCommand"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
ACLS = "org.apache.kafka.tools.AclCommand"

POLICY = {
    "identity": IDENTITY,
    "authorization": {
        "mode": "enforce",
        "superUsers": ["User:CN=kafka-admin"],
        "users": [
            {
                "principal": "User:CN=kafka-default",
                "acls": [
                    {"resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                     "operations": ["Read", "Write", "Describe", "Create", "DescribeConfigs"]},
                    {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"},
                     "operations": ["Read", "Describe"]},
                    {"resource": {"type": "transactionalId", "name": "kmf-", "patternType": "prefix"},
                     "operations": ["Write", "Describe"]},
                    # Topics payments/checkout may not Describe (KIP-848 describe of a group assigned them).
                    {"resource": {"type": "topic", "name": "kip848-", "patternType": "prefix"},
                     "operations": ["Read", "Write", "Describe"]},
                ],
            },
            {
                # Sees the it- topics and may join kmf- groups; may neither write nor read the topics. Describes
                # the kmf-848- groups.
                "principal": "User:CN=payments-checkout",
                "acls": [
                    {"resource": {"type": "topic", "name": "it-", "patternType": "prefix"}, "operations": ["Describe"]},
                    {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"}, "operations": ["Read"]},
                    {"resource": {"type": "group", "name": "kmf-848-", "patternType": "prefix"},
                     "operations": ["Describe"]},
                ],
            },
        ],
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def stack(cert_dir):
    started = harness.Stack("mtls", POLICY, with_filter=WITH_FILTER, name="test_java_clients-stack")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def java_classes() -> Path:
    """integration/java-clients compiled against Kafka's jars, cached by the sources' and the jars' versions."""
    sources = sorted(JAVA_SOURCES.glob("*.java"))
    digest = hashlib.sha256(kafka_broker.kafka_version().encode())
    for source in sources:
        digest.update(source.read_bytes())
    out = harness.CACHE / "java-clients" / digest.hexdigest()[:16]
    if not (out / ".complete").exists():
        out.mkdir(parents=True, exist_ok=True)
        # javac, or the same compiler from the runtime's jdk.compiler module where only a JRE is installed.
        javac = ["java", "-m", "jdk.compiler/com.sun.tools.javac.Main"]
        if shutil.which("javac"):
            javac = [shutil.which("javac")]
        classpath = os.pathsep.join(str(jar) for jar in sorted(kafka_broker.kafka_libs().glob("kafka-clients-*.jar")))
        compiled = subprocess.run([*javac, "-nowarn", "-cp", classpath, "-d", str(out), *map(str, sources)],
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
        assert compiled.returncode == 0, f"compiling {JAVA_SOURCES} failed:\n{compiled.stdout}\n{compiled.stderr}"
        (out / ".complete").touch()
    return out


def client_properties(stack: harness.Stack, cert: str, keystore: str = "PEM", extra: dict | None = None) -> Path:
    """A Java client configuration (client.properties) for mTLS through Envoy with the test certificate `cert`:
    the CA as a PEM truststore, the certificate and key as a PEM keystore (key and chain in one file) or a
    PKCS12 one."""
    directory = stack.run_dir / "java"
    directory.mkdir(exist_ok=True)
    key, crt = (stack.cert_dir / f"{cert}.key").read_text(), (stack.cert_dir / f"{cert}.crt").read_text()
    lines = [
        f"bootstrap.servers={stack.bootstrap}",
        "security.protocol=SSL",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={stack.cert_dir / 'ca.crt'}",
        f"client.id=it-java-{cert}",
    ]
    if keystore == "PEM":
        pem = directory / f"{cert}.pem"
        pem.write_text(key + crt)
        lines += ["ssl.keystore.type=PEM", f"ssl.keystore.location={pem}"]
    else:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        password = "kmf-test-password"
        p12 = directory / f"{cert}.p12"
        p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                cert.encode(), serialization.load_pem_private_key(key.encode(), None),
                x509.load_pem_x509_certificate(crt.encode()), None,
                serialization.BestAvailableEncryption(password.encode()),
            )
        )  # fmt: skip
        lines += ["ssl.keystore.type=PKCS12", f"ssl.keystore.location={p12}", f"ssl.keystore.password={password}"]
    lines += [f"{k}={v}" for k, v in (extra or {}).items()]
    name = f"{cert}-{keystore.lower()}-{hashlib.sha256(repr(extra).encode()).hexdigest()[:6]}.properties"
    path = directory / name
    path.write_text("\n".join(lines) + "\n")
    return path


def java_client(java_classes: Path, scenario: str, properties: Path, *args, timeout: float = 120) -> dict:
    """Runs one scenario of JavaClients.java; returns its RESULT record."""
    jvm_opts = "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto"
    argv = kafka_broker.java_command("JavaClients", scenario, str(properties), *map(str, args), jvm_opts=jvm_opts)
    argv[argv.index("-cp") + 1] = f"{java_classes}{os.pathsep}{kafka_broker.kafka_libs()}/*"
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT (exit {out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def tool(stack: harness.Stack, main_class: str, properties: Path, *args, input: str | None = None):
    """One of Kafka's command-line tools through Envoy; returns (exit code, stdout + stderr)."""
    out = kafka_broker.run_tool(
        main_class, "--bootstrap-server", stack.bootstrap, "--command-config", str(properties), *args, input=input
    )
    return out.returncode, out.stdout + out.stderr


_topics = iter(range(1, 10_000))


def new_topic(stack: harness.Stack, name: str, partitions: int = 1) -> str:
    topic = f"it-java-{name}-{next(_topics)}"
    stack.create_topic(topic, partitions)
    return topic


# --- Kafka's Java client --------------------------------------------------------------------------------------------


def test_java_producer_and_group_consumer(stack, java_classes):
    topic = new_topic(stack, "orders", partitions=2)
    default = client_properties(stack, "mesh-default")
    produced = java_client(java_classes, "produce", default, topic, 20)
    # Kafka 4's producer is idempotent by default: InitProducerId, allowed by Write on the topic.
    assert (produced["acked"], produced.get("error")) == (20, None), produced
    consumed = java_client(java_classes, "consume", default, topic, "kmf-java-orders", 20, 60)
    assert consumed.get("error") is None, consumed
    assert sorted(consumed["values"]) == sorted(f"java-{i}" for i in range(20))
    assert sum(consumed["committed"].values()) == 20 and len(consumed["committed"]) == 2


def test_java_producer_denied(stack, java_classes):
    topic = new_topic(stack, "denied")
    checkout = client_properties(stack, "mesh-checkout")
    # Idempotent (the default): InitProducerId needs IdempotentWrite on the cluster or Write on some topic, which
    # payments/checkout lacks: Kafka answers CLUSTER_AUTHORIZATION_FAILED (KafkaApis.handleInitProducerIdRequest),
    # so does the filter, and the producer fails with ClusterAuthorizationException.
    idempotent = java_client(java_classes, "produce", checkout, topic, 1)
    assert idempotent["acked"] == 0
    assert idempotent["error"] == "org.apache.kafka.common.errors.ClusterAuthorizationException", idempotent
    # Not idempotent: the Produce itself is denied, TOPIC_AUTHORIZATION_FAILED naming the topic.
    plain = java_client(java_classes, "produce", client_properties(stack, "mesh-checkout", extra={
        "enable.idempotence": "false"}), topic, 1)  # fmt: skip
    assert plain["acked"] == 0
    assert plain["error"] == "org.apache.kafka.common.errors.TopicAuthorizationException", plain
    assert topic in plain["message"]


def test_java_transactional_producer(stack, java_classes):
    topic = new_topic(stack, "txn")
    # The keystore as PKCS12 this time.
    default = client_properties(stack, "mesh-default", keystore="PKCS12")
    committed = java_client(java_classes, "transaction", default, topic, "kmf-java-txn", 5)
    assert (committed["stage"], committed.get("error")) == ("committed", None), committed
    read = java_client(java_classes, "read-committed", default, topic, 5, 30)
    assert sorted(read["values"]) == [f"txn-{i}" for i in range(5)], read
    # A transactional id outside the principal's grant: refused at initTransactions.
    denied = java_client(java_classes, "transaction", default, topic, "other-txn", 5)
    assert denied["stage"] == "init"
    assert denied["error"] == "org.apache.kafka.common.errors.TransactionalIdAuthorizationException", denied


def consumer_protocol(java_classes, properties, subscription, group, count, seconds, regex=False) -> dict:
    """A Java consumer with `group.protocol=consumer` (KIP-848: ConsumerGroupHeartbeat) through the filter."""
    args = [subscription, group, count, seconds, *(["regex"] if regex else [])]
    return java_client(java_classes, "consumer-protocol", properties, *args)


def test_java_consumer_protocol_consumes_an_allowed_topic(stack, java_classes):
    """Kafka 4's consumer group protocol through the filter: ConsumerGroupHeartbeat (Read on the group, Describe
    on the subscribed topic) is offered and authorized; the consumer joins, is assigned both partitions, reads
    and commits."""
    assert CONSUMER_GROUP_HEARTBEAT in api_keys_offered(harness.tls_socket(stack, "mesh-default"))
    topic = new_topic(stack, "kip848", partitions=2)
    default = client_properties(stack, "mesh-default")
    assert java_client(java_classes, "produce", default, topic, 10)["acked"] == 10
    result = consumer_protocol(java_classes, default, topic, "kmf-java-848", 10, 60)
    assert result.get("error") is None, result
    assert sorted(result["values"]) == sorted(f"java-{i}" for i in range(10)), result
    assert result["assignment"] == [f"{topic}-0", f"{topic}-1"], result


def test_java_consumer_protocol_denied_group_and_topic(stack, java_classes):
    """A group the principal may not Read: GROUP_AUTHORIZATION_FAILED, fatal in the consumer. A subscribed topic
    it may not Describe: TOPIC_AUTHORIZATION_FAILED for the whole heartbeat, as KafkaApis answers."""
    topic = new_topic(stack, "kip848-denied")
    default = client_properties(stack, "mesh-default")
    group = consumer_protocol(java_classes, default, topic, "other-java-848", 1, 30)
    assert group.get("error") == "org.apache.kafka.common.errors.GroupAuthorizationException", group
    assert "other-java-848" in group["message"] and group["elapsedMs"] < 25_000, group
    secret = f"secret-java-848-{next(_topics)}"
    stack.create_topic(secret)
    denied = consumer_protocol(java_classes, default, secret, "kmf-java-848-denied", 1, 30)
    assert denied.get("error") == "org.apache.kafka.common.errors.TopicAuthorizationException", denied
    assert denied["values"] == [] and denied["elapsedMs"] < 25_000, denied


def test_java_consumer_protocol_regex_subscription(stack, java_classes):
    """A regex subscription (ConsumerGroupHeartbeat v1 subscribed_topic_regex) passes when the principal may
    Describe every topic the regex can match (here every topic under its prefix `it-`): the broker's resolution then
    equals Kafka's, and the broker assigns the matching topics (seen in the group's description). A regex that
    could match topics the principal may not Describe is refused with INVALID_REQUEST and a message saying why and
    what to grant: the consumer fails at once with InvalidRequestException."""
    topics = sorted([new_topic(stack, "regex-a"), new_topic(stack, "regex-b")])
    # A static member stays in the group (with its assignment) after it closes, until its session times out.
    static = client_properties(stack, "mesh-default", extra={"group.instance.id": "kmf-848-regex-static"})
    joined = consumer_protocol(java_classes, static, "it-java-regex-.*", "kmf-848-regex", 0, 15, regex=True)
    assert joined.get("error") is None, joined
    code, output = tool(stack, GROUPS, client_properties(stack, "mesh-admin"), "--describe", "--members", "--verbose",
                        "--group", "kmf-848-regex")  # fmt: skip
    (row,) = [line.split() for line in output.splitlines() if line.startswith("kmf-848-regex ")]
    assert row[-1] == ";".join(f"{t}:0" for t in topics), output  # the target assignment: both topics
    default = client_properties(stack, "mesh-default")
    refused = consumer_protocol(java_classes, default, ".*java-regex.*", "kmf-java-848-regex2", 1, 30, regex=True)
    assert refused.get("error") == "org.apache.kafka.common.errors.InvalidRequestException", refused
    assert "may Describe every topic the regex can match" in refused["message"], refused
    assert "User:CN=kafka-default" in refused["message"] and refused["elapsedMs"] < 25_000, refused


def test_java_consumer_protocol_regex_subscription_consumes(stack, java_classes):
    """An allowed regex: the broker assigns the matching topics by id, and the Java consumer resolves those ids
    with Metadata by topic id through the filter (ConsumerMetadata.newMetadataRequestBuilder), then reads."""
    topic = new_topic(stack, "rxconsume")
    default = client_properties(stack, "mesh-default")
    assert java_client(java_classes, "produce", default, topic, 2)["acked"] == 2
    result = consumer_protocol(java_classes, default, "it-java-rxconsume-.*", "kmf-848-regex3", 2, 20, regex=True)
    assert sorted(result["values"]) == ["java-0", "java-1"], result


def test_kafka_consumer_groups_describes_a_consumer_protocol_group(stack, java_classes):
    """kafka-consumer-groups --describe on a KIP-848 group (Admin: ConsumerGroupDescribe). With Describe on the
    group and its topics: the member and its assignment. Without Describe on the group: GROUP_AUTHORIZATION_FAILED.
    With Describe on the group but not on a topic assigned in it: KafkaApis answers the group
    TOPIC_AUTHORIZATION_FAILED without members, and so does the filter."""
    topic = f"kip848-describe-{next(_topics)}"
    stack.create_topic(topic)
    group = "kmf-848-describe"
    static = client_properties(stack, "mesh-default", extra={"group.instance.id": "kmf-848-static"})
    joined = consumer_protocol(java_classes, static, topic, group, 0, 30)
    assert joined.get("error") is None and joined["assignment"] == [f"{topic}-0"], joined
    default = client_properties(stack, "mesh-default")
    code, output = tool(stack, GROUPS, default, "--describe", "--members", "--group", group)
    (row,) = [line.split() for line in output.splitlines() if line.startswith(f"{group} ")]
    assert code == 0 and "kmf-848-static" in row, output
    code, output = tool(stack, GROUPS, default, "--describe", "--members", "--group", "other-java-848-describe")
    assert "GroupAuthorizationException" in output, output  # the tool exits 0 on errors
    # payments/checkout may Describe the kmf-848- groups, not the kip848- topics.
    code, output = tool(stack, GROUPS, client_properties(stack, "mesh-checkout"), "--describe", "--members",
                        "--group", group)  # fmt: skip
    assert "TopicAuthorizationException" in output, output


def test_java_share_consumer_joins_and_admin_describes_its_group(stack, java_classes):
    """Share groups (KIP-932; Kafka 4.4 enables share.version 2 on new clusters): ShareGroupHeartbeat (Read on the
    group, Describe on the subscribed topic) makes a KafkaShareConsumer a member with the topic assigned, and
    Admin.describeShareGroups (ShareGroupDescribe) shows it. A group the principal may not Read:
    GroupAuthorizationException. A describer that may Describe the group but not its assigned topic gets
    TOPIC_AUTHORIZATION_FAILED for the group, as KafkaApis answers. (Records need ShareFetch, another change's.)"""
    topic = new_topic(stack, "share")
    default = client_properties(stack, "mesh-default")
    joined = java_client(java_classes, "share-consume", default, topic, "kmf-848-share", 10)
    assert joined.get("error") is None, joined
    assert joined["described"] == {"state": "Stable", "members": 1, "assignment": [f"{topic}-0"]}, joined
    denied = java_client(java_classes, "share-consume", default, topic, "other-848-share", 10)
    assert denied.get("error") == "org.apache.kafka.common.errors.GroupAuthorizationException", denied
    hidden = f"kip848-share-{next(_topics)}"
    stack.create_topic(hidden)
    checkout = client_properties(stack, "mesh-checkout")
    partial = java_client(java_classes, "share-consume", default, hidden, "kmf-848-share-hidden", 10, checkout)
    assert partial["described"].get("error") == "org.apache.kafka.common.errors.TopicAuthorizationException", partial


CONSUMER_GROUP_HEARTBEAT = 68


def api_keys_offered(sock: socket.socket) -> set[int]:
    """The API keys of an ApiVersions v0 answer on `sock` (closed afterwards)."""
    with sock:
        request = struct.pack(">hhi", 18, 0, 1) + harness.kafka_string("it-api-versions")
        sock.sendall(struct.pack(">i", len(request)) + request)
        response = harness.read_frame(sock)
    correlation_id, error_code, count = struct.unpack_from(">ihi", response)
    assert (correlation_id, error_code) == (1, 0)
    return {struct.unpack_from(">h", response, 10 + 6 * i)[0] for i in range(count)}


# --- Kafka's command-line tools ---------------------------------------------------------------------------------------


def test_console_producer_and_consumer(stack):
    topic = new_topic(stack, "console")
    default = client_properties(stack, "mesh-default")
    code, output = tool(stack, PRODUCER, default, "--topic", topic, input="one\ntwo\nthree\n")
    assert code == 0 and "Exception" not in output, output
    code, output = tool(stack, CONSUMER, default, "--topic", topic, "--group", "kmf-console", "--from-beginning",
                        "--max-messages", "3", "--timeout-ms", "30000")  # fmt: skip
    assert code == 0, output
    assert [line for line in output.splitlines() if line in ("one", "two", "three")] == ["one", "two", "three"]
    assert "Processed a total of 3 messages" in output


def test_console_producer_and_consumer_denied(stack):
    topic = new_topic(stack, "console-denied")
    checkout = client_properties(stack, "mesh-checkout")
    # The console producer is idempotent by default too: the cluster check fails first.
    code, output = tool(stack, PRODUCER, checkout, "--topic", topic, input="denied\n")
    assert "org.apache.kafka.common.errors.ClusterAuthorizationException: Cluster authorization failed." in output
    not_idempotent = client_properties(stack, "mesh-checkout", extra={"enable.idempotence": "false"})
    code, output = tool(stack, PRODUCER, not_idempotent, "--topic", topic, input="denied\n")
    denied = f"org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [{topic}]"
    assert denied in output, output
    # The consumer may join its group but not read the topic.
    code, output = tool(stack, CONSUMER, checkout, "--topic", topic, "--group", "kmf-console-denied",
                        "--from-beginning", "--max-messages", "1", "--timeout-ms", "20000")  # fmt: skip
    assert f"TopicAuthorizationException: Not authorized to access topics: [{topic}]" in output, output
    assert "Processed a total of 0 messages" in output
    # Nothing was written.
    assert harness.consume(stack, "mesh-admin", topic, 1, timeout=3) == []


def test_kafka_topics(stack):
    default = client_properties(stack, "mesh-default")
    created = f"it-java-created-{next(_topics)}"
    code, output = tool(stack, TOPICS, default, "--create", "--topic", created, "--partitions", "2",
                        "--replication-factor", "1")  # fmt: skip
    assert code == 0 and f"Created topic {created}." in output, output
    code, output = tool(stack, TOPICS, default, "--describe", "--topic", created)
    assert code == 0 and "PartitionCount: 2" in output, output
    # A name outside the grant: the filter answers CreateTopics as Kafka does (TOPIC_AUTHORIZATION_FAILED,
    # "Authorization failed.").
    code, output = tool(stack, TOPICS, default, "--create", "--topic", "java-forbidden", "--partitions", "1",
                        "--replication-factor", "1")  # fmt: skip
    assert code == 1, output
    assert "Error while executing topic command : Authorization failed." in output
    assert "org.apache.kafka.common.errors.TopicAuthorizationException" in output
    # Adding partitions needs Alter on the topic, which the principal lacks.
    code, output = tool(stack, TOPICS, default, "--alter", "--topic", created, "--partitions", "3")
    assert code == 1 and "org.apache.kafka.common.errors.TopicAuthorizationException" in output, output
    # The listing shows what the principal may describe: the created topic, not the hidden one the super user
    # makes now.
    stack.create_topic("hidden-java-topic")
    code, output = tool(stack, TOPICS, default, "--list")
    assert code == 0 and created in output.split() and "hidden-java-topic" not in output, output


def commit_offsets(stack: harness.Stack, cert: str, group: str, offsets: list) -> None:
    """Commits `offsets` for `group` (no membership), retrying while the broker's group coordinator is still
    loading (NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS right after the broker started)."""
    consumer = Consumer(stack.client_config(cert, **{"group.id": group, "enable.auto.commit": False}))
    try:
        for attempt in range(30):
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as error:
                retriable = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                             KafkaError.COORDINATOR_NOT_AVAILABLE)  # fmt: skip
                if error.args[0].code() not in retriable or attempt == 29:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


def test_kafka_consumer_groups(stack):
    topic = new_topic(stack, "groups")
    delivered, failures, errors = harness.produce(stack, "mesh-default", topic, [b"a", b"b", b"c"])
    assert (delivered, failures) == (3, []), errors.text()
    # Offsets committed by two groups: one the principal may describe, one it may not.
    for cert, group in (("mesh-default", "kmf-java-visible"), ("mesh-admin", "other-java-group")):
        commit_offsets(stack, cert, group, [TopicPartition(topic, 0, 2)])
    default = client_properties(stack, "mesh-default")
    code, output = tool(stack, GROUPS, default, "--describe", "--group", "kmf-java-visible")
    assert code == 0, output
    (row,) = [line.split() for line in output.splitlines() if line.startswith("kmf-java-visible ")]
    # group, topic, partition, committed offset, log end offset, lag
    assert row[:6] == ["kmf-java-visible", topic, "0", "2", "3", "1"], output
    code, output = tool(stack, GROUPS, default, "--list")
    assert code == 0 and "kmf-java-visible" in output.split() and "other-java-group" not in output, output
    code, output = tool(stack, GROUPS, default, "--describe", "--group", "other-java-group")
    assert "GroupAuthorizationException" in output, output
    # Resetting the visible group's offsets is an OffsetCommit (Read on the group and the topic): allowed.
    code, output = tool(stack, GROUPS, default, "--reset-offsets", "--group", "kmf-java-visible", "--topic", topic,
                        "--to-earliest", "--execute")  # fmt: skip
    assert code == 0, output
    (row,) = [line.split() for line in output.splitlines() if line.startswith("kmf-java-visible ")]
    assert row == ["kmf-java-visible", topic, "0", "0"], output  # group, topic, partition, new offset
    # Deleting it needs Delete on the group, which the principal lacks: GROUP_AUTHORIZATION_FAILED.
    code, output = tool(stack, GROUPS, default, "--delete", "--group", "kmf-java-visible")
    assert "Group 'kmf-java-visible' could not be deleted" in output and "GroupAuthorizationException" in output, output
    # Both groups exist: the super user lists them (librdkafka's admin client, through the filter too).
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(stack.client_config("mesh-admin"))  # kept referenced until the future resolves
    listed = admin.list_consumer_groups(request_timeout=20).result()
    assert {"kmf-java-visible", "other-java-group"} <= {g.group_id for g in listed.valid}


def test_kafka_acls_through_the_filter(stack):
    """The broker behind Envoy has no authorizer: the filter is the authorizer. Describing or creating ACLs is
    Describe / Alter on the cluster. A principal without it is refused by the filter
    (CLUSTER_AUTHORIZATION_FAILED, the tool names ClusterAuthorizationException); the super user's request
    passes the filter and reaches the broker, which answers that it has no authorizer."""
    default = client_properties(stack, "mesh-default")
    code, output = tool(stack, ACLS, default, "--list")
    assert code == 1 and "org.apache.kafka.common.errors.ClusterAuthorizationException" in output, output
    code, output = tool(stack, ACLS, default, "--add", "--allow-principal", "User:CN=kafka-default",
                        "--operation", "All", "--topic", "*")  # fmt: skip
    assert code == 1 and "org.apache.kafka.common.errors.ClusterAuthorizationException" in output, output
    code, output = tool(stack, ACLS, client_properties(stack, "mesh-admin"), "--list")
    assert code == 1, output
    assert "errors.SecurityDisabledException: No Authorizer is configured on the broker" in output, output
    assert "ClusterAuthorizationException" not in output


# --- denials as Kafka's own authorizer gives them -----------------------------------------------------------------

CONFIGS = "org.apache.kafka.tools.ConfigCommand"
DENIED_ADMIN = {
    "kafka-acls --list": (ACLS, "--list"),
    "kafka-configs --describe broker 1": (CONFIGS, "--describe", "--entity-type", "brokers", "--entity-name", "1"),
}
EXCEPTION = re.compile(r"(org\.apache\.kafka\.common\.errors\.\w+Exception): ?(.*)$", re.MULTILINE)


@pytest.fixture(scope="module")
def denied_admin(stack):
    """The same admin commands, denied two ways: through the filter as User:CN=kafka-default (no cluster ACL),
    and straight at an Apache Kafka listener with StandardAuthorizer as a SASL/PLAIN user without ACLs.
    {command: ((exception, message) through the filter, (exception, message) from Kafka)}."""
    run_dir = harness.RUN_DIR / "test_java_clients-kafka-authorizer"
    shutil.rmtree(run_dir, ignore_errors=True)
    kafka = harness.start_kafka(run_dir, 0, sasl=True, plain_users={"alice": "alice-pw"},
                                properties={"authorizer.class.name": kafka_broker.STANDARD_AUTHORIZER})  # fmt: skip
    try:
        alice = run_dir / "alice.properties"
        login = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-pw";'
        alice.write_text(f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config={login}\n")
        kafka_bootstrap = f"127.0.0.1:{kafka.nodes[0].listeners[0].port}"
        default = client_properties(stack, "mesh-default")
        outcomes = {}
        for name, (main_class, *args) in DENIED_ADMIN.items():
            sides = []
            for bootstrap, properties in ((stack.bootstrap, default), (kafka_bootstrap, alice)):
                out = kafka_broker.run_tool(main_class, "--bootstrap-server", bootstrap, "--command-config",
                                            str(properties), *args)  # fmt: skip
                found = EXCEPTION.search(out.stdout + out.stderr)
                assert out.returncode != 0 and found, f"{name}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
                sides.append((found.group(1), found.group(2).strip()))
            outcomes[name] = tuple(sides)
        yield outcomes
    finally:
        kafka.stop()


def test_admin_denials_name_the_same_exception_as_kafka(denied_admin):
    for name, (through_filter, from_kafka) in denied_admin.items():
        assert through_filter[0] == from_kafka[0] == "org.apache.kafka.common.errors.ClusterAuthorizationException", (
            name, through_filter, from_kafka)  # fmt: skip


def test_admin_denials_carry_a_message_as_kafkas_do(denied_admin):
    """Kafka's tools print the denial's message: the filter writes Kafka's default text for the error code
    ('Cluster authorization failed.', as KafkaApis.handleDescribeConfigsRequest does); for the ACL APIs Kafka writes
    'Request ... needs DESCRIBE permission.' (AuthHelper.authorizeClusterOperation), which names the broker's
    request object and is not reproduced."""
    for name, (through_filter, from_kafka) in denied_admin.items():
        assert from_kafka[1], (name, from_kafka)
        assert through_filter[1], (name, through_filter, from_kafka)


# --- kcat and kafka-python ------------------------------------------------------------------------------------------


def kcat(stack: harness.Stack, cert: str, *args, input: str | None = None) -> subprocess.CompletedProcess:
    argv = [
        "kcat", "-b", stack.bootstrap, *args,
        "-X", "security.protocol=ssl", "-X", f"ssl.ca.location={stack.cert_dir / 'ca.crt'}",
        "-X", f"ssl.certificate.location={stack.cert_dir / f'{cert}.crt'}",
        "-X", f"ssl.key.location={stack.cert_dir / f'{cert}.key'}",
    ]  # fmt: skip
    return subprocess.run(argv, input=input, env=harness.kcat_env(), capture_output=True, text=True, timeout=60)


def test_kcat_produces_and_consumes(stack):
    topic = new_topic(stack, "kcat")
    lines = [f"kcat-{i}" for i in range(10)]
    out = kcat(stack, "mesh-default", "-P", "-t", topic, "-p", "0", input="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    out = kcat(stack, "mesh-default", "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == lines
    # In a consumer group (kcat -G: subscribe, JoinGroup/SyncGroup through the filter).
    out = kcat(stack, "mesh-default", "-G", "kmf-kcat", topic, "-o", "beginning", "-e", "-q",
               "-X", "auto.offset.reset=earliest")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == lines


def test_kafka_python_produces_and_consumes_in_a_group(stack):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import TopicAuthorizationFailedError

    topic = new_topic(stack, "kafka-python")
    tls = {
        "bootstrap_servers": stack.bootstrap,
        "security_protocol": "SSL",
        "ssl_cafile": str(stack.cert_dir / "ca.crt"),
        "ssl_check_hostname": False,
        "request_timeout_ms": 20000,
    }

    def certificate(cert: str) -> dict:
        return {"ssl_certfile": str(stack.cert_dir / f"{cert}.crt"), "ssl_keyfile": str(stack.cert_dir / f"{cert}.key")}

    producer = KafkaProducer(**tls, **certificate("mesh-default"), acks="all")
    try:
        futures = [producer.send(topic, f"py-{i}".encode(), partition=0) for i in range(10)]
        producer.flush(30)
        assert [f.get(timeout=30).offset for f in futures] == list(range(10))
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(
        topic, **tls, **certificate("mesh-default"), group_id="kmf-kafka-python", auto_offset_reset="earliest",
        enable_auto_commit=False,
    )  # fmt: skip
    values = []
    try:
        deadline = time.monotonic() + 60
        while len(values) < 10 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values += [r.value for r in records]
        consumer.commit()
        assert consumer.committed(list(consumer.assignment())[0]) == 10
    finally:
        consumer.close()
    assert values == [f"py-{i}".encode() for i in range(10)]

    # payments/checkout may not write: kafka-python reports the topic's authorization error.
    denied = KafkaProducer(**tls, **certificate("mesh-checkout"), acks="all", retries=0)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            denied.send(topic, b"denied", partition=0).get(timeout=30)
    finally:
        denied.close(timeout=10)

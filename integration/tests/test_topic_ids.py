"""Topic ids without the clamp, through three Apache Kafka 4.4 brokers behind three Envoys: Kafka's Java producer
and consumer and librdkafka at their newest versions (Produce v13 and Fetch v18 address topics by id) on allowed
and denied topics. A client learns a topic's id from Metadata through one Envoy and produces or fetches through
another, whose filter has not seen that answer: it resolves the id with its own Metadata request by id in the
request's place, answers UNKNOWN_TOPIC_ID (the client refreshes its metadata and retries) or, for a topic the
principal may not use, TOPIC_AUTHORIZATION_FAILED at once.

The versions the clients used are read from each Envoy's audit records (`auditAllowed`), which name every
request's API and version; the resolutions from the records the filter writes for them."""

from __future__ import annotations

import os
import time

import harness
import pytest
from harness.cluster import Cluster, audit_lines
from confluent_kafka import Consumer, KafkaError, Producer

from conftest import IDENTITY, WITH_FILTER
from test_java_clients import client_properties, java_classes, java_client  # noqa: F401 - java_classes: a fixture

pytestmark = pytest.mark.filter

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
                     "operations": ["Read", "Write", "Describe"]},
                    {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"},
                     "operations": ["Read", "Describe"]},
                ],
            },
            {
                # Sees the it- topics and may use kmf- groups; may neither write nor read the topics.
                "principal": "User:CN=payments-checkout",
                "acls": [
                    {"resource": {"type": "topic", "name": "it-", "patternType": "prefix"}, "operations": ["Describe"]},
                    {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"},
                     "operations": ["Read", "Describe"]},
                ],
            },
        ],
    },
    "observability": {"auditAllowed": True},
}  # fmt: skip

RESOLVED = "topic ids resolved from the broker"


@pytest.fixture(scope="module")
def cluster():
    if harness.BROKER != "kafka" or os.environ.get("KAFKA_BOOTSTRAP") or not WITH_FILTER:
        pytest.skip("starts its own three Apache Kafka nodes with the filter")
    with Cluster("test_topic_ids-3", POLICY, nodes=3) as started:
        yield started


def new_topic(cluster: Cluster, name: str) -> str:
    topic = f"it-ids-{name}-{time.monotonic_ns() % 10**9}"
    # Partition p led by node p+1: each partition's requests go through another Envoy.
    cluster.create_topic(topic, partitions=3, replication_factor=3)
    return topic


def records(cluster: Cluster) -> list[dict]:
    return [r for envoy in cluster.envoys for r in audit_lines(envoy)]


def versions(cluster: Cluster, api: str, client_id: str) -> set[int]:
    return {r["apiVersion"] for r in records(cluster) if r.get("api") == api and r.get("clientId") == client_id}


def resolutions(cluster: Cluster, client_id: str) -> list[dict]:
    return [r for r in records(cluster) if r.get("clientId") == client_id and RESOLVED in str(r.get("rule", ""))]


def test_java_clients_by_topic_id(cluster, java_classes):
    topic = new_topic(cluster, "java")
    default = client_properties(cluster, "mesh-default")
    produced = java_client(java_classes, "produce", default, topic, 30)
    assert (produced["acked"], produced.get("error")) == (30, None), produced
    consumed = java_client(java_classes, "consume", default, topic, "kmf-ids-java", 30, 60)
    assert consumed.get("error") is None, consumed
    assert sorted(consumed["values"]) == sorted(f"java-{i}" for i in range(30))
    # No clamp: Kafka 4.4's producer and consumer at their newest versions, by topic id.
    assert versions(cluster, "Produce", "it-java-mesh-default") == {13}
    assert versions(cluster, "Fetch", "it-java-mesh-default") == {18}


def test_java_clients_denied_by_topic_id(cluster, java_classes):
    topic = new_topic(cluster, "java-denied")
    default = client_properties(cluster, "mesh-default")
    assert java_client(java_classes, "produce", default, topic, 3)["acked"] == 3
    checkout = client_properties(cluster, "mesh-checkout", extra={"enable.idempotence": "false"})
    plain = java_client(java_classes, "produce", checkout, topic, 1)
    assert plain["acked"] == 0
    assert plain["error"] == "org.apache.kafka.common.errors.TopicAuthorizationException", plain
    assert topic in plain["message"]
    consumed = java_client(java_classes, "consume", checkout, topic, "kmf-ids-denied", 3, 30)
    assert consumed["error"] == "org.apache.kafka.common.errors.TopicAuthorizationException", consumed
    assert consumed["values"] == []
    assert versions(cluster, "Produce", "it-java-mesh-checkout") == {13}
    assert 18 in versions(cluster, "Fetch", "it-java-mesh-checkout") or not versions(
        cluster, "Fetch", "it-java-mesh-checkout"
    )


def test_a_cold_id_costs_one_retry(cluster, java_classes):
    """A fresh producer per topic: each Envoy that leads a partition but did not carry the Metadata answer
    resolves the id once; every record is still delivered exactly once."""
    default = client_properties(cluster, "mesh-default")
    before = len(resolutions(cluster, "it-java-mesh-default"))
    for name in ("cold-a", "cold-b"):
        topic = new_topic(cluster, name)
        produced = java_client(java_classes, "produce", default, topic, 12)
        assert (produced["acked"], produced.get("error")) == (12, None), produced
        consumed = java_client(java_classes, "consume", default, topic, f"kmf-ids-{name}", 12, 60)
        assert sorted(consumed["values"]) == sorted(f"java-{i}" for i in range(12)), consumed
    resolved = resolutions(cluster, "it-java-mesh-default")[before:]
    assert resolved, "no Envoy had to resolve an id"
    assert all(r["decision"] == "allowed" for r in resolved)
    assert {r["api"] for r in resolved} <= {"Produce", "Fetch"}


def test_librdkafka_by_topic_id(cluster):
    topic = new_topic(cluster, "rdkafka")
    producer = Producer(cluster.client_config("mesh-default", **{"acks": "all", "client.id": "it-ids-rdkafka"}))
    failures = []
    for i in range(30):
        producer.produce(topic, value=b"r-%03d" % i, partition=i % 3, on_delivery=lambda e, m: e and failures.append(e))
    assert producer.flush(60) == 0 and failures == []
    consumer = Consumer(cluster.client_config("mesh-default", **{
        "client.id": "it-ids-rdkafka", "group.id": "kmf-ids-rdkafka", "auto.offset.reset": "earliest"}))  # fmt: skip
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 60
    while len(values) < 30 and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=100, timeout=0.5):
            if not msg.error():
                values.append(msg.value())
    consumer.close()
    assert sorted(values) == sorted(b"r-%03d" % i for i in range(30))
    fetch = versions(cluster, "Fetch", "it-ids-rdkafka")
    produce = versions(cluster, "Produce", "it-ids-rdkafka")
    print(f"librdkafka versions: Produce {sorted(produce)}, Fetch {sorted(fetch)}")
    assert fetch and max(fetch) >= 13, fetch

    # A principal without Read: the consumer's fetches by id are refused with TOPIC_AUTHORIZATION_FAILED.
    denied = Consumer(cluster.client_config("mesh-checkout", **{
        "client.id": "it-ids-rdkafka-denied", "group.id": "kmf-ids-rdkafka-denied",
        "auto.offset.reset": "earliest"}))  # fmt: skip
    denied.subscribe([topic])
    codes = set()
    deadline = time.monotonic() + 60
    while KafkaError.TOPIC_AUTHORIZATION_FAILED not in codes and time.monotonic() < deadline:
        for msg in denied.consume(num_messages=10, timeout=0.5):
            if msg.error():
                codes.add(msg.error().code())
            else:
                raise AssertionError(f"read {msg.value()!r} without Read")
    denied.close()
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in codes, codes


def topic_ids_admin(java_classes, cluster: Cluster, properties, action: str, *topics: str) -> dict:
    """integration/java-clients/TopicIdsAdmin.java: describeTopics (and deleteTopics) by id through Envoy."""
    import json
    import subprocess

    from harness import kafka_broker

    argv = kafka_broker.java_command(
        "TopicIdsAdmin", str(properties), cluster.kafka.internal_bootstrap, action, *topics,
        jvm_opts="-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto",
    )  # fmt: skip
    argv[argv.index("-cp") + 1] = f"{java_classes}{os.pathsep}{kafka_broker.kafka_libs()}/*"
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT (exit {out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def test_java_admin_by_topic_id(cluster, java_classes):
    """Metadata by id: a topic the principal may not Describe is TOPIC_AUTHORIZATION_FAILED by id (Kafka's
    answer, its name withheld); DeleteTopics v6 by id needs Delete on the learned name."""
    allowed = new_topic(cluster, "admin")
    secret = f"secret-ids-{time.monotonic_ns() % 10**9}"
    cluster.create_topic(secret, partitions=1, replication_factor=3)
    default = client_properties(cluster, "mesh-default")
    seen = topic_ids_admin(java_classes, cluster, default, "delete", allowed, secret)
    # Kafka answers the hidden id TOPIC_AUTHORIZATION_FAILED with a null name (oracle case d.c63 compares the
    # bytes); Kafka's admin client, finding no name for the id, reports UnknownTopicIdException.
    assert seen["described"] == {
        allowed: f"name:{allowed}",
        secret: "org.apache.kafka.common.errors.UnknownTopicIdException",
    }, seen
    assert seen["delete"] == "org.apache.kafka.common.errors.TopicAuthorizationException", seen
    admin = client_properties(cluster, "mesh-admin")
    removed = topic_ids_admin(java_classes, cluster, admin, "delete", allowed)
    assert removed["delete"] == "deleted", removed
    # An Envoy that did not carry the describe answer resolves the id first: the admin asks twice.
    assert removed["deleteAttempts"] in (1, 2), removed
    assert allowed not in cluster.admin().list_topics(timeout=20).topics
    assert max(versions(cluster, "Metadata", "it-java-mesh-default")) >= 12
    assert versions(cluster, "DeleteTopics", "it-java-mesh-admin") == {6}

"""Issue #5 through real Envoy + wasm + tansu: listings show only what the principal may describe.

tansu 0.6.0 implements ListGroups (v0-5), OffsetFetch (v0-9) and DescribeTopicPartitions (v0), not
ListTransactions (the host tests in tests/listings.rs cover it). One stack, two group joins (~20 s each on
tansu, run in parallel). tansu answers DescribeTopicPartitions for all topics with an empty listing, so
only named topics are checked here."""

from __future__ import annotations

import struct
import threading
import time

import harness
import pytest

from conftest import mesh_default_policy

pytestmark = pytest.mark.filter

VISIBLE, SECRET = "lst-visible", "lst-secret"
SEEN_GROUP, HIDDEN_GROUP = "lst-seen", "lst-hidden"


def policy() -> dict:
    return mesh_default_policy(
        {"resource": {"type": "topic", "name": VISIBLE}, "operations": ["Read", "Describe"]},
        {"resource": {"type": "group", "name": SEEN_GROUP}, "operations": ["Read", "Describe"]},
    )


def join_and_commit(stack, cert: str, group: str, topic: str, done: list) -> None:
    """Joins `group` subscribed to `topic`, reads its one message and commits (creates the group on tansu)."""
    from confluent_kafka import Consumer

    consumer = Consumer(stack.client_config(cert, **{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
    }))  # fmt: skip
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                consumer.commit(message=msg, asynchronous=False)
                done.append(group)
                return
    finally:
        consumer.close()


def commit_assigned(stack, cert: str, group: str, topics: list[str]) -> None:
    """Commits offset 1 of partition 0 of each topic for `group`, without joining it."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(stack.client_config(cert, **{"group.id": group, "enable.auto.commit": False}))
    try:
        offsets = [TopicPartition(t, 0, 1) for t in topics]
        consumer.assign(offsets)
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


def kafka_python_admin(stack, cert: str):
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=stack.bootstrap,
        security_protocol="SSL",
        ssl_cafile=str(stack.cert_dir / "ca.crt"),
        ssl_certfile=str(stack.cert_dir / f"{cert}.crt"),
        ssl_keyfile=str(stack.cert_dir / f"{cert}.key"),
        ssl_check_hostname=False,
        client_id=f"it-{cert}",
        request_timeout_ms=20000,
    )


def describe_topic_partitions(stack, cert: str, topics: list[str]) -> bytes:
    """A raw DescribeTopicPartitions v0 (no Python client sends one); the response frame."""
    client_id = b"it-dtp"
    # Header v2: key 75, version 0, correlation id, client id, no tagged fields; body: compact array of
    # topics (name, no tagged fields), response_partition_limit 2000, null cursor, no tagged fields.
    frame = struct.pack(">hhih", 75, 0, 7, len(client_id)) + client_id + b"\x00" + bytes([len(topics) + 1])
    for topic in topics:
        frame += bytes([len(topic) + 1]) + topic.encode() + b"\x00"
    frame += struct.pack(">i", 2000) + b"\xff" + b"\x00"
    with harness.tls_socket(stack, cert, timeout=20) as tls:
        tls.sendall(struct.pack(">i", len(frame)) + frame)
        response = harness.read_frame(tls)
    assert struct.unpack(">i", response[:4])[0] == 7
    return response


def topic_entry(topic: str, error_code: int) -> bytes:
    """How a DescribeTopicPartitions topic entry starts: error_code, compact name."""
    return struct.pack(">h", error_code) + bytes([len(topic) + 1]) + topic.encode()


def test_listings_show_only_describable_entries(stack_factory):
    stack = stack_factory("mtls", policy())
    for topic in (VISIBLE, SECRET):
        stack.create_topic(topic)
        harness.produce(stack, "mesh-admin", topic, [f"{topic}-0".encode()])

    # Both groups joined at once: the super user's on the secret topic, mesh-default's on its own.
    joined: list[str] = []
    threads = [
        threading.Thread(target=join_and_commit, args=(stack, "mesh-admin", HIDDEN_GROUP, SECRET, joined)),
        threading.Thread(target=join_and_commit, args=(stack, "mesh-default", SEEN_GROUP, VISIBLE, joined)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(joined) == [HIDDEN_GROUP, SEEN_GROUP]
    # The seen group also holds offsets of the secret topic (committed by the super user).
    commit_assigned(stack, "mesh-admin", SEEN_GROUP, [VISIBLE, SECRET])

    # ListGroups: only the describable group; the super user (Describe Cluster) sees both.
    from confluent_kafka.admin import AdminClient

    def confluent_groups(cert: str) -> set[str]:
        admin = AdminClient(stack.client_config(cert))  # kept alive until the future completes
        listed = admin.list_consumer_groups(request_timeout=20).result()
        assert not listed.errors, listed.errors
        return {g.group_id for g in listed.valid}

    assert confluent_groups("mesh-default") == {SEEN_GROUP}
    assert {SEEN_GROUP, HIDDEN_GROUP} <= confluent_groups("mesh-admin")
    admin = kafka_python_admin(stack, "mesh-default")
    try:
        assert {g["group_id"] for g in admin.list_groups()} == {SEEN_GROUP}
        # OffsetFetch with topics=null (all committed offsets): only the topics the principal may describe.
        offsets = admin.list_group_offsets({SEEN_GROUP: None})[SEEN_GROUP]
        assert {tp.topic for tp in offsets} == {VISIBLE}
    finally:
        admin.close()
    admin = kafka_python_admin(stack, "mesh-admin")
    try:
        assert {tp.topic for tp in admin.list_group_offsets({SEEN_GROUP: None})[SEEN_GROUP]} == {VISIBLE, SECRET}
    finally:
        admin.close()

    # DescribeTopicPartitions (tansu answers only named topics; all topics: an empty listing, so the
    # all-topics filtering is covered by tests/listings.rs). The secret topic is not asked of the broker and
    # comes back TOPIC_AUTHORIZATION_FAILED (29) with no partitions, as Kafka answers it.
    seen = describe_topic_partitions(stack, "mesh-default", [VISIBLE, SECRET])
    assert topic_entry(VISIBLE, 0) in seen
    assert topic_entry(SECRET, 29) + bytes(16) + b"\x00\x01" in seen  # zero id, not internal, no partitions
    everything = describe_topic_partitions(stack, "mesh-admin", [VISIBLE, SECRET])
    assert topic_entry(VISIBLE, 0) in everything and topic_entry(SECRET, 0) in everything

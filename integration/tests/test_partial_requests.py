"""Partial multi-topic requests through the real Envoy and wasm module (issue #5): the allowed topics reach the
broker, the forbidden ones come back with TOPIC_AUTHORIZATION_FAILED in the same answer."""

from __future__ import annotations

import struct
import time

import harness
import pytest

from conftest import mesh_default_policy

pytestmark = pytest.mark.filter

ALLOWED = "part-allowed"
FORBIDDEN = "part-secret"
GROUP = "kmf-partial"
TOPIC_AUTHORIZATION_FAILED = 29


def policy() -> dict:
    return mesh_default_policy(
        {"resource": {"type": "topic", "name": ALLOWED}, "operations": ["Read", "Write", "Describe", "DescribeConfigs"]},
        {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"}, "operations": ["Read", "Describe"]},
    )


def partial_stack(stack_factory):
    stack = stack_factory("mtls", policy())
    for topic in (ALLOWED, FORBIDDEN):
        stack.create_topic(topic)
    return stack


def denied_requests(stack, api: str) -> int:
    stack.envoy.wait_for_filter_counters()
    return stack.envoy.stat_sum(rf"kafka_filter\.requests.*api={api}.*decision=denied")


def committed_offsets(stack, cert: str, group: str) -> dict:
    """{topic: (offset, error code)} of partition 0 of both topics, read with librdkafka (one OffsetFetch)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(stack.client_config(cert, **{"group.id": group, "enable.auto.commit": False}))
    try:
        parts = consumer.committed([TopicPartition(ALLOWED, 0), TopicPartition(FORBIDDEN, 0)], timeout=20)
    finally:
        consumer.close()
    return {p.topic: (p.offset, p.error.code() if p.error else 0) for p in parts}


def test_consumer_commit_for_allowed_and_forbidden_topics_stores_only_the_allowed_one(stack_factory):
    stack = partial_stack(stack_factory)
    from confluent_kafka import Consumer, TopicPartition

    results: list = []
    consumer = Consumer(stack.client_config("mesh-default", **{
        "group.id": GROUP, "enable.auto.commit": False, "on_commit": lambda err, parts: results.append((err, parts)),
    }))  # fmt: skip
    try:
        # One OffsetCommit naming both topics (same coordinator): split by the filter.
        consumer.commit(offsets=[TopicPartition(ALLOWED, 0, 5), TopicPartition(FORBIDDEN, 0, 3)], asynchronous=True)
        deadline = time.monotonic() + 30
        while not results and time.monotonic() < deadline:
            consumer.poll(0.2)
    finally:
        consumer.close()
    assert results, "no commit result"
    # librdkafka reports a partial failure's error on every partition of the callback (the per-partition codes
    # on the wire are asserted below, with a raw request); what matters is what the broker stored.
    errors = {p.topic: (p.error.code() if p.error else 0) for p in results[0][1]}
    assert errors[FORBIDDEN] == TOPIC_AUTHORIZATION_FAILED
    assert denied_requests(stack, "OffsetCommit") == 1
    # Read back through the filter: one OffsetFetch naming both topics, split as well.
    assert committed_offsets(stack, "mesh-default", GROUP) == {
        ALLOWED: (5, 0), FORBIDDEN: (-1001, TOPIC_AUTHORIZATION_FAILED)}  # fmt: skip
    assert denied_requests(stack, "OffsetFetch") == 1
    # The broker stored the allowed commit only (read by the super user, who may see both).
    assert committed_offsets(stack, "mesh-admin", GROUP) == {ALLOWED: (5, 0), FORBIDDEN: (-1001, 0)}


def test_raw_offset_commit_answers_each_partition(stack_factory):
    stack = partial_stack(stack_factory)
    group = GROUP + "-raw"
    # OffsetCommit v2: group, generation -1 (no membership), member "", retention -1, two topics.
    body = harness.kafka_string(group) + struct.pack(">i", -1) + harness.kafka_string("") + struct.pack(">qi", -1, 2)
    for topic, offset in ((ALLOWED, 7), (FORBIDDEN, 4)):
        body += harness.kafka_string(topic) + struct.pack(">iiq", 1, 0, offset) + harness.kafka_string("")
    with harness.tls_socket(stack, "mesh-default", timeout=20) as sock:
        response = _roundtrip(sock, 8, 2, 42, body)
    assert _per_partition(response, ">ih") == {ALLOWED: (0,), FORBIDDEN: (TOPIC_AUTHORIZATION_FAILED,)}
    assert committed_offsets(stack, "mesh-admin", group) == {ALLOWED: (7, 0), FORBIDDEN: (-1001, 0)}


# --- ListOffsets v1, sent as raw bytes: librdkafka resolves partition leaders through Metadata first and would not
# send a topic it may not describe, so the request naming both topics is built here.


def _roundtrip(sock, api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    frame = struct.pack(">hhi", api_key, version, correlation_id) + harness.kafka_string("it-partial") + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    response = harness.read_frame(sock)
    assert struct.unpack_from(">i", response)[0] == correlation_id
    return response[4:]


def _per_partition(response: bytes, partition: str) -> dict[str, tuple]:
    """A v0-v5 style answer, an array of (topic name, array of partition structs `partition`), read whole:
    {topic: the last partition's fields after its index}."""
    out, at = {}, 0
    (count,) = struct.unpack_from(">i", response, at)
    at += 4
    for _ in range(count):
        (name_len,) = struct.unpack_from(">h", response, at)
        name = response[at + 2 : at + 2 + name_len].decode()
        at += 2 + name_len
        (partitions,) = struct.unpack_from(">i", response, at)
        at += 4
        for _ in range(partitions):
            out[name] = struct.unpack_from(partition, response, at)[1:]
            at += struct.calcsize(partition)
    assert at == len(response), "the whole answer was read"
    return out


def list_offsets_v1(stack, cert: str, topics: list[str]) -> dict[str, tuple[int, int]]:
    """ListOffsets v1 (latest) for partition 0 of each topic, in one request: {topic: (error code, offset)}."""
    body = struct.pack(">ii", -1, len(topics))
    for topic in topics:
        body += harness.kafka_string(topic) + struct.pack(">iiq", 1, 0, -1)
    with harness.tls_socket(stack, cert, timeout=20) as sock:
        response = _roundtrip(sock, 2, 1, 41, body)
    # Partition: index, error code, timestamp, offset.
    return {name: (error, offset) for name, (error, _timestamp, offset) in _per_partition(response, ">ihqq").items()}


def test_list_offsets_for_allowed_and_forbidden_topics(stack_factory):
    stack = partial_stack(stack_factory)
    delivered, failures, _ = harness.produce(stack, "mesh-admin", ALLOWED, [b"a1", b"a2", b"a3"], timeout=20)
    assert (delivered, failures) == (3, [])
    answer = list_offsets_v1(stack, "mesh-default", [ALLOWED, FORBIDDEN])
    assert set(answer) == {ALLOWED, FORBIDDEN}
    assert answer[ALLOWED][0] == 0 and answer[ALLOWED][1] >= 0  # answered by the broker
    assert answer[FORBIDDEN] == (TOPIC_AUTHORIZATION_FAILED, -1)
    assert denied_requests(stack, "ListOffsets") == 1
    # The super user's identical request is not split: both topics answered by the broker.
    admin = list_offsets_v1(stack, "mesh-admin", [ALLOWED, FORBIDDEN])
    assert admin[ALLOWED][0] == 0 and admin[FORBIDDEN][0] == 0
    # The split left one audit line, for the forbidden topic.
    audit = [line for line in stack.envoy.log_text().splitlines() if "kafka-audit " in line and "ListOffsets" in line]
    assert len(audit) == 1 and FORBIDDEN in audit[0]


def test_describe_configs_of_allowed_and_forbidden_topics(stack_factory):
    """An admin client asks for the configs of two topics in one DescribeConfigs (librdkafka sends topic
    resources together): the allowed topic's configs come from the broker, the forbidden one gets
    TOPIC_AUTHORIZATION_FAILED, and the request is not refused whole."""
    stack = partial_stack(stack_factory)
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    def describe(cert: str) -> dict:
        admin = AdminClient(stack.client_config(cert))
        resources = [ConfigResource(ResourceType.TOPIC, ALLOWED), ConfigResource(ResourceType.TOPIC, FORBIDDEN)]
        outcome = {}
        for resource, future in admin.describe_configs(resources, request_timeout=20).items():
            try:
                outcome[resource.name] = ("configs", len(future.result(timeout=30)))
            except KafkaException as e:
                outcome[resource.name] = ("error", e.args[0].code())
        return outcome

    answer = describe("mesh-default")
    assert answer[ALLOWED][0] == "configs", answer
    assert answer[FORBIDDEN] == ("error", KafkaError.TOPIC_AUTHORIZATION_FAILED), answer
    assert denied_requests(stack, "DescribeConfigs") == 1
    # The super user's identical request is answered whole by the broker.
    admin = describe("mesh-admin")
    assert admin[ALLOWED] == answer[ALLOWED] and admin[FORBIDDEN][0] == "configs", admin

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
        {
            "resource": {"type": "topic", "name": ALLOWED},
            "operations": ["Read", "Write", "Describe", "DescribeConfigs", "AlterConfigs"],
        },
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
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    results: list = []
    consumer = Consumer(stack.client_config("mesh-default", **{
        "group.id": GROUP, "enable.auto.commit": False, "on_commit": lambda err, parts: results.append((err, parts)),
    }))  # fmt: skip
    try:
        # Apache Kafka answers COORDINATOR_LOAD_IN_PROGRESS until a new __consumer_offsets has loaded, and
        # librdkafka does not retry a commit whose answer also holds TOPIC_AUTHORIZATION_FAILED: the group's
        # coordinator is made ready first, with a commit of the allowed topic alone (retried as clients do).
        for _ in range(60):
            try:
                consumer.commit(offsets=[TopicPartition(ALLOWED, 0, 4)], asynchronous=False)
                break
            except KafkaException:
                time.sleep(0.5)
        results.clear()
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
    # As a client does: FindCoordinator first (Apache Kafka creates __consumer_offsets on it), then the commit,
    # retried while the coordinator is not ready (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE or
    # NOT_COORDINATOR: 14, 15, 16).
    with harness.tls_socket(stack, "mesh-default", timeout=20) as sock:
        _roundtrip(sock, 10, 1, 41, harness.kafka_string(group) + b"\x00")
        for attempt in range(60):
            answer = _per_partition(_roundtrip(sock, 8, 2, 42 + attempt, body), ">ih")
            if answer.get(ALLOWED) not in ((14,), (15,), (16,)):
                break
            time.sleep(0.5)
    assert answer == {ALLOWED: (0,), FORBIDDEN: (TOPIC_AUTHORIZATION_FAILED,)}
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


def test_incremental_alter_configs_of_allowed_and_forbidden_topics(stack_factory):
    """One IncrementalAlterConfigs for two topics: the allowed topic's config is changed at the broker, the
    forbidden one gets TOPIC_AUTHORIZATION_FAILED and keeps its config."""
    stack = partial_stack(stack_factory)
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    def alter(cert: str, retention: str) -> dict:
        admin = AdminClient(stack.client_config(cert))
        entry = [ConfigEntry("retention.ms", retention, incremental_operation=AlterConfigOpType.SET)]
        resources = [ConfigResource(ResourceType.TOPIC, t, incremental_configs=entry) for t in (ALLOWED, FORBIDDEN)]
        outcome = {}
        for resource, future in admin.incremental_alter_configs(resources, request_timeout=20).items():
            try:
                future.result(timeout=30)
                outcome[resource.name] = 0
            except KafkaException as e:
                outcome[resource.name] = e.args[0].code()
        return outcome

    def retention(topic: str) -> str | None:
        """The topic's retention.ms as the super user reads it (tansu lists only the configs set)."""
        admin = AdminClient(stack.client_config("mesh-admin"))
        [future] = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)], request_timeout=20).values()
        entry = future.result(timeout=30).get("retention.ms")
        return entry.value if entry else None

    assert alter("mesh-default", "3600000") == {ALLOWED: 0, FORBIDDEN: KafkaError.TOPIC_AUTHORIZATION_FAILED}
    assert denied_requests(stack, "IncrementalAlterConfigs") == 1
    assert retention(ALLOWED) == "3600000"
    assert retention(FORBIDDEN) != "3600000"  # unchanged (unset)


# --- OffsetFetch v8, several groups in one request (what Kafka's admin client sends to list the offsets of
# several groups), as raw bytes: v8 is a flexible version (compact strings and arrays, tagged fields).


def _uvarint(value: int) -> bytes:
    out = b""
    while value >= 0x80:
        out += bytes([value & 0x7F | 0x80])
        value >>= 7
    return out + bytes([value])


def _compact_string(text: str) -> bytes:
    data = text.encode()
    return _uvarint(len(data) + 1) + data


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def string(self) -> str | None:
        length = self.uvarint() - 1
        if length < 0:
            return None
        text = self.data[self.at : self.at + length].decode()
        self.at += length
        return text

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.at += self.uvarint()


def offset_fetch_v8(stack, cert: str, groups: list[tuple[str, str | None]]) -> dict[str, tuple[int, dict]]:
    """OffsetFetch v8 of (group, topic or None for all its topics), partition 0: {group: (error code,
    {topic: (committed offset, error code)})}."""
    body = _uvarint(len(groups) + 1)
    for group, topic in groups:
        body += _compact_string(group)
        if topic is None:
            body += _uvarint(0)  # null: all topics
        else:
            body += _uvarint(2) + _compact_string(topic) + _uvarint(2) + struct.pack(">i", 0) + _uvarint(0)
        body += _uvarint(0)
    body += b"\0" + _uvarint(0)  # require_stable, tags
    header = struct.pack(">hhi", 9, 8, 51) + harness.kafka_string("it-partial") + _uvarint(0)
    with harness.tls_socket(stack, cert, timeout=20) as sock:
        sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        response = harness.read_frame(sock)
    r = _Reader(response)
    assert r.take(">i") == 51
    r.tags()  # response header v1
    r.take(">i")  # throttle_time_ms
    answer = {}
    for _ in range(r.uvarint() - 1):
        group = r.string()
        topics = {}
        for _ in range(r.uvarint() - 1):
            name = r.string()
            for _ in range(r.uvarint() - 1):
                r.take(">i")  # partition index
                offset = r.take(">q")
                r.take(">i")  # leader epoch
                r.string()  # metadata
                topics[name] = (offset, r.take(">h"))
                r.tags()
            r.tags()
        answer[group] = (r.take(">h"), topics)
        r.tags()
    r.tags()
    assert r.at == len(response), "the whole answer was read"
    return answer


def test_offset_fetch_of_several_groups_answers_each_group(stack_factory):
    """One OffsetFetch v8 for an allowed group (all its topics) and a group the principal may not Describe:
    the allowed group's offsets come from the broker, narrowed to the topics the principal may Describe; the
    other group gets GROUP_AUTHORIZATION_FAILED. Refusing the request whole would fail both."""
    stack = partial_stack(stack_factory)
    group = GROUP + "-batched"
    # The super user commits offsets of both topics for the allowed group.
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(stack.client_config("mesh-admin", **{"group.id": group, "enable.auto.commit": False}))
    try:
        consumer.commit(offsets=[TopicPartition(ALLOWED, 0, 6), TopicPartition(FORBIDDEN, 0, 2)], asynchronous=False)
    finally:
        consumer.close()
    answer = offset_fetch_v8(stack, "mesh-default", [(group, None), ("other-team", ALLOWED)])
    assert answer == {group: (0, {ALLOWED: (6, 0)}), "other-team": (30, {})}, answer
    assert denied_requests(stack, "OffsetFetch") == 1
    # The super user's identical request reaches the broker whole.
    admin = offset_fetch_v8(stack, "mesh-admin", [(group, None), ("other-team", ALLOWED)])
    assert admin[group] == (0, {ALLOWED: (6, 0), FORBIDDEN: (2, 0)}), admin
    assert admin["other-team"][0] == 0, admin

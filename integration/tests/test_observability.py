"""Metrics and audit log through the real Envoy: exact counts at /stats/prometheus after known traffic, the
audit line of a denial field by field, the cap on distinct principal tag values, and bytes by principal and
topic."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import harness
import pytest

from conftest import IDENTITY

pytestmark = pytest.mark.filter


def policy(max_label_values: int = 100, max_topic_label_values: int = 100) -> dict:
    return {
        "identity": IDENTITY,
        "authorization": {
            "mode": "enforce",
            "users": [
                {
                    "principal": "User:CN=kafka-default",
                    "acls": [{"resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                              "operations": ["Write", "Read", "Describe"]}],
                },
                {
                    # May see the topics, may not write them: its produce requests are denied.
                    "principal": "User:CN=payments-checkout",
                    "acls": [{"resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                              "operations": ["Describe"]}],
                },
            ],
        },
        "observability": {"maxLabelValues": max_label_values, "maxTopicLabelValues": max_topic_label_values},
    }  # fmt: skip


def prometheus(stack: harness.Stack) -> str:
    stack.envoy.wait_for_filter_counters()
    url = f"http://127.0.0.1:{stack.envoy.admin_port}/stats/prometheus"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def sample(text: str, metric: str, **tags) -> float:
    """The value of one Prometheus sample whose labels include `tags` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(metric)}\{{(.*)\}} (\S+)$", line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        if all(labels.get(k) == v for k, v in tags.items()):
            total += float(m.group(2))
    return total


def produce_one_request_each(stack, cert, topic, count, fresh_producer=False):
    """`count` Produce requests of one message each (flushed one by one); returns delivery errors.
    `fresh_producer`: one producer per message (librdkafka refuses further messages to a topic locally
    once the broker answered TOPIC_AUTHORIZATION_FAILED)."""
    from confluent_kafka import Producer

    config = stack.client_config(cert, **{"linger.ms": 0, "message.timeout.ms": 10000, "retries": 0})
    producer = Producer(config)
    errors = []
    for i in range(count):
        if fresh_producer and i:
            producer = Producer(config)
        producer.produce(topic, f"v{i}".encode(), partition=0, on_delivery=lambda err, msg: errors.append(err))
        producer.flush(15)
    return errors


def test_exact_counts_per_api_decision_and_principal(stack_factory, topic_name):
    stack = stack_factory("mtls", policy())
    topic = topic_name(stack)
    results = produce_one_request_each(stack, "mesh-default", topic, 100)
    assert results.count(None) == 100
    denied = produce_one_request_each(stack, "mesh-checkout", topic, 3, fresh_producer=True)
    assert [e.code() for e in denied] == [29, 29, 29]  # TOPIC_AUTHORIZATION_FAILED

    text = prometheus(stack)
    requests = "kafka_filter_requests"
    assert sample(text, requests, api="Produce", decision="allowed") == 100
    assert sample(text, requests, api="Produce", decision="denied") == 3
    by_principal = "kafka_filter_denied_by_principal"
    assert sample(text, by_principal, principal="User:CN=payments-checkout") == 3
    assert sample(text, by_principal, principal="User:CN=kafka-default") == 0
    assert sample(text, "kafka_filter_connections", identity_source="spiffe") >= 2
    assert sample(text, "kafka_filter_produced_bytes", principal="User:CN=kafka-default") > 0
    assert "kafka_filter_request_latency_us_bucket" in text

    # The denial's audit line, field by field.
    lines = [line.split("kafka-audit ", 1)[1] for line in stack.envoy.log_text().splitlines() if "kafka-audit " in line]
    audits = [json.loads(line) for line in lines]
    denials = [a for a in audits if a["decision"] == "denied" and a["api"] == "Produce"]
    assert len(denials) == 3
    first = denials[0]
    assert first["principal"] == "User:CN=payments-checkout"
    assert first["identitySource"] == "spiffe"
    assert first["resourceType"] == "Topic" and first["resourceName"] == topic
    assert first["operation"] == "Write"
    assert first["source"].startswith("127.0.0.1:")
    assert isinstance(first["connection"], int) and isinstance(first["apiVersion"], int)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", first["time"])
    assert first["rule"].startswith("no ACL matched")


def test_principal_tag_values_are_capped(stack_factory, topic_name):
    stack = stack_factory("mtls", policy(max_label_values=1))
    topic = topic_name(stack)
    assert produce_one_request_each(stack, "mesh-default", topic, 1) == [None]
    denied = produce_one_request_each(stack, "mesh-checkout", topic, 2, fresh_producer=True)
    assert [e.code() for e in denied] == [29, 29]
    text = prometheus(stack)
    by_principal = "kafka_filter_denied_by_principal"
    assert sample(text, by_principal, principal="other") == 2
    assert sample(text, by_principal, principal="User:CN=payments-checkout") == 0


def produce_to_topics(stack, cert, messages: dict) -> None:
    """Produces `messages` ({topic: [values]}) with one producer, lingering so that a Produce request carries
    both topics."""
    from confluent_kafka import Producer

    producer = Producer(stack.client_config(cert, **{"linger.ms": 50, "compression.type": "none"}))
    errors = []
    for i in range(max(len(values) for values in messages.values())):
        for topic, values in messages.items():
            if i < len(values):
                producer.produce(topic, values[i], partition=0, on_delivery=lambda err, msg: errors.append(err))
    assert producer.flush(30) == 0
    assert errors == [None] * sum(len(values) for values in messages.values())


def consume_topics(stack, cert, counts: dict, timeout: float = 60.0) -> dict:
    """Reads `counts` ({topic: n}) messages from partition 0 of each topic with one consumer (so its Fetch
    requests and responses carry both topics). Returns the values by topic."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    config = stack.client_config(cert, **{"group.id": "kmf-it-bytes", "enable.auto.commit": False})
    consumer = Consumer(config)
    got = {topic: [] for topic in counts}
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING) for topic in counts])
        deadline = time.monotonic() + timeout
        while any(len(got[t]) < n for t, n in counts.items()) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if not msg.error():
                    got[msg.topic()].append(msg.value())
    finally:
        consumer.close()
    return got


def test_bytes_by_principal_and_topic(stack_factory, topic_name):
    stack = stack_factory("mtls", policy())
    first, second = topic_name(stack), topic_name(stack)
    messages = {
        first: [f"first-{i:04d}-".encode() * 20 for i in range(40)],
        second: [f"second-{i:04d}-".encode() * 35 for i in range(25)],
    }
    produce_to_topics(stack, "mesh-default", messages)
    got = consume_topics(stack, "mesh-default", {t: len(v) for t, v in messages.items()})
    assert got == messages

    text = prometheus(stack)
    principal = "User:CN=kafka-default"
    produced, fetched = "kafka_filter_produced_bytes_by_topic", "kafka_filter_fetched_bytes_by_topic"
    for topic, values in messages.items():
        payload = sum(len(v) for v in values)
        # A topic's share holds its record batches (the payload and Kafka's per-record overhead).
        assert sample(text, produced, principal=principal, topic=topic) >= payload, topic
        assert sample(text, fetched, principal=principal, topic=topic) >= payload, topic
    # Every forwarded Produce request is split between its topics: the shares add up to the principal's bytes.
    produced_total = sample(text, "kafka_filter_produced_bytes", principal=principal)
    assert produced_total > 0
    assert sample(text, produced, principal=principal) == produced_total
    # Empty Fetch responses (long polls that found nothing) count per principal only.
    fetched_total = sample(text, "kafka_filter_fetched_bytes", principal=principal)
    assert 0 < sample(text, fetched, principal=principal) <= fetched_total
    assert sample(text, produced, topic="other") == 0


def test_topic_tag_values_are_capped(stack_factory, topic_name):
    stack = stack_factory("mtls", policy(max_topic_label_values=1))
    first, second = topic_name(stack), topic_name(stack)
    assert produce_one_request_each(stack, "mesh-default", first, 2) == [None, None]
    assert produce_one_request_each(stack, "mesh-default", second, 3) == [None, None, None]
    text = prometheus(stack)
    principal = "User:CN=kafka-default"
    produced = "kafka_filter_produced_bytes_by_topic"
    assert sample(text, produced, principal=principal, topic=first) > 0
    assert sample(text, produced, principal=principal, topic=second) == 0
    assert sample(text, produced, principal=principal, topic="other") > 0
    assert sample(text, produced, principal=principal) == sample(text, "kafka_filter_produced_bytes", principal=principal)

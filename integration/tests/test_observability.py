"""Metrics and audit log through the real Envoy: exact counts at /stats/prometheus after known traffic, the
audit line of a denial field by field, and the cap on distinct principal tag values."""

from __future__ import annotations

import json
import re
import urllib.request

import harness
import pytest

from conftest import IDENTITY

pytestmark = pytest.mark.filter


def policy(max_label_values: int = 100) -> dict:
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
        "observability": {"maxLabelValues": max_label_values},
    }  # fmt: skip


def prometheus(stack: harness.Stack) -> str:
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

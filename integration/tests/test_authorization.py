"""Authorization in enforce mode: Kafka ACL semantics applied by the filter, denied requests answered with real
Kafka errors that the client reports, and nothing denied reaching the broker."""

from __future__ import annotations

import harness
import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient

from conftest import IDENTITY

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
                    {
                        "resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                        "operations": ["Read", "Describe", "Write"],
                        "host": "*",
                        "type": "allow",
                    }
                ],
            },
            {
                "principal": "User:external-kafkauser",
                "acls": [
                    {
                        "resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                        "operations": ["Read", "Describe"],
                        "host": "*",
                        "type": "allow",
                    }
                ],
            },
        ],
    },
}


def test_allowed_writer_and_reader(stack_factory, topic_name):
    stack = stack_factory("mtls", POLICY)
    topic = topic_name(stack)
    delivered, failures, errors = harness.produce(stack, "mesh-default", topic, [b"a", b"b", b"c"])
    assert (delivered, failures) == (3, []), errors.text()
    assert harness.consume(stack, "external", topic, 3, timeout=20) == [b"a", b"b", b"c"]


def test_denied_produce_gets_topic_authorization_failed(stack_factory, topic_name):
    stack = stack_factory("mtls", POLICY)
    topic = topic_name(stack)
    delivered, failures, _ = harness.produce(stack, "external", topic, [b"not allowed"], timeout=15)
    assert delivered == 0
    assert failures and getattr(failures[0], "code", lambda: None)() == KafkaError.TOPIC_AUTHORIZATION_FAILED, failures
    # The denied record never reached the broker.
    assert harness.consume(stack, "mesh-default", topic, 1, timeout=4) == []


def test_principal_without_topic_acls_cannot_read(stack_factory, topic_name):
    # payments/checkout may use the consumer group the harness names (librdkafka looks up the group coordinator
    # even for assigned partitions) but has no ACL on any topic.
    group_only = {
        "principal": "User:CN=payments-checkout",
        "acls": [
            {
                "resource": {"type": "group", "name": "kmf-it-", "patternType": "prefix"},
                "operations": ["Read", "Describe"],
                "type": "allow",
            }
        ],
    }
    policy = {**POLICY, "authorization": {**POLICY["authorization"], "users": [*POLICY["authorization"]["users"], group_only]}}
    stack = stack_factory("mtls", policy)
    topic = topic_name(stack)
    delivered, failures, errors = harness.produce(stack, "mesh-default", topic, [b"secret"])
    assert (delivered, failures) == (1, []), errors.text()
    # librdkafka keeps retrying Metadata for assigned partitions it may not see, without a consumer error:
    # nothing is consumed, and the filter's audit line says why.
    assert harness.consume(stack, "mesh-checkout", topic, 1, timeout=6) == []
    audit = stack.envoy.wait_for_log(r'^kafka-audit .*"decision":"denied".*"principal":"User:CN=payments-checkout"')
    assert f'"resourceName":"{topic}"' in audit and '"operation":"Describe"' in audit, audit
    # Asked directly, the client gets Kafka's own error for that topic.
    metadata = AdminClient(stack.client_config("mesh-checkout")).list_topics(topic=topic, timeout=10)
    assert metadata.topics[topic].error is not None
    assert metadata.topics[topic].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_super_user_may_write_anywhere(stack_factory, topic_name):
    stack = stack_factory("mtls", POLICY)
    topic = topic_name(stack)
    delivered, failures, errors = harness.produce(stack, "mesh-admin", topic, [b"admin"])
    assert (delivered, failures) == (1, []), errors.text()

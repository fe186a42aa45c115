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


def test_connection_stays_usable_after_a_denial(stack_factory, topic_name):
    """A denied request is answered, not disconnected: the same producer (same connection) goes on."""
    policy = {**POLICY, "authorization": {**POLICY["authorization"], "users": [
        *POLICY["authorization"]["users"],
        {"principal": "User:CN=payments-checkout", "acls": [
            {"resource": {"type": "topic", "name": "it-", "patternType": "prefix"}, "operations": ["Describe"]},
            {"resource": {"type": "topic", "name": "it-test-connection", "patternType": "prefix"},
             "operations": ["Write"]}]}]}}  # fmt: skip
    stack = stack_factory("mtls", policy)
    writable = topic_name(stack)
    forbidden = stack.create_topic("it-forbidden-to-checkout") or "it-forbidden-to-checkout"
    from confluent_kafka import Producer

    producer = Producer(stack.client_config("mesh-checkout", **{"linger.ms": 0, "message.timeout.ms": 10000}))
    results = []
    producer.produce(forbidden, b"no", partition=0, on_delivery=lambda err, msg: results.append(("f", err)))
    producer.flush(15)
    producer.produce(writable, b"yes", partition=0, on_delivery=lambda err, msg: results.append(("w", err)))
    producer.flush(15)
    assert results[0][0] == "f" and results[0][1].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert results[1] == ("w", None)
    closes = [line for line in stack.envoy.filter_log_lines() if "closing:" in line]
    assert closes == []


def test_forbidden_group_gets_group_authorization_failed(stack_factory):
    stack = stack_factory("mtls", POLICY)
    from confluent_kafka import KafkaException

    admin = AdminClient(stack.client_config("mesh-default"))
    future = admin.describe_consumer_groups(["not-granted-group"])["not-granted-group"]
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=30)
    assert raised.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    audit = stack.envoy.wait_for_log(r'^kafka-audit .*"decision":"denied".*"resourceType":"Group"')
    assert '"resourceName":"not-granted-group"' in audit


def test_create_topics_refused_with_kafkas_error_and_message(stack_factory):
    """CreateTopics without Create on the topic or the cluster: TOPIC_AUTHORIZATION_FAILED with Kafka's own
    message, and the topic is not created."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    stack = stack_factory("mtls", POLICY)
    topic_name = "it-create-refused"
    admin = AdminClient(stack.client_config("mesh-default"))
    future = admin.create_topics([NewTopic(topic_name, 1, 1)], operation_timeout=10)[topic_name]
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=30)
    error = raised.value.args[0]
    assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert "Authorization failed." in error.str()
    listed = AdminClient(stack.client_config("mesh-admin")).list_topics(timeout=10)
    assert topic_name not in listed.topics


def test_audit_mode_forwards_and_logs_the_would_be_denial(stack_factory, topic_name):
    policy = {**POLICY, "authorization": {**POLICY["authorization"], "mode": "audit"}}
    stack = stack_factory("mtls", policy)
    topic = topic_name(stack)
    delivered, failures, errors = harness.produce(stack, "external", topic, [b"dry run"])
    assert (delivered, failures) == (1, []), errors.text()
    audit = stack.envoy.wait_for_log(r'^kafka-audit .*"decision":"audit-denied"')
    assert '"principal":"User:external-kafkauser"' in audit and f'"resourceName":"{topic}"' in audit
    assert harness.consume(stack, "mesh-default", topic, 1, timeout=20) == [b"dry run"]


def test_kcat_reports_topic_authorization_failed(stack_factory, topic_name):
    import subprocess

    stack = stack_factory("mtls", POLICY)
    topic = topic_name(stack)
    args = [
        "kcat", "-P", "-b", stack.bootstrap, "-t", topic, "-p", "0",
        "-X", "security.protocol=ssl", "-X", f"ssl.ca.location={stack.cert_dir / 'ca.crt'}",
        "-X", f"ssl.certificate.location={stack.cert_dir / 'external.crt'}",
        "-X", f"ssl.key.location={stack.cert_dir / 'external.key'}",
    ]  # fmt: skip
    out = subprocess.run(args, input="denied line\n", env=harness.kcat_env(), capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert "Topic authorization failed" in out.stderr, out.stderr
    assert harness.consume(stack, "mesh-default", topic, 1, timeout=4) == []

"""Envoy's TLS handshake in front of the filter: certificates from another CA never reach the filter."""

from __future__ import annotations

import harness
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
import pytest


def metadata_error(stack: harness.Stack, cert: str | None) -> tuple[str, harness.ClientErrors]:
    errors = harness.ClientErrors()
    config = stack.client_config(cert)
    config["error_cb"] = errors
    admin = AdminClient(config)
    with pytest.raises(KafkaException) as raised:
        admin.list_topics(timeout=5)
    return str(raised.value), errors


def test_rogue_ca_certificate_is_refused_by_the_handshake(stack_factory, topic_name):
    stack = stack_factory("mtls")
    topic = topic_name(stack)
    _, errors = metadata_error(stack, "rogue")
    assert "SSL" in errors.text() or "ssl" in errors.text(), errors.text()
    assert stack.envoy.stat_sum(r"\.ssl\.fail_verify_error$") >= 1
    # Nothing produced with that certificate arrives; the filter never saw the connection.
    delivered, failures, _ = harness.produce(stack, "rogue", topic, [b"x"], timeout=5)
    assert delivered == 0 and failures
    assert not any("principal" in line for line in stack.envoy.filter_log_lines())


def test_missing_client_certificate_is_refused_on_the_mtls_listener(stack_factory):
    stack = stack_factory("mtls")
    metadata_error(stack, None)
    assert stack.envoy.stat_sum(r"\.ssl\.fail_verify_no_cert$") >= 1


def test_in_mesh_certificate_gets_metadata(stack_factory, topic_name):
    stack = stack_factory("mtls")
    topic = topic_name(stack)
    admin = AdminClient(stack.client_config("mesh-default"))
    metadata = admin.list_topics(timeout=10)
    assert topic in metadata.topics
    # The broker advertises the Envoy listener, so clients stay behind the filter.
    assert [f"{b.host}:{b.port}" for b in metadata.brokers.values()] == [stack.bootstrap]

"""Envoy's TLS handshake in front of the filter: certificates from another CA never reach the filter."""

from __future__ import annotations

import socket
import ssl
import time

import harness
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
import pytest


def wait_for_stat(stack: harness.Stack, pattern: str, at_least: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while stack.envoy.stat_sum(pattern) < at_least:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def metadata_error(stack: harness.Stack, cert: str | None) -> tuple[str, harness.ClientErrors]:
    errors = harness.ClientErrors()
    config = stack.client_config(cert)
    config["error_cb"] = errors
    admin = AdminClient(config)
    with pytest.raises(KafkaException) as raised:
        admin.list_topics(timeout=5)
    admin.poll(1)  # serves the error callbacks
    return str(raised.value), errors


def test_rogue_ca_certificate_is_refused_by_the_handshake(stack_factory, topic_name, cert_dir):
    stack = stack_factory("mtls")
    topic = topic_name(stack)
    # A TLS client that sends the rogue certificate whatever the server asks for: Envoy's verification fails.
    context = ssl.create_default_context(cafile=str(cert_dir / "ca.crt"))
    context.load_cert_chain(str(cert_dir / "rogue.crt"), str(cert_dir / "rogue.key"))
    # With TLS 1.3 the client learns of the refusal as an alert or as EOF, depending on timing.
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with socket.create_connection(("127.0.0.1", stack.envoy.listen_port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"\0\0\0\0")
                if not tls.recv(1):
                    raise ConnectionError("closed")
    assert wait_for_stat(stack, r"\.ssl\.fail_verify_error$", 1)

    # librdkafka does not even offer a certificate whose issuer is not among the CAs Envoy names, so the
    # handshake fails for want of a certificate; either way nothing is produced and the filter sees nothing.
    _, errors = metadata_error(stack, "rogue")
    assert "SSL" in errors.text(), errors.text()
    delivered, failures, _ = harness.produce(stack, "rogue", topic, [b"x"], timeout=5)
    assert delivered == 0 and failures
    assert wait_for_stat(stack, r"\.ssl\.fail_verify_(error|no_cert)$", 2)
    assert not any("principal" in line for line in stack.envoy.filter_log_lines())


def test_missing_client_certificate_is_refused_on_the_mtls_listener(stack_factory):
    stack = stack_factory("mtls")
    metadata_error(stack, None)
    assert wait_for_stat(stack, r"\.ssl\.fail_verify_no_cert$", 1)


def test_in_mesh_certificate_gets_metadata(stack_factory, topic_name):
    stack = stack_factory("mtls")
    topic = topic_name(stack)
    admin = AdminClient(stack.client_config("mesh-default"))
    metadata = admin.list_topics(timeout=10)
    assert topic in metadata.topics
    # The broker advertises the Envoy listener, so clients stay behind the filter.
    assert [f"{b.host}:{b.port}" for b in metadata.brokers.values()] == [stack.bootstrap]

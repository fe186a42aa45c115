"""The principal the filter derives from the peer certificate, as it logs it, and connections it refuses."""

from __future__ import annotations

import re

import harness
import pytest

from conftest import IDENTITY

pytestmark = pytest.mark.filter

NO_DEFAULT_RULE = {**IDENTITY, "subject": {"mappingRules": "RULE:^CN=([^,]+),O=acme$/$1/L"}}


def produce_one(stack, cert, topic, timeout=30.0):
    return harness.produce(stack, cert, topic, [b"hello from " + (cert or "nobody").encode()], timeout=timeout)


@pytest.mark.parametrize(
    "cert, principal",
    [
        ("mesh-default", "User:CN=kafka-default"),
        ("mesh-admin", "User:CN=kafka-admin"),
        ("mesh-checkout", "User:CN=payments-checkout"),
    ],
)
def test_in_mesh_certificate_maps_spiffe_id_to_principal(stack_factory, topic_name, cert, principal):
    stack = stack_factory("mtls")
    topic = topic_name(stack)
    delivered, failures, errors = produce_one(stack, cert, topic)
    assert (delivered, failures) == (1, []), errors.text()
    stack.envoy.wait_for_log(rf"from 127\.0\.0\.1:\d+: principal {principal} \(spiffe\)$")


def test_outside_certificate_maps_subject_with_rules(stack_factory, topic_name):
    stack = stack_factory("mtls")
    topic = topic_name(stack)
    delivered, failures, errors = produce_one(stack, "external", topic)
    assert (delivered, failures) == (1, []), errors.text()
    stack.envoy.wait_for_log(r"principal User:external-kafkauser \(subject\)$")
    assert harness.consume(stack, "external", topic, 1, timeout=20) == [b"hello from external"]


def test_subject_matching_no_rule_is_refused_and_cannot_produce(stack_factory, topic_name):
    stack = stack_factory("mtls", {"identity": NO_DEFAULT_RULE})
    topic = topic_name(stack)
    delivered, failures, _ = produce_one(stack, "stranger", topic, timeout=8)
    assert delivered == 0 and failures
    stack.envoy.wait_for_log(r"from 127\.0\.0\.1:\d+: refused: ")
    # The refusal reason itself may say "no principal mapping rule": look for the identified-line shape.
    assert not any(re.search(r"from \S+: principal ", line) for line in stack.envoy.filter_log_lines())
    # Nothing reached the broker: a permitted client finds the topic empty.
    assert harness.consume(stack, "mesh-default", topic, 1, timeout=4) == []


def test_subject_matching_no_rule_falls_back_to_default_rule(stack_factory, topic_name):
    stack = stack_factory("mtls")
    topic = topic_name(stack)
    delivered, failures, errors = produce_one(stack, "stranger", topic)
    assert (delivered, failures) == (1, []), errors.text()
    stack.envoy.wait_for_log(r"principal User:CN=stranger,O=elsewhere \(subject\)$")


def test_no_client_certificate_is_refused_when_unauthenticated_is_deny(stack_factory, topic_name):
    stack = stack_factory("tls-optional")
    topic = topic_name(stack)
    delivered, failures, _ = produce_one(stack, None, topic, timeout=8)
    assert delivered == 0 and failures
    stack.envoy.wait_for_log(r"from 127\.0\.0\.1:\d+: refused: ")
    assert harness.consume(stack, "mesh-default", topic, 1, timeout=4) == []


def test_no_client_certificate_is_anonymous_when_allowed(stack_factory, topic_name):
    stack = stack_factory("tls-optional", {"identity": {**IDENTITY, "unauthenticated": "anonymous"}})
    topic = topic_name(stack)
    delivered, failures, errors = produce_one(stack, None, topic)
    assert (delivered, failures) == (1, []), errors.text()
    stack.envoy.wait_for_log(r"principal User:ANONYMOUS \(anonymous\)$")
    # A certificate on the same listener still gets its own identity.
    delivered, failures, errors = produce_one(stack, "mesh-default", topic)
    assert (delivered, failures) == (1, []), errors.text()
    stack.envoy.wait_for_log(r"principal User:CN=kafka-default \(spiffe\)$")
    assert len(harness.consume(stack, "mesh-default", topic, 2, timeout=20)) == 2


def test_plaintext_listener_is_anonymous_when_allowed(stack_factory, topic_name):
    stack = stack_factory("plain", {"identity": {**IDENTITY, "unauthenticated": "anonymous"}})
    topic = topic_name(stack)
    delivered, failures, errors = produce_one(stack, None, topic)
    assert (delivered, failures) == (1, []), errors.text()
    stack.envoy.wait_for_log(r"principal User:ANONYMOUS \(anonymous\)$")


def test_plaintext_listener_is_refused_when_unauthenticated_is_deny(stack_factory, topic_name):
    stack = stack_factory("plain")
    topic = topic_name(stack)
    delivered, failures, _ = produce_one(stack, None, topic, timeout=8)
    assert delivered == 0 and failures
    stack.envoy.wait_for_log(r"refused: ")

"""Policy updates and open connections (issue 22): a standalone Envoy takes the filter's configuration by
extension config discovery (ECDS) from a file replaced by atomic rename, as Istio delivers a WasmPlugin's
`pluginConfig`. One producer connection (a raw mTLS socket sending Produce v3 requests, so there is exactly one
connection) stays open while the ACL that lets it write is revoked and granted back.

Kafka applies an ACL change to every open connection at the next request; so does the filter: each configuration
Envoy accepts is published through proxy-wasm shared data, and an open connection takes the newest at its next
request (what Envoy does on such an update, and the design: integration/bench/POLICY-UPDATES.md). A
configuration the filter refuses is rejected by Envoy and leaves the policy in force, for open and new
connections. About 20 s: one broker and one Envoy for the module.
"""

from __future__ import annotations

import itertools
import struct

import harness
import pytest
from conftest import IDENTITY, WITH_FILTER

pytestmark = pytest.mark.filter

PRINCIPAL = "User:CN=kafka-default"  # mesh-default's principal
TOPIC_AUTHORIZATION_FAILED = 29
PRODUCE = 0
PRODUCE_VERSION = 3  # the oldest Produce Apache Kafka 4 serves; non-flexible, so easy to build by hand


def policy(may_write: bool) -> dict:
    """mesh-default may Describe and Read the `it-` topics, and Write them when `may_write`."""
    operations = ["Describe", "Read", "Write"] if may_write else ["Describe", "Read"]
    return {
        "identity": IDENTITY,
        "authorization": {
            "mode": "enforce",
            "users": [{"principal": PRINCIPAL, "acls": [
                {"resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                 "operations": operations, "type": "allow"},
            ]}],
        },
    }  # fmt: skip


GRANTED, REVOKED = policy(True), policy(False)


class Producer:
    """One mTLS connection through Envoy sending Produce v3 (acks=1) with one record each."""

    def __init__(self, stack: harness.Stack, cert: str = "mesh-default"):
        self.sock = harness.tls_socket(stack, cert)
        self.correlation_ids = itertools.count(1)

    def produce(self, topic: str, value: bytes) -> tuple[int, int]:
        """Sends one record to partition 0 of `topic`; returns the partition's error code and base offset."""
        from kafka.record.default_records import DefaultRecordBatchBuilder

        batch = DefaultRecordBatchBuilder(
            magic=2, compression_type=0, is_transactional=False, producer_id=-1, producer_epoch=-1,
            base_sequence=-1, batch_size=1 << 20,
        )  # fmt: skip
        batch.append(0, timestamp=None, key=None, value=value, headers=[])
        records = bytes(batch.build())
        correlation_id = next(self.correlation_ids)
        body = (
            struct.pack(">h", -1)  # transactional_id: null
            + struct.pack(">hi", 1, 10_000)  # acks=1, timeout
            + struct.pack(">i", 1) + harness.kafka_string(topic)
            + struct.pack(">i", 1) + struct.pack(">i", 0)  # one partition: 0
            + struct.pack(">i", len(records)) + records
        )  # fmt: skip
        header = struct.pack(">hhi", PRODUCE, PRODUCE_VERSION, correlation_id) + harness.kafka_string("it-policy")
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        response = harness.read_frame(self.sock)
        (got_correlation_id,) = struct.unpack_from(">i", response, 0)
        assert got_correlation_id == correlation_id
        # responses: [name, [partition, error_code, base_offset, log_append_time]], throttle_time_ms
        offset = 4
        (topics,) = struct.unpack_from(">i", response, offset)
        assert topics == 1
        (name_len,) = struct.unpack_from(">h", response, offset + 4)
        offset += 6 + name_len
        assert response[offset - name_len : offset].decode() == topic
        partitions, partition, error_code, base_offset = struct.unpack_from(">iihq", response, offset)
        assert (partitions, partition) == (1, 0)
        return error_code, base_offset

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def ecds_stack(cert_dir):
    if not WITH_FILTER:
        pytest.skip("KMF_NO_FILTER=1")
    stack = harness.Stack(listener="mtls", plugin_config=GRANTED, name="test_policy_updates-ecds", ecds=True)
    yield stack
    stack.stop()


@pytest.fixture
def granted_stack(ecds_stack):
    """The module's stack with the write grant in force (each test starts from it)."""
    ecds_stack.envoy.update_filter_config(GRANTED)
    return ecds_stack


def fresh_topic(stack: harness.Stack, name: str) -> str:
    topic = f"it-policy-{name}-{next(_topics)}"
    stack.create_topic(topic)
    return topic


_topics = itertools.count(1)


def test_new_connections_follow_a_revoked_and_regranted_acl_delivered_by_ecds(granted_stack):
    stack = granted_stack
    topic = fresh_topic(stack, "new")
    first = Producer(stack)
    try:
        assert first.produce(topic, b"granted") == (0, 0)
    finally:
        first.close()

    stack.envoy.update_filter_config(REVOKED)
    revoked = Producer(stack)
    try:
        assert revoked.produce(topic, b"revoked")[0] == TOPIC_AUTHORIZATION_FAILED
    finally:
        revoked.close()
    stack.envoy.wait_for_log(rf'^kafka-audit (?=.*"decision":"denied")(?=.*"resourceName":"{topic}")')

    stack.envoy.update_filter_config(GRANTED)
    regranted = Producer(stack)
    try:
        # Offset 1: the denied record never reached the broker.
        assert regranted.produce(topic, b"granted again") == (0, 1)
    finally:
        regranted.close()
    assert harness.consume(stack, "mesh-default", topic, 2, timeout=30) == [b"granted", b"granted again"]


def test_open_connection_follows_a_revoked_and_regranted_acl_delivered_by_ecds(granted_stack):
    stack = granted_stack
    topic = fresh_topic(stack, "open")
    producer = Producer(stack)
    try:
        assert producer.produce(topic, b"before") == (0, 0)

        stack.envoy.update_filter_config(REVOKED)
        # The next request on the same connection after Envoy took the update is decided on the new policy.
        assert producer.produce(topic, b"revoked")[0] == TOPIC_AUTHORIZATION_FAILED

        stack.envoy.update_filter_config(GRANTED)
        assert producer.produce(topic, b"after") == (0, 1)
    finally:
        producer.close()
    assert harness.consume(stack, "mesh-default", topic, 2, timeout=30) == [b"before", b"after"]


def test_a_refused_configuration_leaves_the_policy_in_force(granted_stack):
    stack = granted_stack
    topic = fresh_topic(stack, "refused")
    producer = Producer(stack)
    try:
        assert producer.produce(topic, b"before") == (0, 0)
        # An unknown field: the filter refuses the configuration in Envoy's first (canary) VM, and Envoy's
        # extension config discovery rejects the update.
        broken = {**REVOKED, "authorization": {**REVOKED["authorization"], "mode": "enforce-harder"}}
        with pytest.raises(harness.HarnessError, match="refused the filter configuration"):
            stack.envoy.update_filter_config(broken)
        stack.envoy.wait_for_log(r"invalid configuration, refusing to load")
        # The open connection and a new one both keep the policy in force.
        assert producer.produce(topic, b"open") == (0, 1)
    finally:
        producer.close()
    fresh = Producer(stack)
    try:
        assert fresh.produce(topic, b"new") == (0, 2)
    finally:
        fresh.close()
    # The next valid update is taken as usual (the harness's file now holds the refused one).
    stack.envoy.update_filter_config(REVOKED)
    revoked = Producer(stack)
    try:
        assert revoked.produce(topic, b"revoked")[0] == TOPIC_AUTHORIZATION_FAILED
    finally:
        revoked.close()


def test_an_open_connection_in_an_old_vm_follows_a_revoke(granted_stack):
    """A change of the VM configuration (here a VM environment key, as Istio's resource version for a `file://`
    module) makes Envoy create new VMs; the open connection stays in its old VM, which runs no `on_configure`,
    and reads what the new VMs published in the shared head at its next request."""
    stack = granted_stack
    topic = fresh_topic(stack, "old-vm")
    producer = Producer(stack)
    try:
        assert producer.produce(topic, b"before") == (0, 0)
        stack.envoy.update_filter_config(REVOKED, vm_env={"KMF_TEST_VM_GENERATION": "2"})
        assert producer.produce(topic, b"revoked")[0] == TOPIC_AUTHORIZATION_FAILED
        stack.envoy.update_filter_config(GRANTED, vm_env={"KMF_TEST_VM_GENERATION": "3"})
        assert producer.produce(topic, b"after") == (0, 1)
    finally:
        producer.close()
    stack.envoy.wait_for_log(r"policy generation \d+ applied")

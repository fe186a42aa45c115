"""Kafka traffic through Envoy + the filter with an in-mesh client certificate: what goes in comes back out,
byte for byte and in order, also pipelined and with a single request far larger than one read."""

from __future__ import annotations

import hashlib
import os
import time

import harness
import pytest


def message_values(count: int, seed: bytes, min_size: int = 1, max_size: int = 2000) -> list[bytes]:
    """Deterministic messages of varied sizes and binary content, each naming its index."""
    values = []
    for index in range(count):
        digest = hashlib.sha256(seed + index.to_bytes(4, "big")).digest()
        size = min_size + int.from_bytes(digest[:4], "big") % (max_size - min_size + 1)
        body = (digest * (size // len(digest) + 1))[:size]
        values.append(b"%08d:" % index + body)
    return values


def envoy_cpu_seconds(stack: harness.Stack) -> float:
    fields = (
        open(f"/proc/{stack.envoy.process.popen.pid}/stat").read().rpartition(")")[2].split()
    )  # fields after the command name; utime and stime are fields 14 and 15 of the full line
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def test_ten_thousand_messages_round_trip_byte_identical(mesh_stack, topic_name):
    topic = topic_name(mesh_stack)
    values = message_values(10_000, b"round-trip")
    delivered, failures, errors = harness.produce(mesh_stack, "mesh-default", topic, values)
    assert failures == [], f"delivery failures: {failures[:5]}; client errors: {errors.text()}"
    assert delivered == len(values)

    consumed = harness.consume(mesh_stack, "mesh-default", topic, len(values))
    assert len(consumed) == len(values)
    # Order within the partition and every byte are preserved.
    for index, (sent, received) in enumerate(zip(values, consumed)):
        assert received == sent, f"message {index} differs"


@pytest.mark.slow
def test_pipelined_producer_completes_without_errors(mesh_stack, topic_name, capsys):
    topic = topic_name(mesh_stack)
    count = 100_000
    values = message_values(count, b"pipelined", min_size=100, max_size=300)
    cpu_before = envoy_cpu_seconds(mesh_stack)
    started = time.monotonic()
    delivered, failures, errors = harness.produce(
        mesh_stack,
        "mesh-default",
        topic,
        values,
        timeout=120,
        **{"max.in.flight.requests.per.connection": 5, "linger.ms": 2, "batch.num.messages": 500},
    )
    elapsed = time.monotonic() - started
    envoy_cpu = envoy_cpu_seconds(mesh_stack) - cpu_before
    assert failures == [], f"delivery failures: {failures[:5]}; client errors: {errors.text()}"
    assert delivered == count
    # Requests librdkafka had to retry or that timed out would show up as client errors.
    assert not errors.errors, errors.text()
    with capsys.disabled():
        print(
            f"\n[pipelined producer] {count} messages in {elapsed:.2f} s = {count / elapsed:,.0f} msg/s;"
            f" Envoy CPU {envoy_cpu:.2f} s"
        )
    consumed = harness.consume(mesh_stack, "mesh-default", topic, count, timeout=120)
    assert len(consumed) == count
    assert consumed[0] == values[0] and consumed[-1] == values[-1]


@pytest.mark.slow
def test_single_ten_mebibyte_message_round_trips(mesh_stack, topic_name):
    topic = topic_name(mesh_stack)
    size = 10 * 1024 * 1024
    value = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size // 32))
    assert len(value) == size
    big = {"message.max.bytes": 16 * 1024 * 1024}
    delivered, failures, errors = harness.produce(mesh_stack, "mesh-default", topic, [value], timeout=60, **big)
    assert failures == [], f"delivery failures: {failures}; client errors: {errors.text()}"
    assert delivered == 1

    consumed = harness.consume(
        mesh_stack,
        "mesh-default",
        topic,
        1,
        timeout=60,
        **{"fetch.max.bytes": 32 * 1024 * 1024, "max.partition.fetch.bytes": 16 * 1024 * 1024},
    )
    assert len(consumed) == 1
    assert hashlib.sha256(consumed[0]).hexdigest() == hashlib.sha256(value).hexdigest()

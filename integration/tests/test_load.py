"""Many concurrent pipelined producers through Envoy + the filter, then everything consumed back and checked:
nothing lost, nothing duplicated, nothing reordered within a partition.

Each producer is its own librdkafka client (its own connections), runs in its own thread, sends with up to 5
requests in flight (idempotent, so Apache Kafka itself checks the order of every batch), and numbers its messages. Producer k sends its message n to partition (k + n) mod P, so
every partition interleaves many producers and each producer's numbers must increase within each partition.

The light variant (20 producers, 50,000 messages) runs by default; the full one (200 producers, 1,000,000
messages) only with KMF_LOAD=1.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict

import harness
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from conftest import WRITER_POLICY

POLICY = WRITER_POLICY

PARTITIONS = 8
VALUE_PADDING = b"." * 80

FULL_LOAD = os.environ.get("KMF_LOAD", "") in ("1", "true", "yes")


def encode(producer_id: int, sequence: int) -> bytes:
    return b"%04d:%08d:" % (producer_id, sequence) + VALUE_PADDING


def decode(value: bytes) -> tuple[int, int]:
    return int(value[:4]), int(value[5:13])


class ProducerRun:
    """One producer thread: `count` numbered messages, pipelined; records what librdkafka reports."""

    def __init__(self, stack: harness.Stack, topic: str, producer_id: int, count: int):
        self.producer_id = producer_id
        self.count = count
        self.topic = topic
        self.acknowledged = 0
        self.failures: list = []
        self.client_errors = harness.ClientErrors()
        config = stack.client_config(
            "mesh-default",
            **{
                "client.id": f"it-load-{producer_id}",
                "acks": "all",
                "max.in.flight.requests.per.connection": 5,
                "linger.ms": 5,
                "batch.num.messages": 200,
                "message.timeout.ms": 300_000,
                # Without idempotence a retried batch (Apache Kafka answers the first produces to a new topic
                # NOT_LEADER_OR_FOLLOWER until every partition has its leader) may land after a later one: Kafka's
                # own ordering rule. With it the broker checks every batch's sequence number, so a request the filter
                # reordered, lost or duplicated would fail the producer rather than go unseen.
                "enable.idempotence": True,
            },
        )
        config["error_cb"] = self.client_errors
        self.producer = Producer(config)
        self.remaining = None
        self.thread = threading.Thread(target=self.run, name=f"producer-{producer_id}")

    def on_delivery(self, err, msg) -> None:
        if err is None:
            self.acknowledged += 1
        else:
            self.failures.append(err)

    def run(self) -> None:
        for sequence in range(self.count):
            partition = (self.producer_id + sequence) % PARTITIONS
            value = encode(self.producer_id, sequence)
            while True:
                try:
                    self.producer.produce(self.topic, value=value, partition=partition, on_delivery=self.on_delivery)
                    break
                except BufferError:
                    self.producer.poll(0.01)
            if sequence % 100 == 0:
                self.producer.poll(0)
        self.remaining = self.producer.flush(300)


def consume_all(stack: harness.Stack, topic: str, expected: int, timeout: float) -> dict[int, list[bytes]]:
    """Every message of every partition, in offset order per partition."""
    consumer = Consumer(
        stack.client_config(
            "mesh-default",
            **{"group.id": "kmf-it-load", "enable.auto.commit": False, "auto.offset.reset": "earliest"},
        )
    )
    by_partition: dict[int, list[bytes]] = defaultdict(list)
    received = 0
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        deadline = time.monotonic() + timeout
        idle_since = None
        while time.monotonic() < deadline:
            batch = consumer.consume(num_messages=10_000, timeout=0.5)
            for msg in batch:
                if msg.error():
                    continue
                by_partition[msg.partition()].append(msg.value())
                received += 1
            if received >= expected:
                # Keep reading briefly: duplicates beyond the expected count must be seen too.
                idle_since = idle_since or time.monotonic()
                if not batch and time.monotonic() - idle_since > 1.5:
                    break
    finally:
        consumer.close()
    return by_partition


def run_load(stack: harness.Stack, topic_name, producers: int, total: int, capsys) -> None:
    topic = topic_name(stack, PARTITIONS)
    per_producer = total // producers
    runs = [ProducerRun(stack, topic, producer_id, per_producer) for producer_id in range(producers)]
    cpu_before = envoy_cpu_seconds(stack)
    started = time.monotonic()
    for run in runs:
        run.thread.start()
    active_name = f"listener.127.0.0.1_{stack.envoy_port}.downstream_cx_active"
    peak_connections = 0
    while True:
        producing = any(run.thread.is_alive() for run in runs)
        # The producers stay connected until they are closed, so a last look after they finish counts too.
        peak_connections = max(peak_connections, stack.envoy.stats("listener.").get(active_name, 0))
        if not producing:
            break
        time.sleep(0.5)
    produce_seconds = time.monotonic() - started
    envoy_cpu = envoy_cpu_seconds(stack) - cpu_before

    failures = [f for run in runs for f in run.failures]
    assert failures == [], f"{len(failures)} delivery failures, e.g. {failures[:3]}"
    assert all(run.remaining == 0 for run in runs)
    assert sum(run.acknowledged for run in runs) == per_producer * producers
    # Each producer really had its own connection to Envoy, all open at the same time.
    assert peak_connections >= producers, peak_connections

    started = time.monotonic()
    by_partition = consume_all(stack, topic, per_producer * producers, timeout=max(120, total / 2000))
    consume_seconds = time.monotonic() - started

    seen: dict[int, set] = defaultdict(set)
    duplicates = reordered = 0
    for partition, values in by_partition.items():
        last_sequence: dict[int, int] = {}
        for value in values:
            producer_id, sequence = decode(value)
            assert (producer_id + sequence) % PARTITIONS == partition, f"{producer_id}:{sequence} in partition {partition}"
            if sequence in seen[producer_id]:
                duplicates += 1
            seen[producer_id].add(sequence)
            if sequence <= last_sequence.get(producer_id, -1):
                reordered += 1
            last_sequence[producer_id] = sequence
    lost = sum(per_producer - len(seen[producer_id]) for producer_id in range(producers))
    assert (lost, duplicates, reordered) == (0, 0, 0), f"lost {lost}, duplicated {duplicates}, reordered {reordered}"
    stack.envoy.wait_for_filter_counters()
    assert stack.envoy.stat_sum(r"kafka_filter\.requests.*decision=denied") == 0
    with capsys.disabled():
        print(
            f"\n[load] {producers} producers, {per_producer * producers:,} messages: produced in {produce_seconds:.1f} s"
            f" ({per_producer * producers / produce_seconds:,.0f} msg/s), consumed in {consume_seconds:.1f} s;"
            f" peak {peak_connections} client connections; Envoy CPU {envoy_cpu:.2f} s; 0 lost/duplicated/reordered"
        )
    failures_in_log = [line for line in stack.envoy.log_text().splitlines() if "panicked at" in line or "Uncaught RuntimeError" in line]
    assert not failures_in_log, failures_in_log[:5]


def envoy_cpu_seconds(stack: harness.Stack) -> float:
    fields = open(f"/proc/{stack.envoy.process.popen.pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
def test_twenty_pipelined_producers_fifty_thousand_messages(stack_factory, topic_name, capsys):
    stack = stack_factory("mtls", POLICY)
    run_load(stack, topic_name, producers=20, total=50_000, capsys=capsys)


@pytest.mark.slow
@pytest.mark.skipif(not FULL_LOAD, reason="the full load test runs with KMF_LOAD=1")
def test_two_hundred_pipelined_producers_one_million_messages(stack_factory, topic_name, capsys):
    stack = stack_factory("mtls", POLICY)
    run_load(stack, topic_name, producers=200, total=1_000_000, capsys=capsys)

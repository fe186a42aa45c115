"""Three Apache Kafka brokers behind three Envoys (the Istio topology: a sidecar beside each broker), with the
filter enforcing one policy in each. Node i advertises Envoy i; a client bootstraps through Envoy 1 and Metadata
sends it to the others. Produce, consume in a group, a transactional producer and admin operations work across
the cluster; each Envoy's log and metrics show the client's principal; a denial comes from a non-bootstrap Envoy.

One cluster serves the whole module (a 3-node cluster takes tens of seconds to start on 2 cores)."""

from __future__ import annotations

import os
import threading
import time

import harness
import pytest
from harness.cluster import Cluster, audit_lines, connection_principals, prometheus, sample
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from conftest import IDENTITY, WITH_FILTER
from test_faults import (
    VM_FAILURE,
    GroupReader,
    Ledger,
    assert_exactly_once_in_order,
    consume_partitions_until_idle,
    idempotent_producer,
    send,
)
from test_java_clients import client_properties, java_classes, java_client  # noqa: F401 - java_classes: a fixture

pytestmark = pytest.mark.filter

DEFAULT = "User:CN=kafka-default"
CHECKOUT = "User:CN=payments-checkout"

POLICY = {
    "identity": IDENTITY,
    "authorization": {
        "mode": "enforce",
        "superUsers": ["User:CN=kafka-admin"],
        "users": [
            {
                "principal": DEFAULT,
                "acls": [
                    {"resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                     "operations": ["Read", "Write", "Describe", "Create", "Alter", "DescribeConfigs"]},
                    {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"},
                     "operations": ["Read", "Describe"]},
                    {"resource": {"type": "transactionalId", "name": "kmf-", "patternType": "prefix"},
                     "operations": ["Write", "Describe"]},
                    {"resource": {"type": "cluster"}, "operations": ["DescribeConfigs"]},
                ],
            },
            {
                # May see the it- topics, may not write them.
                "principal": CHECKOUT,
                "acls": [{"resource": {"type": "topic", "name": "it-", "patternType": "prefix"},
                          "operations": ["Describe"]}],
            },
        ],
    },
    # One audit line per allowed access too: each Envoy's log then shows who did what through it.
    "observability": {"auditAllowed": True},
}  # fmt: skip

NODES = (1, 2, 3)


@pytest.fixture(scope="module")
def cluster():
    if harness.BROKER != "kafka" or os.environ.get("KAFKA_BOOTSTRAP"):
        pytest.skip("starts its own three Apache Kafka nodes")
    with Cluster("test_cluster-3", POLICY, nodes=3, with_filter=WITH_FILTER) as started:
        yield started


def new_topic(cluster: Cluster, name: str, partitions: int = 3, config: dict | None = None) -> str:
    topic = f"it-cluster-{name}-{time.monotonic_ns() % 10**9}"
    cluster.create_topic(topic, partitions=partitions, replication_factor=3, config=config)
    return topic


def admin_through_envoy(cluster: Cluster, cert: str) -> AdminClient:
    return AdminClient(cluster.client_config(cert))


def produce_spread(cluster: Cluster, cert: str, topic: str, count: int, **overrides) -> tuple[list, list]:
    """`count` messages over partitions 0..2 in turn (acks=all); returns (delivered (partition, value), errors)."""
    producer = Producer(cluster.client_config(cert, **{"acks": "all", "linger.ms": 5, **overrides}))
    delivered, failures = [], []

    def on_delivery(err, msg):
        (failures if err else delivered).append(err or (msg.partition(), msg.value()))

    for i in range(count):
        producer.produce(topic, value=b"m-%05d" % i, partition=i % 3, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0
    return delivered, failures


def consume_in_group(cluster: Cluster, cert: str, topics: list[str], group: str, count: int, timeout: float = 90.0,
                     **overrides) -> tuple[Consumer, list]:
    """A consumer that subscribes to `topics` in `group` and reads `count` messages; returned open (the caller
    closes it) with the messages."""
    consumer = Consumer(cluster.client_config(cert, **{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False, **overrides}))
    consumer.subscribe(topics)
    messages = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=500, timeout=0.5):
            if msg.error():
                if msg.error().fatal() or msg.error().code() in (
                    KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED
                ):
                    consumer.close()
                    raise KafkaException(msg.error())
                continue
            messages.append(msg)
    return consumer, messages


def test_metadata_sends_the_client_to_each_brokers_own_envoy(cluster):
    topic = new_topic(cluster, "metadata")
    assert cluster.leaders(topic) == {0: 1, 1: 2, 2: 3}
    metadata = admin_through_envoy(cluster, "mesh-default").list_topics(topic, timeout=20)
    # Through Envoy 1 the client learns all three brokers, each at its own Envoy's address.
    assert {b.id: (b.host, b.port) for b in metadata.brokers.values()} == {
        node: ("127.0.0.1", cluster.envoy_ports[node - 1]) for node in NODES
    }
    assert {p.id: p.leader for p in metadata.topics[topic].partitions.values()} == {0: 1, 1: 2, 2: 3}
    assert all(len(p.replicas) == 3 for p in metadata.topics[topic].partitions.values())


def test_produce_and_group_consume_go_through_every_envoy_as_the_same_principal(cluster):
    topic = new_topic(cluster, "orders")
    delivered, failures = produce_spread(cluster, "mesh-default", topic, 300)
    assert failures == [] and len(delivered) == 300
    assert {p for p, _ in delivered} == {0, 1, 2}

    consumer, messages = consume_in_group(cluster, "mesh-default", [topic], "kmf-cluster-orders", 300)
    try:
        assert sorted(m.value() for m in messages) == sorted(v for _, v in delivered)
        # Offsets committed to the group coordinator (one of the three nodes, through its Envoy).
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=20)
        assert {tp.partition: tp.offset for tp in committed} == {0: 100, 1: 100, 2: 100}
    finally:
        consumer.close()

    # Each broker led one partition, so each Envoy carried that partition's Produce and Fetch requests: each
    # saw the client's certificate, mapped it to the same principal, and audited and counted its traffic.
    for node in NODES:
        envoy = cluster.envoy_of(node)
        assert DEFAULT in connection_principals(envoy), f"Envoy {node}: {connection_principals(envoy)}"
        allowed = [a for a in audit_lines(envoy) if a["decision"] == "allowed" and a.get("resourceName") == topic]
        assert {(a["api"], a["principal"]) for a in allowed} >= {("Produce", DEFAULT), ("Fetch", DEFAULT)}, (
            f"Envoy {node}: {sorted({(a['api'], a['principal']) for a in allowed})}"
        )
        assert all(a["identitySource"] == "spiffe" for a in allowed)
        text = prometheus(envoy)
        assert sample(text, "kafka_filter_requests", api="Produce", decision="allowed") >= 1, f"Envoy {node}"
        assert sample(text, "kafka_filter_produced_bytes_by_topic", principal=DEFAULT, topic=topic) > 0, f"Envoy {node}"
        assert sample(text, "kafka_filter_fetched_bytes_by_topic", principal=DEFAULT, topic=topic) > 0, f"Envoy {node}"
        assert sample(text, "kafka_filter_connections", identity_source="spiffe") >= 1
        assert sample(text, "kafka_filter_denied_by_principal", principal=DEFAULT) == 0, f"Envoy {node}"
    # The group's requests went to its coordinator, whichever node that is, through that node's Envoy.
    group_apis = {
        (a["api"], a["principal"])
        for node in NODES for a in audit_lines(cluster.envoy_of(node))
        if a.get("resourceType") == "Group" and a.get("resourceName") == "kmf-cluster-orders"
    }  # fmt: skip
    assert {("JoinGroup", DEFAULT), ("SyncGroup", DEFAULT), ("OffsetCommit", DEFAULT)} <= group_apis, group_apis


def test_transactional_consume_transform_produce_across_the_cluster(cluster):
    source, sink = new_topic(cluster, "txn-in"), new_topic(cluster, "txn-out")
    delivered, failures = produce_spread(cluster, "mesh-default", source, 60)
    assert failures == [] and len(delivered) == 60

    group = "kmf-cluster-txn"
    consumer, messages = consume_in_group(cluster, "mesh-default", [source], group, 60)
    try:
        assert len(messages) == 60
        producer = Producer(cluster.client_config("mesh-default", **{"transactional.id": "kmf-cluster-txn-1"}))
        producer.init_transactions(30)
        producer.begin_transaction()
        for msg in messages:
            producer.produce(sink, value=msg.value().upper(), partition=msg.partition())
        positions = consumer.position(consumer.assignment())
        producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30)
        committed = consumer.committed([TopicPartition(source, p) for p in range(3)], timeout=20)
        assert {tp.partition: tp.offset for tp in committed} == {0: 20, 1: 20, 2: 20}
    finally:
        consumer.close()

    # A read_committed consumer sees the whole committed transaction, on all three partitions.
    reader = Consumer(cluster.client_config("mesh-default", **{
        "group.id": "kmf-cluster-txn-reader", "isolation.level": "read_committed", "enable.auto.commit": False}))
    try:
        reader.assign([TopicPartition(sink, p, OFFSET_BEGINNING) for p in range(3)])
        values = []
        deadline = time.monotonic() + 60
        while len(values) < 60 and time.monotonic() < deadline:
            values += [m for m in reader.consume(num_messages=100, timeout=0.5) if not m.error()]
        assert sorted(m.value() for m in values) == sorted(v.upper() for _, v in delivered)
        assert {m.partition() for m in values} == {0, 1, 2}
    finally:
        reader.close()

    # The transactional id was checked by the filter of the Envoy in front of the transaction coordinator.
    checks = {
        (a["api"], a["operation"])
        for node in NODES for a in audit_lines(cluster.envoy_of(node))
        if a["decision"] == "allowed" and a["principal"] == DEFAULT and a.get("resourceName") == "kmf-cluster-txn-1"
    }  # fmt: skip
    assert {("InitProducerId", "Write"), ("AddPartitionsToTxn", "Write"), ("AddOffsetsToTxn", "Write"),
            ("EndTxn", "Write")} <= checks, checks  # fmt: skip


def test_admin_operations_across_the_cluster(cluster):
    admin = admin_through_envoy(cluster, "mesh-default")
    topic = f"it-cluster-admin-{time.monotonic_ns() % 10**9}"
    for future in admin.create_topics([NewTopic(topic, 3, 3)], operation_timeout=30).values():
        future.result(timeout=60)
    leaders = cluster.wait_for_leaders(topic, 3)
    assert set(leaders) == {0, 1, 2}

    configs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    (described,) = [f.result(timeout=30) for f in configs.values()]
    assert described["cleanup.policy"].value == "delete"

    for future in admin.create_partitions([NewPartitions(topic, 6)], operation_timeout=30).values():
        future.result(timeout=60)
    cluster.wait_for_leaders(topic, 6)

    # A broker's configs are asked of that broker: one DescribeConfigs through each Envoy.
    before = [sample(prometheus(cluster.envoy_of(n)), "kafka_filter_requests", api="DescribeConfigs") for n in NODES]
    for node in NODES:
        (broker_configs,) = [
            f.result(timeout=30)
            for f in admin.describe_configs([ConfigResource(ConfigResource.Type.BROKER, str(node))]).values()
        ]
        assert broker_configs["node.id"].value == str(node)
    after = [sample(prometheus(cluster.envoy_of(n)), "kafka_filter_requests", api="DescribeConfigs") for n in NODES]
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1]
    for node in NODES:
        broker_checks = [
            a for a in audit_lines(cluster.envoy_of(node))
            if a["api"] == "DescribeConfigs" and a["resourceType"] == "Cluster" and a["principal"] == DEFAULT
        ]  # fmt: skip
        assert broker_checks and all(a["decision"] == "allowed" for a in broker_checks), f"Envoy {node}"

    # The super user sees the new partitions; the leaders were spread by the controller.
    metadata = admin_through_envoy(cluster, "mesh-admin").list_topics(topic, timeout=20)
    assert len(metadata.topics[topic].partitions) == 6


def test_denial_through_a_non_bootstrap_envoy(cluster):
    topic = new_topic(cluster, "denied")
    node = 2
    assert cluster.leaders(topic)[1] == node
    # payments/checkout may Describe the topic (Metadata through Envoy 1 lists it), not Write it: its Produce to
    # partition 1 goes to node 2, through Envoy 2, whose filter answers TOPIC_AUTHORIZATION_FAILED.
    producer = Producer(cluster.client_config("mesh-checkout", **{"message.timeout.ms": 20000, "retries": 0}))
    outcome = []
    producer.produce(topic, value=b"not allowed", partition=1, on_delivery=lambda err, msg: outcome.append(err))
    producer.flush(30)
    assert [e.code() for e in outcome] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]

    denied_on = {
        n: [a for a in audit_lines(cluster.envoy_of(n))
            if a["decision"] == "denied" and a["api"] == "Produce" and a["resourceName"] == topic]
        for n in NODES
    }  # fmt: skip
    assert [len(denied_on[n]) for n in NODES] == [0, 1, 0], denied_on
    (denial,) = denied_on[node]
    assert (denial["principal"], denial["operation"], denial["resourceType"]) == (CHECKOUT, "Write", "Topic")
    assert sample(prometheus(cluster.envoy_of(node)), "kafka_filter_denied_by_principal", principal=CHECKOUT) >= 1
    assert sample(prometheus(cluster.envoy_of(1)), "kafka_filter_denied_by_principal", principal=CHECKOUT) == 0
    # Nothing reached the partition.
    watcher = Consumer(cluster.client_config("mesh-admin", **{"group.id": "kmf-cluster-watermarks"}))
    try:
        assert watcher.get_watermark_offsets(TopicPartition(topic, 1), timeout=20) == (0, 0)
    finally:
        watcher.close()


def test_java_client_across_the_cluster(cluster, java_classes):
    """Kafka's Java client bootstrapping through Envoy 1: an idempotent producer (keyed, so all three partitions
    and their leaders get records) and a group consumer, each broker reached through its own Envoy."""
    topic = new_topic(cluster, "java")
    properties = client_properties(cluster, "mesh-default")
    produced = java_client(java_classes, "produce", properties, topic, 30)
    assert (produced["acked"], produced.get("error")) == (30, None), produced
    consumed = java_client(java_classes, "consume", properties, topic, "kmf-cluster-java", 30, 60)
    assert consumed.get("error") is None, consumed
    assert sorted(consumed["values"]) == sorted(f"java-{i}" for i in range(30))
    assert len(consumed["committed"]) == 3 and sum(consumed["committed"].values()) == 30, consumed
    for node in NODES:
        apis = {
            a["api"] for a in audit_lines(cluster.envoy_of(node))
            if a["principal"] == DEFAULT and a.get("resourceName") == topic and a["decision"] == "allowed"
        }  # fmt: skip
        assert {"Produce", "Fetch"} <= apis, f"Envoy {node}: {apis}"


# --- faults: one of the three brokers killed (the last test: it kills and restarts node 2) --------------------------


@pytest.mark.slow
def test_one_of_three_brokers_killed_clients_fail_over(cluster):
    """Three Kafka nodes behind three Envoys (integration/harness/cluster.py). Node 2, the leader of partition 1, is
    killed (SIGKILL) under an idempotent producer: partition 1's leadership moves to another node, the
    producer follows it there through that node's Envoy, and nothing acknowledged is lost or duplicated. A group
    consumer polling through the outage (its coordinator may be on node 2) gets every message; a fresh consumer
    reads them all exactly once while node 2 is down; node 2 then comes back and takes traffic again.

    The last test of the module: it kills a node of the module's cluster (and starts it again)."""
    # acks=all with min.insync.replicas=2: an acknowledged message is on two nodes, so it survives one.
    topic = new_topic(cluster, "failover", config={"min.insync.replicas": "2"})
    assert cluster.leaders(topic) == {0: 1, 1: 2, 2: 3}
    errors = harness.ClientErrors()
    producer = idempotent_producer(cluster, errors)
    ledger = Ledger()
    send(producer, ledger, topic, 1_500, partitions=3)
    assert producer.flush(60) == 0 and sorted(ledger.acknowledged) == list(range(1_500)), ledger.failed

    reader = GroupReader(cluster, topic, "kmf-it-failover")
    reader.start()
    stop = threading.Event()
    streamer = threading.Thread(target=send, args=(producer, ledger, topic, 1_000_000, 3, 0.001, stop))
    streamer.start()
    try:
        time.sleep(0.5)
        killed_at = ledger.sent
        cluster.kafka.kill(2)
        new_leaders = cluster.wait_for_leaders(topic, 3, timeout=90, exclude=2)
        moved_at = ledger.sent
        while ledger.sent < moved_at + 3_000 and streamer.is_alive():
            time.sleep(0.05)
    finally:
        stop.set()
        streamer.join(60)
    assert producer.flush(200) == 0
    assert 1_500 < killed_at < moved_at < ledger.sent
    assert new_leaders[1] in (1, 3), new_leaders
    failover = cluster.envoy_of(new_leaders[1])
    # Messages to partition 1 after the move were acknowledged by the new leader, through its own Envoy.
    after_move = [i for i, (p, _) in ledger.acknowledged.items() if p == 1 and i >= moved_at]
    assert after_move, "no message to partition 1 acknowledged after the leader moved"

    # The group consumer that polled through the outage got every acknowledged message (at least once: a
    # rebalance may deliver again what it had not committed).
    try:
        missing = reader.wait_for(ledger.acknowledged, timeout=120)
    finally:
        reader.stop()
    assert not missing, f"{len(missing)} acknowledged messages never reached the group consumer; " + (
        reader.errors.text()[:500])

    # Everything acknowledged, exactly once, in order, read while node 2 is still down.
    got = consume_partitions_until_idle(cluster, topic, 3, ledger.sent)
    assert_exactly_once_in_order(ledger, got)
    if WITH_FILTER:
        assert sample(prometheus(failover), "kafka_filter_produced_bytes_by_topic",
                      principal="User:CN=kafka-default", topic=topic) > 0  # fmt: skip

    # Node 2 comes back (same storage), catches up and serves again: a fresh producer writes to every
    # partition, whoever leads them now.
    cluster.kafka.start_node(2)
    cluster.wait_for_leaders(topic, 3)
    fresh = idempotent_producer(cluster, harness.ClientErrors())
    first_new = ledger.sent
    send(fresh, ledger, topic, 300, partitions=3)
    assert fresh.flush(60) == 0
    got = consume_partitions_until_idle(cluster, topic, 3, ledger.sent)
    assert_exactly_once_in_order(ledger, got)
    assert ledger.sent == first_new + 300
    print(f"killed after {killed_at}, leaders {new_leaders} after {moved_at}, {ledger.sent} in all; "
          f"{errors.text()[:300]}")  # fmt: skip

    # Envoy 2 saw its broker go away (connections reset or refused) and kept running, as did the others,
    # with no wasm VM failure.
    assert cluster.envoy_of(2).stat_sum(r"^cluster\.kafka_broker\.upstream_cx_(destroy_remote|connect_fail)$") > 0
    for envoy in cluster.envoys:
        assert envoy.process.alive()
        failures = [line for line in envoy.log_text().splitlines() if VM_FAILURE.search(line)]
        assert not failures, "\n".join(failures[:10])

"""A multi-broker Apache Kafka cluster with an Envoy + kafka-mtls-filter beside each broker: the topology Istio
users run (a sidecar in every broker pod).

    with Cluster("my-test", plugin_config) as cluster:
        cluster.create_topic("it-orders", partitions=3, replication_factor=3)
        harness.produce(cluster, "mesh-default", "it-orders", [b"a"])   # bootstraps through Envoy 1

Node i (ids 1..N) has an EXTERNAL listener that advertises Envoy i's port, and Envoy i forwards to that listener
only: a client bootstraps through Envoy 1, and Metadata sends it to the others for the partitions and
coordinators they lead. Setup (topics) goes to the nodes' INTERNAL listeners, never through Envoy.

A Cluster has what harness.produce() / harness.consume() use of a Stack (bootstrap, client_config, envoy, ...).
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.request

import harness
from . import kafka_broker


class Cluster:
    def __init__(
        self,
        name: str,
        plugin_config,
        nodes: int = 3,
        listener: str = "mtls",
        with_filter: bool = True,
        properties: dict | None = None,
        log_level: str = "info",
    ):
        self.name = name
        self.listener = listener
        self.run_dir = harness.RUN_DIR / name
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        self.run_dir.mkdir(parents=True)
        self.cert_dir = harness.certs_dir()
        self.plugin_config = plugin_config
        self.kafka: kafka_broker.Kafka | None = None
        self.envoys: list[harness.Envoy] = []
        self.envoy_ports = [harness.free_port() for _ in range(nodes)]
        listeners = [kafka_broker.Listener("EXTERNAL", advertised_port=port) for port in self.envoy_ports]
        try:
            # The Envoys first, so their ports are bound at once, not left free while the nodes start (tens of
            # seconds, many connections taking ephemeral ports); an Envoy needs no broker to start.
            for node_id, (port, listener) in enumerate(zip(self.envoy_ports, listeners), start=1):
                envoy_dir = self.run_dir / f"envoy-{node_id}"
                envoy_dir.mkdir()
                self.envoys.append(
                    harness.Envoy(
                        envoy_dir, self.listener, port, "127.0.0.1", listener.port, self.cert_dir, plugin_config,
                        with_filter=with_filter, log_level=log_level,
                    )  # fmt: skip
                )
            self.kafka = kafka_broker.Kafka(self.run_dir, [[listener] for listener in listeners], properties=properties)
        except BaseException:
            self.stop()
            raise
        # What a client is given: Envoy 1 only.
        self.bootstrap = f"127.0.0.1:{self.envoy_ports[0]}"
        self.envoy_port = self.envoy_ports[0]

    @property
    def envoy(self) -> harness.Envoy:
        """The bootstrap Envoy (node 1's)."""
        return self.envoys[0]

    def envoy_of(self, node_id: int) -> harness.Envoy:
        return self.envoys[node_id - 1]

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        for envoy in self.envoys:
            envoy.stop()
        if self.kafka is not None:
            self.kafka.stop()

    def client_config(self, cert: str | None, **overrides) -> dict:
        """librdkafka configuration presenting `cert`, bootstrapping through Envoy 1 (as Stack.client_config)."""
        return harness.Stack.client_config(self, cert, **overrides)

    def admin(self):
        """A confluent-kafka AdminClient on the INTERNAL listeners (setup and checks, not through Envoy)."""
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.kafka.internal_bootstrap})

    def create_topic(
        self, topic: str, partitions: int = 1, replication_factor: int | None = None, config: dict | None = None
    ) -> None:
        """Creates `topic` at the brokers directly. With replication factor N on N nodes, partition p's replicas
        are node p+1 first and then the others in turn, so the leaders are spread over the nodes (partition 0 on
        node 1, partition 1 on node 2, ...), not left to chance."""
        from confluent_kafka.admin import NewTopic

        nodes = len(self.kafka.nodes)
        replication_factor = replication_factor or nodes
        if replication_factor == nodes:
            assignment = [[(p + i) % nodes + 1 for i in range(nodes)] for p in range(partitions)]
            new = NewTopic(topic, partitions, replica_assignment=assignment, config=config or {})
        else:
            new = NewTopic(topic, partitions, replication_factor, config=config or {})
        admin = self.admin()  # kept referenced until the futures resolve
        for future in admin.create_topics([new], operation_timeout=30).values():
            future.result(timeout=60)
        self.wait_for_leaders(topic, partitions)

    def leaders(self, topic: str) -> dict[int, int]:
        """{partition: leader node id} as the brokers report it (INTERNAL listener)."""
        metadata = self.admin().list_topics(topic, timeout=20)
        return {p.id: p.leader for p in metadata.topics[topic].partitions.values()}

    def wait_for_leaders(self, topic: str, partitions: int, timeout: float = 60.0, exclude: int | None = None) -> dict:
        """Until every partition of `topic` has a leader (other than node `exclude`); returns the leaders."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                leaders = self.leaders(topic)
            except Exception:  # noqa: BLE001 - metadata not there yet
                leaders = {}
            if len(leaders) == partitions and all(l > 0 and l != exclude for l in leaders.values()):
                return leaders
            if time.monotonic() > deadline:
                raise harness.HarnessError(f"{topic}: leaders {leaders} after {timeout}s")
            time.sleep(0.2)

    def broker_log_text(self) -> str:
        return self.kafka.log_text()


# --- what each Envoy reports -------------------------------------------------------------------------------------


def prometheus(envoy: harness.Envoy) -> str:
    """Envoy's /stats/prometheus, after the filter's counters include all traffic so far."""
    envoy.wait_for_filter_counters()
    with urllib.request.urlopen(f"http://127.0.0.1:{envoy.admin_port}/stats/prometheus", timeout=5) as response:
        return response.read().decode()


def sample(text: str, metric: str, **tags) -> float:
    """The sum of the Prometheus samples of `metric` whose labels include `tags` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(metric)}\{{(.*)\}} (\S+)$", line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        if all(labels.get(k) == v for k, v in tags.items()):
            total += float(m.group(2))
    return total


def audit_lines(envoy: harness.Envoy) -> list[dict]:
    """The filter's audit records (`kafka-audit {...}` lines in Envoy's log), parsed."""
    import json

    return [
        json.loads(line.split("kafka-audit ", 1)[1]) for line in envoy.log_text().splitlines() if "kafka-audit " in line
    ]


def connection_principals(envoy: harness.Envoy) -> list[str]:
    """The principal of each connection the filter accepted (`... principal User:CN=x (spiffe)` lines)."""
    found = []
    for line in envoy.filter_log_lines():
        m = re.search(r"^connection \d+ from \S+: principal (\S+) \(", line)
        if m:
            found.append(m.group(1))
    return found

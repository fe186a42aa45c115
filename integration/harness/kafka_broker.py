"""Apache Kafka in KRaft mode, started from the jars integration/apache-kafka/fetch.sh copies from Maven Central.

    cluster = Kafka(run_dir, [[Listener("EXTERNAL", port=9092, advertised_port=envoy_port)]])
    ...
    cluster.stop()

Each node is one JVM running both roles (controller and broker), as `process.roles=broker,controller` in Kafka's
own quickstart; a cluster of several nodes has every node in the controller quorum. Besides the listeners a test
asks for, every node has two of the harness's own, on loopback ports of their own:

  INTERNAL    PLAINTEXT, advertised as itself: inter-broker traffic (replication, transaction markers) and the
              harness's setup (topics, ACLs, SCRAM credentials), which must never go through Envoy;
  CONTROLLER  the KRaft quorum.

With an authorizer configured (`properties={"authorizer.class.name": STANDARD_AUTHORIZER, ...}`) both are used as
User:ANONYMOUS, which is then made a super user; the test's own listeners carry the principals that matter.

Storage is formatted once per distinct format (node id, SCRAM credentials) into the cache and copied for each
start: formatting is a JVM start of its own (3-4 s on this kind of machine).

Environment:
  KMF_CACHE            cache directory (jars, formatted storage); default ~/.cache/kafka-mtls-filter
  KMF_KAFKA_LIBS       the folder of Kafka's jars; default: what integration/apache-kafka/fetch.sh prints
  KMF_KAFKA_JVM_OPTS   the JVM's options; default DEFAULT_JVM_OPTS (quick start, modest heap)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1]
APACHE_KAFKA = INTEGRATION / "apache-kafka"
CACHE = Path(os.environ.get("KMF_CACHE", Path.home() / ".cache" / "kafka-mtls-filter"))

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# A fixed cluster id: the formatted storage is cached and copied, and a test never compares clusters by id.
CLUSTER_ID = "a21mLW10bHMtZmlsdGVyLQ"
# C1 only and the serial collector: a broker is ready in about half the time on 2 cores. Benchmarks that want
# the broker at full speed set KMF_KAFKA_JVM_OPTS.
DEFAULT_JVM_OPTS = "-Xms128m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true"


class KafkaError(RuntimeError):
    pass


def kafka_version() -> str:
    text = (APACHE_KAFKA / "pom.xml").read_text()
    start = text.index("<kafka.version>") + len("<kafka.version>")
    return text[start : text.index("</kafka.version>")]


def kafka_libs() -> Path:
    """The folder of Kafka's jars, fetched on first use (integration/setup.sh fetches it too)."""
    if os.environ.get("KMF_KAFKA_LIBS"):
        return Path(os.environ["KMF_KAFKA_LIBS"])
    libs = CACHE / f"apache-kafka-{kafka_version()}" / "libs"
    if not (libs / ".complete").exists():
        subprocess.run(["bash", str(APACHE_KAFKA / "fetch.sh")], check=True, stdout=subprocess.DEVNULL)
    return libs


def java_command(main_class: str, *args: str, jvm_opts: str | None = None) -> list[str]:
    """argv running `main_class` of Kafka's jars: the broker, the storage tool, or a command-line tool such as
    org.apache.kafka.tools.TopicCommand (what bin/kafka-topics.sh runs)."""
    opts = (jvm_opts if jvm_opts is not None else os.environ.get("KMF_KAFKA_JVM_OPTS", DEFAULT_JVM_OPTS)).split()
    log_config = APACHE_KAFKA / "log4j2.yaml"
    return ["java", *opts, f"-Dlog4j2.configurationFile={log_config}", "-cp", f"{kafka_libs()}/*", main_class, *args]


def run_tool(main_class: str, *args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    """Runs one of Kafka's command-line tools to completion; output captured as text."""
    return subprocess.run(
        java_command(main_class, *args, jvm_opts="-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto"),
        capture_output=True, text=True, timeout=timeout, input=input,
    )  # fmt: skip


def stop_process_group(popen: subprocess.Popen, grace: float, kill: bool = False) -> None:
    """Ends a process started with `start_new_session=True` and everything it started: SIGTERM (SIGKILL with
    `kill`), then SIGKILL if it is still there after `grace` seconds."""
    if popen.poll() is not None:
        return
    try:
        os.killpg(popen.pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        popen.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        popen.wait(grace)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never the same twice in this process: the kernel may hand a port it just gave
    back out again, and two listeners of one node on one port stop Kafka at start."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found that this process has not used")


@dataclass
class Listener:
    """One of a node's client listeners. `advertised_port` is what Metadata tells clients: the port of the Envoy
    in front of it, or (default) the listener's own. `properties` are written as listener.name.<name>.<key>."""

    name: str
    port: int = 0
    advertised_port: int = 0
    protocol: str = "PLAINTEXT"
    properties: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.advertised_port = self.advertised_port or self.port


class _Node:
    def __init__(self, cluster: "Kafka", node_id: int, listeners: list[Listener]):
        self.cluster = cluster
        self.node_id = node_id
        self.listeners = listeners
        self.internal_port = free_port()
        self.controller_port = free_port()
        self.data_dir = cluster.run_dir / f"{cluster.name}-{node_id}-data"
        self.config_path = cluster.run_dir / f"{cluster.name}-{node_id}.properties"
        self.popen: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.starts = 0

    def properties(self) -> dict:
        listeners = [*self.listeners, Listener("INTERNAL", self.internal_port)]
        cluster = self.cluster
        props = {
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster.nodes),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "INTERNAL",
            "listeners": ",".join([f"{l.name}://127.0.0.1:{l.port}" for l in listeners]
                                  + [f"CONTROLLER://127.0.0.1:{self.controller_port}"]),
            "advertised.listeners": ",".join(f"{l.name}://127.0.0.1:{l.advertised_port}" for l in listeners),
            "listener.security.protocol.map": ",".join(
                [f"{l.name}:{l.protocol}" for l in listeners] + ["CONTROLLER:PLAINTEXT"]),
            "log.dirs": str(self.data_dir),
            # Small internal topics: creating __consumer_offsets' default 50 partitions takes seconds.
            "offsets.topic.replication.factor": min(3, len(cluster.nodes)),
            "offsets.topic.num.partitions": 1,
            "transaction.state.log.replication.factor": min(3, len(cluster.nodes)),
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 1,
            "share.coordinator.state.topic.replication.factor": min(3, len(cluster.nodes)),
            "share.coordinator.state.topic.min.isr": 1,
            "share.coordinator.state.topic.num.partitions": 1,
            "group.initial.rebalance.delay.ms": 0,
            "num.partitions": 1,
            # The tests' largest record is 10 MiB (Kafka's default limit is 1 MiB).
            "message.max.bytes": 16 * 1024 * 1024,
            "replica.fetch.max.bytes": 16 * 1024 * 1024,
            "default.replication.factor": 1,
        }  # fmt: skip
        for listener in self.listeners:
            for key, value in listener.properties.items():
                props[f"listener.name.{listener.name.lower()}.{key}"] = value
        props.update(cluster.properties)
        if props.get("authorizer.class.name"):
            # The harness's own listeners (INTERNAL, CONTROLLER) are PLAINTEXT: User:ANONYMOUS.
            supers = [s for s in str(props.get("super.users", "")).split(";") if s]
            if "User:ANONYMOUS" not in supers:
                supers.append("User:ANONYMOUS")
            props["super.users"] = ";".join(supers)
        return props

    def write_config(self) -> None:
        lines = [f"{key}={value}" for key, value in self.properties().items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def format(self) -> None:
        """Formats the node's storage, from a cached copy when one with the same format exists."""
        scram = self.cluster.format_scram
        key = hashlib.sha256(repr((kafka_version(), CLUSTER_ID, self.node_id, scram)).encode()).hexdigest()[:16]
        template = CACHE / "kafka-formatted" / key
        if not (template / ".complete").exists():
            staging = template.with_name(key + f".tmp{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            config = staging.with_suffix(".properties")
            config.write_text(
                "\n".join([
                    "process.roles=broker,controller", f"node.id={self.node_id}",
                    f"controller.quorum.voters={self.node_id}@127.0.0.1:1", "controller.listener.names=CONTROLLER",
                    "listeners=PLAINTEXT://127.0.0.1:2,CONTROLLER://127.0.0.1:1",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={staging / 'data'}",
                ]) + "\n"
            )  # fmt: skip
            args = ["format", "--cluster-id", CLUSTER_ID, "--config", str(config)]
            for mechanism, user, password in scram:
                args += ["--add-scram", f"{mechanism}=[name={user},password={password}]"]
            result = subprocess.run(java_command("kafka.tools.StorageTool", *args), capture_output=True, text=True)
            config.unlink(missing_ok=True)
            if result.returncode != 0:
                shutil.rmtree(staging, ignore_errors=True)
                raise KafkaError(f"kafka-storage format failed:\n{result.stdout}\n{result.stderr}")
            (staging / ".complete").touch()
            shutil.rmtree(template, ignore_errors=True)
            os.replace(staging, template)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.copytree(template / "data", self.data_dir)

    def start(self) -> None:
        self.starts += 1
        suffix = "" if self.starts == 1 else f"-restart-{self.starts - 1}"
        self.log_path = self.cluster.run_dir / f"{self.cluster.name}-{self.node_id}{suffix}.log"
        self._log = open(self.log_path, "wb")
        jvm_opts = os.environ.get("KMF_KAFKA_JVM_OPTS", DEFAULT_JVM_OPTS)
        if self.cluster.authorizer_log:
            jvm_opts += " -Dkmf.authorizer.log.level=INFO"
        self.popen = subprocess.Popen(
            java_command("kafka.Kafka", str(self.config_path), jvm_opts=jvm_opts),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.cluster.run_dir,
            start_new_session=True,
        )  # fmt: skip

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, kill: bool = False, grace: float = 20.0) -> None:
        if self.popen is None:
            return
        stop_process_group(self.popen, grace, kill)
        self._log.close()
        self.popen = None


class Kafka:
    """A KRaft cluster of `len(node_listeners)` nodes (ids 1..N), node i with the listeners node_listeners[i-1].

    `properties`: broker configuration added to every node (e.g. the authorizer, super.users,
    ssl.principal.mapping.rules, SASL settings). `scram`: (mechanism, user, password) credentials written at
    format time (`kafka-storage format --add-scram`), for brokers whose SASL listener must accept them before
    anything else runs. `authorizer_log`: the authorizer's INFO lines (each decision) in the node's log."""

    def __init__(
        self,
        run_dir: Path,
        node_listeners: list[list[Listener]],
        properties: dict | None = None,
        scram: tuple = (),
        name: str = "kafka",
        authorizer_log: bool = False,
        ready_timeout: float = 90.0,
    ):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.properties = dict(properties or {})
        self.format_scram = tuple(scram)
        self.authorizer_log = authorizer_log
        self.nodes = [_Node(self, i + 1, listeners) for i, listeners in enumerate(node_listeners)]
        try:
            for node in self.nodes:
                node.format()
                node.write_config()
            for node in self.nodes:
                node.start()
            self.wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def internal_bootstrap(self) -> str:
        """host:port list of the INTERNAL listeners: for setup and checks, never through Envoy."""
        return ",".join(f"127.0.0.1:{node.internal_port}" for node in self.nodes)

    def node(self, node_id: int) -> _Node:
        return self.nodes[node_id - 1]

    def wait_ready(self, timeout: float, nodes: list[_Node] | None = None) -> None:
        """Until every node serves requests and Metadata lists all nodes as (unfenced) brokers."""
        deadline = time.monotonic() + timeout
        for node in nodes or self.nodes:
            while True:
                if not node.alive():
                    raise KafkaError(f"Kafka node {node.node_id} exited; log:\n{tail(node.log_text())}")
                try:
                    if metadata_broker_count("127.0.0.1", node.internal_port) >= len(self.nodes):
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise KafkaError(f"Kafka node {node.node_id} not ready after {timeout}s; log:\n{tail(node.log_text())}")
                time.sleep(0.2)

    def kill(self, node_id: int = 1) -> None:
        """SIGKILL: no controlled shutdown, as a crash."""
        self.node(node_id).stop(kill=True)

    def start_node(self, node_id: int = 1, timeout: float = 90.0) -> None:
        """Starts a stopped node again with its storage as it was."""
        node = self.node(node_id)
        node.start()
        self.wait_ready(timeout, [node])

    def stop(self) -> None:
        for node in self.nodes:
            try:
                os.killpg(node.popen.pid, signal.SIGTERM) if node.alive() else None
            except ProcessLookupError:
                pass
        for node in self.nodes:
            node.stop()

    def log_text(self) -> str:
        return "\n".join(node.log_text() for node in self.nodes)


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --- the one request the harness needs before any client library: Metadata v4 ----------------------------------------


def metadata_broker_count(host: str, port: int, timeout: float = 2.0) -> int:
    """The number of brokers a Metadata v4 response lists (KRaft lists only registered, unfenced ones)."""
    client_id = b"kmf-harness"
    body = struct.pack(">i", 0) + b"\x00"  # no topics; allow_auto_topic_creation false
    frame = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        response = _recv_exactly(sock, size)
    # correlation id, throttle_time_ms, then the brokers array's length
    (count,) = struct.unpack_from(">i", response, 8)
    return count


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 16))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)

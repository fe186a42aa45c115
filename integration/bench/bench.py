"""End-to-end cost of the filter through the real Envoy: one produce+fetch workload run in one go through

    direct          the broker, no Envoy
    tcp_proxy       Envoy, plaintext tcp_proxy only
    tls tcp_proxy   Envoy, mTLS + tcp_proxy
    noop            Envoy, plaintext + a do-nothing wasm filter (integration/bench/noop-filter)
    tls noop        Envoy, mTLS + the do-nothing wasm filter
    read-only       Envoy, plaintext + a wasm filter that only reads each data callback once
                    (integration/bench/readonly-filter): the floor for any filter that reads the Kafka stream
    tls read-only   Envoy, mTLS + the read-only wasm filter
    filter          Envoy, plaintext + kafka-mtls-filter enforcing a generated 1,000-rule policy
    tls filter      Envoy, mTLS + kafka-mtls-filter enforcing the same policy

Two workloads per configuration: small requests (10 records of 1 KiB per Produce request) and large ones
(10 records of 100 KiB: ~1 MiB per request). Each is produced (max 5 requests in flight) and then fetched back.

Reported per configuration and workload:
  - Envoy CPU seconds (utime+stime from /proc/<envoy pid>/stat, before/after), per 10k Kafka requests (Produce
    and Fetch requests counted by librdkafka's statistics) and per GB of record values moved (produced + fetched);
  - produce and fetch messages/s (on 2 shared cores the broker, not Envoy, bounds these);
  - produce delivery latency p50/p99 per message under load (librdkafka's produce()->ack, Message.latency());
  - request round trip p50/p99 with one request at a time (the latency Envoy adds, without queueing);
  - FindCoordinator round trip p50/p99 in microseconds, one at a time on one connection, and what each stack adds
    to it against tcp_proxy (the broker answers these from memory, so the proxy's share shows);
  - ratios: CPU per GB against tcp_proxy of the same transport (plain/TLS), and the filter against the
    do-nothing filter and the read-only one.

The broker is Apache Kafka (integration/harness/kafka_broker.py), one per configuration, its JVM at full speed
(KMF_KAFKA_JVM_OPTS, default below; the harness's own default runs C1 only, for quick test starts).

Run: integration/bench/run [--small-messages N] [--large-mb MB] [--configs a,b] [--json FILE]
     integration/bench/run --compare ...   the side-by-side run with Kroxylicious (compare.py)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# The broker at full speed, unless the user says otherwise: kafka_broker reads this when it starts a node.
os.environ.setdefault("KMF_KAFKA_JVM_OPTS", "-Xms1g -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true")

import harness  # noqa: E402
from harness import kafka_broker  # noqa: E402

CLIENT_CERT = "mesh-default"  # principal User:CN=kafka-default (spiffe://cluster.local/ns/kafka/sa/default)
TLS_PRINCIPAL = "User:CN=kafka-default"
PLAIN_PRINCIPAL = "User:ANONYMOUS"
GROUP = "kmf-bench"

IDENTITY = {
    "spiffe": {"principal": "CN={namespace}-{serviceAccount}", "trustDomains": ["cluster.local"]},
    "subject": {"mappingRules": "RULE:^CN=([^,]+),O=acme$/$1/L,DEFAULT"},
    "prefer": "spiffe",
    # The plaintext listener has no certificates: its clients are User:ANONYMOUS, whom the policy names.
    "unauthenticated": "anonymous",
}

CONFIG_NAMES = [
    "direct", "tcp_proxy", "tls tcp_proxy", "noop", "tls noop", "read-only", "tls read-only", "filter", "tls filter",
]  # fmt: skip


@dataclass
class Workload:
    name: str
    value_size: int
    messages: int
    records_per_request: int = 10


@dataclass
class Result:
    config: str
    workload: str
    messages: int = 0
    value_bytes: int = 0
    produce_seconds: float = 0.0
    fetch_seconds: float = 0.0
    produce_requests: int = 0
    fetch_requests: int = 0
    envoy_cpu_produce: float | None = None
    envoy_cpu_fetch: float | None = None
    delivery_p50_ms: float = 0.0
    delivery_p99_ms: float = 0.0
    rtt_p50_ms: float = 0.0
    rtt_p99_ms: float = 0.0
    ping_p50_us: float = 0.0
    ping_p99_us: float = 0.0
    denied: int | None = None
    notes: list = field(default_factory=list)

    @property
    def envoy_cpu(self) -> float | None:
        if self.envoy_cpu_produce is None:
            return None
        return self.envoy_cpu_produce + (self.envoy_cpu_fetch or 0.0)

    def cpu_per_10k_requests(self) -> float | None:
        requests = self.produce_requests + self.fetch_requests
        return None if self.envoy_cpu is None or not requests else self.envoy_cpu / requests * 10_000

    def cpu_per_gb(self) -> float | None:
        moved = 2 * self.value_bytes  # produced once, fetched once
        return None if self.envoy_cpu is None or not moved else self.envoy_cpu / (moved / 1e9)


# --- policy -------------------------------------------------------------------------------------------------------


def thousand_rule_policy(client_principal: str) -> dict:
    """1,000 ACL entries over 100 principals (10 each, literal and prefix, allow and deny, topics, groups, the
    cluster). The benchmark client's principal is one of them and may write and read `bench-*` topics."""
    users = [
        {
            "principal": client_principal,
            "acls": [
                {"resource": {"type": "topic", "name": "bench-", "patternType": "prefix"},
                 "operations": ["Write", "Read", "Describe"], "host": "*", "type": "allow"},
                {"resource": {"type": "group", "name": "kmf-", "patternType": "prefix"},
                 "operations": ["Read", "Describe"], "host": "*", "type": "allow"},
                {"resource": {"type": "topic", "name": "bench-secret", "patternType": "literal"},
                 "operations": ["All"], "host": "*", "type": "deny"},
                {"resource": {"type": "cluster"},
                 "operations": ["IdempotentWrite"], "host": "*", "type": "allow"},
                *[
                    {"resource": {"type": "topic", "name": f"audit-{i}", "patternType": "literal"},
                     "operations": ["Read"], "host": "*", "type": "allow"}
                    for i in range(6)
                ],
            ],
        }
    ]  # fmt: skip
    for team in range(99):
        acls = []
        for j in range(10):
            kind = j % 5
            if kind == 0:
                acl = {"resource": {"type": "topic", "name": f"team{team}-events-{j}", "patternType": "literal"},
                       "operations": ["Write", "Describe"], "type": "allow"}
            elif kind == 1:
                acl = {"resource": {"type": "topic", "name": f"team{team}-{j}-", "patternType": "prefix"},
                       "operations": ["Read"], "type": "allow"}
            elif kind == 2:
                acl = {"resource": {"type": "group", "name": f"team{team}-consumers-{j}", "patternType": "literal"},
                       "operations": ["Read"], "type": "allow"}
            elif kind == 3:
                acl = {"resource": {"type": "topic", "name": f"bench-team{team}-{j}", "patternType": "literal"},
                       "operations": ["Write"], "host": "10.0.0.1", "type": "allow"}
            else:
                acl = {"resource": {"type": "topic", "name": f"team{team}-private-{j}", "patternType": "prefix"},
                       "operations": ["All"], "type": "deny"}
            acls.append(acl)
        users.append({"principal": f"User:CN=team{team}-app", "acls": acls})
    assert sum(len(u["acls"]) for u in users) == 1000
    return {
        "identity": IDENTITY,
        "authorization": {"mode": "enforce", "superUsers": [], "users": users},
    }


# --- targets ------------------------------------------------------------------------------------------------------


def envoy_cpu_ticks(pid: int) -> tuple[int, int]:
    """A process's (utime, stime) in clock ticks: fields 14 and 15 of /proc/PID/stat, 12 and 13 after the name."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]), int(fields[12])


def syscalls(pid: int) -> int:
    """A process's read and write system calls so far (syscr + syscw of /proc/PID/io): how many times Envoy
    went to its sockets, which is where its system time goes."""
    counts = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines() if ": " in line)
    return int(counts.get("syscr", 0)) + int(counts.get("syscw", 0))


def threads_run_seconds(pid: int) -> float:
    """The run time of a process's live threads (/proc/PID/task/TID/schedstat, nanoseconds): its CPU time,
    user and system, at a far finer grain than the 10 ms ticks of /proc/PID/stat (threads that have ended are
    not in it: right for Envoy, whose threads live as long as it does)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def build_noop_filter(work_dir: Path) -> Path:
    """Copies integration/bench/noop-filter to a temporary directory and builds it (release, wasm32-wasip1) with
    its own target directory (kept under the run directory, so a second run only relinks)."""
    return build_bench_module("noop-filter", "kmf_noop_filter", work_dir / "noop-filter-target")


def build_readonly_filter(work_dir: Path) -> Path:
    """The read-only module (integration/bench/readonly-filter), built as the do-nothing one."""
    return build_bench_module("readonly-filter", "kmf_readonly_filter", work_dir / "readonly-filter-target")


def build_bench_module(crate: str, name: str, target_dir: Path) -> Path:
    """Builds integration/bench/<crate> from a copy in a temporary directory (release, wasm32-wasip1) into
    `target_dir`; returns <target_dir>/wasm32-wasip1/release/<name>.wasm."""
    build_dir = Path(tempfile.mkdtemp(prefix=f"kmf-{crate}-")) / crate
    shutil.copytree(HERE / crate, build_dir)
    command = ["cargo", "build", "--release", "--target", "wasm32-wasip1"]
    env = {**os.environ, "CARGO_TARGET_DIR": str(target_dir)}
    # Offline first: proxy-wasm is normally in the local registry already (the filter depends on it).
    done = subprocess.run([*command, "--offline"], cwd=build_dir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(command, cwd=build_dir, env=env, capture_output=True, text=True)
    shutil.rmtree(build_dir.parent, ignore_errors=True)
    if done.returncode != 0:
        raise harness.HarnessError(f"building integration/bench/{crate} failed:\n{done.stderr[-3000:]}")
    return target_dir / "wasm32-wasip1" / "release" / f"{name}.wasm"


class Target:
    """Where the clients connect: the broker itself or an Envoy stack in front of it."""

    def __init__(self, config: str, modules: dict, run_name: str):
        """`modules`: the bench's own wasm modules by kind ("noop", "read-only")."""
        self.config = config
        self.tls = config.startswith("tls")
        self.stack: harness.Stack | None = None
        self.tansu = None  # kept for callers that build a Target by hand (paired.py)
        self.kafka: kafka_broker.Kafka | None = None
        self.cert_dir = harness.certs_dir()
        if config == "direct":
            self.run_dir = harness.RUN_DIR / run_name
            if self.run_dir.exists():
                shutil.rmtree(self.run_dir)
            self.run_dir.mkdir(parents=True)
            # Apache Kafka on its own, its listener advertising itself.
            self.kafka = kafka_broker.Kafka(self.run_dir, [[kafka_broker.Listener("EXTERNAL")]])
            port = self.kafka.nodes[0].listeners[0].port
            self.broker = ("127.0.0.1", port)
            self.bootstrap = f"127.0.0.1:{port}"
            return
        listener = "mtls" if self.tls else "plain"
        kind = config.removeprefix("tls ")
        kwargs = {"listener": listener, "name": run_name, "log_level": "warn"}
        if kind == "tcp_proxy":
            kwargs.update(with_filter=False, plugin_config={})
        elif kind in ("noop", "read-only"):
            kwargs.update(wasm_path=modules[kind], plugin_config={})
        elif kind == "filter":
            kwargs.update(plugin_config=thousand_rule_policy(TLS_PRINCIPAL if self.tls else PLAIN_PRINCIPAL))
        else:
            raise ValueError(config)
        self.stack = harness.Stack(**kwargs)
        self.broker = (self.stack.broker_host, self.stack.broker_port)
        self.bootstrap = self.stack.bootstrap

    def client_config(self, **overrides) -> dict:
        config = {"bootstrap.servers": self.bootstrap, "client.id": "kmf-bench"}
        if self.tls:
            config.update(
                {
                    "security.protocol": "SSL",
                    "ssl.ca.location": str(self.cert_dir / "ca.crt"),
                    "ssl.certificate.location": str(self.cert_dir / f"{CLIENT_CERT}.crt"),
                    "ssl.key.location": str(self.cert_dir / f"{CLIENT_CERT}.key"),
                }
            )
        config.update(overrides)
        return config

    def envoy_cpu(self) -> float | None:
        if self.stack is None or self.stack.envoy is None:
            return None
        user, system = envoy_cpu_ticks(self.stack.envoy.process.popen.pid)
        return (user + system) / os.sysconf("SC_CLK_TCK")

    def denied_requests(self) -> int | None:
        if self.stack is None or not self.config.endswith("filter"):
            return None
        self.stack.envoy.wait_for_filter_counters()
        return self.stack.envoy.stat_sum(r"kafka_filter\.requests.*decision=denied")

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        if self.tansu is not None:
            self.tansu.stop()
        if self.kafka is not None:
            self.kafka.stop()


# --- clients ------------------------------------------------------------------------------------------------------


class StatsCollector:
    """Keeps librdkafka's latest statistics (statistics.interval.ms) to count requests by API."""

    def __init__(self):
        self.latest: dict | None = None
        self.count = 0

    def __call__(self, text: str) -> None:
        self.latest = json.loads(text)
        self.count += 1

    def requests(self, api: str) -> int:
        if self.latest is None:
            return 0
        return sum(broker.get("req", {}).get(api, 0) for broker in self.latest.get("brokers", {}).values())


def wait_for_fresh_stats(client, stats: StatsCollector, poll) -> None:
    seen = stats.count
    deadline = time.monotonic() + 3
    while stats.count < seen + 2 and time.monotonic() < deadline:
        poll(client)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def producer_settings(workload: Workload) -> dict:
    request_bytes = workload.records_per_request * (workload.value_size + 100)
    return {
        "acks": "all",
        "enable.idempotence": False,
        "compression.type": "none",
        "max.in.flight.requests.per.connection": 5,
        "batch.num.messages": workload.records_per_request,
        "batch.size": request_bytes,
        "message.max.bytes": max(1_000_000, request_bytes + 4096),
        "linger.ms": 5,
        # A bounded queue keeps the delivery latency about the pipeline, not about messages waiting in the client.
        "queue.buffering.max.messages": 4 * 5 * workload.records_per_request,
        "message.timeout.ms": 120_000,
    }


def make_value(index: int, size: int) -> bytes:
    head = b"%010d:" % index
    return head + b"x" * (size - len(head))


def run_produce(target: Target, topic: str, workload: Workload, result: Result) -> None:
    from confluent_kafka import Producer

    stats = StatsCollector()
    producer = Producer(target.client_config(**producer_settings(workload), **{"statistics.interval.ms": 200, "stats_cb": stats}))
    latencies: list[float] = []
    failures: list = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(err)
        else:
            latencies.append(msg.latency())

    body = b"x" * workload.value_size
    producer.list_topics(topic, timeout=20)  # connect and learn the leader before the clock starts
    cpu_before = target.envoy_cpu()
    started = time.monotonic()
    for index in range(workload.messages):
        value = b"%010d:" % index + body[11:]
        while True:
            try:
                producer.produce(topic, value=value, partition=0, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.001)
        producer.poll(0)
    remaining = producer.flush(180)
    result.produce_seconds = time.monotonic() - started
    cpu_after = target.envoy_cpu()
    wait_for_fresh_stats(producer, stats, lambda p: p.poll(0.1))
    if remaining or failures:
        raise harness.HarnessError(f"{target.config}/{workload.name}: {remaining} undelivered, failures {failures[:3]}")
    result.messages = workload.messages
    result.value_bytes = workload.messages * workload.value_size
    result.produce_requests = stats.requests("Produce")
    if cpu_before is not None:
        result.envoy_cpu_produce = cpu_after - cpu_before
    result.delivery_p50_ms = percentile(latencies, 0.50) * 1000
    result.delivery_p99_ms = percentile(latencies, 0.99) * 1000


def run_fetch(target: Target, topic: str, workload: Workload, result: Result) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    stats = StatsCollector()
    consumer = Consumer(
        target.client_config(
            **{
                "group.id": GROUP,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.max.bytes": 52_428_800,
                "max.partition.fetch.bytes": 1_048_576,
                "statistics.interval.ms": 200,
                "stats_cb": stats,
            }
        )
    )
    try:
        consumer.list_topics(topic, timeout=20)
        cpu_before = target.envoy_cpu()
        started = time.monotonic()
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        received = 0
        received_bytes = 0
        deadline = started + 300
        while received < workload.messages and time.monotonic() < deadline:
            # Ask for no more than what is left: consume() otherwise waits out its timeout for a full batch.
            for msg in consumer.consume(num_messages=min(10_000, workload.messages - received), timeout=0.5):
                if msg.error():
                    continue
                received += 1
                received_bytes += len(msg.value())
        result.fetch_seconds = time.monotonic() - started
        cpu_after = target.envoy_cpu()
        wait_for_fresh_stats(consumer, stats, lambda c: c.poll(0.1))
        if received != workload.messages:
            raise harness.HarnessError(f"{target.config}/{workload.name}: fetched {received} of {workload.messages}")
        if received_bytes != result.value_bytes:
            result.notes.append(f"fetched {received_bytes} bytes, produced {result.value_bytes}")
        result.fetch_requests = stats.requests("Fetch")
        if cpu_before is not None:
            result.envoy_cpu_fetch = cpu_after - cpu_before
    finally:
        consumer.close()


def run_round_trips(target: Target, topic: str, workload: Workload, samples: int, result: Result) -> None:
    """One Produce request at a time (its records produced together, then flushed): the request's round trip
    without any queueing, so the time Envoy and the filter add shows."""
    from confluent_kafka import Producer

    settings = {**producer_settings(workload), "linger.ms": 0, "queue.buffering.max.messages": 100_000}
    producer = Producer(target.client_config(**settings))
    producer.list_topics(topic, timeout=20)
    body = b"r" * workload.value_size
    timings = []
    for sample in range(samples + 3):
        started = time.monotonic()
        for _ in range(workload.records_per_request):
            producer.produce(topic, value=body, partition=0)
        if producer.flush(30):
            raise harness.HarnessError(f"{target.config}/{workload.name}: round trip {sample} not delivered")
        if sample >= 3:  # the first ones include connection set-up
            timings.append(time.monotonic() - started)
    result.rtt_p50_ms = percentile(timings, 0.50) * 1000
    result.rtt_p99_ms = percentile(timings, 0.99) * 1000


def find_coordinator_request(correlation_id: int) -> bytes:
    """FindCoordinator v0 for group kmf-ping (the bench principal may describe kmf-* groups)."""
    header = struct.pack(">hhi", 10, 0, correlation_id) + harness.kafka_string("kmf-bench")
    frame = header + harness.kafka_string("kmf-ping")
    return struct.pack(">i", len(frame)) + frame


def run_pings(target: Target, samples: int, result: Result) -> None:
    """FindCoordinator round trips, one at a time on one connection: the broker answers them from memory
    (ListOffsets takes longer, ApiVersions answers are rewritten by the filter), and the filter
    authorizes them and passes both ways unchanged, the common case. The differences between configurations
    are the latency Envoy and the filter add to a request."""
    if target.tls and target.stack is not None:
        sock = harness.tls_socket(target.stack, cert=CLIENT_CERT)
    else:
        host, _, port = target.bootstrap.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    timings = []
    try:
        for sample in range(samples + 20):
            started = time.perf_counter()
            sock.sendall(find_coordinator_request(sample))
            answer = harness.read_frame(sock)
            elapsed = time.perf_counter() - started
            if struct.unpack(">i", answer[:4])[0] != sample:
                raise harness.HarnessError(f"{target.config}: FindCoordinator answer out of order")
            if struct.unpack(">h", answer[4:6])[0] != 0:
                raise harness.HarnessError(f"{target.config}: FindCoordinator answered with an error")
            if sample >= 20:  # the first ones include the connection's set-up in the filter and the broker
                timings.append(elapsed)
    finally:
        sock.close()
    result.ping_p50_us = percentile(timings, 0.50) * 1e6
    result.ping_p99_us = percentile(timings, 0.99) * 1e6


def warm_up(target: Target) -> None:
    from confluent_kafka import Producer

    topic = "bench-warm"
    harness.create_topic(*target.broker, topic)
    producer = Producer(target.client_config(**{"linger.ms": 2}))
    for index in range(2000):
        producer.produce(topic, value=make_value(index, 1024), partition=0)
        producer.poll(0)
    if producer.flush(60):
        raise harness.HarnessError(f"{target.config}: warm-up produce failed")


def median_results(results: list[Result]) -> list[Result]:
    """One Result per (configuration, workload): the median of each measured number over the repetitions."""
    groups: dict = {}
    for result in results:
        groups.setdefault((result.config, result.workload), []).append(result)
    merged = []
    for (config, workload), group in groups.items():
        combined = Result(config, workload)
        for name, value in vars(group[0]).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values = [getattr(r, name) for r in group if getattr(r, name) is not None]
                setattr(combined, name, statistics.median(values) if values else None)
            elif name == "notes":
                combined.notes = [note for r in group for note in r.notes]
        merged.append(combined)
    return merged


# --- report -------------------------------------------------------------------------------------------------------


def fmt(value, digits=2, suffix="") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value:,}{suffix}"


def ratio(value, baseline) -> str:
    if value is None or baseline is None or baseline == 0:
        return "-"
    return f"{value / baseline:.2f}x"


def print_table(results: list[Result], out=sys.stdout) -> None:
    by_key = {(r.config, r.workload): r for r in results}
    workloads = list(dict.fromkeys(r.workload for r in results))
    for workload in workloads:
        rows = [r for r in results if r.workload == workload]
        if not rows:
            continue
        sample = rows[0]
        per_request = sample.messages / sample.produce_requests if sample.produce_requests else 0
        print(
            f"\n== {workload}: {int(sample.messages):,} messages of {int(sample.value_bytes // max(sample.messages, 1)):,} B"
            f" ({sample.value_bytes / 1e6:,.0f} MB), {per_request:.1f} records per Produce request ==",
            file=out,
        )
        header = (
            f"{'config':<14} {'envoy cpu s':>11} {'s/10k req':>9} {'s/GB':>7} {'vs tcp':>7} {'vs noop':>7} {'vs read':>7}"
            f" {'prod msg/s':>11} {'fetch msg/s':>11} {'MB/s':>7} {'deliv p50':>9} {'p99 ms':>8}"
            f" {'rtt p50':>8} {'p99 ms':>7} {'req':>7}"
        )
        print(header, file=out)
        print("-" * len(header), file=out)
        for r in rows:
            transport = "tls " if r.config.startswith("tls") else ""
            baseline = by_key.get((f"{transport}tcp_proxy", workload))
            noop = by_key.get((f"{transport}noop", workload))
            vs_tcp = ratio(r.cpu_per_gb(), baseline.cpu_per_gb() if baseline else None) if r.config != "direct" else "-"
            vs_noop = ratio(r.cpu_per_gb(), noop.cpu_per_gb() if noop else None) if r.config.endswith(("filter", "read-only")) else "-"
            read_only = by_key.get((f"{transport}read-only", workload))
            vs_read = ratio(r.cpu_per_gb(), read_only.cpu_per_gb() if read_only else None) if r.config.endswith("filter") else "-"
            produce_rate = r.messages / r.produce_seconds if r.produce_seconds else 0
            fetch_rate = r.messages / r.fetch_seconds if r.fetch_seconds else 0
            mb_per_s = r.value_bytes / 1e6 / r.produce_seconds if r.produce_seconds else 0
            print(
                f"{r.config:<14} {fmt(r.envoy_cpu):>11} {fmt(r.cpu_per_10k_requests(), 3):>9} {fmt(r.cpu_per_gb()):>7}"
                f" {vs_tcp:>7} {vs_noop:>7} {vs_read:>7} {produce_rate:>11,.0f} {fetch_rate:>11,.0f} {mb_per_s:>7,.1f}"
                f" {r.delivery_p50_ms:>9.2f} {r.delivery_p99_ms:>8.2f} {r.rtt_p50_ms:>8.2f} {r.rtt_p99_ms:>7.2f}"
                f" {int(r.produce_requests + r.fetch_requests):>7,}",
                file=out,
            )
        for r in rows:
            if r.denied:
                print(f"  ! {r.config}: {r.denied} requests denied by the filter (expected 0)", file=out)
            for note in r.notes:
                print(f"  ! {r.config}: {note}", file=out)
    print(
        "\nenvoy cpu s: Envoy's utime+stime (/proc) over produce + fetch; s/10k req: per 10,000 Produce+Fetch requests;"
        "\ns/GB: per GB of record values moved (produced + fetched); vs tcp: CPU/GB against tcp_proxy of the same"
        "\ntransport (plain/TLS); vs noop: against the do-nothing wasm filter; vs read: the filter against the"
        "\nread-only module (the floor for a module that reads the stream); prod/fetch msg/s and MB/s"
        "\n(produce) are bounded by the broker on this machine; deliv: produce()->ack per message with 5 requests in"
        "\nflight; rtt: one Produce request at a time; req: Produce+Fetch requests (librdkafka statistics).",
        file=out,
    )
    pings = [r for r in results if r.ping_p50_us]
    if pings:
        print("\n== FindCoordinator round trip, one request at a time on one connection (latency added per request) ==", file=out)
        header = f"{'config':<14} {'p50 us':>8} {'p99 us':>8} {'added p50':>10} {'added p99':>10}"
        print(header, file=out)
        print("-" * len(header), file=out)
        for r in pings:
            transport = "tls " if r.config.startswith("tls") else ""
            baseline = by_key.get((f"{transport}tcp_proxy", r.workload))
            added = (
                (f"{r.ping_p50_us - baseline.ping_p50_us:+10.0f} {r.ping_p99_us - baseline.ping_p99_us:+10.0f}")
                if baseline and baseline.ping_p50_us and r.config != "direct"
                else f"{'-':>10} {'-':>10}"
            )
            print(f"{r.config:<14} {r.ping_p50_us:>8.0f} {r.ping_p99_us:>8.0f} {added}", file=out)
        print("added: against tcp_proxy of the same transport (plain/TLS).", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small-messages", type=int, default=100_000, help="1 KiB messages per configuration")
    parser.add_argument("--large-mb", type=int, default=200, help="MB of 100 KiB messages per configuration")
    parser.add_argument("--round-trips", type=int, default=300, help="one-at-a-time small requests (large: /10)")
    parser.add_argument("--pings", type=int, default=2000, help="one-at-a-time FindCoordinator round trips per configuration")
    parser.add_argument("--configs", default=",".join(CONFIG_NAMES), help=f"comma-separated subset of {CONFIG_NAMES}")
    parser.add_argument("--repeat", type=int, default=1, help="run every configuration N times (interleaved); report medians")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here (every repetition)")
    args = parser.parse_args(argv)

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIG_NAMES]
    if unknown:
        parser.error(f"unknown configurations {unknown}; known: {CONFIG_NAMES}")
    workloads = [
        Workload("small requests", 1024, args.small_messages),
        Workload("large requests", 100 * 1024, max(10, args.large_mb * 1_000_000 // (100 * 1024))),
    ]
    work_dir = harness.RUN_DIR / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    modules = {}
    if any(c.endswith("noop") for c in configs):
        print("building the do-nothing filter ...", flush=True)
        modules["noop"] = build_noop_filter(work_dir)
    if any(c.endswith("read-only") for c in configs):
        print("building the read-only filter ...", flush=True)
        modules["read-only"] = build_readonly_filter(work_dir)
    if any(c.endswith("filter") for c in configs) and not harness.WASM_PATH.exists():
        print(f"{harness.WASM_PATH} is missing: cargo build --release --target wasm32-wasip1 --lib", file=sys.stderr)
        return 2
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; filter {harness.WASM_PATH}", flush=True)

    results: list[Result] = []
    started = time.monotonic()
    for config in [c for _ in range(args.repeat) for c in configs]:
        config_started = time.monotonic()
        target = Target(config, modules, f"bench-{config.replace(' ', '-')}")
        try:
            warm_up(target)
            for workload in workloads:
                topic = f"bench-{workload.name.split()[0]}"
                harness.create_topic(*target.broker, topic)
                result = Result(config, workload.name)
                run_produce(target, topic, workload, result)
                run_fetch(target, topic, workload, result)
                samples = args.round_trips if workload.value_size < 10_000 else max(10, args.round_trips // 10)
                rtt_topic = f"{topic}-rtt"
                harness.create_topic(*target.broker, rtt_topic)
                run_round_trips(target, rtt_topic, workload, samples, result)
                if workload.value_size < 10_000 and args.pings:
                    run_pings(target, args.pings, result)
                result.denied = target.denied_requests()
                results.append(result)
        finally:
            target.stop()
        print(f"  {config}: done in {time.monotonic() - config_started:.0f} s", flush=True)
    print(f"total {time.monotonic() - started:.0f} s; load average after: {os.getloadavg()[0]:.2f}")
    print_table(median_results(results) if args.repeat > 1 else results)
    if args.repeat > 1:
        print(f"(medians of {args.repeat} runs per configuration)")
    if args.json:
        args.json.write_text(json.dumps([{**r.__dict__} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

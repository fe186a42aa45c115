"""Side by side, in one run, in front of one Apache Kafka broker: what each way of putting a proxy in front of
Kafka costs, on the same workload from the same clients.

    direct                    the broker itself (plaintext), no proxy: the reference for throughput and latency
    tls tcp_proxy             Envoy, mTLS + tcp_proxy only
    tls noop                  Envoy, mTLS + a do-nothing wasm filter (integration/bench/noop-filter)
    tls read-only             Envoy, mTLS + a wasm filter that reads each data callback once and does nothing
                              else (integration/bench/readonly-filter): the floor for any filter that reads Kafka
    tls filter                Envoy, mTLS + kafka-mtls-filter enforcing the 1,000-rule policy (bench.py)
    kroxylicious              Kroxylicious (Java), TLS with client certificates, principals from the certificate's
                              SPIFFE URI SAN, its Authorization filter holding the same policy as far as its rules
                              language goes (see kroxylicious_rules)
    kroxylicious passthrough  Kroxylicious, the same TLS, no filter

Each proxy is its own process (Envoy --concurrency 1; Kroxylicious with one Netty worker thread) in front of its
own listener of the one broker (a broker advertises one address per listener: each Envoy's, or, for
Kroxylicious, which rewrites the addresses itself, the broker's). The stacks are measured one after another
(their phases never overlap), with the same client (librdkafka / raw Kafka frames, certificate mesh-default,
principal User:CN=kafka-default).

Workload, per stack:
  small       a pipelined producer (10 records of 1 KiB per Produce request, 5 requests in flight), then a
              consumer fetching them back;
  large       the same with 10 records of 100 KiB (~1 MiB per Produce request);
  100 conns   100 connections at once, each sending Produce requests (10 x 1 KiB) one after another for a
              fixed time: throughput at saturation with many clients, and the latency under that load;
  latency     after those, for all stacks at once: one connection each, one request at a time across all of
              them, blocks of 50 to one stack then the next: FindCoordinator (the broker answers from memory)
              and Produce (10 x 1 KiB): the latency each proxy adds, without queueing.

Reported: the proxy process's CPU (user + system, /proc: its threads' run time in ns) per MB of record values moved, which is
also its CPU per MB/s (cores busy at 1 MB/s); throughput; p50/p99 latency and what each stack adds to direct;
then the ratios the targets are stated in. Deterministic figures from integration/bench/wasm-meter (the
filter module's wasm instructions per request kind, no Envoy) are printed beside them when it is built.

Then the three workloads again in rounds (--rounds, default 7, after one not counted; smaller volumes): each
workload on TLS tcp_proxy, read-only, this filter and Kroxylicious in turn, the order turning every round;
ratios within a round, medians over the rounds, and each proxy's CPU over the rounds' whole span. The single
run of each stack after another above measures when a stack runs as much as what it costs (and a JVM proxy
before its compiler has finished): the ratios to quote are the rounds'.

Then, the ratios the targets are stated in (Envoy CPU of this filter against the read-only module), measured
the steadiest way this machine allows: instructions.py --cpu, the stacks side by side, rounds, medians; with
the read-only module a second time (read2), whose ratio to the first is what an identical stack gets: the
measurement's resolution.

Run: integration/bench/run --compare [--stacks a,b] [--small-mb N] [--large-mb N] [--conn-seconds S]
                                     [--rounds R] [--warm-rounds R] [--round-small-mb N] [--round-large-mb N]
                                     [--round-conn-seconds S] [--target-rounds R] [--no-meter]
Needs: integration/setup.sh (venv, Envoy, Kafka), the release module, Kroxylicious (kroxylicious/fetch.sh) and
Java 21+ for it (KMF_KROXYLICIOUS_JAVA_HOME, else the newest JDK under /usr/lib/jvm).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

# The broker at full speed (the harness's default JVM runs C1 only, for quick starts): set before kafka_broker
# reads it. A user's own KMF_KAFKA_JVM_OPTS wins.
os.environ.setdefault("KMF_KAFKA_JVM_OPTS", "-Xms1g -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true")

import bench  # noqa: E402
import harness  # noqa: E402
import instructions  # noqa: E402
from harness import kafka_broker  # noqa: E402

STACKS = [
    "direct",
    "tls tcp_proxy",
    "tls noop",
    "tls read-only",
    "tls filter",
    "kroxylicious",
    "kroxylicious passthrough",
]
ENVOY_KINDS = {"tls tcp_proxy": "tcp_proxy", "tls noop": "noop", "tls read-only": "read-only", "tls filter": "filter"}
KROXYLICIOUS_VERSION = os.environ.get("KMF_KROXYLICIOUS_VERSION", "0.23.0")
KROXYLICIOUS_JVM_OPTS = os.environ.get("KMF_KROXYLICIOUS_JVM_OPTS", "-Xms512m -Xmx512m -XX:+UseG1GC")
CONNECTIONS = 100


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


class CpuMeter:
    """A process's CPU time (user + system) in nanoseconds: the run time of each of its threads
    (/proc/PID/task/TID/schedstat), each thread's last reading kept once it has ended, so the sum never goes
    back. 10 ms clock ticks (/proc/PID/stat) are too coarse here: Envoy uses a few ms per MB. What it misses: a
    thread's run time after its last reading, and threads that start and end between two readings (a JVM's
    compiler threads come and go); `ticks()` gives the tick count to compare with."""

    def __init__(self, pid: int):
        self.pid = pid
        self.seen: dict[str, int] = {}

    def seconds(self) -> float:
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                self.seen[task.name] = int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # the thread ended meanwhile: its last reading stays
        return sum(self.seen.values()) / 1e9

    def ticks(self) -> float:
        user, system = bench.envoy_cpu_ticks(self.pid)
        return (user + system) / os.sysconf("SC_CLK_TCK")


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --- Kroxylicious -------------------------------------------------------------------------------------------------


def kroxylicious_dist() -> Path:
    done = subprocess.run(["bash", str(HERE / "kroxylicious" / "fetch.sh")], capture_output=True, text=True,
                          env={**os.environ, "KMF_KROXYLICIOUS_VERSION": KROXYLICIOUS_VERSION})  # fmt: skip
    if done.returncode != 0:
        raise harness.HarnessError(f"Kroxylicious is not available:\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def java_21() -> Path:
    """A JDK of version 21 or later: KMF_KROXYLICIOUS_JAVA_HOME, else the newest under /usr/lib/jvm."""
    if os.environ.get("KMF_KROXYLICIOUS_JAVA_HOME"):
        return Path(os.environ["KMF_KROXYLICIOUS_JAVA_HOME"])
    best: tuple[int, Path] | None = None
    for home in Path("/usr/lib/jvm").glob("*"):
        release = home / "release"
        if not (home / "bin" / "java").exists() or not release.exists():
            continue
        match = re.search(r'JAVA_VERSION="(\d+)', release.read_text())
        if match and int(match.group(1)) >= 21 and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), home)
    if best is None:
        raise harness.HarnessError("Kroxylicious needs Java 21+: set KMF_KROXYLICIOUS_JAVA_HOME")
    return best[1]


def kroxylicious_rules(policy: dict) -> tuple[str, dict]:
    """The filter's policy in Kroxylicious' ACL rules language (AclAuthorizerService), and a count of what it
    could not express. That language has topic, group and transactional-id resources, literal (`=`) and prefix
    (`like "x*"`) names, allow and deny, first match wins (denies first), deny by default. It has no cluster
    resource (IdempotentWrite, ...) and no host condition: those entries are left out."""
    op_names = {"Read": "READ", "Write": "WRITE", "Describe": "DESCRIBE", "Create": "CREATE", "Delete": "DELETE",
                "Alter": "ALTER", "DescribeConfigs": "DESCRIBE_CONFIGS", "AlterConfigs": "ALTER_CONFIGS"}  # fmt: skip
    types = {"topic": "Topic", "group": "Group", "transactionalId": "TransactionalId"}
    denies, allows = [], []
    skipped = {"cluster": 0, "host": 0}
    for user in policy["authorization"]["users"]:
        name = user["principal"].removeprefix("User:")
        for acl in user["acls"]:
            resource = acl["resource"]
            if resource["type"] not in types:
                skipped["cluster"] += 1
                continue
            if acl.get("host", "*") != "*":
                skipped["host"] += 1
                continue
            ops = acl["operations"]
            operation = "*" if "All" in ops else (
                op_names[ops[0]] if len(ops) == 1 else "{" + ", ".join(op_names[o] for o in ops) + "}"
            )  # fmt: skip
            if resource.get("patternType", "literal") == "prefix":
                predicate = f'name like "{resource["name"]}*"'
            else:
                predicate = f'name = "{resource["name"]}"'
            rule = f'{acl["type"]} User with name = "{name}" to {operation} {types[resource["type"]]} with {predicate};'
            (denies if acl["type"] == "deny" else allows).append(rule)
    text = (
        "from io.kroxylicious.filter.authorization import TopicResource as Topic, GroupResource as Group, "
        "TransactionalIdResource as TransactionalId;\n"
        + "\n".join(denies + allows)
        + "\notherwise deny;\n"
    )
    return text, {"rules": len(denies) + len(allows), **skipped}


class Kroxylicious:
    """One Kroxylicious process: a virtual cluster with a TLS gateway (client certificates required, principal
    User:CN=<ns>-<sa> from the SPIFFE URI SAN, as the filter's) in front of `target`, with its Authorization
    filter (rules file `rules`) or none."""

    def __init__(self, run_dir: Path, target: str, cert_dir: Path, rules: str | None, node_id: int = 1):
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        dist = kroxylicious_dist()
        java = java_21() / "bin" / "java"
        self.port = free_port_block(4)
        config = {
            "network": {"proxy": {"workerThreadCount": 1}},
            "virtualClusters": [{
                "name": "bench",
                "targetCluster": {"bootstrapServers": target},
                "gateways": [{
                    "name": "tls",
                    "portIdentifiesNode": {
                        "bootstrapAddress": f"127.0.0.1:{self.port}",
                        "nodeIdRanges": [{"name": "node", "start": node_id, "end": node_id}],
                        "nodeStartPort": self.port + 1,
                    },
                    "tls": {
                        "key": {"privateKeyFile": str(cert_dir / "server.key"),
                                "certificateFile": str(cert_dir / "server.crt")},
                        "trust": {"storeFile": str(cert_dir / "ca.crt"), "storeType": "PEM",
                                  "trustOptions": {"clientAuth": "REQUIRED"}},
                    },
                }],
                "subjectBuilder": {
                    "type": "DefaultTransportSubjectBuilderService",
                    "config": {"addPrincipals": [{
                        "from": "clientTlsSanUri",
                        "map": [{"replaceMatch": r"|^spiffe://cluster\.local/ns/([^/]+)/sa/([^/]+)$|CN=$1-$2|"},
                                {"else": "anonymous"}],
                        "principalFactory": "io.kroxylicious.proxy.authentication.UserFactory",
                    }]},
                },
            }],
        }  # fmt: skip
        if rules is not None:
            rules_path = run_dir / "acl-rules.txt"
            rules_path.write_text(rules)
            config["filterDefinitions"] = [{
                "name": "authz", "type": "Authorization",
                "config": {"authorizer": "AclAuthorizerService", "authorizerConfig": {"aclFile": str(rules_path)}},
            }]  # fmt: skip
            config["virtualClusters"][0]["filters"] = ["authz"]
        self.config_path = run_dir / "kroxylicious.yaml"
        self.config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        log_config = dist / "config" / "log4j2.yaml"
        argv = [str(java), *KROXYLICIOUS_JVM_OPTS.split(), f"-Dlog4j2.configurationFile={log_config}",
                "-cp", f"{dist}/libs/*", "io.kroxylicious.app.Kroxylicious", "-c", str(self.config_path)]  # fmt: skip
        self.process = harness.Process("kroxylicious", argv, run_dir / "kroxylicious.log", cwd=run_dir)
        try:
            harness.wait_for_port("127.0.0.1", self.port, 90, self.process)
            harness.wait_for_port("127.0.0.1", self.port + 1, 30, self.process)  # node 1's own port
            time.sleep(1)
            if not self.process.alive():
                raise harness.HarnessError(f"Kroxylicious exited:\n{self.process.log_tail()}")
        except BaseException:
            self.stop()
            raise
        self.bootstrap = f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.popen.pid

    def stop(self) -> None:
        self.process.stop()


def free_port_block(size: int) -> int:
    """A port p with p..p+size-1 all free now (Kroxylicious' gateway takes consecutive ports), below the
    ephemeral range, so that no outgoing connection takes one of them before the proxy binds it."""
    low, _ = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(200):
        base = random.randrange(max(1024, low - 12000), low - size)
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise harness.HarnessError("no block of free ports")


# --- the stacks ---------------------------------------------------------------------------------------------------


class Endpoint:
    """Where a stack's clients connect, and the proxy process whose CPU counts (None: direct)."""

    def __init__(self, label: str, host: str, port: int, tls: bool, pid: int | None, stop=None):
        self.label, self.host, self.port, self.tls, self.pid = label, host, port, tls, pid
        self.bootstrap = f"{host}:{port}"
        self._stop = stop
        self.meter = CpuMeter(pid) if pid is not None else None

    def cpu(self) -> float | None:
        return None if self.meter is None else self.meter.seconds()

    envoy_cpu = cpu  # what bench.run_produce / run_fetch read

    @property
    def config(self) -> str:
        return self.label

    def client_config(self, **overrides) -> dict:
        config = {"bootstrap.servers": self.bootstrap, "client.id": "kmf-bench"}
        if self.tls:
            cert_dir = harness.certs_dir()
            config.update({
                "security.protocol": "SSL",
                "ssl.ca.location": str(cert_dir / "ca.crt"),
                "ssl.certificate.location": str(cert_dir / f"{bench.CLIENT_CERT}.crt"),
                "ssl.key.location": str(cert_dir / f"{bench.CLIENT_CERT}.key"),
            })  # fmt: skip
        config.update(overrides)
        return config

    def socket(self, timeout: float = 30) -> socket.socket:
        raw = socket.create_connection((self.host, self.port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = raw
        if self.tls:
            cert_dir = harness.certs_dir()
            context = ssl.create_default_context(cafile=str(cert_dir / "ca.crt"))
            context.load_cert_chain(str(cert_dir / f"{bench.CLIENT_CERT}.crt"), str(cert_dir / f"{bench.CLIENT_CERT}.key"))
            sock = context.wrap_socket(raw, server_hostname="localhost")
        # ApiVersions first, as every Kafka client does (Kroxylicious' Authorization filter learns the broker's
        # Metadata versions from it).
        sock.sendall(instructions.frame(18, 0, 0x7FFF0000, b""))
        answer = harness.read_frame(sock)
        if answer[:4] != struct.pack(">i", 0x7FFF0000) or answer[4:6] != b"\0\0":
            raise harness.HarnessError(f"{self.label}: ApiVersions failed: {answer[:16].hex()}")
        return sock

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()


class Rig:
    """One broker, and every requested stack in front of it."""

    def __init__(self, stacks: list[str], work_dir: Path):
        self.run_dir = harness.RUN_DIR / "bench-compare"
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        self.cert_dir = harness.certs_dir()
        self.endpoints: dict[str, Endpoint] = {}
        self.kafka: kafka_broker.Kafka | None = None
        self.notes: list[str] = []
        self.policy = bench.thousand_rule_policy(bench.TLS_PRINCIPAL)
        modules = {}
        if "tls noop" in stacks:
            modules["noop"] = bench.build_noop_filter(work_dir)
        if "tls read-only" in stacks:
            modules["read-only"] = bench.build_readonly_filter(work_dir)
        # Below the ephemeral range: the broker starts before the Envoys, and meanwhile an outgoing connection
        # could take a port picked from that range.
        envoy_ports: dict[str, int] = {}
        for label in stacks:
            if label in ENVOY_KINDS:
                port = free_port_block(1)
                while port in envoy_ports.values():
                    port = free_port_block(1)
                envoy_ports[label] = port
        listeners = [kafka_broker.Listener("DIRECT")]
        for index, label in enumerate(envoy_ports):
            listeners.append(kafka_broker.Listener(f"ENVOY{index}", advertised_port=envoy_ports[label]))
        kroxy = [label for label in stacks if label.startswith("kroxylicious")]
        for index, _ in enumerate(kroxy):
            listeners.append(kafka_broker.Listener(f"KROXY{index}"))
        try:
            self.kafka = kafka_broker.Kafka(self.run_dir, [listeners], name="kafka")
            self.internal = ("127.0.0.1", self.kafka.nodes[0].internal_port)
            by_name = {listener.name: listener for listener in listeners}
            for label in stacks:
                if label == "direct":
                    self.endpoints[label] = Endpoint(label, "127.0.0.1", by_name["DIRECT"].port, False, None)
                elif label in ENVOY_KINDS:
                    index = list(envoy_ports).index(label)
                    self.endpoints[label] = self._envoy(label, envoy_ports[label], by_name[f"ENVOY{index}"].port, modules)
                elif label.startswith("kroxylicious"):
                    target = f"127.0.0.1:{by_name[f'KROXY{kroxy.index(label)}'].port}"
                    rules = None
                    if label == "kroxylicious":
                        rules, counts = kroxylicious_rules(self.policy)
                        self.notes.append(
                            f"kroxylicious: {counts['rules']} of the policy's 1,000 ACL entries in its rules file; left "
                            f"out (not expressible there): {counts['host']} host-restricted entries, {counts['cluster']} "
                            f"cluster entry (IdempotentWrite)"
                        )
                    proxy = Kroxylicious(self.run_dir / slug(label), target, self.cert_dir, rules)
                    self.endpoints[label] = Endpoint(label, "127.0.0.1", proxy.port, True, proxy.pid, proxy.stop)
                else:
                    raise ValueError(label)
        except BaseException:
            self.stop()
            raise

    def _envoy(self, label: str, port: int, broker_port: int, modules: dict) -> Endpoint:
        kind = ENVOY_KINDS[label]
        run_dir = self.run_dir / slug(label)
        run_dir.mkdir(parents=True)
        kwargs: dict = {"log_level": "warn"}
        if kind == "tcp_proxy":
            kwargs.update(with_filter=False, plugin_config={})
        elif kind == "filter":
            kwargs.update(plugin_config=self.policy)
        else:
            kwargs.update(wasm_path=modules[kind], plugin_config={})
        envoy = harness.Envoy(run_dir, "mtls", port, "127.0.0.1", broker_port, self.cert_dir, **kwargs)
        return Endpoint(label, "127.0.0.1", port, True, envoy.process.popen.pid, envoy.stop)

    def create_topic(self, topic: str) -> None:
        harness.create_topic(*self.internal, topic)

    def stop(self) -> None:
        for endpoint in self.endpoints.values():
            try:
                endpoint.stop()
            except Exception as e:  # keep stopping the others
                print(f"stopping {endpoint.label}: {e}", file=sys.stderr)
        if self.kafka is not None:
            self.kafka.stop()


# --- workloads ----------------------------------------------------------------------------------------------------


@dataclass
class Measure:
    stack: str
    phase: str
    seconds: float = 0.0
    value_bytes: int = 0
    requests: int = 0
    cpu: float | None = None
    p50_us: float | None = None
    p99_us: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def mb(self) -> float:
        return self.value_bytes / 1e6

    def cpu_ms_per_mb(self) -> float | None:
        return None if self.cpu is None or not self.value_bytes else self.cpu * 1000 / self.mb

    def mb_per_s(self) -> float:
        return self.mb / self.seconds if self.seconds else 0.0


def produce_fetch(endpoint: Endpoint, rig: Rig, phase: str, value_size: int, total_mb: int) -> list[Measure]:
    """The pipelined producer, then the consumer: bench.run_produce / run_fetch on this stack."""
    workload = bench.Workload(phase, value_size, max(20, total_mb * 1_000_000 // value_size))
    topic = f"bench-{slug(endpoint.label)}-{phase}"
    rig.create_topic(topic)
    result = bench.Result(endpoint.label, phase)
    bench.run_produce(endpoint, topic, workload, result)
    bench.run_fetch(endpoint, topic, workload, result)
    produce = Measure(endpoint.label, f"{phase} produce", result.produce_seconds, result.value_bytes,
                      result.produce_requests, result.envoy_cpu_produce,
                      result.delivery_p50_ms * 1000, result.delivery_p99_ms * 1000)  # fmt: skip
    fetch = Measure(endpoint.label, f"{phase} fetch", result.fetch_seconds, result.value_bytes,
                    result.fetch_requests, result.envoy_cpu_fetch)  # fmt: skip
    return [produce, fetch]


def many_connections(endpoint: Endpoint, rig: Rig, seconds: float, connections: int = CONNECTIONS) -> Measure:
    """`connections` connections, each a thread sending Produce v3 (10 x 1 KiB, acks=1) one after another."""
    topic = f"bench-{slug(endpoint.label)}-conns"
    rig.create_topic(topic)
    batch = instructions.record_batch()
    sockets = []
    try:
        for _ in range(connections):
            sockets.append(endpoint.socket())
        latencies: list[list[float]] = [[] for _ in sockets]
        errors: list[str] = []
        start_gate = threading.Barrier(len(sockets) + 1)
        go = threading.Event()  # set once stop_at holds the end
        stop_at = [0.0]

        def client(index: int, sock: socket.socket) -> None:
            request_id = 0
            clock = time.perf_counter
            try:
                # A first request outside the clock: the connection's set-up in the proxy.
                produce_once(sock, topic, batch, 0)
                start_gate.wait()
                go.wait()
                while clock() < stop_at[0]:
                    request_id += 1
                    started = clock()
                    produce_once(sock, topic, batch, request_id)
                    latencies[index].append(clock() - started)
            except Exception as e:  # reported after the join
                errors.append(f"connection {index}: {e}")
                try:
                    start_gate.abort()
                except Exception:
                    pass

        threads = [threading.Thread(target=client, args=(i, s), daemon=True) for i, s in enumerate(sockets)]
        for thread in threads:
            thread.start()
        start_gate.wait(timeout=120)
        cpu_before = endpoint.cpu()
        started = time.perf_counter()
        stop_at[0] = started + seconds
        go.set()
        for thread in threads:
            thread.join(timeout=seconds + 120)
        elapsed = time.perf_counter() - started
        cpu_after = endpoint.cpu()
        if errors:
            raise harness.HarnessError(f"{endpoint.label}: {len(errors)} connections failed, e.g. {errors[0]}")
    finally:
        for sock in sockets:
            sock.close()
    flat = [value for per in latencies for value in per]
    measure = Measure(endpoint.label, f"{connections} conns produce", elapsed, len(flat) * instructions.RECORDS_PER_REQUEST * instructions.VALUE_SIZE,
                      len(flat), None if cpu_before is None else cpu_after - cpu_before,
                      percentile_us(flat, 0.50), percentile_us(flat, 0.99))  # fmt: skip
    return measure


# The stacks of the rounds: the read-only floor, the filter, Kroxylicious, and TLS tcp_proxy (the floor under
# any Envoy).
ROUND_STACKS = ["tls tcp_proxy", "tls read-only", "tls filter", "kroxylicious"]
ROUND_WORKLOADS = ["small", "large", "100 conns"]


def workload_rounds(rig: Rig, stacks: list[str], args) -> dict[str, dict[str, list[Measure]]]:
    """The three workloads again, in rounds (smaller volumes than the table's): in each round, each workload on
    every stack of ROUND_STACKS in turn (small produce and fetch on each, then large on each, then 100
    connections on each), the order of the stacks turning every round. One run of each stack after another
    (the table above) measures when each runs as much as what it costs: on this shared machine the same stack
    moves by a third between runs minutes apart. Ratios taken within a round, then their median over the
    rounds, put the machine's slow moments on every stack alike. `--warm-rounds` rounds first are not counted:
    a JVM proxy's cost per MB keeps falling for minutes while its compiler works.

    Returns, per stack and workload, one measure per round (small and large: produce and fetch together), and
    under "span" one measure of the whole: the proxy's CPU from the first counted round's start to the last
    one's end, by clock ticks (threads that ended included), over all it moved. A turn leaves out what a proxy
    does while the others run; for a JVM that is the collection of the garbage its turn made, which the span
    counts (with whatever else it does idle)."""
    chosen = [stack for stack in ROUND_STACKS if stack in stacks and stack in rig.endpoints]
    out: dict[str, dict[str, list[Measure]]] = {stack: {w: [] for w in ROUND_WORKLOADS} for stack in chosen}
    failed: set[str] = set()
    span_started: dict[str, tuple[float, float]] = {}
    sizes = {"small": (1024, args.round_small_mb), "large": (100 * 1024, args.round_large_mb)}
    if not chosen or args.rounds <= 0:
        return out
    for index in range(-args.warm_rounds, args.rounds):
        if index == 0:
            span_started = {stack: (time.perf_counter(), rig.endpoints[stack].meter.ticks()) for stack in chosen}
        turn = index % len(chosen)
        order = chosen[turn:] + chosen[:turn]
        for workload in ROUND_WORKLOADS:
            for stack in order:
                if stack in failed:
                    continue
                endpoint = rig.endpoints[stack]
                try:
                    if workload == "100 conns":
                        measure = many_connections(endpoint, rig, args.round_conn_seconds)
                    else:
                        value_size, mb = sizes[workload]
                        produce, fetch = produce_fetch(endpoint, rig, f"{workload}-round{index + 1}", value_size, mb)
                        cpu = None if produce.cpu is None or fetch.cpu is None else produce.cpu + fetch.cpu
                        measure = Measure(stack, workload, produce.seconds + fetch.seconds,
                                          produce.value_bytes + fetch.value_bytes, produce.requests + fetch.requests, cpu)  # fmt: skip
                except (OSError, harness.HarnessError) as e:
                    # Its earlier rounds stay: every list grows round by round, so they still pair by index.
                    rig.notes.append(f"{stack}: FAILED in the rounds: {str(e)[:300]}")
                    failed.add(stack)
                    continue
                if index >= 0:
                    out[stack][workload].append(measure)
        if index < 0:
            print(f"  warm-up round {index + args.warm_rounds + 1} done (not counted)", flush=True)
            continue
        cells = "  ".join(
            f"{stack} " + "/".join(f"{(out[stack][w][-1].cpu_ms_per_mb() or 0) if out[stack][w] else 0:.2f}" for w in ROUND_WORKLOADS)
            for stack in chosen
        )  # fmt: skip
        print(f"  round {index + 1} (ms/MB small/large/100c; first {order[0]}): {cells}", flush=True)
    for stack in chosen:
        if stack in failed or stack not in span_started or not out[stack]["small"]:
            continue
        started, ticks = span_started[stack]
        moved = sum(m.value_bytes for w in ROUND_WORKLOADS for m in out[stack][w])
        cpu = rig.endpoints[stack].meter.ticks() - ticks
        out[stack]["span"] = [Measure(stack, "span", time.perf_counter() - started, moved, 0, cpu)]
    return out


def report_rounds(per_stack: dict[str, dict[str, list[Measure]]], measures: list[Measure], args, out=sys.stdout) -> None:
    """Medians over the rounds, and each stack's CPU per MB against the others' in the same round; then the
    same as a Markdown table with the latency each stack adds (the interleaved phase, `measures`)."""
    per_stack = {stack: by for stack, by in per_stack.items() if any(by.values())}
    if not per_stack:
        return
    rounds = max(len(turns) for by in per_stack.values() for turns in by.values())
    print(f"\n== In rounds: proxy CPU per MB, the stacks in turn ({rounds} rounds, the order turning; small "
          f"{args.round_small_mb} MB, large {args.round_large_mb} MB, {CONNECTIONS} connections {args.round_conn_seconds:g} s"
          f" per stack and round), medians ==", file=out)  # fmt: skip
    bases = [stack for stack in ("tls tcp_proxy", "tls read-only", "kroxylicious") if stack in per_stack]
    header = (f"{'stack':<16} {'workload':<10} {'ms/MB':>7} {'MB/s':>7} {'100c p99 us':>12}"
              + "".join(f" {'vs ' + base.removeprefix('tls '):>16}" for base in bases))  # fmt: skip
    print(header, file=out)
    print("-" * len(header), file=out)

    def ratios(stack, base, workload):
        pairs = zip(per_stack[stack][workload], per_stack[base][workload])
        return [m.cpu_ms_per_mb() / b.cpu_ms_per_mb() for m, b in pairs if m.cpu_ms_per_mb() and b.cpu_ms_per_mb()]

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    for stack, by in per_stack.items():
        for workload in ROUND_WORKLOADS:
            turns = by[workload]
            p99 = median(m.p99_us for m in turns) if workload == "100 conns" else None
            row = (f"{stack:<16} {workload:<10} {cell(median(m.cpu_ms_per_mb() for m in turns), 2, 7)}"
                   f" {cell(median(m.mb_per_s() for m in turns), 1, 7)} {cell(p99, 0, 12)}")  # fmt: skip
            for base in bases:
                row += f" {cell(median(ratios(stack, base, workload)), 2, 15)}x"
            print(row, file=out)
    spans = {stack: by["span"][0] for stack, by in per_stack.items() if by.get("span")}
    if spans:
        print(f"{'':<16} whole span, all workloads together, idle turns included (clock ticks):", file=out)
        for stack, span in spans.items():
            row = f"{stack:<16} {'span':<10} {cell(span.cpu_ms_per_mb(), 2, 7)} {'':>7} {'':>12}"
            for base in bases:
                value = spans.get(base)
                row += f" {cell(span.cpu_ms_per_mb() / value.cpu_ms_per_mb() if value and value.cpu_ms_per_mb() else None, 2, 15)}x"
            print(row, file=out)
    for stack, base in (("tls filter", "tls read-only"), ("tls filter", "kroxylicious"), ("tls read-only", "tls tcp_proxy")):
        if stack in per_stack and base in per_stack:
            for workload in ROUND_WORKLOADS:
                rounds_text = ", ".join(f"{r:.2f}" for r in ratios(stack, base, workload))
                print(f"  {stack} vs {base}, {workload}, by round: {rounds_text}", file=out)

    def latency(stack, kind):
        phase = f"{kind} latency"
        return added_latency(find_measure(measures, stack, phase), find_measure(measures, "direct", phase))

    def ratio_text(stack, base):
        if base not in per_stack:
            return "–"
        values = [median(ratios(stack, base, w)) for w in ROUND_WORKLOADS]
        text = " / ".join("–" if v is None else f"{v:.2f}x" for v in values)
        span, base_span = spans.get(stack), spans.get(base)
        if span and base_span and base_span.cpu_ms_per_mb():
            text += f" (span {span.cpu_ms_per_mb() / base_span.cpu_ms_per_mb():.2f}x)"
        return text

    print("\n== The side-by-side table from the rounds (Markdown) ==", file=out)
    print("| stack | proxy CPU ms per MB: small / large / 100 connections | vs read-only | vs Kroxylicious"
          " | added p50 / p99 µs, FindCoordinator | Produce 10 × 1 KiB | p99 under 100 connections, ms |", file=out)  # fmt: skip
    print("|---|---|---|---|---|---|---|", file=out)
    for stack, by in per_stack.items():
        cpu = " / ".join(cell(median(m.cpu_ms_per_mb() for m in by[w]), 2, 0).strip() for w in ROUND_WORKLOADS)
        p99 = median(m.p99_us for m in by["100 conns"])
        print(f"| {stack} | {cpu} | {ratio_text(stack, 'tls read-only')} | {ratio_text(stack, 'kroxylicious')}"
              f" | {latency(stack, 'ping')} | {latency(stack, 'produce')} | {'–' if p99 is None else f'{p99 / 1000:.1f}'} |", file=out)  # fmt: skip


def batch_values() -> list[int]:
    return [instructions.VALUE_SIZE] * instructions.RECORDS_PER_REQUEST


def produce_once(sock: socket.socket, topic: str, batch: bytes, correlation_id: int) -> None:
    body = struct.pack(">hhi", -1, 1, 30_000) + struct.pack(">i", 1) + harness.kafka_string(topic)
    body += struct.pack(">ii", 1, 0) + struct.pack(">i", len(batch)) + batch
    sock.sendall(instructions.frame(0, 3, correlation_id, body))
    answer = harness.read_frame(sock)
    error_at = 4 + 4 + 2 + len(topic.encode()) + 4 + 4
    if answer[:4] != struct.pack(">i", correlation_id) or answer[error_at : error_at + 2] != b"\0\0":
        raise harness.HarnessError(f"Produce {correlation_id} not acknowledged: {answer[:64].hex()}")


def wait_for_coordinator(sock) -> None:
    """FindCoordinator on `sock` until the broker answers without error: a new broker has no group coordinator
    until __consumer_offsets is up (COORDINATOR_NOT_AVAILABLE)."""
    for attempt in range(300):
        sock.sendall(bench.find_coordinator_request(attempt))
        if harness.read_frame(sock)[4:6] == b"\0\0":
            return
        time.sleep(0.2)
    raise harness.HarnessError("the group coordinator did not come up in 60 s")


def ping_once(sock: socket.socket, correlation_id: int) -> None:
    sock.sendall(bench.find_coordinator_request(correlation_id))
    answer = harness.read_frame(sock)
    if answer[:4] != struct.pack(">i", correlation_id) or answer[4:6] != b"\0\0":
        raise harness.HarnessError(f"FindCoordinator {correlation_id} failed: {answer[:32].hex()}")


def percentile_us(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1e6


def interleaved_latency(rig: Rig, stacks: list[str], pings: int, produces: int, block: int = 50) -> list[Measure]:
    """One connection per stack, all open at once; one request at a time across all of them, `block` requests
    to one stack then the next (the order turning every block, as instructions.py --latency does): the
    machine's slow moments fall on every stack alike, so what each stack adds shows against direct."""
    batch = instructions.record_batch()
    sockets: dict[str, socket.socket] = {}
    topics = {label: f"bench-{slug(label)}-rtt" for label in stacks}
    failed: dict[str, str] = {}  # a stack whose connection failed is left out from then on
    try:
        for label in stacks:
            rig.create_topic(topics[label])
            sockets[label] = rig.endpoints[label].socket()
            for index in range(block):
                ping_once(sockets[label], index)
            for index in range(20):
                produce_once(sockets[label], topics[label], batch, 100 + index)
        samples = {(label, kind): [] for label in stacks for kind in ("ping", "produce")}
        clock = time.perf_counter
        for kind, count in (("ping", pings), ("produce", produces)):
            for first in range(0, count, block):
                turn = first // block % len(stacks)
                for label in stacks[turn:] + stacks[:turn]:
                    if label in failed:
                        continue
                    sock, times = sockets[label], samples[(label, kind)]
                    try:
                        for index in range(first, min(first + block, count)):
                            started = clock()
                            if kind == "ping":
                                ping_once(sock, 1000 + index)
                            else:
                                produce_once(sock, topics[label], batch, 1_000_000 + index)
                            times.append(clock() - started)
                    except (OSError, harness.HarnessError) as e:
                        failed[label] = f"{kind} {index}: {e}"
    finally:
        for sock in sockets.values():
            sock.close()
    out = []
    for (label, kind), times in samples.items():
        if label in failed:
            rig.notes.append(f"{label}: latency phase failed ({failed[label]}); its latency is left out")
            continue
        out.append(Measure(label, f"{kind} latency", sum(times), 0, len(times), None,
                           percentile_us(times, 0.50), percentile_us(times, 0.99)))  # fmt: skip
    return out


def warm_up(endpoint: Endpoint, rig: Rig) -> None:
    """Connections set up, the broker's and a JVM proxy's code compiled, before anything is measured."""
    from confluent_kafka import Producer

    topic = f"bench-{slug(endpoint.label)}-warm"
    rig.create_topic(topic)
    producer = Producer(endpoint.client_config(**{"linger.ms": 2, "message.max.bytes": 2_000_000}))
    # A JVM proxy gets more: its hot paths must reach the JIT's optimising tier before the clock starts.
    rounds = 4 if endpoint.label.startswith("kroxylicious") else 1
    for index in range(8000 * rounds):
        producer.produce(topic, value=bench.make_value(index, 1024), partition=0)
        producer.poll(0)
    for index in range(40 * rounds):
        producer.produce(topic, value=bench.make_value(index, 100 * 1024), partition=0)
        producer.poll(0)
    if producer.flush(300):
        raise harness.HarnessError(f"{endpoint.label}: warm-up produce failed")
    if endpoint.label in ("tls filter", "kroxylicious"):
        # Both enforce: the policy denies this principal everything on bench-secret (TOPIC_AUTHORIZATION_FAILED).
        with endpoint.socket() as sock:
            try:
                produce_once(sock, "bench-secret", instructions.record_batch(1, 16), 1)
            except harness.HarnessError as e:
                if "not acknowledged" not in str(e):
                    raise
            else:
                raise harness.HarnessError(f"{endpoint.label}: a Produce to bench-secret was not denied")
    with endpoint.socket() as sock:
        wait_for_coordinator(sock)
        for index in range(500 * rounds):
            ping_once(sock, index)


# --- deterministic figures ----------------------------------------------------------------------------------------


def meter_figures(work_dir: Path) -> list[str]:
    """The wasm-meter's counts (integration/bench/wasm-meter: each module run in an interpreter with fuel
    metering, no Envoy; the session bench's round trip: Produce v9 of 10 x 1 KiB and its answer, Fetch v12 and
    its 10 KiB answer, one frame per data callback): wasm instructions per round trip and per callback for the
    do-nothing, read-only and filter modules. The same on every run and every machine."""
    target = work_dir / "wasm-meter-target"
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    manifest = HERE / "wasm-meter" / "Cargo.toml"
    done = subprocess.run(["cargo", "build", "--release", "--manifest-path", str(manifest)],
                          capture_output=True, text=True, env=env)  # fmt: skip
    if done.returncode != 0:
        return [f"(wasm-meter did not build: {done.stderr.strip().splitlines()[-1] if done.stderr else '?'})"]
    meter = target / "release" / "kmf_wasm_meter"
    rows = []
    for label, module in meter_modules(work_dir):
        run = subprocess.run([str(meter), str(module)], capture_output=True, text=True, timeout=600)
        total = re.search(r"per round trip: (\d+)", run.stdout)
        callbacks = re.search(r"by callback: (.*)", run.stdout)
        reads = re.search(r"proxy_get_buffer_bytes ([\d.]+)", run.stdout)
        if run.returncode != 0 or total is None:
            rows.append((label, None, (run.stdout + run.stderr).strip()[-200:], None))
        else:
            rows.append((label, int(total.group(1)), callbacks.group(1) if callbacks else "", reads and reads.group(1)))
    base = next((total for label, total, _, _ in rows if label == "read-only" and total), None)
    lines = [f"{'module':<12} {'instr/round trip':>17} {'vs read-only':>13} {'buffer reads':>13}  by callback"]
    for label, total, callbacks, reads in rows:
        lines.append(
            f"{label:<12} {total if total is not None else '-':>17,} "
            f"{(f'{total / base:.2f}x' if total and base else '-'):>13} {reads or '0':>13}  {callbacks}"
        )
    lines.append("(wasm instructions executed per Produce+Fetch round trip, wasmi fuel; Envoy's own work and the")
    lines.append(" hostcalls' cost are not in it: it moves only when the module's code changes)")
    return lines


def meter_modules(work_dir: Path) -> list[tuple[str, Path]]:
    modules = []
    noop = work_dir / "noop-filter-target" / "wasm32-wasip1" / "release" / "kmf_noop_filter.wasm"
    readonly = work_dir / "readonly-filter-target" / "wasm32-wasip1" / "release" / "kmf_readonly_filter.wasm"
    for label, path in (("noop", noop), ("read-only", readonly), ("filter", harness.WASM_PATH)):
        if path.exists():
            modules.append((label, path))
    return modules


# --- report -------------------------------------------------------------------------------------------------------


def find_measure(measures: list[Measure], stack: str, phase: str) -> Measure | None:
    return next((m for m in measures if m.stack == stack and m.phase == phase), None)


def added_latency(m: Measure | None, direct: Measure | None) -> str:
    """"p50 / p99" a stack adds to the broker's own latency (`direct`), for the Markdown tables."""
    if m is None or direct is None or m.stack == "direct":
        return "–"
    return f"{m.p50_us - direct.p50_us:+,.0f} / {m.p99_us - direct.p99_us:+,.0f}"


def cell(value, digits: int = 1, width: int = 9) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width},.{digits}f}"


def ratio_cell(value, base, width: int = 7) -> str:
    if value is None or not base:
        return f"{'-':>{width}}"
    return f"{value / base:>{width - 1}.2f}x"


def report(measures: list[Measure], stacks: list[str], notes: list[str], meter: list[str], args, out=sys.stdout) -> None:
    def find(stack, phase):
        return find_measure(measures, stack, phase)

    phases = ["small produce", "small fetch", "large produce", "large fetch", f"{CONNECTIONS} conns produce"]
    print(f"\n== Proxy CPU per MB of record values (ms of CPU per MB = milli-cores per MB/s), and throughput ==", file=out)
    header = f"{'stack':<25}" + "".join(f" {p:>21}" for p in phases)
    print(header, file=out)
    print(f"{'':<25}" + "".join(f" {'ms/MB':>9} {'MB/s':>11}" for _ in phases), file=out)
    print("-" * len(header), file=out)
    for stack in stacks:
        row = f"{stack:<25}"
        for phase in phases:
            m = find(stack, phase)
            row += f" {cell(m.cpu_ms_per_mb() if m else None, 2)} {cell(m.mb_per_s() if m else None, 1, 11)}"
        print(row, file=out)

    def combined(stack, names):
        parts = [find(stack, n) for n in names]
        if any(p is None or p.cpu is None for p in parts):
            return None
        return sum(p.cpu for p in parts) * 1000 / sum(p.mb for p in parts)

    small = ["small produce", "small fetch"]
    large = ["large produce", "large fetch"]
    conns = [f"{CONNECTIONS} conns produce"]
    print("\n== Ratios of proxy CPU per MB (produce + fetch together) ==", file=out)
    bases = [("tls tcp_proxy", "vs tcp_proxy"), ("tls noop", "vs noop"), ("tls read-only", "vs read-only"),
             ("kroxylicious", "vs kroxylicious")]  # fmt: skip
    header = f"{'stack':<25} {'workload':<10} {'ms/MB':>8}" + "".join(f" {name:>16}" for _, name in bases)
    print(header, file=out)
    print("-" * len(header), file=out)
    for stack in stacks:
        if stack == "direct":
            continue
        for workload, names in (("small", small), ("large", large), ("100 conns", conns)):
            value = combined(stack, names)
            row = f"{stack:<25} {workload:<10} {cell(value, 2, 8)}"
            for base, _ in bases:
                row += f" {ratio_cell(value, combined(base, names) if base in stacks else None, 16)}"
            print(row, file=out)

    print("\n== Latency, microseconds: one request at a time, the stacks interleaved (added: against direct), and under"
          " 100 connections ==", file=out)
    header = (f"{'stack':<25} {'ping p50':>9} {'p99':>7} {'added p50':>10} {'p99':>7} {'produce p50':>12} {'p99':>7}"
              f" {'added p50':>10} {'p99':>7} {'100c p50':>9} {'p99':>7} {'100c req/s':>11}")  # fmt: skip
    print(header, file=out)
    print("-" * len(header), file=out)
    direct_ping, direct_produce = find("direct", "ping latency"), find("direct", "produce latency")
    for stack in stacks:
        ping, produce, many = find(stack, "ping latency"), find(stack, "produce latency"), find(stack, conns[0])

        def added(m, base, attr):
            if m is None or base is None or stack == "direct":
                return None
            return getattr(m, attr) - getattr(base, attr)

        rate = many.requests / many.seconds if many and many.seconds else None
        print(
            f"{stack:<25} {cell(ping and ping.p50_us, 0)} {cell(ping and ping.p99_us, 0, 7)}"
            f" {cell(added(ping, direct_ping, 'p50_us'), 0, 10)} {cell(added(ping, direct_ping, 'p99_us'), 0, 7)}"
            f" {cell(produce and produce.p50_us, 0, 12)} {cell(produce and produce.p99_us, 0, 7)}"
            f" {cell(added(produce, direct_produce, 'p50_us'), 0, 10)} {cell(added(produce, direct_produce, 'p99_us'), 0, 7)}"
            f" {cell(many and many.p50_us, 0)} {cell(many and many.p99_us, 0, 7)} {cell(rate, 0, 11)}",
            file=out,
        )
    print(
        "\nping: FindCoordinator (answered by the broker from memory); produce: Produce v3 of 10 x 1 KiB, acks=1;"
        "\n100c: the same Produce on each of 100 connections at once, one request after another per connection."
        "\nsmall/large: librdkafka producer, 10 records of 1 KiB / 100 KiB per request, 5 requests in flight,"
        "\nthen a consumer; MB/s there is the broker's and the client's pace on this shared 2-core machine as much"
        "\nas the proxy's. CPU: the proxy process only, user + system (/proc, its threads' run time).",
        file=out,
    )
    for note in notes:
        print(f"note: {note}", file=out)
    print("\n== The side-by-side table (Markdown) ==", file=out)
    print(markdown_summary(measures, stacks, combined, find), file=out)
    if meter:
        print("\n== Deterministic: each module's own wasm work per request kind (integration/bench/wasm-meter) ==", file=out)
        for line in meter:
            print(line, file=out)


def target_ratios(args, work_dir: Path) -> None:
    """The ratios the targets are stated in, measured the steadiest way this machine allows
    (instructions.py --cpu): read-only, filter and do-nothing stacks side by side, one Produce+Fetch round trip
    at a time, plaintext, `--target-rounds` rounds, medians; small (10 x 1 KiB) and ~1 MiB (10 x 100 KiB).
    Then the same ratio in Envoy's instructions under callgrind (instructions.py), which the load does not move."""
    import argparse as _argparse

    from paired import parse_variants

    # read2: the read-only module again, in its own Envoy. Its ratio to `read` is what the measurement gives
    # a stack identical to the floor: a target ratio closer to 1.00 than that is not resolved by this machine.
    specs = parse_variants(["read=read-only", "filter=filter", "noop=noop", "read2=read-only"], work_dir, lambda message: None)
    for records, size, round_trips in ((10, 1024, args.target_round_trips), (10, 100 * 1024, max(50, args.target_round_trips // 13))):
        print(f"\n== Target ratios: Envoy CPU per request, {records} x {size:,} B, stacks side by side ==", flush=True)
        # Warm-ups long enough for V8 to have compiled the filter's code at its top tier before the clock starts.
        ns = _argparse.Namespace(tls=False, records=records, record_size=size, round_trips=round_trips, warm_up=300 if size < 10_000 else 200,
                                 rounds=args.target_rounds)  # fmt: skip
        instructions.report_cpu(specs, ns)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("\n(no valgrind: Envoy's instruction counts left out; apt install valgrind)")
        return
    # The same ratio in Envoy's instructions (callgrind): exact, whatever the machine's load.
    counted = [spec for spec in specs if spec[0] in ("read", "filter")]
    callgrind_dir = work_dir / "instructions"
    callgrind_dir.mkdir(parents=True, exist_ok=True)
    for records, size, round_trips in ((10, 1024, 300), (10, 100 * 1024, 30)):
        ns = _argparse.Namespace(tls=False, records=records, record_size=size, round_trips=round_trips,
                                 warm_up=100 if size < 10_000 else 120, rounds=args.target_rounds)  # fmt: skip
        title = f"== Target ratios, deterministic: Envoy's instructions per request (callgrind), {records} x {size:,} B"
        instructions.print_counts(title, instructions.count_rounds(counted, ns, callgrind_dir))


def markdown_summary(measures, stacks, combined, find) -> str:
    """One row per stack: proxy CPU per MB (= per MB/s) for the three workloads, against the read-only module
    and against Kroxylicious, the latency added to direct (one request at a time, interleaved), throughput."""
    conns = f"{CONNECTIONS} conns produce"
    workloads = (["small produce", "small fetch"], ["large produce", "large fetch"], [conns])

    def num(value, digits=1):
        return "–" if value is None else f"{value:,.{digits}f}"

    def rel(value, base):
        return "–" if value is None or not base else f"{value / base:.2f}x"

    rows = [
        "| stack | CPU ms/MB small | large | 100 conns | vs read-only (small / large / 100c) | vs Kroxylicious (small / large / 100c)"
        " | added latency p50 / p99 µs (ping) | (produce) | produce MB/s small / large | 100c req/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    direct_ping, direct_produce = find("direct", "ping latency"), find("direct", "produce latency")
    for stack in stacks:
        cpu = [combined(stack, names) for names in workloads]
        read = [combined("tls read-only", names) for names in workloads]
        krox = [combined("kroxylicious", names) for names in workloads]
        ping, produce = find(stack, "ping latency"), find(stack, "produce latency")

        small_p, large_p, many = find(stack, "small produce"), find(stack, "large produce"), find(stack, conns)
        rows.append(
            f"| {stack} | {num(cpu[0], 2)} | {num(cpu[1], 2)} | {num(cpu[2], 2)}"
            f" | {' / '.join(rel(c, r) for c, r in zip(cpu, read))}"
            f" | {' / '.join(rel(c, k) for c, k in zip(cpu, krox))}"
            f" | {added_latency(ping, direct_ping)} | {added_latency(produce, direct_produce)}"
            f" | {num(small_p.mb_per_s() if small_p else None)} / {num(large_p.mb_per_s() if large_p else None)}"
            f" | {num(many.requests / many.seconds if many and many.seconds else None, 0)} |"
        )
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stacks", default=",".join(STACKS), help=f"comma-separated subset of {STACKS}")
    parser.add_argument("--small-mb", type=int, default=40, help="MB of 1 KiB records per stack")
    parser.add_argument("--large-mb", type=int, default=150, help="MB of 100 KiB records per stack")
    parser.add_argument("--conn-seconds", type=float, default=15, help="seconds of the 100-connection phase")
    parser.add_argument("--pings", type=int, default=2000, help="one-at-a-time FindCoordinator round trips")
    parser.add_argument("--produces", type=int, default=500, help="one-at-a-time Produce round trips")
    parser.add_argument("--rounds", type=int, default=7,
                        help=f"rounds of the three workloads for {ROUND_STACKS}, the stacks in turn (0: none)")
    parser.add_argument("--warm-rounds", type=int, default=1, help="rounds run first and not counted")
    parser.add_argument("--round-small-mb", type=int, default=8, help="MB of 1 KiB records per stack and round")
    parser.add_argument("--round-large-mb", type=int, default=30, help="MB of 100 KiB records per stack and round")
    parser.add_argument("--round-conn-seconds", type=float, default=5,
                        help="seconds of the 100-connection workload per stack and round")
    parser.add_argument("--no-meter", action="store_true", help="skip the wasm-meter's deterministic counts")
    parser.add_argument("--target-rounds", type=int, default=3,
                        help="rounds of the side-by-side read-only/filter/noop/read-only-again CPU ratios (0: none)")
    parser.add_argument("--target-round-trips", type=int, default=4000, help="small round trips per round (large: /13)")
    parser.add_argument("--json", type=Path, help="also write every measurement as JSON here")
    args = parser.parse_args(argv)
    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    unknown = [s for s in stacks if s not in STACKS]
    if unknown:
        parser.error(f"unknown stacks {unknown}; known: {STACKS}")
    if "tls filter" in stacks and not harness.WASM_PATH.exists():
        parser.error(f"{harness.WASM_PATH} is missing: integration/build-wasm.sh")
    work_dir = harness.RUN_DIR / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    head = subprocess.run(["git", "-C", str(HERE), "log", "-1", "--format=%h %cd", "--date=short"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"commit {head}; load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; filter {harness.WASM_PATH}"
          f" ({harness.WASM_PATH.stat().st_size:,} B); Kafka JVM: {os.environ['KMF_KAFKA_JVM_OPTS']}", flush=True)  # fmt: skip
    rig = Rig(stacks, work_dir)
    measures: list[Measure] = []
    per_stack: dict[str, dict[str, list[Measure]]] = {}
    try:
        print(f"broker and {len(stacks)} stacks up in {time.monotonic() - started:.0f} s", flush=True)
        for stack in stacks:
            stack_started = time.monotonic()
            endpoint = rig.endpoints[stack]
            try:
                warm_up(endpoint, rig)
                counted = (endpoint.cpu(), endpoint.meter.ticks()) if endpoint.meter else None
                measures += produce_fetch(endpoint, rig, "small", 1024, args.small_mb)
                measures += produce_fetch(endpoint, rig, "large", 100 * 1024, args.large_mb)
                measures.append(many_connections(endpoint, rig, args.conn_seconds))
            except (OSError, harness.HarnessError) as e:
                # One stack's failure (e.g. a proxy closing connections) leaves the others' figures standing.
                rig.notes.append(f"{stack}: FAILED during its throughput phases: {str(e)[:300]}")
                print(f"  {stack}: FAILED: {str(e)[:300]}", flush=True)
                continue
            if counted is not None:
                rig.notes.append(
                    f"{stack}: CPU over its measured phases {endpoint.cpu() - counted[0]:.2f} s by thread run times, "
                    f"{endpoint.meter.ticks() - counted[1]:.2f} s by clock ticks"
                )
            rss = proc_rss_kib(endpoint.pid) if endpoint.pid else None
            print(f"  {stack}: done in {time.monotonic() - stack_started:.0f} s"
                  + (f"; proxy RSS {rss / 1024:.0f} MiB" if rss else ""), flush=True)  # fmt: skip
        latency_started = time.monotonic()
        measures += interleaved_latency(rig, stacks, args.pings, args.produces)
        print(f"  latency, all stacks interleaved: done in {time.monotonic() - latency_started:.0f} s", flush=True)
        rounds_started = time.monotonic()
        per_stack = workload_rounds(rig, stacks, args)
        if per_stack:
            print(f"  rounds: done in {time.monotonic() - rounds_started:.0f} s", flush=True)
    finally:
        rig.stop()
    meter = [] if args.no_meter else meter_figures(work_dir)
    print(f"total {time.monotonic() - started:.0f} s; load average after: {os.getloadavg()[0]:.2f}")
    report(measures, stacks, rig.notes, meter, args)
    report_rounds(per_stack, measures, args)
    if args.target_rounds:
        target_ratios(args, work_dir)
    if args.json:
        args.json.write_text(json.dumps([{**m.__dict__} for m in measures], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

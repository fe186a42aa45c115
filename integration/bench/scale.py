"""Scale on one Envoy: many connections, and a large policy.

For the do-nothing wasm filter and for kafka-mtls-filter (the 1,000-rule policy of bench.py), each in its own
Envoy (mTLS listener, --concurrency 1) in front of one Apache Kafka broker:

  1. `--idle` connections (default 10,000) opened and left idle, each after its TLS handshake (client
     certificate mesh-default) and one FindCoordinator round trip, so the filter has set up its session and
     derived the principal;
  2. then `--active` more connections (default 1,000) sending Produce requests (10 x 1 KiB, acks=1), one after
     another on each, for `--active-seconds`, the idle ones still open.

Envoy's memory is read after each step: its resident set (VmRSS, /proc), which includes the wasm VMs' linear
memory, and Envoy's own heap (server.memory_allocated, tcmalloc). Per connection = the growth over the step /
connections. Then the filter's policy memory: an Envoy with the filter and a policy of `--principals` principals
(default 10,000, 10 ACL entries each, as in bench.py's policy) against the same Envoy with a one-principal
policy, no connections.

Envoy's default circuit breaker allows 1,024 connections to a cluster: this script opens it for its Envoys (the
envoy/*.yaml templates keep the default, which caps one Envoy at 1,024 proxied connections).

Run: integration/bench/run --scale [--idle N] [--active N] [--active-seconds S] [--principals N] [--only-policy]
(`--only-policy`: the policy step alone, no connections.)
The script raises its open-file limit (connections are files: the client holds one per connection, Envoy two,
the broker one) to the hard limit, and as root above it; processes it starts inherit the limit.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

os.environ.setdefault("KMF_KAFKA_JVM_OPTS", "-Xms1g -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true")

import bench  # noqa: E402
import compare  # noqa: E402
import harness  # noqa: E402
import instructions  # noqa: E402
from harness import kafka_broker  # noqa: E402


def without_connection_cap(render):
    """harness.render_envoy_config, with the broker cluster's circuit breaker opened: Envoy's default allows
    1,024 connections to a cluster (upstream_cx_overflow past that, and the client's connection is closed), so
    the templates cap one Envoy at 1,024 proxied connections."""

    def rendered(listener: str, **values) -> str:
        text = render(listener, **values)
        marker = "      connect_timeout: 5s\n"
        if marker not in text:
            raise harness.HarnessError("the Envoy template's broker cluster has changed: update scale.py")
        breaker = ("      circuit_breakers:\n        thresholds:\n          - max_connections: 1000000\n"
                   "            max_pending_requests: 1000000\n            max_requests: 1000000\n")  # fmt: skip
        return text.replace(marker, marker + breaker, 1)

    return rendered


harness.render_envoy_config = without_connection_cap(harness.render_envoy_config)


def raise_file_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))  # root may raise the hard limit
            return wanted
        except (ValueError, OSError):
            pass
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def principals_policy(count: int) -> dict:
    """bench.py's policy shape with `count` principals of 10 entries each; the benchmark client is the first."""
    policy = bench.thousand_rule_policy(bench.TLS_PRINCIPAL)
    users = policy["authorization"]["users"]
    template = users[1:]  # 99 principals of 10 entries each
    extra = []
    for index in range(count - 1):
        user = template[index % len(template)]
        name = f"User:CN=svc{index}-app"
        acls = []
        for acl in user["acls"]:
            acl = {**acl, "resource": {**acl["resource"]}}
            if "name" in acl["resource"]:
                acl["resource"]["name"] = acl["resource"]["name"].replace("team", f"svc{index}-team", 1)
            acls.append(acl)
        extra.append({"principal": name, "acls": acls})
    policy["authorization"]["users"] = users[:1] + extra
    return policy


class Memory:
    def __init__(self, envoy: harness.Envoy):
        self.envoy = envoy
        self.pid = envoy.process.popen.pid

    def read(self) -> tuple[int, int]:
        """(VmRSS bytes, server.memory_allocated bytes)."""
        rss = compare.proc_rss_kib(self.pid) * 1024
        stats = self.envoy.stats("server.memory_allocated")
        return rss, stats.get("server.memory_allocated", 0)


def wait_for_coordinator(endpoint: compare.Endpoint) -> None:
    """FindCoordinator through `endpoint` until the broker answers without error (its coordinator is up)."""
    with endpoint.socket() as sock:
        compare.wait_for_coordinator(sock)


def open_idle(endpoint: compare.Endpoint, count: int) -> list[socket.socket]:
    sockets = []
    failures = 0
    for index in range(count):
        for attempt in range(5):
            try:
                sock = endpoint.socket(timeout=60)
                compare.ping_once(sock, index)
                break
            except (OSError, harness.HarnessError) as e:
                failures += 1
                if attempt == 4:
                    raise harness.HarnessError(f"idle connection {index}: {e} ({failures} failed attempts)") from e
                time.sleep(0.5)
        sockets.append(sock)
        if (index + 1) % 2000 == 0:
            print(f"    {index + 1} idle connections ({failures} attempts failed and were retried)", flush=True)
    return sockets


def run_active(endpoint: compare.Endpoint, memory: Memory, count: int, seconds: float, topic: str):
    """`count` connections producing for `seconds`; returns (peak RSS, peak allocated, requests, open sockets)."""
    batch = instructions.record_batch()
    sockets = [endpoint.socket(timeout=60) for _ in range(count)]
    stop_at = [0.0]
    done = [0] * count
    errors: list[str] = []
    gate = threading.Barrier(count + 1)
    go = threading.Event()  # set once stop_at holds the end

    def client(index: int) -> None:
        try:
            compare.produce_once(sockets[index], topic, batch, 0)
            gate.wait()
            go.wait()
            request_id = 0
            while time.monotonic() < stop_at[0]:
                request_id += 1
                compare.produce_once(sockets[index], topic, batch, request_id)
                done[index] += 1
        except Exception as e:
            errors.append(str(e))
            try:
                gate.abort()
            except Exception:
                pass

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    gate.wait(timeout=300)
    stop_at[0] = time.monotonic() + seconds
    go.set()
    peak_rss, peak_alloc = memory.read()
    while time.monotonic() < stop_at[0]:
        rss, alloc = memory.read()
        peak_rss, peak_alloc = max(peak_rss, rss), max(peak_alloc, alloc)
        time.sleep(0.5)
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise harness.HarnessError(f"{len(errors)} active connections failed, e.g. {errors[0]}")
    return peak_rss, peak_alloc, sum(done), sockets


def mib(value: float) -> str:
    return f"{value / 1048576:,.1f} MiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=1_000)
    parser.add_argument("--active-seconds", type=float, default=15)
    parser.add_argument("--principals", type=int, default=10_000)
    parser.add_argument("--only-policy", action="store_true", help="only the policy's memory, no connections")
    args = parser.parse_args(argv)
    wanted_idle, wanted_active = args.idle, args.active
    limit = raise_file_limit(2 * (args.idle + args.active) + 4096)
    # Envoy holds two descriptors per proxied connection (client side and broker side): where the limit is
    # below that and cannot be raised (a container without CAP_SYS_RESOURCE), scale both counts down alike
    # and report per connection, and the totals for the counts asked for.
    capacity = (limit - 400) // 2
    scaled_note = ""
    if args.idle + args.active > capacity:
        factor = capacity / (args.idle + args.active)
        args.idle, args.active = int(args.idle * factor), int(args.active * factor)
        scaled_note = (f"the open-file limit ({limit}, not raisable here) holds {capacity:,} proxied connections in one "
                       f"Envoy (two descriptors each): measured {args.idle:,} idle + {args.active:,} active in place of "
                       f"{wanted_idle:,} + {wanted_active:,}; totals below are per connection x the counts asked for")  # fmt: skip
    print(f"open-file limit {limit}; load average {os.getloadavg()[0]:.2f}" + (f"; {scaled_note}" if scaled_note else ""),
          flush=True)  # fmt: skip
    work_dir = harness.RUN_DIR / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    noop = None if args.only_policy else bench.build_noop_filter(work_dir)
    run_dir = harness.RUN_DIR / "bench-scale"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cert_dir = harness.certs_dir()
    kinds = ["noop", "filter", "policy-1", f"policy-{args.principals}"]
    ports = {kind: harness.free_port() for kind in kinds}
    listeners = [kafka_broker.Listener(f"ENVOY{i}", advertised_port=ports[k]) for i, k in enumerate(kinds)]
    # A deep accept queue: Envoy's tcp_proxy connects to the broker for every client connection, in bursts.
    kafka = kafka_broker.Kafka(run_dir, [listeners], name="kafka", properties={"socket.listen.backlog.size": 4096})
    lines = []
    try:
        internal = ("127.0.0.1", kafka.nodes[0].internal_port)
        topic = "bench-scale"
        harness.create_topic(*internal, topic)
        policy = bench.thousand_rule_policy(bench.TLS_PRINCIPAL)
        results = {}
        for index, kind in enumerate([] if args.only_policy else kinds[:2]):
            kind_dir = run_dir / kind
            kind_dir.mkdir()
            extra = {"wasm_path": noop, "plugin_config": {}} if kind == "noop" else {"plugin_config": policy}
            envoy = harness.Envoy(kind_dir, "mtls", ports[kind], "127.0.0.1", listeners[index].port, cert_dir,
                                  log_level="warn", **extra)  # fmt: skip
            endpoint = compare.Endpoint(kind, "127.0.0.1", ports[kind], True, envoy.process.popen.pid)
            memory = Memory(envoy)
            idle: list[socket.socket] = []
            active: list[socket.socket] = []
            try:
                wait_for_coordinator(endpoint)  # the VM's first request, the coordinator up
                base = memory.read()
                print(f"  {kind}: base RSS {mib(base[0])}, allocated {mib(base[1])}; opening {args.idle} idle", flush=True)
                started = time.monotonic()
                idle = open_idle(endpoint, args.idle)
                time.sleep(2)
                after_idle = memory.read()
                print(f"  {kind}: {args.idle} idle in {time.monotonic() - started:.0f} s: RSS {mib(after_idle[0])}", flush=True)
                peak_rss, peak_alloc, requests, active = run_active(endpoint, memory, args.active, args.active_seconds, topic)
                results[kind] = (base, after_idle, (peak_rss, peak_alloc), requests)
                print(f"  {kind}: {args.active} active, {requests} requests in {args.active_seconds:.0f} s: "
                      f"peak RSS {mib(peak_rss)}", flush=True)  # fmt: skip
            finally:
                for sock in idle + active:
                    sock.close()
                envoy.stop()
        # The policy's memory: no connections, a one-principal policy against a large one.
        policy_memory = {}
        one = bench.thousand_rule_policy(bench.TLS_PRINCIPAL)
        one["authorization"]["users"] = one["authorization"]["users"][:1]
        big = principals_policy(args.principals)
        for offset, (kind, config) in enumerate(((kinds[2], one), (kinds[3], big))):
            kind_dir = run_dir / kind
            kind_dir.mkdir()
            started = time.monotonic()
            envoy = harness.Envoy(kind_dir, "mtls", ports[kind], "127.0.0.1", listeners[2 + offset].port, cert_dir,
                                  log_level="warn", plugin_config=config)  # fmt: skip
            ready = time.monotonic() - started
            try:
                endpoint = compare.Endpoint(kind, "127.0.0.1", ports[kind], True, envoy.process.popen.pid)
                wait_for_coordinator(endpoint)  # the first step when it runs alone (--only-policy)
                time.sleep(1)
                heap = envoy.stats("server.memory_physical_size").get("server.memory_physical_size", 0)
                policy_memory[kind] = (Memory(envoy).read(), ready,
                                       sum(len(u["acls"]) for u in config["authorization"]["users"]), heap)  # fmt: skip
            finally:
                envoy.stop()
    finally:
        kafka.stop()

    if results:
        lines += connection_lines(results, args, wanted_idle, wanted_active, scaled_note)
    lines.append("\n== The filter's policy in memory (Envoy RSS, no connections) ==")
    for kind, ((rss, alloc), ready, entries, heap) in policy_memory.items():
        lines.append(f"{kind:<14} {entries:>8,} ACL entries: RSS {mib(rss):>12}, allocated {mib(alloc):>12}, "
                     f"Envoy heap {mib(heap):>12}, ready in {ready:.1f} s")  # fmt: skip
    if len(policy_memory) == 2:
        (small, big_) = list(policy_memory.values())
        grow = big_[0][0] - small[0][0]
        lines.append(f"{args.principals:,} principals take {mib(grow)} more RSS than one "
                     f"({grow / max(big_[2] - small[2], 1):,.0f} B per ACL entry, {grow / args.principals / 1024:,.1f} KiB"
                     f" per principal, every wasm VM of the Envoy included)")  # fmt: skip
    lines.append("allocated: Envoy's heap in use (server.memory_allocated); Envoy heap: what its allocator holds"
                 "\n(server.memory_physical_size), freed pages it keeps included; the rest of the RSS is mostly the wasm VMs.")  # fmt: skip
    print("\n".join(lines))
    return 0


def connection_lines(results: dict, args, wanted_idle: int, wanted_active: int, scaled_note: str) -> list[str]:
    """The table of the connection steps: per idle and per active connection, filter against do-nothing."""
    lines = [f"\n== One Envoy (mTLS, --concurrency 1): {args.idle:,} idle connections, then {args.active:,} active =="]
    lines.append(f"{'module':<8} {'base RSS':>10} {'heap':>9} | {'per idle connection':>21} | {'per active connection':>21} |"
                 f" {'active req/s':>12}")  # fmt: skip
    lines.append(f"{'':<8} {'':>10} {'':>9} | {'RSS KiB':>10} {'heap KiB':>10} | {'RSS KiB':>10} {'heap KiB':>10} |")
    per: dict = {}
    for kind, (base, idle, peak, requests) in results.items():
        per[kind] = (
            (idle[0] - base[0]) / args.idle / 1024, (idle[1] - base[1]) / args.idle / 1024,
            (peak[0] - idle[0]) / args.active / 1024, (peak[1] - idle[1]) / args.active / 1024,
        )  # fmt: skip
        lines.append(
            f"{kind:<8} {mib(base[0]):>10} {mib(base[1]):>9} | {per[kind][0]:>10,.1f} {per[kind][1]:>10,.1f} |"
            f" {per[kind][2]:>10,.1f} {per[kind][3]:>10,.1f} | {requests / args.active_seconds:>12,.0f}"
        )
    if "noop" in per and "filter" in per:
        d = [f - n for f, n in zip(per["filter"], per["noop"])]
        lines.append(f"{'filter - noop':<29} | {d[0]:>10,.1f} {d[1]:>10,.1f} | {d[2]:>10,.1f} {d[3]:>10,.1f} |")
    for kind, values in per.items():
        total = values[0] * wanted_idle + values[2] * wanted_active
        lines.append(f"{kind}: {wanted_idle:,} idle + {wanted_active:,} active connections = {total / 1024:,.0f} MiB"
                     f" of RSS over its base (RSS growth per connection x count; the heap is part of the RSS)")  # fmt: skip
    if scaled_note:
        lines.append(f"note: {scaled_note}")
    lines.append("RSS: Envoy's resident set (/proc VmRSS), the wasm VMs' linear memory included (it grows in 64 KiB"
                 "\npages and is never returned); heap: Envoy's own heap (server.memory_allocated), TLS and buffers;"
                 "\nactive: the peak over the active phase, sampled every 0.5 s, against the idle state.")  # fmt: skip
    return lines


if __name__ == "__main__":
    sys.exit(main())

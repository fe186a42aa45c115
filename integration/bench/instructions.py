"""Envoy's instructions per request, counted exactly: each stack's Envoy runs under valgrind's callgrind, and a
raw client sends Produce+Fetch round trips one at a time, so every request and every response is one data
callback in every configuration. Counting is switched on only around the measured round trips (after a warm-up
that lets V8 tier the module up), and the counts are split between Envoy's own code and V8's generated code
(the wasm module, and the wrappers between it and Envoy).

CPU time through /proc swings ±20% on a shared machine (see paired.py); instruction counts do not, so module
changes too small for the CPU ratio show here. What they leave out: the kernel (socket reads and writes, about
the same in every configuration), and that instructions are not cycles. Byte copies count by valgrind's
reckoning of memcpy, not by their cost.

    integration/bench/instructions.py [--round-trips N] [--warm-up N] [--tls] [--records N --record-size B]
                                      [--rounds R] [--cpu | --cache-sim] VARIANT...

VARIANT as for paired.py: label=tcp_proxy | label=noop | label=read-only | label=filter[:PATH] | label=probe:CONFIG.
Needs valgrind (apt install valgrind), except with --cpu. About 20 s per variant and round. --rounds R counts
every variant R times, in turn, and reports medians: the counts are exact for what ran, but Envoy's own share
moves by a few percent between runs (how its event loop meets the bytes). --cache-sim adds valgrind's cache
and branch simulation (about twice as slow): first-level instruction and data cache misses and mispredicted
branches per request. One request at a time, the filter's code is cold at every request (Envoy's and the
kernel's work in between evict it), so its instruction cache misses track the code it runs, and they cost more
CPU than its instructions do.

--cpu runs the same round trips without valgrind and reports Envoy's CPU per request from /proc (its
threads' run time in ns, split into user and system by utime and stime): the same workload in time, which shows what the counts leave out (the kernel's share,
and how fast the counted instructions run, which differs from one code path to another). Use more round
trips there (e.g. --round-trips 4000). --rounds R measures every variant R
times, the variants of a round side by side (as paired.py does), and reports medians: CPU time moves with the
machine's load, instruction counts do not.

--idle SECONDS measures each Envoy's CPU with no traffic at all, every stack up at once: what a filter's timers
cost whatever the traffic (and what a one-request-at-a-time run charges to its requests).

--latency measures request latency instead, with the benchmark's ping (bench.py): a FindCoordinator, which
the broker answers from memory and the filter authorizes and passes both ways unchanged. All stacks run at once,
their Envoys in front of one broker, and one client pings them in turn (50 pings to a stack, then the next
stack), one request at a time across all of them: no stack's traffic competes with another's, and the machine's
slow moments fall on every stack alike, so the differences between their latencies are what each stack adds.
It reports p50, p99 and p99.9 and what each variant adds to the first, medians over --rounds. No valgrind.
(Produce and Fetch are left out: the broker's own latency for them swings by milliseconds, and the work it
does after them delays the next requests.)

Examples: integration/bench/instructions.py noop=noop read=read-only filter=filter
          integration/bench/instructions.py --idle 20 --rounds 3 read=read-only filter=filter
          integration/bench/instructions.py --latency --rounds 5 --round-trips 20000 tcp=tcp_proxy noop=noop filter=filter
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import socket
import statistics
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench  # noqa: E402
import harness  # noqa: E402
from harness import kafka_broker  # noqa: E402
from paired import parse_variants, side_by_side  # noqa: E402

TOPIC = "bench-instructions"
RECORDS_PER_REQUEST = 10  # --records
VALUE_SIZE = 1024  # --record-size
LATENCY_BLOCK = 50  # --latency: pings to one stack before the next stack's


def record_batch(records: int = RECORDS_PER_REQUEST, size: int = VALUE_SIZE) -> bytes:
    """Uncompressed records; by default 10 of 1 KiB (the paired and session benches' small request)."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False,
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=max(1 << 20, 2 * records * size),
    )  # fmt: skip
    # Now, not a fixed date: a batch older than the topic's retention (7 days) rolls a segment at every append and
    # the broker's first retention check (30 s after it starts) deletes them, so a Fetch from offset 0 is then
    # answered OFFSET_OUT_OF_RANGE (what made this benchmark fail on a slow run).
    timestamp = int(time.time() * 1000)
    for offset in range(records):
        value = bytes([97 + offset % 26]) * size
        builder.append(offset, timestamp=timestamp, key=None, value=value, headers=[])
    return bytes(builder.build())


def frame(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    header = struct.pack(">hhi", api_key, version, correlation_id) + harness.kafka_string("kmf-bench")
    return struct.pack(">i", len(header) + len(body)) + header + body


def produce_request(correlation_id: int, batch: bytes) -> bytes:
    """Produce v3 (acks=1) of one batch to partition 0."""
    body = struct.pack(">hhi", -1, 1, 30_000)  # transactional_id null, acks, timeout
    body += struct.pack(">i", 1) + harness.kafka_string(TOPIC)
    body += struct.pack(">ii", 1, 0) + struct.pack(">i", len(batch)) + batch
    return frame(0, 3, correlation_id, body)


def fetch_request(correlation_id: int) -> bytes:
    """Fetch v4 of partition 0 from offset 0, at most 16 KiB: always the same first batch (a first batch comes
    whole even when it is larger)."""
    # max wait 0: the batch is there, and the broker answers at once rather than after a wait.
    body = struct.pack(">iiiib", -1, 0, 1, 16 * 1024, 0)  # replica, max wait, min bytes, max bytes, isolation
    body += struct.pack(">i", 1) + harness.kafka_string(TOPIC)
    body += struct.pack(">iiqi", 1, 0, 0, 16 * 1024)
    return frame(1, 4, correlation_id, body)


def find_coordinator(sock: socket.socket, correlation_id: int) -> None:
    """The benchmark's ping (bench.run_pings): the broker answers from memory, the filter authorizes it and
    passes it both ways unchanged."""
    sock.sendall(bench.find_coordinator_request(correlation_id))
    answer = harness.read_frame(sock)
    if answer[:4] != struct.pack(">i", correlation_id) or answer[4:6] != b"\0\0":
        raise harness.HarnessError(f"FindCoordinator {correlation_id} failed: {answer[:16].hex()}")


EMPTY_FETCHES: list[str] = []  # Fetch answers without the batch, asked again (see round_trips)


def round_trips(sock: socket.socket, count: int, batch: bytes, first_id: int) -> None:
    for index in range(count):
        produce_id, fetch_id = first_id + 2 * index, first_id + 2 * index + 1
        sock.sendall(produce_request(produce_id, batch))
        answer = harness.read_frame(sock)
        # Produce v3 answer: correlation id, [topic name, [partition, error code, ...]]
        error_at = 4 + 4 + 2 + len(TOPIC) + 4 + 4
        if answer[:4] != struct.pack(">i", produce_id) or answer[error_at : error_at + 2] != b"\0\0":
            raise harness.HarnessError(f"Produce {produce_id} not acknowledged: {answer[:64].hex()}")
        for attempt in range(3):
            sock.sendall(fetch_request(fetch_id))
            answer = harness.read_frame(sock)
            if answer[:4] != struct.pack(">i", fetch_id):
                raise harness.HarnessError(f"Fetch {fetch_id}: answer out of order: {answer[:16].hex()}")
            if len(answer) >= len(batch):
                break
            # Seen once from Apache Kafka under load: an answer without records (error code in it). Asked again.
            error_at = 4 + 4 + 4 + 2 + len(TOPIC) + 4 + 4
            EMPTY_FETCHES.append(f"Fetch {fetch_id}: {len(answer)} B, error code {answer[error_at:error_at + 2].hex()}")
        else:
            raise harness.HarnessError(f"Fetch {fetch_id} answered without the batch 3 times: {EMPTY_FETCHES[-3:]}")


def wait_for_leader(sock: socket.socket, batch: bytes) -> None:
    """A topic just created has no leader for a moment (NOT_LEADER_OR_FOLLOWER): Produce until one is there."""
    for attempt in range(100):
        sock.sendall(produce_request(-1 - attempt, batch))
        answer = harness.read_frame(sock)
        error_at = 4 + 4 + 2 + len(TOPIC) + 4 + 4
        if answer[error_at : error_at + 2] == b"\0\0":
            return
        time.sleep(0.1)
    raise harness.HarnessError(f"{TOPIC} has no leader")


def valgrind_wrapper(work_dir: Path, out_file: Path, cache_sim: bool = False) -> Path:
    envoy = harness.envoy_binary()
    wrapper = work_dir / "envoy-under-callgrind.sh"
    extra = "--cache-sim=yes --branch-sim=yes" if cache_sim else ""
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file {extra} "
        f"--callgrind-out-file={out_file} {envoy} \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def callgrind_control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, text=True)


def split_by_object(dump: Path) -> tuple[int, dict[str, int]]:
    """Total instructions of a callgrind dump, and each object's own share ("???": code in no ELF object,
    which is V8's: its generated code, the wasm module and the wrappers around it)."""
    text = dump.read_text(errors="replace")
    total = int(re.search(r"^totals:\s+(\d+)", text, re.M).group(1))
    names: dict[str, str] = {}
    current = ""
    by_object: dict[str, int] = {}
    after_call = False
    for line in text.splitlines():
        if after_call:  # the cost line after calls= is the callee's inclusive cost, not this function's own
            after_call = False
        elif line.startswith("calls="):
            after_call = True
        elif line.startswith(("ob=", "cob=")):
            # Names are compressed: "(3) /path" the first time (in an ob= or a cob= line), "(3)" after.
            spec = line.partition("=")[2]
            match = re.match(r"\((\d+)\)\s*(.*)", spec)
            if match and match.group(2):
                names[match.group(1)] = Path(match.group(2)).name
            if line.startswith("ob="):
                current = names.get(match.group(1), "") if match else Path(spec).name
        elif line[:1].isdigit() or line[:1] in "+-*":
            parts = line.split()
            if len(parts) >= 2:
                by_object[current] = by_object.get(current, 0) + int(parts[1])
    return total, by_object


def simulated_misses(dump: Path) -> tuple[int, int, int]:
    """With --cache-sim: the counted run's first-level instruction and data cache misses and mispredicted
    branches (valgrind's model of this machine's caches); zeros otherwise."""
    text = dump.read_text(errors="replace")
    events = re.search(r"^events:\s+(.*)$", text, re.M)
    totals = re.search(r"^totals:\s+(.*)$", text, re.M)
    if not events or not totals:
        return (0, 0, 0)
    value = dict(zip(events.group(1).split(), (int(n) for n in totals.group(1).split())))
    return (
        value.get("I1mr", 0),
        value.get("D1mr", 0) + value.get("D1mw", 0),
        value.get("Bcm", 0) + value.get("Bim", 0),
    )


def start_stack(label: str, wasm: Path | None, plugin_config, args) -> harness.Stack:
    listener = "mtls" if args.tls else "plain"
    kwargs = {"listener": listener, "name": f"instructions-{label}", "log_level": "warn"}
    if wasm is None:
        kwargs.update(with_filter=False, plugin_config={})
    else:
        kwargs.update(wasm_path=wasm, plugin_config=plugin_config)
    # The stacks of a round start side by side, each picking free ports; on a busy machine a port can be taken
    # between its pick and its bind. Start again then (a few times).
    for attempt in range(3):
        try:
            return harness.Stack(**kwargs)
        except harness.HarnessError as e:
            if "Address already in use" not in str(e) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def client_socket(stack: harness.Stack, args) -> socket.socket:
    if args.tls:
        sock = harness.tls_socket(stack, cert=bench.CLIENT_CERT, timeout=60)
    else:
        host, _, port = stack.bootstrap.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def measure_cpu(label: str, wasm: Path | None, plugin_config, args) -> tuple[float, float, int]:
    """Envoy's user and system CPU seconds, and its read and write system calls, over the measured round trips
    (no valgrind)."""
    try:
        return _measure_cpu(label, wasm, plugin_config, args)
    except harness.HarnessError as e:
        raise harness.HarnessError(f"{label}: {e}") from e


def _measure_cpu(label: str, wasm: Path | None, plugin_config, args) -> tuple[float, float, int]:
    stack = start_stack(label, wasm, plugin_config, args)
    try:
        stack.create_topic(TOPIC)
        pid = stack.envoy.process.popen.pid
        batch = record_batch(args.records, args.record_size)
        with client_socket(stack, args) as sock:
            wait_for_leader(sock, batch)
            round_trips(sock, args.warm_up, batch, 0)
            user_before, system_before = bench.envoy_cpu_ticks(pid)
            run_before, calls_before = bench.threads_run_seconds(pid), bench.syscalls(pid)
            round_trips(sock, args.round_trips, batch, 2 * args.warm_up)
            run_after, calls_after = bench.threads_run_seconds(pid), bench.syscalls(pid)
            user_after, system_after = bench.envoy_cpu_ticks(pid)
        # The total from the threads' run times (ns); its split into user and system from the ticks.
        user, system = user_after - user_before, system_after - system_before
        total = run_after - run_before
        share = user / (user + system) if user + system else 0.5
        return total * share, total * (1 - share), calls_after - calls_before
    finally:
        stack.stop()


def report_latency(specs, args) -> int:
    """Every stack at once; one request at a time, to each stack in turn (see --latency). The Envoys share one
    broker (the user's KAFKA_BOOTSTRAP, or one Apache Kafka): every stack's request then meets the same broker,
    and no idle broker of another stack takes the CPU in between. (The pings are raw FindCoordinator requests on
    one connection: no client follows the address the broker advertises, so one listener serves every Envoy.)"""
    broker: kafka_broker.Kafka | None = None
    stacks: dict[str, harness.Stack] = {}
    users_bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    try:
        if users_bootstrap is None:
            run_dir = harness.RUN_DIR / "instructions-latency-broker"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
            broker = kafka_broker.Kafka(run_dir, [[kafka_broker.Listener("EXTERNAL")]])
            os.environ["KAFKA_BOOTSTRAP"] = f"127.0.0.1:{broker.nodes[0].listeners[0].port}"
        for label, wasm, config in specs:
            stacks[label] = start_stack(label, wasm, config, args)
    except BaseException:
        for stack in stacks.values():
            stack.stop()
        if broker is not None:
            broker.stop()
        raise
    finally:
        if users_bootstrap is None:
            os.environ.pop("KAFKA_BOOTSTRAP", None)
    # Per round, per variant: (p50, p99, p99.9).
    rounds: list[dict[str, tuple[float, ...]]] = []
    sockets: dict[str, socket.socket] = {}
    try:
        for label, stack in stacks.items():
            sockets[label] = client_socket(stack, args)
            for correlation_id in range(args.warm_up):
                find_coordinator(sockets[label], correlation_id)
        for round_index in range(args.rounds):
            samples = ping_interleaved(sockets, [label for label, _, _ in specs], args.round_trips)
            rounds.append({label: percentiles(values, (50, 99, 99.9)) for label, values in samples.items()})
            base = rounds[-1][specs[0][0]]
            cells = "  ".join(
                f"{label} +{p[0] - base[0]:.0f}/+{p[1] - base[1]:.0f}" for label, p in rounds[-1].items() if p is not base
            )
            print(f"round {round_index + 1}: added p50/p99 us: {cells}".replace("+-", "-"), flush=True)
    finally:
        for sock in sockets.values():
            sock.close()
        for stack in stacks.values():
            stack.stop()
        if broker is not None:
            broker.stop()
    print(
        f"\nFindCoordinator latency at the client, microseconds ({'mTLS' if args.tls else 'plaintext'}; "
        f"{args.round_trips} per stack and round, one request at a time across all stacks, one broker; "
        f"medians of {args.rounds} rounds)"
    )
    first = specs[0][0]
    print(f"{'':<12} {'p50':>7} {'p99':>7} {'p99.9':>7} {'added p50':>10} {'added p99':>10} {'added p99.9':>12}")
    for label, _, _ in specs:
        points = [statistics.median(r[label][i] for r in rounds) for i in range(3)]
        added = ""
        if label != first:
            added = "".join(
                f"{statistics.median(r[label][i] - r[first][i] for r in rounds):>+{w}.0f}"
                for i, w in enumerate((11, 11, 13))
            )
        print(f"{label:<12} {points[0]:>7.0f} {points[1]:>7.0f} {points[2]:>7.0f}{added}")
    return 0


def ping_interleaved(sockets: dict[str, socket.socket], labels: list[str], count: int) -> dict[str, list[float]]:
    """`count` pings to each stack, in blocks of LATENCY_BLOCK, one stack after another; microseconds each."""
    samples: dict[str, list[float]] = {label: [] for label in labels}
    clock = time.perf_counter_ns
    for first_index in range(0, count, LATENCY_BLOCK):
        # The order of the stacks turns every block, so none is always first.
        turn = first_index // LATENCY_BLOCK % len(labels)
        for label in labels[turn:] + labels[:turn]:
            sock, times = sockets[label], samples[label]
            for index in range(first_index, min(first_index + LATENCY_BLOCK, count)):
                started = clock()
                find_coordinator(sock, index)
                times.append((clock() - started) / 1e3)
    return samples


def percentiles(values: list[float], points: tuple[float, ...]) -> tuple[float, ...]:
    ordered = sorted(values)
    return tuple(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] for p in points)


IDLE_SECONDS = 5.0


def measure(label: str, wasm: Path | None, plugin_config, args, work_dir: Path):
    """Instructions in the counted round trips, split by object, the seconds they took, Envoy's instructions
    per second with no traffic (its timers), and the simulated misses (with --cache-sim) of the counted run and
    per second with no traffic."""
    out_file = work_dir / f"callgrind-{label}.out"
    for stale in work_dir.glob(f"callgrind-{label}.out*"):
        stale.unlink()
    # The wrapper runs the Envoy the harness would (ENVOY_BIN if set); the harness starts the wrapper.
    users_envoy = os.environ.get("ENVOY_BIN")
    os.environ["ENVOY_BIN"] = str(valgrind_wrapper(work_dir, out_file, getattr(args, "cache_sim", False)))
    original_wait = harness.Envoy._wait_ready
    harness.Envoy._wait_ready = lambda self, timeout: original_wait(self, 300)
    try:
        stack = start_stack(label, wasm, plugin_config, args)
    finally:
        harness.Envoy._wait_ready = original_wait
        if users_envoy is None:
            del os.environ["ENVOY_BIN"]
        else:
            os.environ["ENVOY_BIN"] = users_envoy
    try:
        stack.create_topic(TOPIC)
        pid = str(stack.envoy.process.popen.pid)
        batch = record_batch(args.records, args.record_size)
        with client_socket(stack, args) as sock:
            wait_for_leader(sock, batch)
            round_trips(sock, args.warm_up, batch, 0)
            callgrind_control("--instr=on", pid)
            started = time.monotonic()
            round_trips(sock, args.round_trips, batch, 2 * args.warm_up)
            elapsed = time.monotonic() - started
            callgrind_control("--instr=off", pid)
            callgrind_control("--dump", pid)
            # Then the same Envoy with no traffic: what its timers cost per second (the filter's root polls the
            # newest policy every 20 ms and flushes counters every second). Under callgrind a request takes
            # ~50x its real time, so the timers' share of the counted run above is ~50x what it is in service.
            callgrind_control("--instr=on", pid)
            time.sleep(IDLE_SECONDS)
            callgrind_control("--instr=off", pid)
            callgrind_control("--dump", pid)
        dumps = sorted(work_dir.glob(f"callgrind-{label}.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) < 2:
            raise harness.HarnessError(f"{label}: callgrind wrote no dump")
        print(f"  {label}: {args.round_trips} round trips in {elapsed:.1f} s under callgrind", file=sys.stderr)
        total, by_object = split_by_object(dumps[-2])
        idle, _ = split_by_object(dumps[-1])
        idle_misses = tuple(m / IDLE_SECONDS for m in simulated_misses(dumps[-1]))
        return total, by_object, elapsed, idle / IDLE_SECONDS, (simulated_misses(dumps[-2]), idle_misses)
    finally:
        stack.stop()


def count_rounds(specs, args, work_dir: Path) -> list[list[tuple]]:
    """`args.rounds` rounds, every variant once a round, in order; a row per variant and round: (label, per
    request, in Envoy, in V8 code, idle/s, net per request, simulated misses per request net of the timers').
    The counts are exact for what ran, but Envoy's own share moves by a few percent from run to run (how its
    event loop meets the bytes), hence rounds."""
    rounds = []
    for _ in range(max(1, args.rounds)):
        rows = []
        for label, wasm, config in specs:
            total, by_object, elapsed, idle_rate, misses = measure(label, wasm, config, args, work_dir)
            per = 2 * args.round_trips
            # Net: without the timers' instructions over the counted time (under callgrind a request takes ~50x
            # its real time, so the timers weigh ~50x more per request than in service).
            net = (total - idle_rate * elapsed) / per
            envoy, v8 = by_object.get("envoy", 0) / per, by_object.get("???", 0) / per
            # The misses net of the timers' in the same way.
            counted, idle_misses = misses
            net_misses = tuple(max(0.0, (m - i * elapsed) / per) for m, i in zip(counted, idle_misses))
            rows.append((label, total / per, envoy, v8, idle_rate, net, net_misses))
        rounds.append(rows)
    return rounds


def print_counts(title: str, rounds: list[list[tuple]]) -> None:
    """The medians over the rounds, each variant against the first; then each round's net ratios."""
    labels = [row[0] for row in rounds[0]]
    medians = [
        (label, *(statistics.median(r[i][k] for r in rounds) for k in range(1, 6))) for i, label in enumerate(labels)
    ]
    base, base_net = medians[0][1], medians[0][5]
    print(f"\n{title}, medians of {len(rounds)} round(s)")
    print(
        f"{'':<12} {'per request':>12} {'in Envoy':>10} {'in V8 code':>11} {'added':>8} {'vs ' + labels[0]:>10}"
        f" {'idle/s':>10} {'net/request':>12} {'net vs':>7}"
    )
    for label, per_request, envoy, v8, idle_rate, net in medians:
        print(
            f"{label:<12} {per_request:>12,.0f} {envoy:>10,.0f} {v8:>11,.0f} {per_request - base:>8,.0f} "
            f"{per_request / base:>9.2f}x {idle_rate:>10,.0f} {net:>12,.0f} {net / base_net:>6.2f}x"
        )
    if any(row[6][0] for row in rounds[0]):
        print(f"{'':<12} {'I1 misses':>12} {'D1 misses':>10} {'mispredicted':>13}  (per request net of timers, valgrind's model)")
        for i, label in enumerate(labels):
            misses = [statistics.median(r[i][6][k] for r in rounds) for k in range(3)]
            print(f"{label:<12} {misses[0]:>12,.0f} {misses[1]:>10,.0f} {misses[2]:>13,.0f}")
    if len(rounds) > 1:
        for i, label in enumerate(labels[1:], start=1):
            ratios = ", ".join(f"{r[i][5] / r[0][5]:.2f}" for r in rounds)
            print(f"  {label}: net vs {labels[0]} by round: {ratios}")
    print(
        "idle/s: Envoy's instructions per second with no traffic (timers); net: per request without them (under"
        " callgrind a request takes ~50x its real time, so timers weigh ~50x more per request than in service)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--tls", action="store_true", help="the mTLS listener, the client presenting its certificate")
    parser.add_argument("--records", type=int, default=RECORDS_PER_REQUEST, help="records per Produce")
    parser.add_argument("--record-size", type=int, default=VALUE_SIZE, help="bytes per record value")
    parser.add_argument("--cpu", action="store_true", help="Envoy's user and system CPU from /proc, no valgrind")
    parser.add_argument("--rounds", type=int, default=1, help="measure this many times (every mode): medians")
    parser.add_argument("--cache-sim", action="store_true",
                        help="also valgrind's cache and branch simulation: L1 misses and mispredictions per request")
    parser.add_argument("--latency", action="store_true", help="request latency, the stacks interleaved; no valgrind")
    parser.add_argument("--idle", type=float, metavar="SECONDS",
                        help="Envoy's CPU with no traffic over this many seconds, every stack at once; no valgrind")
    args = parser.parse_args()
    if not (args.cpu or args.latency or args.idle) and (shutil.which("valgrind") is None or shutil.which("callgrind_control") is None):
        parser.error("needs valgrind and callgrind_control (apt install valgrind)")
    work_dir = harness.RUN_DIR / "bench" / "instructions"
    work_dir.mkdir(parents=True, exist_ok=True)
    specs = parse_variants(args.variants, work_dir.parent, parser.error)
    if args.tls:
        # The policy names the client's principal: over mTLS it is the certificate's, not ANONYMOUS.
        specs = [(label, wasm, for_tls_client(config)) for label, wasm, config in specs]
    if args.latency:
        return report_latency(specs, args)
    if args.idle:
        return report_idle(specs, args)
    if args.cpu:
        return report_cpu(specs, args)
    title = (
        f"Envoy's instructions per request ({'mTLS' if args.tls else 'plaintext'}; callgrind; {args.round_trips} "
        f"Produce+Fetch round trips, one request at a time: Produce v3 of {args.records} x {args.record_size} B, Fetch v4"
        f" answered with that batch)"
    )
    print_counts(title, count_rounds(specs, args, work_dir))
    return 0


def for_tls_client(config):
    """A filter's policy naming the plaintext client's principal, for the mTLS client's."""
    if not isinstance(config, dict) or "authorization" not in config:
        return config
    config = copy.deepcopy(config)
    for user in config["authorization"]["users"]:
        if user["principal"] == bench.PLAIN_PRINCIPAL:
            user["principal"] = bench.TLS_PRINCIPAL
    return config


def report_idle(specs, args) -> int:
    """Every stack up at once and no client: each Envoy's CPU per second over `--idle` seconds (its threads' run
    time), medians of `--rounds`. What a filter's timers cost whatever the traffic; one request at a time, a
    benchmark charges it to the requests that run meanwhile."""
    samples: dict[str, list[float]] = {label: [] for label, _, _ in specs}
    for round_index in range(args.rounds):
        stacks = {}
        try:
            for label, wasm, config in specs:
                stacks[label] = start_stack(label, wasm, config, args)
            time.sleep(3)  # past start-up
            pids = {label: stack.envoy.process.popen.pid for label, stack in stacks.items()}
            before = {label: bench.threads_run_seconds(pid) for label, pid in pids.items()}
            started = time.monotonic()
            time.sleep(args.idle)
            elapsed = time.monotonic() - started
            for label, pid in pids.items():
                samples[label].append((bench.threads_run_seconds(pid) - before[label]) * 1000 / elapsed)
        finally:
            for stack in stacks.values():
                stack.stop()
        print(f"round {round_index + 1}: " + "  ".join(f"{label} {values[-1]:.2f} ms/s" for label, values in samples.items()), flush=True)
    print(f"\nEnvoy's CPU with no traffic, ms per second ({args.idle:g} s, medians of {args.rounds} rounds; a connection-free"
          " Envoy: its own timers and each filter's)")  # fmt: skip
    for label, values in samples.items():
        print(f"{label:<12} {statistics.median(values):>8.2f}")
    return 0


def report_cpu(specs, args) -> int:
    """Each round measures every variant once, side by side; the table gives medians over the rounds."""
    per = 2 * args.round_trips / 1e6  # requests, in millions: seconds per request become microseconds
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in specs}
    calls: dict[str, list[float]] = {label: [] for label, _, _ in specs}
    for round_index in range(args.rounds):
        # The variants of a round run side by side, as in paired.py: the same load from the rest of the
        # machine falls on each, which steadies their ratios far more than runs one after another.
        measured = side_by_side(
            {label: (lambda l=label, w=w, c=c: measure_cpu(l, w, c, args)) for label, w, c in specs}
        )
        for label, _, _ in specs:
            user, system, syscalls = measured[label]
            samples[label].append((user / per, system / per))
            calls[label].append(syscalls / (2 * args.round_trips))
        base = sum(samples[specs[0][0]][-1])
        cells = "  ".join(f"{label} {sum(s[-1]):.1f} us ({sum(s[-1]) / base:.2f}x)" for label, s in samples.items())
        print(f"round {round_index + 1}: {cells}", flush=True)
    if EMPTY_FETCHES:
        print(f"note: {len(EMPTY_FETCHES)} Fetch answers came without the batch and were asked again, e.g. {EMPTY_FETCHES[:2]}")
    print(
        f"\nEnvoy CPU per request ({'mTLS' if args.tls else 'plaintext'}; /proc; {args.round_trips} Produce+Fetch "
        f"round trips, one request at a time, as under callgrind: Produce v3 of {args.records} x {args.record_size} B; "
        f"medians of {args.rounds} rounds)"
    )
    print(f"{'':<12} {'user us':>8} {'system us':>10} {'total us':>9} {'user share':>11} {'vs ' + specs[0][0]:>10}"
          f" {'syscalls':>9}")
    first = samples[specs[0][0]]
    for label, values in samples.items():
        user = statistics.median(u for u, _ in values)
        system = statistics.median(s for _, s in values)
        ratio = statistics.median((u + s) / (bu + bs) for (u, s), (bu, bs) in zip(values, first))
        print(
            f"{label:<12} {user:>8.1f} {system:>10.1f} {user + system:>9.1f} {user / (user + system):>10.0%} "
            f"{ratio:>9.2f}x {statistics.median(calls[label]):>9.1f}"
        )
    print("(syscalls: Envoy's socket reads and writes per request, /proc/PID/io; where its system time goes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

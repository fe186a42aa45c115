"""Envoy's instructions per request, counted exactly: each stack's Envoy runs under valgrind's callgrind, and a
raw client sends Produce+Fetch round trips one at a time, so every request and every response is one data
callback in every configuration. Counting is switched on only around the measured round trips (after a warm-up
that lets V8 tier the module up), and the counts are split between Envoy's own code and V8's generated code
(the wasm module, and the wrappers between it and Envoy).

CPU time through /proc swings ±20% on a shared machine (see paired.py); instruction counts do not, so module
changes too small for the CPU ratio show here. What they leave out: the kernel (socket reads and writes, the
same in every configuration: about 60% of the do-nothing filter's Envoy samples under `perf`, README), and that
instructions are not cycles. Byte copies count by valgrind's reckoning of memcpy, not by their cost.

    integration/bench/instructions.py [--round-trips N] [--warm-up N] [--tls] VARIANT...

VARIANT as for paired.py: label=tcp_proxy | label=noop | label=filter[:PATH] | label=probe:CONFIG.
Needs valgrind (apt install valgrind). About a minute per variant.

Example: integration/bench/instructions.py noop=noop read=probe:"buf=1 win=4096" filter=filter
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
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
from paired import parse_variants  # noqa: E402

TOPIC = "bench-instructions"
RECORDS_PER_REQUEST = 10
VALUE_SIZE = 1024


def record_batch() -> bytes:
    """10 records of 1 KiB, uncompressed (the paired and session benches' small request)."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=0, is_transactional=False,
        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20,
    )  # fmt: skip
    for offset in range(RECORDS_PER_REQUEST):
        builder.append(offset, timestamp=1_700_000_000_000, key=None, value=bytes([97 + offset]) * VALUE_SIZE, headers=[])
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
    """Fetch v4 of partition 0 from offset 0, at most 16 KiB: always the same first batch, about 10 KiB."""
    body = struct.pack(">iiiib", -1, 100, 1, 16 * 1024, 0)  # replica, max wait, min bytes, max bytes, isolation
    body += struct.pack(">i", 1) + harness.kafka_string(TOPIC)
    body += struct.pack(">iiqi", 1, 0, 0, 16 * 1024)
    return frame(1, 4, correlation_id, body)


def round_trips(sock: socket.socket, count: int, batch: bytes, first_id: int) -> None:
    for index in range(count):
        produce_id, fetch_id = first_id + 2 * index, first_id + 2 * index + 1
        sock.sendall(produce_request(produce_id, batch))
        answer = harness.read_frame(sock)
        # Produce v3 answer: correlation id, [topic name, [partition, error code, ...]]
        error_at = 4 + 4 + 2 + len(TOPIC) + 4 + 4
        if answer[:4] != struct.pack(">i", produce_id) or answer[error_at : error_at + 2] != b"\0\0":
            raise harness.HarnessError(f"Produce {produce_id} not acknowledged: {answer[:64].hex()}")
        sock.sendall(fetch_request(fetch_id))
        answer = harness.read_frame(sock)
        if answer[:4] != struct.pack(">i", fetch_id) or len(answer) < len(batch):
            raise harness.HarnessError(f"Fetch {fetch_id} answered without the batch ({len(answer)} B)")


def valgrind_wrapper(work_dir: Path, out_file: Path) -> Path:
    envoy = harness.envoy_binary()
    wrapper = work_dir / "envoy-under-callgrind.sh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file "
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


def measure(label: str, wasm: Path | None, plugin_config, args, work_dir: Path) -> tuple[int, dict[str, int]]:
    out_file = work_dir / f"callgrind-{label}.out"
    for stale in work_dir.glob(f"callgrind-{label}.out*"):
        stale.unlink()
    # The wrapper runs the Envoy the harness would (ENVOY_BIN if set); the harness starts the wrapper.
    users_envoy = os.environ.get("ENVOY_BIN")
    os.environ["ENVOY_BIN"] = str(valgrind_wrapper(work_dir, out_file))
    original_wait = harness.Envoy._wait_ready
    harness.Envoy._wait_ready = lambda self, timeout: original_wait(self, 300)
    try:
        listener = "mtls" if args.tls else "plain"
        kwargs = {"listener": listener, "name": f"instructions-{label}", "log_level": "warn"}
        if wasm is None:
            kwargs.update(with_filter=False, plugin_config={})
        else:
            kwargs.update(wasm_path=wasm, plugin_config=plugin_config)
        stack = harness.Stack(**kwargs)
    finally:
        harness.Envoy._wait_ready = original_wait
        if users_envoy is None:
            del os.environ["ENVOY_BIN"]
        else:
            os.environ["ENVOY_BIN"] = users_envoy
    try:
        stack.create_topic(TOPIC)
        pid = str(stack.envoy.process.popen.pid)
        batch = record_batch()
        if args.tls:
            sock = harness.tls_socket(stack, cert=bench.CLIENT_CERT, timeout=60)
        else:
            host, _, port = stack.bootstrap.rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with sock:
            round_trips(sock, args.warm_up, batch, 0)
            callgrind_control("--instr=on", pid)
            started = time.monotonic()
            round_trips(sock, args.round_trips, batch, 2 * args.warm_up)
            elapsed = time.monotonic() - started
            callgrind_control("--instr=off", pid)
            callgrind_control("--dump", pid)
        dumps = sorted(work_dir.glob(f"callgrind-{label}.out.*"))
        if not dumps:
            raise harness.HarnessError(f"{label}: callgrind wrote no dump")
        print(f"  {label}: {args.round_trips} round trips in {elapsed:.1f} s under callgrind", file=sys.stderr)
        return split_by_object(dumps[-1])
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--warm-up", type=int, default=300)
    parser.add_argument("--tls", action="store_true", help="the mTLS listener, the client presenting its certificate")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("needs valgrind and callgrind_control (apt install valgrind)")
    work_dir = harness.RUN_DIR / "bench" / "instructions"
    work_dir.mkdir(parents=True, exist_ok=True)
    specs = parse_variants(args.variants, work_dir.parent, parser.error)
    if args.tls:
        # The policy names the client's principal: over mTLS it is the certificate's, not ANONYMOUS.
        plain_policy = bench.thousand_rule_policy(bench.PLAIN_PRINCIPAL)
        tls_policy = bench.thousand_rule_policy(bench.TLS_PRINCIPAL)
        specs = [(label, wasm, tls_policy if config == plain_policy else config) for label, wasm, config in specs]
    rows = []
    for label, wasm, config in specs:
        total, by_object = measure(label, wasm, config, args, work_dir)
        per = 2 * args.round_trips
        rows.append((label, total / per, by_object.get("envoy", 0) / per, by_object.get("???", 0) / per))
    base = rows[0][1]
    print(
        f"\nEnvoy's instructions per request ({'mTLS' if args.tls else 'plaintext'}; callgrind; {args.round_trips} "
        f"Produce+Fetch round trips, one request "
        f"at a time: Produce v3 of {RECORDS_PER_REQUEST} x {VALUE_SIZE} B, Fetch v4 answered with that batch)"
    )
    print(f"{'':<12} {'per request':>12} {'in Envoy':>10} {'in V8 code':>11} {'added':>8} {'vs ' + rows[0][0]:>10}")
    for label, per_request, envoy, v8 in rows:
        print(
            f"{label:<12} {per_request:>12,.0f} {envoy:>10,.0f} {v8:>11,.0f} {per_request - base:>8,.0f} "
            f"{per_request / base:>9.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

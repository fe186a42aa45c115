"""Envoy CPU per request of several plaintext stacks run AT THE SAME TIME (one producer+consumer thread each),
repeated, with each stack's ratio to the first one per round. Running them together exposes them to the same
load from everything else on the machine, which makes the ratios far steadier than sequential runs on a shared
machine.

    integration/bench/paired.py [--messages N] [--rounds R] [--value-size B] VARIANT...

VARIANT is label=kind, kind one of:
    tcp_proxy            no wasm filter
    noop                 the do-nothing filter (integration/bench/noop-filter)
    read-only            a module that only reads each data callback once (integration/bench/readonly-filter)
    filter[:PATH]        kafka-mtls-filter (default module: the harness's) enforcing the 1,000-rule policy
    filter-small[:PATH]  the same with only the benchmark client's own 10 rules of that policy
    probe:CONFIG         the do-nothing filter plus hostcalls per data callback (integration/bench/hostcall-probe),
                         e.g. probe:time=20, probe:buf=20, probe:inc=20, probe:hist=20, probe:spin=5000

Example: integration/bench/paired.py noop=noop filter=filter time20=probe:time=20
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
from pathlib import Path
from typing import Callable, TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench  # noqa: E402
import harness  # noqa: E402

T = TypeVar("T")


def build(crate: str, work_dir: Path) -> Path:
    """Builds integration/bench/<crate> like bench.build_noop_filter does; returns the module."""
    if crate == "noop-filter":
        return bench.build_noop_filter(work_dir)
    original = bench.HERE
    try:
        # build_noop_filter copies HERE/noop-filter: point it at a directory holding the probe under that name.
        staging = work_dir / "probe-staging"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(HERE / crate, staging / "noop-filter")
        bench.HERE = staging
        built = bench.build_noop_filter(work_dir / "probe")
    finally:
        bench.HERE = original
    return built.parent / "kmf_hostcall_probe.wasm"


def make_target(label: str, wasm: Path | None, plugin_config) -> bench.Target:
    target = bench.Target.__new__(bench.Target)
    target.config, target.tls, target.tansu, target.cert_dir = label, False, None, harness.certs_dir()
    target.kafka = None
    kwargs = {"listener": "plain", "name": f"paired-{label}", "log_level": "warn"}
    if wasm is None:
        kwargs.update(with_filter=False, plugin_config={})
    else:
        kwargs.update(wasm_path=wasm, plugin_config=plugin_config)
    target.stack = harness.Stack(**kwargs)
    target.broker = (target.stack.broker_host, target.stack.broker_port)
    target.bootstrap = target.stack.bootstrap
    return target


def parse_variants(variants: list[str], work_dir: Path, error) -> list[tuple[str, Path | None, object]]:
    """(label, module or None for no filter, plugin configuration) of each label=kind; modules built as needed."""
    specs = []
    for variant in variants:
        label, _, kind = variant.partition("=")
        if kind == "tcp_proxy":
            specs.append((label, None, {}))
        elif kind == "noop":
            specs.append((label, build("noop-filter", work_dir), {}))
        elif kind == "read-only":
            specs.append((label, bench.build_readonly_filter(work_dir), {}))
        elif kind.startswith("filter"):
            name, _, module = kind.partition(":")
            path = Path(module) if module else harness.WASM_PATH
            policy = bench.thousand_rule_policy(bench.PLAIN_PRINCIPAL)
            if name == "filter-small":
                # Only the client's own 10 ACLs: what the policy's size costs, against `filter`.
                policy["authorization"]["users"] = policy["authorization"]["users"][:1]
            elif name != "filter":
                error(f"unknown variant {variant}")
            specs.append((label, path, policy))
        elif kind.startswith("probe:"):
            specs.append((label, build("hostcall-probe", work_dir), kind.partition(":")[2]))
        else:
            error(f"unknown variant {variant}")
    return specs


def side_by_side(jobs: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Runs every job at the same time, one thread each, and returns their results by label; the first error
    is raised once all have ended."""
    results: dict[str, T] = {}
    errors: list[BaseException] = []

    def run(label: str, job: Callable[[], T]) -> None:
        try:
            results[label] = job()
        except BaseException as e:  # reported after the join
            errors.append(e)

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--value-size", type=int, default=1024)
    args = parser.parse_args()
    work_dir = harness.RUN_DIR / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    specs = parse_variants(args.variants, work_dir, parser.error)
    per_request: dict[str, list[float]] = {label: [] for label, _, _ in specs}
    for round_index in range(args.rounds):
        targets = [(label, make_target(label, wasm, cfg)) for label, wasm, cfg in specs]
        try:
            for _, target in targets:
                bench.warm_up(target)

            def run(label: str, target: bench.Target) -> bench.Result:
                workload = bench.Workload("paired", args.value_size, args.messages)
                topic = f"bench-paired-{round_index}"
                harness.create_topic(*target.broker, topic)
                result = bench.Result(label, workload.name)
                bench.run_produce(target, topic, workload, result)
                bench.run_fetch(target, topic, workload, result)
                return result

            results = side_by_side({label: (lambda l=label, t=target: run(l, t)) for label, target in targets})
            cells = []
            for label, _ in targets:
                r = results[label]
                us = r.envoy_cpu / (r.produce_requests + r.fetch_requests) * 1e6
                per_request[label].append(us)
                cells.append(f"{label} {us:.1f} us ({us / per_request[specs[0][0]][-1]:.2f}x)")
            print(f"round {round_index + 1}: " + "  ".join(cells), flush=True)
        finally:
            for _, target in targets:
                target.stop()
    first = per_request[specs[0][0]]
    print(f"\nEnvoy CPU per Produce+Fetch request ({args.messages:,} messages of {args.value_size} B per stack and round)")
    for label, values in per_request.items():
        ratios = [v / b for v, b in zip(values, first)]
        print(
            f"{label:<12} us/request {' '.join(f'{v:6.1f}' for v in values)}   vs {specs[0][0]}: "
            f"{' '.join(f'{r:.2f}' for r in ratios)}  median {statistics.median(ratios):.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

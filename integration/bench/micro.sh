#!/usr/bin/env bash
# Host microbenchmarks (criterion, benches/*.rs) and the memory/size measurement (benches/memory.rs), then a
# summary table: time per operation, MB/s and ns/frame where they apply, against the targets.
#
#   integration/bench/micro.sh              # everything (a few minutes on 2 cores, plus the build)
#   integration/bench/micro.sh acl classify # only these bench binaries (memory always runs)
#
# The bench profile inherits [profile.release] (opt-level "z" like the wasm module); LTO and
# codegen-units=1 are turned off here to keep the build short (MICRO_FULL_PROFILE=1 keeps them).
# Figures are native x86_64: the wasm module under Envoy's V8 is slower (typically 1.5-3x).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
# The bench profile inherits the release profile's panic = "abort"; with the CLI binary in the package,
# cargo then mixes abort and unwind crates ("requires panic strategy `abort`"). Benchmarks unwind.
export CARGO_PROFILE_BENCH_PANIC=unwind
if [ "${MICRO_FULL_PROFILE:-0}" != 1 ]; then
  export CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16
fi
benches=("$@")
[ "${#benches[@]}" -gt 0 ] || benches=(frame_codec classify acl metadata)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for b in "${benches[@]}"; do
  cargo bench --bench "$b" 2>/dev/null | tee -a "$log" | grep -E "^(workload|acl:|metadata:)|time:|thrpt:" || {
    echo "bench $b failed" >&2
    exit 1
  }
done
cargo bench --bench memory 2>/dev/null | tee -a "$log"

python3 - "$log" "$CARGO_TARGET_DIR/criterion" <<'PY'
import json, os, re, sys

log, root = sys.argv[1], sys.argv[2]
workloads = {}
for line in open(log):
    m = re.match(r"workload (\S+) bytes=(\d+) frames=(\d+)", line)
    if m:
        workloads[m.group(1)] = (int(m.group(2)), int(m.group(3)))

def mean_ns(bench_id):
    group, _, name = bench_id.partition("/")
    # criterion turns the '/' inside a function id into '_' for its directory names.
    path = os.path.join(root, group, name.replace("/", "_"), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["mean"]["point_estimate"]
    except OSError:
        return None

targets = {"acl_10k/": ("<= 200 ns", lambda ns, b, f: ns <= 200)}
print()
print(f"{'benchmark':58} {'time/iter':>12} {'MB/s':>10} {'ns/frame':>10}  target")
print("-" * 104)
for bench_id, (nbytes, frames) in workloads.items():
    ns = mean_ns(bench_id)
    if ns is None:
        continue
    t = f"{ns/1e3:.2f} us" if ns >= 1e3 else f"{ns:.1f} ns"
    mbs = f"{nbytes / ns * 1e3:.0f}" if nbytes and ns else "-"
    per_frame = f"{ns / frames:.0f}" if frames else "-"
    verdict = ""
    for prefix, (text, ok) in targets.items():
        if bench_id.startswith(prefix):
            verdict = f"{text}: {'ok' if ok(ns, nbytes, frames) else 'MISSED'}"
    print(f"{bench_id:58} {t:>12} {mbs:>10} {per_frame:>10}  {verdict}")
print("(produce-1MiB/10MiB: the frame is decided from its first bytes and the rest passes unread, so MB/s\n"
      " there is stream bytes per CPU second, not bytes examined; time/iter is the cost of the whole frame.)")
print()
for line in open(log):
    if line.startswith(("memory:", "acl:", "metadata:")):
        print(line.rstrip())
PY

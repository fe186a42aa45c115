#!/usr/bin/env bash
# The module's instructions per round trip in V8's optimizing compiler (TurboFan, the tier Envoy runs a hot
# filter in), counted exactly: v8-profile.mjs runs under callgrind twice, N round trips apart, and the difference
# is divided by N, so Node's start, the module's compilation and the configuration's parsing cancel out. V8 runs
# deterministically (--predictable: no concurrent threads, a fixed seed) with every function compiled by TurboFan
# up front (--no-liftoff --no-wasm-tier-up): the same module gives the same count to within a few instructions,
# so two builds can be compared where Envoy's counts move by a few percent between runs. What it counts
# besides the module: the JavaScript host in v8-profile.mjs (the same for every module, so compare differences).
#
#   integration/bench/wasm-meter/v8-count.sh DUMP_DIR MODULE.wasm...
#   (DUMP_DIR from: kmf_wasm_meter [--shape raw-small] --dump DUMP_DIR; N=30000 round trips by default)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
dump="$1"
shift
n="${N:-30000}"
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    node --predictable --no-liftoff --no-wasm-tier-up --max-semi-space-size=64 \
    "$here/v8-profile.mjs" "$1" "$dump" "$2" 2>&1 | sed -n 's/.*Collected : //p' | tr -d ,
}
for module in "$@"; do
  before="$(count "$module" 2000)"
  after="$(count "$module" $((2000 + n)))"
  echo "$module: $(((after - before) / n)) instructions per round trip in V8 (TurboFan)"
done

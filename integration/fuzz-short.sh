#!/usr/bin/env bash
# Short fuzzing pass over every cargo-fuzz target (fuzz/fuzz_targets): builds them with the nightly
# toolchain, runs each for FUZZ_SECONDS (default 30), and exits non-zero if any target crashes, leaks,
# times out or runs out of memory. Crashing inputs are left in fuzz/artifacts/<target>/.
#
#   integration/fuzz-short.sh                     # all targets, 30 s each
#   FUZZ_SECONDS=120 integration/fuzz-short.sh session frame_codec
#
# Longer run (e.g. nightly CI, one core per target, corpus kept between runs in fuzz/corpus/<target>):
#   cd fuzz && cargo +nightly fuzz run -O session -- -max_total_time=3600 -max_len=65536 -jobs=2 -workers=2
# Reproduce / minimise a crash:
#   cargo +nightly fuzz run -O <target> artifacts/<target>/crash-...
#   cargo +nightly fuzz tmin -O <target> artifacts/<target>/crash-...
# then add the minimised bytes to tests/regressions_fuzz.rs.
#
# Needs: rustup nightly toolchain, cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-30}"
# FUZZ_RUNS=N runs exactly N inputs per target from seed FUZZ_SEED (default 1), starting from the corpus in
# fuzz/corpus: reproducible, so CI's pass is the same run a developer gets (a fresh checkout has no corpus).
if [ -n "${FUZZ_RUNS:-}" ]; then
  budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
  budget_text="$FUZZ_RUNS runs (seed ${FUZZ_SEED:-1})"
else
  budget=(-max_total_time="$seconds")
  budget_text="${seconds}s"
fi
max_len="${FUZZ_MAX_LEN:-4096}"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(frame_codec classify response_rewrite session)
fi

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz --locked" >&2; exit 2; }
# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module). Without a nightly toolchain the
# stable compiler takes them under RUSTC_BOOTSTRAP=1, so the fuzz pass still runs rather than disappear.
toolchain=+nightly
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz-short: no nightly toolchain; fuzzing with the stable compiler under RUSTC_BOOTSTRAP=1"
  toolchain=+stable
  export RUSTC_BOOTSTRAP=1
fi
cargo "$toolchain" fuzz build -O

failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== fuzzing $target for $budget_text"
  log="$(mktemp)"
  if cargo "$toolchain" fuzz run -O "$target" -- "${budget[@]}" -max_len="$max_len" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" || true
  else
    echo "!! $target failed:"
    grep -E "ERROR|panicked|Test unit written|SUMMARY" "$log" | head -n 20
    failed+=("$target")
  fi
  rm -f "$log"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "all targets ran $budget_text without a crash"

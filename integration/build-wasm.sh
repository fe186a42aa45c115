#!/usr/bin/env bash
# Builds the filter module: `cargo build --release --target wasm32-wasip1 --lib` (extra arguments are passed on),
# then `wasm-opt -Oz` when wasm-opt is installed (integration/setup.sh installs Debian's binaryen). The result
# stays at target/wasm32-wasip1/release/kafka_mtls_filter.wasm, the path the harness, the OCI build and the
# compose files load. Without wasm-opt the module is cargo's, loadable but over the 1 MiB size target. A later
# plain `cargo build` links cargo's copy back to that path (1.27 MB, still loadable): run this script again.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
cargo build --release --target wasm32-wasip1 --lib "$@"
module="${CARGO_TARGET_DIR:-$repo/target}/wasm32-wasip1/release/kafka_mtls_filter.wasm"
if ! command -v wasm-opt >/dev/null 2>&1; then
  echo "build-wasm: wasm-opt not found (integration/setup.sh installs it): $module left as cargo built it" >&2
  exit 0
fi
# The features rustc enables for wasm32-wasip1; wasm-opt must accept them to keep the module as it is.
features=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int
  --enable-multivalue --enable-reference-types)
# A new file moved over the old one: cargo's output is a hard link to its copy in deps/, which stays as built.
wasm-opt -Oz "${features[@]}" "$module" -o "$module.opt"
mv -f "$module.opt" "$module"
echo "build-wasm: $module: $(stat -c %s "$module") bytes"

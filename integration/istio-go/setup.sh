#!/bin/sh
# Go for integration/istio-go (Istio's own code run on the filter's image and manifests), then the module's
# dependencies into the Go module cache (GOMODCACHE; Go's default, reused between runs). Idempotent: with Go
# present and the modules cached it only checks. integration/tests/test_istio_go.py runs it first; the last line
# printed is `GO=<the go command to use>`.
#
#   integration/istio-go/setup.sh [--build]
#
# --build also compiles the tests into Go's build cache (GOCACHE), the long part of a first run (istio.io/istio's
# xDS generation is ~1,800 packages): a setup step can take it out of the test run.
#
# The module needs Go >= the `go` line of go.mod. Without Go, Debian's golang-go is installed. A Go older than
# go.mod wants gets the toolchain from the Go module proxy (the module golang.org/toolchain, as Go's own
# GOTOOLCHAIN switching does), run from the module cache.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go ca-certificates
  fi
fi
go=go
want=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
have=$(GOTOOLCHAIN=local go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" != "$want" ]; then
  # Go older than go.mod wants: the newest patch release of that minor version the proxy has.
  minor=$(echo "$want" | cut -d. -f1,2)
  platform="$(GOTOOLCHAIN=local go env GOOS).$(GOTOOLCHAIN=local go env GOARCH)"
  version=$(cd /tmp && GOTOOLCHAIN=local GOFLAGS= go list -m -versions golang.org/toolchain | tr ' ' '\n' \
    | grep "^v0.0.1-go$minor\.[0-9]*\.$platform\$" | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "no golang.org/toolchain for go$minor on $platform in the Go module proxy" >&2; exit 1; }
  dir=$(cd /tmp && GOTOOLCHAIN=local GOFLAGS= go mod download -json "golang.org/toolchain@$version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ ! -x "$dir/bin/go" ]; then
    # Module zips carry no file modes: make the toolchain's commands executable, as Go does after a switch.
    chmod u+w "$dir/bin" "$dir/pkg/tool"/*
    chmod +x "$dir/bin"/* "$dir/pkg/tool"/*/*
  fi
  go="$dir/bin/go"
fi
export GOTOOLCHAIN=local
"$go" version
# Downloads only what is missing from the module cache; checks go.sum.
GOFLAGS=-mod=readonly "$go" mod download
if [ "${1:-}" = "--build" ]; then
  # Compiles and links the test binary, runs no test; later `go test` runs find everything in the build cache.
  GOFLAGS=-mod=readonly "$go" test -count=1 -run '^$' ./...
fi
echo "GO=$(command -v "$go")"

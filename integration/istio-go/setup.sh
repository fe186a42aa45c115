#!/bin/sh
# Go for integration/istio-go (Istio's own code run on the filter's image and manifests), then the module's
# dependencies into the Go module cache (GOMODCACHE; Go's default, reused between runs). Idempotent: with Go
# present and the modules cached it only checks. integration/tests/test_istio_go.py runs it first.
#
# The module needs Go >= the `go` line of go.mod. An older Go fetches the right toolchain itself through the Go
# module proxy (GOTOOLCHAIN=auto, the default). Without any Go, Debian's golang-go is installed for that purpose.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  else
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go ca-certificates
  fi
fi
cd "$here"
go version
# Downloads only what is missing from the module cache; checks go.sum.
GOFLAGS=-mod=readonly go mod download

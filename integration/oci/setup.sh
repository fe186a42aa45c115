#!/bin/sh
# Tools for integration/oci (pushing the filter's OCI image) and integration/tests/test_oci.py: skopeo, and
# Debian's docker-registry (the CNCF distribution registry) run on loopback by the test. Idempotent.
set -eu
missing=""
command -v skopeo >/dev/null 2>&1 || missing="$missing skopeo"
[ -x /usr/bin/docker-registry ] || missing="$missing docker-registry"
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

#!/usr/bin/env bash
# Kroxylicious (a Java Kafka proxy) for the side-by-side benchmark (integration/bench/compare.py): its binary
# distribution, io.kroxylicious:kroxylicious-app:<version>:tar.gz:bin, unpacked from Maven Central into
# $KMF_CACHE/kroxylicious-<version>/ (bin/, libs/, config/). Idempotent: a finished copy is marked with .complete
# and left alone. Prints the distribution's folder. Needs Maven (mvn); running it needs Java 21+ (compare.py
# looks for one: KMF_KROXYLICIOUS_JAVA_HOME, then the newest JDK under /usr/lib/jvm).
#
#   KMF_KROXYLICIOUS_VERSION   the version (default below: the newest one whose Authorization filter the
#                              benchmark's rules file was written for)
#   KMF_KROXYLICIOUS_DIST      an unpacked distribution to use as it is (e.g. one from the project's GitHub
#                              release), when the registry does not serve the version: Kroxylicious stopped
#                              publishing the distribution to Maven Central in August 2026, and registry mirrors
#                              may not carry the older ones either. It is copied into the cache.
set -euo pipefail
version="${KMF_KROXYLICIOUS_VERSION:-0.23.0}"
KMF_CACHE="${KMF_CACHE:-$HOME/.cache/kafka-mtls-filter}"
dist="$KMF_CACHE/kroxylicious-$version"
if [ -f "$dist/.complete" ]; then
  echo "$dist"
  exit 0
fi
rm -rf "$dist" "$dist.tmp"
mkdir -p "$dist.tmp"
if [ -n "${KMF_KROXYLICIOUS_DIST:-}" ]; then
  [ -d "$KMF_KROXYLICIOUS_DIST/libs" ] || { echo "kroxylicious/fetch.sh: $KMF_KROXYLICIOUS_DIST has no libs/" >&2; exit 1; }
  cp -a "$KMF_KROXYLICIOUS_DIST/." "$dist.tmp/"
else
  command -v mvn >/dev/null 2>&1 || { echo "kroxylicious/fetch.sh: mvn not found (install Maven)" >&2; exit 1; }
  if ! mvn -q -B dependency:unpack -Dartifact="io.kroxylicious:kroxylicious-app:$version:tar.gz:bin" \
      -DoutputDirectory="$dist.tmp" >&2; then
    rm -rf "$dist.tmp"
    echo "kroxylicious/fetch.sh: io.kroxylicious:kroxylicious-app:$version:tar.gz:bin is not served by the Maven" \
         "registry; set KMF_KROXYLICIOUS_DIST to an unpacked kroxylicious-app-$version distribution" >&2
    exit 1
  fi
  # The tar.gz holds one top folder, kroxylicious-app-<version>/: keep its contents.
  inner="$(find "$dist.tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
  if [ -n "$inner" ] && [ -d "$inner/libs" ]; then
    mv "$inner"/* "$dist.tmp/" && rmdir "$inner"
  fi
fi
[ -d "$dist.tmp/libs" ] || { echo "kroxylicious/fetch.sh: no libs/ in the distribution" >&2; exit 1; }
touch "$dist.tmp/.complete"
mv "$dist.tmp" "$dist"
echo "$dist"

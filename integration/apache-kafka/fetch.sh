#!/usr/bin/env bash
# Copies Apache Kafka's jars (integration/apache-kafka/pom.xml: broker, tools, Java client and their dependencies)
# from Maven Central into $KMF_CACHE/apache-kafka-<version>/libs. Idempotent: a finished copy is marked with
# .complete and left alone; the version comes from the POM, so bumping it there fetches the new one.
# Prints the libs folder. Needs Java 17+ and Maven (mvn).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KMF_CACHE="${KMF_CACHE:-$HOME/.cache/kafka-mtls-filter}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
libs="$KMF_CACHE/apache-kafka-$version/libs"
if [ ! -f "$libs/.complete" ]; then
  for tool in java mvn; do
    command -v "$tool" >/dev/null 2>&1 || { echo "apache-kafka/fetch.sh: $tool not found (install OpenJDK 17+ and Maven)" >&2; exit 1; }
  done
  rm -rf "$libs"
  mkdir -p "$libs"
  (cd "$here" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs") >&2
  touch "$libs/.complete"
fi
echo "$libs"

#!/usr/bin/env bash
# The README's test command: sets up what the tests need on a fresh machine, then runs the whole suite.
#  - an OpenCL runtime (POCL) when none is present and we are root (native/install-opencl.sh)
#  - a JDK ≥ 25 (JAVA_HOME, else /usr/lib/jvm)
#  - ../shared beside the project holds the reference data; tests that need it skip where it is absent
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash native/install-opencl.sh || echo "continuing without OpenCL: OpenCL tests skip unless INFERCL_REQUIRE_OPENCL=1" >&2

if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; then
  for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    if [ -x "$d/bin/javac" ] && "$d/bin/java" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])'; then export JAVA_HOME="$d"; break; fi
  done
fi
[ -n "${JAVA_HOME:-}" ] || { echo "no JDK 25 found" >&2; exit 1; }
echo "java: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1) ($JAVA_HOME)"
[ -d ../shared ] || echo "note: ../shared is absent: reference tests will be skipped" >&2

exec mvn -B -ntp test "$@"

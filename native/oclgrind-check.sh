#!/usr/bin/env bash
# Runs the OpenCL kernel parity tests on oclgrind (the simulator that checks every memory access) and fails on
# any out-of-bounds access, data race or API error it reports (uninitialised reads with OCLGRIND_UNINITIALIZED=1).
#
#   native/oclgrind-check.sh [TESTS]       TESTS: surefire -Dtest pattern, default ClParityTest,ClInt8ParityTest,ClKvInt8Test,ClBlockTypesTest
#
# How: oclgrind ships an ICD (liboclgrind-rt-icd.so). OCL_ICD_VENDORS points the ICD loader at a directory
# naming only that library, so the JVM (JOCL) sees oclgrind as its only platform; OCLGRIND_* variables switch
# its checks on and OCLGRIND_LOG collects every diagnostic in one file, which must stay empty.
# -Dinfercl.test.small=true shrinks the widest shapes (4100 → 160 columns, contexts to 20–40 positions).
# Needs: oclgrind (Debian package), ocl-icd-libopencl1 + ocl-icd-opencl-dev (libOpenCL.so), JDK 25, Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=${1:-ClParityTest,ClInt8ParityTest,ClKvInt8Test,ClBlockTypesTest}
icd=$(dpkg -L oclgrind 2>/dev/null | grep 'liboclgrind-rt-icd.so$' | head -1 || true)
[ -n "$icd" ] || icd=$(ls /usr/lib/oclgrind/liboclgrind-rt-icd.so /usr/lib/*/oclgrind/liboclgrind-rt-icd.so 2>/dev/null | head -1 || true)
[ -n "$icd" ] || { echo "oclgrind-check: oclgrind's ICD library was not found (apt-get install oclgrind)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/vendors"
echo "$icd" > "$work/vendors/oclgrind.icd"
log="$work/oclgrind.log"
: > "$log"

start=$(date +%s)
set +e
# OCLGRIND_UNINITIALIZED=1 (default here: off) adds uninitialised-value tracking; see the note in opencl-kernels/README.md
OCL_ICD_VENDORS="$work/vendors" OCLGRIND_CHECK_API=1 OCLGRIND_DATA_RACES=1 OCLGRIND_UNINITIALIZED=${OCLGRIND_UNINITIALIZED:-0} \
OCLGRIND_LOG="$log" INFERCL_REQUIRE_OPENCL=1 \
  mvn -q -o test -Dtest="$tests" -Dinfercl.test.small=true -Dsurefire.failIfNoSpecifiedTests=false
status=$?
set -e
secs=$(( $(date +%s) - start ))

if [ -s "$log" ]; then
  echo "oclgrind-check: oclgrind reported problems (${secs}s):" >&2
  cp "$log" target/oclgrind.log 2>/dev/null || true
  head -200 "$log" >&2
  echo "(whole log: target/oclgrind.log)" >&2
  exit 1
fi
if [ $status -ne 0 ]; then
  echo "oclgrind-check: the tests failed under oclgrind (exit $status, ${secs}s)" >&2
  exit $status
fi
checks="out-of-bounds access, data race or API error"
[ "${OCLGRIND_UNINITIALIZED:-0}" = 1 ] && checks="out-of-bounds access, data race, uninitialised read or API error"
echo "oclgrind-check: no $checks in $tests (${secs}s)"

#!/usr/bin/env bash
# Installs a CPU OpenCL runtime (POCL) and the ICD loader when no OpenCL platform is present.
# Needs root (apt-get); does nothing when clinfo already lists a platform.
set -euo pipefail
platforms() { command -v clinfo >/dev/null 2>&1 && clinfo -l 2>/dev/null | grep -c '^Platform' || echo 0; }
if [ "$(platforms)" -gt 0 ]; then
  echo "OpenCL: $(clinfo -l 2>/dev/null | head -1)"; exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "no OpenCL platform found; install one as root: apt-get install -y pocl-opencl-icd ocl-icd-libopencl1 clinfo" >&2
  exit 1
fi
echo "no OpenCL platform found: installing POCL (pocl-opencl-icd ocl-icd-libopencl1 clinfo oclgrind)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq pocl-opencl-icd ocl-icd-libopencl1 clinfo oclgrind >/dev/null
echo "OpenCL: $(clinfo -l 2>/dev/null | head -1)"

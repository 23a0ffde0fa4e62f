#!/usr/bin/env bash
# Installs a CPU OpenCL runtime (POCL), the ICD loader and its unversioned libOpenCL.so (JOCL loads that exact
# name; Debian ships it in ocl-icd-opencl-dev) when they are missing. Needs root (apt-get).
set -euo pipefail
have_platform() { command -v clinfo >/dev/null 2>&1 && [ "$(clinfo -l 2>/dev/null | grep -c '^Platform')" -gt 0 ]; }
have_loader() { ldconfig -p 2>/dev/null | grep -q 'libOpenCL\.so '; }
if have_platform && have_loader; then
  echo "OpenCL: $(clinfo -l 2>/dev/null | head -1)"; exit 0
fi
packages="pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev clinfo oclgrind"
if [ "$(id -u)" != 0 ]; then
  echo "OpenCL runtime incomplete; install as root: apt-get install -y $packages" >&2
  exit 1
fi
echo "installing an OpenCL runtime: $packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $packages >/dev/null
echo "OpenCL: $(clinfo -l 2>/dev/null | head -1)"

#!/usr/bin/env bash
# Installs the Debian packages gan-cl needs, if any are missing.
#   scripts/setup.sh          what building, testing and running need
set -euo pipefail

packages=(
  ocl-icd-opencl-dev   # the OpenCL ICD loader and libOpenCL.so to link against
  opencl-headers       # CL/cl.h
  pocl-opencl-icd      # PoCL: an OpenCL device on the CPU (used by the tests)
  oclgrind             # OpenCL simulator: checks kernels for bad accesses and races
  clinfo               # lists OpenCL platforms, to compare with `gan-cl devices`
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null

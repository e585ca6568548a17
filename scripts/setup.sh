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
  zlib1g-dev           # reads gzip-compressed IDX files
  libpng-dev           # writes sample grids, reads PNG image folders
  libturbojpeg0-dev    # libjpeg-turbo's TurboJPEG: reads JPEG image folders
  dataset-fashion-mnist  # the default training data, in /usr/share/datasets/fashion-mnist
  libclblast-dev       # CLBlast, the tuned OpenCL BLAS `gan-cl bench gemm` compares with
  python3-pip          # installs the test helpers below
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests check that Python's safetensors loads gan-cl's checkpoints, that onnxruntime
# runs its exported generators and that TensorBoard's event reader reads its event files.
helpers=(numpy safetensors onnxruntime tensorboard)
if ! python3 -c "import numpy, safetensors, onnxruntime, tensorboard" 2>/dev/null; then
  echo "Installing the Python test helpers ${helpers[*]}"
  python3 -m pip install -q --disable-pip-version-check "${helpers[@]}" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${helpers[@]}"
fi

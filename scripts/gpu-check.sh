#!/usr/bin/env bash
# One prepared run of every measurement on a GPU, in minutes: the OpenCL devices, the
# conformance of every kernel on the GPU against the CPU reference, the GEMM table beside
# CLBlast where it is installed, the dcgan convolutions per pass, and the training step
# of the MLP and dcgan presets (plain and conditional) at batch 64 and 256 — each table
# to stdout and to $OUT/gpu-check.txt (OUT defaults to ./gpu-check-out).
#
# Runs from gpu-bundle/ (scripts/gpu-bundle.sh) when there is no .build/release/gan-cl.
# NVIDIA's OpenCL library may be installed without its ICD file: the script looks for
# libnvidia-opencl.so*, writes an .icd naming it and points OCL_ICD_VENDORS there.
# GPU_CHECK_SECONDS (default 3) sets the seconds of timed blocks per configuration.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"
log="$out/gpu-check.txt"
: >"$log"
say() { echo "$*" | tee -a "$log"; }
seconds=${GPU_CHECK_SECONDS:-3}

binary=.build/release/gan-cl
if [ -f gpu-bundle/gan-cl.gz ]; then
  mkdir -p /tmp/gan-cl-gpu
  gunzip -c gpu-bundle/gan-cl.gz >/tmp/gan-cl-gpu/gan-cl
  chmod +x /tmp/gan-cl-gpu/gan-cl
  binary=/tmp/gan-cl-gpu/gan-cl
  export LD_LIBRARY_PATH="$PWD/gpu-bundle${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
[ -x "$binary" ] || { echo "gpu-check: no gan-cl (build it, or run scripts/gpu-bundle.sh here and carry gpu-bundle)" >&2; exit 1; }
export GANCL_CLASSIFIER=${GANCL_CLASSIFIER:-$PWD/models/fmnist-classifier.safetensors}

# NVIDIA's ICD, when the driver ships the library without registering it.
if ! ls /etc/OpenCL/vendors/*nvidia* >/dev/null 2>&1; then
  library=$(ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so* /usr/lib64/libnvidia-opencl.so* /usr/local/nvidia/lib64/libnvidia-opencl.so* \
    /usr/lib/libnvidia-opencl.so* 2>/dev/null | head -1)
  if [ -n "$library" ]; then
    mkdir -p /tmp/gan-cl-icd
    echo "$library" >/tmp/gan-cl-icd/nvidia.icd
    export OCL_ICD_VENDORS=/tmp/gan-cl-icd
    say "registered $library in $OCL_ICD_VENDORS/nvidia.icd"
  fi
fi
device=${GANCL_GPU_DEVICE:-NVIDIA}

say "# gan-cl GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$log"
say "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
run() {
  say ""
  say "\$ gan-cl $*"
  "$binary" "$@" 2>&1 | tee -a "$log"
  return "${PIPESTATUS[0]}"
}
status=0
run devices || status=1
run devices --check --device "$device" || status=1
run bench gemm --device "$device" --batches 64,256 --cpu-limit 0 || status=1
run bench conv --device "$device" --batches 64,256 || status=1
for model in mlp dcgan; do
  run bench step --model "$model" --backend opencl --device "$device" --batches 64,256 --seconds "$seconds" || status=1
  run bench step --model "$model" --conditional --backend opencl --device "$device" --batches 64,256 --seconds "$seconds" || status=1
done
run bench step --model dcgan --backend opencl --device "$device" --batches 64 --seconds "$seconds" --profile || status=1
say ""
say "gpu-check: exit $status; tables in $log"
exit $status

#!/usr/bin/env bash
# One prepared run of every measurement on a GPU, in minutes: the OpenCL devices, the
# conformance of every kernel on the GPU against the CPU reference (the quick shapes
# first, the full set last: about 3 minutes of single-threaded CPU reference), `tune`,
# the GEMM table beside CLBlast where it is installed (and 4096³), the dcgan convolutions
# per pass, the training step of the MLP and dcgan presets (plain and conditional) at
# batch 64 and 256, a timed dcgan training of GPU_CHECK_EPOCHS epochs (default 5) with its
# evaluation, and the PyTorch-CUDA peers of the MLP and dcgan steps when PyTorch sees a
# GPU — each table to stdout and to $OUT/gpu-check.txt, the measurements as JSON in
# $OUT/gpu-check.json (OUT defaults to ./gpu-check-out).
#
# Runs from gpu-bundle/ (scripts/gpu-bundle.sh: the binary, its libraries and Fashion-MNIST)
# when there is one, else .build/release/gan-cl.
# NVIDIA's OpenCL library may be installed without its ICD file: the script looks for
# libnvidia-opencl.so*, writes an .icd naming it and points OCL_ICD_VENDORS there.
# GPU_CHECK_SECONDS (default 3) sets the seconds of timed blocks per configuration;
# GPU_CHECK_FULL=0 leaves out the full conformance run, GPU_CHECK_GEMM=0 the GEMM and
# convolution tables. Each table is in the log as soon
# as it is measured, and the JSON is written before the full conformance run and again
# after it, so a run cut short keeps what it measured.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"
log="$out/gpu-check.txt"
: >"$log"
say() { echo "$*" | tee -a "$log"; }
seconds=${GPU_CHECK_SECONDS:-3}

binary=.build/release/gan-cl
if [ -f gpu-bundle/gan-cl.xz ]; then
  mkdir -p /tmp/gan-cl-gpu
  if command -v xz >/dev/null; then
    xz -dc gpu-bundle/gan-cl.xz >/tmp/gan-cl-gpu/gan-cl
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      gpu-bundle/gan-cl.xz /tmp/gan-cl-gpu/gan-cl
  fi
  chmod +x /tmp/gan-cl-gpu/gan-cl
  binary=/tmp/gan-cl-gpu/gan-cl
  export LD_LIBRARY_PATH="$PWD/gpu-bundle${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
[ -x "$binary" ] || { echo "gpu-check: no gan-cl (build it, or run scripts/gpu-bundle.sh here and carry gpu-bundle)" >&2; exit 1; }
export GANCL_CLASSIFIER=${GANCL_CLASSIFIER:-$PWD/models/fmnist-classifier.safetensors}
# Fashion-MNIST for the timed training: the Debian package's, else the bundle's copy.
data=/usr/share/datasets/fashion-mnist
[ -d "$data" ] || data=$PWD/gpu-bundle/fashion-mnist

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
epochs=${GPU_CHECK_EPOCHS:-5}
run devices || status=1
# The quick shapes first (seconds): a device that computes wrong has no speed worth timing.
run devices --check --quick --device "$device" || status=1
run tune --device "$device" --rounds 2 --json "$out/tune.json" || status=1
# GPU_CHECK_GEMM=0 leaves out the GEMM and convolution tables (a rerun of the steps).
if [ "${GPU_CHECK_GEMM:-1}" != 0 ]; then
  run bench gemm --device "$device" --batches 64,256 --cpu-limit 0 --json "$out/gemm.json" || status=1
  run bench gemm --device "$device" --shapes 4096x4096x4096 --cpu-limit 0 --seconds 2 --json "$out/gemm-4096.json" || status=1
  run bench conv --device "$device" --batches 64,256 || status=1
fi
for model in mlp dcgan; do
  run bench step --model "$model" --data "$data" --backend opencl --device "$device" --batches 64,256 --seconds "$seconds" \
    --json "$out/step-$model.json" || status=1
  run bench step --model "$model" --data "$data" --conditional --backend opencl --device "$device" --batches 64,256 --seconds "$seconds" \
    --json "$out/step-$model-conditional.json" || status=1
done
run bench step --model dcgan --data "$data" --backend opencl --device "$device" --batches 64 --seconds "$seconds" --profile || status=1
# A timed dcgan training with its evaluation (FD-FMNIST and the rest in eval.json).
# (GPU_CHECK_EPOCHS=0 leaves it out, for a dry run on a slow device.)
rm -rf "$out/dcgan"
training_seconds=0
if [ "$epochs" -gt 0 ]; then
  start=$(date +%s)
  run train --model dcgan --data "$data" --epochs "$epochs" --backend opencl --device "$device" --out "$out/dcgan" || status=1
  training_seconds=$(( $(date +%s) - start ))
  say "dcgan: $epochs epochs with the final evaluation in $training_seconds s"
fi
# The PyTorch-CUDA peers of the same steps, when PyTorch is there and sees the GPU.
peers=benchmarks/peers
out_abs=$(cd "$out" && pwd)
if python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  say ""
  say "\$ python3 $peers/torch_step.py --device cuda --batches 64,256"
  (cd "$peers" && python3 torch_step.py --device cuda --batches 64,256 --seconds "$seconds" --json "$out_abs/torch-step.json") 2>&1 | tee -a "$log"
  say "\$ python3 $peers/torch_dcgan.py --device cuda --batches 64,256"
  (cd "$peers" && python3 torch_dcgan.py --device cuda --batches 64,256 --seconds "$seconds") 2>&1 | tee -a "$log"
else
  say ""
  say "PyTorch with CUDA is not here: no PyTorch-CUDA peer rows"
fi
# One JSON of it all: each measurement file as it was written (null where one is missing).
json() { if [ -s "$1" ]; then cat "$1"; else echo null; fi; }
write_json() {
  {
    echo "{"
    echo "\"date\": \"$(date -u +%Y-%m-%dT%H:%MZ)\","
    echo "\"exit\": $status,"
    echo "\"fullConformance\": \"$1\","
    echo "\"tune\": $(json "$out/tune.json"),"
    echo "\"gemm\": $(json "$out/gemm.json"),"
    echo "\"gemm4096\": $(json "$out/gemm-4096.json"),"
    for name in step-mlp step-mlp-conditional step-dcgan step-dcgan-conditional; do
      echo "\"$name\": $(json "$out/$name.json"),"
    done
    echo "\"torchStep\": $(json "$out/torch-step.json"),"
    echo "\"dcganTraining\": {\"epochs\": $epochs, \"seconds\": $training_seconds, \"evaluation\": $(json "$out/dcgan/eval.json")}"
    echo "}"
  } >"$out/gpu-check.json"
}
write_json "not run yet"
# Every operation on the full shapes (the MLP's layers, 1000³, deep k, the dcgan's
# convolutions), last: its CPU reference is the slow part.
if [ "${GPU_CHECK_FULL:-1}" != 0 ]; then
  if run devices --check --device "$device"; then write_json passed; else status=1; write_json failed; fi
else
  write_json "left out"
fi
say ""
say "gpu-check: exit $status; tables in $log, measurements in $out/gpu-check.json"
exit $status

#!/usr/bin/env bash
# gan-cl's training step beside the Python frameworks on the same CPU, in one session,
# taken in turn for several rounds (this VM's speed drifts: only figures of one round
# compare). A framework that is not installed is skipped with a note.
#   pip install torch jax tensorflow-cpu tinygrad
#   benchmarks/peers/compare.sh [ROUNDS] [SECONDS] [MODEL]
# MODEL is mlp (default: the MLP GAN, every peer) or dcgan (the dcgan preset beside
# torch_dcgan.py and tf_dcgan.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
seconds=${2:-8}
model=${3:-mlp}
swift build -c release >/dev/null
peer() {
  local module=$1; shift
  if python3 -c "import $module" 2>/dev/null; then
    "$@" 2>&1 | grep "images/s"
  else
    echo "($module not installed: skipped)"
  fi
}
for round in $(seq "$rounds"); do
  echo "== round $round =="
  if [ "$model" = dcgan ]; then
    .build/release/gan-cl bench step --model dcgan --backend opencl --seconds "$seconds" | tail -n 2
    peer torch python3 benchmarks/peers/torch_dcgan.py --seconds "$seconds" --threads "$(nproc)"
    (cd benchmarks/peers && peer tensorflow python3 tf_dcgan.py --seconds "$seconds")
    continue
  fi
  .build/release/gan-cl bench step --backend opencl --seconds "$seconds" | tail -n 2
  peer torch python3 benchmarks/peers/torch_step.py --seconds "$seconds" --threads "$(nproc)"
  peer jax python3 benchmarks/peers/jax_step.py --seconds "$seconds"
  peer tensorflow python3 benchmarks/peers/tf_step.py --seconds "$seconds"
  peer tinygrad env DEV=CL python3 benchmarks/peers/tinygrad_step.py --seconds "$seconds"
done

#!/usr/bin/env bash
# gan-cl's training step beside PyTorch and JAX on the same CPU, in one session, taken in
# turn for several rounds (this VM's speed drifts: only figures of one round compare).
#   pip install torch jax
#   benchmarks/peers/compare.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
seconds=${2:-8}
swift build -c release >/dev/null
for round in $(seq "$rounds"); do
  echo "== round $round =="
  .build/release/gan-cl bench step --backend opencl --seconds "$seconds" | tail -n 2
  python3 benchmarks/peers/torch_step.py --seconds "$seconds" --threads "$(nproc)"
  python3 benchmarks/peers/jax_step.py --seconds "$seconds"
done

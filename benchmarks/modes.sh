#!/usr/bin/env bash
# Mode coverage of the 2-D preset on ring8 and grid25, per loss, over seeds: each run is
# `gan-cl train --data MIXTURE --loss LOSS --seed S` with the preset's 5,000 steps and
# its evaluations every 1,000 (PacGAN/VEEGAN protocol: 2,500 samples, high quality within
# 3σ of the nearest mode, a mode covered by one high-quality sample). Prints mean ± sd
# at the last step per loss and mixture, and writes every evaluation as JSON.
#   SEEDS="1 2 3 4 5" BACKEND=opencl benchmarks/modes.sh OUT.json bce hinge lsgan wgan wgan-gp
# FLAGS adds train flags to every run (a recipe), e.g.
#   FLAGS="--pack 2 --ema 0.999 --steps 60000 --eval-every 10000" benchmarks/modes.sh OUT.json bce
# GANCL a binary other than this checkout's release build (long runs: a copy), and
# MIXTURES the mixtures in their order (default "ring8 grid25").
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1; shift
seeds=${SEEDS:-1 2 3 4 5}
backend=${BACKEND:-opencl}
flags=${FLAGS:-}
mixtures=${MIXTURES:-ring8 grid25}
runs=$(mktemp -d)
if [ -z "${GANCL:-}" ]; then swift build -c release >/dev/null; GANCL=.build/release/gan-cl; fi
for loss in "$@"; do
  for data in $mixtures; do
    for seed in $seeds; do
      start=$(date +%s)
      # shellcheck disable=SC2086
      "$GANCL" train --data "$data" --loss "$loss" --seed "$seed" --backend "$backend" $flags \
        --out "$runs/$loss-$data-$seed" >/dev/null 2>"$runs/$loss-$data-$seed.log"
      echo "$loss $data seed $seed: $(( $(date +%s) - start )) s" >&2
      echo $(( $(date +%s) - start )) >"$runs/$loss-$data-$seed.seconds"
    done
  done
done
python3 - "$runs" "$out" "$backend" "$*" "$flags" <<'PY'
import csv, json, os, statistics, sys, datetime
runs, out, backend, losses, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5]
result = {"date": datetime.date.today().isoformat(), "backend": backend,
          "command": "gan-cl train --data MIXTURE --loss LOSS --seed S --backend " + backend + (" " + flags if flags else ""), "runs": {}}
print(f"{'loss':8} {'data':7} {'modes covered':>15} {'high quality %':>16} {'mode KL':>13}  per seed (modes, HQ %)")
for loss in losses:
    for data in ["ring8", "grid25"]:
        rows = []
        for name in sorted(os.listdir(runs)):
            if not name.startswith(f"{loss}-{data}-") or not os.path.isdir(f"{runs}/{name}"):
                continue
            seed = int(name.rsplit("-", 1)[1])
            with open(f"{runs}/{name}/metrics.csv") as f:
                evaluations = [{"step": int(r["step"]), "modes_covered": int(float(r["modes_covered"])),
                                "high_quality_percent": round(100 * float(r["high_quality"]), 2),
                                "mode_kl": round(float(r["mode_kl"]), 4)}
                               for r in csv.DictReader(f) if r["modes_covered"]]
            seconds = int(open(f"{runs}/{name}.seconds").read())
            rows.append({"seed": seed, "seconds": seconds, "evaluations": evaluations})
        result["runs"][f"{loss} {data}"] = rows
        last = [r["evaluations"][-1] for r in rows if r["evaluations"]]
        if not last:
            continue
        def ms(key):
            values = [e[key] for e in last]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.1f} ± {sd:.1f}" if key != "mode_kl" else f"{statistics.mean(values):.2f} ± {sd:.2f}"
        seeds = ", ".join(f"{e['modes_covered']} ({e['high_quality_percent']:.1f})" for e in last)
        print(f"{loss:8} {data:7} {ms('modes_covered'):>15} {ms('high_quality_percent'):>16} {ms('mode_kl'):>13}  {seeds}")
with open(out, "w") as f:
    json.dump(result, f, indent=1)
PY

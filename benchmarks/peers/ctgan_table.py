"""CTGAN (sdv-dev's `ctgan` package, its defaults: batch 500, pac 10, G and D 256-256,
Adam 2e-4 (0.5, 0.9), WGAN-GP, one critic step, Gumbel-softmax at 0.2, mode-specific
normalisation by a Bayesian Gaussian mixture) on a CSV table, for the table benchmark
(benchmarks/tables.sh): fits for --epochs, reports the fit's seconds (and per epoch),
and writes --count sampled rows as CSV for `gan-cl eval`.

    python3 benchmarks/peers/ctgan_table.py --data train.csv --discrete cut,color,clarity \
        --epochs 10 --count 43152 --out ctgan.csv --threads 2
"""

import argparse
import json
import time

import pandas as pd
import torch
from ctgan import CTGAN


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--discrete", default="")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    table = pd.read_csv(args.data)
    discrete = [c for c in args.discrete.split(",") if c]
    model = CTGAN(epochs=args.epochs, cuda=False)
    start = time.perf_counter()
    model.fit(table, discrete)
    seconds = time.perf_counter() - start
    model.sample(args.count).to_csv(args.out, index=False)
    print(json.dumps({"fit_seconds": seconds, "seconds_per_epoch": seconds / args.epochs, "rows": len(table),
                      "epochs": args.epochs, "threads": args.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

"""CTGAN (sdv-dev's `ctgan` package, its defaults: batch 500, pac 10, G and D 256-256,
Adam 2e-4 (0.5, 0.9), WGAN-GP, one critic step, Gumbel-softmax at 0.2, mode-specific
normalisation by a Bayesian Gaussian mixture) on a CSV table, for the table benchmark
(benchmarks/tables.sh): fits for --epochs, reports the fit's seconds (and per epoch),
and writes --count sampled rows as CSV for `gan-cl eval`. The seconds its data transformer
takes (fitting the Bayesian mixtures, encoding the rows) are timed apart, so the training
loop's seconds per epoch can be told from the set-up.

    python3 benchmarks/peers/ctgan_table.py --data train.csv --discrete cut,color,clarity \
        --epochs 10 --count 43152 --out ctgan.csv --threads 2
"""

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch
from ctgan import CTGAN
from ctgan.data_transformer import DataTransformer

transformer_seconds = 0.0


def timed(method):
    def wrapper(*args, **kwargs):
        global transformer_seconds
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            transformer_seconds += time.perf_counter() - start
    return wrapper


DataTransformer.fit = timed(DataTransformer.fit)
DataTransformer.transform = timed(DataTransformer.transform)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--discrete", default="")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drop-missing-numeric", action="store_true",
                        help="drop rows with a missing value in a continuous column (CTGAN refuses them)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # CTGAN's condition and row draws use NumPy's global state
    table = pd.read_csv(args.data)
    discrete = [c for c in args.discrete.split(",") if c]
    dropped = 0
    if args.drop_missing_numeric:
        continuous = [c for c in table.columns if c not in discrete]
        kept = table.dropna(subset=continuous)
        dropped = len(table) - len(kept)
        table = kept
    model = CTGAN(epochs=args.epochs, enable_gpu=False)
    start = time.perf_counter()
    model.fit(table, discrete)
    seconds = time.perf_counter() - start
    setup = transformer_seconds
    model.sample(args.count).to_csv(args.out, index=False)
    print(json.dumps({"fit_seconds": seconds, "transformer_seconds": setup,
                      "seconds_per_epoch": (seconds - setup) / args.epochs, "rows": len(table) + dropped, "rows_dropped": dropped,
                      "epochs": args.epochs, "threads": args.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

"""Timing shared by the peer scripts, as `gan-cl bench step` times: warm-up steps, then
timed blocks of steps (each about a tenth of the budget) until `seconds` have passed and
at least 3 blocks ran; the rate is `batch` over the median block's time per step."""
import argparse
import json
import statistics
import time


def images_per_second(step, batch, seconds, wait=lambda: None):
    """`step()` queues one training step; `wait()` returns once queued work is done."""
    for _ in range(5):
        step()
    wait()
    t0 = time.perf_counter()
    step()
    wait()
    per_block = max(1, int(seconds / 10 / (time.perf_counter() - t0)))
    blocks = []
    start = time.perf_counter()
    while len(blocks) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        for _ in range(per_block):
            step()
        wait()
        blocks.append((time.perf_counter() - t0) / per_block)
    return batch / statistics.median(blocks)


def main(framework, rate_of, parser=None, setup=lambda args: None):
    """The command line the peer scripts share: --batches, --seconds and --json (plus
    `parser`'s own options, handed to `setup` first); prints and writes a row per batch
    under the name `framework`."""
    parser = parser or argparse.ArgumentParser()
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--json")
    args = parser.parse_args()
    setup(args)
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        rate = rate_of(batch, args.seconds)
        rows.append({"framework": framework, "batchSize": batch, "imagesPerSecond": rate})
        print(f"{framework}  batch {batch:4d}  {rate:8.0f} images/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)

"""The dcgan preset of gan-cl (Lucic et al. 2018's conv GAN for 28x28 images) in PyTorch:
a training run for the quality table and a timed step for the speed table.

Network (the same as `gan-cl train --model dcgan`): G z(64) -> FC 1024, BN, ReLU -> FC
7*7*128, BN, ReLU -> ConvT 128->64 4x4 s2 p1, BN, ReLU -> ConvT 64->1 4x4 s2 p1, tanh;
D Conv 1->64 4x4 s2 p1, LeakyReLU 0.2 -> Conv 64->128 4x4 s2 p1, BN, LeakyReLU -> FC
6272->1024, BN, LeakyReLU -> FC 1. PyTorch's default initialisation, BatchNorm with its
defaults (momentum 0.1, eps 1e-5). D sees the real and the fake batch in two calls, so
each has its own batch statistics.

Training (--train): Fashion-MNIST from the Debian package, batch 64, Adam 2e-4 (0.5,
0.999), binary cross-entropy with real label 1 and the non-saturating generator loss,
one D and one G update per batch, data reshuffled each epoch; after each epoch listed
in --save-epochs, 10,000 samples (G in eval mode) go to OUT-epochN.npy (float32 Nx784 in
[-1, 1]) for `gan-cl eval --samples`.

Step (--batches): images/s of the same step (the real images D sees), median of timed
blocks after warm-up, as torch_step.py does.

    python3 benchmarks/peers/torch_dcgan.py --train --seed 0 --epochs 5 --out /tmp/torch-dcgan-s0
    python3 benchmarks/peers/torch_dcgan.py --batches 64,256 --seconds 8 --threads 2
    python3 benchmarks/peers/torch_dcgan.py --batches 64,256 --device cuda   # PyTorch-CUDA eager

The timed step reads no loss back (on a GPU, .item() would wait for each step); each
timed block ends with torch.cuda.synchronize() there.
"""

import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn

import blocks


def networks(noise=64):
    g = nn.Sequential(
        nn.Linear(noise, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
        nn.Linear(1024, 7 * 7 * 128), nn.BatchNorm1d(7 * 7 * 128), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),
        nn.Linear(1024, 1),
    )
    return g, d


def step_function(g, d, batch, noise=64, fresh_noise=False, real_label=1.0, device="cpu"):
    """One D and one G update on a real batch; returns the two losses as tensors."""
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)
    targets = torch.full((batch, 1), real_label, device=device)

    def step(real):
        fake = g(torch.randn(batch, noise, device=device))
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(d(real), targets) + bce(d(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        if fresh_noise:
            fake = g(torch.randn(batch, noise, device=device))
        loss_g = bce(d(fake), ones)
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()
    return step


def read_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    images = read_images(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1)
    g, d = networks()
    step = step_function(g, d, args.batch, fresh_noise=args.fresh_noise, real_label=args.real_label)
    per_epoch = len(x) // args.batch
    start = time.time()
    done = 0
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x))
        for b in range(per_epoch):
            loss_d, loss_g = (v.item() for v in step(x[order[b * args.batch:(b + 1) * args.batch]]))
            done += 1
            if done == args.steps:
                save(g, f"{args.out}-step{done}.npy")
                print(f"step {done}: D loss {loss_d:.3f}, G loss {loss_g:.3f}, {time.time() - start:.0f} s", flush=True)
                return
        print(f"epoch {epoch}: D loss {loss_d:.3f}, G loss {loss_g:.3f}, {time.time() - start:.0f} s", flush=True)
        if epoch in args.save_epochs:
            save(g, f"{args.out}-epoch{epoch}.npy")


def save(g, path):
    """10,000 samples of G in eval mode, float32 Nx784 in [-1, 1]."""
    g.eval()
    with torch.no_grad():
        samples = torch.cat([g(torch.randn(500, 64)) for _ in range(20)]).reshape(-1, 784)
    g.train()
    np.save(path, samples.numpy().astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--save-epochs", type=lambda s: [int(v) for v in s.split(",")], default=[1, 5])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps, saving OUT-stepN.npy")
    parser.add_argument("--fresh-noise", action="store_true", help="G's update draws new noise (as gan-cl does)")
    parser.add_argument("--real-label", type=float, default=1.0, help="D's target for real images")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default="torch-dcgan")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="the timed step's device: cpu, or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.train:
        train(args)
        return
    for batch in [int(b) for b in args.batches.split(",")]:
        torch.manual_seed(1)
        g, d = (n.to(args.device) for n in networks())
        step = step_function(g, d, batch, device=args.device)
        real = torch.rand(batch, 1, 28, 28, device=args.device) * 2 - 1
        wait = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
        rate = blocks.images_per_second(lambda: step(real), batch, args.seconds, wait)
        device = "" if args.device == "cpu" else f" {args.device}"
        print(f"pytorch {torch.__version__}{device} dcgan batch {batch}: {rate:.0f} images/s", flush=True)


if __name__ == "__main__":
    main()

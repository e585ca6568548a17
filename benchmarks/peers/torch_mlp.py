"""The Keras-GAN MLP recipe in PyTorch, for issue 18's default-recipe table: the best
known MLP GAN on (Fashion-)MNIST, to be measured beside gan-cl's default MLP run.

Network (eriklindernoren's Keras-GAN/PyTorch-GAN `gan`): G z(100) -> 128, LeakyReLU 0.2
-> 256, BN, LReLU -> 512, BN, LReLU -> 1024, BN, LReLU -> 784, tanh, with batch norm of
momentum 0.2 in PyTorch's convention (Keras' 0.8) and eps 1e-3 after every hidden layer of
G but the first; D 784 -> 512, LReLU 0.2 -> 256, LReLU -> 1 logit. PyTorch's default
initialisation.

Training: Fashion-MNIST from the Debian package, batch 64, Adam 2e-4 (0.5, 0.999), binary
cross-entropy with real label 1 and the non-saturating generator loss, one D and one G
update per batch (G on new noise), data reshuffled each epoch; after each epoch listed in
--save-epochs, 10,000 samples (G in eval mode) go to OUT-epochN.npy (float32 Nx784 in
[-1, 1]) for `gan-cl eval --samples`.

    python3 benchmarks/peers/torch_mlp.py --seed 0 --epochs 5 --out /tmp/torch-mlp-s0
"""

import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn


def networks(noise=100):
    def block(n, m, norm):
        layers = [nn.Linear(n, m)]
        if norm:
            layers.append(nn.BatchNorm1d(m, eps=1e-3, momentum=0.2))
        layers.append(nn.LeakyReLU(0.2))
        return layers
    g = nn.Sequential(*block(noise, 128, False), *block(128, 256, True), *block(256, 512, True),
                      *block(512, 1024, True), nn.Linear(1024, 784), nn.Tanh())
    d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
    return g, d


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--save-epochs", type=lambda s: [int(v) for v in s.split(",")], default=[1, 5])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default="torch-mlp")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with gzip.open(os.path.join(args.data, "train-images-idx3-ubyte.gz"), "rb") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1)
    g, d = networks()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(args.batch, 1), torch.zeros(args.batch, 1)
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x))
        for b in range(len(x) // args.batch):
            real = x[order[b * args.batch:(b + 1) * args.batch]]
            fake = g(torch.randn(args.batch, 100))
            opt_d.zero_grad(set_to_none=True)
            loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            loss_g = bce(d(g(torch.randn(args.batch, 100))), ones)
            loss_g.backward()
            opt_g.step()
        print(f"epoch {epoch}: D loss {loss_d.item():.3f}, G loss {loss_g.item():.3f}, {time.time() - start:.0f} s", flush=True)
        if epoch in args.save_epochs:
            g.eval()
            with torch.no_grad():
                samples = torch.cat([g(torch.randn(500, 100)) for _ in range(20)])
            g.train()
            np.save(f"{args.out}-epoch{epoch}.npy", samples.numpy().astype(np.float32))


if __name__ == "__main__":
    main()

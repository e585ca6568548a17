"""The dcgan preset's generator in PyTorch with a gan-cl checkpoint's weights: does it
draw the same images from the same noise as `gan-cl sample --noise`? A check that the
layers mean what PyTorch's do (dense, batch norm in inference, the 7x7x128 reshape,
transposed convolutions, tanh), layouts converted: gan-cl's dense weights are
(in, out), its images NHWC, a transposed convolution's weight (in, kh*kw*out).

    gan-cl train --model dcgan --steps 20 --checkpoint-every 20 --out /tmp/parity/run
    python3 benchmarks/peers/dcgan_parity.py /tmp/parity/run/checkpoints/step-000020.safetensors
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

import torch_dcgan


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(info["shape"]).copy()
    return tensors


def load_generator(tensors, prefix="generator"):
    g, _ = torch_dcgan.networks()
    t = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    # gan-cl's 6272 features are (h, w, c); PyTorch's Unflatten reads them as (c, h, w).
    order = np.arange(6272).reshape(7, 7, 128).transpose(2, 0, 1).reshape(-1)
    with torch.no_grad():
        for torch_index, ours, kind, perm in [(0, 0, "dense", None), (1, 1, "bn", None), (3, 2, "dense", order),
                                              (4, 3, "bn", order), (7, 4, "convT", None), (8, 5, "bn", None),
                                              (10, 6, "convT", None)]:
            m = g[torch_index]
            w, b = t[f"layers.{ours}.weight"], t[f"layers.{ours}.bias"]
            if kind == "dense":
                w = w.T
                if perm is not None:
                    w, b = w[perm], b[perm]
            elif kind == "bn":
                rm, rv = t[f"layers.{ours}.running_mean"], t[f"layers.{ours}.running_var"]
                if perm is not None:
                    w, b, rm, rv = w[perm], b[perm], rm[perm], rv[perm]
                m.running_mean.copy_(torch.from_numpy(np.ascontiguousarray(rm)))
                m.running_var.copy_(torch.from_numpy(np.ascontiguousarray(rv)))
            else:
                cin = w.shape[0]
                cout = m.weight.shape[1]
                w = w.reshape(cin, 4, 4, cout).transpose(0, 3, 1, 2)
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            m.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
    return g.eval()


def main():
    checkpoint = sys.argv[1]
    gancl = os.environ.get("GANCL", ".build/release/gan-cl")
    tensors = read_safetensors(checkpoint)
    g = load_generator(tensors)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((16, 64)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        np.save(f"{d}/z.npy", z)
        subprocess.run([gancl, "sample", "--checkpoint", checkpoint, "--noise", f"{d}/z.npy", "--out", f"{d}/g.npy",
                        "--no-ema", "--backend", "cpu"], check=True, stdout=subprocess.DEVNULL)
        ours = np.load(f"{d}/g.npy").reshape(16, 28, 28)
    with torch.no_grad():
        theirs = g(torch.from_numpy(z)).numpy().reshape(16, 28, 28)
    diff = np.abs(ours - theirs).max()
    print(f"largest difference over 16 images: {diff:.2e} (pixel range {theirs.min():.2f} .. {theirs.max():.2f})")
    sys.exit(0 if diff < 1e-4 else 1)


if __name__ == "__main__":
    main()

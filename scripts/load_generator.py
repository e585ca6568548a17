#!/usr/bin/env python3
"""Loads a generator written by `gan-cl export --format safetensors` into PyTorch.

    from load_generator import load_generator
    g = load_generator("generator.safetensors")       # reads generator.json's twin from the metadata
    images = g(torch.randn(16, g.noise_dim))           # (16, 1, 28, 28) in [-1, 1]
    images = g(torch.randn(16, g.noise_dim), torch.arange(16) % 10)   # a conditional generator

Run as a script, it draws from a noise file and writes the result as .npy:

    python3 scripts/load_generator.py generator.safetensors noise.npy out.npy [classes.npy]

Needs torch, numpy and safetensors.
"""
import json
import sys

import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors import safe_open


class OneHotConcat(torch.nn.Module):
    def __init__(self, classes, image=None):
        super().__init__()
        self.classes, self.image = classes, image

    def forward(self, x, labels):
        one_hot = torch.nn.functional.one_hot(labels.long(), self.classes).to(x.dtype)
        if self.image is not None:
            _, h, w = self.image
            one_hot = one_hot[:, :, None, None].expand(-1, -1, h, w)
        return torch.cat([x, one_hot], dim=1)


class NHWCToNCHW(torch.nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.c, self.h, self.w = shape

    def forward(self, x):
        return x.reshape(-1, self.h, self.w, self.c).permute(0, 3, 1, 2)


class NCHWToFlat(torch.nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class Generator(torch.nn.Module):
    def __init__(self, architecture, weights):
        super().__init__()
        self.noise_dim = architecture["noise_dim"]
        self.classes = architecture.get("classes")
        steps = []
        for layer in architecture["layers"]:
            kind = layer["type"]
            if kind == "linear":
                m = torch.nn.Linear(layer["in_features"], layer["out_features"])
            elif kind == "conv2d":
                m = torch.nn.Conv2d(layer["in_channels"], layer["out_channels"], layer["kernel"],
                                    layer["stride"], layer["padding"])
            elif kind == "conv_transpose2d":
                m = torch.nn.ConvTranspose2d(layer["in_channels"], layer["out_channels"], layer["kernel"],
                                             layer["stride"], layer["padding"])
            elif kind == "batch_norm":
                m = torch.nn.BatchNorm1d(layer["channels"], eps=layer["eps"])
            elif kind == "layer_norm":
                m = torch.nn.LayerNorm(layer["features"], eps=layer["eps"])
            elif kind == "one_hot_concat":
                m = OneHotConcat(layer["classes"], layer.get("image"))
            elif kind == "relu":
                m = torch.nn.ReLU()
            elif kind == "leaky_relu":
                m = torch.nn.LeakyReLU(layer["negative_slope"])
            elif kind == "tanh":
                m = torch.nn.Tanh()
            elif kind == "sigmoid":
                m = torch.nn.Sigmoid()
            elif kind == "nhwc_to_nchw":
                m = NHWCToNCHW(layer["shape"])
            elif kind == "nchw_to_nhwc_flat":
                m = NCHWToFlat()
            else:
                raise ValueError(f"unknown layer type {kind}")
            if "name" in layer:
                names = ["weight", "bias"] + (["running_mean", "running_var"] if kind == "batch_norm" else [])
                for n in names:
                    tensor = torch.from_numpy(weights[f"{layer['name']}.{n}"])
                    getattr(m, n).data.copy_(tensor)
            steps.append(m)
        self.steps = torch.nn.ModuleList(steps)
        self.eval()

    def forward(self, noise, labels=None):
        x = noise
        for m in self.steps:
            if isinstance(m, torch.nn.BatchNorm1d) and x.dim() == 4:
                # BatchNorm1d's weights over channels, applied to an image: batch_norm is
                # the same function for (N, C) and (N, C, H, W).
                x = torch.nn.functional.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias,
                                                   False, 0.0, m.eps)
            elif isinstance(m, OneHotConcat):
                if labels is None:
                    raise ValueError("a conditional generator needs labels")
                x = m(x, labels)
            else:
                x = m(x)
        return x


def load_generator(path):
    with safe_open(path, framework="numpy") as f:
        architecture = json.loads(f.metadata()["architecture"])
    return Generator(architecture, load_file(path))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    g = load_generator(sys.argv[1])
    noise = torch.from_numpy(np.load(sys.argv[2]).astype(np.float32))
    labels = torch.from_numpy(np.load(sys.argv[4])) if len(sys.argv) == 5 else None
    with torch.no_grad():
        out = g(noise, labels)
    np.save(sys.argv[3], out.reshape(out.shape[0], -1).numpy() if out.dim() == 2 else out.numpy())

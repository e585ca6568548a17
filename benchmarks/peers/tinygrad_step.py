"""The MLP GAN training step of `gan-cl bench step`, in tinygrad on OpenCL (PoCL here,
DEV=CL; one TinyJit-captured step), for the peers table. Same networks, loss, Adam and
counting as torch_step.py.

    pip install tinygrad
    DEV=CL python3 benchmarks/peers/tinygrad_step.py --batches 64,256 --seconds 8
"""

from tinygrad import Context, Device, Tensor, TinyJit, nn
from tinygrad.nn.state import get_parameters

import blocks


class MLP:
    def __init__(self, widths, out=None):
        self.layers = [nn.Linear(a, b) for a, b in zip(widths, widths[1:])]
        self.out = out

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.leaky_relu(0.2)
        return self.out(x) if self.out else x


def bce(logits, target):
    return (logits.maximum(0) - logits * target + (-logits.abs()).exp().add(1).log()).mean()


def rate_of(batch, seconds):
    Tensor.manual_seed(1)
    g = MLP([100, 128, 256, 512, 1024, 784], lambda x: x.tanh())
    d = MLP([784, 1024, 512, 256, 128, 1])
    opt_g = nn.optim.Adam(get_parameters(g), lr=2e-4, b1=0.5, b2=0.999)
    opt_d = nn.optim.Adam(get_parameters(d), lr=2e-4, b1=0.5, b2=0.999)
    real = (Tensor.rand(batch, 784) * 2 - 1).realize()

    @TinyJit
    def step():
        fake = g(Tensor.randn(batch, 100)).detach()
        opt_d.zero_grad()
        loss_d = bce(d(real), 0.9) + bce(d(fake), 0.0)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(d(g(Tensor.randn(batch, 100))), 1.0)
        loss_g.backward()
        opt_g.step()
        return loss_g.realize()

    last = [None]

    def one():
        with Context(TRAINING=1):
            last[0] = step()

    return blocks.images_per_second(one, batch, seconds, wait=lambda: last[0].numpy())


if __name__ == "__main__":
    from importlib.metadata import version
    blocks.main(f"tinygrad {version('tinygrad')} {Device.DEFAULT}", rate_of)

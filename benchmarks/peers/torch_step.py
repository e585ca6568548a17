"""The MLP GAN training step of `gan-cl bench step`, in PyTorch (eager), for the peers table.

The classic MLP GAN that `gan-cl bench step` times: G 100-128-256-512-1024-784 (LeakyReLU 0.2,
tanh out), D 784-1024-512-256-128-1 (LeakyReLU 0.2), BCE on logits (real label 0.9),
Adam lr 2e-4, betas (0.5, 0.999); per step one D update on a real and a generated batch
and one G update (non-saturating). Images/s count the real images D sees, as gan-cl does.
Each figure is the median of timed blocks after warm-up steps, on torch's CPU threads
(2 here). Real images are random in [-1, 1]: the step's cost does not depend on them.

With --loss wgan-gp, the step of `gan-cl bench step --loss wgan-gp`: the same networks,
5 critic updates (Wasserstein losses plus the gradient penalty 10 * (|grad_x D(x_hat)| - 1)^2
at x_hat = eps * real + (1 - eps) * fake, one eps per example, its gradient by autograd's
double backward) and one generator update, Adam lr 1e-4, betas (0.5, 0.9); images/s count
the real images of the 5 critic updates, as gan-cl does.

    pip install torch
    python3 benchmarks/peers/torch_step.py --batches 64,256 --seconds 8 --threads 2
    python3 benchmarks/peers/torch_step.py --loss wgan-gp --batches 64,256 --seconds 8
    python3 benchmarks/peers/torch_step.py --device cuda     # PyTorch-CUDA eager (scripts/gpu-check.sh)

On a GPU each timed block ends with torch.cuda.synchronize(), so the clock covers the work.
"""

import argparse

import torch
from torch import nn

import blocks

# Where the networks and batches live (--device); set by main.
DEVICE = torch.device("cpu")


def wait():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def mlp(widths, out=None):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.LeakyReLU(0.2))
    if out is not None:
        layers.append(out)
    return nn.Sequential(*layers)


def wgan_gp_rate_of(batch, seconds, critic_updates=5, weight=10.0):
    torch.manual_seed(1)
    g = mlp([100, 128, 256, 512, 1024, 784], nn.Tanh()).to(DEVICE)
    d = mlp([784, 1024, 512, 256, 128, 1]).to(DEVICE)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.5, 0.9))
    real = torch.rand(batch, 784, device=DEVICE) * 2 - 1

    def step():
        for _ in range(critic_updates):
            fake = g(torch.randn(batch, 100, device=DEVICE)).detach()
            eps = torch.rand(batch, 1, device=DEVICE)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
            penalty = weight * ((grad.norm(2, dim=1) - 1) ** 2).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d = d(fake).mean() - d(real).mean() + penalty
            loss_d.backward()
            opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g = -d(g(torch.randn(batch, 100, device=DEVICE))).mean()
        loss_g.backward()
        opt_g.step()

    return blocks.images_per_second(step, batch * critic_updates, seconds, wait)


def rate_of(batch, seconds):
    torch.manual_seed(1)
    g = mlp([100, 128, 256, 512, 1024, 784], nn.Tanh()).to(DEVICE)
    d = mlp([784, 1024, 512, 256, 128, 1]).to(DEVICE)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 784, device=DEVICE) * 2 - 1
    real_target = torch.full((batch, 1), 0.9, device=DEVICE)
    fake_target = torch.zeros(batch, 1, device=DEVICE)
    ones = torch.ones(batch, 1, device=DEVICE)

    def step():
        z = torch.randn(batch, 100, device=DEVICE)
        fake = g(z)
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(d(real), real_target) + bce(d(fake.detach()), fake_target)
        loss_d.backward()
        opt_d.step()
        z = torch.randn(batch, 100, device=DEVICE)
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(d(g(z)), ones)
        loss_g.backward()
        opt_g.step()

    return blocks.images_per_second(step, batch, seconds, wait)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--loss", choices=["bce", "wgan-gp"], default="bce")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for PyTorch-CUDA")
    known = parser.parse_known_args()[0]

    def setup(args):
        global DEVICE
        DEVICE = torch.device(args.device)
        torch.set_num_threads(args.threads)

    device = "" if known.device == "cpu" else f" {known.device}"
    blocks.main(f"PyTorch {torch.__version__} eager{device}{' wgan-gp' if known.loss == 'wgan-gp' else ''}",
                wgan_gp_rate_of if known.loss == "wgan-gp" else rate_of, parser, setup=setup)


if __name__ == "__main__":
    main()

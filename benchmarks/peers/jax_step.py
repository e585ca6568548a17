"""The MLP GAN training step of `gan-cl bench step`, in JAX (one jit-compiled step), for
the peers table. Same networks, loss, Adam and counting as torch_step.py; Adam is
written out (PyTorch's form) so that only jax is needed.

    pip install jax
    XLA_FLAGS=--xla_cpu_multi_thread_eigen=true python3 benchmarks/peers/jax_step.py --batches 64,256 --seconds 8
"""

import jax
import jax.numpy as jnp

import blocks

G_WIDTHS = [100, 128, 256, 512, 1024, 784]
D_WIDTHS = [784, 1024, 512, 256, 128, 1]


def init(key, widths):
    params = []
    for a, b in zip(widths, widths[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1 / a ** 0.5
        params.append((jax.random.uniform(kw, (a, b), minval=-bound, maxval=bound),
                       jax.random.uniform(kb, (b,), minval=-bound, maxval=bound)))
    return params


def forward(params, x, out):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = jnp.where(x > 0, x, 0.2 * x)
    return out(x)


def bce(logits, target):
    return jnp.mean(jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits))))


def adam(params, grads, m, v, t, lr=2e-4, b1=0.5, b2=0.999, eps=1e-8):
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    params = jax.tree_util.tree_map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), params, m, v)
    return params, m, v


def make_step(batch):
    def d_loss(d, g, real, z):
        fake = jax.lax.stop_gradient(forward(g, z, jnp.tanh))
        return bce(forward(d, real, lambda x: x), 0.9) + bce(forward(d, fake, lambda x: x), 0.0)

    def g_loss(g, d, z):
        return bce(forward(d, forward(g, z, jnp.tanh), lambda x: x), 1.0)

    @jax.jit
    def step(state, real, key, t):
        g, d, gm, gv, dm, dv = state
        k1, k2 = jax.random.split(key)
        dg = jax.grad(d_loss)(d, g, real, jax.random.normal(k1, (batch, 100)))
        d, dm, dv = adam(d, dg, dm, dv, t)
        gg = jax.grad(g_loss)(g, d, jax.random.normal(k2, (batch, 100)))
        g, gm, gv = adam(g, gg, gm, gv, t)
        return (g, d, gm, gv, dm, dv)

    return step


def rate_of(batch, seconds):
    key = jax.random.PRNGKey(1)
    g, d = init(key, G_WIDTHS), init(jax.random.PRNGKey(2), D_WIDTHS)
    zeros = lambda p: jax.tree_util.tree_map(jnp.zeros_like, p)
    state = (g, d, zeros(g), zeros(g), zeros(d), zeros(d))
    real = jax.random.uniform(key, (batch, 784), minval=-1, maxval=1)
    step = make_step(batch)
    t = 0

    def one():
        nonlocal state, t
        t += 1
        state = step(state, real, jax.random.PRNGKey(t), float(t))

    return blocks.images_per_second(one, batch, seconds, wait=lambda: jax.block_until_ready(state))

if __name__ == "__main__":
    blocks.main(f"JAX {jax.__version__} jit", rate_of)

"""The MLP GAN training step of `gan-cl bench step`, in TensorFlow with XLA (one
`tf.function(jit_compile=True)` step), for the peers table. Same networks, loss, Adam and
counting as torch_step.py; Adam is written out (PyTorch's form, as in jax_step.py) so
that both optimisers' variables live inside the compiled step.

    pip install tensorflow-cpu
    python3 benchmarks/peers/tf_step.py --batches 64,256 --seconds 8
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

import blocks  # noqa: E402

G_WIDTHS = [100, 128, 256, 512, 1024, 784]
D_WIDTHS = [784, 1024, 512, 256, 128, 1]


def init(widths, seed):
    rng = tf.random.Generator.from_seed(seed)
    params = []
    for a, b in zip(widths, widths[1:]):
        bound = 1 / a ** 0.5
        params.append(tf.Variable(rng.uniform((a, b), -bound, bound)))
        params.append(tf.Variable(rng.uniform((b,), -bound, bound)))
    return params


def forward(params, x, out):
    layers = len(params) // 2
    for i in range(layers):
        x = tf.matmul(x, params[2 * i]) + params[2 * i + 1]
        if i < layers - 1:
            x = tf.where(x > 0, x, 0.2 * x)
    return out(x)


def bce(logits, target):
    return tf.reduce_mean(tf.maximum(logits, 0.0) - logits * target + tf.math.log1p(tf.exp(-tf.abs(logits))))


class Adam:
    def __init__(self, params, lr=2e-4, b1=0.5, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [tf.Variable(tf.zeros_like(p)) for p in params]
        self.v = [tf.Variable(tf.zeros_like(p)) for p in params]

    def apply(self, grads, t):
        c1, c2 = 1 - self.b1 ** t, 1 - self.b2 ** t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.assign(self.b1 * m + (1 - self.b1) * g)
            v.assign(self.b2 * v + (1 - self.b2) * g * g)
            p.assign_sub(self.lr * (m / c1) / (tf.sqrt(v / c2) + self.eps))


def rate_of(batch, seconds):
    g, d = init(G_WIDTHS, 1), init(D_WIDTHS, 2)
    opt_g, opt_d = Adam(g), Adam(d)
    real = tf.random.uniform((batch, 784), -1, 1, seed=1)
    noise = tf.random.Generator.from_seed(3)
    t = tf.Variable(0.0)

    @tf.function(jit_compile=True)
    def step():
        t.assign_add(1.0)
        z = noise.normal((batch, 100))
        with tf.GradientTape() as tape:
            fake = tf.stop_gradient(forward(g, z, tf.tanh))
            loss_d = bce(forward(d, real, tf.identity), 0.9) + bce(forward(d, fake, tf.identity), 0.0)
        opt_d.apply(tape.gradient(loss_d, d), t)
        z = noise.normal((batch, 100))
        with tf.GradientTape() as tape:
            loss_g = bce(forward(d, forward(g, z, tf.tanh), tf.identity), 1.0)
        opt_g.apply(tape.gradient(loss_g, g), t)
        return loss_g

    last = [None]

    def one():
        last[0] = step()

    return blocks.images_per_second(one, batch, seconds, wait=lambda: last[0].numpy())


if __name__ == "__main__":
    blocks.main(f"TensorFlow {tf.__version__} XLA", rate_of)

"""The dcgan preset's training step (`gan-cl bench step --model dcgan`) in TensorFlow with
XLA: one `tf.function(jit_compile=True)` step, the same networks as torch_dcgan.py (Lucic
et al.'s DCGAN for 28×28 images, NHWC as TensorFlow keeps them), the same update: D on the
real batch (target 1) and on G's batch (target 0), an Adam step of D, then G's
non-saturating loss through the updated D on that same generated batch and an Adam step of
G; Adam 2e-4 (0.5, 0.999) in PyTorch's form (tf_step.py's), batch normalisation in
training mode. Timing as the other peers (blocks.py).

    pip install tensorflow-cpu
    python3 benchmarks/peers/tf_dcgan.py --batches 64,256 --seconds 5
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402

import blocks  # noqa: E402
from tf_step import Adam, bce  # noqa: E402

NOISE = 64


def networks():
    layers = keras.layers
    g = keras.Sequential([
        keras.Input((NOISE,)),
        layers.Dense(1024), layers.BatchNormalization(momentum=0.9, epsilon=1e-5), layers.ReLU(),
        layers.Dense(7 * 7 * 128), layers.BatchNormalization(momentum=0.9, epsilon=1e-5), layers.ReLU(),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(64, 4, 2, padding="same"), layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
        layers.ReLU(),
        layers.Conv2DTranspose(1, 4, 2, padding="same", activation="tanh"),
    ])
    d = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 4, 2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(128, 4, 2, padding="same"), layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
        layers.LeakyReLU(0.2),
        layers.Flatten(),
        layers.Dense(1024), layers.BatchNormalization(momentum=0.9, epsilon=1e-5), layers.LeakyReLU(0.2),
        layers.Dense(1),
    ])
    return g, d


def rate_of(batch, seconds):
    tf.keras.utils.set_random_seed(1)
    g, d = networks()
    opt_g, opt_d = Adam(g.trainable_variables), Adam(d.trainable_variables)
    real = tf.random.uniform((batch, 28, 28, 1), -1, 1, seed=1)
    noise = tf.random.Generator.from_seed(3)
    t = tf.Variable(0.0)

    @tf.function(jit_compile=True)
    def step():
        t.assign_add(1.0)
        z = noise.normal((batch, NOISE))
        with tf.GradientTape() as g_tape:
            fake = g(z, training=True)
            with tf.GradientTape() as d_tape:
                loss_d = bce(d(real, training=True), 1.0) + bce(d(tf.stop_gradient(fake), training=True), 0.0)
            opt_d.apply(d_tape.gradient(loss_d, d.trainable_variables), t)
            loss_g = bce(d(fake, training=True), 1.0)
        opt_g.apply(g_tape.gradient(loss_g, g.trainable_variables), t)
        return loss_g

    last = [None]

    def one():
        last[0] = step()

    return blocks.images_per_second(one, batch, seconds, wait=lambda: last[0].numpy())


if __name__ == "__main__":
    blocks.main(f"TensorFlow {tf.__version__} XLA dcgan", rate_of)

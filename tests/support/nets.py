"""What the training tests share: a small network with dropout, its loss, data, a fit; tiny
convolutional nets and their data."""

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import AvgPool1D, Conv1D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Network, fit, losses, optim

NET = Network(5, (Dense(8, "tanh"), Dropout(0.25), Dense(3, "softmax")))
LOSS = losses.cross_entropy()


def data(n=23, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(dtype)
    return x, (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)


def small_fit(params=None, dtype=jnp.float32, **kw):
    kw.setdefault("epochs", 3)
    kw.setdefault("batch_size", 4)
    params = NET.init(jax.random.key(0), dtype) if params is None else params
    xt = kw.pop("data", None) or data(dtype=np.dtype(dtype))
    return fit(NET, LOSS, kw.pop("optimizer", optim.sgd(0.1)), params, xt,
               key=kw.pop("key", jax.random.key(1)), **kw)


# Convolutional nets, tiny so that their programs compile quickly: a 2-D one with dropout
# after the convolutions (its mask has the image's shape until Flatten), and a 1-D one.
CONV_NET = Network((8, 8, 1), (Conv2D(4, 3, "relu", padding="SAME"), MaxPool2D(2), Conv2D(4, 3, "relu"), Flatten(),
                               Dropout(0.2), Dense(3)))
CONV1D_NET = Network((12, 2), (Conv1D(4, 3, "tanh", padding=1), AvgPool1D(2), Conv1D(3, 2, "relu", stride=2),
                               Flatten(), Dense(3)))


def conv_data(net=CONV_NET, n=24, seed=0, dtype=np.float32):
    """``(x, labels)``: n examples of ``net.in_shape`` and 3 classes that follow the values
    (so training makes progress), labels int32."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *net.in_shape)).astype(dtype)
    half = x.reshape(n, -1)[:, : x[0].size // 2]
    return x, (half.mean(axis=1) > 0).astype(np.int32) + (x.reshape(n, -1)[:, -1] > 0.5).astype(np.int32)

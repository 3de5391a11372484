"""What the training tests share: a small network with dropout, its loss, data, a fit."""

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import Dense, Dropout, Network, fit, losses, optim

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

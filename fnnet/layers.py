"""Layers as data: Dense, Maxout and Dropout.

A layer is a frozen, hashable description. It never holds arrays; its parameters
live in the pytree entry that ``init`` returns. Each layer has a forward rule that
also returns what its backward rule needs (the cache) and a backward rule:

    delta = layer.delta(cache, g)             # ∂C/∂z from g = ∂C/∂a
    g_prev, grads = layer.backward(params, cache, delta)
                                              # ∂C/∂a_prev = δ Wᵀ, ∂C/∂W = a_prevᵀ δ, ∂C/∂b = Σ δ

All arrays are ``(batch, features)``; the network adds and removes the batch axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from fnnet import activations

INITIALIZERS = ("glorot", "he", "lecun")


def _check_features(kind: str, features: Any) -> None:
    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise ValueError(f"{kind}: features must be a positive int, got {features!r}")


def _check_init(kind: str, w_init: Any) -> None:
    if w_init is not None and w_init not in INITIALIZERS:
        raise ValueError(f"{kind}: unknown w_init {w_init!r}; expected one of {list(INITIALIZERS)} or None")


def _init_w(key, shape, w_init, dtype):
    # fan_in = shape[0], fan_out = product of the rest (out × pieces for maxout).
    scheme = {
        "glorot": jax.nn.initializers.glorot_uniform(in_axis=0, out_axis=1),
        "he": jax.nn.initializers.he_normal(in_axis=0, out_axis=1),
        "lecun": jax.nn.initializers.lecun_normal(in_axis=0, out_axis=1),
    }[w_init]
    fan_out = 1
    for n in shape[1:]:
        fan_out *= n
    return scheme(key, (shape[0], fan_out), dtype).reshape(shape)


class DenseCache(NamedTuple):
    a_prev: jax.Array  # (batch, in)
    z: jax.Array  # (batch, out)
    a: jax.Array  # (batch, out)


@dataclass(frozen=True)
class Dense:
    """Fully connected layer ``a = f(a_prev W + b)``; W: (in, features), b: (features,).

    ``w_init`` is "glorot", "he" or "lecun"; None picks He for ReLU-like
    activations and Glorot (Xavier) for the others.
    """

    features: int
    activation: str = "identity"
    w_init: str | None = None

    def __post_init__(self):
        _check_features("Dense", self.features)
        activations.get(self.activation)
        _check_init("Dense", self.w_init)

    needs_key = False

    def out_features(self, in_features: int) -> int:
        return self.features

    def param_shapes(self, in_features: int) -> dict:
        return {"w": (in_features, self.features), "b": (self.features,)}

    def init(self, key, in_features: int, dtype) -> dict:
        scheme = self.w_init or ("he" if self.activation in activations.RELU_LIKE else "glorot")
        w = _init_w(key, (in_features, self.features), scheme, dtype)
        return {"w": w, "b": jnp.zeros((self.features,), dtype)}

    def forward(self, params, a_prev, *, key=None, train=False):
        z = a_prev @ params["w"] + params["b"][None, :]
        a = activations.get(self.activation).f(z)
        return a, DenseCache(a_prev, z, a)

    def delta(self, cache: DenseCache, g):
        return activations.get(self.activation).vjp(cache.z, cache.a, g)

    def backward(self, params, cache: DenseCache, delta):
        grads = {"w": cache.a_prev.T @ delta, "b": jnp.sum(delta, axis=0)}
        return delta @ params["w"].T, grads


class MaxoutCache(NamedTuple):
    a_prev: jax.Array  # (batch, in)
    winner: jax.Array  # (batch, out) int: index of the winning piece


@dataclass(frozen=True)
class Maxout:
    """Maxout layer: each unit is the max of ``pieces`` linear pieces,
    ``a_j = max_k (a_prev W[:, j, k] + b[j, k])``; W: (in, features, pieces),
    b: (features, pieces).

    Ties go to the first (lowest-index) maximal piece, in ``apply`` (and so in
    ``jax.grad``) and in the hand-written backward pass alike.
    """

    features: int
    pieces: int = 2
    w_init: str | None = None

    def __post_init__(self):
        _check_features("Maxout", self.features)
        if isinstance(self.pieces, bool) or not isinstance(self.pieces, int) or self.pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive int, got {self.pieces!r}")
        _check_init("Maxout", self.w_init)

    needs_key = False

    def out_features(self, in_features: int) -> int:
        return self.features

    def param_shapes(self, in_features: int) -> dict:
        return {
            "w": (in_features, self.features, self.pieces),
            "b": (self.features, self.pieces),
        }

    def init(self, key, in_features: int, dtype) -> dict:
        shapes = self.param_shapes(in_features)
        # Maxout is piecewise linear like ReLU, so He by default.
        w = _init_w(key, shapes["w"], self.w_init or "he", dtype)
        return {"w": w, "b": jnp.zeros(shapes["b"], dtype)}

    def forward(self, params, a_prev, *, key=None, train=False):
        n_in, out, pieces = params["w"].shape
        z = a_prev @ params["w"].reshape(n_in, out * pieces) + params["b"].reshape(1, out * pieces)
        z = z.reshape(-1, out, pieces)
        winner = jnp.argmax(z, axis=-1)
        a = jnp.take_along_axis(z, winner[..., None], axis=-1)[..., 0]
        return a, MaxoutCache(a_prev, winner)

    def delta(self, cache: MaxoutCache, g):
        # max passes g through to the winning piece unchanged; backward routes it there.
        return g

    def backward(self, params, cache: MaxoutCache, delta):
        n_in, out, pieces = params["w"].shape
        delta_pieces = jax.nn.one_hot(cache.winner, pieces, dtype=delta.dtype) * delta[..., None]
        delta_flat = delta_pieces.reshape(-1, out * pieces)
        grads = {
            "w": (cache.a_prev.T @ delta_flat).reshape(n_in, out, pieces),
            "b": jnp.sum(delta_pieces, axis=0),
        }
        return delta_flat @ params["w"].reshape(n_in, out * pieces).T, grads


class DropoutCache(NamedTuple):
    # What a_prev was multiplied by: the (batch, in) mask while training, 1 - rate at test
    # time under the notes' rule, None when nothing was.
    scale: jax.Array | float | None


@dataclass(frozen=True)
class Dropout:
    """Drops each input unit with probability ``rate`` while training.

    ``inverted=True`` (default): kept units are scaled by 1/(1 - rate) while
    training and nothing changes at test time. ``inverted=False`` is the notes'
    rule: no scaling while training, and at test time the activations are
    multiplied by (1 - rate), which is the same as multiplying the weights of
    the next layer by (1 - rate). Both give the same expected input to the next
    layer. The parameter entry is an empty dict.
    """

    rate: float
    inverted: bool = True

    def __post_init__(self):
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0 <= rate < 1):
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        object.__setattr__(self, "rate", float(rate))

    @property
    def needs_key(self) -> bool:
        return self.rate > 0

    def out_features(self, in_features: int) -> int:
        return in_features

    def param_shapes(self, in_features: int) -> dict:
        return {}

    def init(self, key, in_features: int, dtype) -> dict:
        return {}

    def forward(self, params, a_prev, *, key=None, train=False):
        if self.rate == 0 or (not train and self.inverted):
            return a_prev, DropoutCache(None)
        if not train:
            scale = 1 - self.rate
        else:
            keep = jax.random.bernoulli(key, 1 - self.rate, a_prev.shape).astype(a_prev.dtype)
            scale = keep / (1 - self.rate) if self.inverted else keep
        return a_prev * scale, DropoutCache(scale)

    def delta(self, cache: DropoutCache, g):
        return g

    def backward(self, params, cache: DropoutCache, delta):
        return (delta if cache.scale is None else delta * cache.scale), {}


LAYER_TYPES = (Dense, Maxout, Dropout)

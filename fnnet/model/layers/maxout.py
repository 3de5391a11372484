"""Maxout: each unit the max of its linear pieces; δ goes to the winning piece."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from fnnet.model import initializers
from fnnet.model.layers.protocol import add_bias, check_features, check_fields, flat


class MaxoutCache(NamedTuple):
    a_prev: jax.Array  # (batch, in)
    winner: jax.Array  # (batch, out) int: index of the winning piece


@dataclass(frozen=True)
class Maxout:
    """Maxout layer: each unit is the max of ``pieces`` linear pieces,
    ``a_j = max_k (a_prev W[:, j, k] + b[j, k])``; W: (in, features, pieces),
    b: (features, pieces). ``w_init`` (default He), ``b_init`` and ``use_bias`` as for
    Dense.

    Ties go to the first (lowest-index) maximal piece, in ``apply`` (and so in
    ``jax.grad``) and in the hand-written backward pass alike.
    """

    features: int
    pieces: int = 2
    w_init: Any = None
    b_init: Any = None
    use_bias: bool = True

    def __post_init__(self):
        check_features("Maxout", self.features)
        if isinstance(self.pieces, bool) or not isinstance(self.pieces, int) or self.pieces < 1:
            raise ValueError(f"Maxout: pieces must be a positive int, got {self.pieces!r}")
        check_fields(self)

    needs_key = False

    def out_shape(self, in_shape: tuple) -> tuple:
        flat("Maxout", in_shape)
        return (self.features,)

    def param_shapes(self, in_shape: tuple) -> dict:
        shapes = {"w": (flat("Maxout", in_shape), self.features, self.pieces)}
        return {**shapes, "b": (self.features, self.pieces)} if self.use_bias else shapes

    def init(self, key, in_shape: tuple, dtype) -> dict:
        shapes = self.param_shapes(in_shape)
        # Maxout is piecewise linear like ReLU, so He by default.
        params = {"w": initializers.weights(key, shapes["w"], "he" if self.w_init is None else self.w_init, dtype)}
        if self.use_bias:
            params["b"] = initializers.biases(initializers.bias_key(key), shapes["b"], self.b_init, dtype)
        return params

    def forward(self, params, a_prev, *, key=None, train=False):
        n_in, out, pieces = params["w"].shape
        z = a_prev @ params["w"].reshape(n_in, out * pieces)
        if self.use_bias:
            z = add_bias(z, params["b"].reshape(out * pieces))
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
        grads = {"w": (cache.a_prev.T @ delta_flat).reshape(n_in, out, pieces)}
        if self.use_bias:
            grads["b"] = jnp.sum(delta_pieces, axis=0)
        return delta_flat @ params["w"].reshape(n_in, out * pieces).T, grads

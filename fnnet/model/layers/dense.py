"""Dense: the fully connected layer ``a = f(a_prev W + b)``, its δ rule beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from fnnet.model import activations, initializers
from fnnet.model.layers.protocol import add_bias, check_features, check_fields, flat


class DenseCache(NamedTuple):
    a_prev: jax.Array  # (batch, in)
    z: jax.Array  # (batch, out)
    a: jax.Array  # (batch, out)


@dataclass(frozen=True)
class Dense:
    """Fully connected layer ``a = f(a_prev W + b)``; W: (in, features), b: (features,).

    ``activation``: a registered name, an ``activations.Activation``, an ``(f, df)``
    pair (df: (z, a) -> f'(z)) or a callable f (derivative by ``jax.vjp``); see
    ``activations.resolve``. ``w_init`` is "glorot", "he", "lecun" or a
    ``jax.nn.initializers`` callable; None picks He for ReLU-like activations and
    Glorot (Xavier) for the others. ``b_init``: zeros (None, "zeros") or a callable.
    ``use_bias=False``: ``a = f(a_prev W)`` and the entry is ``{"w"}`` alone.
    """

    features: int
    activation: Any = "identity"
    w_init: Any = None
    b_init: Any = None
    use_bias: bool = True

    def __post_init__(self):
        check_features("Dense", self.features)
        object.__setattr__(self, "activation", activations.resolve(self.activation))
        check_fields(self)

    needs_key = False

    def out_shape(self, in_shape: tuple) -> tuple:
        flat("Dense", in_shape)
        return (self.features,)

    def param_shapes(self, in_shape: tuple) -> dict:
        shapes = {"w": (flat("Dense", in_shape), self.features)}
        return {**shapes, "b": (self.features,)} if self.use_bias else shapes

    def init(self, key, in_shape: tuple, dtype) -> dict:
        params = {"w": initializers.weights(key, (flat("Dense", in_shape), self.features),
                                            initializers.scheme(self.w_init, self.activation), dtype)}
        if self.use_bias:
            params["b"] = initializers.biases(initializers.bias_key(key), (self.features,), self.b_init, dtype)
        return params

    def forward(self, params, a_prev, *, key=None, train=False):
        z = a_prev @ params["w"]
        if self.use_bias:
            z = add_bias(z, params["b"])
        a = activations.get(self.activation).f(z)
        if tuple(jnp.shape(a)) != z.shape:
            raise ValueError(f"Dense activation {activations.name_of(self.activation)!r} changed the shape: "
                             f"z {z.shape} -> a {tuple(jnp.shape(a))}; an activation must keep z's shape")
        return a, DenseCache(a_prev, z, a)

    def delta(self, cache: DenseCache, g):
        return activations.get(self.activation).vjp(cache.z, cache.a, g)

    def backward(self, params, cache: DenseCache, delta):
        grads = {"w": cache.a_prev.T @ delta}
        if self.use_bias:
            grads["b"] = jnp.sum(delta, axis=0)
        return delta @ params["w"].T, grads

"""A structure search's hidden layers: one layer shape for members with different hidden
activations (maxout included in dense layers), so that they train in one vmapped
program: ``Switch`` (dense) and ``ConvSwitch`` (a convolution); and ``PoolSwitch``, one
pooling layer for members that pool differently. Each member's own choice is its
parameter ``kind`` (an index, never trained: the search's mask holds it still)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from fnnet.model import activations, initializers
from fnnet.model.layers.protocol import add_bias, flat


class SwitchCache(NamedTuple):
    a_prev: jax.Array  # (batch, in)
    z: jax.Array  # (batch, out, pieces)
    a: jax.Array  # (batch, out)
    winner: jax.Array  # (batch, out) int: maxout's winning piece


@dataclass(frozen=True)
class Switch:
    """``z = a_prev W + b`` with W (in, features, pieces), b (features, pieces); then
    ``a = f_k(z[..., 0])`` for ``k = kinds[params["kind"]]``, or ``a = max_p z[..., p]``
    (ties to the lowest piece, as ``fnnet.Maxout``) when that kind is "maxout".

    A Dense member uses piece 0 alone (its other pieces are padding, held at zero), so the
    layer computes exactly what Dense(features, f) and Maxout(features, pieces) compute, to
    the round-off of a matmul over more (zero) terms. The choice is ``jnp.where``: the
    other kinds' values are computed and dropped, never mixed in.
    """

    features: int
    kinds: tuple  # activation names, "maxout" among them or not
    pieces: int = 1

    needs_key = False

    def out_shape(self, in_shape: tuple) -> tuple:
        flat("Switch", in_shape)
        return (self.features,)

    def param_shapes(self, in_shape: tuple) -> dict:
        return {"w": (flat("Switch", in_shape), self.features, self.pieces), "b": (self.features, self.pieces),
                "kind": ()}

    def init(self, key, in_shape: tuple, dtype) -> dict:
        """He-initialised weights, zero biases, kind 0 (the search draws its own, per member)."""
        w = initializers.weights(key, (flat("Switch", in_shape), self.features, self.pieces), "he", dtype)
        return {"w": w, "b": jnp.zeros((self.features, self.pieces), dtype), "kind": jnp.zeros((), dtype)}

    def _is(self, params, k: int):
        return params["kind"] == jnp.asarray(k, params["kind"].dtype)

    def forward(self, params, a_prev, *, key=None, train=False):
        n_in, out, pieces = params["w"].shape
        z = add_bias(a_prev @ params["w"].reshape(n_in, out * pieces), params["b"].reshape(out * pieces))
        z = z.reshape(-1, out, pieces)
        winner = jnp.argmax(z, axis=-1)
        a = None
        for k, name in enumerate(self.kinds):
            if name == "maxout":
                value = jnp.take_along_axis(z, winner[..., None], axis=-1)[..., 0]
            else:
                value = activations.get(name).f(z[..., 0])
            a = value if a is None else jnp.where(self._is(params, k), value, a)
        return a, SwitchCache(a_prev, z, a, winner)

    def delta(self, cache: SwitchCache, g):
        """g passed through: ``backward`` applies the member's f'(z), since choosing it needs
        the parameter ``kind``, which only ``backward`` is given."""
        return g

    def backward(self, params, cache: SwitchCache, delta):
        """``delta`` here is ∂C/∂a (``delta`` below passes g through): the kind's f'(z) is
        applied here, where the parameter ``kind`` is at hand, then
        ``∂C/∂W = a_prevᵀ δ``, ``∂C/∂b = Σ_batch δ`` piece by piece, ``∂C/∂kind = 0``."""
        n_in, out, pieces = params["w"].shape
        g = delta
        first = jax.nn.one_hot(jnp.zeros_like(cache.winner), pieces, dtype=g.dtype)  # piece 0
        d = None
        for k, name in enumerate(self.kinds):
            if name == "maxout":
                value = jax.nn.one_hot(cache.winner, pieces, dtype=g.dtype) * g[..., None]
            else:
                value = first * activations.get(name).vjp(cache.z[..., 0], cache.a, g)[..., None]
            d = value if d is None else jnp.where(self._is(params, k), value, d)
        flat = d.reshape(-1, out * pieces)
        grads = {"w": (cache.a_prev.T @ flat).reshape(n_in, out, pieces), "b": jnp.sum(d, axis=0),
                 "kind": jnp.zeros_like(params["kind"])}
        return flat @ params["w"].reshape(n_in, out * pieces).T, grads



@dataclass(frozen=True)
class ConvSwitch:
    """A search's convolution block: ``z = a_prev ⋆ w + b`` as ``conv`` (a Conv1D or Conv2D
    with the identity activation) computes it, then ``a = f_k(z)`` for ``k =
    kinds[params["kind"]]`` (no maxout); the members' activations differ, their kernels'
    shapes do not. Backward: ``δ = f_k'(z) ⊙ g`` chosen with ``jnp.where``, then the
    convolution's own rules; ``∂C/∂kind = 0``."""

    conv: Any  # a Conv1D or Conv2D, activation "identity"
    kinds: tuple

    needs_key = False

    def out_shape(self, in_shape: tuple) -> tuple:
        return self.conv.out_shape(in_shape)

    def param_shapes(self, in_shape: tuple) -> dict:
        return {**self.conv.param_shapes(in_shape), "kind": ()}

    def init(self, key, in_shape: tuple, dtype) -> dict:
        """The convolution's own initial draw, kind 0 (the search draws its own, per member)."""
        return {**self.conv.init(key, in_shape, dtype), "kind": jnp.zeros((), dtype)}

    def forward(self, params, a_prev, *, key=None, train=False):
        z, cache = self.conv.forward(params, a_prev)
        a = None
        for k, name in enumerate(self.kinds):
            value = activations.get(name).f(z)
            a = value if a is None else jnp.where(params["kind"] == jnp.asarray(k, params["kind"].dtype), value, a)
        return a, (cache, a)

    def delta(self, cache, g):
        """g passed through: ``backward`` applies the member's f'(z) (it has ``kind``)."""
        return g

    def backward(self, params, cache, delta):
        (conv_cache, a), g, d = cache, delta, None
        for k, name in enumerate(self.kinds):
            value = activations.get(name).vjp(conv_cache.z, a, g)
            d = value if d is None else jnp.where(params["kind"] == jnp.asarray(k, params["kind"].dtype), value, d)
        g_prev, grads = self.conv.backward(params, conv_cache, d)
        return g_prev, {**grads, "kind": jnp.zeros_like(params["kind"])}


@dataclass(frozen=True)
class PoolSwitch:
    """A search's pooling: ``pools`` (a MaxPool and an AvgPool of one window, or more of
    one output shape), each member's own chosen by its parameter ``kind`` (an index,
    held still by the search's mask); every pooling's value is computed and the member's
    taken with ``jnp.where``, in the forward and the backward pass alike."""

    pools: tuple

    needs_key = False

    def out_shape(self, in_shape: tuple) -> tuple:
        shapes = {pool.out_shape(in_shape) for pool in self.pools}
        if len(shapes) != 1:
            raise ValueError(f"PoolSwitch: its poolings give different shapes {sorted(shapes)}")
        return shapes.pop()

    def param_shapes(self, in_shape: tuple) -> dict:
        self.out_shape(in_shape)
        return {"kind": ()}

    def init(self, key, in_shape: tuple, dtype) -> dict:
        return {"kind": jnp.zeros((), dtype)}

    def _is(self, params, k: int):
        return params["kind"] == jnp.asarray(k, params["kind"].dtype)

    def forward(self, params, a_prev, *, key=None, train=False):
        a, caches = None, []
        for k, pool in enumerate(self.pools):
            value, cache = pool.forward({}, a_prev)
            caches.append(cache)
            a = value if a is None else jnp.where(self._is(params, k), value, a)
        return a, tuple(caches)

    def delta(self, cache, g):
        return g

    def backward(self, params, cache, delta):
        g_prev = None
        for k, (pool, c) in enumerate(zip(self.pools, cache)):
            value, _ = pool.backward({}, c, pool.delta(c, delta))
            g_prev = value if g_prev is None else jnp.where(self._is(params, k), value, g_prev)
        return g_prev, {"kind": jnp.zeros_like(params["kind"])}

"""Pooling, channels last: MaxPool1D, AvgPool1D on (batch, length, channels) and
MaxPool2D, AvgPool2D on (batch, height, width, channels), each channel alone; no
parameters. Windows of ``window`` elements, ``stride`` apart (default: the window, so
they tile the input), no padding: an axis of length H gives ⌊(H − window) / stride⌋ + 1
outputs, and what is left over at its end is not read.

    max:      a[o] = max_{k in window(o)} a_prev[k]    δ goes to the chosen element
    average:  a[o] = mean_{k in window(o)} a_prev[k]   δ / |window| to every element

Ties in max pooling go to the first element of the window (row-major: the top row
first, each row from the left), in ``apply`` (so in ``jax.grad``) and in the
hand-written backward pass alike; where windows overlap, an element chosen by several
gets the sum of their δ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from fnnet.model.layers.conv import _ints


class PoolCache(NamedTuple):
    a_prev: jax.Array  # (batch, *spatial, channels): its shape, for the backward pass
    winner: jax.Array | None  # (batch, *out_spatial, channels) int: max pooling's chosen element


def _gather_index(spatial, window, stride, out):
    """Per axis, the input position of each (output, window offset): (out, window) ints."""
    return [jnp.arange(o)[:, None] * s + jnp.arange(k)[None, :] for o, k, s in zip(out, window, stride)]


@dataclass(frozen=True)
class Pooling:
    """A pooling over ``SPATIAL`` axes; the subclasses say how many and which reduction."""

    window: Any
    stride: Any = None

    SPATIAL = 0
    AXES = ""

    def __post_init__(self):
        kind, n = type(self).__name__, self.SPATIAL
        object.__setattr__(self, "window", _ints(kind, "window", self.window, n, 1))
        object.__setattr__(self, "stride", self.window if self.stride is None
                           else _ints(kind, "stride", self.stride, n, 1))

    needs_key = False

    def out_shape(self, in_shape: tuple) -> tuple:
        kind = type(self).__name__
        if len(in_shape) != self.SPATIAL + 1:
            raise ValueError(f"{kind} takes ({self.AXES}, channels) inputs, got {in_shape}")
        for h, k in zip(in_shape, self.window):
            if h < k:
                raise ValueError(f"{kind}: a window of {k} does not fit an axis of {h}: below one element")
        return (*((h - k) // s + 1 for h, k, s in zip(in_shape, self.window, self.stride)), in_shape[-1])

    def param_shapes(self, in_shape: tuple) -> dict:
        self.out_shape(in_shape)
        return {}

    def init(self, key, in_shape: tuple, dtype) -> dict:
        self.out_shape(in_shape)
        return {}

    def _windows(self, a):
        """``a`` (batch, *spatial, c) as (batch, *out, c, window elements), row-major."""
        n, spatial, c = a.shape[0], a.shape[1:-1], a.shape[-1]
        out = self.out_shape(a.shape[1:])[:-1]
        size = math.prod(self.window)
        if self.stride == self.window:  # tiles: a reshape, no gather
            a = a[(slice(None), *(slice(0, o * k) for o, k in zip(out, self.window)))]
            # One axis split per reshape: under a mesh with explicit axes (a batch split across
            # devices) JAX infers a reshape's output sharding only when it splits or merges one axis.
            for i, (o, k) in enumerate(zip(out, self.window)):
                a = a.reshape(*a.shape[:1 + 2 * i], o, k, *a.shape[2 + 2 * i:])
            # (n, o1, k1, o2, k2, c) -> (n, o1, o2, c, k1, k2)
            order = (0, *range(1, 2 * self.SPATIAL, 2), 2 * self.SPATIAL + 1, *range(2, 2 * self.SPATIAL + 1, 2))
            return a.transpose(order).reshape(n, *out, c, size)
        index = _gather_index(spatial, self.window, self.stride, out)
        if self.SPATIAL == 1:
            patches = a[:, index[0], :]  # (n, o, k, c)
        else:
            patches = a[:, index[0][:, None, :, None], index[1][None, :, None, :], :]  # (n, o1, o2, k1, k2, c)
        patches = jnp.moveaxis(patches, -1, 1 + self.SPATIAL)
        return patches.reshape(n, *out, c, size)

    def _unwindows(self, p, a_prev):
        """The adjoint of ``_windows``: (batch, *out, c, window) back onto a_prev's shape, the
        values of overlapping windows added."""
        n, spatial, c = a_prev.shape[0], a_prev.shape[1:-1], a_prev.shape[-1]
        out = p.shape[1:1 + self.SPATIAL]
        p = p.reshape(n, *out, c, *self.window)
        if self.stride == self.window:
            order = [0]
            for i in range(self.SPATIAL):
                order += [1 + i, 2 + self.SPATIAL + i]
            order.append(1 + self.SPATIAL)
            tiles = p.transpose(order)  # (n, o1, k1, o2, k2, c), merged one axis per reshape as above
            for i, (o, k) in enumerate(zip(out, self.window)):
                tiles = tiles.reshape(*tiles.shape[:1 + i], o * k, *tiles.shape[3 + i:])
            return jnp.pad(tiles, ((0, 0), *((0, h - o * k) for h, o, k in zip(spatial, out, self.window)), (0, 0)))
        p = jnp.moveaxis(p, 1 + self.SPATIAL, -1)  # (n, *out, *window, c)
        index = _gather_index(spatial, self.window, self.stride, out)
        zeros = jnp.zeros(a_prev.shape, p.dtype)
        if self.SPATIAL == 1:
            return zeros.at[:, index[0], :].add(p)
        return zeros.at[:, index[0][:, None, :, None], index[1][None, :, None, :], :].add(p)

    def delta(self, cache: PoolCache, g):
        # No activation: the backward rule routes g through the window.
        return g


class _Max:
    """Max pooling's rules: the first maximal element of each window is chosen."""

    def forward(self, params, a_prev, *, key=None, train=False):
        windows = self._windows(a_prev)
        winner = jnp.argmax(windows, axis=-1)
        a = jnp.take_along_axis(windows, winner[..., None], axis=-1)[..., 0]
        return a, PoolCache(a_prev, winner)

    def backward(self, params, cache: PoolCache, delta):
        chosen = jax.nn.one_hot(cache.winner, math.prod(self.window), dtype=delta.dtype) * delta[..., None]
        return self._unwindows(chosen, cache.a_prev), {}


class _Average:
    """Average pooling's rules: every element of a window counts 1 / |window|."""

    def forward(self, params, a_prev, *, key=None, train=False):
        return jnp.mean(self._windows(a_prev), axis=-1), PoolCache(a_prev, None)

    def backward(self, params, cache: PoolCache, delta):
        size = math.prod(self.window)
        spread = jnp.broadcast_to((delta / size)[..., None], delta.shape + (size,))
        return self._unwindows(spread, cache.a_prev), {}


@dataclass(frozen=True)
class MaxPool1D(_Max, Pooling):
    """``a[o, c] = max_{k < window} a_prev[o · stride + k, c]`` on (batch, length, channels);
    ``window``, ``stride`` (default: the window) ints. Ties to the first element."""

    SPATIAL = 1
    AXES = "length"


@dataclass(frozen=True)
class MaxPool2D(_Max, Pooling):
    """``a[o1, o2, c] = max`` over a ``window`` (an int or a (height, width) pair) of
    (batch, height, width, channels), ``stride`` apart (default: the window). Ties to the
    first element of the window, row-major."""

    SPATIAL = 2
    AXES = "height, width"


@dataclass(frozen=True)
class AvgPool1D(_Average, Pooling):
    """``a[o, c] = mean_{k < window} a_prev[o · stride + k, c]`` on (batch, length,
    channels); ``window``, ``stride`` (default: the window) ints."""

    SPATIAL = 1
    AXES = "length"


@dataclass(frozen=True)
class AvgPool2D(_Average, Pooling):
    """The mean over a ``window`` (an int or a (height, width) pair) of (batch, height,
    width, channels), ``stride`` apart (default: the window)."""

    SPATIAL = 2
    AXES = "height, width"

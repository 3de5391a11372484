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

Both rules work on the window's elements one offset k at a time, as views: when the
windows tile the input (the default stride), a reshape to (batch, o1, k1, o2, k2, c)
and element k is a plain index of it; otherwise the strided slice ``a_prev[k :: stride]``.
Their adjoints put δ back by the same reshape (a broadcast against the offsets), or by
zero pads with ``stride − 1`` zeros between values, summed where windows overlap: no
gather, no scatter-add (what an indexed formulation's gradient needs), no transpose. A
tiled max pooling's output is a sum over the window of the chosen element and −0.0
elsewhere: the same value, routed by jax.grad to the chosen element alone, and as a
reduction XLA writes it once, where an elementwise formulation is recomputed inside every
reader (a following convolution's patches read each output |kernel| times): 1.16-1.26×
faster whole updates of the CPU benchmark's conv nets. The one difference a sum makes: a
window whose first maximal element is −0.0 gives +0.0 (equal to it, as NumPy compares; a
sum starts from +0.0).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from fnnet.model.layers.conv import _ints


class PoolCache(NamedTuple):
    a_prev: jax.Array  # (batch, *spatial, channels): its shape, for the backward pass
    winner: jax.Array | None  # (batch, *out_spatial, channels) int32: max pooling's chosen offset, row-major


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

    @property
    def _tiled(self) -> bool:
        return self.stride == self.window

    def _offsets(self):
        """The window's element offsets, row-major (the order ties are decided in)."""
        return itertools.product(*(range(k) for k in self.window))

    def _offset_grid(self):
        """(1, 1, k1, [1, k2,] 1) int32: each tile position's offset number, row-major."""
        return jnp.arange(math.prod(self.window), dtype=jnp.int32).reshape(
            1, *(d for k in self.window for d in (1, k)), 1)

    def _tiles(self, a):
        """Tiling windows of a as (batch, o1, k1, [o2, k2,] c): what is left over at the
        ends cut, then one axis split per reshape (under a mesh with explicit axes JAX
        infers a reshape's sharding only when it splits or merges one axis)."""
        out = self.out_shape(a.shape[1:])[:-1]
        a = a[(slice(None), *(slice(0, o * k) for o, k in zip(out, self.window)), slice(None))]
        for i, (o, k) in enumerate(zip(out, self.window)):
            a = a.reshape(*a.shape[:1 + 2 * i], o, k, *a.shape[2 + 2 * i:])
        return a

    def _untile(self, g, a_prev):
        """The adjoint of ``_tiles``: (batch, o1, k1, [o2, k2,] c) back onto a_prev's shape,
        zeros where the windows did not reach."""
        out = g.shape[1:-1:2]
        for i in range(self.SPATIAL):
            g = g.reshape(*g.shape[:1 + i], g.shape[1 + i] * g.shape[2 + i], *g.shape[3 + i:])
        return jnp.pad(g, ((0, 0), *((0, h - o * k) for h, o, k in zip(a_prev.shape[1:-1], out, self.window)),
                           (0, 0)))

    def _spread(self, x):
        """(batch, *out, c) -> (batch, o1, 1, [o2, 1,] c), to broadcast against tiles."""
        return x.reshape(x.shape[0], *(d for o in x.shape[1:-1] for d in (o, 1)), x.shape[-1])

    def _elements(self, a):
        """Per window offset k (row-major), ``a_prev[o · stride + k]`` for every output o:
        a list of (batch, *out, c) views."""
        if self._tiled:
            tiles = self._tiles(a)
            return [tiles[(slice(None), *(i for j in k for i in (slice(None), j)), slice(None))]
                    for k in self._offsets()]
        out = self.out_shape(a.shape[1:])[:-1]
        return [lax.slice(a, (0, *k, 0), (a.shape[0], *(j + (o - 1) * s + 1 for j, o, s in zip(k, out, self.stride)),
                                          a.shape[-1]), (1, *self.stride, 1))
                for k in self._offsets()]

    def _place(self, parts, a_prev):
        """The adjoint of ``_elements`` for overlapping windows: each (batch, *out, c) part
        put back at its offset's positions of a zero array of a_prev's shape, overlapping
        windows' values added."""
        spatial = a_prev.shape[1:-1]
        total = None
        for k, part in zip(self._offsets(), parts):
            out = part.shape[1:-1]
            config = ((0, 0, 0), *((j, h - j - (o - 1) * s - 1, s - 1)
                                   for j, h, o, s in zip(k, spatial, out, self.stride)), (0, 0, 0))
            placed = lax.pad(part, jnp.zeros((), part.dtype), config)
            total = placed if total is None else total + placed
        return total

    def delta(self, cache: PoolCache, g):
        # No activation: the backward rule routes g through the window.
        return g


class _Max:
    """Max pooling's rules: the first maximal element of each window is chosen."""

    def forward(self, params, a_prev, *, key=None, train=False):
        elements = self._elements(a_prev)
        best, winner = elements[0], jnp.zeros(elements[0].shape, jnp.int32)
        for k, e in enumerate(elements[1:], 1):
            # Strictly greater, so a tie keeps the earlier element; the first NaN wins (as
            # in argmax, and np.max is NaN then): e wins unless e <= best or best is NaN.
            later = ~(e <= best) & (best == best)
            best, winner = jnp.where(later, e, best), jnp.where(later, k, winner)
        # a is the chosen element, selected, never a max of two, so jax.grad routes δ to it
        # alone (the gradient of a max splits it between ties).
        if self._tiled:  # x + (−0.0) is x: a sum over the window (see the module's docstring)
            chosen = self._spread(winner) == self._offset_grid()
            a = jnp.sum(jnp.where(chosen, self._tiles(a_prev), -0.0), axis=tuple(range(2, 2 * self.SPATIAL + 1, 2)))
        else:
            a = elements[0]
            for k, e in enumerate(elements[1:], 1):
                a = jnp.where(winner == k, e, a)
        return a, PoolCache(a_prev, winner)

    def backward(self, params, cache: PoolCache, delta):
        zero = jnp.zeros((), delta.dtype)
        if self._tiled:
            chosen = self._spread(cache.winner) == self._offset_grid()
            return self._untile(jnp.where(chosen, self._spread(delta), zero), cache.a_prev), {}
        parts = [jnp.where(cache.winner == k, delta, zero) for k in range(math.prod(self.window))]
        return self._place(parts, cache.a_prev), {}


class _Average:
    """Average pooling's rules: every element of a window counts 1 / |window|."""

    def forward(self, params, a_prev, *, key=None, train=False):
        # Summed in float32 at least, as jnp.mean sums bfloat16 and float16.
        dtype = jnp.float32 if jnp.finfo(a_prev.dtype).bits < 32 else a_prev.dtype
        if self._tiled:
            total = jnp.sum(self._tiles(a_prev).astype(dtype), axis=tuple(range(2, 2 * self.SPATIAL + 1, 2)))
        else:
            total = None
            for e in self._elements(a_prev):
                total = e.astype(dtype) if total is None else total + e.astype(dtype)
        return (total / math.prod(self.window)).astype(a_prev.dtype), PoolCache(a_prev, None)

    def backward(self, params, cache: PoolCache, delta):
        share = delta / math.prod(self.window)
        if self._tiled:
            shape = (delta.shape[0], *(d for o, k in zip(delta.shape[1:-1], self.window) for d in (o, k)),
                     delta.shape[-1])
            return self._untile(jnp.broadcast_to(self._spread(share), shape), cache.a_prev), {}
        return self._place([share] * math.prod(self.window), cache.a_prev), {}


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

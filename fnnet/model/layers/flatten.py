"""Flatten: one example's values in a row, ``(batch, *shape) -> (batch, prod(shape))``
(C order: channels fastest), so that Dense layers can follow convolutions; δ is
reshaped back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import jax


class FlattenCache(NamedTuple):
    a_prev: jax.Array  # (batch, *shape): its shape, for the backward pass


@dataclass(frozen=True)
class Flatten:
    """``a = a_prev.reshape(batch, -1)``; no parameters (its entry is ``{}``)."""

    needs_key = False

    def out_shape(self, in_shape: tuple) -> tuple:
        return (math.prod(in_shape),)

    def param_shapes(self, in_shape: tuple) -> dict:
        return {}

    def init(self, key, in_shape: tuple, dtype) -> dict:
        return {}

    def forward(self, params, a_prev, *, key=None, train=False):
        return a_prev.reshape(a_prev.shape[0], -1), FlattenCache(a_prev)

    def delta(self, cache: FlattenCache, g):
        return g

    def backward(self, params, cache: FlattenCache, delta):
        return delta.reshape(cache.a_prev.shape), {}

"""Dropout: units dropped with probability ``rate`` while training (inverted, or the
notes' rule); δ passes through the same mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import numpy as np


class DropoutCache(NamedTuple):
    # What a_prev was multiplied by: the (batch, *shape) mask while training, 1 - rate at test
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
        if isinstance(rate, jax.Array) and rate.shape == ():  # traced: Network.with_dropout
            return
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0 <= rate < 1):
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        if np.float32(rate) >= 1:  # the mask is drawn in float32 (or wider): every unit dropped
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}, which float32 rounds to 1.0")
        object.__setattr__(self, "rate", float(rate))

    @property
    def needs_key(self) -> bool:
        return not isinstance(self.rate, float) or self.rate > 0

    def out_shape(self, in_shape: tuple) -> tuple:
        return in_shape

    def param_shapes(self, in_shape: tuple) -> dict:
        return {}

    def init(self, key, in_shape: tuple, dtype) -> dict:
        return {}

    def forward(self, params, a_prev, *, key=None, train=False):
        if not self.needs_key or (not train and self.inverted):
            return a_prev, DropoutCache(None)
        rate = self.rate if isinstance(self.rate, float) else self.rate.astype(a_prev.dtype)
        if not train:  # the notes' rule: scaled at test time
            return a_prev * (1 - rate), DropoutCache(1 - rate)
        keep = jax.random.bernoulli(key, 1 - rate, a_prev.shape).astype(a_prev.dtype)
        scale = keep / (1 - rate) if self.inverted else keep
        return a_prev * scale, DropoutCache(scale)

    def delta(self, cache: DropoutCache, g):
        return g

    def backward(self, params, cache: DropoutCache, delta):
        return (delta if cache.scale is None else delta * cache.scale), {}

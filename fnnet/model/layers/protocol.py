"""The Layer protocol: what ``Network`` needs of a layer, and the checks of the fields
that the built-in layers share.

A layer is a frozen, hashable description. It never holds arrays; its parameters live
in the pytree entry that ``init`` returns. It maps a per-example input shape to its
output shape (``out_shape``), and each layer has a forward rule that also returns what
its backward rule needs (the cache) and a backward rule:

    delta = layer.delta(cache, g)                         # ∂C/∂z from g = ∂C/∂a
    g_prev, grads = layer.backward(params, cache, delta)  # δ Wᵀ, (a_prevᵀ δ, Σ δ)

Arrays are ``(batch, *shape)``: ``(batch, features)`` for Dense, ``(batch, height,
width, channels)`` for Conv2D; the network flattens any leading axes into the batch axis
and adds it for a single example.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax.numpy as jnp

from fnnet.model import initializers


@runtime_checkable
class Layer(Protocol):
    """What ``Network`` needs of a layer; any hashable object with these members is one
    (a frozen dataclass is the easy way: the network is a jit static argument). Shapes are
    per example, tuples: ``(features,)``, ``(length, channels)``, ``(height, width, channels)``.

    ``out_shape(in_shape) -> shape``: the shape the layer makes of its input's; a
    ValueError (one line) when the input does not fit (the network adds the layer's index).
    ``param_shapes(in_shape) -> {name: shape}``: the layer's entry in the params list.
    ``init(key, in_shape, dtype) -> {name: array}``: those arrays, freshly drawn.
    ``forward(params, a_prev, *, key=None, train=False) -> (a, cache)``: a_prev
    (batch, *in_shape) -> a (batch, *out_shape), and whatever the backward rule needs.
    ``delta(cache, g) -> delta``: ∂C/∂z from g = ∂C/∂a (the ``⊙ f'(z)`` step).
    ``backward(params, cache, delta) -> (g_prev, grads)``: ∂C/∂a_prev (batch, *in_shape)
    and ∂C/∂params (the entry's tree).
    ``needs_key``: forward draws random numbers in training mode (the network then folds
    a key for it).
    """

    needs_key: bool

    def out_shape(self, in_shape: tuple) -> tuple: ...

    def param_shapes(self, in_shape: tuple) -> dict: ...

    def init(self, key, in_shape: tuple, dtype) -> dict: ...

    def forward(self, params, a_prev, *, key=None, train=False) -> tuple[Any, Any]: ...

    def delta(self, cache, g): ...

    def backward(self, params, cache, delta) -> tuple[Any, dict]: ...


PROTOCOL_METHODS = ("param_shapes", "init", "forward", "delta", "backward", "out_shape")


def missing(layer: Any) -> list[str]:
    """The members of the Layer protocol that ``layer`` (a layer or a layer type) lacks
    (empty for a layer)."""
    absent = [m for m in PROTOCOL_METHODS if not callable(getattr(layer, m, None))]
    return absent + ([] if hasattr(layer, "needs_key") else ["needs_key"])


def flat(kind: str, in_shape: tuple) -> int:
    """The width of a flat input ``(features,)``; a ValueError for any other shape (an
    image before Flatten)."""
    if len(in_shape) != 1:
        raise ValueError(f"{kind} takes a flat input (features,), got {in_shape}; put Flatten() before it")
    return in_shape[0]


def check_features(kind: str, features: Any) -> None:
    """A ValueError unless ``features`` (a layer's width) is a positive int."""
    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise ValueError(f"{kind}: features must be a positive int, got {features!r}")


def check_fields(layer) -> None:
    """The fields every parameterised built-in has: ``w_init``, ``b_init``, ``use_bias``,
    and all of them hashable."""
    kind = type(layer).__name__
    initializers.check(kind, "w_init", layer.w_init)
    initializers.check(kind, "b_init", layer.b_init)
    if not isinstance(layer.use_bias, bool):
        raise ValueError(f"{kind}: use_bias must be True or False, got {layer.use_bias!r}")
    try:
        hash(layer)
    except TypeError as e:  # e.g. an initializer that is an unhashable object
        raise TypeError(f"{kind}: every field must be hashable (a network is a jit static argument): {e}") from None


def add_bias(z, b):
    """``z + b`` with b (z's last axis) broadcast over z's other axes (the batch, and a
    convolution's positions) in float32 or wider. The sum is z + b as it is, bit for bit;
    why: jax.grad sums ∂C/∂z over those axes for ∂C/∂b in the dtype of the broadcast, and a
    bfloat16 sum of a convolution's thousands of terms (mixed precision) loses the gradient
    to rounding (22% of a first convolution's, measured), where the hand-written δ rule's
    jnp.sum accumulates in float32."""
    wide = jnp.float32 if jnp.dtype(b.dtype).itemsize < 4 else b.dtype
    return z + jnp.broadcast_to(b.astype(wide), z.shape).astype(z.dtype)

"""Initial weights and biases: a name or any ``jax.nn.initializers`` callable.

A layer's ``w_init`` is "glorot" (Glorot/Xavier uniform), "he" (He normal), "lecun"
(LeCun normal), None (the layer's default: He for ReLU-like activations and maxout,
Glorot for the rest) or a callable ``(key, shape, dtype) -> array``; ``b_init`` is
"zeros" (also None, the default) or such a callable. A dense or maxout layer's callable
is handed the matrix view of the weight, ``(in, units)`` with ``units = out × pieces``
for maxout, and a bias of ``(units,)``, so its fan-in and fan-out are the layer's; the
draw is then reshaped to the layer's own shape. A convolution's kernel ``(k..., c_in,
features)`` is drawn in its own shape, fan-in ``prod(k) · c_in`` and fan-out ``prod(k) ·
features`` (``jax.nn.initializers``' default axes). Only names can be written to a
network's config.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.model import activations

W_NAMES = ("glorot", "he", "lecun")
B_NAMES = ("zeros",)

# fan_in = axis 0 and fan_out = axis 1 of the (in, units) view.
_W_SCHEMES = {
    "glorot": jax.nn.initializers.glorot_uniform(in_axis=0, out_axis=1),
    "he": jax.nn.initializers.he_normal(in_axis=0, out_axis=1),
    "lecun": jax.nn.initializers.lecun_normal(in_axis=0, out_axis=1),
}


# A kernel's fans by jax's default axes: in -2 (c_in), out -1 (features), the rest the
# receptive field.
_KERNEL_SCHEMES = {
    "glorot": jax.nn.initializers.glorot_uniform(),
    "he": jax.nn.initializers.he_normal(),
    "lecun": jax.nn.initializers.lecun_normal(),
}


def scheme(w_init, activation) -> Any:
    """The weights' scheme of a layer: ``w_init`` when given, else "he" for a ReLU-like
    activation and "glorot" for the others."""
    if w_init is not None:
        return w_init
    return "he" if isinstance(activation, str) and activation in activations.RELU_LIKE else "glorot"


def check(kind: str, field: str, spec: Any) -> None:
    """Raise a ValueError unless ``spec`` is None, one of the names for ``field``
    ("w_init" or "b_init"), or callable."""
    names = W_NAMES if field == "w_init" else B_NAMES
    if spec is None or callable(spec) or (isinstance(spec, str) and spec in names):
        return
    raise ValueError(f"{kind}: unknown {field} {spec!r}; expected one of {list(names)}, "
                     "a jax.nn.initializers callable (key, shape, dtype) or None")


def _draw(init, key, shape, dtype, field):
    units = math.prod(shape[1:]) if field == "w_init" else math.prod(shape)
    view = (shape[0], units) if field == "w_init" else (units,)
    value = init(key, view, dtype)
    if tuple(jnp.shape(value)) != view:
        raise ValueError(f"{field} {init!r} returned shape {tuple(jnp.shape(value))}, expected {view}")
    return jnp.asarray(value).astype(dtype).reshape(shape)


def weights(key, shape: tuple, spec, dtype):
    """w of ``shape`` = (in, out, *pieces) drawn by ``spec`` (a name or a callable) on the
    (in, out · pieces) view."""
    return _draw(_W_SCHEMES[spec] if isinstance(spec, str) else spec, key, shape, dtype, "w_init")


def kernel(key, shape: tuple, spec, dtype):
    """A convolution's kernel w of ``shape`` = (k..., c_in, features) drawn by ``spec`` (a
    name or a callable) in that shape: fan-in prod(k) · c_in, fan-out prod(k) · features."""
    init = _KERNEL_SCHEMES[spec] if isinstance(spec, str) else spec
    value = init(key, shape, dtype)
    if tuple(jnp.shape(value)) != tuple(shape):
        raise ValueError(f"w_init {init!r} returned shape {tuple(jnp.shape(value))}, expected {tuple(shape)}")
    return jnp.asarray(value).astype(dtype)


def biases(key, shape: tuple, spec, dtype):
    """b of ``shape`` (out,) or (out, pieces): zeros for None or "zeros", else drawn by the
    callable ``spec`` on the flat (out · pieces,) view."""
    if spec is None or isinstance(spec, str):
        return jnp.zeros(shape, dtype)
    return _draw(spec, key, shape, dtype, "b_init")


def bias_key(key):
    """The key a bias initializer draws with: folded from the layer's key, so the weights'
    draw (from the key itself, as before biases could be drawn) stays the same."""
    return jax.random.fold_in(key, 1)


# The standard deviation of a standard normal truncated to (-2, 2), as jax's he_normal uses.
_TRUNCATED_STD = 0.87962566103423978


def numpy_draw(rng, shape: tuple, scheme: str, fan_in: int, fan_out: int):
    """The law of ``scheme`` drawn on the host by a NumPy Generator (for many small draws
    that a compiled draw per shape would cost more than): "he" a normal truncated to ±2σ
    with variance 2 / fan_in (jax's ``he_normal``), "glorot" U(±√(6 / (fan_in + fan_out))).
    float64 NumPy of ``shape``."""
    if scheme == "he":
        z = rng.standard_normal(shape)
        while (outside := np.abs(z) >= 2).any():  # redraw: 4.6% of the first draw, then fewer
            z[outside] = rng.standard_normal(int(outside.sum()))
        return z * (np.sqrt(2 / fan_in) / _TRUNCATED_STD)
    if scheme == "glorot":
        return rng.uniform(-1, 1, shape) * np.sqrt(6 / (fan_in + fan_out))
    raise ValueError(f"numpy_draw: scheme must be 'he' or 'glorot', got {scheme!r}")

"""Data onto the device for training: shapes, dtypes, finiteness and label ranges
checked (on the device when the arrays are already there), then ``jnp`` arrays."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.data import features


def labels_or_targets(t, n: int, out_features: int, what: str = "data"):
    """``t`` checked against n examples and ``out_features`` outputs: integer labels
    (n,) in range, or finite float targets (n, out_features)."""
    t = np.asarray(t)
    if np.issubdtype(t.dtype, np.integer):
        if t.shape != (n,):
            raise ValueError(f"{what}: expected {n} integer labels, got shape {t.shape}")
        classes = 2 if out_features == 1 else out_features
        if t.size and (t.min() < 0 or t.max() >= classes):
            raise ValueError(f"{what}: labels must be in [0, {classes}) for {out_features} outputs, "
                             f"got values in [{t.min()}, {t.max()}]")
        return t.astype(np.int32)
    if t.shape != (n, out_features):
        raise ValueError(f"{what}: expected targets of shape ({n}, {out_features}) or {n} integer "
                         f"labels, got {t.dtype} of shape {t.shape}")
    if not np.issubdtype(t.dtype, np.number) or not np.all(np.isfinite(t)):
        raise ValueError(f"{what}: targets must be finite numbers")
    return t


def to_device(x, t, in_features: int, out_features: int, dtype, what: str = "data"):
    """Validated ``(x, t)`` as device arrays, x in ``dtype``, labels int32. Arrays already
    on the device are checked there and not copied to the host."""
    if np.ndim(x) >= 1 and np.shape(x)[0] == 0:
        raise ValueError(f"{what}: the data set is empty (0 examples)")
    if isinstance(x, jax.Array) and isinstance(t, jax.Array) and _clean_on_device(
            x, t, in_features, out_features, dtype):
        return x, t
    x = features(x, in_features, what)
    t = labels_or_targets(t, x.shape[0], out_features, what)
    t = jnp.asarray(t) if t.dtype == np.int32 else jnp.asarray(t, dtype)
    return jnp.asarray(x, dtype), t


def _clean_on_device(x, t, in_features, out_features, dtype) -> bool:
    """Whether device arrays need nothing done: the right shapes and dtypes, finite
    features, labels in range. False sends them through the host checks, which name
    what is wrong."""
    n = x.shape[0] if x.ndim == 2 else -1
    if x.ndim != 2 or x.shape[1] != in_features or x.dtype != jnp.dtype(dtype):
        return False
    if t.dtype == jnp.int32 and t.shape == (n,):
        classes = 2 if out_features == 1 else out_features
        return bool(_device_check(x, t, classes))
    if t.dtype == jnp.dtype(dtype) and t.shape == (n, out_features):
        return bool(_device_check(x, t, None))
    return False


@functools.partial(jax.jit, static_argnums=2)
def _device_check(x, t, classes):
    ok = jnp.all(jnp.isfinite(x))
    if classes is None:
        return ok & jnp.all(jnp.isfinite(t))
    return ok & (jnp.min(t, initial=0) >= 0) & (jnp.max(t, initial=0) < classes)


def is_classification(t) -> bool:
    """Integer labels, or float targets whose rows are one-hot."""
    if np.issubdtype(t.dtype, np.integer):  # no need to look at (or fetch) the values
        return True
    t = np.asarray(t)
    return t.ndim == 2 and bool(np.all((t == 0) | (t == 1))) and bool(np.all(t.sum(1) == 1))

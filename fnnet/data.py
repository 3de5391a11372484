"""Data: validation of arrays, seeded splits, standardisation, and data sets.

Everything here runs on the host (NumPy); ``to_device`` is the one step that puts a
validated data set on the device for training.
"""

from __future__ import annotations

import numpy as np
import jax.numpy as jnp


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


def features(x, in_features: int, what: str = "data"):
    """``x`` checked to be finite numbers of shape (n, in_features)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != in_features:
        raise ValueError(f"{what}: expected features of shape (n, {in_features}), got {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{what}: features must be numbers, got dtype {x.dtype}")
    finite = np.isfinite(x)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise ValueError(f"{what}: features must be finite; found {x[row, col]} at row {row}, column {col}")
    return x


def to_device(x, t, in_features: int, out_features: int, dtype, what: str = "data"):
    """Validated ``(x, t)`` as device arrays, x in ``dtype``, labels int32."""
    x = features(x, in_features, what)
    t = labels_or_targets(t, x.shape[0], out_features, what)
    t = jnp.asarray(t) if t.dtype == np.int32 else jnp.asarray(t, dtype)
    return jnp.asarray(x, dtype), t


def is_classification(t) -> bool:
    """Integer labels, or float targets whose rows are one-hot."""
    t = np.asarray(t)
    if np.issubdtype(t.dtype, np.integer):
        return True
    return t.ndim == 2 and bool(np.all((t == 0) | (t == 1))) and bool(np.all(t.sum(1) == 1))


def split(x, t, fraction: float, seed=0):
    """``(x_a, t_a), (x_b, t_b)``: a seeded random ``fraction`` of the examples goes to b."""
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise ValueError(f"split fraction must be in (0, 1), got {fraction!r}")
    x, t = np.asarray(x), np.asarray(t)
    n_b = int(round(len(x) * fraction))
    if n_b < 1 or n_b >= len(x):
        raise ValueError(f"a fraction of {fraction} of {len(x)} examples leaves one side empty")
    perm = np.random.default_rng(seed).permutation(len(x))
    a, b = perm[n_b:], perm[:n_b]
    return (x[a], t[a]), (x[b], t[b])


def xor():
    """The seed's second example: inputs (4, 2) and 0/1 labels (4,) of exclusive or."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    return x, np.array([0, 1, 1, 0], np.int32)

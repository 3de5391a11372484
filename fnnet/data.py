"""Data: bundled data sets, validation of arrays, labels, seeded splits, standardisation.

Everything here runs on the host (NumPy); ``to_device`` is the one step that puts a
validated data set on the device for training.

Bundled: ``xor``, ``worked_example`` and ``digits`` (scikit-learn's 8×8 digits, no
download). The user's own files are read by ``fnnet.loaders`` (``load``, ``load_idx`` /
``load_mnist``, ``load_svmlight``, ``load_npz``, ``load_csv``, ``DataError``), re-exported
here. Then ``encode_labels``, ``train_val_test_split`` and ``Standardizer`` (fitted on
the training split only).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import loaders
from fnnet.loaders import (DataError, load, load_csv, load_idx, load_mnist,  # noqa: F401 (re-exported)
                           load_npz, load_svmlight)


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


def xor():
    """The seed's second example: inputs (4, 2) and 0/1 labels (4,) of exclusive or."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    return x, np.array([0, 1, 1, 0], np.int32)


# --- Bundled data sets ---------------------------------------------------------------

def digits():
    """scikit-learn's bundled handwritten digits: x float32 (1797, 64) of raw 8×8 pixel
    values 0..16, y int32 (1797,) labels 0..9. Needs scikit-learn (no download)."""
    # Importing scikit-learn takes about 1.5 s; its bundled file can be read without it.
    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",", dtype=np.float32)
            if table.shape == (1797, 65):
                return np.ascontiguousarray(table[:, :64]), table[:, 64].astype(np.int32)
    x, y = loaders.sklearn_datasets("digits()").load_digits(return_X_y=True)
    return x.astype(np.float32), y.astype(np.int32)


def worked_example():
    """The seed's worked example: input x (1, 2) = [[0.05, 0.10]], target t (1, 2) =
    [[0.01, 0.99]], float32 (the figures of ``fnnet.worked_example``)."""
    return np.array([[0.05, 0.10]], np.float32), np.array([[0.01, 0.99]], np.float32)


def encode_labels(y):
    """Labels (n,) of any sortable values as ``(codes, classes)``: codes int32 (n,) in
    0..K-1 following the sorted unique values ``classes`` (K,), e.g. USPS's 1..10 ->
    0..9; ``classes[codes]`` gives the original labels back."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected labels of shape (n,), got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    return codes.reshape(-1).astype(np.int32), classes


# --- Standardisation and splits --------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Per-feature ``mean`` and ``std`` (float32 (features,)) to map x to zero mean and
    unit variance. Fit it on the training split only, then apply the same statistics to
    validation, test and new data, so nothing about them leaks into training."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x) -> Standardizer:
        """Statistics of x (n, features), n >= 1: a constant feature gets std 1, so it maps to 0."""
        x = np.asarray(x)
        x = features(x, x.shape[-1] if x.ndim else 0, "Standardizer.fit").astype(np.float64)
        if len(x) == 0:
            raise ValueError("Standardizer.fit: expected at least one example, got none")
        # Constant columns by their range, exactly, not by a rounded std near 0.
        std = np.where(x.max(0) == x.min(0), 1.0, x.std(0))
        return cls(x.mean(0).astype(np.float32), std.astype(np.float32))

    def apply(self, x):
        """``(x - mean) / std`` as float32, x (n, features)."""
        x = features(x, self.mean.shape[0], "Standardizer.apply")
        return ((x.astype(np.float32) - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        """``{"mean": [...], "std": [...]}`` of plain floats, for JSON."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d) -> Standardizer:
        """The inverse of ``to_dict``."""
        mean, std = np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32)
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ValueError(f"expected mean and std lists of one length, got shapes {mean.shape} and {std.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise ValueError("expected finite means and positive finite stds")
        return cls(mean, std)


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= value < 1:
        raise ValueError(f"{name} fraction must be a number in [0, 1), got {value!r}")
    return float(value)


def train_val_test_split(x, y, val=0.1, test=0.2, seed=0):
    """``(train, val, test)``, each ``(x, y)``: a seeded random permutation of the n
    examples split into fractions ``test`` and ``val`` (rounded) and the rest for training;
    the same seed gives the same split. A fraction of 0 gives ``None`` for that split."""
    val, test = _fraction("val", val), _fraction("test", test)
    if val + test >= 1:
        raise ValueError(f"val + test fractions must sum to less than 1, got {val} + {test} = {val + test}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    n = len(x)
    n_val, n_test = round(n * val), round(n * test)
    for name, frac, size in (("val", val, n_val), ("test", test, n_test)):
        if frac > 0 and size == 0:
            raise ValueError(f"a {name} fraction of {frac} of {n} examples leaves the {name} split empty")
    if n - n_val - n_test < 1:
        raise ValueError(f"fractions val={val}, test={test} of {n} examples leave no training examples")
    perm = np.random.default_rng(seed).permutation(n)
    test_i, val_i, train_i = np.split(perm, [n_test, n_test + n_val])
    return ((x[train_i], y[train_i]),
            (x[val_i], y[val_i]) if n_val else None,
            (x[test_i], y[test_i]) if n_test else None)

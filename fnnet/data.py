"""Data on the host (NumPy): the bundled data sets, feature checks, labels, seeded
splits, standardisation.

Bundled: ``xor`` and ``digits`` (scikit-learn's 8×8 digits, no download). The user's
own files are read by ``fnnet.loaders``; ``fnnet.training.device_data`` puts a checked
data set on the device for training. Here: ``encode_labels``, ``train_val_test_split`` and
``Standardizer`` (fitted on the training split only).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fnnet import loaders

#: The bundled data sets, by the names that ``fnnet train --data`` takes.
BUNDLED = ("digits", "xor")


def features(x, in_shape, what: str = "data"):
    """``x`` checked to be finite numbers of shape (n, *in_shape); ``in_shape`` a tuple (one
    example's shape) or an int (features)."""
    shape = (in_shape,) if isinstance(in_shape, (int, np.integer)) else tuple(in_shape)
    x = np.asarray(x)
    if x.shape[1:] != shape or x.ndim != len(shape) + 1:
        raise ValueError(f"{what}: expected features of shape (n, {', '.join(map(str, shape))}), got {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{what}: features must be numbers, got dtype {x.dtype}")
    finite = np.isfinite(x)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        at = (f"row {where[0]}, column {where[1]}" if len(where) == 2
              else f"example {where[0]}, position {where[1:]}")
        raise ValueError(f"{what}: features must be finite; found {x[where]} at {at}")
    return x


def xor():
    """The notes' second example: inputs (4, 2) and 0/1 labels (4,) of exclusive or."""
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


def motifs(n: int = 1500, *, length: int = 40, classes: int = 4, width: int = 7, noise: float = 1.0,
           seed: int = 0, shuffled: bool = False):
    """Signals with translated patterns, where the answer is known: x float32 (n, length, 1),
    y int32 (n,) in 0..classes-1. Class c has its own motif (``width`` values of ±1, fixed
    by ``classes`` and ``width`` alone), added at a uniformly random position to
    N(0, noise²) noise; every example's other positions are noise. A convolution (one
    detector slid over every position) needs to learn a motif once, a fully connected
    layer at every position. ``shuffled``: the positions of every example put through one
    fixed permutation (the same for all), which leaves a fully connected net's problem as
    it was (it has no notion of order) and takes the spatial order from a convolution."""
    if width > length:
        raise ValueError(f"motifs: width {width} is longer than the signals' length {length}")
    shapes = np.random.default_rng([classes, width]).choice([-1.0, 1.0], size=(classes, width))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n).astype(np.int32)
    x = rng.normal(0.0, noise, (n, length))
    start = rng.integers(0, length - width + 1, n)
    x[np.arange(n)[:, None], start[:, None] + np.arange(width)] += 2 * shapes[y]
    if shuffled:
        x = x[:, np.random.default_rng([length, 1]).permutation(length)]
    return x[..., None].astype(np.float32), y


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
        with np.errstate(over="ignore", invalid="ignore"):
            z = ((x.astype(np.float32) - self.mean) / self.std).astype(np.float32)
        if not np.isfinite(z).all() and np.isfinite(x).all():
            # x - mean of values near float32's largest (±3.4e38) overflows: in float64.
            z = ((x.astype(np.float64) - self.mean) / self.std).astype(np.float32)
        return z

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

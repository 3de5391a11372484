"""Loaders for the user's own data files: MNIST IDX (raw or gzipped), svmlight/libsvm
(e.g. USPS), ``.npz`` with ``x`` and ``y``, and CSV with a label column; and, for
prediction, feature-only files (``.npy``, ``.npz`` with ``x``, CSV).

Each data-set loader returns ``(x, y)`` as NumPy arrays: x float32 (n, features), y
int32 labels or float32 targets; ``load_features`` returns x alone. Every value comes
back finite and within float32's range, and n is never 0. A file that is not what it
claims raises ``DataError`` (``FormatError`` when its name does not say its format), a
missing one ``FileNotFoundError``. Messages read "path: what was expected, what was
found", with the line and column where the data came from a text file and the 0-based
index where it came from an array. Nothing is ever unpickled. scikit-learn (for
svmlight) is imported only when needed.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from fnnet.loaders.checks import (DataError, FormatError, check_arrangement, check_finite, empty, existing, numeric,
                                  squeezed)
from fnnet.loaders.checks import sklearn_datasets  # noqa: F401 (part of the API)
from fnnet.loaders.csv_files import csv_errors, csv_start, csv_table, load_csv, open_csv
from fnnet.loaders.idx import load_idx, load_mnist  # noqa: F401
from fnnet.loaders.numpy_files import load_npz, load_numpy
from fnnet.loaders.svmlight import load_svmlight

FORMATS = ("npz", "csv", "svmlight", "libsvm", "idx", "mnist")  # what load(format=...) accepts
FEATURE_FORMATS = ("npy", "npz", "csv")  # what load_features(format=...) accepts


# --- any format ------------------------------------------------------------------------

_SUFFIXES = {".npz": "npz", ".csv": "csv", ".svm": "svmlight", ".svmlight": "svmlight", ".libsvm": "svmlight",
             ".gz": "idx"}
_FEATURE_SUFFIXES = {".npy": "npy", ".npz": "npz", ".csv": "csv"}


def _unknown_suffix(p: Path, accepted, formats):
    suffix = p.suffix.lower()
    found = f"suffix {suffix!r}" if suffix else "no suffix"
    return FormatError(f"{p}: cannot tell the format from the name: expected {accepted}, found {found}; "
                       f"pass format= one of {', '.join(formats)}", p, suffix)


def _format_of(p: Path) -> str:
    if p.is_dir():
        return "mnist"
    if p.name.lower().endswith("ubyte"):
        return "idx"
    format = _SUFFIXES.get(p.suffix.lower())
    if format is None:
        accepted = f"a name ending in {', '.join(sorted(_SUFFIXES))} or -ubyte, or a directory (MNIST)"
        raise _unknown_suffix(p, accepted, FORMATS)
    return format


def _idx_labels_beside(images: Path) -> Path:
    for tag in ("images-idx3", "images.idx3"):
        if tag in images.name:
            return images.with_name(images.name.replace(tag, tag.replace("images", "labels").replace("3", "1")))
    raise DataError(f"{images}: expected an IDX images file named like '*-images-idx3-ubyte[.gz]' (its labels "
                    "file beside it named '*-labels-idx1-ubyte[.gz]') or a directory holding MNIST's files")


def load(path, format=None, label_column=None, *, header=None, keep_shape: bool = False, **kw):
    """``(x, y)`` from a file of any supported format, chosen by ``format`` (one of
    ``FORMATS``: "npz", "csv", "svmlight"/"libsvm", "idx"/"mnist") or else by the name:
    ``.npz``, ``.csv``, ``.svm``/``.svmlight``/``.libsvm``, ``.gz``/``-ubyte`` (an IDX
    images file, its labels file beside it) or a directory (MNIST); any other name is a
    ``FormatError``. ``kw`` goes to the loader. ``label_column`` and ``header`` are for
    CSV; the other formats keep labels apart and have no header, so they take only the
    defaults (None, or -1 for ``label_column``) and one call serves every format. With
    ``keep_shape``, x of an IDX or npz file keeps each example's stored shape (images
    (n, h, w) stay so); CSV and svmlight rows are flat whatever it says."""
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    p = existing(path, "file or directory")
    format = format or _format_of(p)
    if format == "csv":
        return load_csv(p, -1 if label_column is None else label_column, header, **kw)
    if label_column not in (None, -1):
        raise ValueError(f"label_column={label_column!r} applies to CSV files only; {p} is {format}, "
                         "whose labels are stored apart from the features")
    if header is not None:
        raise ValueError(f"header={header!r} applies to CSV files only; {p} is {format}")
    if format == "npz":
        return load_npz(p, keep_shape, **kw)
    if format in ("svmlight", "libsvm"):
        return load_svmlight(p, **kw)
    if p.is_dir():
        return load_mnist(p, keep_shape=keep_shape, **kw)
    return load_idx(p, _idx_labels_beside(p), keep_shape, **kw)


# --- features only (prediction) --------------------------------------------------------


def _features(n: int) -> str:
    return f"{n} feature{'s' * (n != 1)}"


def _feature_rows(x, path, in_features, name: str, in_shape=None):
    """Array ``x`` (features,), (n, features) or (n, ...) as float32 (n, features), n > 0,
    checked against ``in_features``; non-finite values are named by their 0-based index
    as ``name[i, j]``. With ``in_shape`` (one example's shape, channels last), an array of
    that shape is one example, and examples whose axes are in another order are refused."""
    shape = x.shape
    if x.ndim == 0:
        raise DataError(f"{path}: expected features of shape (n, features) or (features,), found a single "
                        f"number {x}")
    if in_shape is not None and len(in_shape) > 1 and x.ndim >= 2:
        if x.size == math.prod(in_shape) and math.prod(x.shape[1:]) != x.size:  # one example's values
            check_arrangement(path, x.shape, in_shape)
            if squeezed(x.shape) == squeezed(in_shape):
                x = x[None]  # one image, (8, 8) for an (8, 8, 1) network
        else:
            check_arrangement(path, x.shape[1:], in_shape)
    if x.ndim == 1:
        x = x[None, :]  # one example
    if x.size == 0 and (len(x) == 0 or len(shape) == 1):
        raise empty(path, f"{'x' if name == 'x' else 'the array'} has shape {shape}")
    width = int(np.prod(x.shape[1:]))
    if width == 0 or (in_features is not None and width != in_features):
        wanted = "at least 1 feature" if in_features is None else _features(in_features)
        raise DataError(f"{path}: expected {wanted} per row, found {width} (shape {shape})")
    check_finite(x if len(shape) > 1 else x[0], path, name)
    return x.reshape(len(x), width).astype(np.float32)


def load_features(path, in_features=None, *, format=None, header=None, in_shape=None):
    """Inputs to predict from, without labels: x float32 (n, features). ``format`` (one of
    ``FEATURE_FORMATS``) or else the suffix picks the reader: ``.npy`` (one array),
    ``.npz`` (its array ``x``), ``.csv`` (every column a feature; ``header`` as in
    ``load_csv``). A 1-D array is one example, (1, features); (n, h, w) images become rows
    of pixels. With ``in_features`` every row must have that many features; with
    ``in_shape`` (a network's example shape, channels last) an array of that shape (or
    without its axes of size 1, (8, 8) for (8, 8, 1)) is one example, and images whose
    axes hold its sizes in another order (channels first) are a DataError."""
    if format is not None and format not in FEATURE_FORMATS:
        raise ValueError(f"unknown feature format {format!r}; expected one of {', '.join(FEATURE_FORMATS)}")
    p = existing(path)
    if format is None:
        format = _FEATURE_SUFFIXES.get(p.suffix.lower())
        if format is None:
            raise _unknown_suffix(p, f"a name ending in {', '.join(sorted(_FEATURE_SUFFIXES))}", FEATURE_FORMATS)
    if format == "csv":
        with csv_errors(p) as readers, open_csv(p) as f:
            reader = csv.reader(f)
            readers.append(reader)
            names, width, pending = csv_start(reader, header, p)
            if in_features is not None and width != in_features:  # before the rows: fails fast
                line = pending[0][0] if pending else reader.line_num
                raise DataError(f"{p}: line {line}: expected {_features(in_features)} per row, found {width} columns")
            return csv_table(reader, names, width, pending, p).astype(np.float32)
    if header is not None:
        raise ValueError(f"header={header!r} applies to CSV files only; {p} is {format}")
    if format == "npy":
        return _feature_rows(numeric(load_numpy(p, "npy"), p), p, in_features, "array", in_shape)
    return _feature_rows(numeric(load_numpy(p, "npz", ("x",))["x"], p, "x"), p, in_features, "x", in_shape)

"""What every loader checks: the errors, files that exist, numbers that are finite and
within float32, data sets that are not empty, labels or targets with one row each."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np

_SKLEARN_HINT = 'pip install "fnnet[digits]" (or pip install scikit-learn)'



def sklearn_datasets(what: str):
    """``sklearn.datasets``, or an ImportError saying how to install scikit-learn."""
    # scikit-learn is an optional extra, so it is imported only when asked for.
    try:
        from sklearn import datasets
    except ImportError as e:
        raise ImportError(f"{what} needs scikit-learn, which is not installed: {_SKLEARN_HINT}") from e
    return datasets


class DataError(ValueError):
    """A file that is not what it claims to be: a truncated IDX file, a wrong magic
    number, a non-numeric or non-finite CSV cell, an npz archive without ``x`` and
    ``y``, an empty data set, ..."""


class FormatError(DataError):
    """A file whose name does not say its format (``path``, ``suffix``: the suffix found,
    "" for none). Passing ``format=`` explicitly avoids it."""

    def __init__(self, message: str, path, suffix: str):
        super().__init__(message)
        self.path, self.suffix = Path(path), suffix


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _is_stdin(st: os.stat_result) -> bool:
    """Whether ``st`` is the process's own standard input (``/dev/stdin``, a pipe into it)."""
    try:
        own = os.fstat(0)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def check_regular(path, error: type = ValueError) -> None:
    """An ``error`` naming ``path`` and what it is when it is neither a regular file nor a
    directory (a named pipe with no writer would hang ``open``, ``/dev/zero`` would fill
    memory) or is a loop of symbolic links; checked before it is opened. The process's own
    standard input is accepted whatever it is. A missing path is left to the caller. Every
    data file (``existing``), JSON file (``fnnet.runs.files.read_json``) and checkpoint
    (``fnnet.storage.checkpoint``) is checked here."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"{path}: expected a file, found a loop of symbolic links") from None
        return
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or _is_stdin(st):
        return
    found = next((what for test, what in _SPECIAL if test(st.st_mode)), "something other than a file")
    raise error(f"{path}: expected a regular file, found {found}")


def existing(path, what: str = "file") -> Path:
    """``path`` as a Path if it exists and is a regular file or a directory (or the
    process's standard input); a FIFO, a device, a socket or a loop of symbolic links is
    a DataError before anything opens it."""
    p = Path(path)
    check_regular(p, DataError)
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, f"no such {what}", str(p))
    return p


def empty(path, why: str):
    return DataError(f"{path}: the data set is empty ({why})")


_INT32 = np.iinfo(np.int32)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def first_bad(a):
    """The index (a tuple) of the first value of ``a`` that is not finite once cast to
    float32, in row-major order, or None when every one is."""
    if a.dtype.kind != "f":
        return None  # integers and booleans always fit in float32
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(a.astype(np.float32))
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def finite_expected(value) -> str:
    # A finite float64 that overflows float32 would come back as inf: say why it is refused.
    if np.isfinite(float(value)):
        return f"expected a number within float32's range (about ±{_FLOAT32_MAX:.1e})"
    return "expected a finite number"


def _index_words(index) -> str:
    if len(index) == 2:
        return f"0-based row {index[0]}, column {index[1]}"
    return "0-based index"


def check_finite(a, path, name: str):
    """Refuse the first value of array ``a`` that is not finite in float32, naming it as
    ``name[i, j]`` with its 0-based index."""
    index = first_bad(a)
    if index is not None:
        where = f"{name}[{', '.join(map(str, index))}] ({_index_words(index)})"
        raise DataError(f"{path}: {where}: {finite_expected(a[index])}, found {a[index]}")


_KINDS = {"U": "strings", "S": "byte strings", "O": "Python objects", "c": "complex numbers",
          "V": "a structured array", "M": "dates", "m": "time spans"}


def numeric(a, path, name=None):
    """``a`` if it holds real numbers (bool, integer, float), else a DataError: strings,
    complex numbers (whose imaginary part a cast would drop), records, dates."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        found = _KINDS.get(a.dtype.kind, "something else")
        of = f" for {name!r}" if name else ""
        raise DataError(f"{path}: expected a NumPy array of numbers{of}, found {found} (dtype {a.dtype})")
    return a


def labels_from_floats(v):
    """A label column parsed as float64 (n,): int32 labels (n,) when every value is an
    integer that fits, else float32 targets (n, 1), one output per example."""
    v = np.asarray(v, np.float64)
    if (np.all(np.isfinite(v)) and np.all(v == np.round(v))
            and (v.size == 0 or (v.min() >= _INT32.min and v.max() <= _INT32.max))):
        return v.astype(np.int32)
    return v.astype(np.float32).reshape(-1, 1)


def squeezed(shape) -> tuple:
    """``shape`` without its axes of size 1."""
    return tuple(n for n in shape if n != 1)


def reordered(stored, shape) -> bool:
    """Whether examples stored in ``stored`` hold the sizes of ``shape`` in another order
    (``(3, 8, 8)`` for ``(8, 8, 3)``), which a reshape would scramble; adding or dropping
    axes of size 1 is no reorder (``(1, 8, 8)`` holds ``(8, 8, 1)`` exactly)."""
    a, b = squeezed(stored), squeezed(shape)
    return a != b and sorted(a) == sorted(b)


def arrangement_hint(stored, shape) -> str:
    """How to turn examples stored in ``stored`` into ``shape`` (channels last)."""
    stored, shape = tuple(stored), tuple(shape)
    if len(stored) == len(shape) >= 2 and stored == (shape[-1], *shape[:-1]):
        return "channels come last in fnnet: x = np.moveaxis(x, 1, -1)"
    return f"transpose x's axes so that each example is {shape}"


def check_arrangement(path, stored, shape) -> None:
    """A DataError when examples stored in ``stored`` hold ``shape``'s sizes in another
    order (a reshape would scramble them: channels first for channels last)."""
    if reordered(stored, shape):
        raise DataError(f"{path}: expected examples of shape {tuple(shape)}, found {tuple(stored)}: the same sizes "
                        f"in another order, which a reshape would scramble; {arrangement_hint(stored, shape)}")


def checked(x, y, path, keep_shape: bool = False):
    """``(x, y)`` as the loaders return them: x float32 (n, features) (or, with
    ``keep_shape``, (n, ...) as stored: images stay images), y int32 labels or float32
    targets with n rows, n > 0, every value finite; anything else is a DataError naming
    ``path``."""
    x, y = numeric(x, path, "x"), numeric(y, path, "y")
    if x.ndim < 2:
        raise DataError(f"{path}: expected features x of shape (n, features), found shape {x.shape}")
    if y.ndim not in (1, 2) or len(y) != len(x):
        raise DataError(f"{path}: expected y with {len(x)} rows (one per example of x), found shape {y.shape}")
    if len(x) == 0:
        raise empty(path, "x has 0 rows")
    if x[0].size == 0:
        raise DataError(f"{path}: expected at least 1 feature per row, found x of shape {x.shape}")
    check_finite(x, path, "x")
    check_finite(y, path, "y")
    if y.dtype.kind in "biu":
        if y.min() < _INT32.min or y.max() > _INT32.max:
            raise DataError(f"{path}: expected labels that fit in int32, found values in [{y.min()}, {y.max()}]")
        y = y.astype(np.int32)
    else:
        y = y.astype(np.float32)
    if not keep_shape:
        x = x.reshape(len(x), -1)  # images (n, h, w) become rows of pixels
    return x.astype(np.float32), y

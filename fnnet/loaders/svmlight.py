"""svmlight/libsvm text files (how USPS, the notes' 16×16 digits, is distributed)."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np

from fnnet.loaders.checks import (DataError, check_finite, checked, empty, existing, finite_expected,
                                  first_bad, labels_from_floats, sklearn_datasets)


# --- svmlight / libsvm -----------------------------------------------------------------


def _svmlight_line(path: Path, row: int):
    """(line number, tokens) of example ``row`` (0-based) of an svmlight file, counting
    lines the way scikit-learn's parser does: text after '#' is a comment and lines left
    blank hold no example. None if the file has fewer examples."""
    name = str(path)
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    with opener(path, "rb") as f:
        seen = -1
        for number, line in enumerate(f, 1):
            tokens = line.split(b"#", 1)[0].split()
            if tokens:
                seen += 1
                if seen == row:
                    return number, [t.decode("utf-8", "replace") for t in tokens]
    return None


def _bad_number(text: str) -> bool:
    try:
        return first_bad(np.array([float(text)])) is not None
    except ValueError:
        return False


def _check_svmlight_finite(path: Path, x, y):
    """Refuse the first value of an svmlight file that is not finite in float32, naming
    its line and the label or the feature index as written there."""
    rows = [i[0] for i in (first_bad(x), first_bad(y)) if i is not None]
    if not rows:
        return
    found = _svmlight_line(path, min(rows))
    if found is not None:
        number, tokens = found
        if _bad_number(tokens[0]):
            raise DataError(f"{path}: line {number}, the label: {finite_expected(float(tokens[0]))}, "
                            f"found {tokens[0]!r}")
        for token in tokens[1:]:
            index, _, value = token.partition(":")
            if index != "qid" and _bad_number(value):
                raise DataError(f"{path}: line {number}, feature {index}: {finite_expected(float(value))}, "
                                f"found {value!r}")
    # Not found again in the text (it should be): name the value by its index instead.
    check_finite(x, path, "x")
    check_finite(y, path, "y")


_MAX_DENSE_CELLS = 2**30  # 4 GiB of float32


def load_svmlight(path, n_features=None, *, zero_based="auto"):
    """An svmlight/libsvm text file (e.g. USPS, 256 inputs, labels 1..10): dense x float32
    (n, features) and y int32 (n,) when every label is an integer, else float32 (n, 1).
    ``zero_based="auto"`` takes the file as 1-based (libsvm's convention) unless it uses
    feature index 0. Needs scikit-learn."""
    p = existing(path)
    datasets = sklearn_datasets("load_svmlight()")
    try:
        x, y = datasets.load_svmlight_file(str(p), n_features=n_features, zero_based=zero_based)
    except ValueError as e:
        raise DataError(f"{p}: expected svmlight/libsvm lines 'label index:value ...', found: {e}") from e
    if x.shape[0] == 0:
        raise empty(p, "no lines of data")
    cells = x.shape[0] * x.shape[1]
    if cells > _MAX_DENSE_CELLS:
        # A stray feature index (say 100000000) would ask for tens of GiB of zeros.
        raise DataError(f"{p}: the largest feature index, {x.shape[1]}, makes {x.shape[0]} x {x.shape[1]} = "
                        f"{cells:,} dense values ({cells * 4 / 2**30:.1f} GiB); expected at most "
                        f"{_MAX_DENSE_CELLS:,} (is an index wrong?)")
    x = x.toarray()
    _check_svmlight_finite(p, x, y)  # before a non-finite label turns the labels into targets
    return checked(x, labels_from_floats(y), p)

"""Loaders for the user's own data files: MNIST IDX (raw or gzipped), svmlight/libsvm
(e.g. USPS), ``.npz`` with ``x`` and ``y``, and CSV with a label column.

Each returns ``(x, y)`` as NumPy arrays: x float32 (n, features), y int32 labels or
float32 targets. A file that is not what it claims raises ``DataError``, a missing one
``FileNotFoundError``; every message names what was expected and what was found.
scikit-learn (for svmlight) is imported only when needed.
"""

from __future__ import annotations

import csv
import errno
import gzip
import zipfile
import zlib
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
    number, a non-numeric CSV cell, an npz archive without ``x`` and ``y``, ..."""


def _existing(path, what: str = "file") -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, f"no such {what}", str(p))
    return p


_INT32 = np.iinfo(np.int32)


def _labels_from_floats(v):
    """A label column parsed as float64 (n,): int32 labels (n,) when every value is an
    integer that fits, else float32 targets (n, 1), one output per example."""
    v = np.asarray(v, np.float64)
    if (np.all(np.isfinite(v)) and np.all(v == np.round(v))
            and (v.size == 0 or (v.min() >= _INT32.min and v.max() <= _INT32.max))):
        return v.astype(np.int32)
    return v.astype(np.float32).reshape(-1, 1)


def _checked(x, y, path):
    """``(x, y)`` as the loaders return them: x float32 (n, features), y int32 labels or
    float32 targets with n rows; anything else is a DataError naming ``path``."""
    x, y = np.asarray(x), np.asarray(y)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_):
        raise DataError(f"{path}: expected numeric features x, found dtype {x.dtype}")
    if x.ndim < 2:
        raise DataError(f"{path}: expected features x of shape (n, features), found shape {x.shape}")
    x = x.reshape(len(x), int(np.prod(x.shape[1:])))  # images (n, h, w) become rows of pixels
    if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        if y.size and (y.min() < _INT32.min or y.max() > _INT32.max):
            raise DataError(f"{path}: expected labels that fit in int32, found values in [{y.min()}, {y.max()}]")
        y = y.astype(np.int32)
    elif np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float32)
    else:
        raise DataError(f"{path}: expected integer labels or float targets y, found dtype {y.dtype}")
    if y.ndim not in (1, 2) or len(y) != len(x):
        raise DataError(f"{path}: expected y with {len(x)} rows (one per example of x), found shape {y.shape}")
    return x.astype(np.float32), y


# IDX (MNIST): a big-endian header, magic = 0x0000 | type code | number of dimensions,
# then one int32 per dimension, then the data; 0x08 is unsigned bytes.
_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801


def _read_bytes(path) -> bytes:
    p = _existing(path)
    with open(p, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":  # gzip's magic number, whatever the file is called
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{p}: expected a complete gzip file, found a damaged one ({e})") from e


def _read_idx(path, magic: int, what: str):
    raw = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < 4:
        raise DataError(f"{path}: expected an IDX {what} file of at least {header} header bytes, "
                        f"found {len(raw)} bytes")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{path}: expected IDX {what} magic number {magic} (0x{magic:08X}: unsigned bytes, "
                        f"{ndim} dimension{'s' * (ndim > 1)}), found {found} (0x{found:08X})")
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header: expected {header} bytes, found {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    if min(shape) < 0:
        raise DataError(f"{path}: expected non-negative IDX dimensions, found {shape}")
    expected, came = int(np.prod(shape)), len(raw) - header
    if came != expected:
        kind = "truncated" if came < expected else "too long"
        raise DataError(f"{path}: {kind}: the IDX header promises {shape} = {expected} bytes of data, "
                        f"found {came}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_idx(images_path, labels_path):
    """MNIST-style IDX files, raw or gzipped: x float32 (n, rows*cols) of pixel values
    0..255 (unscaled) and y int32 (n,) labels."""
    images = _read_idx(images_path, _IDX_IMAGES, "images")
    labels = _read_idx(labels_path, _IDX_LABELS, "labels")
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
                        "expected one label per image")
    return _checked(images, labels, images_path)


def _mnist_names(prefix: str, kind: str, ndim: int):
    # The official names use "-idx3-"; some mirrors use ".idx3-".
    return [f"{prefix}-{kind}{sep}idx{ndim}-ubyte{gz}" for sep in ("-", ".") for gz in ("", ".gz")]


def load_mnist(directory, split: str = "train"):
    """MNIST from a directory holding ``train-images-idx3-ubyte[.gz]`` and
    ``train-labels-idx1-ubyte[.gz]`` (``t10k-...`` for ``split="test"``): x float32
    (n, 784) of pixel values 0..255, y int32 (n,)."""
    prefixes = {"train": "train", "test": "t10k"}
    if split not in prefixes:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = _existing(directory, "directory")
    if not d.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "expected a directory holding MNIST's IDX files", str(d))
    found = []
    for kind, ndim in (("images", 3), ("labels", 1)):
        names = _mnist_names(prefixes[split], kind, ndim)
        path = next((d / n for n in names if (d / n).is_file()), None)
        if path is None:
            raise FileNotFoundError(errno.ENOENT, f"no MNIST {split} {kind} file; looked for {', '.join(names)} in",
                                    str(d))
        found.append(path)
    return load_idx(*found)


def load_svmlight(path, n_features=None, *, zero_based="auto"):
    """An svmlight/libsvm text file (e.g. USPS, 256 inputs, labels 1..10): dense x float32
    (n, features) and y int32 (n,) when every label is an integer, else float32 (n, 1).
    ``zero_based="auto"`` takes the file as 1-based (libsvm's convention) unless it uses
    feature index 0. Needs scikit-learn."""
    p = _existing(path)
    datasets = sklearn_datasets("load_svmlight()")
    try:
        x, y = datasets.load_svmlight_file(str(p), n_features=n_features, zero_based=zero_based)
    except ValueError as e:
        raise DataError(f"{p}: expected svmlight/libsvm lines 'label index:value ...', found: {e}") from e
    return _checked(x.toarray(), _labels_from_floats(y), p)


def load_npz(path):
    """An ``.npz`` archive with arrays ``x`` (n, ...) and ``y`` (n,) or (n, k): x float32
    (n, features), y int32 labels or float32 targets. Object arrays are refused (never
    unpickled)."""
    p = _existing(path)
    try:
        archive = np.load(p, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as e:
        # NumPy takes what is neither npz nor npy for a pickle; that is never loaded.
        raise DataError(f"{p}: expected an .npz archive with arrays x and y, found a file that is not one "
                        "(pickles are never loaded)") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{p}: expected an .npz archive with arrays x and y, found a single .npy array")
    with archive:
        missing = [k for k in ("x", "y") if k not in archive.files]
        if missing:
            raise DataError(f"{p}: expected arrays 'x' and 'y', found {sorted(archive.files)} "
                            f"(missing {', '.join(map(repr, missing))})")
        try:
            x, y = archive["x"], archive["y"]
        except ValueError as e:
            if "allow_pickle" in str(e):
                raise DataError(f"{p}: expected numeric arrays x and y, found an object array; "
                                "refusing to unpickle it") from e
            raise DataError(f"{p}: expected readable arrays x and y, found a damaged one ({e})") from e
        except (EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise DataError(f"{p}: expected readable arrays x and y, found a damaged archive ({e})") from e
    return _checked(x, y, p)


_CSV_BLOCK = 4096  # rows converted at once: NumPy's fast parse without holding every cell as a str


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _floats(block, lines, names, path):
    try:
        return np.array(block, np.float64)
    except ValueError:
        pass
    for row, line in zip(block, lines):  # slow path, only to say where the bad cell is
        for j, cell in enumerate(row):
            if not _is_number(cell):
                name = f" ({names[j]!r})" if names else ""
                raise DataError(f"{path}: line {line}, column {j + 1}{name}: expected a number, found {cell!r}")
    return np.array([[float(c) for c in row] for row in block], np.float64)


def load_csv(path, label_column=-1, header=None, *, delimiter=","):
    """A UTF-8 CSV file of numbers with one label column: x float32 (n, columns - 1), y
    int32 (n,) when every label is an integer, else float32 (n, 1). ``label_column`` is
    an index or, with a header, a column name. ``header=None`` takes the first row as a
    header when none of its cells is a number, as data when all are, and asks for
    ``header=True``/``False`` when it mixes the two."""
    p = _existing(path)
    # utf-8-sig: a spreadsheet's byte-order mark would otherwise stick to the first cell.
    with open(p, newline="", encoding="utf-8-sig") as f:
        try:
            table, label = _read_csv(csv.reader(f, delimiter=delimiter), label_column, header, p)
        except (UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"{p}: expected UTF-8 CSV text, found something else ({e})") from e
    x = np.delete(table, label, axis=1)
    return _checked(x, _labels_from_floats(table[:, label]), p)


def _read_csv(reader, label_column, header, p):
    """The table float64 (n, columns) and the label column's index."""
    first = next((r for r in reader if r), None)
    if first is None:
        raise DataError(f"{p}: expected CSV rows of numbers, found an empty file")
    first_line = reader.line_num
    numeric = [_is_number(c) for c in first]
    if header is None:
        if any(numeric) and not all(numeric):
            raise DataError(f"{p}: line {first_line} mixes numbers and text, so it is unclear whether it is "
                            "a header; pass header=True or header=False")
        header = not any(numeric)
    names = [c.strip() for c in first] if header else None
    width = len(first)
    if width < 2:
        raise DataError(f"{p}: expected at least 2 columns (features and a label), found {width}")
    if isinstance(label_column, str):
        if names is None:
            raise ValueError(f"label_column={label_column!r} is a name, but {p} has no header; "
                             "pass header=True or an integer index")
        if label_column not in names:
            raise DataError(f"{p}: expected a column named {label_column!r}, found columns {names}")
        label = names.index(label_column)
    elif isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        if not -width <= label_column < width:
            raise ValueError(f"label_column={label_column} is out of range for {p}'s {width} columns")
        label = int(label_column) % width
    else:
        raise TypeError(f"label_column must be an int index or a column name, got {label_column!r}")

    blocks, block, lines = [], [] if header else [first], [] if header else [first_line]
    for row in reader:
        if not row:
            continue
        if len(row) != width:
            raise DataError(f"{p}: line {reader.line_num}: expected {width} columns, found {len(row)}")
        block.append(row)
        lines.append(reader.line_num)
        if len(block) == _CSV_BLOCK:
            blocks.append(_floats(block, lines, names, p))
            block, lines = [], []
    if block:
        blocks.append(_floats(block, lines, names, p))
    if not blocks:
        raise DataError(f"{p}: expected rows of numbers after the header, found none")
    return np.concatenate(blocks), label


_SUFFIXES = {".npz": "npz", ".csv": "csv", ".svm": "svmlight", ".svmlight": "svmlight", ".libsvm": "svmlight",
             ".gz": "idx"}
_FORMATS = ("npz", "csv", "svmlight", "libsvm", "idx", "mnist")


def _idx_labels_beside(images: Path) -> Path:
    for tag in ("images-idx3", "images.idx3"):
        if tag in images.name:
            return images.with_name(images.name.replace(tag, tag.replace("images", "labels").replace("3", "1")))
    raise DataError(f"{images}: expected an IDX images file named like '*-images-idx3-ubyte[.gz]' so that its "
                    "labels file can be found beside it; call load_idx(images_path, labels_path) instead")


def load(path, format=None, label_column=None, **kw):
    """``(x, y)`` from a file of any supported format, chosen by ``format`` ("npz",
    "csv", "svmlight"/"libsvm", "idx"/"mnist") or else by the name: ``.npz``, ``.csv``,
    ``.svm``/``.svmlight``/``.libsvm``, ``.gz``/``-ubyte`` (an IDX images file, its
    labels file beside it) or a directory (MNIST). ``kw`` goes to the loader.
    ``label_column`` is for CSV; the other formats keep labels apart and take only its
    default (None or -1), so one call serves every format."""
    p = _existing(path, "file or directory")
    if format is None:
        name = p.name.lower()
        if p.is_dir():
            format = "mnist"
        elif name.endswith("ubyte"):
            format = "idx"
        else:
            format = _SUFFIXES.get(p.suffix.lower())
        if format is None:
            raise ValueError(f"{p}: cannot tell the format from the name; expected one of "
                             f"{', '.join(sorted(_SUFFIXES))}, '-ubyte' or a directory, "
                             f"found {p.suffix or 'no suffix'!r}. Pass format= one of {', '.join(_FORMATS)}")
    if format == "csv":
        return load_csv(p, -1 if label_column is None else label_column, **kw)
    if format in _FORMATS and label_column not in (None, -1):
        raise ValueError(f"label_column={label_column!r} applies to CSV files only; {p} is {format}, "
                         "whose labels are stored apart from the features")
    if format == "npz":
        return load_npz(p, **kw)
    if format in ("svmlight", "libsvm"):
        return load_svmlight(p, **kw)
    if format in ("idx", "mnist"):
        return load_mnist(p, **kw) if p.is_dir() else load_idx(p, _idx_labels_beside(p), **kw)
    raise ValueError(f"unknown format {format!r}; expected one of {', '.join(_FORMATS)}")

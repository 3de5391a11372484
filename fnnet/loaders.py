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

import bz2
import contextlib
import csv
import errno
import gzip
import zipfile
import zlib
from pathlib import Path

import numpy as np

_SKLEARN_HINT = 'pip install "fnnet[digits]" (or pip install scikit-learn)'

FORMATS = ("npz", "csv", "svmlight", "libsvm", "idx", "mnist")  # what load(format=...) accepts
FEATURE_FORMATS = ("npy", "npz", "csv")  # what load_features(format=...) accepts


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


def _existing(path, what: str = "file") -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(errno.ENOENT, f"no such {what}", str(p))
    return p


def _empty(path, why: str):
    return DataError(f"{path}: the data set is empty ({why})")


_INT32 = np.iinfo(np.int32)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _first_bad(a):
    """The index (a tuple) of the first value of ``a`` that is not finite once cast to
    float32, in row-major order, or None when every one is."""
    if a.dtype.kind != "f":
        return None  # integers and booleans always fit in float32
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(a.astype(np.float32))
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def _finite_expected(value) -> str:
    # A finite float64 that overflows float32 would come back as inf: say why it is refused.
    if np.isfinite(float(value)):
        return f"expected a number within float32's range (about ±{_FLOAT32_MAX:.1e})"
    return "expected a finite number"


def _index_words(index) -> str:
    if len(index) == 2:
        return f"0-based row {index[0]}, column {index[1]}"
    return "0-based index"


def _check_finite(a, path, name: str):
    """Refuse the first value of array ``a`` that is not finite in float32, naming it as
    ``name[i, j]`` with its 0-based index."""
    index = _first_bad(a)
    if index is not None:
        where = f"{name}[{', '.join(map(str, index))}] ({_index_words(index)})"
        raise DataError(f"{path}: {where}: {_finite_expected(a[index])}, found {a[index]}")


_KINDS = {"U": "strings", "S": "byte strings", "O": "Python objects", "c": "complex numbers",
          "V": "a structured array", "M": "dates", "m": "time spans"}


def _numeric(a, path, name=None):
    """``a`` if it holds real numbers (bool, integer, float), else a DataError: strings,
    complex numbers (whose imaginary part a cast would drop), records, dates."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        found = _KINDS.get(a.dtype.kind, "something else")
        of = f" for {name!r}" if name else ""
        raise DataError(f"{path}: expected a NumPy array of numbers{of}, found {found} (dtype {a.dtype})")
    return a


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
    float32 targets with n rows, n > 0, every value finite; anything else is a DataError
    naming ``path``."""
    x, y = _numeric(x, path, "x"), _numeric(y, path, "y")
    if x.ndim < 2:
        raise DataError(f"{path}: expected features x of shape (n, features), found shape {x.shape}")
    if y.ndim not in (1, 2) or len(y) != len(x):
        raise DataError(f"{path}: expected y with {len(x)} rows (one per example of x), found shape {y.shape}")
    if len(x) == 0:
        raise _empty(path, "x has 0 rows")
    if x[0].size == 0:
        raise DataError(f"{path}: expected at least 1 feature per row, found x of shape {x.shape}")
    _check_finite(x, path, "x")
    _check_finite(y, path, "y")
    if y.dtype.kind in "biu":
        if y.min() < _INT32.min or y.max() > _INT32.max:
            raise DataError(f"{path}: expected labels that fit in int32, found values in [{y.min()}, {y.max()}]")
        y = y.astype(np.int32)
    else:
        y = y.astype(np.float32)
    x = x.reshape(len(x), -1)  # images (n, h, w) become rows of pixels
    return x.astype(np.float32), y


# --- NumPy files: .npy and .npz, never a pickle ----------------------------------------

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an .npz archive, or an empty one
_PICKLE_MAGIC = b"\x80"  # pickle protocol 2 and later, Python 3's default
_NEVER = "which fnnet never loads"
_NUMPY_WANTED = {"npy": "a NumPy .npy array", "npz": "an .npz archive of NumPy arrays"}


def _numpy_kind(head: bytes) -> str:
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_ZIP_MAGICS):
        return "npz"
    return "pickle" if head.startswith(_PICKLE_MAGIC) else "other"


def _numpy_found(kind: str, head: bytes) -> str:
    if kind == "other":
        return f"a file that is neither .npy nor .npz (it starts with {head!r})" if head else "an empty file"
    return {"npy": "a single .npy array", "npz": "an .npz archive",
            "pickle": f"pickled Python data, {_NEVER}"}[kind]


@contextlib.contextmanager
def _numpy_errors(path, name=None):
    # NumPy's own messages advise allow_pickle=True or pickle.load(), which must never
    # reach a user: they are replaced, and `from None` keeps them out of the traceback.
    of = f" for {name!r}" if name else ""
    try:
        yield
    except DataError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():  # the only pickles that get this far are object arrays
            raise DataError(f"{path}: expected a NumPy array of numbers{of}, found an object array "
                            f"(pickled Python objects), {_NEVER}") from None
        raise DataError(f"{path}: expected a complete NumPy file, found a damaged one ({e})") from None
    except (EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: expected a complete NumPy file, found a damaged one ({e})") from None


def _load_numpy(path: Path, kind: str, names=()):
    """The arrays of a NumPy file, read with ``allow_pickle=False``: for ``kind="npy"``
    the one array, for ``"npz"`` a dict {name: array} of ``names``. A file of another
    kind, a missing name, an object array or a damaged file is a DataError."""
    with open(path, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
    found = _numpy_kind(head)
    if found != kind:
        raise DataError(f"{path}: expected {_NUMPY_WANTED[kind]}, found {_numpy_found(found, head)}")
    with _numpy_errors(path):
        loaded = np.load(path, allow_pickle=False)
        if kind == "npy":
            return loaded
        with loaded as archive:
            missing = [n for n in names if n not in archive.files]
            if missing:
                wanted = " and ".join(map(repr, names))
                raise DataError(f"{path}: expected array{'s' * (len(names) > 1)} {wanted}, found "
                                f"{sorted(archive.files)} (missing {', '.join(map(repr, missing))})")
            arrays = {}
            for n in names:  # members are read lazily, so each read can meet an object array
                with _numpy_errors(path, n):
                    arrays[n] = archive[n]
            return arrays


# --- IDX (MNIST) -----------------------------------------------------------------------

# IDX: a big-endian header, magic = 0x0000 | type code | number of dimensions, then one
# int32 per dimension, then the data; 0x08 is unsigned bytes.
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
    if len(images) == 0:
        raise _empty(images_path, f"the IDX header says 0 images of {images.shape[1]}x{images.shape[2]}")
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
            raise FileNotFoundError(errno.ENOENT, f"no MNIST {split} {kind} file in this directory (looked for "
                                                  f"{', '.join(names)})", str(d))
        found.append(path)
    return load_idx(*found)


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
        return _first_bad(np.array([float(text)])) is not None
    except ValueError:
        return False


def _check_svmlight_finite(path: Path, x, y):
    """Refuse the first value of an svmlight file that is not finite in float32, naming
    its line and the label or the feature index as written there."""
    rows = [i[0] for i in (_first_bad(x), _first_bad(y)) if i is not None]
    if not rows:
        return
    found = _svmlight_line(path, min(rows))
    if found is not None:
        number, tokens = found
        if _bad_number(tokens[0]):
            raise DataError(f"{path}: line {number}, the label: {_finite_expected(float(tokens[0]))}, "
                            f"found {tokens[0]!r}")
        for token in tokens[1:]:
            index, _, value = token.partition(":")
            if index != "qid" and _bad_number(value):
                raise DataError(f"{path}: line {number}, feature {index}: {_finite_expected(float(value))}, "
                                f"found {value!r}")
    # Not found again in the text (it should be): name the value by its index instead.
    _check_finite(x, path, "x")
    _check_finite(y, path, "y")


_MAX_DENSE_CELLS = 2**30  # 4 GiB of float32


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
    if x.shape[0] == 0:
        raise _empty(p, "no lines of data")
    cells = x.shape[0] * x.shape[1]
    if cells > _MAX_DENSE_CELLS:
        # A stray feature index (say 100000000) would ask for tens of GiB of zeros.
        raise DataError(f"{p}: the largest feature index, {x.shape[1]}, makes {x.shape[0]} x {x.shape[1]} = "
                        f"{cells:,} dense values ({cells * 4 / 2**30:.1f} GiB); expected at most "
                        f"{_MAX_DENSE_CELLS:,} (is an index wrong?)")
    x = x.toarray()
    _check_svmlight_finite(p, x, y)  # before a non-finite label turns the labels into targets
    return _checked(x, _labels_from_floats(y), p)


# --- npz -------------------------------------------------------------------------------


def load_npz(path):
    """An ``.npz`` archive with arrays ``x`` (n, ...) and ``y`` (n,) or (n, k): x float32
    (n, features), y int32 labels or float32 targets. Object arrays are refused (never
    unpickled)."""
    p = _existing(path)
    arrays = _load_numpy(p, "npz", ("x", "y"))
    return _checked(arrays["x"], arrays["y"], p)


# --- CSV -------------------------------------------------------------------------------

_CSV_BLOCK = 4096  # rows converted at once: NumPy's fast parse without holding every cell as a str


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _blank(row) -> bool:
    # csv.reader gives [] for an empty line; a line of spaces is blank too, not a cell ' '.
    return not row or (len(row) == 1 and not row[0].strip())


def _column(j: int, names) -> str:
    return f"column {j + 1}" + (f" ({names[j]!r})" if names else "")


def _floats(block, lines, names, path):
    """Rows of cells (str) from the given file lines as float64 (rows, columns), each
    value finite within float32's range, else a DataError naming line, column, cell."""
    try:
        table = np.array(block, np.float64)
    except ValueError:
        table = None
    if table is None:
        for row, line in zip(block, lines):  # slow path, only to say where the bad cell is
            for j, cell in enumerate(row):
                if not _is_number(cell):
                    raise DataError(f"{path}: line {line}, {_column(j, names)}: expected a number, found {cell!r}")
        table = np.array([[float(c) for c in row] for row in block], np.float64)
    bad = _first_bad(table)
    if bad is not None:
        i, j = bad
        raise DataError(f"{path}: line {lines[i]}, {_column(j, names)}: {_finite_expected(table[i, j])}, "
                        f"found {block[i][j]!r}")
    return table


@contextlib.contextmanager
def _csv_errors(path):
    try:
        yield
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: expected UTF-8 CSV text, found something else ({e})") from e


def _csv_start(reader, header, path):
    """The first row of a CSV file: (names or None, width, rows to parse as data, with
    their line numbers). ``header=None`` decides by the row itself and never drops data:
    no number in it is a header, all numbers is data, a mix is a DataError."""
    if header not in (None, True, False):
        raise TypeError(f"header must be True, False or None (decide from the first row), got {header!r}")
    first = next((r for r in reader if not _blank(r)), None)
    if first is None:
        raise _empty(path, "the file holds no rows")
    line = reader.line_num
    if header is None:
        numeric = [_is_number(c) for c in first]
        if any(numeric) and not all(numeric):
            j = numeric.index(False)
            raise DataError(f"{path}: line {line}, column {j + 1}: expected a number, found {first[j]!r} in a row "
                            f"that also holds numbers; pass header=True if line {line} is a header")
        header = not any(numeric)
    if header:
        return [c.strip() for c in first], len(first), []
    return None, len(first), [(line, first)]


def _csv_table(reader, names, width, pending, path):
    """The data rows after ``_csv_start`` as float64 (n, width), n > 0."""
    blocks, block, lines = [], [row for _, row in pending], [line for line, _ in pending]
    for row in reader:
        if _blank(row):
            continue
        if len(row) != width:
            raise DataError(f"{path}: line {reader.line_num}: expected {width} columns, found {len(row)}")
        block.append(row)
        lines.append(reader.line_num)
        if len(block) == _CSV_BLOCK:
            blocks.append(_floats(block, lines, names, path))
            block, lines = [], []
    if block:
        blocks.append(_floats(block, lines, names, path))
    if not blocks:
        raise _empty(path, "a header and no rows")
    return np.concatenate(blocks)


def _open_csv(path):
    # utf-8-sig: a spreadsheet's byte-order mark would otherwise stick to the first cell.
    return open(path, newline="", encoding="utf-8-sig")


def _label_index(label_column, names, width: int, path) -> int:
    if isinstance(label_column, str):
        if names is None:
            raise ValueError(f"label_column={label_column!r} is a name, but {path} has no header; "
                             "pass header=True or an integer index")
        if label_column not in names:
            raise DataError(f"{path}: expected a column named {label_column!r}, found columns {names}")
        return names.index(label_column)
    if isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        if not -width <= label_column < width:
            raise ValueError(f"label_column={label_column} is out of range for {path}'s {width} columns")
        return int(label_column) % width
    raise TypeError(f"label_column must be an int index or a column name, got {label_column!r}")


def load_csv(path, label_column=-1, header=None, *, delimiter=","):
    """A UTF-8 CSV file of numbers with one label column: x float32 (n, columns - 1), y
    int32 (n,) when every label is an integer, else float32 (n, 1). ``label_column`` is
    an index or, with a header, a column name. ``header=None`` takes the first row as a
    header when none of its cells is a number, as data when all are, and is a DataError
    when it mixes the two (pass ``header=True`` then); True/False say it outright."""
    p = _existing(path)
    with _csv_errors(p), _open_csv(p) as f:
        reader = csv.reader(f, delimiter=delimiter)
        names, width, pending = _csv_start(reader, header, p)
        if width < 2:
            raise DataError(f"{p}: expected at least 2 columns (features and a label), found {width}")
        label = _label_index(label_column, names, width, p)  # before the rows: a wrong name fails fast
        table = _csv_table(reader, names, width, pending, p)
    x = np.delete(table, label, axis=1)
    return _checked(x, _labels_from_floats(table[:, label]), p)


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


def load(path, format=None, label_column=None, *, header=None, **kw):
    """``(x, y)`` from a file of any supported format, chosen by ``format`` (one of
    ``FORMATS``: "npz", "csv", "svmlight"/"libsvm", "idx"/"mnist") or else by the name:
    ``.npz``, ``.csv``, ``.svm``/``.svmlight``/``.libsvm``, ``.gz``/``-ubyte`` (an IDX
    images file, its labels file beside it) or a directory (MNIST); any other name is a
    ``FormatError``. ``kw`` goes to the loader. ``label_column`` and ``header`` are for
    CSV; the other formats keep labels apart and have no header, so they take only the
    defaults (None, or -1 for ``label_column``) and one call serves every format."""
    if format is not None and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    p = _existing(path, "file or directory")
    format = format or _format_of(p)
    if format == "csv":
        return load_csv(p, -1 if label_column is None else label_column, header, **kw)
    if label_column not in (None, -1):
        raise ValueError(f"label_column={label_column!r} applies to CSV files only; {p} is {format}, "
                         "whose labels are stored apart from the features")
    if header is not None:
        raise ValueError(f"header={header!r} applies to CSV files only; {p} is {format}")
    if format == "npz":
        return load_npz(p, **kw)
    if format in ("svmlight", "libsvm"):
        return load_svmlight(p, **kw)
    return load_mnist(p, **kw) if p.is_dir() else load_idx(p, _idx_labels_beside(p), **kw)


# --- features only (prediction) --------------------------------------------------------


def _features(n: int) -> str:
    return f"{n} feature{'s' * (n != 1)}"


def _feature_rows(x, path, in_features, name: str):
    """Array ``x`` (features,), (n, features) or (n, ...) as float32 (n, features), n > 0,
    checked against ``in_features``; non-finite values are named by their 0-based index
    as ``name[i, j]``."""
    shape = x.shape
    if x.ndim == 0:
        raise DataError(f"{path}: expected features of shape (n, features) or (features,), found a single "
                        f"number {x}")
    if x.ndim == 1:
        x = x[None, :]  # one example
    if x.size == 0 and (len(x) == 0 or len(shape) == 1):
        raise _empty(path, f"{'x' if name == 'x' else 'the array'} has shape {shape}")
    width = int(np.prod(x.shape[1:]))
    if width == 0 or (in_features is not None and width != in_features):
        wanted = "at least 1 feature" if in_features is None else _features(in_features)
        raise DataError(f"{path}: expected {wanted} per row, found {width} (shape {shape})")
    _check_finite(x if len(shape) > 1 else x[0], path, name)
    return x.reshape(len(x), width).astype(np.float32)


def load_features(path, in_features=None, *, format=None, header=None):
    """Inputs to predict from, without labels: x float32 (n, features). ``format`` (one of
    ``FEATURE_FORMATS``) or else the suffix picks the reader: ``.npy`` (one array),
    ``.npz`` (its array ``x``), ``.csv`` (every column a feature; ``header`` as in
    ``load_csv``). A 1-D array is one example, (1, features); (n, h, w) images become rows
    of pixels. With ``in_features`` every row must have that many features."""
    if format is not None and format not in FEATURE_FORMATS:
        raise ValueError(f"unknown feature format {format!r}; expected one of {', '.join(FEATURE_FORMATS)}")
    p = _existing(path)
    if format is None:
        format = _FEATURE_SUFFIXES.get(p.suffix.lower())
        if format is None:
            raise _unknown_suffix(p, f"a name ending in {', '.join(sorted(_FEATURE_SUFFIXES))}", FEATURE_FORMATS)
    if format == "csv":
        with _csv_errors(p), _open_csv(p) as f:
            reader = csv.reader(f)
            names, width, pending = _csv_start(reader, header, p)
            if in_features is not None and width != in_features:  # before the rows: fails fast
                line = pending[0][0] if pending else reader.line_num
                raise DataError(f"{p}: line {line}: expected {_features(in_features)} per row, found {width} columns")
            return _csv_table(reader, names, width, pending, p).astype(np.float32)
    if header is not None:
        raise ValueError(f"header={header!r} applies to CSV files only; {p} is {format}")
    if format == "npy":
        return _feature_rows(_numeric(_load_numpy(p, "npy"), p), p, in_features, "array")
    return _feature_rows(_numeric(_load_numpy(p, "npz", ("x",))["x"], p, "x"), p, in_features, "x")

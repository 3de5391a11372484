"""NumPy files: one helper through which every ``np.load`` goes (never a pickle, and
NumPy's own advice to allow one never shown), and ``.npz`` data sets."""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from fnnet.loaders.checks import DataError, checked, existing


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


def npy_size_problem(fp, size: int) -> str | None:
    """What is wrong with an .npy stream ``fp`` (at its start) of ``size`` bytes in all
    whose header declares more data than it holds (a forged or truncated file whose shape
    NumPy would allocate before reading a byte), or None. The header's own mistakes are
    left to NumPy (a ValueError there)."""
    format = np.lib.format
    try:
        version = format.read_magic(fp)
        read = format.read_array_header_1_0 if version == (1, 0) else format.read_array_header_2_0
        shape, _, dtype = read(fp)
    except (ValueError, OSError, EOFError):
        return None
    if dtype.hasobject:
        return None  # refused as an object array where it is read
    count = 1
    for n in shape:
        count *= int(n)
    declared, held = count * dtype.itemsize, size - fp.tell()
    if declared > held:
        return (f"its header declares shape {tuple(shape)} of {dtype} ({declared} bytes) but {max(held, 0)} bytes "
                "are stored")
    return None


def npz_member_problem(archive, name: str) -> str | None:
    """``npy_size_problem`` for the array ``name`` of an open ``np.load`` archive, checked
    against the zip member's stored size before it is read."""
    member = name + ".npy" if name + ".npy" in archive.zip.namelist() else name
    try:
        info = archive.zip.getinfo(member)
        with archive.zip.open(member) as fp:
            return npy_size_problem(fp, info.file_size)
    except KeyError:
        return None


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


def load_numpy(path: Path, kind: str, names=()):
    """The arrays of a NumPy file, read with ``allow_pickle=False``: for ``kind="npy"``
    the one array, for ``"npz"`` a dict {name: array} of ``names``. A file of another
    kind, a missing name, an object array or a damaged file is a DataError."""
    with open(path, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
    found = _numpy_kind(head)
    if found != kind:
        raise DataError(f"{path}: expected {_NUMPY_WANTED[kind]}, found {_numpy_found(found, head)}")
    with _numpy_errors(path):
        if kind == "npy":
            with open(path, "rb") as f:
                problem = npy_size_problem(f, os.fstat(f.fileno()).st_size)
            if problem:
                raise DataError(f"{path}: expected a complete NumPy file, found a truncated or damaged one ({problem})")
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
                    problem = npz_member_problem(archive, n)
                    if problem:
                        raise DataError(f"{path}: expected a complete NumPy file, found a truncated or damaged one "
                                        f"(array {n!r}: {problem})")
                    arrays[n] = archive[n]
            return arrays


# --- npz -------------------------------------------------------------------------------


def load_npz(path, keep_shape: bool = False):
    """An ``.npz`` archive with arrays ``x`` (n, ...) and ``y`` (n,) or (n, k): x float32
    (n, features) (with ``keep_shape``: (n, ...) as stored), y int32 labels or float32 targets. Object arrays are refused (never
    unpickled)."""
    p = existing(path)
    arrays = load_numpy(p, "npz", ("x", "y"))
    return checked(arrays["x"], arrays["y"], p, keep_shape)

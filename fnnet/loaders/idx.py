"""MNIST's IDX files, raw or gzipped, and a directory holding them."""

from __future__ import annotations

import errno
import gzip
import zlib

import numpy as np

from fnnet.loaders.checks import DataError, checked, empty, existing


# --- IDX (MNIST) -----------------------------------------------------------------------

# IDX: a big-endian header, magic = 0x0000 | type code | number of dimensions, then one
# int32 per dimension, then the data; 0x08 is unsigned bytes.
_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801


def _read_bytes(path) -> bytes:
    p = existing(path)
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


def load_idx(images_path, labels_path, keep_shape: bool = False):
    """MNIST-style IDX files, raw or gzipped: x float32 (n, rows*cols) (with
    ``keep_shape``: (n, rows, cols)) of pixel values 0..255 (unscaled) and y int32 (n,)
    labels."""
    images = _read_idx(images_path, _IDX_IMAGES, "images")
    labels = _read_idx(labels_path, _IDX_LABELS, "labels")
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
                        "expected one label per image")
    if len(images) == 0:
        raise empty(images_path, f"the IDX header says 0 images of {images.shape[1]}x{images.shape[2]}")
    return checked(images, labels, images_path, keep_shape)


def _mnist_names(prefix: str, kind: str, ndim: int):
    # The official names use "-idx3-"; some mirrors use ".idx3-".
    return [f"{prefix}-{kind}{sep}idx{ndim}-ubyte{gz}" for sep in ("-", ".") for gz in ("", ".gz")]


def load_mnist(directory, split: str = "train", keep_shape: bool = False):
    """MNIST from a directory holding ``train-images-idx3-ubyte[.gz]`` and
    ``train-labels-idx1-ubyte[.gz]`` (``t10k-...`` for ``split="test"``): x float32
    (n, 784) (with ``keep_shape``: (n, 28, 28)) of pixel values 0..255, y int32 (n,)."""
    prefixes = {"train": "train", "test": "t10k"}
    if split not in prefixes:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = existing(directory, "directory")
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
    return load_idx(*found, keep_shape=keep_shape)

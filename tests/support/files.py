"""Small files for the loaders' tests: IDX written byte by byte, text files, and the
checks every loader's errors share."""

import gzip
import re
import struct

import numpy as np
import pytest


def write_idx(path, array, magic=None, extra=b"", cut=0):
    """An IDX file of unsigned bytes: big-endian magic, one int32 per dimension, data."""
    array = np.asarray(array, np.uint8)
    magic = 0x800 | array.ndim if magic is None else magic
    raw = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes() + extra
    raw = raw[:len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def raises(kind, message):
    """pytest.raises for exactly ``message`` somewhere in the error, taken literally."""
    return pytest.raises(kind, match=re.escape(str(message)))


def write(path, text):
    path.write_text(text)
    return path


def no_pickle_advice(error):
    """NumPy's own text suggests unpickling; none of it may reach the user."""
    text = str(error.value)
    assert "allow_pickle" not in text and "pickle.load" not in text
    assert error.value.__suppress_context__ or error.value.__context__ is None

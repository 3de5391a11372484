""".npz/.npy files: never a pickle; every bad array named by its 0-based index."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from fnnet import loaders
from fnnet.loaders import DataError
from tests.support.files import no_pickle_advice, raises, write


def test_npz_round_trip(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(4, 2, 3)
    y = np.array([0, 1, 1, 0], np.int64)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    lx, ly = loaders.load_npz(tmp_path / "d.npz")
    assert lx.dtype == np.float32 and lx.shape == (4, 6)
    np.testing.assert_array_equal(lx, x.reshape(4, 6))
    assert ly.dtype == np.int32
    np.testing.assert_array_equal(ly, y)


def test_npz_without_y(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 2)), labels=np.zeros(2))
    with pytest.raises(DataError, match=r"found \['labels', 'x'\] \(missing 'y'\)"):
        loaders.load_npz(tmp_path / "d.npz")


def test_npz_object_array_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((2, 2)), y=np.array([{"a": 1}, None], dtype=object))
    with raises(DataError, f"{path}: expected a NumPy array of numbers for 'y', found an object array "
                           "(pickled Python objects), which fnnet never loads") as error:
        loaders.load_npz(path)
    no_pickle_advice(error)


def test_npz_pickle_refused(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(pickle.dumps({"x": [[1.0]], "y": [0]}))
    with raises(DataError, f"{path}: expected an .npz archive of NumPy arrays, found pickled Python data, "
                           "which fnnet never loads") as error:
        loaders.load_npz(path)
    no_pickle_advice(error)


def test_npz_text_file_is_not_called_a_pickle(tmp_path):
    # NumPy takes any unknown file for a pickle and says so; a CSV renamed .npz is not one.
    path = write(tmp_path / "d.npz", "1,2,0\n")
    with raises(DataError, f"{path}: expected an .npz archive of NumPy arrays, found a file that is neither "
                           ".npy nor .npz (it starts with b'1,2,0\\n')") as error:
        loaders.load_npz(path)
    no_pickle_advice(error)


def test_npz_damaged(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((2, 2)), y=np.zeros(2))
    path.write_bytes(path.read_bytes()[:60])
    with raises(DataError, f"{path}: expected a complete NumPy file, found a damaged one"):
        loaders.load_npz(path)


def test_npz_rows_differ(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.zeros(2, np.int32))
    with pytest.raises(DataError, match=r"y with 3 rows .* found shape \(2,\)"):
        loaders.load_npz(tmp_path / "d.npz")


def test_npz_strings_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([["1", "2"]]), y=np.zeros(1, np.int32))
    with raises(DataError, f"{path}: expected a NumPy array of numbers for 'x', found strings (dtype <U1)"):
        loaders.load_npz(path)


def test_npz_non_finite_names_the_0_based_index(tmp_path):
    path = tmp_path / "d.npz"
    x = np.ones((8, 3))
    x[6, 2] = np.nan
    np.savez(path, x=x, y=np.zeros(8, np.int32))
    with raises(DataError, f"{path}: x[6, 2] (0-based row 6, column 2): expected a finite number, found nan"):
        loaders.load_npz(path)
    t = np.ones(8)
    t[3] = -np.inf
    np.savez(path, x=np.ones((8, 3)), y=t)
    with raises(DataError, f"{path}: y[3] (0-based index): expected a finite number, found -inf"):
        loaders.load_npz(path)
    x = np.ones((8, 3))
    x[1, 0] = 1e39  # finite in float64, inf once cast to float32
    np.savez(path, x=x, y=np.zeros(8, np.int32))
    with raises(DataError, f"{path}: x[1, 0] (0-based row 1, column 0): expected a number within float32's "
                           "range (about ±3.4e+38), found 1e+39"):
        loaders.load_npz(path)


def test_npz_empty(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((0, 4)), y=np.zeros(0, np.int32))
    with raises(DataError, f"{path}: the data set is empty (x has 0 rows)"):
        loaders.load_npz(path)
    np.savez(path, x=np.zeros((3, 0)), y=np.zeros(3, np.int32))
    with raises(DataError, f"{path}: expected at least 1 feature per row, found x of shape (3, 0)"):
        loaders.load_npz(path)


def test_every_np_load_refuses_pickles(tmp_path, monkeypatch):
    calls = []
    real = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    np.savez(tmp_path / "d.npz", x=np.ones((2, 2)), y=np.zeros(2, np.int32))
    np.save(tmp_path / "f.npy", np.ones((2, 2)))
    loaders.load_npz(tmp_path / "d.npz")
    loaders.load(tmp_path / "d.npz")
    loaders.load_features(tmp_path / "d.npz")
    loaders.load_features(tmp_path / "f.npy")
    assert calls == [False] * 4


def _forged_npy(rows: int = 10**11) -> bytes:
    # A header declaring (rows, 2) float64 over 16 bytes: NumPy would allocate it all first.
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (rows, 2)})
    return buf.getvalue() + bytes(16)


def test_a_declared_shape_larger_than_the_bytes_stored_is_a_damaged_file(tmp_path):
    # b23, b47: it was "out of memory (Unable to allocate 1.46 TiB ...)".
    forged = _forged_npy()
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", forged)
        z.writestr("y.npy", forged)
    declares = ("its header declares shape (100000000000, 2) of float64 (1600000000000 bytes) but 16 bytes "
                "are stored")
    with raises(DataError, f"{path}: expected a complete NumPy file, found a truncated or damaged one "
                           f"(array 'x': {declares})"):
        loaders.load_npz(path)
    npy = tmp_path / "huge.npy"
    npy.write_bytes(forged)
    with raises(DataError, f"{npy}: expected a complete NumPy file, found a truncated or damaged one ({declares})"):
        loaders.load_features(npy)
    # One byte short is as damaged as a terabyte.
    npy.write_bytes(_forged_npy(1)[:-1])
    with raises(DataError, "its header declares shape (1, 2) of float64 (16 bytes) but 15 bytes are stored"):
        loaders.load_features(npy)

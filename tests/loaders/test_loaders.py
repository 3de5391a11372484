"""The loaders' face on small files written here: ``load``'s dispatch by format and name,
and ``load_features``. Every bad file must give a DataError (or FormatError,
FileNotFoundError) whose message names the file, what was expected and what was found,
with line and column for text files; never a silently wrong array."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from fnnet import loaders
from fnnet.loaders import DataError, FormatError
from tests.support import ROOT
from tests.support.fifo import fifo
from tests.support.files import no_pickle_advice, raises, write, write_idx

# --- load: dispatch, formats, missing files ---------------------------------------------


def test_formats():
    assert loaders.FORMATS == ("npz", "csv", "svmlight", "libsvm", "idx", "mnist")
    assert loaders.FEATURE_FORMATS == ("npy", "npz", "csv")


def test_load_dispatch(tmp_path, mnist_like):
    images, labels = mnist_like
    np.savez(tmp_path / "a.npz", x=np.ones((2, 3)), y=np.array([0, 1]))
    write(tmp_path / "b.csv", "1,2,1\n")
    write(tmp_path / "c.txt", "1,2,3,1\n")
    write(tmp_path / "d.txt", "1 1:2 3:4\n")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    assert loaders.load(tmp_path / "a.npz")[0].shape == (2, 3)
    assert loaders.load(tmp_path / "b.csv")[0].shape == (1, 2)
    assert loaders.load(tmp_path / "c.txt", format="csv")[0].shape == (1, 3)
    assert loaders.load(tmp_path / "d.txt", format="libsvm")[0].shape == (1, 3)
    np.testing.assert_array_equal(loaders.load(tmp_path / "train-images-idx3-ubyte.gz")[1], labels)
    assert loaders.load(tmp_path)[0].shape == (5, 12)  # a directory is MNIST
    assert loaders.load(tmp_path, format="mnist")[0].shape == (5, 12)
    # Images keep their shape when asked (a convolution needs it); text rows stay flat.
    kept = loaders.load(tmp_path, keep_shape=True)[0]
    assert kept.shape == images.shape and kept.dtype == np.float32
    np.testing.assert_array_equal(kept.reshape(5, 12), loaders.load(tmp_path)[0])
    assert loaders.load(tmp_path / "train-images-idx3-ubyte.gz", keep_shape=True)[0].shape == images.shape
    np.savez(tmp_path / "e.npz", x=np.ones((2, 3, 4, 2)), y=np.array([0, 1]))
    assert loaders.load(tmp_path / "e.npz", keep_shape=True)[0].shape == (2, 3, 4, 2)
    assert loaders.load(tmp_path / "e.npz")[0].shape == (2, 24)
    assert loaders.load(tmp_path / "b.csv", keep_shape=True)[0].shape == (1, 2)
    with pytest.raises(ValueError, match="unknown format 'parquet'; expected one of npz, csv, svmlight, libsvm"):
        loaders.load(tmp_path / "a.npz", format="parquet")
    # label_column is for CSV: other formats take only its default.
    assert loaders.load(tmp_path / "b.csv", label_column=0)[1].tolist() == [1]
    assert loaders.load(tmp_path / "a.npz", label_column=-1)[0].shape == (2, 3)
    with pytest.raises(ValueError, match="label_column='y' applies to CSV files only"):
        loaders.load(tmp_path / "a.npz", label_column="y")
    # So is header: None passes for every format, True/False only for CSV.
    write(tmp_path / "h.csv", "1,2,0\n3,4,1\n")
    assert loaders.load(tmp_path / "h.csv", header=True)[0].shape == (1, 2)
    assert loaders.load(tmp_path / "a.npz", header=None)[0].shape == (2, 3)
    with pytest.raises(ValueError, match="header=False applies to CSV files only"):
        loaders.load(tmp_path / "a.npz", header=False)


@pytest.mark.parametrize("name, suffix, found", [
    ("c.txt", ".txt", "suffix '.txt'"), ("C.TXT", ".txt", "suffix '.txt'"), ("data", "", "no suffix")])
def test_load_unknown_suffix_is_a_format_error(tmp_path, name, suffix, found):
    path = write(tmp_path / name, "1,2,3,1\n")
    with raises(FormatError, f"{path}: cannot tell the format from the name: expected a name ending in .csv, "
                             f".gz, .libsvm, .npz, .svm, .svmlight or -ubyte, or a directory (MNIST), found "
                             f"{found}; pass format= one of npz, csv, svmlight, libsvm, idx, mnist") as error:
        loaders.load(path)
    # The command rephrases it with --format from these, and still catches it as a ValueError.
    assert error.value.path == path and error.value.suffix == suffix
    assert isinstance(error.value, DataError) and isinstance(error.value, ValueError)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere.npz"
    for load in (loaders.load, loaders.load_npz, loaders.load_csv, loaders.load_svmlight, loaders.load_features):
        with pytest.raises(FileNotFoundError, match="nowhere.npz"):
            load(missing)
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        loaders.load_idx(missing, missing)


def test_directory_as_file_names_the_path(tmp_path):
    with pytest.raises(OSError, match=str(tmp_path.name)):
        loaders.load_csv(tmp_path)


# --- load_features ---------------------------------------------------------------------


def test_features_npy_npz_csv(tmp_path):
    x = np.arange(12, dtype=np.int64).reshape(4, 3)
    np.save(tmp_path / "f.npy", x)
    np.savez(tmp_path / "f.npz", x=x.astype(np.float64), y=np.zeros(4))  # y is ignored
    write(tmp_path / "f.csv", "a,b,c\n" + "\n".join(",".join(map(str, r)) for r in x) + "\n")
    write(tmp_path / "g.csv", "\n".join(",".join(map(str, r)) for r in x) + "\n")
    for name in ("f.npy", "f.npz", "f.csv", "g.csv"):
        got = loaders.load_features(tmp_path / name, 3)
        assert got.dtype == np.float32 and got.shape == (4, 3), name
        np.testing.assert_array_equal(got, x)
    np.save(tmp_path / "one.npy", np.arange(3.0))  # a 1-D array is one example
    np.testing.assert_array_equal(loaders.load_features(tmp_path / "one.npy", 3), [[0, 1, 2]])
    np.save(tmp_path / "img.npy", np.ones((2, 4, 4)))  # images become rows of pixels
    assert loaders.load_features(tmp_path / "img.npy", 16).shape == (2, 16)
    write(tmp_path / "h.txt", "1,2,3\n")
    assert loaders.load_features(tmp_path / "h.txt", format="csv").shape == (1, 3)


def test_features_csv_never_drops_a_row(tmp_path):
    # The command's old reader dropped the first row whenever its first cell was text.
    path = write(tmp_path / "f.csv", "id7,2,3\n4,5,6\n")
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'id7' in a row that also holds "
                           "numbers; pass header=True if line 1 is a header"):
        loaders.load_features(path, 3)
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'id7'"):
        loaders.load_features(path, 3, header=False)
    np.testing.assert_array_equal(loaders.load_features(path, 3, header=True), [[4, 5, 6]])


def test_features_csv_errors_name_line_and_column(tmp_path):
    path = write(tmp_path / "f.csv", "p1,p2\n\n1,2\n3,nan\n")
    with raises(DataError, f"{path}: line 4, column 2 ('p2'): expected a finite number, found 'nan'"):
        loaders.load_features(path)
    with raises(DataError, f"{path}: line 1: expected 64 features per row, found 2 columns"):
        loaders.load_features(path, 64)
    path.write_text("1,2\n3\n")
    with raises(DataError, f"{path}: line 2: expected 2 columns, found 1"):
        loaders.load_features(path)
    path.write_text("p1,p2\n")
    with raises(DataError, f"{path}: the data set is empty (a header and no rows)"):
        loaders.load_features(path, 2)


def test_features_wrong_width(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.zeros((2, 10), np.float32))
    with raises(DataError, f"{path}: expected 64 features per row, found 10 (shape (2, 10))"):
        loaders.load_features(path, 64)
    np.save(path, np.zeros((3, 0)))
    with raises(DataError, f"{path}: expected at least 1 feature per row, found 0 (shape (3, 0))"):
        loaders.load_features(path)


def test_features_for_an_image_network(tmp_path):
    # A network of (8, 8, 3) images: channels-first arrays would be scrambled by the
    # reshape to rows; one image without its batch axis is one example.
    path, rng = tmp_path / "f.npy", np.random.default_rng(0)
    images = rng.normal(size=(5, 8, 8, 3)).astype(np.float32)
    np.save(path, np.moveaxis(images, -1, 1))
    with raises(DataError, f"{path}: expected examples of shape (8, 8, 3), found (3, 8, 8): the same sizes in "
                           "another order, which a reshape would scramble; channels come last in fnnet: "
                           "x = np.moveaxis(x, 1, -1)"):
        loaders.load_features(path, 192, in_shape=(8, 8, 3))
    np.save(path, np.moveaxis(images[0], -1, 0))  # one channels-first image
    with raises(DataError, "found (3, 8, 8): the same sizes in another order"):
        loaders.load_features(path, 192, in_shape=(8, 8, 3))
    np.save(path, images)
    np.testing.assert_array_equal(loaders.load_features(path, 192, in_shape=(8, 8, 3)), images.reshape(5, 192))
    np.save(path, images[0])  # one image
    np.testing.assert_array_equal(loaders.load_features(path, 192, in_shape=(8, 8, 3)), images[:1].reshape(1, 192))
    gray = images[..., 0]
    for stored in (gray, gray[:, None], gray[..., None], gray.reshape(5, 64)):  # (n, 8, 8), (n, 1, 8, 8), ...
        np.save(path, stored)
        np.testing.assert_array_equal(loaders.load_features(path, 64, in_shape=(8, 8, 1)), gray.reshape(5, 64))
    np.save(path, gray[0])  # one (8, 8) image for an (8, 8, 1) network
    np.testing.assert_array_equal(loaders.load_features(path, 64, in_shape=(8, 8, 1)), gray[:1].reshape(1, 64))
    np.save(path, gray[0].reshape(4, 16))  # not an image of the network's: rows, and refused as such
    with raises(DataError, f"{path}: expected 64 features per row, found 16 (shape (4, 16))"):
        loaders.load_features(path, 64, in_shape=(8, 8, 1))


@pytest.mark.parametrize("array, found", [
    (np.array(["a", "b"]), "strings (dtype <U1)"),
    (np.array([b"a"]), "byte strings (dtype |S1)"),
    (np.array([1 + 2j]), "complex numbers (dtype complex128)"),
])
def test_features_non_numeric_arrays(tmp_path, array, found):
    path = tmp_path / "f.npy"
    np.save(path, array)
    with raises(DataError, f"{path}: expected a NumPy array of numbers, found {found}"):
        loaders.load_features(path)


def test_features_pickles_refused(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with raises(DataError, f"{path}: expected a NumPy array of numbers, found an object array (pickled Python "
                           "objects), which fnnet never loads") as error:
        loaders.load_features(path)
    no_pickle_advice(error)
    path.write_bytes(pickle.dumps(np.ones((2, 2))))
    with raises(DataError, f"{path}: expected a NumPy .npy array, found pickled Python data, which fnnet never "
                           "loads") as error:
        loaders.load_features(path)
    no_pickle_advice(error)
    npz = tmp_path / "f.npz"
    np.savez(npz, x=np.array([None], dtype=object))
    with raises(DataError, f"{npz}: expected a NumPy array of numbers for 'x', found an object array") as error:
        loaders.load_features(npz)
    no_pickle_advice(error)


def test_features_npz_needs_x_and_npy_is_one_array(tmp_path):
    npz = tmp_path / "f.npz"
    np.savez(npz, inputs=np.ones((2, 2)))
    with raises(DataError, f"{npz}: expected array 'x', found ['inputs'] (missing 'x')"):
        loaders.load_features(npz)
    with raises(DataError, f"{npz}: expected a NumPy .npy array, found an .npz archive"):
        loaders.load_features(npz, format="npy")


def test_features_empty(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.zeros((0, 64)))
    with raises(DataError, f"{path}: the data set is empty (the array has shape (0, 64))"):
        loaders.load_features(path, 64)
    np.save(path, np.zeros(0))
    with raises(DataError, f"{path}: the data set is empty (the array has shape (0,))"):
        loaders.load_features(path)
    np.savez(tmp_path / "f.npz", x=np.zeros((0, 64)))
    with raises(DataError, f"{tmp_path / 'f.npz'}: the data set is empty (x has shape (0, 64))"):
        loaders.load_features(tmp_path / "f.npz", 64)


def test_features_non_finite_names_the_0_based_index(tmp_path):
    path = tmp_path / "f.npy"
    x = np.ones((8, 3))
    x[6, 2] = np.nan
    np.save(path, x)
    with raises(DataError, f"{path}: array[6, 2] (0-based row 6, column 2): expected a finite number, found nan"):
        loaders.load_features(path, 3)
    np.save(path, np.array([1.0, np.inf, 2.0]))
    with raises(DataError, f"{path}: array[1] (0-based index): expected a finite number, found inf"):
        loaders.load_features(path)
    np.savez(tmp_path / "f.npz", x=x)
    with raises(DataError, f"{tmp_path / 'f.npz'}: x[6, 2] (0-based row 6, column 2): expected a finite number"):
        loaders.load_features(tmp_path / "f.npz")


def test_features_format_and_arguments(tmp_path):
    path = write(tmp_path / "f.txt", "1,2\n")
    with raises(FormatError, f"{path}: cannot tell the format from the name: expected a name ending in .csv, "
                             ".npy, .npz, found suffix '.txt'; pass format= one of npy, npz, csv") as error:
        loaders.load_features(path)
    assert error.value.path == path and error.value.suffix == ".txt"
    with pytest.raises(ValueError, match="unknown feature format 'parquet'; expected one of npy, npz, csv"):
        loaders.load_features(path, format="parquet")
    np.save(tmp_path / "f.npy", np.ones((1, 2)))
    with pytest.raises(ValueError, match="header=True applies to CSV files only"):
        loaders.load_features(tmp_path / "f.npy", header=True)


# --- paths that are not regular files: refused before they are opened ------------------


def test_a_named_pipe_is_refused_before_it_is_opened(tmp_path):
    # b14, b44: open() of a FIFO with no writer would wait forever.
    with fifo(tmp_path / "data.csv") as path:
        with raises(DataError, f"{path}: expected a regular file, found a named pipe (FIFO)"):
            loaders.load(path)
        with raises(DataError, f"{path}: expected a regular file, found a named pipe (FIFO)"):
            loaders.load_csv(path)
    with fifo(tmp_path / "features.npy") as path:
        with raises(DataError, f"{path}: expected a regular file, found a named pipe (FIFO)"):
            loaders.load_features(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "features.npy"]  # nothing written


def test_a_device_is_refused_before_it_is_read():
    # b15: /dev/zero never ends; read as CSV it filled memory.
    with raises(DataError, "/dev/zero: expected a regular file, found a character device"):
        loaders.load("/dev/zero", format="csv")
    with raises(DataError, "/dev/zero: expected a regular file, found a character device"):
        loaders.load_features("/dev/zero", format="npy")


def test_a_loop_of_symbolic_links_is_named_so(tmp_path):
    # b17: it was "no such file or directory".
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    with raises(DataError, f"{tmp_path / 'a.csv'}: expected a file, found a loop of symbolic links"):
        loaders.load(tmp_path / "a.csv")


@pytest.mark.parametrize("how", ["file", "pipe"])
def test_standard_input_is_read_whatever_it_is(tmp_path, how):
    # `--data /dev/stdin --format csv < file.csv` and `... | fnnet` keep working.
    path = write(tmp_path / "d.csv", "1,2,0\n3,4,1\n")
    code = ("from fnnet.loaders import csv_files; x, y = csv_files.load_csv('/dev/stdin'); "
            "print(x.tolist(), y.tolist())")
    with open(path, "rb") as f:
        if how == "file":
            proc = subprocess.run([sys.executable, "-c", code], stdin=f, capture_output=True, text=True, cwd=ROOT,
                                  timeout=60)
        else:
            proc = subprocess.run([sys.executable, "-c", code], input=f.read().decode(), capture_output=True,
                                  text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[[1.0, 2.0], [3.0, 4.0]] [0, 1]\n"

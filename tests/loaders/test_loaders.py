"""File loaders on small files written here: IDX/MNIST, CSV, npz, svmlight, ``load``'s
dispatch and ``load_features``. Every bad file must give a DataError (or FormatError,
FileNotFoundError) whose message names the file, what was expected and what was found,
with line and column for text files; never a silently wrong array."""

from __future__ import annotations

import gzip
import pickle
import re
import struct

import numpy as np
import pytest

from fnnet import loaders
from fnnet.loaders import DataError, FormatError


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


@pytest.fixture
def mnist_like():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 3, 4), dtype=np.uint8), rng.integers(0, 10, 5, dtype=np.uint8)


# --- IDX / MNIST ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, mnist_like, suffix):
    images, labels = mnist_like
    x, y = loaders.load_idx(write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images),
                            write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels))
    assert x.dtype == np.float32 and x.shape == (5, 12)
    assert y.dtype == np.int32 and y.shape == (5,)
    np.testing.assert_array_equal(x, images.reshape(5, 12).astype(np.float32))  # unscaled 0..255
    np.testing.assert_array_equal(y, labels)


def test_idx_truncated(tmp_path, mnist_like):
    images, labels = mnist_like
    bad = write_idx(tmp_path / "images", images, cut=7)
    with pytest.raises(DataError, match=r"truncated.*60 bytes of data, found 53"):
        loaders.load_idx(bad, write_idx(tmp_path / "labels", labels))


def test_idx_too_long(tmp_path, mnist_like):
    images, labels = mnist_like
    bad = write_idx(tmp_path / "labels", labels, extra=b"\0\0")
    with pytest.raises(DataError, match=r"too long.*5 bytes of data, found 7"):
        loaders.load_idx(write_idx(tmp_path / "images", images), bad)


def test_idx_damaged_gzip(tmp_path, mnist_like):
    path = write_idx(tmp_path / "images.gz", mnist_like[0])
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="damaged"):
        loaders.load_idx(path, write_idx(tmp_path / "labels", mnist_like[1]))


def test_idx_wrong_magic(tmp_path, mnist_like):
    images, labels = mnist_like
    # The labels file given where the images file belongs.
    swapped = write_idx(tmp_path / "labels", labels)
    with pytest.raises(DataError, match=r"expected IDX images magic number 2051 .*found 2049"):
        loaders.load_idx(swapped, swapped)


def test_idx_counts_differ(tmp_path, mnist_like):
    images, labels = mnist_like
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        loaders.load_idx(write_idx(tmp_path / "images", images), write_idx(tmp_path / "labels", labels[:4]))


def test_idx_empty(tmp_path):
    images = write_idx(tmp_path / "images", np.zeros((0, 28, 28)))
    labels = write_idx(tmp_path / "labels", np.zeros(0))
    with raises(DataError, f"{images}: the data set is empty (the IDX header says 0 images of 28x28)"):
        loaders.load_idx(images, labels)


def test_load_mnist_directory(tmp_path, mnist_like):
    images, labels = mnist_like
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    x, y = loaders.load_mnist(tmp_path, split="test")
    assert x.shape == (5, 12)
    np.testing.assert_array_equal(y, labels)
    # No train files: the error lists the names it tried.
    with pytest.raises(FileNotFoundError, match=r"looked for train-images-idx3-ubyte, train-images-idx3-ubyte\.gz"):
        loaders.load_mnist(tmp_path)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        loaders.load_mnist(tmp_path, split="val")


# --- CSV -------------------------------------------------------------------------------


def test_csv_without_header(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n3,4.5,1\n\n5,6,2\n")
    x, y = loaders.load_csv(path)
    np.testing.assert_array_equal(x, np.array([[1, 2], [3, 4.5], [5, 6]], np.float32))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 1, 2])
    assert y.dtype == np.int32
    x0, y0 = loaders.load_csv(path, label_column=0)
    np.testing.assert_array_equal(y0, [1, 3, 5])
    np.testing.assert_array_equal(x0[:, 1], [0, 1, 2])


def test_csv_with_header_and_named_label(tmp_path):
    path = write(tmp_path / "d.csv", "label,a,b\n7,1,2\n9,3,4\n")
    x, y = loaders.load_csv(path, label_column="label")  # header detected: no cell is a number
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(y, [7, 9])
    with pytest.raises(DataError, match=r"column named 'kind', found columns \['label', 'a', 'b'\]"):
        loaders.load_csv(path, label_column="kind")
    # A spreadsheet's byte-order mark does not stick to the first name.
    path.write_bytes(b"\xef\xbb\xbfa,label\n1,2\n")
    np.testing.assert_array_equal(loaders.load_csv(path, label_column="label")[1], [2])
    path.write_bytes(b"a,label\n1,\xff\n")
    with pytest.raises(DataError, match="d.csv: expected UTF-8 CSV text"):
        loaders.load_csv(path)


def test_csv_float_labels_are_targets(tmp_path):
    x, t = loaders.load_csv(write(tmp_path / "d.csv", "1,0.5\n2,1.5\n"))
    assert t.dtype == np.float32 and t.shape == (2, 1)
    np.testing.assert_array_equal(t[:, 0], [0.5, 1.5])


def test_csv_non_numeric_cell(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError, match=r"line 3, column 2 \('b'\): expected a number, found 'oops'"):
        loaders.load_csv(path)
    path.write_text("1,2,0\n3,4,1\n5,6,x\n")
    with pytest.raises(DataError, match=r"line 3, column 3: expected a number, found 'x'"):
        loaders.load_csv(path)


def test_csv_ragged_and_ambiguous(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n3,4\n")
    with pytest.raises(DataError, match="line 2: expected 3 columns, found 2"):
        loaders.load_csv(path)
    path.write_text("id,2,0\n3,4,1\n")
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'id' in a row that also holds "
                           "numbers; pass header=True if line 1 is a header"):
        loaders.load_csv(path)
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'id'"):
        loaders.load_csv(path, header=False)
    assert loaders.load_csv(path, header=True)[0].shape == (1, 2)


def test_csv_mixed_first_row_names_the_first_text_column(tmp_path):
    # The old message said only that the line mixes numbers and text; the column and
    # the cell now say where, and blank lines before it count.
    path = write(tmp_path / "d.csv", "\n\n1,2,x,y\n3,4,5,6\n")
    with raises(DataError, f"{path}: line 3, column 3: expected a number, found 'x' in a row that also holds "
                           "numbers; pass header=True if line 3 is a header"):
        loaders.load_csv(path)
    x, y = loaders.load_csv(path, header=True)
    np.testing.assert_array_equal(x, [[3, 4, 5]])
    np.testing.assert_array_equal(y, [6])


def test_csv_header_auto_never_drops_a_numeric_row(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n3,4,1\n")
    assert loaders.load_csv(path)[0].shape == (2, 2)
    assert loaders.load_csv(path, header=False)[0].shape == (2, 2)
    assert loaders.load_csv(path, header=True)[0].shape == (1, 2)  # asked for outright
    with pytest.raises(TypeError, match=r"header must be True, False or None .*, got 'yes'"):
        loaders.load_csv(path, header="yes")


def test_csv_header_false_refuses_a_text_row(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,label\n1,2,0\n")
    assert loaders.load_csv(path)[0].shape == (1, 2)  # auto: a header
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'a'"):
        loaders.load_csv(path, header=False)


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"])
def test_csv_non_finite_cell_names_line_and_column(tmp_path, cell):
    # A header and blank lines count: the line is the file's own.
    path = write(tmp_path / "d.csv", f"a,b,c\n\n1,2,0\n3,4,1\n\n5,6,0\n7,8,{cell}\n")
    with raises(DataError, f"{path}: line 7, column 3 ('c'): expected a finite number, found '{cell}'"):
        loaders.load_csv(path)
    path.write_text(f"1,2,0\n\n3,4,1\n\n\n5,6,0\n7,{cell},1\n")
    with raises(DataError, f"{path}: line 7, column 2: expected a finite number, found '{cell}'"):
        loaders.load_csv(path)


def test_csv_non_finite_line_across_blocks_and_quoted_newlines(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders.csv_files, "_CSV_BLOCK", 2)  # the file is parsed two rows at a time
    path = write(tmp_path / "d.csv", '1,2,0\n3,4,1\n5,"6\n",1\n7,8,1\n9,10,1\n11,nan,0\n')
    # The quoted cell spans lines 3 and 4, so the bad cell is on line 7.
    with raises(DataError, f"{path}: line 7, column 2: expected a finite number, found 'nan'"):
        loaders.load_csv(path)


def test_csv_value_beyond_float32(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n1e39,4,1\n")  # finite in float64, inf in float32
    with raises(DataError, f"{path}: line 2, column 1: expected a number within float32's range "
                           "(about ±3.4e+38), found '1e39'"):
        loaders.load_csv(path)


@pytest.mark.parametrize("text, why", [
    ("a,b,label\n", "a header and no rows"),
    ("a,b,label\n\n  \n", "a header and no rows"),
    ("", "the file holds no rows"),
    ("\n\n", "the file holds no rows"),
])
def test_csv_empty(tmp_path, text, why):
    path = write(tmp_path / "d.csv", text)
    with raises(DataError, f"{path}: the data set is empty ({why})"):
        loaders.load_csv(path)


# --- npz -------------------------------------------------------------------------------


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


# --- svmlight --------------------------------------------------------------------------


def test_svmlight_round_trip(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(1)
    x = rng.integers(-1, 2, (6, 256)).astype(np.float64) * rng.random((6, 256))
    y = np.arange(1, 7)  # USPS-style labels from 1
    dump_svmlight_file(x, y, str(tmp_path / "usps.svm"), zero_based=False)  # libsvm's 1-based indices
    lx, ly = loaders.load_svmlight(tmp_path / "usps.svm", n_features=256)
    assert lx.dtype == np.float32 and lx.shape == (6, 256)
    np.testing.assert_allclose(lx, x, rtol=1e-6)
    assert ly.dtype == np.int32
    np.testing.assert_array_equal(ly, y)


def test_svmlight_malformed(tmp_path):
    path = write(tmp_path / "bad.svm", "1 1:0.5 two:3\n")
    with pytest.raises(DataError, match="bad.svm: expected svmlight"):
        loaders.load_svmlight(path)


def test_svmlight_non_finite_names_line_and_feature(tmp_path):
    # Comments and blank lines count: the line is the file's own.
    path = write(tmp_path / "d.svm", "# USPS-like\n1 1:0.5 2:1\n\n2 qid:3 1:1 3:inf # 4:nan\n1 2:1\n")
    with raises(DataError, f"{path}: line 4, feature 3: expected a finite number, found 'inf'"):
        loaders.load_svmlight(path)
    path.write_text("1 1:0.5\n\n2 2:1\nnan 1:1\n")
    with raises(DataError, f"{path}: line 4, the label: expected a finite number, found 'nan'"):
        loaders.load_svmlight(path)
    gz = tmp_path / "d.svm.gz"
    gz.write_bytes(gzip.compress(b"1 1:1\n\n2 2:1e39\n"))
    with raises(DataError, f"{gz}: line 3, feature 2: expected a number within float32's range"):
        loaders.load_svmlight(gz)


def test_svmlight_empty(tmp_path):
    path = write(tmp_path / "d.svm", "# nothing but a comment\n\n")
    with raises(DataError, f"{path}: the data set is empty (no lines of data)"):
        loaders.load_svmlight(path)


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

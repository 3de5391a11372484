"""The data module: loaders on small files written here, bundled sets, labels,
standardisation and splits."""

from __future__ import annotations

import gzip
import json
import struct
import sys

import numpy as np
import pytest

from fnnet import data
from fnnet.data import DataError


def write_idx(path, array, magic=None, extra=b"", cut=0):
    """An IDX file of unsigned bytes: big-endian magic, one int32 per dimension, data."""
    array = np.asarray(array, np.uint8)
    magic = 0x800 | array.ndim if magic is None else magic
    raw = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes() + extra
    raw = raw[:len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


@pytest.fixture
def mnist_like():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 3, 4), dtype=np.uint8), rng.integers(0, 10, 5, dtype=np.uint8)


# --- IDX / MNIST ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, mnist_like, suffix):
    images, labels = mnist_like
    x, y = data.load_idx(write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images),
                         write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels))
    assert x.dtype == np.float32 and x.shape == (5, 12)
    assert y.dtype == np.int32 and y.shape == (5,)
    np.testing.assert_array_equal(x, images.reshape(5, 12).astype(np.float32))  # unscaled 0..255
    np.testing.assert_array_equal(y, labels)


def test_idx_truncated(tmp_path, mnist_like):
    images, labels = mnist_like
    bad = write_idx(tmp_path / "images", images, cut=7)
    with pytest.raises(DataError, match=r"truncated.*60 bytes of data, found 53"):
        data.load_idx(bad, write_idx(tmp_path / "labels", labels))


def test_idx_too_long(tmp_path, mnist_like):
    images, labels = mnist_like
    bad = write_idx(tmp_path / "labels", labels, extra=b"\0\0")
    with pytest.raises(DataError, match=r"too long.*5 bytes of data, found 7"):
        data.load_idx(write_idx(tmp_path / "images", images), bad)


def test_idx_damaged_gzip(tmp_path, mnist_like):
    path = write_idx(tmp_path / "images.gz", mnist_like[0])
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="damaged"):
        data.load_idx(path, write_idx(tmp_path / "labels", mnist_like[1]))


def test_idx_wrong_magic(tmp_path, mnist_like):
    images, labels = mnist_like
    # The labels file given where the images file belongs.
    swapped = write_idx(tmp_path / "labels", labels)
    with pytest.raises(DataError, match=r"expected IDX images magic number 2051 .*found 2049"):
        data.load_idx(swapped, swapped)


def test_idx_counts_differ(tmp_path, mnist_like):
    images, labels = mnist_like
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        data.load_idx(write_idx(tmp_path / "images", images), write_idx(tmp_path / "labels", labels[:4]))


def test_load_mnist_directory(tmp_path, mnist_like):
    images, labels = mnist_like
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    x, y = data.load_mnist(tmp_path, split="test")
    assert x.shape == (5, 12)
    np.testing.assert_array_equal(y, labels)
    # No train files: the error lists the names it tried.
    with pytest.raises(FileNotFoundError, match=r"looked for train-images-idx3-ubyte, train-images-idx3-ubyte\.gz"):
        data.load_mnist(tmp_path)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_mnist(tmp_path, split="val")


# --- CSV -------------------------------------------------------------------------------


def test_csv_without_header(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,0\n3,4.5,1\n\n5,6,2\n")
    x, y = data.load_csv(path)
    np.testing.assert_array_equal(x, np.array([[1, 2], [3, 4.5], [5, 6]], np.float32))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 1, 2])
    assert y.dtype == np.int32
    x0, y0 = data.load_csv(path, label_column=0)
    np.testing.assert_array_equal(y0, [1, 3, 5])
    np.testing.assert_array_equal(x0[:, 1], [0, 1, 2])


def test_csv_with_header_and_named_label(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("label,a,b\n7,1,2\n9,3,4\n")
    x, y = data.load_csv(path, label_column="label")  # header detected: no cell is a number
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(y, [7, 9])
    with pytest.raises(DataError, match=r"column named 'kind', found columns \['label', 'a', 'b'\]"):
        data.load_csv(path, label_column="kind")
    # A spreadsheet's byte-order mark does not stick to the first name.
    path.write_bytes(b"\xef\xbb\xbfa,label\n1,2\n")
    np.testing.assert_array_equal(data.load_csv(path, label_column="label")[1], [2])
    path.write_bytes(b"a,label\n1,\xff\n")
    with pytest.raises(DataError, match="d.csv: expected UTF-8 CSV text"):
        data.load_csv(path)


def test_csv_float_labels_are_targets(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,0.5\n2,1.5\n")
    x, t = data.load_csv(path)
    assert t.dtype == np.float32 and t.shape == (2, 1)
    np.testing.assert_array_equal(t[:, 0], [0.5, 1.5])


def test_csv_non_numeric_cell(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError, match=r"line 3, column 2 \('b'\): expected a number, found 'oops'"):
        data.load_csv(path)
    path.write_text("1,2,0\n3,4,1\n5,6,x\n")
    with pytest.raises(DataError, match=r"line 3, column 3: expected a number, found 'x'"):
        data.load_csv(path)


def test_csv_ragged_and_ambiguous(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,0\n3,4\n")
    with pytest.raises(DataError, match="line 2: expected 3 columns, found 2"):
        data.load_csv(path)
    path.write_text("id,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="line 1 mixes numbers and text.*header=True or header=False"):
        data.load_csv(path)
    with pytest.raises(DataError, match="line 1, column 1"):
        data.load_csv(path, header=False)
    assert data.load_csv(path, header=True)[0].shape == (1, 2)


# --- npz -------------------------------------------------------------------------------


def test_npz_round_trip(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(4, 2, 3)
    y = np.array([0, 1, 1, 0], np.int64)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    lx, ly = data.load_npz(tmp_path / "d.npz")
    assert lx.dtype == np.float32 and lx.shape == (4, 6)
    np.testing.assert_array_equal(lx, x.reshape(4, 6))
    assert ly.dtype == np.int32
    np.testing.assert_array_equal(ly, y)


def test_npz_without_y(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 2)), labels=np.zeros(2))
    with pytest.raises(DataError, match=r"found \['labels', 'x'\] \(missing 'y'\)"):
        data.load_npz(tmp_path / "d.npz")


def test_npz_object_array_refused(tmp_path):
    y = np.array([{"a": 1}, None], dtype=object)
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 2)), y=y)
    with pytest.raises(DataError, match="object array; refusing to unpickle"):
        data.load_npz(tmp_path / "d.npz")


def test_npz_pickle_refused(tmp_path):
    import pickle

    (tmp_path / "d.npz").write_bytes(pickle.dumps({"x": [[1.0]], "y": [0]}))
    with pytest.raises(DataError, match=r"not one \(pickles are never loaded\)"):
        data.load_npz(tmp_path / "d.npz")


def test_npz_rows_differ(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.zeros(2, np.int32))
    with pytest.raises(DataError, match=r"y with 3 rows .* found shape \(2,\)"):
        data.load_npz(tmp_path / "d.npz")


# --- svmlight --------------------------------------------------------------------------


def test_svmlight_round_trip(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(1)
    x = rng.integers(-1, 2, (6, 256)).astype(np.float64) * rng.random((6, 256))
    y = np.arange(1, 7)  # USPS-style labels from 1
    dump_svmlight_file(x, y, str(tmp_path / "usps.svm"), zero_based=False)  # libsvm's 1-based indices
    lx, ly = data.load_svmlight(tmp_path / "usps.svm", n_features=256)
    assert lx.dtype == np.float32 and lx.shape == (6, 256)
    np.testing.assert_allclose(lx, x, rtol=1e-6)
    assert ly.dtype == np.int32
    np.testing.assert_array_equal(ly, y)


def test_svmlight_malformed(tmp_path):
    path = tmp_path / "bad.svm"
    path.write_text("1 1:0.5 two:3\n")
    with pytest.raises(DataError, match="bad.svm: expected svmlight"):
        data.load_svmlight(path)


# --- load dispatch, missing files ------------------------------------------------------


def test_load_dispatch(tmp_path, mnist_like):
    images, labels = mnist_like
    np.savez(tmp_path / "a.npz", x=np.ones((2, 3)), y=np.array([0, 1]))
    (tmp_path / "b.csv").write_text("1,2,1\n")
    (tmp_path / "c.txt").write_text("1,2,3,1\n")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    assert data.load(tmp_path / "a.npz")[0].shape == (2, 3)
    assert data.load(tmp_path / "b.csv")[0].shape == (1, 2)
    assert data.load(tmp_path / "c.txt", format="csv")[0].shape == (1, 3)
    np.testing.assert_array_equal(data.load(tmp_path / "train-images-idx3-ubyte.gz")[1], labels)
    assert data.load(tmp_path)[0].shape == (5, 12)  # a directory is MNIST
    with pytest.raises(ValueError, match=r"'\.txt'.*Pass format= one of npz, csv, svmlight"):
        data.load(tmp_path / "c.txt")
    with pytest.raises(ValueError, match="unknown format 'parquet'"):
        data.load(tmp_path / "a.npz", format="parquet")
    # label_column is for CSV: other formats take only its default.
    assert data.load(tmp_path / "b.csv", label_column=0)[1].tolist() == [1]
    assert data.load(tmp_path / "a.npz", label_column=-1)[0].shape == (2, 3)
    with pytest.raises(ValueError, match="label_column='y' applies to CSV files only"):
        data.load(tmp_path / "a.npz", label_column="y")


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere.npz"
    for load in (data.load, data.load_npz, data.load_csv, data.load_svmlight):
        with pytest.raises(FileNotFoundError, match="nowhere.npz"):
            load(missing)
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        data.load_idx(missing, missing)


def test_directory_as_file_names_the_path(tmp_path):
    with pytest.raises(OSError, match=str(tmp_path.name)):
        data.load_csv(tmp_path)


# --- bundled sets, labels --------------------------------------------------------------


def test_digits():
    x, y = data.digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int32
    assert x.min() == 0 and x.max() == 16  # raw values, not scaled
    np.testing.assert_array_equal(np.unique(y), np.arange(10))


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    with pytest.raises(ImportError, match=r'pip install "fnnet\[digits\]"'):
        data.digits()


def test_worked_example():
    from fnnet import worked_example

    x, t = data.worked_example()
    assert x.shape == t.shape == (1, 2) and x.dtype == t.dtype == np.float32
    np.testing.assert_allclose(x[0], worked_example.X)
    np.testing.assert_allclose(t[0], worked_example.T)


def test_encode_labels_usps():
    y = np.array([10, 1, 5, 10, 2, 3, 4, 6, 7, 8, 9])
    codes, classes = data.encode_labels(y)
    assert codes.dtype == np.int32
    np.testing.assert_array_equal(classes, np.arange(1, 11))
    np.testing.assert_array_equal(codes, y - 1)
    np.testing.assert_array_equal(classes[codes], y)
    with pytest.raises(ValueError, match=r"shape \(n,\), got shape \(2, 2\)"):
        data.encode_labels(np.zeros((2, 2)))


# --- standardisation and splits --------------------------------------------------------


def test_standardizer_uses_training_statistics():
    train = np.array([[1, 5, 0], [3, 5, 0], [5, 5, 0]], np.float32)
    other = np.array([[101, 7, 2]], np.float32)
    s = data.Standardizer.fit(train)
    np.testing.assert_allclose(s.mean, [3, 5, 0])
    np.testing.assert_allclose(s.std, [np.sqrt(8 / 3), 1, 1])  # constant columns: std 1
    z = s.apply(train)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_array_equal(z[:, 1:], 0)  # constant columns map to 0
    # Other data is mapped with the training statistics, not its own.
    np.testing.assert_allclose(s.apply(other), [[98 / np.sqrt(8 / 3), 2, 2]], rtol=1e-6)


def test_standardizer_json_round_trip():
    s = data.Standardizer.fit(np.random.default_rng(2).normal(3, 2, (20, 4)))
    back = data.Standardizer.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.mean.dtype == back.std.dtype == np.float32
    np.testing.assert_array_equal(back.mean, s.mean)
    np.testing.assert_array_equal(back.std, s.std)
    with pytest.raises(ValueError, match="positive"):
        data.Standardizer.from_dict({"mean": [0.0], "std": [0.0]})


def test_standardizer_shape_errors():
    s = data.Standardizer.fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"shape \(n, 2\), got \(3, 3\)"):
        s.apply(np.ones((3, 3)))
    with pytest.raises(ValueError, match="at least one example"):
        data.Standardizer.fit(np.ones((0, 2)))


def test_split_sizes_determinism_disjointness():
    x = np.arange(100, dtype=np.float32).reshape(50, 2)
    y = np.arange(50)
    (xa, ya), (xv, yv), (xt, yt) = data.train_val_test_split(x, y, val=0.1, test=0.2, seed=3)
    assert (len(ya), len(yv), len(yt)) == (35, 5, 10)
    np.testing.assert_array_equal(xa[:, 0], 2 * ya)  # rows stay paired
    assert sorted(np.concatenate([ya, yv, yt]).tolist()) == list(range(50))  # disjoint, complete
    again = data.train_val_test_split(x, y, val=0.1, test=0.2, seed=3)
    np.testing.assert_array_equal(again[2][1], yt)
    other = data.train_val_test_split(x, y, val=0.1, test=0.2, seed=4)
    assert not np.array_equal(other[2][1], yt)
    train, val, test = data.train_val_test_split(x, y, val=0, test=0.2)
    assert val is None and len(train[1]) == 40 and len(test[1]) == 10


@pytest.mark.parametrize("val, test, message", [
    (-0.1, 0.2, r"val fraction must be a number in \[0, 1\), got -0.1"),
    (0.1, 1.0, r"test fraction must be a number in \[0, 1\), got 1.0"),
    (0.5, 0.5, "sum to less than 1"),
    ("0.1", 0.2, "val fraction"),
    (0.001, 0.2, "leaves the val split empty"),
])
def test_split_bad_fractions(val, test, message):
    with pytest.raises(ValueError, match=message):
        data.train_val_test_split(np.zeros((50, 2)), np.zeros(50), val=val, test=test)

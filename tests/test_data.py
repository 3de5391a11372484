"""The data module: bundled sets, labels, standardisation and splits (the file loaders
are tested in test_loaders.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from fnnet import data

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


def test_standardizing_values_near_float32s_largest_does_not_overflow():
    x = np.array([[3.4e38, 1.0], [-3.4e38, 2.0], [0.0, 3.0]], np.float32)
    z = data.Standardizer.fit(x).apply(x)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z[:, 0], [1.2247449, -1.2247449, 0.0], rtol=1e-6)

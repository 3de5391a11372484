"""svmlight/libsvm files (how USPS comes): every bad line named."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from fnnet import loaders
from fnnet.loaders import DataError
from tests.support.files import raises, write


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

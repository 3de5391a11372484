"""IDX files (MNIST's), raw or gzipped, and MNIST's directory: every bad file named."""

from __future__ import annotations

import numpy as np
import pytest

from fnnet import loaders
from fnnet.loaders import DataError
from tests.support.files import raises, write_idx


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

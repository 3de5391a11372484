"""Data onto the device: checked on the host, or on the device when already there."""

import jax.numpy as jnp
import numpy as np
import pytest

from fnnet.training import device_data


def test_host_arrays_are_checked_and_cast():
    x, t = device_data.to_device(np.ones((3, 2), np.float64), np.array([0, 1, 1]), (2,), (2,), jnp.float32)
    assert x.dtype == jnp.float32 and t.dtype == jnp.int32 and x.shape == (3, 2)


def test_clean_device_arrays_are_passed_through_uncopied():
    x, t = jnp.ones((3, 2), jnp.float32), jnp.array([0, 1, 1], jnp.int32)
    got = device_data.to_device(x, t, (2,), (2,), jnp.float32)
    assert got[0] is x and got[1] is t


@pytest.mark.parametrize("x, t, message", [
    (np.ones((0, 2)), np.zeros(0, np.int32), r"data: the data set is empty \(0 examples\)"),
    (np.ones((3, 2)), np.array([0, 1, 2]), r"labels must be in \[0, 2\) for 2 outputs, got values in \[0, 2\]"),
    (jnp.ones((3, 2)), jnp.array([0, 1, 5], jnp.int32), r"labels must be in \[0, 2\)"),  # found on the device
    (np.array([[1.0, np.inf]] * 3), np.zeros(3, np.int32), "features must be finite; found inf at row 0, column 1"),
    (np.ones((3, 2)), np.ones((3, 3)), r"expected targets of shape \(3, 2\) or 3 integer labels"),
])
def test_what_is_wrong_is_named(x, t, message):
    with pytest.raises(ValueError, match=message):
        device_data.to_device(x, t, (2,), (2,), jnp.float32)


def test_classification_is_told_from_the_targets():
    assert device_data.is_classification(np.array([0, 1]))
    assert device_data.is_classification(np.eye(3))
    assert not device_data.is_classification(np.full((2, 2), 0.5))

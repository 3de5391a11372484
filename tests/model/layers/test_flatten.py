"""Flatten: an example's values in a row, C order, and δ reshaped back."""

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import Flatten


def test_flatten_is_a_c_order_reshape_and_its_backward_reshapes_back():
    layer = Flatten()
    x = jnp.arange(2 * 3 * 4 * 5, dtype=jnp.float32).reshape(2, 3, 4, 5)
    assert layer.out_shape((3, 4, 5)) == (60,) and layer.param_shapes((3, 4, 5)) == {}
    a, cache = layer.forward({}, x)
    np.testing.assert_array_equal(a, np.asarray(x).reshape(2, 60))
    g = jax.random.normal(jax.random.key(0), (2, 60))
    back, grads = layer.backward({}, cache, layer.delta(cache, g))
    assert grads == {}
    np.testing.assert_array_equal(back, np.asarray(g).reshape(2, 3, 4, 5))

"""Initial weights: the default laws by activation, names and callables, the matrix view."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Maxout, Network


@pytest.mark.parametrize("activation, var_fn", [
    ("relu", lambda n_in, n_out: 2 / n_in),            # He
    ("tanh", lambda n_in, n_out: 2 / (n_in + n_out)),  # Glorot
    ("sigmoid", lambda n_in, n_out: 2 / (n_in + n_out)),
])
def test_default_init_variance(activation, var_fn):
    n_in, n_out = 400, 300
    w = Network(n_in, (Dense(n_out, activation),)).init(jax.random.key(1))[0]["w"]
    assert abs(float(jnp.var(w)) / var_fn(n_in, n_out) - 1) < 0.05


def test_explicit_w_init_overrides_the_default():
    w = Network(400, (Dense(300, "relu", w_init="glorot"),)).init(jax.random.key(1))[0]["w"]
    assert abs(float(jnp.var(w)) / (2 / 700) - 1) < 0.05


def test_initializer_callables_see_the_matrix_view_and_seeds_keep_their_weights():
    key = jax.random.key(1)
    dense = Network(400, (Dense(300, "relu"),)).init(key)[0]
    layer_key = jax.random.split(key, 1)[0]  # Network.init: one key per layer
    he = jax.nn.initializers.he_normal(in_axis=0, out_axis=1)(layer_key, (400, 300), jnp.float32)
    np.testing.assert_array_equal(dense["w"], he)  # b_init did not move the weights' draw
    # Maxout: a (in, out·pieces) view, so a default-axis initializer gets fan_in = in.
    w = Network(400, (Maxout(100, 3, w_init=jax.nn.initializers.he_normal()),)).init(key)[0]["w"]
    assert w.shape == (400, 100, 3) and abs(float(jnp.var(w)) / (2 / 400) - 1) < 0.05
    p = Network(4, (Dense(3, w_init=jax.nn.initializers.ones, b_init=jax.nn.initializers.constant(0.5)),
                    Maxout(2, 2, b_init=jax.nn.initializers.normal(1.0)))).init(key)
    np.testing.assert_array_equal(p[0]["w"], np.ones((4, 3)))
    np.testing.assert_array_equal(p[0]["b"], np.full(3, 0.5))
    assert p[1]["b"].shape == (2, 2) and np.all(np.asarray(p[1]["b"]) != 0)


def test_to_config_rejects_initializer_callables_but_keeps_names():
    net = Network(2, (Dense(3, "relu", w_init="lecun", b_init="zeros"),))
    assert Network.from_config(net.to_config()) == net
    with pytest.raises(ValueError, match=r"layers\[0\] \(Dense\) w_init=.* use one of the names \['glorot'"):
        Network(2, (Dense(3, w_init=jax.nn.initializers.ones),)).to_config()
    with pytest.raises(ValueError, match=r"layers\[0\] \(Maxout\) b_init=.* use one of the names \['zeros'\]"):
        Network(2, (Maxout(3, b_init=jax.nn.initializers.ones),)).to_config()

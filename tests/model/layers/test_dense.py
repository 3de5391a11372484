"""Dense: the notes' matrix operation, with or without a bias, any activation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import Dense, Maxout, Network

NO_BIAS = Network(5, (Dense(7, "tanh", use_bias=False), Maxout(4, 3, use_bias=False), Dense(3, use_bias=False)))


def test_dense_is_the_matrix_operation_of_the_notes():
    net = Network(3, (Dense(2, "sigmoid"),))
    params = net.init(jax.random.key(0))
    x = np.array([[1.0, -1.0, 0.5]], np.float32)
    z = x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"])
    np.testing.assert_allclose(net.apply(params, x), 1 / (1 + np.exp(-z)), rtol=1e-6)


def test_use_bias_false_has_only_w_and_is_a_plain_product():
    params = NO_BIAS.init(jax.random.key(0))
    assert [sorted(e) for e in params] == [["w"], ["w"], ["w"]]
    assert NO_BIAS.layers[0].param_shapes((5,)) == {"w": (5, 7)}
    net = Network(3, (Dense(2, "sigmoid", use_bias=False),))
    p = net.init(jax.random.key(1))
    x = np.array([[1.0, -1.0, 0.5]], np.float32)
    np.testing.assert_allclose(net.apply(p, x), 1 / (1 + np.exp(-(x @ np.asarray(p[0]["w"])))), rtol=1e-6)
    with pytest.raises(ValueError, match=r"params\[0\] \(Dense\): expected a dict with keys \['w'\], got \['b', 'w'\]"):
        net.apply([{"w": p[0]["w"], "b": jnp.zeros(2)}], x)
    assert Network.from_config(NO_BIAS.to_config()) == NO_BIAS
    assert NO_BIAS.to_config()["layers"][0]["use_bias"] is False


def test_use_bias_false_backprop_passes_the_checker(x64):
    params = NO_BIAS.init(jax.random.key(0), jnp.float64)
    x = jax.random.normal(jax.random.key(1), (2, 3, 5), jnp.float64)  # leading axes too
    t = jax.random.normal(jax.random.key(2), (2, 3, 3), jnp.float64)
    report = fnnet.gradcheck.assert_gradients_close(NO_BIAS, "squared_error", params, x, t)
    grads = fnnet.backprop.loss_and_grad(NO_BIAS, "squared_error", params, x, t)[1]
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert report.worst("backprop") < 1e-13


def test_an_activation_that_changes_the_shape_of_z_is_named():
    net = Network(3, (Dense(4, "tanh"), Dense(2, lambda z: jnp.concatenate([z, z], axis=-1))))
    params = net.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"layers\[1\] \(Dense\): Dense activation '<lambda>' changed the "
                                         r"shape: z \(5, 2\) -> a \(5, 4\)"):
        net.apply(params, jnp.ones((5, 3)))


def test_a_callable_activation_gets_its_derivative_from_jax():
    net = Network(3, (Dense(4, jnp.sin), Dense(2, (jnp.cos, lambda z, a: -jnp.sin(z)))))
    assert net == Network(3, (Dense(4, jnp.sin), net.layers[1]))  # equal, so jit caches hit
    assert hash(net.layers[0]) == hash(Dense(4, jnp.sin))
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 3))
    z1 = x @ params[0]["w"] + params[0]["b"][None, :]
    expected = jnp.cos(jnp.sin(z1) @ params[1]["w"] + params[1]["b"][None, :])
    np.testing.assert_allclose(net.apply(params, x), expected, rtol=1e-6)
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda p: jnp.asarray(p, jnp.float64), params)
        fnnet.gradcheck.assert_gradients_close(net, "squared_error", p64, jnp.asarray(x, jnp.float64),
                                               jnp.ones((5, 2), jnp.float64))


def test_registered_activations_by_object_or_function_are_stored_by_name():
    assert Dense(3, fnnet.activations.get("tanh")) == Dense(3, "tanh")
    assert Dense(3, jax.nn.relu).activation == "relu" and Dense(3, jax.nn.gelu).activation == "gelu"
    net = Network(2, (Dense(3, jax.nn.silu),))
    assert Network.from_config(net.to_config()) == net


def test_use_bias_false_params_round_trip_through_a_checkpoint(tmp_path):
    params = NO_BIAS.init(jax.random.key(0))
    fnnet.checkpoint.save(tmp_path / "p.npz", params, {"network": NO_BIAS.to_config()})
    loaded, config = fnnet.checkpoint.load(tmp_path / "p.npz", NO_BIAS.init(jax.random.key(1)))
    assert Network.from_config(config["network"]) == NO_BIAS
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fnnet.checkpoint.load_params(tmp_path / "p.npz")[1]["w"], params[1]["w"])

"""Networks as data, parameters as plain pytrees, a pure apply; bad input is named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import Dense, Dropout, Maxout, Network

NET = Network(4, (Dense(8, "relu"), Dropout(0.5), Maxout(6, 3), Dense(3, "softmax")))


def test_network_is_frozen_hashable_and_holds_no_arrays():
    same = Network(4, [Dense(8, "relu"), Dropout(0.5), Maxout(6, 3), Dense(3, "softmax")])
    assert same == NET and hash(same) == hash(NET)
    assert NET != Network(4, (Dense(8, "tanh"), Dropout(0.5), Maxout(6, 3), Dense(3, "softmax")))
    with pytest.raises(AttributeError):
        NET.in_features = 5
    assert NET.widths == (4, 8, 8, 6, 3) and NET.out_features == 3


def test_params_are_a_plain_list_of_dicts_with_the_documented_shapes():
    params = NET.init(jax.random.key(0))
    assert isinstance(params, list) and len(params) == 4
    assert params[0]["w"].shape == (4, 8) and params[0]["b"].shape == (8,)
    assert params[1] == {}
    assert params[2]["w"].shape == (8, 6, 3) and params[2]["b"].shape == (6, 3)
    assert params[3]["w"].shape == (6, 3) and params[3]["b"].shape == (3,)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    doubled = jax.tree.map(lambda p: 2 * p, params)
    np.testing.assert_array_equal(doubled[0]["w"], 2 * params[0]["w"])
    flat = {f"{i}.{k}": np.asarray(v) for i, e in enumerate(params) for k, v in e.items()}
    assert set(flat) == {"0.w", "0.b", "2.w", "2.b", "3.w", "3.b"}


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


def test_apply_batched_unbatched_jit_and_vmap_agree():
    params = NET.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 4))
    y = NET.apply(params, x)
    assert y.shape == (5, 3)
    np.testing.assert_allclose(jnp.sum(y, axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(NET.apply(params, x[2]), y[2], rtol=1e-6)
    np.testing.assert_allclose(jax.jit(NET.apply)(params, x), y, rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(NET.apply, in_axes=(None, 0))(params, x), y, rtol=1e-6)
    # net as a static argument
    apply = jax.jit(lambda net, p, x: net.apply(p, x), static_argnums=0)
    np.testing.assert_allclose(apply(NET, params, x), y, rtol=1e-6)


def test_dense_is_the_matrix_operation_of_the_notes():
    net = Network(3, (Dense(2, "sigmoid"),))
    params = net.init(jax.random.key(0))
    x = np.array([[1.0, -1.0, 0.5]], np.float32)
    z = x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"])
    np.testing.assert_allclose(net.apply(params, x), 1 / (1 + np.exp(-z)), rtol=1e-6)


def test_maxout_is_the_max_of_its_pieces_and_ties_go_to_the_first():
    net = Network(2, (Maxout(3, 4),))
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 2))
    pieces = jnp.einsum("bi,ijk->bjk", x, params[0]["w"]) + params[0]["b"][None]
    np.testing.assert_allclose(net.apply(params, x), jnp.max(pieces, axis=-1), rtol=1e-6)
    # all pieces equal: the whole gradient goes to piece 0
    tied = [{"w": jnp.ones((2, 3, 4)), "b": jnp.zeros((3, 4))}]
    g = jax.grad(lambda p: jnp.sum(net.apply(p, x)))(tied)[0]["w"]
    assert np.all(np.asarray(g[..., 1:]) == 0) and np.any(np.asarray(g[..., 0]) != 0)


def test_maxout_can_be_relu():
    # pieces (z, 0): max(z, 0) = relu(z)
    w = jnp.stack([jnp.eye(3), jnp.zeros((3, 3))], axis=-1)
    params = [{"w": w, "b": jnp.zeros((3, 2))}]
    x = jnp.array([[-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(Network(3, (Maxout(3, 2),)).apply(params, x), jax.nn.relu(x))


def test_dropout_needs_a_key_in_training_mode():
    params = NET.init(jax.random.key(0))
    x = jnp.ones((2, 4))
    with pytest.raises(ValueError, match=r"layers \[1\] \(Dropout\) need key="):
        NET.apply(params, x, train=True)
    NET.apply(params, x)  # inference needs no key
    Network(4, (Dropout(0.0), Dense(2))).apply(Network(4, (Dropout(0.0), Dense(2))).init(
        jax.random.key(0)), x, train=True)  # rate 0 draws nothing


def test_dropout_masks_depend_on_the_key_only():
    net = Network(1000, (Dropout(0.3),))
    x = jnp.ones((1, 1000))
    a = net.apply([{}], x, key=jax.random.key(0), train=True)
    b = net.apply([{}], x, key=jax.random.key(0), train=True)
    c = net.apply([{}], x, key=jax.random.key(1), train=True)
    np.testing.assert_array_equal(a, b)
    assert np.any(np.asarray(a) != np.asarray(c))
    kept = np.asarray(a) != 0
    assert abs(kept.mean() - 0.7) < 0.05
    np.testing.assert_allclose(np.asarray(a)[kept], 1 / 0.7, rtol=1e-6)  # inverted scaling


def test_notes_dropout_rule_scales_at_test_time():
    notes_rule = Network(1000, (Dropout(0.3, inverted=False),))
    x = jnp.ones((1, 1000))
    train = np.asarray(notes_rule.apply([{}], x, key=jax.random.key(0), train=True))
    assert set(np.unique(train)) == {0.0, 1.0}
    np.testing.assert_allclose(notes_rule.apply([{}], x), 0.7, rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: Dropout(1.0), r"rate must be a number in \[0, 1\), got 1.0"),
    (lambda: Dropout(-0.1), r"rate must be a number in \[0, 1\)"),
    (lambda: Dense(0), "features must be a positive int, got 0"),
    (lambda: Dense(3, "swish"), "unknown activation 'swish'"),
    (lambda: Maxout(3, 0), "pieces must be a positive int"),
    (lambda: Network(0, (Dense(2),)), "in_features must be a positive int"),
    (lambda: Network(2, ()), "layers must be a non-empty list"),
    (lambda: Network(2, ("dense",)), r"layers\[0\] must be one of"),
])
def test_bad_descriptions_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_input_width_mismatch_is_named():
    params = NET.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, 4\) or \(4,\), got \(2, 5\)"):
        NET.apply(params, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"got \(1, 2, 4\)"):
        NET.apply(params, jnp.ones((1, 2, 4)))


def test_params_that_do_not_match_the_network_are_named():
    params = NET.init(jax.random.key(0))
    with pytest.raises(ValueError, match="expected a list of 4 entries, one per layer, got a list of 3"):
        NET.apply(params[:3], jnp.ones((1, 4)))
    bad = [dict(e) for e in params]
    bad[3]["w"] = jnp.ones((6, 4))
    with pytest.raises(ValueError, match=r"params\[3\]\['w'\] \(Dense\): expected shape \(6, 3\), got \(6, 4\)"):
        NET.apply(bad, jnp.ones((1, 4)))
    bad = [dict(e) for e in params]
    del bad[0]["b"]
    with pytest.raises(ValueError, match=r"params\[0\] \(Dense\): expected a dict with keys \['b', 'w'\]"):
        NET.apply(bad, jnp.ones((1, 4)))


def test_integer_parameters_are_an_error_not_a_zero_output():
    params = NET.init(jax.random.key(0))
    bad = [dict(e) for e in params]
    bad[0]["w"] = jnp.ones(bad[0]["w"].shape, jnp.int32)
    with pytest.raises(ValueError, match=r"params\[0\]\['w'\] \(Dense\): expected floating-point values, got int32"):
        NET.apply(bad, jnp.ones((1, 4)))


def test_float64_init_outside_x64_is_an_error():
    with pytest.raises(ValueError, match="enable_x64"):
        NET.init(jax.random.key(0), jnp.float64)


def test_mlp_builds_the_usual_stack():
    net = fnnet.mlp([64, 128, 10], activation="relu", dropout=0.5)
    assert net.layers == (Dense(128, "relu"), Dropout(0.5), Dense(10, "identity"))
    assert net.in_features == 64

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


def test_a_networks_remembered_hash_is_not_carried_into_a_copy_from_another_process():
    import os
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    hash(NET)  # remembered now
    code = ("import pickle, sys; from tests.test_network import NET; "
            "copy = pickle.loads(sys.stdin.buffer.read()); print(copy == NET and hash(copy) == hash(NET))")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(NET), capture_output=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "PYTHONHASHSEED": "random"})
    assert out.stdout.strip() == b"True"


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
    (lambda: Network(2, ("dense",)), r"layers\[0\] \(str\) is not a layer: it lacks param_shapes, init"),
    (lambda: Dense(3, w_init="xavier"), r"unknown w_init 'xavier'; expected one of \['glorot', 'he', 'lecun'\]"),
    (lambda: Dense(3, b_init="he"), r"unknown b_init 'he'; expected one of \['zeros'\]"),
    (lambda: Dense(3, use_bias=1), "use_bias must be True or False, got 1"),
    (lambda: Dense(3, 42), "unknown activation 42"),
])
def test_bad_descriptions_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_input_width_mismatch_is_named():
    params = NET.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, ..., 4\) or \(4,\), got \(2, 5\)"):
        NET.apply(params, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"got \(3, 2, 5\)"):
        NET.apply(params, jnp.ones((3, 2, 5)))
    with pytest.raises(ValueError, match=r"got \(\)"):
        NET.apply(params, jnp.ones(()))


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


# ------------------------------------------------------------------ leading axes


def test_any_leading_axes_are_flattened_into_the_batch_and_restored():
    params = NET.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (2, 3, 5, 4))
    y = NET.apply(params, x)
    assert y.shape == (2, 3, 5, 3)
    np.testing.assert_allclose(y.reshape(30, 3), NET.apply(params, x.reshape(30, 4)), rtol=1e-6)
    np.testing.assert_allclose(jax.jit(NET.apply)(params, x), y, rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(NET.apply, in_axes=(None, 1), out_axes=1)(params, x), y, rtol=1e-6)
    assert NET.apply(params, jnp.ones((0, 2, 4))).shape == (0, 2, 3)


def test_forward_with_cache_keeps_the_caches_two_dimensional():
    # The contract backprop relies on: y has x's leading shape, every cache is
    # (prod(leading), features), (1, features) for a single example.
    params = NET.init(jax.random.key(0))
    for lead in [(), (6,), (2, 3), (1, 2, 3)]:
        x = jnp.ones(lead + (4,))
        y, caches = NET.forward_with_cache(params, x, key=jax.random.key(2), train=True)
        n = int(np.prod(lead))
        assert y.shape == lead + (3,)
        assert caches[0].a_prev.shape == (n, 4) and caches[0].z.shape == (n, 8)
        assert caches[1].scale.shape == (n, 8) and caches[2].winner.shape == (n, 6)
        assert caches[3].a.shape == (n, 3)
        np.testing.assert_array_equal(caches[3].a.reshape(y.shape), y)


# ------------------------------------------------------------------ activations as callables


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


def test_to_config_names_an_unregistered_activation_in_one_line():
    net = Network(2, (Dense(3, "tanh"), Dense(1, jnp.sin)))
    with pytest.raises(ValueError, match=r"layers\[1\] \(Dense\) activation=<unregistered activation 'sin'> "
                                         r"cannot be written.*activations.register") as e:
        net.to_config()
    assert "\n" not in str(e.value)


def test_an_activation_that_changes_the_shape_of_z_is_named():
    net = Network(3, (Dense(4, "tanh"), Dense(2, lambda z: jnp.concatenate([z, z], axis=-1))))
    params = net.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"layers\[1\] \(Dense\): Dense activation '<lambda>' changed the "
                                         r"shape: z \(5, 2\) -> a \(5, 4\)"):
        net.apply(params, jnp.ones((5, 3)))


# ------------------------------------------------------------------ initializers and biases


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


NO_BIAS = Network(5, (Dense(7, "tanh", use_bias=False), Maxout(4, 3, use_bias=False), Dense(3, use_bias=False)))


def test_use_bias_false_has_only_w_and_is_a_plain_product():
    params = NO_BIAS.init(jax.random.key(0))
    assert [sorted(e) for e in params] == [["w"], ["w"], ["w"]]
    assert NO_BIAS.layers[0].param_shapes(5) == {"w": (5, 7)}
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


def test_use_bias_false_params_round_trip_through_a_checkpoint(tmp_path):
    params = NO_BIAS.init(jax.random.key(0))
    fnnet.checkpoint.save(tmp_path / "p.npz", params, {"network": NO_BIAS.to_config()})
    loaded, config = fnnet.checkpoint.load(tmp_path / "p.npz", NO_BIAS.init(jax.random.key(1)))
    assert Network.from_config(config["network"]) == NO_BIAS
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fnnet.checkpoint.load_params(tmp_path / "p.npz")[1]["w"], params[1]["w"])

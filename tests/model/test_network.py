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
        NET.in_shape = (5,)
    assert NET.shapes == ((4,), (8,), (8,), (6,), (3,)) and NET.out_features == 3 and NET.in_shape == (4,)


def test_a_networks_remembered_hash_is_not_carried_into_a_copy_from_another_process():
    import os
    import pickle
    import subprocess
    import sys

    from tests.support import ROOT

    hash(NET)  # remembered now
    code = ("import pickle, sys; from tests.model.test_network import NET; "
            "copy = pickle.loads(sys.stdin.buffer.read()); print(copy == NET and hash(copy) == hash(NET))")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(NET), capture_output=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "random"})
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


@pytest.mark.parametrize("make, message", [
    (lambda: Dropout(1.0), r"rate must be a number in \[0, 1\), got 1.0"),
    (lambda: Dropout(-0.1), r"rate must be a number in \[0, 1\)"),
    (lambda: Dense(0), "features must be a positive int, got 0"),
    (lambda: Dense(3, "swish"), "unknown activation 'swish'"),
    (lambda: Maxout(3, 0), "pieces must be a positive int"),
    (lambda: Network(0, (Dense(2),)), r"in_shape must be a positive int \(features\) or a tuple of positive ints"),
    (lambda: Network((8, 0, 1), (Dense(2),)), r"in_shape must be .*got \(8, 0, 1\)"),
    (lambda: Network(True, (Dense(2),)), r"in_shape must be .*got True"),
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
    assert net.in_features == 64 and net.in_shape == (64,)


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


def test_to_config_names_an_unregistered_activation_in_one_line():
    net = Network(2, (Dense(3, "tanh"), Dense(1, jnp.sin)))
    with pytest.raises(ValueError, match=r"layers\[1\] \(Dense\) activation=<unregistered activation 'sin'> "
                                         r"cannot be written.*activations.register") as e:
        net.to_config()
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------ initializers and biases


# Mixed precision: parameters in float32, matrix work in bfloat16.
MIXED_LAYERS = (Dense(64, "relu"), Maxout(32, 3), Dropout(0.2), Dense(10))
MIXED = Network(20, MIXED_LAYERS, compute_dtype="bfloat16")
MIXED_FULL = Network(20, MIXED_LAYERS)


def mixed_problem():
    x = jax.random.normal(jax.random.key(1), (32, 20))
    return MIXED.init(jax.random.key(0)), x, jnp.arange(32) % 10


def test_matmuls_run_in_bfloat16_and_the_output_comes_back_in_float32():
    params, x, _ = mixed_problem()
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
    y = MIXED.apply(params, x)
    assert y.dtype == jnp.float32
    jaxpr = str(jax.make_jaxpr(lambda p: MIXED.apply(p, x))(params))
    assert jaxpr.count("dot_general") == 3 and "preferred_element_type=bfloat16" in jaxpr
    np.testing.assert_allclose(y, MIXED_FULL.apply(params, x), atol=0.1, rtol=0.05)


def test_compute_dtype_must_be_a_float():
    with pytest.raises(ValueError, match="compute_dtype must be a float dtype, got 'int8'"):
        Network(2, (Dense(1),), compute_dtype="int8")

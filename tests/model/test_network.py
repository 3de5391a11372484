"""Networks as data, parameters as plain pytrees, a pure apply; bad input is named."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import (AvgPool1D, AvgPool2D, Conv1D, Conv2D, Dense, Dropout, Flatten, Maxout, MaxPool1D, MaxPool2D,
                   Network, backprop, losses)
from tests.support.nets import CONV1D_NET, CONV_NET, conv_data

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


# ------------------------------------------------------------------ convolutional nets

# Every option of the convolutions and poolings as a config writes it: paddings as names,
# ints, pairs and per-axis pairs (all tuples, which JSON turns into lists), strides and
# dilations as ints and pairs, pooling strides defaulted and given.
CONFIG_NETS = {
    "2-D": Network((9, 8, 2), (Conv2D(3, 3, "relu", padding="SAME"), MaxPool2D(2),
                               Conv2D(3, (2, 1), stride=(1, 2), padding=1, dilation=(2, 1), use_bias=False),
                               AvgPool2D((2, 1), stride=1), Conv2D(2, 2, "tanh", padding=(1, 0), w_init="lecun"),
                               Conv2D(2, 1, padding=((2, 1), (0, 1)), dilation=2), Dropout(0.3, inverted=False),
                               MaxPool2D((1, 2), stride=(2, 1)), Flatten(), Dense(3))),
    "1-D": Network((10, 2), (Conv1D(3, 3, "elu", stride=2, padding=2, dilation=2), MaxPool1D(2, stride=1),
                             Conv1D(2, 2, padding=(1, 0), b_init="zeros"), AvgPool1D(2), Conv1D(2, 1, padding="VALID"),
                             Flatten(), Dropout(0.1), Maxout(4, 3), Dense(3))),
    "bfloat16": Network((6, 6, 1), (Conv2D(2, 3, padding=[1, 1]), Flatten(), Dense(3)), compute_dtype="bfloat16"),
}


@pytest.mark.parametrize("name", CONFIG_NETS)
def test_conv_configs_round_trip_through_json(name):
    net = CONFIG_NETS[name]
    text = json.dumps(net.to_config())
    back = Network.from_config(json.loads(text))
    # Equal and equally hashed: a restored network finds the programs compiled for the original.
    assert back == net and hash(back) == hash(net) and back.shapes == net.shapes
    assert json.dumps(back.to_config()) == text


def test_config_paddings_are_written_in_one_form():
    # An int, a pair and the per-axis pairs of one padding describe one network.
    forms = [Network((6, 6, 1), (Conv2D(2, 3, padding=p), Flatten(), Dense(3))) for p in (1, (1, 1), [[1, 1], [1, 1]])]
    assert forms[0] == forms[1] == forms[2] and len({hash(f) for f in forms}) == 1
    assert forms[0].to_config()["layers"][0]["padding"] == ((1, 1), (1, 1))
    assert Network((6, 6, 1), (Conv2D(2, 3, padding=(0, 1)), Flatten(), Dense(3))) != forms[0]


def test_mlp_with_an_image_shape_flattens_first():
    net = fnnet.mlp([(8, 8, 1), 16, 10], dropout=0.5, input_dropout=0.2)
    assert net.layers == (Dropout(0.2), Flatten(), Dense(16, "relu"), Dropout(0.5), Dense(10))
    assert net.in_shape == (8, 8, 1) and net.shapes[2] == (64,) and net.out_shape == (10,)
    flat = fnnet.mlp([64, 16, 10], dropout=0.5, input_dropout=0.2)
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 8, 8, 1))
    # Flatten is C order, so the image net is the flat net on the reshaped rows.
    np.testing.assert_array_equal(net.apply(params, x), flat.apply(params[:1] + params[2:], x.reshape(5, 64)))
    assert fnnet.mlp([(64,), 10]).layers == (Dense(10),)  # one axis: nothing to flatten


def test_dropout_after_a_convolution_masks_each_value_of_the_image_and_needs_a_key():
    net = Network((6, 6, 1), (Conv2D(3, 3, "relu", padding="SAME"), Dropout(0.5), MaxPool2D(2), Flatten(), Dense(3)))
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 6, 6, 1))
    with pytest.raises(ValueError, match=r"^layers \[1\] \(Dropout\) need key= in training mode"):
        net.apply(params, x, train=True)
    without = Network(net.in_shape, net.layers[:1] + net.layers[2:])

    @jax.jit
    def run(params, x):
        masks = [net.forward_with_cache(params, x, key=jax.random.key(k), train=True)[1][1].scale for k in (2, 3)]
        return masks, net.apply(params, x), without.apply(params[:1] + params[2:], x)

    (mask, other), y, y_without = run(params, x)
    mask = np.asarray(mask)
    assert mask.shape == (4, 6, 6, 3) and set(np.unique(mask)) == {0.0, 2.0}
    # one draw per value, not per channel or per example, and another key draws another mask
    assert np.all(mask.min(axis=(1, 2)) == 0) and np.all(mask.max(axis=(1, 2)) == 2)
    assert not np.array_equal(mask, other)
    np.testing.assert_array_equal(y, y_without)  # inference: no dropout


def test_maxout_after_flatten_takes_the_flattened_image():
    net = Network((6, 6, 1), (Conv2D(2, 3, "relu"), Flatten(), Maxout(5, 3), Dense(3)))
    assert net.shapes == ((6, 6, 1), (4, 4, 2), (32,), (5,), (3,))
    params = net.init(jax.random.key(0))
    assert params[2]["w"].shape == (32, 5, 3) and params[2]["b"].shape == (5, 3)
    assert net.apply(params, jnp.ones((2, 6, 6, 1))).shape == (2, 3)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Maxout\) on input \(4, 4, 2\): Maxout takes a flat input "
                                         r"\(features,\), got \(4, 4, 2\); put Flatten\(\) before it"):
        Network((6, 6, 1), (Conv2D(2, 3, "relu"), Maxout(5, 3)))


def test_a_conv_net_in_mixed_precision_convolves_in_bfloat16_and_its_gradients_are_close_to_float32():
    # Smooth activations and average pooling: with ReLU and max pooling, values that tie in
    # bfloat16 may pick another winner and route δ elsewhere (15% of a gradient, measured).
    layers = (Conv2D(4, 3, "tanh", padding="SAME"), AvgPool2D(2), Conv2D(4, 3, "tanh"), Flatten(), Dropout(0.2),
              Dense(3))
    full, mixed = Network((8, 8, 1), layers), Network((8, 8, 1), layers, compute_dtype="bfloat16")
    params = full.init(jax.random.key(1))
    x, t = conv_data()
    convs = [line for line in str(jax.make_jaxpr(lambda p: mixed.apply(p, x))(params)).splitlines()
             if "conv_general_dilated" in line]
    assert len(convs) == 2 and all(":bf16[" in line for line in convs), convs
    loss, key = losses.cross_entropy(from_logits=True), jax.random.key(3)

    @jax.jit  # one program: op by op, every convolution and its transpose compiles alone
    def outputs_and_gradients(params):
        grads = [jax.grad(lambda p: loss(net.apply(p, x, key=key, train=True), t))(params) for net in (full, mixed)]
        hand = backprop.loss_and_grad(mixed, loss, params, x, t, key=key, train=True)[1]
        return mixed.apply(params, x), full.apply(params, x), *grads, hand

    y, y32, g32, g16, g16_hand = outputs_and_gradients(params)
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(y, y32, atol=0.05, rtol=0.05)
    # bfloat16 keeps 8 bits: each leaf within 5% (normwise) of float32's (2.1% the worst of
    # six draws, either path). The biases' sums over 24 examples × 64 positions run in
    # float32 in both (layers.protocol.add_bias; jax.grad's were off by up to 22% before).
    for got in (g16, g16_hand):
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(g32), strict=True):
            assert a.dtype == jnp.float32
            assert float(jnp.max(jnp.abs(a - b))) <= 0.05 * float(jnp.max(jnp.abs(b)))


@pytest.mark.parametrize("net, shape, hint", [
    (CONV_NET, (2, 64), "; the values are there in another shape: x.reshape(-1, 8, 8, 1)"),
    (CONV_NET, (2, 8, 8), "; the values are there in another shape: x.reshape(-1, 8, 8, 1)"),
    (CONV_NET, (2, 1, 8, 8), "; channels come last in fnnet (axis -1 of size 1), this looks channels-first: "
                             "x = jnp.moveaxis(x, 1, -1)"),
    (CONV1D_NET, (2, 2, 12), "; channels come last in fnnet (axis -1 of size 2), this looks channels-first: "
                             "x = jnp.moveaxis(x, 1, -1)"),
    (CONV_NET, (2, 63), ""),  # another number of values: no fix to suggest
], ids=["flat", "no channel axis", "channels first", "1-D channels first", "other size"])
def test_an_input_in_another_arrangement_is_told_the_fix(net, shape, hint):
    params = net.init(jax.random.key(0))
    dims = ", ".join(map(str, net.in_shape))
    with pytest.raises(ValueError) as e:
        net.apply(params, jnp.ones(shape))
    assert str(e.value) == f"x: expected shape (batch, ..., {dims}) or {net.in_shape}, got {shape}{hint}"


@pytest.mark.parametrize("in_shape, layers, message", [
    ((6, 6, 1), (Conv2D(2, 3, dilation=3),),
     "Network: layers[0] (Conv2D) on input (6, 6, 1): Conv2D: its kernel spans 7 (size 3, dilation 3) but the "
     "input's 6 padded by (0, 0) is 6"),
    ((6, 6, 1), (Conv2D(2, 3), MaxPool2D(2), Conv2D(2, (1, 3))),
     "Network: layers[2] (Conv2D) on input (2, 2, 2): Conv2D: its kernel spans 3 (size 3, dilation 1) but the "
     "input's 2 padded by (0, 0) is 2"),
    ((6, 6, 1), (MaxPool2D((2, 7)),),
     "Network: layers[0] (MaxPool2D) on input (6, 6, 1): MaxPool2D: a window of 7 does not fit an axis of 6: "
     "below one element"),
    ((5, 2), (Conv1D(2, 2, stride=2), AvgPool1D(3)),
     "Network: layers[1] (AvgPool1D) on input (2, 2): AvgPool1D: a window of 3 does not fit an axis of 2: "
     "below one element"),
    ((6, 6, 1), (Flatten(), Conv1D(2, 3)),
     "Network: layers[1] (Conv1D) on input (36,): Conv1D takes (length, channels) inputs, got (36,)"),
    ((12, 2), (MaxPool2D(2),),
     "Network: layers[0] (MaxPool2D) on input (12, 2): MaxPool2D takes (height, width, channels) inputs, got (12, 2)"),
], ids=["dilated kernel", "kernel after pooling", "pool window", "1-D pool window", "conv after flatten",
        "2-D pool on 1-D"])
def test_layers_that_do_not_fit_their_input_are_named_in_one_line(in_shape, layers, message):
    with pytest.raises(ValueError) as e:
        Network(in_shape, layers)
    assert str(e.value) == message
    # padding makes room where the kernel did not fit
    assert Network((6, 6, 1), (Conv2D(2, 3), MaxPool2D(2), Conv2D(2, 3, padding=1))).shapes[-1] == (2, 2, 2)


@pytest.mark.parametrize("index, shape, message", [
    (2, (3, 3, 3, 4), "params[2]['w'] (Conv2D): expected shape (3, 3, 4, 4), got (3, 3, 3, 4)"),
    (0, (4, 1, 3, 3), "params[0]['w'] (Conv2D): expected shape (3, 3, 1, 4), got (4, 1, 3, 3); this looks like "
                      "PyTorch's (out, in, *kernel) order, fnnet's is (*kernel, in, out): w.transpose(2, 3, 1, 0)"),
    (5, (36, 3), "params[5]['w'] (Dense): expected shape (16, 3), got (36, 3)"),
], ids=["in channels", "pytorch order", "dense after flatten"])
def test_conv_params_that_do_not_match_are_named(index, shape, message):
    params = CONV_NET.init(jax.random.key(0))
    params[index] = {**params[index], "w": jnp.ones(shape)}
    with pytest.raises(ValueError) as e:
        CONV_NET.apply(params, jnp.ones((1, 8, 8, 1)))
    assert str(e.value) == message
    if index == 0:  # the suggested transpose is the fix
        params[0]["w"] = params[0]["w"].transpose(2, 3, 1, 0)
        assert CONV_NET.apply(params, jnp.ones((1, 8, 8, 1))).shape == (1, 3)


def test_non_numeric_parameters_and_inputs_are_named_not_left_to_jax():
    net = Network(3, (Dense(2),))
    params = net.init(jax.random.key(0))
    bad = [{"w": np.array([["a", "b"]] * 3), "b": params[0]["b"]}]
    with pytest.raises(ValueError, match=r"^params\[0\]\['w'\] \(Dense\): expected floating-point values, got <U1$"):
        net.apply(bad, np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"^x: expected numbers \(features, cast to float32\), got an array of <U1$"):
        net.apply(params, np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match=r"^x: expected numbers \(features, cast to float32\), got an array of object$"):
        net.apply(params, np.array([[1.0, None, 2.0]], dtype=object))


KEY_EXPECTED = r"key: expected a PRNG key \(jax.random.key\(0\), or a raw uint32 key of shape \(2,\)\), got "


def test_init_and_training_apply_name_a_key_that_is_not_one():
    net = Network(5, (Dense(8, "tanh"), Dropout(0.5), Dense(3)))
    params, x = net.init(jax.random.key(0)), np.ones((4, 5), np.float32)
    with pytest.raises(TypeError, match=f"^{KEY_EXPECTED}int 0$"):
        net.init(0)
    with pytest.raises(TypeError, match=f"^{KEY_EXPECTED}int 0$"):
        net.apply(params, x, train=True, key=0)
    with pytest.raises(ValueError, match=f"^{KEY_EXPECTED}a batch of \\(3,\\) typed keys"):
        net.apply(params, x, train=True, key=jax.random.split(jax.random.key(0), 3))
    net.apply(params, x, train=True, key=jax.random.PRNGKey(0))  # raw keys are keys


def test_apply_refuses_complex_inputs():
    net = Network(5, (Dense(3),))
    with pytest.raises(ValueError, match=r"^x: expected real numbers \(features, cast to float32\), got an array "
                                         r"of complex64$"):
        net.apply(net.init(jax.random.key(0)), jnp.ones((2, 5), jnp.complex64))

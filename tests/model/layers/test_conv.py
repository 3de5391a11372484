"""Convolutions: the forward rule is a plain NumPy cross-correlation's, and the
hand-written backward rules equal jax.grad, forward mode and central differences (per
leaf, float64 to round-off, float32 separately) for drawn kernel sizes, strides,
paddings, dilations, channels and poolings; shapes that do not fit are named when the
network is built."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnnet
from fnnet import AvgPool1D, AvgPool2D, Conv1D, Conv2D, Dense, Flatten, MaxPool1D, MaxPool2D, Network, gradcheck
from fnnet.model.layers.conv import patches
from tests.support import numpy_ref, worst_seen

SMOOTH = ("tanh", "sigmoid", "softplus", "identity")


@st.composite
def convolutions(draw, smooth=False):
    """``(layer, in_shape)``: a Conv1D or Conv2D and an input it fits."""
    n = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    padding = draw(st.one_of(st.sampled_from(["VALID", "SAME"]), st.integers(0, 2),
                             st.tuples(st.integers(0, 2), st.integers(0, 2))))
    spatial = tuple(draw(st.integers((k - 1) * d + 1, (k - 1) * d + 5)) for k, d in zip(kernel, dilation))
    activation = draw(st.sampled_from(SMOOTH if smooth else SMOOTH + ("relu", "elu")))
    kind = Conv1D if n == 1 else Conv2D
    layer = kind(draw(st.integers(1, 3)), kernel if n == 2 else kernel[0], activation, stride=stride,
                 padding=padding, dilation=dilation)
    return layer, (*spatial, draw(st.integers(1, 3)))


@st.composite
def conv_nets(draw, smooth=False):
    """A network of a convolution, maybe a pooling that fits after it, Flatten and Dense."""
    conv, in_shape = draw(convolutions(smooth))
    layers = [conv]
    out = conv.out_shape(in_shape)
    pool = draw(st.sampled_from([None, "max", "avg"]) if not smooth else st.sampled_from([None, "avg"]))
    if pool is not None and min(out[:-1]) >= 2:
        window = tuple(draw(st.integers(1, 2)) for _ in out[:-1])
        stride = tuple(draw(st.integers(1, 2)) for _ in out[:-1])
        kind = {("max", 1): MaxPool1D, ("max", 2): MaxPool2D, ("avg", 1): AvgPool1D, ("avg", 2): AvgPool2D}
        layers.append(kind[pool, len(window)](window, stride))
    return Network(in_shape, (*layers, Flatten(), Dense(3)))


def _problem(net, dtype, seed):
    rng = np.random.default_rng(seed)
    params = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape) * 0.7, dtype), net.init(jax.random.key(0)))
    x = jnp.asarray(rng.normal(size=(2, *net.in_shape)), dtype)
    return params, x, jnp.asarray(rng.integers(0, 3, 2))


@settings(max_examples=40)
@given(case=convolutions(), seed=st.integers(0, 2**16))
def test_the_forward_rule_is_the_numpy_cross_correlation(case, seed):
    layer, in_shape = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, *in_shape))
    w = rng.normal(size=(*layer.kernel_size, in_shape[-1], layer.features))
    b = rng.normal(size=layer.features)
    want = numpy_ref.conv(x, w, b, layer.stride, layer._pads(in_shape[:-1]), layer.dilation)
    with jax.enable_x64(True):
        a, cache = layer.forward({"w": jnp.asarray(w), "b": jnp.asarray(b)}, jnp.asarray(x))
        np.testing.assert_allclose(a, fnnet.activations.get(layer.activation).f(jnp.asarray(want)), rtol=1e-12)
    assert cache.z.shape == want.shape == (2, *layer.out_shape(in_shape))
    np.testing.assert_allclose(cache.z, want, rtol=1e-12, atol=1e-12)


def _check(net, dtype, methods, name, seed=0):
    params, x, t = _problem(net, dtype, seed)
    report = gradcheck.assert_gradients_close(net, "cross_entropy_logits", params, x, t, methods=methods)
    for method in methods:
        worst_seen.record(f"{name} {method}", report.worst(method))
    return report


@settings(max_examples=25)
@given(net=conv_nets())
def test_float64_backprop_and_forward_mode_equal_jax_grad(net):
    with jax.enable_x64(True):
        _check(net, "float64", ("backprop", "forward"), "float64 conv")


@settings(max_examples=15)
@given(net=conv_nets(smooth=True))
def test_float64_central_differences_agree_on_smooth_convolutions(net):
    with jax.enable_x64(True):
        _check(net, "float64", ("backprop", "central_difference"), "float64 conv")


@settings(max_examples=20)
@given(case=convolutions(), seed=st.integers(0, 2**16))
def test_both_platforms_rules_equal_the_vjp_of_lax_convolution(case, seed):
    # CPU runs the rules on patches, other platforms as lax convolutions; the tests run on
    # a CPU, so each is called here directly and held to jax.vjp of the lax primitive.
    layer, in_shape = case
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        a_prev = jnp.asarray(rng.normal(size=(2, *in_shape)))
        w = jnp.asarray(rng.normal(size=(*layer.kernel_size, in_shape[-1], layer.features)))
        a_in, pads = layer._padded(a_prev)
        z, vjp = jax.vjp(lambda a, w: jax.lax.conv_general_dilated(
            a, w, layer.stride, pads, rhs_dilation=layer.dilation, dimension_numbers=layer.DIMENSIONS), a_in, w)
        np.testing.assert_allclose(patches(a_in, layer.kernel_size, layer.stride, pads, layer.dilation)
                                   @ w.reshape(-1, layer.features), z, rtol=1e-12, atol=1e-12)
        delta = jnp.asarray(rng.normal(size=z.shape))
        want = vjp(delta)
        for rules in (layer._rules_lax, layer._rules_patches):
            got = rules(pads, a_in, w, delta)
            for g, v in zip(got, want):
                assert g.shape == v.shape and g.dtype == v.dtype
                np.testing.assert_allclose(g, v, rtol=1e-11, atol=1e-11)


@settings(max_examples=10)
@given(net=conv_nets())
def test_float32_backprop_and_forward_mode_agree(net):
    _check(net, "float32", ("backprop", "forward"), "float32 conv")


def test_the_axis_xla_mishandles_trains_and_its_gradients_agree(x64):
    # Kernel 2, stride 2, one zero before (and nothing left after) on one axis, and a
    # swap-worthy other axis: jax.jit(jax.grad) of a plain lax convolution ends the process
    # with a CHECK failure in XLA's algebraic simplifier (jax 0.10); the layer pads first.
    net = Network((4, 4, 1), (Conv2D(3, (2, 3), stride=(2, 3), padding=1), Flatten(), Dense(3)))
    report = _check(net, "float64", ("backprop", "forward"), "float64 conv")
    assert report.worst("backprop") < 1e-13
    layer = net.layers[0]
    assert layer._split((4, 4)) == ((1, 0), ((0, 1), (1, 1)))


@pytest.mark.parametrize("padding, spatial, want", [
    ("SAME", (7, 8), (3, 3)), ("VALID", (7, 8), (2, 2)), (1, (7, 8), (3, 3)), ((0, 2), (7, 8), (3, 3)),
    (((2, 0), (0, 0)), (7, 8), (3, 2)),
])
def test_output_shapes_follow_lax(padding, spatial, want):
    layer = Conv2D(4, 3, stride=3, padding=padding)
    assert layer.out_shape((*spatial, 2)) == (*want, 4)
    z = jax.lax.conv_general_dilated(jnp.ones((1, *spatial, 2)), jnp.ones((3, 3, 2, 4)), (3, 3),
                                     padding if isinstance(padding, str) else layer._pads(spatial),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    assert z.shape[1:3] == want


def test_kernels_start_with_their_fans():
    w = Network((16, 16, 8), (Conv2D(64, 3, "relu"),)).init(jax.random.key(0))[0]["w"]
    assert w.shape == (3, 3, 8, 64) and abs(float(jnp.var(w)) / (2 / (9 * 8)) - 1) < 0.05  # He: 2 / fan_in
    w = Network((16, 16, 8), (Conv2D(64, 3, "tanh"),)).init(jax.random.key(0))[0]["w"]
    assert abs(float(jnp.var(w)) / (2 / (9 * 8 + 9 * 64)) - 1) < 0.05  # Glorot: 2 / (fan_in + fan_out)
    ones = Network((5, 2), (Conv1D(3, 2, w_init=jax.nn.initializers.ones),)).init(jax.random.key(0))[0]["w"]
    np.testing.assert_array_equal(ones, np.ones((2, 2, 3)))


def test_a_conv_net_round_trips_its_config_and_applies_with_any_leading_axes():
    net = Network((8, 8, 1), (Conv2D(4, 3, "relu", padding="SAME"), MaxPool2D(2), Conv2D(6, (2, 1), stride=(1, 2)),
                              AvgPool2D(2, stride=1), Flatten(), Dense(10)))
    assert net.shapes == ((8, 8, 1), (8, 8, 4), (4, 4, 4), (3, 2, 6), (2, 1, 6), (12,), (10,))
    assert Network.from_config(net.to_config()) == net
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (2, 3, 8, 8, 1))
    y = net.apply(params, x)
    assert y.shape == (2, 3, 10)
    np.testing.assert_allclose(y[1, 2], net.apply(params, x[1, 2]), rtol=1e-5, atol=1e-6)
    assert fnnet.gradcheck.compare(net, "cross_entropy_logits", params, x[0], jnp.arange(3)).worst("backprop") < 1e-3


@pytest.mark.parametrize("layers, message", [
    ((Conv2D(2, 5),), r"layers\[0\] \(Conv2D\) on input \(4, 4, 1\): Conv2D: its kernel spans 5 \(size 5, "
                      r"dilation 1\) but the input's 4 padded by \(0, 0\) is 4"),
    ((Conv2D(2, 3), Dense(4)), r"layers\[1\] \(Dense\) on input \(2, 2, 2\): Dense takes a flat input "
                               r"\(features,\), got \(2, 2, 2\); put Flatten\(\) before it"),
    ((MaxPool2D(5),), r"layers\[0\] \(MaxPool2D\) on input \(4, 4, 1\): MaxPool2D: a window of 5 does not fit "
                      r"an axis of 4: below one element"),
    ((Conv1D(2, 3),), r"layers\[0\] \(Conv1D\) on input \(4, 4, 1\): Conv1D takes \(length, channels\) inputs"),
])
def test_shapes_that_do_not_fit_are_named_when_the_network_is_built(layers, message):
    with pytest.raises(ValueError, match=message):
        Network((4, 4, 1), layers)


@pytest.mark.parametrize("make, message", [
    (lambda: Conv2D(0, 3), "Conv2D: features must be a positive int, got 0"),
    (lambda: Conv2D(2, 0), r"Conv2D: kernel_size must be an int >= 1 or 2 of them, got 0"),
    (lambda: Conv1D(2, (3, 3)), r"Conv1D: kernel_size must be an int >= 1, got \(3, 3\)"),
    (lambda: Conv2D(2, 3, stride="2"), r"Conv2D: stride must be an int >= 1 or 2 of them, got '2'"),
    (lambda: Conv2D(2, 3, padding="FULL"), r"Conv2D: padding must be 'VALID', 'SAME', an int >= 0, a \(low, high\)"),
    (lambda: Conv2D(2, 3, padding=-1), r"Conv2D: padding must be"),
    (lambda: Conv2D(2, 3, dilation=0), r"Conv2D: dilation must be an int >= 1"),
    (lambda: Conv2D(2, 3, "swish"), "unknown activation 'swish'"),
    (lambda: MaxPool2D(0), r"MaxPool2D: window must be an int >= 1 or 2 of them, got 0"),
    (lambda: AvgPool1D(2, stride=0), r"AvgPool1D: stride must be an int >= 1, got 0"),
])
def test_bad_layer_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: Conv1D(2, 3, stride=-1), "Conv1D: stride must be an int >= 1, got -1"),
    (lambda: Conv2D(2, (3, 0)), "Conv2D: kernel_size must be an int >= 1 or 2 of them, got (3, 0)"),
    (lambda: Conv2D(2, 3.0), "Conv2D: kernel_size must be an int >= 1 or 2 of them, got 3.0"),
    (lambda: Conv2D(2, 3, dilation=(1, -1)), "Conv2D: dilation must be an int >= 1 or 2 of them, got (1, -1)"),
    (lambda: Conv2D(2, 3, padding="same"),
     "Conv2D: padding must be 'VALID', 'SAME', an int >= 0, a (low, high) pair or 2 such pairs, got 'same'"),
    (lambda: Conv2D(2, 3, padding=((1, 1), (1, -1))),
     "Conv2D: padding must be 'VALID', 'SAME', an int >= 0, a (low, high) pair or 2 such pairs, got "
     "((1, 1), (1, -1))"),
    (lambda: Conv1D(2, 3, padding=((1, 1), (1, 1))),
     "Conv1D: padding must be 'VALID', 'SAME', an int >= 0 or a (low, high) pair, got ((1, 1), (1, 1))"),
    (lambda: MaxPool2D((2, 0)), "MaxPool2D: window must be an int >= 1 or 2 of them, got (2, 0)"),
    (lambda: AvgPool1D(True), "AvgPool1D: window must be an int >= 1, got True"),
])
def test_bad_layer_arguments_are_one_line_errors_naming_the_layer(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert str(e.value) == message

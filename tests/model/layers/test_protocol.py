"""The Layer protocol: any hashable object with its members is a layer, and the gradient
checker proves its hand-written backward pass (or catches a wrong one)."""

import dataclasses
import importlib.util
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import Dense, Dropout, Maxout, Network, backprop
from fnnet.model import network
from fnnet.model.layers import protocol
from tests.support import ROOT

_PATH = ROOT / "examples" / "custom_layer.py"


def _load():
    # Loaded as tests/test_examples.py loads examples, under one module name, so the
    # layer registry sees one class however many tests import it.
    if "custom_layer" not in sys.modules:
        spec = importlib.util.spec_from_file_location("custom_layer", _PATH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["custom_layer"] = module
    return sys.modules["custom_layer"]


example = _load()
LayerNorm = example.LayerNorm


@dataclasses.dataclass(frozen=True)
class WrongLayerNorm(LayerNorm):
    """The example's layer with one sign flipped in ∂C/∂a_prev (+ x̂ ⊙ mean(d ⊙ x̂))."""

    def backward(self, params, cache, delta):
        grads = {"g": jnp.sum(delta * cache.xhat, axis=0), "b": jnp.sum(delta, axis=0)}
        d = delta * params["g"][None, :]
        mean_d = jnp.mean(d, axis=-1, keepdims=True)
        mean_dx = jnp.mean(d * cache.xhat, axis=-1, keepdims=True)
        return cache.r * (d - mean_d + cache.xhat * mean_dx), grads


def test_builtin_layers_and_the_example_satisfy_the_protocol():
    for layer in (Dense(3), Maxout(3), Dropout(0.5), LayerNorm(4)):
        assert isinstance(layer, fnnet.Layer) and protocol.missing(layer) == []
    assert protocol.missing("dense") == [*protocol.PROTOCOL_METHODS, "needs_key"]


def test_layer_norm_forward_is_the_formula(x64):
    net = Network(4, (LayerNorm(4),))
    params = [{"g": jnp.array([1.0, 2.0, 0.5, -1.0], jnp.float64), "b": jnp.array([0.0, 1.0, 0.0, -2.0], jnp.float64)}]
    x = np.array([[1.0, 2.0, 4.0, -3.0], [0.5, 0.5, 0.5, 1.5]])
    xhat = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(net.apply(params, x), np.asarray(params[0]["g"]) * xhat + np.asarray(params[0]["b"]),
                               rtol=1e-14)
    assert net.apply(params, x.reshape(2, 1, 4)).shape == (2, 1, 4)


def test_the_examples_layer_passes_the_checker_in_float64(capsys):
    report = example.main()
    assert "gradient check against autodiff (float64" in capsys.readouterr().out
    assert report.worst("backprop") < 1e-13 and report.worst("forward") < 1e-13
    assert report.worst("central_difference") < 1e-7
    assert {r.leaf for r in report.rows} >= {"[1]['g']", "[1]['b']", "[0]['w']"}


def test_a_flipped_sign_in_the_backward_pass_fails_the_check():
    net = Network(6, (Dense(8, "tanh"), WrongLayerNorm(8), Dense(3, "softmax")))
    with pytest.raises(AssertionError, match=r"leaves disagree \(worst: backprop \[0\]"):
        example.main(net=net)


def test_a_custom_layer_works_under_jit_as_a_static_argument_and_with_leading_axes(x64):
    net = Network(3, (Dense(5, "tanh"), LayerNorm(5), Dense(2)))
    params = net.init(jax.random.key(0), jnp.float64)
    x = jax.random.normal(jax.random.key(1), (2, 4, 3), jnp.float64)
    t = jnp.zeros((2, 4, 2), jnp.float64)
    step = jax.jit(backprop.loss_and_grad, static_argnums=(0, 1))
    value, grads = step(net, "squared_error", params, x, t)
    # "mean" divides by the 8 examples of the (2, 4) leading axes.
    auto = jax.grad(lambda p: jnp.sum(0.5 * (net.apply(p, x) - t) ** 2) / 8)(params)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(auto)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


class _Half:
    """Has forward but not the backward half of the protocol."""

    needs_key = False

    def param_shapes(self, n):
        return {}

    def init(self, key, n, dtype):
        return {}

    def forward(self, params, a_prev, *, key=None, train=False):
        return a_prev, None

    def out_shape(self, shape):
        return shape

    def __hash__(self):
        return 0


@dataclasses.dataclass  # eq without frozen: __hash__ is None
class _Unhashable(_Half):
    def delta(self, cache, g):
        return g

    def backward(self, params, cache, delta):
        return delta, {}


def test_a_layer_missing_protocol_methods_is_named():
    with pytest.raises(TypeError, match=r"layers\[1\] \(_Half\) is not a layer: it lacks delta, backward"):
        Network(3, (Dense(3), _Half()))


def test_an_unhashable_layer_is_named():
    with pytest.raises(TypeError, match=r"layers\[0\] \(_Unhashable\) must be hashable"):
        Network(3, (_Unhashable(),))


class _Widen(_Half):
    def delta(self, cache, g):
        return g

    def backward(self, params, cache, delta):
        return delta, {}

    def out_shape(self, shape):
        return (shape[0] + 1,)  # but forward keeps the input's width


def test_a_layer_whose_forward_disagrees_with_out_shape_is_named():
    with pytest.raises(ValueError, match=r"layers\[0\] \(_Widen\): forward returned a of shape \(2, 3\), "
                                         r"expected \(2, 4\)"):
        Network(3, (_Widen(),)).apply([{}], jnp.ones((2, 3)))


def test_config_describes_registered_layer_types_only(monkeypatch):
    net = Network(6, (Dense(8, "tanh"), LayerNorm(8, eps=1e-3), Dense(3)))
    config = net.to_config()
    assert config["layers"][1] == {"type": "LayerNorm", "features": 8, "eps": 1e-3}
    assert Network.from_config(config) == net
    with pytest.raises(ValueError, match=r"to_config: layers\[1\] \(WrongLayerNorm\) is not a registered layer "
                                         r"type; decorate its class with @fnnet.register_layer"):
        Network(6, (Dense(8), WrongLayerNorm(8))).to_config()
    monkeypatch.setattr(network, "LAYER_TYPES", dict(network.LAYER_TYPES))
    with pytest.raises(ValueError, match="another layer type is already registered as 'LayerNorm'"):
        fnnet.register_layer(dataclasses.make_dataclass("LayerNorm", [], bases=(LayerNorm,), frozen=True))
    with pytest.raises(TypeError, match="expected a dataclass type"):
        fnnet.register_layer(_Half)
    with pytest.raises(ValueError, match=r"layers\[0\]: unknown layer type 'Gone'"):
        Network.from_config({"in_features": 2, "layers": [{"type": "Gone"}]})

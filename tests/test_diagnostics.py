"""The notes' recipe: vanishing gradients, dead units, and the diagnosis."""

import jax
import numpy as np
import pytest

import fnnet
from fnnet import diagnostics


def _data():
    x = np.random.default_rng(0).normal(size=(64, 16)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int32)


def test_gradients_vanish_through_sigmoid_layers_but_not_relu():
    x, t = _data()
    ratio = {}
    for activation in ("sigmoid", "relu"):
        net = fnnet.mlp([16] + [32] * 8 + [2], activation=activation)
        norms = diagnostics.gradient_norms(net, "cross_entropy_logits", net.init(jax.random.key(0)), x, t)
        assert len(norms) == 9 and all(n > 0 for n in norms)
        ratio[activation] = norms[0] / norms[-1]
    assert ratio["sigmoid"] < 1e-3 < 0.1 < ratio["relu"]


def test_dead_relu_units_are_counted():
    x, _ = _data()
    net = fnnet.mlp([16, 10, 2], activation="relu")
    params = net.init(jax.random.key(0))
    params[0]["b"] = params[0]["b"].at[:4].set(-100.0)  # four units that never fire
    dead = diagnostics.dead_units(net, params, x)
    assert dead[0] == pytest.approx(0.4) and dead[1] is None


def test_diagnosis_follows_the_recipe():
    poor = diagnostics.diagnose(0.6, 0.55, grad_norms=[1e-6, 1e-3, 1.0])
    assert poor.verdict.startswith("poor on training data")
    assert "vanishing gradients" in str(poor) and "adaptive learning rate" in str(poor)
    over = diagnostics.diagnose(1.0, 0.85)
    assert over.verdict.startswith("overfitting")
    assert any("dropout" in a for a in over.advice) and any("stop early" in a for a in over.advice)
    good = diagnostics.diagnose(0.99, 0.97)
    assert good.verdict.startswith("good")


def test_dead_units_advice():
    d = diagnostics.diagnose(0.5, None, dead=[0.8, None])
    assert "dead" in d.advice[0]

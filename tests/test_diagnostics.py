"""The notes' recipe: vanishing gradients, dead units, and the diagnosis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import Conv2D, Dense, Flatten, MaxPool2D, Network, backprop, diagnostics
from tests.support.nets import CONV_NET, conv_data


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


# ---------------------------------------------------------------- convolutional nets


def test_gradient_norms_of_a_conv_net_are_those_of_the_hand_written_pass():
    x, t = conv_data()
    params = CONV_NET.init(jax.random.key(0))
    norms = diagnostics.gradient_norms(CONV_NET, "cross_entropy_logits", params, x, t)
    _, grads = jax.jit(lambda p: backprop.loss_and_grad(CONV_NET, "cross_entropy_logits", p, x, t))(params)
    assert [n is None for n in norms] == [False, True, False, True, True, False]  # pools, Flatten, Dropout
    want = [float(np.linalg.norm(np.asarray(g["w"]))) for g in grads if g]
    assert [n for n in norms if n is not None] == pytest.approx(want, rel=1e-5) and min(want) > 0


def test_a_conv_layers_dead_units_are_its_channels_that_are_zero_everywhere():
    net = Network((6, 6, 1), (Conv2D(4, 3, "relu", padding="SAME"), MaxPool2D(2), Conv2D(2, 3, "relu"), Flatten(),
                              Dense(3)))
    x = np.random.default_rng(0).normal(size=(10, 6, 6, 1)).astype(np.float32)
    params = net.init(jax.random.key(0))
    w, b = np.array(params[0]["w"]), np.array(params[0]["b"])
    b[0] = -100.0  # channel 0 never fires
    w[..., 1], b[1] = 0.0, 0.0  # channel 1 is exactly 0
    # channel 2 fires at one position of one example only: alive
    w[..., 2], b[2] = 0.0, -(x.max() - 0.01)
    w[1, 1, 0, 2] = 1.0
    params[0] = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
    z = np.asarray(jax.lax.conv_general_dilated(x, params[0]["w"], (1, 1), "SAME",
                                                dimension_numbers=("NHWC", "HWIO", "NHWC"))) + b
    assert np.count_nonzero(z[..., 2] > 0) == 1 and np.all(z[..., :2] <= 0)
    # The second layer's inputs are >= 0 (ReLU, then max): its channel 0 never fires, 1 always.
    w2 = np.array(params[2]["w"])
    w2[..., 1] = 1.0
    params[2] = {"w": jnp.asarray(w2), "b": jnp.asarray([-100.0, 1.0])}
    dead = diagnostics.dead_units(net, params, x)
    assert dead[0] == pytest.approx(0.5) and dead[2] == pytest.approx(0.5)
    assert dead[1] is None and dead[3] is None and dead[4] is None

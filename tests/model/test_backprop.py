"""Gradient equivalence: hand-written backprop = jax.grad = jax.jacfwd (= central differences).

Hypothesis draws networks (depth 1–6, widths 1–32, any activation, maxout, dropout
with either rule, both losses with both reductions, example weights, batches 1–16 and
unbatched input, training and inference mode). Tolerances, normwise per leaf:

    float64: backprop and forward mode vs jax.grad  ≤ 1e-10 relative
             central differences                    ≤ 1e-6 relative (smooth networks)
    float32: backprop and forward mode vs jax.grad  ≤ 1e-4 relative
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnnet import Dense, Dropout, Maxout, Network, activations, backprop, gradcheck, losses
from tests.model.test_losses import NEW_LOSSES, RNG
from tests.support import numpy_ref, worst_seen

HIDDEN_ACTIVATIONS = sorted(set(activations.ACTIVATIONS) - {"softmax"})


@st.composite
def problems(draw, loss_kind, smooth=False):
    """A problem description: (net, loss, batch, one_hot, weighted, train, seed)."""
    acts = [a for a in HIDDEN_ACTIVATIONS if not (smooth and activations.get(a).kinked)]
    depth = draw(st.integers(1, 6))
    reduction = draw(st.sampled_from(["sum", "mean"]))
    loss = losses.get(loss_kind, reduction)
    layers = []
    if draw(st.booleans()):
        layers.append(Dropout(draw(st.sampled_from([0.0, 0.2, 0.5])), draw(st.booleans())))
    for _ in range(depth - 1):
        width = draw(st.integers(1, 32))
        if draw(st.integers(0, 4)) == 0:
            layers.append(Maxout(width, 1 if smooth else draw(st.integers(1, 4))))
        else:
            layers.append(Dense(width, draw(st.sampled_from(acts))))
        if draw(st.integers(0, 3)) == 0:
            layers.append(Dropout(draw(st.sampled_from([0.0, 0.1, 0.5, 0.9])), draw(st.booleans())))
    out_width = draw(st.integers(1, 32)) if loss_kind == "squared_error" else draw(st.integers(2, 32))
    if loss_kind == "cross_entropy":  # probabilities: softmax or sigmoid outputs
        out_act = draw(st.sampled_from(["softmax", "sigmoid"]))
    else:
        out_act = draw(st.sampled_from(acts + ["softmax"]))
    layers.append(Dense(out_width, out_act))
    net = Network(draw(st.integers(1, 32)), tuple(layers))
    batch = draw(st.sampled_from([None, 1, 2, 3, 8, 16]))
    one_hot = draw(st.booleans())
    weighted = batch is not None and draw(st.booleans())
    train = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return net, loss, batch, one_hot, weighted, train, seed


def materialize(problem, dtype):
    # NumPy draws: eager jax.random would compile afresh for every drawn shape.
    net, loss, batch, one_hot, weighted, train, seed = problem
    rng = np.random.default_rng(seed)
    params = []
    for (n_in,), shapes in zip(net.shapes, (layer.param_shapes(s) for layer, s in zip(net.layers, net.shapes))):
        # Nonzero biases, so no unit starts exactly on a kink.
        params.append({k: jnp.asarray(rng.normal(0, (1 / np.sqrt(n_in)) if k == "w" else 0.1, shape), dtype)
                       for k, shape in shapes.items()})
    lead = () if batch is None else (batch,)
    x = jnp.asarray(rng.normal(size=lead + net.in_shape), dtype)
    if one_hot:  # soft targets: any distribution over the outputs
        logits = rng.normal(size=lead + (net.out_features,))
        t = jnp.asarray(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), dtype)
    else:
        t = jnp.asarray(rng.integers(0, 2 if net.out_features == 1 else net.out_features, lead), jnp.int32)
    w = jnp.asarray(rng.uniform(0.0, 2.0, lead), dtype) if weighted else None
    return net, loss, params, x, t, w, jax.random.key(seed), train


def _check(problem, dtype, methods, rtol, fd_rtol=None):
    net, loss, params, x, t, w, key, train = materialize(problem, dtype)
    report = gradcheck.assert_gradients_close(net, loss, params, x, t, key=key, train=train,
                                              weights=w, methods=methods, rtol=rtol, fd_rtol=fd_rtol)
    for method in methods:
        worst_seen.record(f"{dtype} {method}", report.worst(method))
    return report


LOSS_KINDS = ["squared_error", "cross_entropy", "cross_entropy_logits"]
# One test per loss, so the draws (70 + 20 + 20 per loss) spread over pytest-xdist workers.


@pytest.mark.parametrize("loss_kind", LOSS_KINDS)
@settings(max_examples=70)
@given(data=st.data())
def test_float64_backprop_autodiff_and_forward_agree_to_roundoff(loss_kind, data):
    problem = data.draw(problems(loss_kind))
    with jax.enable_x64(True):
        _check(problem, "float64", ("backprop", "forward"), rtol=1e-10)


@pytest.mark.parametrize("loss_kind", LOSS_KINDS)
@settings(max_examples=20)
@given(data=st.data())
def test_float64_central_differences_agree_on_smooth_networks(loss_kind, data):
    problem = data.draw(problems(loss_kind, smooth=True))
    with jax.enable_x64(True):
        _check(problem, "float64", ("backprop", "central_difference"), rtol=1e-10, fd_rtol=1e-6)


@pytest.mark.parametrize("loss_kind", LOSS_KINDS)
@settings(max_examples=20)
@given(data=st.data())
def test_float32_backprop_and_forward_agree(loss_kind, data):
    problem = data.draw(problems(loss_kind))
    _check(problem, "float32", ("backprop", "forward"), rtol=1e-4)


def test_central_differences_on_relu_and_maxout_away_from_kinks(x64):
    net = Network(6, (Dense(16, "relu"), Maxout(8, 3), Dense(8, "leaky_relu"), Dense(4, "softmax")))
    params = net.init(jax.random.key(3), jnp.float64)
    x = jax.random.normal(jax.random.key(4), (5, 6), jnp.float64)
    _, caches = net.forward_with_cache(params, x)
    # every unit is at least 1e-3 from its kink, far more than the difference step moves it
    assert float(jnp.min(jnp.abs(caches[0].z))) > 1e-3 and float(jnp.min(jnp.abs(caches[2].z))) > 1e-3
    gradcheck.assert_gradients_close(net, losses.cross_entropy(), params, x, jnp.arange(5) % 4,
                                     methods=("backprop", "forward", "central_difference"))


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_backprop_matches_a_numpy_implementation_of_the_notes_formulas(x64, hidden):
    net = Network(7, (Dense(9, hidden), Dense(5, hidden), Dense(3, "softmax")))
    params = net.init(jax.random.key(0), jnp.float64)
    x = np.asarray(jax.random.normal(jax.random.key(1), (4, 7), jnp.float64))
    t = np.eye(3)[[0, 2, 1, 1]]
    expected_loss, expected = numpy_ref.backprop(params, x, t, hidden)
    loss, grads = backprop.loss_and_grad(net, losses.cross_entropy("sum"), params, x, t)
    assert float(loss) == pytest.approx(expected_loss, rel=1e-13)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_backprop_is_jit_compatible_and_keeps_the_params_tree(x64):
    net = Network(3, (Dense(4, "tanh"), Dropout(0.5), Maxout(2, 2), Dense(2, "softmax")))
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = jnp.ones((2, 3), jnp.float64), jnp.array([0, 1])
    step = jax.jit(lambda p, k: backprop.loss_and_grad(net, "cross_entropy", p, x, t, key=k, train=True))
    _, grads = step(params, jax.random.key(1))
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert all(g.shape == p.shape and g.dtype == p.dtype
               for g, p in zip(jax.tree.leaves(grads), jax.tree.leaves(params)))


@pytest.mark.parametrize("case", NEW_LOSSES, ids=lambda c: repr(c[0]))
def test_the_checker_proves_backprop_through_each_new_loss(x64, case):
    loss, activation, out, targets, _ = case
    net = Network(3, (Dense(5, "tanh"), Dense(out, activation)))
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = jnp.asarray(RNG.normal(size=(7, 3))), jnp.asarray(targets(7))
    report = gradcheck.assert_gradients_close(net, loss, params, x, t, weights=jnp.asarray(RNG.uniform(0.5, 2, 7)))
    assert report.worst("backprop") < 1e-12


def test_the_input_gradient_matches_jax_grad(x64):
    net = Network(3, (Dense(4, "tanh"), Dense(2, "softmax")))
    params = net.init(jax.random.key(3), jnp.float64)
    for x, t in ((RNG.normal(size=(5, 3)), RNG.integers(0, 2, 5)), (RNG.normal(size=3), np.array(1))):
        x = jnp.asarray(x)
        value, (grads, g_x) = backprop.loss_and_grad(net, "cross_entropy", params, x, t, wrt_input=True)
        want = jax.grad(lambda x: losses.cross_entropy()(net.apply(params, x), t))(x)
        assert g_x.shape == x.shape
        np.testing.assert_allclose(g_x, want, rtol=1e-12, atol=1e-16)
        np.testing.assert_allclose(value, backprop.loss_and_grad(net, "cross_entropy", params, x, t)[0], rtol=0)

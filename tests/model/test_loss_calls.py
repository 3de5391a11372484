"""Any loss: the new losses with their hand derivatives, user callables (with and without
a ``grad``), per-example weights in ``fit``, and ∂L/∂x from the hand-written pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Network, backprop, gradcheck, losses, optim, step
from fnnet.fit import fit

RNG = np.random.default_rng(0)


def _np_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log1p(-p)).sum(-1)


def _np_huber(r, d):
    a = np.abs(r)
    return np.where(a <= d, 0.5 * a * a, d * (a - 0.5 * d)).sum(-1)


NEW_LOSSES = [  # (loss, output activation, outputs, targets maker, NumPy per-example C^n of (y, t))
    (losses.binary_cross_entropy(), "sigmoid", 1, lambda n: RNG.integers(0, 2, n),
     lambda y, t: _np_bce(y, t[:, None].astype(float))),
    (losses.binary_cross_entropy(from_logits=True), "identity", 3, lambda n: RNG.integers(0, 2, (n, 3)) * 1.0,
     lambda y, t: _np_bce(1 / (1 + np.exp(-y)), t)),
    (losses.cross_entropy(label_smoothing=0.1), "softmax", 4, lambda n: RNG.integers(0, 4, n),
     lambda y, t: -(((0.9 * np.eye(4)[t]) + 0.1 / 4) * np.log(y)).sum(-1)),
    (losses.cross_entropy(from_logits=True, label_smoothing=0.2), "identity", 3, lambda n: RNG.integers(0, 3, n),
     lambda y, t: -(((0.8 * np.eye(3)[t]) + 0.2 / 3) * (y - np.log(np.exp(y).sum(-1, keepdims=True)))).sum(-1)),
    (losses.huber(0.5), "identity", 2, lambda n: RNG.normal(size=(n, 2)) * 2,
     lambda y, t: _np_huber(y - t, 0.5)),
]


@pytest.mark.parametrize("case", NEW_LOSSES, ids=lambda c: repr(c[0]))
def test_new_losses_match_numpy_and_their_hand_derivative_matches_jax_grad(x64, case):
    loss, _, out, targets, reference = case
    n = 6
    y = RNG.normal(size=(n, out))
    if out == 1 or isinstance(loss, losses.CrossEntropy) and not loss.from_logits:
        y = jax.nn.sigmoid(y) if out == 1 else jax.nn.softmax(y, axis=-1)
    y, t, w = jnp.asarray(y), jnp.asarray(targets(n)), jnp.asarray(RNG.uniform(0.5, 2, n))
    want = np.sum(reference(np.asarray(y), np.asarray(t)) * np.asarray(w)) / np.sum(np.asarray(w))
    np.testing.assert_allclose(float(loss(y, t, w)), want, rtol=1e-12)
    np.testing.assert_allclose(loss.grad(y, t, w), jax.grad(lambda y: loss(y, t, w))(y), rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("case", NEW_LOSSES, ids=lambda c: repr(c[0]))
def test_the_checker_proves_backprop_through_each_new_loss(x64, case):
    loss, activation, out, targets, _ = case
    net = Network(3, (Dense(5, "tanh"), Dense(out, activation)))
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = jnp.asarray(RNG.normal(size=(7, 3))), jnp.asarray(targets(7))
    report = gradcheck.assert_gradients_close(net, loss, params, x, t, weights=jnp.asarray(RNG.uniform(0.5, 2, 7)))
    assert report.worst("backprop") < 1e-12


def _logits_cross_entropy(y, t):  # a user's loss: no grad method, no weights
    return jnp.mean(jax.nn.logsumexp(y, axis=-1) - jnp.take_along_axis(y, t[:, None], axis=-1)[:, 0])


def test_a_callable_without_grad_uses_jax_grad_and_agrees(x64):
    net = Network(3, (Dense(4, "relu"), Dense(3)))
    params = net.init(jax.random.key(1), jnp.float64)
    x, t = jnp.asarray(RNG.normal(size=(5, 3))), jnp.asarray(RNG.integers(0, 3, 5))
    assert backprop.dl_dy_source(_logits_cross_entropy) == "jax.grad"
    assert backprop.dl_dy_source(losses.huber()) == "hand-written"
    mine = backprop.loss_and_grad(net, _logits_cross_entropy, params, x, t)
    builtin = backprop.loss_and_grad(net, "cross_entropy_logits", params, x, t)
    np.testing.assert_allclose(mine[0], builtin[0], rtol=1e-14)
    for a, b in zip(jax.tree.leaves(mine[1]), jax.tree.leaves(builtin[1])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    gradcheck.assert_gradients_close(net, _logits_cross_entropy, params, x, t)


def test_fit_step_and_evaluate_take_a_callable_loss():
    net = Network(3, (Dense(5, "tanh"), Dense(2)))
    params = net.init(jax.random.key(0))
    x = RNG.normal(size=(23, 3)).astype(np.float32)
    t = (x[:, 0] > 0).astype(np.int32)
    kw = dict(key=jax.random.key(1), epochs=6, batch_size=4)  # 23 = 5·4 + 3: a partial batch
    mine = fit(net, _logits_cross_entropy, optim.sgd(0.3), params, (x, t), **kw)
    builtin = fit(net, "cross_entropy_logits", optim.sgd(0.3), params, (x, t), **kw)
    # The callable takes no weights, so its last batch is the 3 real examples, not 4 masked.
    for a, b in zip(jax.tree.leaves(mine.params), jax.tree.leaves(builtin.params)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(mine.history.column("loss"), builtin.history.column("loss"), rtol=2e-5)
    assert mine.history[-1]["accuracy"] == builtin.history[-1]["accuracy"]
    got = step.evaluate(net, _logits_cross_entropy, mine.params, x, t)
    want = step.evaluate(net, "cross_entropy_logits", mine.params, x, t)
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-5)


def test_weights_in_fit_equal_repeated_and_dropped_examples(x64):
    net = Network(2, (Dense(3, "tanh"), Dense(1, "sigmoid")))
    params = net.init(jax.random.key(0), jnp.float64)
    x = RNG.normal(size=(6, 2))
    t = RNG.integers(0, 2, 6)
    w = np.array([2.0, 1.0, 0.0, 1.0, 3.0, 1.0])
    reps = w.astype(int)
    kw = dict(key=jax.random.key(2), epochs=5)
    for reduction in ("mean", "sum"):
        loss = losses.binary_cross_entropy(reduction)
        weighted = fit(net, loss, optim.sgd(0.5), params, (x, t, w), batch_size=6, **kw)
        repeated = fit(net, loss, optim.sgd(0.5), params, (np.repeat(x, reps, 0), np.repeat(t, reps)),
                       batch_size=int(reps.sum()), **kw)
        for a, b in zip(jax.tree.leaves(weighted.params), jax.tree.leaves(repeated.params)):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_allclose(weighted.history.column("loss"), repeated.history.column("loss"), rtol=1e-12)


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


def test_a_loss_with_its_own_field_first_constructs_as_expected():
    assert losses.Huber(0.5) == losses.Huber(delta=0.5) and losses.Huber(0.5).reduction == "mean"
    assert losses.Huber(delta=0.5, reduction="sum").delta == 0.5
    assert losses.SquaredError("sum").reduction == "sum"  # the notes' losses keep theirs first
    assert losses.get("huber", "sum") == losses.Huber(reduction="sum")
    with pytest.raises(ValueError, match="Huber: delta must be a number > 0, got -1"):
        losses.Huber(-1)


def test_bad_losses_get_one_line_errors():
    net = Network(3, (Dense(2),))
    params = net.init(jax.random.key(0))
    x, t = np.ones((4, 3), np.float32), np.array([0, 1, 0, 1], np.int32)
    with pytest.raises(ValueError, match=r"loss 'per_row' must return a scalar, got shape \(4,\)"):
        def per_row(y, t):
            return jnp.sum(y, axis=-1)
        fit(net, per_row, optim.sgd(0.1), params, (x, t), key=jax.random.key(0), epochs=1, batch_size=4)
    one = Network(3, (Dense(1, "sigmoid"),))
    with pytest.raises(ValueError, match="output has 1 unit.*use losses.binary_cross_entropy"):
        fit(one, "cross_entropy", optim.sgd(0.1), one.init(jax.random.key(0)), (x, t),
            key=jax.random.key(0), epochs=1, batch_size=4)
    with pytest.raises(ValueError, match=r"data: expected 4 per-example weights \(one per example\), got shape \(3,\)"):
        fit(net, "cross_entropy_logits", optim.sgd(0.1), params, (x, t, np.ones(3)), key=jax.random.key(0))
    with pytest.raises(ValueError, match="loss '_logits_cross_entropy' takes none; give it a third argument"):
        fit(net, _logits_cross_entropy, optim.sgd(0.1), params, (x, t, np.ones(4)), key=jax.random.key(0))
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        fit(net, "cross_entropy_logits", optim.sgd(0.1), params, (x, t, -np.ones(4)), key=jax.random.key(0))

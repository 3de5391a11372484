"""Calling any loss alike: user callables without a ``grad`` (∂L/∂y from ``jax.grad``)
in backprop, ``fit`` and ``evaluate``, and one-line errors for losses that do not fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import Dense, Network, backprop, fit, gradcheck, losses, optim

RNG = np.random.default_rng(0)




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
    got = fnnet.evaluate(net, _logits_cross_entropy, mine.params, (x, t))
    want = fnnet.evaluate(net, "cross_entropy_logits", mine.params, (x, t))
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-5)


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

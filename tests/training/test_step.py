"""What runs on the device: the step, the compiled epoch, its keys, evaluation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import Dense, Dropout, Network, losses, optim, train
from tests.training import LOSS, NET, data as _data, small_fit as _fit


def test_autodiff_and_backprop_give_the_same_trajectory(x64):
    a = _fit(dtype=jnp.float64, grad="autodiff", epochs=4, optimizer=optim.adam(0.01))
    b = _fit(dtype=jnp.float64, grad="backprop", epochs=4, optimizer=optim.adam(0.01))
    for p, q in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_allclose(p, q, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose([h["loss"] for h in a.history], [h["loss"] for h in b.history], rtol=1e-12)
    assert a.history[-1]["step"] == 4 * 6  # 23 examples, batch 4: 6 updates per epoch


def test_train_step_is_one_pure_jitted_update():
    opt = optim.momentum(0.1, 0.9)
    step = train.train_step(NET, LOSS, opt)
    params = NET.init(jax.random.key(0))
    x, t = _data()
    state = opt.init(params)
    p1, s1, m = step(params, state, (x[:4], t[:4]), jax.random.key(5))
    p2, s2, m2 = step(params, state, (x[:4], t[:4]), jax.random.key(5))
    for a, b in zip(jax.tree.leaves((p1, s1)), jax.tree.leaves((p2, s2))):
        np.testing.assert_array_equal(a, b)
    assert set(m) == {"loss", "accuracy"} and np.isfinite(m["loss"])
    p3, _, _ = step(params, state, (x[:4], t[:4]), jax.random.key(6))  # another dropout mask
    assert not np.array_equal(p1[0]["w"], p3[0]["w"])


def test_every_example_counts_once_per_epoch_with_a_partial_last_batch():
    # η = 0 keeps the parameters, so the epoch's loss is the loss of the whole data set.
    net = Network(5, (Dense(3, "softmax"),))
    params = net.init(jax.random.key(0))
    x, t = _data(n=23)
    for reduction in ("sum", "mean"):
        loss = losses.cross_entropy(reduction)
        r = train.fit(net, loss, optim.sgd(0.0), params, (x, t), key=jax.random.key(1),
                      epochs=2, batch_size=5)
        expected = float(loss(net.apply(params, x), t))
        assert r.history[0]["loss"] == pytest.approx(expected, rel=1e-6)
        assert r.history[1]["loss"] == pytest.approx(expected, rel=1e-6)
        assert r.history[0]["accuracy"] == pytest.approx(float(losses.accuracy(net.apply(params, x), t)))


def test_the_padded_batch_updates_like_its_real_examples_alone(x64):
    net = Network(5, (Dense(3, "softmax"),))
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = _data(n=3, dtype=np.float64)
    step = train.make_step(net, LOSS, optim.sgd(0.5))
    padded = (np.concatenate([x, x[:2]]), np.concatenate([t, t[:2]]), np.array([1.0, 1, 1, 0, 0]))
    a, _, _ = step(params, optim.sgd(0.5).init(params), padded, None)
    b, _, _ = step(params, optim.sgd(0.5).init(params), (x, t), None)
    for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(p, q, rtol=1e-14)


def _compiles_of(fn_name, caplog):
    return [r for r in caplog.records if f"Compiling jit({fn_name})" in r.getMessage()]


def test_no_key_is_used_twice():
    with jax.debug_key_reuse(True):
        r = _fit(epochs=3, key=jax.random.key(7))
        r = train.fit(NET, LOSS, optim.sgd(0.1), r.state, _data(), epochs=2, batch_size=4)
    assert r.history[-1]["epoch"] == 5


def test_step_keys_are_fold_in_of_the_step():
    # Two fits of one epoch each continue the key sequence exactly like one fit of two.
    two = _fit(epochs=2)
    one = _fit(epochs=1)
    resumed = train.fit(NET, LOSS, optim.sgd(0.1), one.state, _data(), epochs=1, batch_size=4)
    for p, q in zip(jax.tree.leaves(two.params), jax.tree.leaves(resumed.params)):
        np.testing.assert_array_equal(p, q)


def test_notes_dropout_rule_agrees_with_inverted_dropout_in_expectation(x64):
    # E[train-mode output] equals the test-time output under both rules.
    x = jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64)[None, :]
    keys = jax.random.split(jax.random.key(0), 20000)
    for inverted in (True, False):
        net = Network(6, (Dropout(0.4, inverted), Dense(2)))
        params = net.init(jax.random.key(1), jnp.float64)
        train_out = jax.vmap(lambda k: net.apply(params, x, key=k, train=True))(keys)
        test_out = net.apply(params, x)
        np.testing.assert_allclose(train_out.mean(0), test_out, atol=0.02)
    # and the notes' test-time rule is the weights times (1 − p)
    net = Network(6, (Dropout(0.4, inverted=False), Dense(2)))
    params = net.init(jax.random.key(1), jnp.float64)
    scaled = [{}, {"w": params[1]["w"] * 0.6, "b": params[1]["b"]}]
    np.testing.assert_allclose(net.apply(params, x), Network(6, (Dense(2),)).apply(scaled[1:], x), rtol=1e-14)


def test_evaluate_runs_in_inference_mode():
    params = NET.init(jax.random.key(0))
    x, t = _data()
    m = train.evaluate(NET, LOSS, params, x, t, batch_size=5)  # padded chunks
    assert m["loss"] == pytest.approx(float(LOSS(NET.apply(params, x), t)), rel=1e-6)
    assert m["accuracy"] == pytest.approx(float(losses.accuracy(NET.apply(params, x), t)))


def test_evaluate_on_an_empty_data_set_is_named():
    net = Network(5, (Dense(4, "relu"), Dense(3)))
    with pytest.raises(ValueError, match=r"data: the data set is empty \(0 examples\)"):
        train.evaluate(net, "cross_entropy_logits", net.init(jax.random.key(0)), np.ones((0, 5), np.float32),
                       np.zeros(0, np.int32))

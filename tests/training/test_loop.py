"""The host loop: fit, history, early stopping and its resumption, divergence, bad input."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import Dense, Network, fit, losses, optim
from tests.model.test_network import MIXED, mixed_problem
from tests.support.nets import LOSS, NET
from tests.support.nets import data as _data
from tests.support.nets import small_fit as _fit


def _compiles_of(fn_name, caplog):
    """Compilations of ``fn_name`` (a new run's variant, ``fresh_<fn_name>``, included)."""
    return [r for r in caplog.records
            if any(f"Compiling jit({name})" in r.getMessage() for name in (fn_name, "fresh_" + fn_name))]


@pytest.mark.parametrize("epochs", [1, 7])
def test_a_fit_compiles_its_epochs_once(caplog, epochs):
    caplog.set_level(logging.WARNING)
    net = Network(5, (Dense(epochs + 4, "relu"), Dense(3)))  # a fresh shape: nothing cached
    params = net.init(jax.random.key(0))
    x, t = _data()
    with jax.log_compiles(True):
        fnnet.fit(net, "cross_entropy_logits", optim.adam(0.01), params, (x, t),
                  key=jax.random.key(1), epochs=epochs, batch_size=4, validation_data=(x[:7], t[:7]))
        assert len(_compiles_of("epochs", caplog)) == 1
        # per-epoch host decisions (early stopping) use another program, also compiled once
        fnnet.fit(net, "cross_entropy_logits", optim.adam(0.01), params, (x, t), key=jax.random.key(1),
                  epochs=epochs, batch_size=4, validation_data=(x[:7], t[:7]),
                  early_stopping=fnnet.EarlyStopping(patience=100))
        assert len(_compiles_of("epochs", caplog)) == 2


def test_same_seed_is_bitwise_identical_and_another_seed_is_not():
    a, b = _fit(epochs=3), _fit(epochs=3)
    c = _fit(epochs=3, key=jax.random.key(2))
    for p, q in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a.params[0]["w"], c.params[0]["w"])


def test_history_has_plain_per_epoch_metrics():
    schedule = optax.linear_schedule(0.1, 0.01, 20)
    r = _fit(epochs=3, validation_data=_data(n=9, seed=1), learning_rate=schedule,
             optimizer=optim.sgd(schedule))
    assert [h["epoch"] for h in r.history] == [1, 2, 3]
    assert set(r.history[0]) == {"epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy",
                                 "learning_rate"}
    assert all(isinstance(v, (int, float)) for h in r.history for v in h.values())
    assert r.history[2]["learning_rate"] == pytest.approx(float(schedule(17)))
    val = fnnet.evaluate(NET, LOSS, r.params, _data(n=9, seed=1))
    assert r.history[-1]["val_loss"] == pytest.approx(val["loss"], rel=1e-5)


def test_validation_split_holds_out_a_seeded_fraction():
    r = _fit(epochs=1, validation_split=0.25)
    assert "val_loss" in r.history[0]
    assert r.history[0]["step"] == 5  # 17 training examples in batches of 4


def test_early_stopping_restores_the_best_parameters():
    # Validation labels disagree with training labels, so validation loss rises.
    x, t = _data()
    flipped = (2 - t).astype(np.int32)
    stop = fnnet.EarlyStopping(monitor="val_loss", patience=2)
    r = _fit(epochs=50, validation_data=(x, flipped), early_stopping=stop, optimizer=optim.sgd(0.5))
    assert r.stopped_early and len(r.history) < 50
    losses_seen = [h["val_loss"] for h in r.history]
    assert r.best_epoch == 1 + int(np.argmin(losses_seen))
    assert len(r.history) == r.best_epoch + 2
    best_only = _fit(epochs=r.best_epoch, validation_data=(x, flipped), early_stopping=stop,
                     optimizer=optim.sgd(0.5))
    for p, q in zip(jax.tree.leaves(r.params), jax.tree.leaves(best_only.state.params)):
        np.testing.assert_array_equal(p, q)


def test_callback_sees_each_epoch_and_can_stop():
    seen = []
    r = _fit(epochs=10, callback=lambda record, state: seen.append(record["epoch"]) or record["epoch"] == 4)
    assert seen == [1, 2, 3, 4] and r.stopped_early and r.history[-1]["epoch"] == 4


def test_divergence_stops_with_the_epoch_step_and_last_finite_parameters():
    net = Network(5, (Dense(16, "relu"), Dense(3)))
    params = net.init(jax.random.key(0))
    x, t = _data()
    loss = losses.squared_error("sum")
    # η jumps from 0.01 to 1e4 at update 14, in epoch 3 (6 updates per epoch)
    opt = optim.sgd(optax.piecewise_constant_schedule(0.01, {13: 1e6}))
    with pytest.raises(fnnet.DivergenceError, match=r"non-finite at update (\d+) \(epoch 3, batch \d+\)") as e:
        fnnet.fit(net, loss, opt, params, (x, t), key=jax.random.key(1), epochs=20, batch_size=4)
    err = e.value
    assert err.epoch == 3 and 13 <= err.step <= 18 and len(err.history) == 2
    assert "last finite parameters (after epoch 2)" in str(err)
    again = fnnet.fit(net, loss, opt, params, (x, t), key=jax.random.key(1), epochs=2, batch_size=4)
    for p, q in zip(jax.tree.leaves(again.params), jax.tree.leaves(err.params)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kw, message", [
    (dict(batch_size=0), r"batch_size must be an int in \[1, 23\]"),
    (dict(batch_size=24), r"batch_size must be an int in \[1, 23\] \(the number of examples\), got 24"),
    (dict(data=(np.ones((4, 5), np.float32), np.array([0, 1, 3, 0], np.int32))),
     r"labels must be in \[0, 3\) for 3 outputs, got values in \[0, 3\]"),
    (dict(data=(np.array([[0, 1, 2, 3, np.nan]] * 4, np.float32), np.zeros(4, np.int32))),
     "features must be finite; found nan at row 0, column 4"),
    (dict(data=(np.ones((4, 6), np.float32), np.zeros(4, np.int32))),
     r"data: expected features of shape \(n, 5\), got \(4, 6\)"),
    (dict(validation_data=(np.ones((4, 4), np.float32), np.zeros(4, np.int32))),
     r"validation_data: expected features of shape \(n, 5\), got \(4, 4\)"),
    (dict(early_stopping=fnnet.EarlyStopping()), "monitors 'val_loss' but there is no validation data"),
    (dict(grad="numeric"), r"grad: expected one of \['autodiff', 'backprop'\]"),
    (dict(epochs=-1), "epochs must be an int >= 0"),
    (dict(data=(np.ones((0, 5), np.float32), np.zeros(0, np.int32))), r"data: the data set is empty \(0 examples\)"),
])
def test_bad_fit_input_is_named(kw, message):
    with pytest.raises(ValueError, match=message):
        _fit(**kw)


def test_a_new_run_needs_a_key():
    with pytest.raises(ValueError, match="needs key="):
        fnnet.fit(NET, LOSS, optim.sgd(0.1), NET.init(jax.random.key(0)), _data())


@pytest.mark.parametrize("k", [2, 5, 9])
def test_fit_resumes_early_stopping_where_it_was(k):
    """A fit split at epoch k is bitwise the fit done at once: early stopping's best value,
    epoch, wait and parameters travel in the TrainState."""
    net = Network(5, (Dense(16, "relu"), Dense(3)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 5)).astype(np.float32)
    t = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)
    kw = dict(batch_size=16, validation_data=(x[60:], t[60:]),
              early_stopping=fnnet.EarlyStopping(patience=2, min_delta=0.01))
    opt = optim.adam(0.05)
    whole = fnnet.fit(net, "cross_entropy_logits", opt, net.init(jax.random.key(0)), (x[:60], t[:60]),
                      key=jax.random.key(1), epochs=40, **kw)
    assert whole.stopped_early and len(whole.history) < 40 and whole.best_epoch < len(whole.history)
    first = fnnet.fit(net, "cross_entropy_logits", opt, net.init(jax.random.key(0)), (x[:60], t[:60]),
                      key=jax.random.key(1), epochs=k, **kw)
    rest = fnnet.fit(net, "cross_entropy_logits", opt, first.state, (x[:60], t[:60]), epochs=40 - k, **kw)
    assert list(first.history) + list(rest.history) == list(whole.history)
    assert rest.best_epoch == whole.best_epoch and rest.stopped_early
    leaves = lambda tree: [np.asarray(jax.random.key_data(v) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else v)  # noqa: E731
                           for v in jax.tree.leaves(tree)]
    assert all(np.array_equal(a, b) for a, b in zip(leaves(rest.state), leaves(whole.state)))
    assert all(np.array_equal(a, b) for a, b in zip(leaves(rest.params), leaves(whole.params)))
    # Resuming a fit that had stopped runs no epoch.
    again = fnnet.fit(net, "cross_entropy_logits", opt, whole.state, (x[:60], t[:60]), epochs=5, **kw)
    assert len(again.history) == 0 and again.stopped_early


def test_a_non_finite_loss_with_finite_parameters_is_still_divergence():
    # The loss turns infinite once it is small, while its gradient (and so every parameter)
    # stays finite: only the per-update losses can tell.
    def spiky(y, t):
        base = jnp.mean(jnp.sum((y - jax.nn.one_hot(t, 3)) ** 2, axis=-1))
        return base + jax.lax.stop_gradient(jnp.where(base < 0.55, jnp.inf, 0.0))

    net = Network(5, (Dense(8, "tanh"), Dense(3)))
    x, t = _data()
    with pytest.raises(fnnet.DivergenceError, match=r"non-finite at update \d+ \(epoch \d+, batch \d+\)") as e:
        fnnet.fit(net, spiky, optim.sgd(0.1), net.init(jax.random.key(0)), (x, t), key=jax.random.key(1),
                  epochs=200, batch_size=4)
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(e.value.params))
    assert np.all(np.isfinite(e.value.history.column("loss")))


def test_an_array_learning_rate_trains_and_is_reported():
    lr = jnp.asarray(0.1)
    a = _fit(epochs=2, optimizer=optim.sgd(lr), learning_rate=lr)
    b = _fit(epochs=2, optimizer=optim.sgd(0.1), learning_rate=0.1)
    assert a.history.column("learning_rate") == pytest.approx([0.1, 0.1])
    for p, q in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_allclose(p, q, rtol=1e-6)


def test_weights_in_fit_equal_repeated_and_dropped_examples(x64):
    net = Network(2, (Dense(3, "tanh"), Dense(1, "sigmoid")))
    params = net.init(jax.random.key(0), jnp.float64)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2))
    t = rng.integers(0, 2, 6)
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


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_fit_in_mixed_precision_keeps_float32_parameters(grad):
    params, x, t = mixed_problem()
    r = fit(MIXED, losses.cross_entropy(from_logits=True), optim.adam(1e-2), params, (x, t),
            key=jax.random.key(3), epochs=20, batch_size=8, grad=grad)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(r.params))
    assert r.history[-1]["loss"] < 0.5 * r.history[0]["loss"]

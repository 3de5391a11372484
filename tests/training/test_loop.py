"""The host loop: fit, history, early stopping and its resumption, divergence, bad input."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fnnet import Dense, Network, losses, optim, train
from tests.training import LOSS, NET, data as _data, small_fit as _fit


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
        train.fit(net, "cross_entropy_logits", optim.adam(0.01), params, (x, t),
                  key=jax.random.key(1), epochs=epochs, batch_size=4, validation_data=(x[:7], t[:7]))
        assert len(_compiles_of("epochs", caplog)) == 1
        # per-epoch host decisions (early stopping) use another program, also compiled once
        train.fit(net, "cross_entropy_logits", optim.adam(0.01), params, (x, t), key=jax.random.key(1),
                  epochs=epochs, batch_size=4, validation_data=(x[:7], t[:7]),
                  early_stopping=train.EarlyStopping(patience=100))
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
    val = train.evaluate(NET, LOSS, r.params, *_data(n=9, seed=1))
    assert r.history[-1]["val_loss"] == pytest.approx(val["loss"], rel=1e-5)


def test_validation_split_holds_out_a_seeded_fraction():
    r = _fit(epochs=1, validation_split=0.25)
    assert "val_loss" in r.history[0]
    assert r.history[0]["step"] == 5  # 17 training examples in batches of 4


def test_early_stopping_restores_the_best_parameters():
    # Validation labels disagree with training labels, so validation loss rises.
    x, t = _data()
    flipped = (2 - t).astype(np.int32)
    stop = train.EarlyStopping(monitor="val_loss", patience=2)
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
    with pytest.raises(train.DivergenceError, match=r"non-finite at update (\d+) \(epoch 3, batch \d+\)") as e:
        train.fit(net, loss, opt, params, (x, t), key=jax.random.key(1), epochs=20, batch_size=4)
    err = e.value
    assert err.epoch == 3 and 13 <= err.step <= 18 and len(err.history) == 2
    assert "last finite parameters (after epoch 2)" in str(err)
    again = train.fit(net, loss, opt, params, (x, t), key=jax.random.key(1), epochs=2, batch_size=4)
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
    (dict(early_stopping=train.EarlyStopping()), "monitors 'val_loss' but there is no validation data"),
    (dict(grad="numeric"), r"grad: expected one of \['autodiff', 'backprop'\]"),
    (dict(epochs=-1), "epochs must be an int >= 0"),
    (dict(data=(np.ones((0, 5), np.float32), np.zeros(0, np.int32))), r"data: the data set is empty \(0 examples\)"),
])
def test_bad_fit_input_is_named(kw, message):
    with pytest.raises(ValueError, match=message):
        _fit(**kw)


def test_a_new_run_needs_a_key():
    with pytest.raises(ValueError, match="needs key="):
        train.fit(NET, LOSS, optim.sgd(0.1), NET.init(jax.random.key(0)), _data())


def test_history_reads_like_a_list_of_dicts_and_by_column():
    r = _fit(epochs=4, callback=lambda record, state: None)  # one epoch per call
    s = _fit(epochs=4)  # all four in one call
    assert r.history == s.history and len(r.history) == 4
    assert r.history.column("loss") == [h["loss"] for h in s.history]
    assert r.history[-1]["epoch"] == 4 and r.history[1:3][0]["epoch"] == 2
    assert isinstance(r.history + [], list)


@pytest.mark.parametrize("k", [2, 5, 9])
def test_fit_resumes_early_stopping_where_it_was(k):
    """A fit split at epoch k is bitwise the fit done at once: early stopping's best value,
    epoch, wait and parameters travel in the TrainState."""
    net = Network(5, (Dense(16, "relu"), Dense(3)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 5)).astype(np.float32)
    t = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)
    kw = dict(batch_size=16, validation_data=(x[60:], t[60:]),
              early_stopping=train.EarlyStopping(patience=2, min_delta=0.01))
    opt = optim.adam(0.05)
    whole = train.fit(net, "cross_entropy_logits", opt, net.init(jax.random.key(0)), (x[:60], t[:60]),
                      key=jax.random.key(1), epochs=40, **kw)
    assert whole.stopped_early and len(whole.history) < 40 and whole.best_epoch < len(whole.history)
    first = train.fit(net, "cross_entropy_logits", opt, net.init(jax.random.key(0)), (x[:60], t[:60]),
                      key=jax.random.key(1), epochs=k, **kw)
    rest = train.fit(net, "cross_entropy_logits", opt, first.state, (x[:60], t[:60]), epochs=40 - k, **kw)
    assert list(first.history) + list(rest.history) == list(whole.history)
    assert rest.best_epoch == whole.best_epoch and rest.stopped_early
    leaves = lambda tree: [np.asarray(jax.random.key_data(v) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else v)  # noqa: E731
                           for v in jax.tree.leaves(tree)]
    assert all(np.array_equal(a, b) for a, b in zip(leaves(rest.state), leaves(whole.state)))
    assert all(np.array_equal(a, b) for a, b in zip(leaves(rest.params), leaves(whole.params)))
    # Resuming a fit that had stopped runs no epoch.
    again = train.fit(net, "cross_entropy_logits", opt, whole.state, (x[:60], t[:60]), epochs=5, **kw)
    assert len(again.history) == 0 and again.stopped_early


def test_a_non_finite_loss_with_finite_parameters_is_still_divergence():
    # The loss turns infinite once it is small, while its gradient (and so every parameter)
    # stays finite: only the per-update losses can tell.
    def spiky(y, t):
        base = jnp.mean(jnp.sum((y - jax.nn.one_hot(t, 3)) ** 2, axis=-1))
        return base + jax.lax.stop_gradient(jnp.where(base < 0.55, jnp.inf, 0.0))

    net = Network(5, (Dense(8, "tanh"), Dense(3)))
    x, t = _data()
    with pytest.raises(train.DivergenceError, match=r"non-finite at update \d+ \(epoch \d+, batch \d+\)") as e:
        train.fit(net, spiky, optim.sgd(0.1), net.init(jax.random.key(0)), (x, t), key=jax.random.key(1),
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


def test_every_old_name_of_fnnet_train_still_imports():
    from fnnet import epochs, fit, monitor, step

    homes = (fit, monitor, epochs, step)
    for name in ("fit", "EarlyStopping", "TrainState", "make_epoch", "DivergenceError", "FitResult",
                 "History", "UPDATES_PER_CALL", "GRADS", "evaluate", "init_state", "make_epochs",
                 "make_step", "train_step", "value_and_grad", "EpochSpec", "epochs_program", "StoppingState"):
        home = next(m for m in homes if hasattr(m, name))
        assert getattr(train, name) is getattr(home, name), name
    assert train.EarlyStopping.__module__ == "fnnet.monitor" and train.make_epoch.__module__ == "fnnet.epochs"


@pytest.mark.parametrize("size, n, bad", [
    (100, 100, 0), (100, 100, 99), (1000, 999, 0), (1000, 999, 127), (1000, 999, 128),
    (1000, 999, 998), (1000, 999, 900), (16384, 10000, 9999), (16384, 10000, 5000),
])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_the_loss_column_check_finds_any_non_finite_entry_among_those_run(size, n, bad, value):
    from fnnet import epochs

    column = np.random.default_rng(bad).normal(size=size).astype(np.float32)
    column[n:] = 0.0  # the entries of epochs not run are 0
    check = jax.jit(epochs._leading_finite)
    assert bool(check(jnp.asarray(column), jnp.int32(n)))
    column[bad] = value
    assert not bool(check(jnp.asarray(column), jnp.int32(n)))
    column[bad:] = 0.0  # a run that stopped just before it
    assert bool(check(jnp.asarray(column), jnp.int32(bad)))


def test_a_tiny_nets_epochs_program_stays_under_the_inline_flop_count():
    # XLA's CPU client runs a program under 1,000 FLOPs (by its cost analysis) on the
    # calling thread and anything more asynchronously, ~50 µs more a call: the worked
    # example's 10,000 updates must stay inline, so the loss check may not be one reduction.
    from fnnet import epochs, worked_example

    spec = epochs.EpochSpec(worked_example.NET, losses.squared_error("sum"), optim.sgd(0.5), 1, accuracy=False)
    program = epochs.epochs_program(spec, 16384, fresh=True)
    x, t = jnp.asarray([worked_example.X], jnp.float32), jnp.asarray([worked_example.T], jnp.float32)
    compiled = program.lower(worked_example.notes_params(jnp.float32), jax.random.key(0), x, t, None,
                             jnp.int32(10_000), None).compile()
    flops = compiled.cost_analysis()
    flops = (flops[0] if isinstance(flops, list) else flops)["flops"]
    assert 100 < flops < 1000

"""The host loop: fit, history, early stopping and its resumption, divergence, bad input."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import Conv2D, Dense, Network, fit, losses, optim
from tests.model.test_network import MIXED, mixed_problem
from tests.support.nets import CONV1D_NET, CONV_NET, LOSS, NET, conv_data
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
        # per-epoch host decisions (early stopping) run one epoch per call: another program
        # unless the run is one epoch anyway
        fnnet.fit(net, "cross_entropy_logits", optim.adam(0.01), params, (x, t), key=jax.random.key(1),
                  epochs=epochs, batch_size=4, validation_data=(x[:7], t[:7]),
                  early_stopping=fnnet.EarlyStopping(patience=100))
        assert len(_compiles_of("epochs", caplog)) == (1 if epochs == 1 else 2)


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


# ---------------------------------------------------------------- convolutional nets


def _leaves(tree):
    return [np.asarray(jax.random.key_data(v) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else v)
            for v in jax.tree.leaves(tree)]


@pytest.mark.parametrize("net", [CONV_NET, CONV1D_NET], ids=["2-D", "1-D"])
def test_a_conv_net_trains_alike_by_autodiff_and_by_backprop(x64, net):
    data = conv_data(net, n=20, dtype=np.float64)  # batches of 8: the last one padded and masked
    params = net.init(jax.random.key(0), jnp.float64)
    kw = dict(key=jax.random.key(1), epochs=2, batch_size=8,
              validation_data=conv_data(net, n=6, seed=1, dtype=np.float64))
    a, b = (fit(net, "cross_entropy_logits", optim.momentum(0.1, 0.9), params, data, grad=grad, **kw)
            for grad in ("autodiff", "backprop"))
    # float64 round-off over 6 updates (measured: 0 for the 2-D net, 7e-16 normwise for the 1-D)
    for p, q in zip(_leaves(a.state), _leaves(b.state), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)
    for k in a.history[0]:
        np.testing.assert_allclose(a.history.column(k), b.history.column(k), rtol=1e-12)
    assert max(np.max(np.abs(p - q)) for p, q in zip(_leaves(a.params), _leaves(params))) > 1e-3  # it trained


def test_a_conv_net_stops_early_on_a_validation_split_and_restores_the_best_epoch():
    # No epoch improves on the first by 10: it is the best, and the second the last.
    kw = dict(key=jax.random.key(1), batch_size=8, validation_split=0.25,
              early_stopping=fnnet.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0))
    params = CONV_NET.init(jax.random.key(0))
    r = fit(CONV_NET, "cross_entropy_logits", optim.adam(0.01), params, conv_data(), epochs=10, **kw)
    assert r.stopped_early and r.best_epoch == 1 and len(r.history) == 2
    assert r.history[0]["step"] == 3 and "val_accuracy" in r.history[0]  # 18 training examples in batches of 8
    first = fit(CONV_NET, "cross_entropy_logits", optim.adam(0.01), params, conv_data(), epochs=1, **kw)
    assert all(np.array_equal(p, q) for p, q in zip(_leaves(r.params), _leaves(first.state.params)))
    assert not all(np.array_equal(p, q) for p, q in zip(_leaves(r.params), _leaves(r.state.params)))


def test_weights_in_a_conv_fit_equal_repeated_and_dropped_examples(x64):
    x, t = conv_data(CONV1D_NET, n=8, dtype=np.float64)
    params = CONV1D_NET.init(jax.random.key(0), jnp.float64)
    w = np.array([2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 2.0])
    reps = w.astype(int)
    kw = dict(key=jax.random.key(2), epochs=2)
    weighted = fit(CONV1D_NET, "cross_entropy_logits", optim.sgd(0.5), params, (x, t, w), batch_size=8, **kw)
    repeated = fit(CONV1D_NET, "cross_entropy_logits", optim.sgd(0.5), params, (np.repeat(x, reps, 0),
                   np.repeat(t, reps)), batch_size=int(reps.sum()), **kw)
    for a, b in zip(_leaves(weighted.params), _leaves(repeated.params)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(weighted.history.column("loss"), repeated.history.column("loss"), rtol=1e-12)


def test_a_net_with_an_output_per_position_trains_in_padded_minibatches():
    # Classes per pixel (no Flatten): labels (n, 6, 6); each example's loss is the mean over
    # its positions, and the padded last batch's mask weighs examples, not positions.
    net = Network((6, 6, 1), (Conv2D(4, 3, "relu", padding="SAME"), Conv2D(3, 1)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 6, 6, 1)).astype(np.float32)
    t = (x[..., 0] > 0).astype(np.int32) + (x[..., 0] > 1).astype(np.int32)
    params = net.init(jax.random.key(0))
    r = fit(net, "cross_entropy_logits", optim.sgd(0.5), params, (x, t), key=jax.random.key(1), epochs=3,
            batch_size=4, validation_data=(x, t))
    assert r.history[-1]["val_loss"] < r.history[0]["val_loss"]
    apply = jax.jit(net.apply)
    y = apply(r.params, x)
    assert r.history[-1]["val_loss"] == pytest.approx(float(losses.cross_entropy(from_logits=True)(y, t)), rel=1e-5)
    assert r.history[-1]["val_accuracy"] == pytest.approx(float(np.mean(np.argmax(y, -1) == t)))
    # one batch of all 10: the epoch's reported loss is the loss before its one update
    full = fit(net, "cross_entropy_logits", optim.sgd(0.5), params, (x, t), key=jax.random.key(1), epochs=1,
               batch_size=10)
    y0 = apply(params, x)
    assert full.history[0]["loss"] == pytest.approx(float(losses.cross_entropy(from_logits=True)(y0, t)), rel=1e-5)


def _conv_fit(**change):
    x, t = conv_data()
    kw = dict(data=(x, t), params=CONV_NET.init(jax.random.key(0)), key=jax.random.key(1), epochs=1, batch_size=8)
    kw.update(change)
    return fit(CONV_NET, "cross_entropy_logits", optim.sgd(0.1), kw.pop("params"), kw.pop("data"), **kw)


def _bad_kernel():
    params = CONV_NET.init(jax.random.key(0))
    params[2] = {**params[2], "w": jnp.ones((3, 3, 3, 4))}
    return params


X, T = conv_data()


@pytest.mark.parametrize("change, message", [
    (dict(data=(X.reshape(24, 64), T)), "data: expected features of shape (n, 8, 8, 1), got (24, 64); the values "
                                        "are there in another shape: x.reshape(-1, 8, 8, 1)"),
    (dict(data=(jnp.asarray(X.reshape(24, 64)), jnp.asarray(T))),  # checked on the device
     "data: expected features of shape (n, 8, 8, 1), got (24, 64); the values are there in another shape: "
     "x.reshape(-1, 8, 8, 1)"),
    (dict(data=(np.moveaxis(X, -1, 1), T)), "data: expected features of shape (n, 8, 8, 1), got (24, 1, 8, 8); "
                                            "channels come last in fnnet (axis -1 of size 1), this looks "
                                            "channels-first: x = jnp.moveaxis(x, 1, -1)"),
    (dict(validation_data=(X[:6].reshape(6, 64), T[:6])),
     "validation_data: expected features of shape (n, 8, 8, 1), got (6, 64); the values are there in another "
     "shape: x.reshape(-1, 8, 8, 1)"),
    (dict(data=(X, T[:, None])), "data: expected 24 integer labels for outputs of shape (3,) per example, got "
                                 "shape (24, 1); labels in a column: t.reshape(-1)"),
    (dict(data=(X, np.zeros((24, 8, 8, 3), np.float32))),
     "data: expected targets of shape (24, 3) or 24 integer labels, got float32 of shape (24, 8, 8, 3)"),
    (dict(data=(X, T, np.ones((24, 8, 8)))), "data: expected 24 per-example weights (one per example), got shape "
                                             "(24, 8, 8)"),
    (dict(params=_bad_kernel()), "params[2]['w'] (Conv2D): expected shape (3, 3, 4, 4), got (3, 3, 3, 4)"),
], ids=["flat", "flat on the device", "channels first", "flat validation", "labels in a column",
        "targets per position", "weights per position", "kernel"])
def test_bad_conv_fit_input_is_one_line_naming_the_shapes(change, message):
    with pytest.raises(ValueError) as e:
        _conv_fit(**change)
    assert str(e.value) == message


def test_labels_of_a_net_with_an_output_per_position_are_named():
    net = Network((6, 6, 1), (Conv2D(3, 3, padding="SAME"),))
    with pytest.raises(ValueError) as e:
        fit(net, "cross_entropy_logits", optim.sgd(0.1), net.init(jax.random.key(0)),
            (np.ones((4, 6, 6, 1), np.float32), np.zeros(4, np.int32)), key=jax.random.key(1), epochs=1)
    assert str(e.value) == ("data: expected integer labels of shape (4, 6, 6) for outputs of shape (6, 6, 3) per "
                            "example, got shape (4,)")


KEY_EXPECTED = r"key: expected a PRNG key \(jax.random.key\(0\), or a raw uint32 key of shape \(2,\)\), got "


@pytest.mark.parametrize("key, got, error", [
    (0, "int 0", TypeError),
    (np.zeros(3, np.uint32), r"an array of uint32 of shape \(3,\)", ValueError),
])
def test_fit_names_a_key_that_is_not_one(key, got, error):
    with pytest.raises(error, match=f"^{KEY_EXPECTED}{got}$"):
        fnnet.fit(NET, LOSS, optim.sgd(0.1), NET.init(jax.random.key(0)), _data(), key=key, epochs=1)


def test_fit_takes_numpy_integers_for_epochs_and_batch_size_but_not_bools():
    result = _fit(epochs=np.int64(2), batch_size=np.int64(8))
    assert len(result.history) == 2 and int(result.state.step) == 2 * 3
    with pytest.raises(ValueError, match=r"^batch_size must be an int in \[1, 23\] .*got True$"):
        _fit(epochs=1, batch_size=True)


def test_fit_refuses_lists_as_data_as_jax_does():
    x, t = _data()
    with pytest.raises(TypeError, match=r"^data: x must be an array \(NumPy or JAX\), got list$"):
        fnnet.fit(NET, LOSS, optim.sgd(0.1), NET.init(jax.random.key(0)), (x.tolist(), t), key=jax.random.key(0))


@pytest.mark.parametrize("on_device", [False, True])
def test_fit_refuses_complex_features_instead_of_dropping_their_imaginary_parts(on_device):
    x, t = _data()
    x = (np.asarray(x) + 1j).astype(np.complex64)
    data = (jnp.asarray(x), jnp.asarray(t)) if on_device else (x, t)
    with pytest.raises(ValueError, match=r"^data: expected real features, got an array of complex64$"):
        fnnet.fit(NET, LOSS, optim.sgd(0.1), NET.init(jax.random.key(0)), data, key=jax.random.key(0))


def test_fit_refuses_a_run_whose_step_counter_would_overflow_int32():
    state = _fit(epochs=1, batch_size=8).state  # 3 updates an epoch
    late = state._replace(step=np.asarray(2**31 - 5, np.int32))
    with pytest.raises(ValueError, match=r"^epochs: the int32 step counter would pass 2\*\*31 - 1: 2 epochs of 3 "
                                         r"updates after step 2147483643 need 6, and 4 updates are left "
                                         r"\(at most 1 epochs\)$"):
        fnnet.fit(NET, LOSS, optim.sgd(0.1), late, _data(), epochs=2, batch_size=8)


@pytest.mark.parametrize("field, value", [("epoch", -1), ("step", -3)])
def test_fit_refuses_a_state_with_negative_counts(field, value):
    state = _fit(epochs=1, batch_size=8).state
    bad = state._replace(**{field: np.asarray(value, np.int32)})
    with pytest.raises(ValueError, match=r"^params: a TrainState with epoch >= 0 and step >= 0 expected, got "
                                         f"epoch {int(bad.epoch)} and step {int(bad.step)}"):
        fnnet.fit(NET, LOSS, optim.sgd(0.1), bad, _data(), epochs=1, batch_size=8)


def test_fit_refuses_mixed_parameter_dtypes_naming_the_leaves():
    params = NET.init(jax.random.key(0))
    params[0]["w"] = params[0]["w"].astype(jnp.float16)
    with pytest.raises(ValueError, match=r"got mixed: params\[0\]\['w'\] is float16, params\[0\]\['b'\] is float32$"):
        fnnet.fit(NET, LOSS, optim.sgd(0.1), params, _data(), key=jax.random.key(0), epochs=1)


def test_fit_under_a_transformation_says_it_cannot_be_traced():
    params, (x, t) = NET.init(jax.random.key(0)), _data()
    with pytest.raises(TypeError, match=r"^fit runs its own compiled loop on concrete arrays and cannot be traced "
                                        r"\(jit/vmap/grad\); use make_epochs/make_step/value_and_grad"):
        jax.jit(lambda x: fnnet.fit(NET, LOSS, optim.sgd(0.1), params, (x, t), key=jax.random.key(0)).params)(x)

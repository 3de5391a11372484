"""Ensembles and sweeps: every member of a vmapped fit_many equals the same network trained
alone by fit (params, history, early stopping, divergence); the ensemble's prediction is the
mean of the members' probabilities; bad input gets one-line errors."""


import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import Dense, DivergenceError, Dropout, EarlyStopping, Network, fit, losses, optim
from tests.support.compiles import counted
from tests.support.nets import CONV1D_NET, CONV_NET, conv_data

NET = Network(5, (Dense(8, "relu"), Dropout(0.2), Dense(3)))  # dropout: the keys matter
LOSS = "cross_entropy_logits"
N = 4
LR = np.array([0.05, 0.1, 0.2, 0.3])
L2 = np.array([0.0, 1e-3, 1e-2, 0.1])


def make(learning_rate, l2):
    return optax.chain(optim.l2(l2), optim.sgd(learning_rate))


def _data(dtype, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(dtype), rng.integers(0, 3, n)


def _setup(dtype):
    params = jax.vmap(lambda k: NET.init(k, dtype))(jax.random.split(jax.random.key(0), N))
    keys = jax.random.split(jax.random.key(1), N)
    return params, keys, _data(dtype), _data(dtype, n=20, seed=1)


def _member(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def _close(got, want, rtol, atol):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _histories_close(got, want, rtol):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.keys() == w.keys() and (g["epoch"], g["step"]) == (w["epoch"], w["step"])
        np.testing.assert_allclose([g[k] for k in sorted(g)], [w[k] for k in sorted(w)], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
def test_every_member_equals_its_run_alone(dtype, rtol, request):
    if dtype == "float64":
        request.getfixturevalue("x64")
    params, keys, data, val = _setup(dtype)
    r = fnnet.fit_many(NET, LOSS, make, params, data, keys=keys, epochs=3, batch_size=16,
                       hyperparams={"learning_rate": LR, "l2": L2}, validation_data=val)
    assert jax.tree.leaves(r.params)[0].dtype == np.dtype(dtype)
    # every member in float64; in float32 the sweep's two ends (each run alone is a compile)
    for i in range(N) if dtype == "float64" else (0, N - 1):
        alone = fit(NET, LOSS, make(float(LR[i]), float(L2[i])), _member(params, i), data, key=keys[i],
                    epochs=3, batch_size=16, validation_data=val)
        _close(_member(r.params, i), alone.params, rtol, rtol * 1e-2)
        _histories_close(r.histories[i], alone.history, rtol)
        # the state to resume from: optimizer state, counters and key are fit's
        _close(_member(r.state.opt_state, i), alone.state.opt_state, rtol, rtol * 1e-2)
        assert (int(r.state.step[i]), int(r.state.epoch[i])) == (int(alone.state.step), int(alone.state.epoch))
        assert (jax.random.key_data(r.state.key[i]) == jax.random.key_data(alone.state.key)).all()
        assert [h["epoch"] for h in r.histories[i]] == [1, 2, 3]
    assert (r.best_epochs, r.stopped_early, r.diverged) == ([None] * N, [False] * N, [False] * N)
    # the members differ: seeds and hyperparameters are theirs
    assert len({round(h[-1]["loss"], 6) for h in r.histories}) == N


def test_a_shared_optimizer_and_weighted_data():
    params, keys, (x, t), _ = _setup("float32")
    w = np.linspace(0.5, 2.0, x.shape[0])
    opt = optim.momentum(0.1, 0.9)
    r = fnnet.fit_many(NET, LOSS, opt, params, (x, t, w), keys=keys, epochs=2, batch_size=12)
    for i in (0, N - 1):
        alone = fit(NET, LOSS, opt, _member(params, i), (x, t, w), key=keys[i], epochs=2, batch_size=12)
        _close(_member(r.params, i), alone.params, 1e-5, 1e-7)
        _histories_close(r.histories[i], alone.history, 1e-5)


@pytest.mark.parametrize("stop", [
    EarlyStopping(monitor="val_loss", patience=2),
    EarlyStopping(monitor="loss", patience=2, min_delta=0.01, restore_best=False),
], ids=["val_loss", "loss min_delta no restore"])
def test_early_stopping_is_per_member_and_equals_fit(stop, x64):
    params, keys, data, val = _setup("float64")
    lr = np.array([0.01, 1.0, 3.0, 0.3])
    hp = {"learning_rate": lr, "l2": np.zeros(N)}
    r = fnnet.fit_many(NET, LOSS, make, params, data, keys=keys, epochs=20, batch_size=8,
                       hyperparams=hp, validation_data=val, early_stopping=stop)
    for i in range(N):
        alone = fit(NET, LOSS, make(float(lr[i]), 0.0), _member(params, i), data, key=keys[i], epochs=20,
                    batch_size=8, validation_data=val, early_stopping=stop)
        assert (r.best_epochs[i], r.stopped_early[i]) == (alone.best_epoch, alone.stopped_early)
        _close(_member(r.params, i), alone.params, 1e-12, 1e-14)
        _histories_close(r.histories[i], alone.history, 1e-12)
    # members stop at their own epochs while the others go on (with val_loss, one to the end)
    assert len({len(h) for h in r.histories}) > 1
    if stop.monitor == "val_loss":
        assert True in r.stopped_early and False in r.stopped_early and max(map(len, r.histories)) == 20


def test_a_diverging_member_keeps_its_last_finite_params_and_the_others_go_on(x64):
    params, keys, data, val = _setup("float64")
    lr = np.array([0.1, 1e300, 0.2, 0.05])
    hp = {"learning_rate": lr, "l2": np.zeros(N)}
    r = fnnet.fit_many(NET, LOSS, make, params, data, keys=keys, epochs=3, batch_size=16, hyperparams=hp)
    assert r.diverged == [False, True, False, False]
    with pytest.raises(DivergenceError) as e:
        fit(NET, LOSS, make(1e300, 0.0), _member(params, 1), data, key=keys[1], epochs=3, batch_size=16)
    _close(_member(r.params, 1), e.value.params, 0, 0)
    assert list(r.histories[1]) == list(e.value.history)
    assert [len(h) for h in r.histories] == [3, len(e.value.history), 3, 3]
    alone = fit(NET, LOSS, make(0.2, 0.0), _member(params, 2), data, key=keys[2], epochs=3, batch_size=16)
    _close(_member(r.params, 2), alone.params, 1e-12, 1e-14)


def test_the_ensemble_prediction_is_the_mean_of_the_members_softmaxes():
    params, _, _, (x, t) = _setup("float32")
    p = fnnet.ensemble_predict(NET, params, x)
    want = np.mean([jax.nn.softmax(NET.apply(_member(params, i), x), axis=-1) for i in range(N)], axis=0)
    np.testing.assert_allclose(p, want, rtol=1e-6, atol=1e-7)
    assert fnnet.ensemble_accuracy(NET, params, x, t) == pytest.approx(float(np.mean(np.argmax(want, 1) == t)))
    # outputs that already are probabilities are averaged as they are
    soft = Network(5, (Dense(8, "tanh"), Dense(3, "softmax")))
    sp = jax.vmap(soft.init)(jax.random.split(jax.random.key(3), N))
    want = np.mean([soft.apply(_member(sp, i), x) for i in range(N)], axis=0)
    np.testing.assert_allclose(fnnet.ensemble_predict(soft, sp, x), want, rtol=1e-6, atol=1e-7)
    assert float(losses.accuracy(fnnet.ensemble_predict(soft, sp, x), jnp.asarray(t))) == fnnet.ensemble_accuracy(soft, sp, x, t)
    members = fnnet.unstack(sp)
    assert len(members) == N and np.array_equal(members[2][1]["w"], sp[1]["w"][2])


def _bad(**change):
    params, keys, data, _ = _setup("float32")
    kwargs = dict(params=params, keys=keys, hyperparams={"learning_rate": LR, "l2": L2})
    kwargs.update(change)
    params = kwargs.pop("params")
    fnnet.fit_many(NET, LOSS, make, params, data, epochs=1, batch_size=16, **kwargs)


@pytest.mark.parametrize("change, message", [
    (lambda p, k: {"hyperparams": {"learning_rate": LR[:3], "l2": L2}},
     r"hyperparams['learning_rate']: expected 4 values (one per member), got 3"),
    (lambda p, k: {"hyperparams": {"learning_rate": 0.1, "l2": L2}},
     r"hyperparams['learning_rate']: expected 4 values (one per member), got a scalar"),
    (lambda p, k: {"keys": k[:3]}, "keys: expected 4 keys (one per member, e.g. jax.random.split(key, 4)), "
                                   "got shape (3,)"),
    (lambda p, k: {"keys": k[0]}, "keys: expected 4 keys (one per member, e.g. jax.random.split(key, 4)), "
                                  "got a single key"),
    (lambda p, k: {"params": [p[0], p[1], {**p[2], "b": p[2]["b"][:3]}]},
     "params[2]['b']: leading axis 3 but params[0]['b'] has 4 (the members, N); every leaf must stack "
     "the same members"),
    (lambda p, k: {"params": [{**p[0], "w": p[0]["w"][:, :4]}, p[1], p[2]]},
     "one member's params[0]['w'] (Dense): expected shape (5, 8), got (4, 8)"),
], ids=["hyperparam length", "hyperparam scalar", "keys length", "one key", "leading axes", "member shape"])
def test_bad_input_gets_one_line_errors(change, message):
    params, keys, _, _ = _setup("float32")
    with pytest.raises(ValueError) as e:
        _bad(**change(params, keys))
    assert str(e.value) == message, str(e.value)
    assert "\n" not in str(e.value)


def test_a_sweep_compiles_once_and_zero_epochs_return_the_start():
    _, keys, data, _ = _setup("float32")
    net = Network(5, (Dense(7, "tanh"), Dense(3)))  # a fresh shape: nothing cached
    params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), N))
    run = lambda lr: fnnet.fit_many(net, LOSS, make, params, _data("float32", seed=int(lr[0] * 100)),  # noqa: E731
                                    keys=keys, epochs=3, batch_size=16, hyperparams={"learning_rate": lr, "l2": L2})
    run(LR)
    with counted() as compiles:
        run(LR[::-1])  # other values, other data: the same programs
        assert compiles() == 0
    r = fnnet.fit_many(net, LOSS, make, params, data, keys=keys, epochs=0, batch_size=16,
                       hyperparams={"learning_rate": LR, "l2": L2})
    _close(r.params, params, 0, 0)
    assert [len(h) for h in r.histories] == [0] * N


@pytest.mark.parametrize("kwargs, message", [
    ({"early_stopping": EarlyStopping(monitor="val_loss")},
     "early stopping monitors 'val_loss', which is not among the metrics ['loss', 'accuracy']; "
     "pass validation_data"),
    ({"make_optimizer": optim.sgd(0.1)}, "make_optimizer: with optimizer hyperparams, expected a function "
     "make_optimizer(**hp) returning an optax GradientTransformation, got GradientTransformationExtraArgs"),
    ({"make_optimizer": make, "hyperparams": None}, "make_optimizer: without optimizer hyperparams, expected an optax "
     "GradientTransformation shared by all members, got function"),
], ids=["monitor", "optimizer with hyperparams", "function without"])
def test_bad_arguments_get_one_line_errors(kwargs, message):
    params, keys, data, _ = _setup("float32")
    kwargs = {"make_optimizer": make, "hyperparams": {"learning_rate": LR, "l2": L2}, **kwargs}
    with pytest.raises(ValueError) as e:
        fnnet.fit_many(NET, LOSS, kwargs.pop("make_optimizer"), params, data, keys=keys, epochs=1,
                       batch_size=16, **kwargs)
    assert str(e.value) == message


def test_per_member_dropout_rates_equal_each_rate_alone(x64):
    params, keys, data, _ = _setup("float64")
    rates = np.array([0.0, 0.2, 0.5, 0.7])
    r = fnnet.fit_many(NET, LOSS, make, params, data, keys=keys, epochs=2, batch_size=16,
                       hyperparams={"learning_rate": LR, "l2": L2, "dropout": rates})
    finals = []
    for i in range(N):
        net = Network(5, (Dense(8, "relu"), Dropout(float(rates[i])), Dense(3)))
        alone = fit(net, LOSS, make(float(LR[i]), float(L2[i])), _member(params, i), data, key=keys[i],
                    epochs=2, batch_size=16)
        _close(_member(r.params, i), alone.params, 1e-12, 1e-14)
        finals.append(alone.params)
    # the rate matters: member 1 with NET's own rate 0.2 but another member's draws differs
    assert not np.allclose(finals[1][0]["w"], finals[2][0]["w"])


def test_a_tree_hyperparameter_masks_updates_per_member():
    params, keys, data, _ = _setup("float32")
    mask = [{"w": np.stack([np.ones((5, 8), np.float32), np.zeros((5, 8), np.float32)] * 2),
             "b": np.ones((N, 8), np.float32)}, {}, jax.tree.map(np.ones_like, params[2])]

    def masked(learning_rate, mask):
        times_mask = optax.GradientTransformation(
            lambda p: optax.EmptyState(), lambda u, s, p=None: (jax.tree.map(jnp.multiply, u, mask), s))
        return optax.chain(optim.sgd(learning_rate), times_mask)

    r = fnnet.fit_many(NET, LOSS, masked, params, data, keys=keys, epochs=1, batch_size=16,
                       hyperparams={"learning_rate": LR, "mask": mask})
    w0, w = params[0]["w"], r.params[0]["w"]
    np.testing.assert_array_equal(w[1::2], w0[1::2])  # masked members: the first layer's w unchanged
    assert not np.allclose(w[::2], w0[::2])


@pytest.mark.parametrize("net, rates, message", [
    (NET, [0.1, 0.2, 1.0, 0.0], "hyperparams['dropout']: expected 4 dropout rates in [0, 1), got "
                                "[0.1, 0.2, 1.0, 0.0]"),
    (Network(5, (Dense(8, "relu"), Dense(3))), [0.1] * 4,
     "hyperparams['dropout']: the network has no Dropout layers after its hidden layers to set; build it "
     "with one (e.g. mlp(..., dropout=0.5): the value there is replaced per member)"),
], ids=["rate range", "no dropout layer"])
def test_bad_dropout_rates_get_one_line_errors(net, rates, message):
    params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), N))
    _, keys, data, _ = _setup("float32")
    with pytest.raises(ValueError) as e:
        fnnet.fit_many(net, LOSS, optim.sgd(0.1), params, data, keys=keys, epochs=1, batch_size=16,
                       hyperparams={"dropout": np.array(rates, np.float32)})
    assert str(e.value) == message


@pytest.mark.parametrize("at_once", [1, 3])
def test_members_in_groups_equal_all_at_once(at_once):
    params, keys, data, val = _setup("float32")
    kw = dict(keys=keys, epochs=2, batch_size=16, hyperparams={"learning_rate": LR, "l2": L2, "dropout": LR},
              validation_data=val)
    together = fnnet.fit_many(NET, LOSS, make, params, data, **kw)
    grouped = fnnet.fit_many(NET, LOSS, make, params, data, members_at_once=at_once, **kw)
    _close(grouped.params, together.params, 1e-5, 1e-6)
    for g, t in zip(grouped.histories, together.histories):
        _histories_close(g, t, 1e-5)
    for bad in (0, N + 1):
        with pytest.raises(ValueError, match=rf"^members_at_once: expected None or an int in \[1, {N}\] \(the members; "
                                             rf"without mesh=\), got {bad}$"):
            fnnet.fit_many(NET, LOSS, make, params, data, members_at_once=bad, **kw)


# ---------------------------------------------------------------- convolutional nets


def test_conv_members_equal_their_runs_alone(x64):
    # Two members with their own rates, L2 and dropout rate after Flatten (the masks' keys are theirs).
    lr, l2, rates = np.array([0.05, 0.2]), np.array([0.0, 1e-2]), np.array([0.1, 0.4])
    params = jax.vmap(lambda k: CONV_NET.init(k, jnp.float64))(jax.random.split(jax.random.key(0), 2))
    keys = jax.random.split(jax.random.key(1), 2)
    data, val = conv_data(n=20, dtype=np.float64), conv_data(n=6, seed=1, dtype=np.float64)
    r = fnnet.fit_many(CONV_NET, LOSS, make, params, data, keys=keys, epochs=2, batch_size=8, validation_data=val,
                       hyperparams={"learning_rate": lr, "l2": l2, "dropout": rates})
    for i in range(2):
        net = Network(CONV_NET.in_shape, CONV_NET.layers[:4] + (Dropout(float(rates[i])),) + CONV_NET.layers[5:])
        alone = fit(net, LOSS, make(float(lr[i]), float(l2[i])), _member(params, i), data, key=keys[i], epochs=2,
                    batch_size=8, validation_data=val)
        # float64 round-off: the vmapped convolution may sum in another order
        _close(_member(r.params, i), alone.params, 1e-12, 1e-14)
        _histories_close(r.histories[i], alone.history, 1e-12)
    assert not np.allclose(r.params[0]["w"][0], r.params[0]["w"][1])


@pytest.mark.parametrize("x, message", [
    (conv_data(CONV1D_NET)[0].reshape(24, 24), "data: expected features of shape (n, 12, 2), got (24, 24); the "
                                                "values are there in another shape: x.reshape(-1, 12, 2)"),
    (np.swapaxes(conv_data(CONV1D_NET)[0], 1, 2), "data: expected features of shape (n, 12, 2), got (24, 2, 12); "
                                                  "channels come last in fnnet (axis -1 of size 2), this looks "
                                                  "channels-first: x = jnp.moveaxis(x, 1, -1)"),
], ids=["flat", "channels first"])
def test_conv_data_of_another_shape_is_told_the_fix(x, message):
    params = jax.vmap(CONV1D_NET.init)(jax.random.split(jax.random.key(0), 2))
    t = conv_data(CONV1D_NET)[1]
    with pytest.raises(ValueError) as e:
        fnnet.fit_many(CONV1D_NET, LOSS, optim.sgd(0.1), params, (x, t), keys=jax.random.split(jax.random.key(1), 2),
                       epochs=1, batch_size=8)
    assert str(e.value) == message
    with pytest.raises(ValueError) as e:
        fnnet.ensemble_accuracy(CONV1D_NET, params, x, t)
    assert str(e.value) == message


@pytest.mark.parametrize("group, size, expected", [
    (32, 19_210, 2),   # 3 fit within VMAPPED_PARAMS; 2 divides 32: no remainder to compile
    (30, 19_210, 3),   # 3 divides 30
    (7, 19_210, 3),    # only 1 divides 7, less than half of 3: the remainder is compiled
    (3, 19_210, None),  # the whole group fits
    (64, 1 << 20, 1),  # one member is past the bound
])
def test_the_default_members_at_once_divides_the_group_when_it_can(group, size, expected):
    from fnnet.training import ensemble

    assert ensemble.default_at_once(group, size) == expected


@pytest.mark.parametrize("cores", [1, 2, 4])
def test_members_train_a_group_per_core_and_each_is_its_own_fit(monkeypatch, x64, cores):
    from fnnet.training import ensemble

    monkeypatch.setattr(ensemble.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert ensemble.worker_groups(N, 100) == min(cores, N)  # a small member: one group per core
    assert ensemble.worker_groups(N, ensemble.THREADED_WORK) == 1  # one that keeps the cores busy alone
    params, keys, data, val = _setup("float64")  # the caller's 64-bit scope reaches every thread
    kw = dict(epochs=2, batch_size=16, validation_data=val)
    r = fnnet.fit_many(NET, LOSS, make, params, data, keys=keys, hyperparams={"learning_rate": LR, "l2": L2}, **kw)
    assert r.params[0]["w"].dtype == jnp.float64 and r.params[0]["w"].shape[0] == N
    for i in range(N):
        one = fit(NET, LOSS, make(LR[i], L2[i]), _member(params, i), data, key=keys[i], **kw)
        _close(_member(r.params, i), one.params, 1e-12, 1e-14)
        _histories_close(r.histories[i], one.history, 1e-12)


def test_when_one_group_fails_the_others_stop_and_the_error_is_raised(monkeypatch):
    import threading

    from fnnet.training import ensemble

    monkeypatch.setattr(ensemble.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    seen, calls, lock = [], [], threading.Lock()
    both = threading.Barrier(2, timeout=30)  # the first fails only once the second runs (a loaded CI machine)

    def loop(run, values, state, hp, data, epochs, chunk, steps, stop):
        with lock:
            calls.append(threading.current_thread().name)
            first = len(calls) == 1
        both.wait()
        if first:
            raise RuntimeError("the first group failed")
        seen.append(stop.wait(timeout=30))  # the second group: told to stop, not left running
        return state, []

    monkeypatch.setattr(ensemble, "_epochs_loop", loop)
    params, keys, data, _ = _setup("float32")
    with pytest.raises(RuntimeError, match="^the first group failed$"):
        fnnet.fit_many(NET, LOSS, make, params, data, keys=keys, epochs=2, batch_size=16,
                       hyperparams={"learning_rate": LR, "l2": L2})
    for _ in range(300):
        if seen:
            break
        threading.Event().wait(0.1)
    assert seen == [True] and all(name.startswith("fnnet-members") for name in calls)


def test_each_members_hyperparameters_are_checked_as_fit_checks_its_own():
    params, keys, data, _ = _setup("float32")
    rates = LR.copy()
    rates[2] = -0.1  # fit would refuse optim.sgd(-0.1): so does fit_many, naming the member
    with pytest.raises(ValueError, match=r"^hyperparams, member 2: learning_rate must be a finite number >= 0 or an "
                                         r"optax schedule, got -0\.1\d*$"):
        fnnet.fit_many(NET, LOSS, make, params, data, keys=keys, epochs=1, batch_size=16,
                       hyperparams={"learning_rate": rates, "l2": L2})

"""Evaluation in inference mode: the data set's loss and accuracy, in chunks, weighted
per example as fit weights them, and one-line errors."""

import jax
import numpy as np
import pytest

import fnnet
from fnnet import Conv2D, Dense, Network, losses
from tests.support.nets import CONV_NET, LOSS, NET, conv_data
from tests.support.nets import data as _data


def test_evaluate_runs_in_inference_mode():
    params = NET.init(jax.random.key(0))
    x, t = _data()
    m = fnnet.evaluate(NET, LOSS, params, (x, t), batch_size=5)  # padded chunks
    assert m["loss"] == pytest.approx(float(LOSS(NET.apply(params, x), t)), rel=1e-6)
    assert m["accuracy"] == pytest.approx(float(losses.accuracy(NET.apply(params, x), t)))


def test_evaluate_on_an_empty_data_set_is_named():
    net = Network(5, (Dense(4, "relu"), Dense(3)))
    with pytest.raises(ValueError, match=r"data: the data set is empty \(0 examples\)"):
        fnnet.evaluate(net, "cross_entropy_logits", net.init(jax.random.key(0)),
                       (np.ones((0, 5), np.float32), np.zeros(0, np.int32)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_weights_count_an_example_as_often_as_its_weight(reduction):
    params = NET.init(jax.random.key(0))
    x, t = _data()
    w = np.random.default_rng(0).integers(0, 4, len(x)).astype(np.float32)
    loss = losses.cross_entropy(reduction)
    weighted = fnnet.evaluate(NET, loss, params, (x, t, w), batch_size=5)
    reps = w.astype(int)
    repeated = fnnet.evaluate(NET, loss, params, (np.repeat(x, reps, 0), np.repeat(t, reps)), batch_size=5)
    assert weighted["loss"] == pytest.approx(repeated["loss"], rel=1e-5)
    assert weighted["accuracy"] == pytest.approx(repeated["accuracy"], rel=1e-6)
    unweighted = fnnet.evaluate(NET, loss, params, (x, t))
    assert weighted["loss"] != pytest.approx(unweighted["loss"], rel=1e-3)  # the weights did something
    assert fnnet.evaluate(NET, loss, params, (x, t, np.ones(len(x)))) == pytest.approx(unweighted)


def test_a_callable_loss_gets_the_weights_when_it_takes_them():
    params = NET.init(jax.random.key(0))
    x, t = _data()
    w = np.linspace(0.5, 2.0, len(x)).astype(np.float32)
    seen = []

    def weighted_mean(y, t, weights):
        seen.append(weights.shape)
        return losses.cross_entropy()(y, t, weights)

    got = fnnet.evaluate(NET, weighted_mean, params, (x, t, w))
    assert seen == [(len(x),)]
    assert got == pytest.approx(fnnet.evaluate(NET, LOSS, params, (x, t, w)), rel=1e-6)


@pytest.mark.parametrize("data, message", [
    (lambda x, t: x, r"data: expected \(x, t\) or \(x, t, weights\), got ndarray"),
    (lambda x, t: (x,), r"data: expected \(x, t\) or \(x, t, weights\), got 1 arrays"),
    (lambda x, t: (x, t, -np.ones(len(x))), r"data: weights must be finite and >= 0, and not all 0"),
    (lambda x, t: (x, t, np.ones(3)), r"data: expected 23 per-example weights \(one per example\), got shape \(3,\)"),
])
def test_data_that_is_not_what_fit_takes_is_named(data, message):
    params = NET.init(jax.random.key(0))
    with pytest.raises(ValueError, match=message):
        fnnet.evaluate(NET, LOSS, params, data(*_data()))
    with pytest.raises(ValueError, match="loss 'plain' takes none; give it a third argument"):
        def plain(y, t):
            return LOSS(y, t)
        fnnet.evaluate(NET, plain, params, (*_data(), np.ones(23)))



# ---------------------------------------------------------------- convolutional nets


def test_a_conv_net_is_evaluated_in_padded_chunks_in_inference_mode():
    params = CONV_NET.init(jax.random.key(0))
    x, t = conv_data()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(x)).astype(np.float32)
    y = jax.jit(CONV_NET.apply)(params, x)  # inference: Dropout passes everything
    loss = losses.cross_entropy(from_logits=True)
    for data, weights in [((x, t), None), ((x, t, w), w)]:
        got = fnnet.evaluate(CONV_NET, loss, params, data, batch_size=5)  # 5 chunks, the last padded
        assert got["loss"] == pytest.approx(float(loss(y, t, weights)), rel=1e-5)
        assert got["accuracy"] == pytest.approx(float(losses.accuracy(y, t, weights)), rel=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_net_with_an_output_per_position_is_evaluated_per_example(reduction):
    # Each example's loss sums (or averages) its positions' as the loss does; its weight
    # counts it as often as repeating it would.
    net = Network((5, 5, 1), (Conv2D(3, 3, "tanh", padding="SAME"), Conv2D(3, 1)))
    params = net.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5, 5, 1)).astype(np.float32)
    t = rng.integers(0, 3, (7, 5, 5)).astype(np.int32)
    loss = losses.cross_entropy(reduction, from_logits=True)
    got = fnnet.evaluate(net, loss, params, (x, t), batch_size=3)
    y = jax.jit(net.apply)(params, x)
    assert got["loss"] == pytest.approx(float(loss(y, t)), rel=1e-5)
    assert got["accuracy"] == pytest.approx(float(np.mean(np.argmax(y, -1) == t)), rel=1e-6)
    w = np.array([2, 0, 1, 3, 1, 0, 1], np.float32)
    reps = w.astype(int)
    weighted = fnnet.evaluate(net, loss, params, (x, t, w), batch_size=3)
    repeated = fnnet.evaluate(net, loss, params, (np.repeat(x, reps, 0), np.repeat(t, reps, 0)), batch_size=3)
    assert weighted == pytest.approx(repeated, rel=1e-5)
    assert weighted["loss"] == pytest.approx(float(loss(y, t, w)), rel=1e-5)  # the loss's own weighting


def test_conv_data_of_another_shape_is_told_the_fix():
    x, t = conv_data()
    with pytest.raises(ValueError) as e:
        fnnet.evaluate(CONV_NET, LOSS, CONV_NET.init(jax.random.key(0)), (np.moveaxis(x, -1, 1), t))
    assert str(e.value) == ("data: expected features of shape (n, 8, 8, 1), got (24, 1, 8, 8); channels come last "
                            "in fnnet (axis -1 of size 1), this looks channels-first: x = jnp.moveaxis(x, 1, -1)")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_runs_splits_are_evaluated_by_one_program_as_evaluate_does_each(reduction):
    from fnnet.training.evaluation import evaluate_sets
    from tests.support.compiles import counted

    net = Network(5, (Dense(6, "tanh"), Dense(3)))
    loss = losses.cross_entropy(reduction, from_logits=True)
    params = net.init(jax.random.key(0))
    sets = {"train": _data(n=23), "val": _data(n=7, seed=1), "test": None, "other": _data(n=9, seed=2)}
    with counted() as compiles:
        got = evaluate_sets(net, loss, params, sets, batch_size=8)  # chunks across the sets' borders
        assert compiles() <= 2  # the program and the labels' conversion
    assert list(got) == ["train", "val", "other"]
    for name, m in got.items():
        want = fnnet.evaluate(net, loss, params, sets[name])
        assert m["loss"] == pytest.approx(want["loss"], rel=1e-6) and m["accuracy"] == want["accuracy"]
    with counted() as compiles:  # three sets of other sizes, the same total: the same program
        evaluate_sets(net, loss, params, {"a": _data(n=20), "b": _data(n=10, seed=3), "c": _data(n=9)}, batch_size=8)
        assert compiles() == 0
    # device arrays or weights: one set at a time, as evaluate
    x, t = _data(n=11)
    weighted = {"w": (x, t, np.linspace(0.5, 1.5, 11)), "d": (jax.numpy.asarray(x), jax.numpy.asarray(t))}
    got = evaluate_sets(net, loss, params, weighted)
    assert got["w"] == fnnet.evaluate(net, loss, params, weighted["w"])
    assert got["d"] == fnnet.evaluate(net, loss, params, weighted["d"])


def test_bfloat16_parameters_get_metrics_summed_and_counted_in_float32():
    import jax.numpy as jnp

    from fnnet import optim

    net = Network(5, (Dense(16, "tanh"), Dense(3)))
    params = net.init(jax.random.key(0), jnp.bfloat16)
    x, t = _data(n=359)
    y = np.asarray(net.apply(params, jnp.asarray(x, jnp.bfloat16)).astype(jnp.float32))
    hits = int(np.sum(np.argmax(y, axis=1) == t))
    assert 0 < hits < 359
    m = fnnet.evaluate(net, "cross_entropy_logits", params, (x, t), batch_size=100)
    assert m["accuracy"] == pytest.approx(hits / 359, rel=1e-6)  # a bfloat16 sum would be off by ~1e-2
    # η = 0 keeps the parameters: the epoch's running accuracy is the data set's
    r = fnnet.fit(net, "cross_entropy_logits", optim.sgd(0.0), params, (x, t), key=jax.random.key(1), epochs=1,
                  batch_size=32, validation_data=(x, t))
    assert r.history[0]["accuracy"] == pytest.approx(hits / 359, rel=1e-6)
    assert r.history[0]["val_accuracy"] == pytest.approx(hits / 359, rel=1e-6)
    per_example = losses.cross_entropy("sum", from_logits=True)(jnp.asarray(y), jnp.asarray(t))
    assert r.history[0]["loss"] == pytest.approx(float(per_example) / 359, rel=1e-2)  # bfloat16 logits


def test_evaluate_under_vmap_or_grad_says_it_cannot_be_traced():
    params, (x, t) = NET.init(jax.random.key(0)), _data()
    message = (r"^evaluate runs its own compiled loop on concrete arrays and cannot be traced \(jit/vmap/grad\); "
               r"use net.apply with fnnet.losses for traced code")
    with pytest.raises(TypeError, match=message):
        jax.vmap(lambda x: fnnet.evaluate(NET, LOSS, params, (x, t)))(np.stack([x, x]))
    with pytest.raises(TypeError, match=message):
        jax.grad(lambda p: fnnet.evaluate(NET, LOSS, p, (x, t))["loss"])(params)


def test_evaluate_takes_a_numpy_integer_batch_size():
    params, data = NET.init(jax.random.key(0)), _data()
    assert fnnet.evaluate(NET, LOSS, params, data, batch_size=np.int64(8)) == fnnet.evaluate(
        NET, LOSS, params, data, batch_size=8)

"""The compiled epochs: every example once per epoch (the partial last batch padded and
masked), keys folded per epoch and update, the loss column checked on the device, and
a tiny net's program small enough to run inline."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import Dense, Network, losses, optim, worked_example
from fnnet.training import epochs
from tests.support.nets import LOSS, NET
from tests.support.nets import data as _data
from tests.support.nets import small_fit as _fit


@pytest.mark.parametrize("size, n, bad", [
    (100, 100, 0), (100, 100, 99), (1000, 999, 0), (1000, 999, 127), (1000, 999, 128),
    (1000, 999, 998), (1000, 999, 900), (16384, 10000, 9999), (16384, 10000, 5000),
])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_the_loss_column_check_finds_any_non_finite_entry_among_those_run(size, n, bad, value):
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
    spec = epochs.EpochSpec(worked_example.NET, losses.squared_error("sum"), optim.sgd(0.5), 1, accuracy=False)
    program = epochs.epochs_program(spec, 16384, fresh=True)
    x, t = jnp.asarray([worked_example.X], jnp.float32), jnp.asarray([worked_example.T], jnp.float32)
    compiled = program.lower((), worked_example.notes_params(jnp.float32), jax.random.key(0), x, t, None,
                             jnp.int32(10_000), None).compile()
    flops = compiled.cost_analysis()
    flops = (flops[0] if isinstance(flops, list) else flops)["flops"]
    assert 100 < flops < 1000


def test_every_example_counts_once_per_epoch_with_a_partial_last_batch():
    # η = 0 keeps the parameters, so the epoch's loss is the loss of the whole data set.
    net = Network(5, (Dense(3, "softmax"),))
    params = net.init(jax.random.key(0))
    x, t = _data(n=23)
    for reduction in ("sum", "mean"):
        loss = losses.cross_entropy(reduction)
        r = fnnet.fit(net, loss, optim.sgd(0.0), params, (x, t), key=jax.random.key(1),
                      epochs=2, batch_size=5)
        expected = float(loss(net.apply(params, x), t))
        assert r.history[0]["loss"] == pytest.approx(expected, rel=1e-6)
        assert r.history[1]["loss"] == pytest.approx(expected, rel=1e-6)
        assert r.history[0]["accuracy"] == pytest.approx(float(losses.accuracy(net.apply(params, x), t)))


def test_no_key_is_used_twice():
    with jax.debug_key_reuse(True):
        r = _fit(epochs=3, key=jax.random.key(7))
        r = fnnet.fit(NET, LOSS, optim.sgd(0.1), r.state, _data(), epochs=2, batch_size=4)
    assert r.history[-1]["epoch"] == 5


def test_step_keys_are_fold_in_of_the_step():
    # Two fits of one epoch each continue the key sequence exactly like one fit of two.
    two = _fit(epochs=2)
    one = _fit(epochs=1)
    resumed = fnnet.fit(NET, LOSS, optim.sgd(0.1), one.state, _data(), epochs=1, batch_size=4)
    for p, q in zip(jax.tree.leaves(two.params), jax.tree.leaves(resumed.params)):
        np.testing.assert_array_equal(p, q)

"""A group trained by fit_many: a few members per call equal all at once, and members
that stop early equal fit with the same early stopping."""

import jax
import numpy as np
import pytest

from fnnet import EarlyStopping, fit
from fnnet.structure.padding import pad, unpad
from fnnet.structure.trainer import train_group
from tests.structure.test_padding import EXACT, GROUP, MEMBERS, _data, _own


def test_training_in_parts_equals_training_all_at_once(x64):
    keys = jax.random.split(jax.random.key(4), len(MEMBERS))
    whole = train_group(GROUP, _data(), keys=keys, epochs=2, batch_size=8, dtype="float64")
    parts = train_group(GROUP, _data(), keys=keys, epochs=2, batch_size=8, dtype="float64", per_program=2)
    for a, b in zip(jax.tree.leaves(whole.params), jax.tree.leaves(parts.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=r"^per_program: expected a divisor of the group's 4 members, got 3$"):
        train_group(GROUP, _data(), keys=keys, epochs=1, batch_size=8, per_program=3)


def test_members_that_stop_early_equal_fit_with_the_same_early_stopping(x64):

    x, t = _data()
    val, stopping = (x[:8] + 0.5, t[::-1][:8]), EarlyStopping("val_loss", 1)
    keys = jax.random.split(jax.random.key(7), len(MEMBERS))
    own = [_own(c) for c in MEMBERS]
    start = [net.init(jax.random.key(20 + i), "float64") for i, (net, _, _) in enumerate(own)]
    result = train_group(GROUP, (x, t), keys=keys, epochs=8, batch_size=8, params=pad(GROUP, start), dtype="float64",
                         early_stopping=stopping, validation=val)
    stopped = []
    for i, (net, loss, optimizer) in enumerate(own[:EXACT]):
        alone = fit(net, loss, optimizer, start[i], (x, t), key=jax.random.fold_in(keys[i], 1), epochs=8,
                    batch_size=8, validation_data=val, early_stopping=stopping)
        stopped.append(alone.stopped_early)
        for got, want in zip(jax.tree.leaves(unpad(GROUP, result.params, i)), jax.tree.leaves(alone.params),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert any(stopped)  # the comparison covers a member that stopped (and restored its best)

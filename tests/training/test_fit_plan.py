"""fit's plan: a call on device arrays seen before is one lookup, and still every bad
argument is named."""

import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet import optim
from fnnet.training import device_data, fit_plan
from tests.support.nets import LOSS, NET, data

OPT = optim.sgd(0.1)


def _device_data(seed=0):
    x, t = data(seed=seed)
    return jnp.asarray(x), jnp.asarray(t)


def _fit(params, xt, **kw):
    return fnnet.fit(NET, LOSS, OPT, params, xt, key=jax.random.key(1), **{"epochs": 3, "batch_size": 4, **kw})


def test_a_repeated_call_on_device_arrays_is_planned_once_and_trains_the_same(monkeypatch):
    params, xt = NET.init(jax.random.key(0)), _device_data()
    first = _fit(params, xt)
    looked = []
    monkeypatch.setattr(device_data, "to_device", lambda *a, **k: looked.append(a) or (a[0], a[1]))
    again = _fit(params, xt)
    assert looked == []  # the plan was remembered: the data were not looked at again
    assert again.history == first.history
    for p, q in zip(jax.tree.leaves(again.params), jax.tree.leaves(first.params)):
        np.testing.assert_array_equal(p, q)
    other = _fit(params, _device_data(seed=1))  # other arrays: planned (and checked) anew
    assert len(looked) == 1 and other.history != first.history


@pytest.mark.parametrize("kw, message", [
    (dict(epochs=True), "epochs must be an int >= 0, got True"),
    (dict(batch_size=True), r"batch_size must be an int in \[1, 23\] \(the number of examples\), got True"),
    (dict(epochs=-1), "epochs must be an int >= 0"),
    (dict(batch_size=24), r"batch_size must be an int in \[1, 23\]"),
])
def test_a_remembered_plan_does_not_let_a_bad_argument_through(kw, message):
    params, xt = NET.init(jax.random.key(0)), _device_data()
    _fit(params, xt, epochs=1, batch_size=1)  # planned: True == 1 must not find this plan
    with pytest.raises(ValueError, match=message):
        _fit(params, xt, **{"epochs": 1, "batch_size": 1, **kw})


def test_parameters_of_another_shape_are_checked_even_with_the_same_data():
    params, xt = NET.init(jax.random.key(0)), _device_data()
    _fit(params, xt)
    wrong = [dict(params[0], w=params[0]["w"][:, :7]), *params[1:]]
    with pytest.raises(ValueError, match=r"params\[0\]\['w'\].*expected shape \(5, 8\)"):
        _fit(wrong, xt)


def test_a_plan_is_forgotten_with_its_data():
    params, xt = NET.init(jax.random.key(0)), _device_data(seed=2)
    _fit(params, xt)
    mine = [s for s, (wx, wt, _) in fit_plan._PLANS.items() if wx() is xt[0] and wt() is xt[1]]
    assert len(mine) == 1
    del xt
    gc.collect()
    assert mine[0] not in fit_plan._PLANS

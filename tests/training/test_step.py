"""One update: the gradient from jax.grad or the hand-written pass, the optimizer's step,
pure or jitted, and what a transformation with extra arguments is given."""

import jax
import jax.numpy as jnp
import numpy as np

import fnnet
from fnnet import Dense, Network, optim
from tests.support.nets import LOSS, NET
from tests.support.nets import data as _data
from tests.support.nets import small_fit as _fit


def test_autodiff_and_backprop_give_the_same_trajectory(x64):
    a = _fit(dtype=jnp.float64, grad="autodiff", epochs=4, optimizer=optim.adam(0.01))
    b = _fit(dtype=jnp.float64, grad="backprop", epochs=4, optimizer=optim.adam(0.01))
    for p, q in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_allclose(p, q, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose([h["loss"] for h in a.history], [h["loss"] for h in b.history], rtol=1e-12)
    assert a.history[-1]["step"] == 4 * 6  # 23 examples, batch 4: 6 updates per epoch


def test_train_step_is_one_pure_jitted_update():
    opt = optim.momentum(0.1, 0.9)
    step = fnnet.train_step(NET, LOSS, opt)
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


def test_the_padded_batch_updates_like_its_real_examples_alone(x64):
    net = Network(5, (Dense(3, "softmax"),))
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = _data(n=3, dtype=np.float64)
    step = fnnet.make_step(net, LOSS, optim.sgd(0.5))
    padded = (np.concatenate([x, x[:2]]), np.concatenate([t, t[:2]]), np.array([1.0, 1, 1, 0, 0]))
    a, _, _ = step(params, optim.sgd(0.5).init(params), padded, None)
    b, _, _ = step(params, optim.sgd(0.5).init(params), (x, t), None)
    for p, q in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(p, q, rtol=1e-14)




def test_a_step_given_a_train_state_for_params_says_so():
    import pytest

    state = _fit(epochs=1, batch_size=8).state
    step = fnnet.train_step(NET, LOSS, optim.sgd(0.1))
    with pytest.raises(TypeError, match=r"^params: expected the parameter tree \(one entry per layer\), got a "
                                        r"TrainState; pass state.params and state.opt_state"):
        step(state, state.opt_state, _data(), jax.random.key(0))

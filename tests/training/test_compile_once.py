"""One compile per shape: loops that a research script writes (seeds, rates, fresh
optimizer objects) compile their programs once (``fnnet.training.coefficients``)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import Dense, Network, optim
from fnnet.training import coefficients
from tests.support.compiles import counted
from tests.support.nets import data as _data

LOSS = "cross_entropy_logits"


def _net(width):  # each test its own width: nothing compiled by another test is reused
    return Network(5, (Dense(width, "tanh"), Dense(3)))


def _fit(net, optimizer, seed=0, dtype=jnp.float32, **kw):
    x, t = _data()
    return fnnet.fit(net, LOSS, optimizer, net.init(jax.random.key(seed), dtype), (x, t), key=jax.random.key(1),
                     epochs=3, batch_size=4, **kw)


class _Opaque:
    """A callable the lifting cannot look into: its transformation compiles with constants."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _constant(opt):
    return type(opt)(*(_Opaque(f) for f in opt))


@pytest.mark.parametrize("make", [
    lambda lr: optax.adam(lr),
    lambda lr: optax.sgd(np.float32(lr), momentum=np.float64(0.9)),  # NumPy scalars, as np.geomspace gives
    lambda lr: optax.inject_hyperparams(optax.adam)(learning_rate=lr),
    lambda lr: optax.inject_hyperparams(optax.adam)(learning_rate=jnp.asarray(lr, jnp.float32)),
    lambda lr: optim.adam(lr),
    lambda lr: optax.chain(optim.l2(lr / 10), optim.momentum(lr, 0.9)),
    lambda lr: optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(optax.linear_schedule(lr, lr / 10, 12))),
], ids=["optax.adam", "numpy scalars", "inject_hyperparams", "inject_hyperparams of arrays", "optim.adam", "optim.l2+momentum", "chain+schedule"])
def test_a_loop_of_fits_compiles_once_whatever_the_rates(make):
    net = _net(7)
    first = _fit(net, make(0.01))  # compiles (or reuses another test's program of this structure)
    with counted() as compiles:
        again = _fit(net, make(0.01))  # a fresh object with the same values
        others = [_fit(net, make(lr)) for lr in (0.02, 0.05)]
        assert compiles() == 0
    np.testing.assert_array_equal(first.params[0]["w"], again.params[0]["w"])
    # the new rates are used: each run is its own, and it is the run compiled with its rate
    # as a constant, to round-off (XLA folds constants its own way: compared in float64)
    assert not np.array_equal(first.params[0]["w"], others[0].params[0]["w"])
    with jax.enable_x64(True):
        got, want = (_fit(net, opt, dtype=jnp.float64) for opt in (make(0.05), _constant(make(0.05))))
    for g, w in zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params)):
        assert g.dtype == jnp.float64
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_the_reported_learning_rate_is_an_argument_too():
    net = _net(8)
    _fit(net, optim.sgd(0.1), learning_rate=0.1)
    with counted() as compiles:
        r = _fit(net, optim.sgd(0.3), learning_rate=0.3)
        assert compiles() == 0
    assert r.history[-1]["learning_rate"] == pytest.approx(0.3)


def test_what_compiles_again_a_new_structure_or_shape():
    net = _net(9)
    _fit(net, optim.sgd(0.1))
    with counted() as compiles:
        _fit(net, optim.momentum(0.1, 0.9))  # another structure
        assert compiles() >= 1
        n = compiles()
        _fit(_net(10), optim.sgd(0.1))  # another shape
        assert compiles() > n


def _branching(lr):
    """A transformation whose update branches on its rate in Python: it cannot be traced."""
    def update(g, state, params=None):
        scale = -lr if lr > 0.05 else -2 * lr
        return jax.tree.map(lambda u: scale * u, g), state
    return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


def test_a_transformation_that_cannot_be_traced_compiles_with_its_values():
    net = _net(11)
    lifted, values = coefficients.lift(_branching(0.1))
    assert lifted.traced and values == (0.1,)
    a = _fit(net, _branching(0.1))
    with counted() as compiles:
        _fit(net, _branching(0.1))
        assert compiles() == 0  # the same values: its program
        b = _fit(net, _branching(0.01))
        assert compiles() >= 1  # new values: compiled with them
    # each ran its own branch: η 0.1 against 2 × 0.01
    assert not np.array_equal(a.params[0]["w"], b.params[0]["w"])


def test_lift_keys_structure_and_rebuild_restores_the_values():
    a, va = coefficients.lift(optax.adam(1e-3))
    b, vb = coefficients.lift(optax.adam(2e-3, b1=0.8))
    c, _ = coefficients.lift(optax.adamw(1e-3))
    assert a == b and hash(a) == hash(b) and a != c
    assert va != vb and 1e-3 in [-v for v in va]
    params = {"w": jnp.ones(3)}
    for lifted, values in ((a, va), (a, vb)):  # a's template with b's values is b
        opt = lifted.rebuild(values)
        want = (optax.adam(1e-3) if values == va else optax.adam(2e-3, b1=0.8))
        g = {"w": jnp.asarray([0.5, -1.0, 2.0])}
        s, s2 = opt.init(params), want.init(params)
        with jax.numpy_dtype_promotion("standard"):
            for _ in range(3):
                (u, s), (u2, s2) = opt.update(g, s, params), want.update(g, s2, params)
                np.testing.assert_array_equal(u["w"], u2["w"])
    with pytest.raises(ValueError, match="more values"):
        a.rebuild(va + (1.0,))


def test_fit_many_compiles_once_across_fresh_optimizers_and_makers():
    net = _net(12)
    x, t = _data()
    params = jax.vmap(net.init)(jax.random.split(jax.random.key(0), 2))
    keys = jax.random.split(jax.random.key(1), 2)
    run = lambda opt, **kw: fnnet.fit_many(net, LOSS, opt, params, (x, t), keys=keys, epochs=2,  # noqa: E731
                                           batch_size=4, **kw)
    rates = {"learning_rate": np.array([0.1, 0.2])}

    def maker(lam):  # a new function object per call, closing over its own float
        return lambda learning_rate: optim.momentum(learning_rate, lam)

    run(optax.adam(0.01))
    run(maker(0.9), hyperparams=rates)
    with counted() as compiles:
        shared = [run(optax.adam(lr)) for lr in (0.01, 0.03)]
        momenta = [run(maker(lam), hyperparams=rates) for lam in (0.5, 0.8)]
        assert compiles() == 0
    assert not np.array_equal(momenta[0].params[0]["w"], momenta[1].params[0]["w"])
    assert not np.array_equal(shared[0].params[0]["w"], shared[1].params[0]["w"])
    # member 0 of the second is the fit it stands for
    one = fnnet.fit(net, LOSS, optax.adam(0.03), jax.tree.map(lambda a: a[0], params), (x, t), key=keys[0],
                    epochs=2, batch_size=4)
    np.testing.assert_allclose(shared[1].params[0]["w"][0], one.params[0]["w"], rtol=1e-5, atol=1e-6)


def test_evaluate_and_ensemble_predict_compile_once_for_equal_networks():
    x, t = _data()
    fnnet.evaluate(_net(13), LOSS, _net(13).init(jax.random.key(0)), (x, t))
    stacked = jax.vmap(_net(13).init)(jax.random.split(jax.random.key(0), 3))
    fnnet.ensemble_predict(_net(13), stacked, x)
    with counted() as compiles:
        for seed in (1, 2):
            net = _net(13)  # a new, equal object
            fnnet.evaluate(net, LOSS, net.init(jax.random.key(seed)), (x, t))
            fnnet.ensemble_predict(net, jax.vmap(net.init)(jax.random.split(jax.random.key(seed), 3)), x)
        assert compiles() == 0


def test_a_transformation_that_cannot_be_traced_may_hold_jax_scalars():
    def concrete(lr):  # float() of its rate: fine on a constant, not on a traced value
        return optax.GradientTransformation(
            lambda p: optax.EmptyState(), lambda g, state, params=None: (jax.tree.map(lambda u: -float(lr) * u, g), state))

    net = _net(14)
    a = _fit(net, concrete(jnp.asarray(0.1)))  # compiled with its array: keyed by identity, not by hash
    b = _fit(net, concrete(0.1))
    np.testing.assert_allclose(a.params[0]["w"], b.params[0]["w"], rtol=1e-6)

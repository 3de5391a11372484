"""Weights with few outputs run transposed inside the compiled epochs
(``fnnet.training.layout``): chosen only for elementwise optimizers, invisible in what
fit and fit_many return."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import Dense, Network, optim
from fnnet.training import epochs as epochs_, layout
from fnnet.training.state import fresh_state
from tests.support.nets import data as _data

LOSS = "cross_entropy_logits"


def _net(width=32, outputs=3):
    return Network(5, (Dense(width, "tanh"), Dense(outputs)))


def _plan(net, optimizer):
    params = net.init(jax.random.key(0), jnp.float32)
    state = fresh_state(optimizer, params, jax.random.key(1))

    def update(g, s, p):
        with jax.numpy_dtype_promotion("standard"):
            return optimizer.update(g, s, p, **layout.extra_args(optimizer, g))

    return layout.plan(update, params, state)


class _Scale(optax.GradientTransformation):
    """Multiplies the updates by ``factor`` (closed over: an array or a number)."""

    def __new__(cls, factor):
        return super().__new__(cls, lambda p: optax.EmptyState(),
                               lambda g, s, p=None: (jax.tree.map(lambda a: a * factor, g), s))


@pytest.mark.parametrize("optimizer", [
    optim.adam(1e-3), optim.sgd(0.1), optim.momentum(0.1), optim.adagrad(0.1),
    optax.chain(optim.l2(1e-4), optim.sgd(0.1)), optax.adamw(1e-3), optax.inject_hyperparams(optax.adam)(1e-3),
    optax.chain(optim.freeze(optim.biases_only), optim.sgd(0.1)),
    optax.masked(optax.adam(1e-3), lambda p: jax.tree.map(lambda a: a.ndim == 2, p)),
], ids=["adam", "sgd", "momentum", "adagrad", "l2+sgd", "adamw", "inject_hyperparams", "freeze", "masked"])
def test_elementwise_optimizers_carry_the_few_output_weight_transposed(optimizer):
    # (5, 32): 32 outputs, as it is; (32, 3): 3 outputs, transposed.
    assert _plan(_net(), optimizer) == frozenset({(32, 3)})


@pytest.mark.parametrize("optimizer", [
    optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3)),
    optax.adafactor(1e-3, min_dim_size_to_factor=2),
    optax.lamb(1e-3),
    _Scale(jnp.ones((32, 3))),
], ids=["clip-by-norm", "adafactor", "lamb", "closed-over-array"])
def test_other_optimizers_keep_the_weights_as_they_are(optimizer):
    assert _plan(_net(), optimizer) == frozenset()


def test_a_scalar_closed_over_is_elementwise():
    assert _plan(_net(), _Scale(jnp.float32(0.5))) == frozenset({(32, 3)})


def test_no_weight_is_transposed_where_its_transpose_is_another_leafs_shape():
    # (32, 3) transposed would look like the third layer's (3, 32): both stay.
    net = Network(5, (Dense(32, "tanh"), Dense(3, "tanh"), Dense(32)))
    assert _plan(net, optim.adam(1e-3)) == frozenset()


@pytest.mark.parametrize("width, outputs, chosen", [(32, 3, True), (32, 16, False), (5, 3, False), (6, 3, True)])
def test_eligible_shapes(width, outputs, chosen):
    assert (_plan(_net(width, outputs), optim.sgd(0.1)) == frozenset({(width, outputs)})) == chosen


def test_to_inner_and_to_outer_are_inverse():
    tree = {"w": jnp.arange(12.0).reshape(6, 2), "v": jnp.arange(8.0).reshape(2, 4), "b": jnp.ones(2)}
    inner = layout.to_inner(tree, frozenset({(6, 2)}))
    assert inner["w"].shape == (2, 6) and inner["v"].shape == (2, 4)
    np.testing.assert_array_equal(inner["w"], tree["w"].T)
    back = layout.to_outer(inner, frozenset({(6, 2)}))
    for k in tree:
        np.testing.assert_array_equal(back[k], tree[k])


def _lowered_epochs(net, optimizer):
    x, t = _data()
    epoch = fnnet.make_epoch(net, LOSS, optimizer, batch_size=4)
    update = epochs_._layout(epochs_.EpochSpec(net, LOSS, optimizer, 4), optimizer, ())
    program = jax.jit(epochs_.make_epochs(epoch, 2, layout=update))
    state = fresh_state(optimizer, net.init(jax.random.key(0), jnp.float32), jax.random.key(1))
    return program.lower(state, x, t, None, 2).as_text()


def _carried(text):
    """The types the epochs loop (the program's first while) carries."""
    line = next(line for line in text.splitlines() if "stablehlo.while" in line)
    return line[line.index(") : ") + 4:].split(", ")


def test_the_compiled_epochs_carry_the_transposed_weight():
    # The weight and Adam's two moments: (3, 40), never (40, 3).
    net = _net(40, 3)
    carried = _carried(_lowered_epochs(net, optim.adam(1e-3)))
    assert carried.count("tensor<3x40xf32>") == 3 and "tensor<40x3xf32>" not in carried
    plain = _carried(_lowered_epochs(net, optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))))
    assert plain.count("tensor<40x3xf32>") == 3 and "tensor<3x40xf32>" not in plain


def _fit_both_ways(monkeypatch, run):
    transposed = run()
    monkeypatch.setattr(layout, "FEW_OUTPUTS", 0)
    epochs_.epochs_program.cache_clear()  # the programs traced with the layout
    from fnnet.training import ensemble
    ensemble._programs.cache_clear()
    plain = run()
    epochs_.epochs_program.cache_clear()
    ensemble._programs.cache_clear()
    return transposed, plain


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_fit_returns_what_it_returns_with_the_weights_as_they_are(monkeypatch, x64, grad):
    # Only the matrix products' order of summation may differ: 1e-12 in float64.
    net = _net(24, 3)
    x, t = _data()
    x = x.astype(jnp.float64)
    val = (x[:6], t[:6])

    def run():
        r = fnnet.fit(net, LOSS, optim.adam(1e-2), net.init(jax.random.key(2), jnp.float64), (x, t),
                      key=jax.random.key(3), epochs=4, batch_size=4, validation_data=val, grad=grad)
        return r.params, r.state.opt_state, [h["val_loss"] for h in r.history]

    (p1, s1, v1), (p2, s2, v2) = _fit_both_ways(monkeypatch, run)
    for a, b in zip(jax.tree.leaves((p1, s1)), jax.tree.leaves((p2, s2))):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)


def test_fit_many_with_early_stopping_returns_the_same_members(monkeypatch):
    # float32: round-off of the products' order, 1e-5; the best epochs and stops agree.
    net = _net(28, 3)
    x, t = _data()
    stopping = fnnet.EarlyStopping(monitor="val_loss", patience=1, restore_best=True)

    def run():
        params = jax.vmap(lambda k: net.init(k, jnp.float32))(jax.random.split(jax.random.key(4), 3))
        r = fnnet.fit_many(net, LOSS, optim.adam(1e-2), params, (x, t), keys=jax.random.split(jax.random.key(5), 3),
                           epochs=5, batch_size=4, validation_data=(x[:6], t[:6]), early_stopping=stopping)
        return r.params, r.state.opt_state, r.best_epochs

    (p1, s1, b1), (p2, s2, b2) = _fit_both_ways(monkeypatch, run)
    assert b1 == b2
    for a, b in zip(jax.tree.leaves((p1, s1)), jax.tree.leaves((p2, s2))):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

"""Hyperparameters as traced values: a vmapped sweep equals the separate runs, values can be
injected (``optax.inject_hyperparams``) and changed mid-run, and range checks apply to
concrete values only."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import Dense, Network, losses, optim

NET = Network(3, (Dense(4, "tanh"), Dense(2)))
LOSS = losses.squared_error("mean")
STEPS = 6
SWEEP = 8


def _problem(dtype):
    params = NET.init(jax.random.key(0), dtype)
    x = jax.random.normal(jax.random.key(1), (16, 3), dtype)
    t = jnp.stack([jnp.sin(x[:, 0]), x[:, 1] * x[:, 2]], axis=1)
    return params, x, t


def _train(opt, params, x, t, steps=STEPS):
    """``steps`` updates of fnnet.step.make_step under lax.scan: (params, opt_state, losses)."""
    step = fnnet.step.make_step(NET, LOSS, opt, accuracy=False)
    state = fnnet.step.fresh_state(opt, params, jax.random.key(2)).opt_state

    def body(carry, _):
        params, state, metrics = step(*carry, (x, t), None)
        return (params, state), metrics["loss"]

    (params, state), values = jax.lax.scan(body, (params, state), None, length=steps)
    return params, state, values


# name: (hyperparameter -> optimizer, the swept values)
CASES = {
    "sgd learning_rate": (lambda h: optim.sgd(h), np.geomspace(0.01, 0.5, SWEEP)),
    "momentum learning_rate": (lambda h: optim.momentum(h, 0.9), np.geomspace(0.01, 0.5, SWEEP)),
    "momentum lam": (lambda h: optim.momentum(0.1, h), np.linspace(0.0, 0.95, SWEEP)),
    "adagrad notes learning_rate": (lambda h: optim.adagrad(h), np.geomspace(0.01, 0.5, SWEEP)),
    "adagrad optax learning_rate": (lambda h: optim.adagrad(h, "optax"), np.geomspace(0.01, 0.5, SWEEP)),
    "adam learning_rate": (lambda h: optim.adam(h), np.geomspace(1e-3, 0.1, SWEEP)),
    "l2 weight decay": (lambda h: optax.chain(optim.l2(h), optim.sgd(0.2)), np.linspace(0.0, 2.0, SWEEP)),
    "builder l2": (lambda h: optim.optimizer("momentum", 0.1, l2=h), np.linspace(0.0, 2.0, SWEEP)),
    "builder l1": (lambda h: optim.optimizer("sgd", 0.2, l1=h), np.linspace(0.0, 0.1, SWEEP)),
    "builder clip": (lambda h: optim.optimizer("sgd", 0.5, clip=h), np.geomspace(0.01, 1.0, SWEEP)),
}


# Every one of the 8 runs alone for these; the sweep's two ends for the rest (a compile each).
ALL_EIGHT = ("momentum learning_rate", "l2 weight decay")


def sweep_disagreement(case, dtype):
    """(max |vmapped − separate| over params and losses, largest |value| compared, the
    vmapped (params, losses), the separate ones stacked)."""
    make, values = CASES[case]
    params, x, t = _problem(dtype)
    swept = jax.jit(jax.vmap(lambda h: _train(make(h), params, x, t)[::2]))(jnp.asarray(values, dtype))
    which = list(range(SWEEP)) if case in ALL_EIGHT else [0, SWEEP - 1]
    swept = jax.tree.map(lambda a: a[np.array(which)], swept)
    # Each separate run is the ordinary one: the hyperparameter a Python float, its own program.
    runs = [jax.jit(lambda h=float(values[i]): _train(make(h), params, x, t)[::2])() for i in which]
    alone = jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)
    diffs = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), swept, alone)
    return max(jax.tree.leaves(diffs)), max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(alone)), swept, alone


@pytest.mark.parametrize("case", list(CASES))
def test_a_vmapped_sweep_equals_the_separate_runs_in_float64(case, x64):
    # A batched matmul may sum in another order than a single one: round-off, not more.
    worst, _, swept, alone = sweep_disagreement(case, jnp.float64)
    for a, b in zip(jax.tree.leaves(swept), jax.tree.leaves(alone)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    _, values = swept
    assert np.all(np.isfinite(values)) and np.ptp(np.asarray(values[:, -1])) > 0  # the sweep varies


@pytest.mark.parametrize("case", ALL_EIGHT)
def test_a_vmapped_sweep_equals_the_separate_runs_in_float32(case):
    _, _, swept, alone = sweep_disagreement(case, jnp.float32)
    for a, b in zip(jax.tree.leaves(swept), jax.tree.leaves(alone)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_inject_hyperparams_on_momentum_changes_the_learning_rate_mid_run(x64):
    params, x, t = _problem(jnp.float64)
    opt = optax.inject_hyperparams(optim.momentum)(learning_rate=0.1, lam=0.9)
    step = jax.jit(fnnet.step.make_step(NET, LOSS, opt, accuracy=False))
    state = fnnet.step.fresh_state(opt, params, jax.random.key(2)).opt_state
    p = params
    for i in range(2 * STEPS):
        if i == STEPS:
            state.hyperparams["learning_rate"] = jnp.asarray(0.05)
        p, state, _ = step(p, state, (x, t), None)
    assert float(state.hyperparams["learning_rate"]) == 0.05 and float(state.hyperparams["lam"]) == 0.9
    # The notes' form keeps each step's η: the same as a schedule that halves η at STEPS.
    scheduled = optim.momentum(optax.piecewise_constant_schedule(0.1, {STEPS: 0.5}), 0.9)
    want, _, _ = _train(scheduled, params, x, t, steps=2 * STEPS)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    unchanged, _, _ = _train(optim.momentum(0.1, 0.9), params, x, t, steps=2 * STEPS)
    assert not np.allclose(p[0]["w"], unchanged[0]["w"])


@pytest.mark.parametrize("injected, plain, names", [
    (lambda: optax.inject_hyperparams(optim.adagrad)(learning_rate=0.1), lambda: optim.adagrad(0.1),
     {"learning_rate"}),
    (lambda: optax.chain(optax.inject_hyperparams(optim.l2)(lam=0.3), optim.sgd(0.2)),
     lambda: optax.chain(optim.l2(0.3), optim.sgd(0.2)), {"lam"}),
    (lambda: optax.inject_hyperparams(optim.optimizer)("momentum", learning_rate=0.1, l2=0.3),
     lambda: optim.optimizer("momentum", 0.1, l2=0.3), {"learning_rate", "momentum", "l1", "l2"}),
], ids=["adagrad notes", "l2", "builder"])
def test_inject_hyperparams_runs_fnnets_transforms_like_the_plain_ones(injected, plain, names, x64):
    params, x, t = _problem(jnp.float64)
    got, state, _ = jax.jit(lambda: _train(injected(), params, x, t))()
    want, _, _ = jax.jit(lambda: _train(plain(), params, x, t))()
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    injected_state = state[0] if isinstance(state, tuple) and not hasattr(state, "hyperparams") else state
    assert set(injected_state.hyperparams) == names


def test_an_injected_weight_decay_can_be_switched_off(x64):
    params, x, t = _problem(jnp.float64)
    opt = optax.chain(optax.inject_hyperparams(optim.l2)(lam=0.3), optim.sgd(0.2))
    _, state, _ = _train(opt, params, x, t, steps=1)
    state[0].hyperparams["lam"] = jnp.asarray(0.0)
    step = fnnet.step.make_step(NET, LOSS, opt, accuracy=False)
    got, _, _ = step(params, state, (x, t), None)
    plain = optim.sgd(0.2)
    want, _, _ = fnnet.step.make_step(NET, LOSS, plain, accuracy=False)(params, plain.init(params), (x, t), None)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, b)


def test_traced_values_are_not_range_checked_but_concrete_ones_are():
    params, x, t = _problem(jnp.float32)
    # η < 0 climbs the loss; under vmap it is the user's to choose (the value is unknown when built).
    _, _, values = jax.vmap(lambda h: _train(optim.sgd(h), params, x, t))(jnp.array([-0.1, 0.1]))
    assert values[0, -1] > values[0, 0] and values[1, -1] < values[1, 0]
    jax.vmap(lambda h: (optim.momentum(0.1, h), optim.optimizer("sgd", 0.1, clip=-h), h)[-1])(jnp.array([1.5]))
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number >= 0 or an optax schedule, got Array"):
        optim.sgd(jnp.array(-0.1))
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        optim.momentum(0.1, jnp.array(1.0))
    with pytest.raises(ValueError, match="clip must be > 0"):
        optim.optimizer("sgd", 0.1, clip=np.float32(0.0))


@pytest.mark.parametrize("make, message", [
    (lambda h: optim.sgd(h), r"^learning_rate must be a finite number >= 0 or an optax schedule, "
                             r"got a traced float32\[3\]$"),
    (lambda h: optim.adagrad(0.1, form=h[0]), r"^adagrad: form must be a fixed string, one of \['notes', 'optax'\] "
                                              r"\(not a traced value\), got a traced float32\[\]$"),
    (lambda h: optim.optimizer(h[0], 0.1), r"^optimizer: name must be a fixed string"),
    (lambda h: optim.l1(h.astype(bool)), r"^l1 must be a finite number >= 0, got a traced bool\[3\]$"),
])
def test_a_tracer_where_a_fixed_value_is_needed_is_named(make, message):
    with pytest.raises(ValueError) as e:
        jax.vmap(make)(jnp.ones((2, 3)))
    assert re.match(message, str(e.value).splitlines()[0])  # one line (JAX appends a note below)

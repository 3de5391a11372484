"""Each optimizer against a plain NumPy implementation of the notes' formula: 25 steps on
a small network in float64, with NumPy computing its own gradients, to round-off; optax's
rules are optax's objects; transformations with extra arguments run through make_step;
and hyperparameters as traced values: a vmapped sweep equals the separate runs, values
can be injected (``optax.inject_hyperparams``) and changed mid-run, and range checks
apply to concrete values only."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import Dense, Network, losses, optim
from fnnet.training.state import fresh_state
from tests.support import numpy_ref

STEPS = 25
NET = Network(4, (Dense(5, "tanh"), Dense(3, "softmax")))
LOSS = losses.cross_entropy("sum")


def STANDARD():
    """The promotion scope make_step puts around init and update: optax mixes Python floats
    with int32 counts, which the suite's "strict" promotion rejects."""
    return jax.numpy_dtype_promotion("standard")


def _problem():
    params = NET.init(jax.random.key(0), jnp.float64)
    x = np.asarray(jax.random.normal(jax.random.key(1), (6, 4), jnp.float64))
    t = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    return params, x, t


def run_fnnet(opt):
    params, x, t = _problem()

    @jax.jit
    def step(params, state):
        grads = jax.grad(lambda p: LOSS(NET.apply(p, x), t))(params)
        with STANDARD():
            updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    with STANDARD():
        state = opt.init(params)
    for _ in range(STEPS):
        params, state = step(params, state)
    return params


def run_numpy(rule):
    """``rule(i, name, w, g, slots)`` returns the new w for leaf ``name`` ("w" or "b") at step i."""
    params, x, t = _problem()
    params = numpy_ref.to_numpy(params)
    slots = [{k: {} for k in e} for e in params]
    for i in range(STEPS):
        _, grads = numpy_ref.backprop(params, x, t, "tanh")
        params = [{k: rule(i, k, e[k], g[k], s[k]) for k in e} for e, g, s in zip(params, grads, slots)]
    return params


def assert_same(got, want, rtol=1e-12):
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-14)


def test_sgd(x64):
    assert_same(run_fnnet(optim.sgd(0.3)), run_numpy(lambda i, k, w, g, s: w - 0.3 * g))


def _notes_momentum(eta_at, lam):
    def rule(i, k, w, g, s):
        s["v"] = lam * s.get("v", 0.0) - eta_at(i) * g  # v ← λv − η∇L
        return w + s["v"]                                # w ← w + v
    return rule


def test_momentum_notes_form(x64):
    assert_same(run_fnnet(optim.momentum(0.2, 0.9)), run_numpy(_notes_momentum(lambda i: 0.2, 0.9)))


def test_momentum_equals_optax_trace_for_constant_eta(x64):
    assert_same(run_fnnet(optim.momentum(0.2, 0.9)), run_fnnet(optax.sgd(0.2, momentum=0.9)))


def test_momentum_under_a_schedule_keeps_each_steps_eta(x64):
    schedule = optax.exponential_decay(0.3, transition_steps=1, decay_rate=0.8)
    eta_at = lambda i: float(schedule(jnp.int32(i)))  # noqa: E731  (optax: float32 from an int32 count)
    notes_form = run_fnnet(optim.momentum(schedule, 0.9))
    assert_same(notes_form, run_numpy(_notes_momentum(eta_at, 0.9)))

    def optax_trace(i, k, w, g, s):  # trace ← g + λ trace, w ← w − η_t trace
        s["trace"] = g + 0.9 * s.get("trace", 0.0)
        return w - eta_at(i) * s["trace"]

    optax_form = run_fnnet(optax.sgd(schedule, momentum=0.9))
    assert_same(optax_form, run_numpy(optax_trace))
    assert np.max(np.abs(np.asarray(notes_form[0]["w"]) - np.asarray(optax_form[0]["w"]))) > 1e-3


def _adagrad(eta, g0, eps):
    def rule(i, k, w, g, s):
        s["G"] = s.get("G", g0) + g * g
        return w - eta * g / np.sqrt(s["G"] + eps)
    return rule


def test_adagrad_notes_form(x64):
    # w ← w − η g_t / sqrt(Σ_{i≤t} g_i²): no initial accumulator, no ε
    assert_same(run_fnnet(optim.adagrad(0.1)), run_numpy(_adagrad(0.1, 0.0, 0.0)))


def test_adagrad_optax_form(x64):
    assert_same(run_fnnet(optim.adagrad(0.1, form="optax")), run_numpy(_adagrad(0.1, 0.1, 1e-7)))
    assert_same(run_fnnet(optim.adagrad(0.1, form="optax")), run_fnnet(optax.adagrad(0.1)))


def test_adagrad_notes_form_leaves_never_moved_parameters_alone(x64):
    opt = optim.adagrad(0.1)
    params = [{"w": jnp.array([1.0, 2.0], jnp.float64)}]
    state = opt.init(params)
    updates, _ = opt.update([{"w": jnp.array([0.0, 0.5], jnp.float64)}], state, params)
    np.testing.assert_array_equal(updates[0]["w"], [0.0, -0.1])


def test_adam(x64):
    b1, b2, eps, eta = 0.9, 0.999, 1e-8, 0.05

    def rule(i, k, w, g, s):
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = s["m"] / (1 - b1 ** (i + 1)), s["v"] / (1 - b2 ** (i + 1))
        return w - eta * m_hat / (np.sqrt(v_hat) + eps)

    assert_same(run_fnnet(optim.adam(eta)), run_numpy(rule), rtol=1e-10)


def test_l2_notes_form_leaves_biases_out(x64):
    eta, lam = 0.3, 0.1
    got = run_fnnet(optax.chain(optim.l2(lam), optim.sgd(eta)))
    # w ← (1 − ηλ) w − η ∂L/∂w on weights; biases plain gradient descent
    want = run_numpy(lambda i, k, w, g, s: ((1 - eta * lam) * w if k == "w" else w) - eta * g)
    assert_same(got, want)


def test_l1_notes_form_leaves_biases_out(x64):
    eta, lam = 0.3, 0.05
    got = run_fnnet(optax.chain(optim.l1(lam), optim.sgd(eta)))
    # w ← w − η ∂L/∂w − ηλ sgn(w)
    want = run_numpy(lambda i, k, w, g, s: w - eta * g - (eta * lam * np.sign(w) if k == "w" else 0))
    assert_same(got, want)


def test_regularization_can_include_biases(x64):
    eta, lam = 0.3, 0.1
    got = run_fnnet(optax.chain(optim.l2(lam, mask=None), optim.sgd(eta)))
    assert_same(got, run_numpy(lambda i, k, w, g, s: (1 - eta * lam) * w - eta * g))


def test_freeze_keeps_biases_fixed(x64):
    got = run_fnnet(optax.chain(optim.sgd(0.3), optim.freeze(optim.biases_only)))
    start, _, _ = _problem()
    for e, e0 in zip(got, start):
        np.testing.assert_array_equal(e["b"], e0["b"])
    assert_same(got, run_numpy(lambda i, k, w, g, s: w - 0.3 * g if k == "w" else w))


def test_clipping_by_global_norm(x64):
    params, x, t = _problem()
    c = 0.5
    got = run_fnnet(optim.optimizer("sgd", 0.3, clip=c))

    params = numpy_ref.to_numpy(params)
    for _ in range(STEPS):
        _, grads = numpy_ref.backprop(params, x, t, "tanh")
        norm = np.sqrt(sum(np.sum(g * g) for e in grads for g in e.values()))
        scale = min(1.0, c / norm)
        params = [{k: e[k] - 0.3 * scale * g[k] for k in e} for e, g in zip(params, grads)]
    assert_same(got, params)


def test_schedules_pass_through_sgd(x64):
    schedule = optax.exponential_decay(0.5, transition_steps=1, decay_rate=0.9)
    assert float(schedule(3)) == pytest.approx(0.5 * 0.9**3, rel=1e-6)
    assert_same(run_fnnet(optim.sgd(schedule)), run_numpy(lambda i, k, w, g, s: w - float(schedule(jnp.int32(i))) * g))


def test_optimizer_builder_chains_what_is_asked(x64):
    eta, lam = 0.3, 0.1
    got = run_fnnet(optim.optimizer("sgd", eta, l2=lam, frozen=optim.biases_only))
    assert_same(got, run_numpy(lambda i, k, w, g, s: (1 - eta * lam) * w - eta * g if k == "w" else w))


@pytest.mark.parametrize("make, message", [
    (lambda: optim.sgd(-0.1), "learning_rate must be a finite number >= 0 or an optax schedule, got -0.1"),
    (lambda: optim.adam(float("nan")), "learning_rate must be a finite number >= 0"),
    (lambda: optim.momentum(0.1, float("inf")), "momentum must be a finite number >= 0, got inf"),
    (lambda: optim.momentum(0.1, 1.0), r"momentum must be in \[0, 1\) \(with λ >= 1 the velocity never decays\), got 1.0"),
    (lambda: optim.optimizer("sgd", 0.1, clip=0.0), r"clip must be > 0 \(a global norm of 0 turns every update into 0\)"),
    (lambda: optim.l2(-1.0), "l2 must be a finite number >= 0"),
    (lambda: optim.l1(float("nan")), "l1 must be a finite number >= 0"),
    (lambda: optim.adagrad(0.1, form="keras"), r"unknown form 'keras'; expected one of \['notes', 'optax'\]"),
    (lambda: optim.optimizer("rmsprop", 0.1), r"unknown optimizer 'rmsprop'; expected one of \['sgd', 'momentum', 'adagrad', 'adam'\]"),
])
def test_bad_hyperparameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------- optax's rules are optax's objects

def _trajectory(opt, steps=3):
    """(init state, then (updates, state) of each of ``steps`` updates) on the problem."""
    params, x, t = _problem()
    with STANDARD():
        states = [opt.init(params)]
        for _ in range(steps):
            grads = jax.grad(lambda p: LOSS(NET.apply(p, x), t))(params)
            updates, state = opt.update(grads, states[-1], params)
            params = optax.apply_updates(params, updates)
            states += [updates, state]
    return states


@pytest.mark.parametrize("ours, theirs", [
    (lambda: optim.sgd(0.3), lambda: optax.sgd(0.3)),
    (lambda: optim.adam(0.05), lambda: optax.adam(0.05)),
    (lambda: optim.adagrad(0.1, form="optax"), lambda: optax.adagrad(0.1)),
    (lambda: optim.l2(0.1), lambda: optax.add_decayed_weights(0.1, optim.weights_only)),
    (lambda: optim.optimizer("adam", 0.05, clip=0.5),
     lambda: optax.chain(optax.clip_by_global_norm(0.5), optax.adam(0.05))),
], ids=["sgd", "adam", "adagrad optax", "l2", "clip"])
def test_optax_rules_are_the_optax_objects_themselves(ours, theirs, x64):
    a, b = ours(), theirs()
    assert type(a) is type(b)
    # No wrapper: the very functions optax builds (a closure's code is its function's).
    assert a.init.__code__ is b.init.__code__ and a.update.__code__ is b.update.__code__
    got, want = _trajectory(a), _trajectory(b)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_array_equal(g, w)


# ------------------------------------------------------------------- masks on any tree

def _bigger_tree():
    ones = jnp.ones((2, 3))
    return {"embedding": {"table": ones}, "head": NET.init(jax.random.key(0)),
            "towers": [[{"w": 2 * ones, "b": jnp.ones(3)}], {"w": 3 * ones}],  # the last: use_bias=False
            "b_scale": jnp.ones(()), "w": jnp.full((2,), 4.0)}


def test_masks_select_w_and_b_by_dict_key_anywhere_in_a_tree():
    tree = _bigger_tree()
    assert optim.weights_only(tree) == {
        "embedding": {"table": False}, "head": [{"w": True, "b": False}, {"w": True, "b": False}],
        "towers": [[{"w": True, "b": False}], {"w": True}], "b_scale": False, "w": True}
    assert optim.biases_only(tree) == {
        "embedding": {"table": False}, "head": [{"w": False, "b": True}, {"w": False, "b": True}],
        "towers": [[{"w": False, "b": True}], {"w": False}], "b_scale": False, "w": False}
    assert optim.weights_only(NET.init(jax.random.key(0))) == [{"w": True, "b": False}] * 2


@pytest.mark.parametrize("regularizer, term", [(optim.l2, lambda lam, w: lam * w),
                                               (optim.l1, lambda lam, w: lam * jnp.sign(w))], ids=["l2", "l1"])
def test_regularization_on_a_nested_tree_touches_only_the_w_leaves(regularizer, term):
    tree, lam, eta = _bigger_tree(), 0.25, 0.5
    opt = optax.chain(regularizer(lam), optim.sgd(eta))
    zero = jax.tree.map(jnp.zeros_like, tree)
    with STANDARD():
        updates, _ = opt.update(zero, opt.init(tree), tree)
    new = optax.apply_updates(tree, updates)
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    for (path, w), moved in zip(paths, jax.tree.leaves(new)):
        decays = path[-1] == jax.tree_util.DictKey("w")
        np.testing.assert_array_equal(moved, w - eta * term(lam, w) if decays else w)
    frozen = optax.chain(optim.sgd(eta), optim.freeze("b"))
    with STANDARD():
        updates, _ = frozen.update(jax.tree.map(jnp.ones_like, tree), frozen.init(tree), tree)
    assert [bool(jnp.all(u == 0)) for u in jax.tree.leaves(updates)] == jax.tree.leaves(optim.biases_only(tree))


# ------------------------------------- transformations with extra arguments, via make_step

def _by_hand(opt, steps):
    """The optax loop written out: value, grad and value_fn passed by the caller."""
    params, x, t = _problem()

    def value_fn(p):
        return LOSS(NET.apply(p, x), t)

    @jax.jit
    def step(params, state):
        value, grads = jax.value_and_grad(value_fn)(params)
        with STANDARD():
            updates, state = opt.update(grads, state, params, value=value, grad=grads, value_fn=value_fn)
        return optax.apply_updates(params, updates), state, value

    with STANDARD():
        state = opt.init(params)
    values = []
    for _ in range(steps):
        params, state, value = step(params, state)
        values.append(float(value))
    return params, state, values


def _by_make_step(opt, steps, states=None, grad="autodiff"):
    params, x, t = _problem()
    step = jax.jit(fnnet.make_step(NET, LOSS, opt, grad=grad, accuracy=False))
    state = fresh_state(opt, params, jax.random.key(0)).opt_state
    values = []
    for _ in range(steps):
        params, state, metrics = step(params, state, (x, t), None)
        values.append(float(metrics["loss"]))
        if states is not None:
            states.append(state)
    return params, state, values


def test_make_step_gives_reduce_on_plateau_the_loss(x64):
    # η = 3 overshoots, so the loss stops improving and the plateau rule halves the scale.
    opt = optax.chain(optim.sgd(3.0), optax.contrib.reduce_on_plateau(factor=0.5, patience=2))
    got, want = _by_make_step(opt, STEPS), _by_hand(opt, STEPS)
    assert_same(got, want)
    assert float(got[1][1].scale) < 1


def test_make_step_gives_a_line_search_value_grad_and_value_fn(x64):
    opt = optax.chain(optim.sgd(5.0), optax.scale_by_backtracking_linesearch(max_backtracking_steps=30))
    states = []
    (params, state, values), want = _by_make_step(opt, STEPS, states), _by_hand(opt, STEPS)
    assert_same((params, state, values), want)
    assert all(b < a for a, b in zip(values, values[1:]))  # Armijo: every step decreases the loss
    assert min(float(s[1].learning_rate) for s in states) < 1  # it backtracked from the full step


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_make_step_runs_lbfgs_and_its_zoom_line_search(grad, x64):
    got, want = _by_make_step(optax.lbfgs(), 10, grad=grad), _by_hand(optax.lbfgs(), 10)
    assert_same(got, want, rtol=1e-10)
    assert got[2][-1] < 0.1 * got[2][0]


@pytest.mark.parametrize("extra", [
    optax.contrib.reduce_on_plateau(factor=0.5, patience=1),
    optax.scale_by_backtracking_linesearch(max_backtracking_steps=15)], ids=["plateau", "linesearch"])
def test_fit_runs_transformations_with_extra_arguments(extra):
    from tests.support.nets import small_fit

    r = small_fit(optimizer=optax.chain(optim.sgd(0.5), extra), epochs=3)  # dropout: value_fn keeps the key
    assert all(np.isfinite(h["loss"]) for h in r.history) and r.history[-1]["loss"] < r.history[0]["loss"]


# ------------------------------------------------- hyperparameters as traced values

SWEEP_NET = Network(3, (Dense(4, "tanh"), Dense(2)))
SWEEP_LOSS = losses.squared_error("mean")
SWEEP_STEPS = 6
SWEEP = 8


def _sweep_problem(dtype):
    params = SWEEP_NET.init(jax.random.key(0), dtype)
    x = jax.random.normal(jax.random.key(1), (16, 3), dtype)
    t = jnp.stack([jnp.sin(x[:, 0]), x[:, 1] * x[:, 2]], axis=1)
    return params, x, t


def _sweep_train(opt, params, x, t, steps=SWEEP_STEPS):
    """``steps`` updates of fnnet.make_step under lax.scan: (params, opt_state, losses)."""
    step = fnnet.make_step(SWEEP_NET, SWEEP_LOSS, opt, accuracy=False)
    state = fresh_state(opt, params, jax.random.key(2)).opt_state

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
    params, x, t = _sweep_problem(dtype)
    swept = jax.jit(jax.vmap(lambda h: _sweep_train(make(h), params, x, t)[::2]))(jnp.asarray(values, dtype))
    which = list(range(SWEEP)) if case in ALL_EIGHT else [0, SWEEP - 1]
    swept = jax.tree.map(lambda a: a[np.array(which)], swept)
    # Each separate run is the ordinary one: the hyperparameter a Python float, its own program.
    runs = [jax.jit(lambda h=float(values[i]): _sweep_train(make(h), params, x, t)[::2])() for i in which]
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
    params, x, t = _sweep_problem(jnp.float64)
    opt = optax.inject_hyperparams(optim.momentum)(learning_rate=0.1, lam=0.9)
    step = jax.jit(fnnet.make_step(SWEEP_NET, SWEEP_LOSS, opt, accuracy=False))
    state = fresh_state(opt, params, jax.random.key(2)).opt_state
    p = params
    for i in range(2 * SWEEP_STEPS):
        if i == SWEEP_STEPS:
            state.hyperparams["learning_rate"] = jnp.asarray(0.05)
        p, state, _ = step(p, state, (x, t), None)
    assert float(state.hyperparams["learning_rate"]) == 0.05 and float(state.hyperparams["lam"]) == 0.9
    # The notes' form keeps each step's η: the same as a schedule that halves η at SWEEP_STEPS.
    scheduled = optim.momentum(optax.piecewise_constant_schedule(0.1, {SWEEP_STEPS: 0.5}), 0.9)
    want, _, _ = _sweep_train(scheduled, params, x, t, steps=2 * SWEEP_STEPS)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    unchanged, _, _ = _sweep_train(optim.momentum(0.1, 0.9), params, x, t, steps=2 * SWEEP_STEPS)
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
    params, x, t = _sweep_problem(jnp.float64)
    got, state, _ = jax.jit(lambda: _sweep_train(injected(), params, x, t))()
    want, _, _ = jax.jit(lambda: _sweep_train(plain(), params, x, t))()
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    injected_state = state[0] if isinstance(state, tuple) and not hasattr(state, "hyperparams") else state
    assert set(injected_state.hyperparams) == names


def test_an_injected_weight_decay_can_be_switched_off(x64):
    params, x, t = _sweep_problem(jnp.float64)
    opt = optax.chain(optax.inject_hyperparams(optim.l2)(lam=0.3), optim.sgd(0.2))
    _, state, _ = _sweep_train(opt, params, x, t, steps=1)
    state[0].hyperparams["lam"] = jnp.asarray(0.0)
    step = fnnet.make_step(SWEEP_NET, SWEEP_LOSS, opt, accuracy=False)
    got, _, _ = step(params, state, (x, t), None)
    plain = optim.sgd(0.2)
    want, _, _ = fnnet.make_step(SWEEP_NET, SWEEP_LOSS, plain, accuracy=False)(params, plain.init(params), (x, t), None)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, b)


def test_traced_values_are_not_range_checked_but_concrete_ones_are():
    params, x, t = _sweep_problem(jnp.float32)
    # η < 0 climbs the loss; under vmap it is the user's to choose (the value is unknown when built).
    _, _, values = jax.vmap(lambda h: _sweep_train(optim.sgd(h), params, x, t))(jnp.array([-0.1, 0.1]))
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


@pytest.mark.parametrize("kw, message", [
    (dict(b1=1.5), r"^b1 must be in \[0, 1\) \(the first moment's decay; with b1 >= 1 it never forgets\), got 1.5$"),
    (dict(b2=1.0), r"^b2 must be in \[0, 1\) \(the second moment's decay; with b2 >= 1 it never forgets\), got 1.0$"),
    (dict(b2=0.99999999), r"got 0.99999999, which float32 rounds to 1.0$"),
    (dict(b1=-0.1), r"^b1 must be a finite number >= 0, got -0.1$"),
    (dict(eps=-1e-8), r"^eps must be a finite number >= 0, got -1e-08$"),
])
def test_adam_refuses_decays_outside_0_1_and_negative_eps(kw, message):
    with pytest.raises(ValueError, match=message):
        optim.adam(1e-3, **kw)


def test_a_momentum_float32_rounds_to_1_is_refused():
    with pytest.raises(ValueError, match=r"^momentum must be in \[0, 1\) \(with λ >= 1 the velocity never decays\), "
                                         r"got 0.99999999, which float32 rounds to 1.0$"):
        optim.momentum(0.1, 0.99999999)

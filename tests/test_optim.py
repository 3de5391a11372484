"""Each optimizer against a plain NumPy implementation of the notes' formula: 25 steps on
a small network in float64, with NumPy computing its own gradients, to round-off."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fnnet import Dense, Network, losses, optim

from . import numpy_ref

STEPS = 25
NET = Network(4, (Dense(5, "tanh"), Dense(3, "softmax")))
LOSS = losses.cross_entropy("sum")


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
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

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
    got = run_fnnet(optax.chain(optim.sgd(0.3), optim.freeze(optim.biases)))
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
    got = run_fnnet(optim.optimizer("sgd", eta, l2=lam, frozen=optim.biases))
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


def test_the_old_spellings_still_work_with_a_deprecation_warning(x64):
    params, grads = [{"w": jnp.ones((2, 2), jnp.float64)}], [{"w": jnp.full((2, 2), 0.5, jnp.float64)}]

    def first_update(opt):
        return opt.update(grads, opt.init(params), params)[0][0]["w"]

    with pytest.warns(DeprecationWarning, match=r"sgd\(eta=\) is now sgd\(learning_rate=\)"):
        old = first_update(optim.sgd(eta=0.1))
    assert jnp.array_equal(old, first_update(optim.sgd(learning_rate=0.1)))
    with pytest.warns(DeprecationWarning, match='adagrad form "seed" is now "notes"'):
        old = first_update(optim.adagrad(0.1, form="seed"))
    assert jnp.array_equal(old, first_update(optim.adagrad(0.1, form="notes")))
    with pytest.warns(DeprecationWarning):
        optim.optimizer("adagrad", 0.1, adagrad_form="seed")

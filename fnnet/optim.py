"""Optimizers as optax compositions, with the notes' update rules beside optax's.

Every function returns an ordinary ``optax.GradientTransformation``; chain them
further with ``optax.chain``. ``learning_rate`` (η) may be an optax schedule.

    sgd        w ← w − η g
    momentum   v ← λ v − η g,  w ← w + v                 (the notes' form)
    adagrad    w ← w − η g_t / sqrt(Σ_{i≤t} g_i²)        (the notes' form; or optax's)
    adam       optax.adam
    l2         chain(l2(λ), sgd(η)):  w ← (1 − ηλ) w − η ∂L/∂w
    l1         chain(l1(λ), sgd(η)):  w ← w − η ∂L/∂w − ηλ sgn(w)

Regularization is masked to the weights (``"w"`` leaves) by default: the notes leave
biases out of it.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
ADAGRAD_FORMS = ("notes", "optax")


def _eta_renamed(f):
    """Accept the old keyword ``eta=`` (now ``learning_rate=``) for one release."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        if "eta" in kwargs:
            warnings.warn(f"{f.__name__}(eta=) is now {f.__name__}(learning_rate=)", DeprecationWarning,
                          stacklevel=2)
            kwargs["learning_rate"] = kwargs.pop("eta")
        return f(*args, **kwargs)
    return wrapper


def _form(form: str) -> str:
    if form == "seed":  # "seed" means a random seed; the notes are the notes
        warnings.warn('adagrad form "seed" is now "notes"', DeprecationWarning, stacklevel=3)
        return "notes"
    return form


def _check_rate(name: str, value: Any, *, allow_schedule: bool = True) -> None:
    if allow_schedule and callable(value):
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        try:
            ok = jnp.ndim(value) == 0 and jnp.issubdtype(jnp.result_type(value), jnp.floating)
        except TypeError:
            ok = False
    if not ok or not math.isfinite(float(value)) or float(value) < 0:
        kind = "a finite number >= 0" + (" or an optax schedule" if allow_schedule else "")
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def _eta_at(eta, count):
    return eta(count) if callable(eta) else eta


def _times(eta_t, g):
    # optax schedules return float32 even for float64 parameters: compute in g's dtype.
    return (eta_t if isinstance(eta_t, (int, float)) else jnp.asarray(eta_t, g.dtype)) * g


def _optax_promotion(inner: optax.GradientTransformation) -> optax.GradientTransformation:
    # optax mixes Python floats with int32 counts (schedules, Adam's bias correction), which
    # JAX's "strict" dtype promotion rejects; its code is traced under standard promotion.
    def update(updates, state, params=None):
        with jax.numpy_dtype_promotion("standard"):
            return inner.update(updates, state, params)

    def init(params):
        with jax.numpy_dtype_promotion("standard"):
            return inner.init(params)

    return optax.GradientTransformation(init, update)


def weights_only(params) -> Any:
    """Mask tree: True on the ``"w"`` leaves of fnnet parameters, False on biases."""
    return [{k: k == "w" for k in entry} for entry in params]


def biases(params) -> Any:
    """Mask tree: True on the ``"b"`` leaves."""
    return [{k: k == "b" for k in entry} for entry in params]


@_eta_renamed
def sgd(learning_rate) -> optax.GradientTransformation:
    """Plain gradient descent ``w ← w − η g``."""
    _check_rate("learning_rate", learning_rate)
    return _optax_promotion(optax.sgd(learning_rate))


class MomentumState(NamedTuple):
    count: jax.Array
    v: Any


@_eta_renamed
def momentum(learning_rate, lam: float = 0.9) -> optax.GradientTransformation:
    """The notes' momentum: ``v ← λ v − η g``, ``w ← w + v`` (v starts at 0).

    For a constant η this equals ``optax.sgd(η, momentum=λ)`` (whose trace is −v/η);
    under a schedule they differ: here each step's gradient keeps the η it was taken
    with, while optax multiplies the whole trace by the current η.
    """
    return _momentum(learning_rate, lam)


def _momentum(eta, lam) -> optax.GradientTransformation:
    _check_rate("learning_rate", eta)
    _check_rate("momentum", lam, allow_schedule=False)
    if float(lam) >= 1:
        raise ValueError(f"momentum must be in [0, 1) (with λ >= 1 the velocity never decays), got {lam!r}")

    def init(params):
        return MomentumState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def update(g, state, params=None):
        eta_t = _eta_at(eta, state.count)
        v = jax.tree.map(lambda v, g: lam * v - _times(eta_t, g), state.v, g)
        return v, MomentumState(optax.safe_increment(state.count), v)

    return _optax_promotion(optax.GradientTransformation(init, update))


class AdagradState(NamedTuple):
    count: jax.Array
    sum_sq: Any  # Σ_{i≤t} g_i²


@_eta_renamed
def adagrad(learning_rate, form: str = "notes") -> optax.GradientTransformation:
    """Adagrad. ``form="notes"``: ``w ← w − η g_t / sqrt(Σ_{i≤t} g_i²)`` with the sum
    starting at 0 and no ε (a parameter whose gradients have all been 0 stays put).
    ``form="optax"``: ``optax.adagrad(η)``, which starts the sum at 0.1 and adds
    ε = 1e-7 inside the root."""
    eta = learning_rate
    _check_rate("learning_rate", eta)
    form = _form(form)
    if form == "optax":
        return _optax_promotion(optax.adagrad(eta))
    if form != "notes":
        raise ValueError(f"adagrad: unknown form {form!r}; expected one of {list(ADAGRAD_FORMS)}")

    def init(params):
        return AdagradState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def step(g, s, eta_t):
        # Σ g² = 0 only if every g so far was 0, and then so is this g: the step is 0.
        safe = jnp.where(s > 0, s, jnp.ones_like(s))
        return jnp.where(s > 0, -_times(eta_t, g) / jnp.sqrt(safe), jnp.zeros_like(g))

    def update(g, state, params=None):
        sum_sq = jax.tree.map(lambda s, g: s + g * g, state.sum_sq, g)
        eta_t = _eta_at(eta, state.count)
        updates = jax.tree.map(lambda g, s: step(g, s, eta_t), g, sum_sq)
        return updates, AdagradState(optax.safe_increment(state.count), sum_sq)

    return _optax_promotion(optax.GradientTransformation(init, update))


@_eta_renamed
def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """``optax.adam``: ``m ← b1 m + (1 − b1) g``, ``v ← b2 v + (1 − b2) g²``,
    ``w ← w − η m̂ / (sqrt(v̂) + ε)`` with bias-corrected m̂, v̂."""
    _check_rate("learning_rate", learning_rate)
    return _optax_promotion(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps))


def l2(lam: float, mask: Any = weights_only) -> optax.GradientTransformation:
    """Adds ``λ w`` to the gradient (of ``L + λ/2 ||w||²``); before ``sgd(η)`` this is the
    notes' ``w ← (1 − ηλ) w − η ∂L/∂w``. Masked to the weights by default."""
    return _l2(lam, mask)


def _l2(lam, mask=weights_only) -> optax.GradientTransformation:
    _check_rate("l2", lam)
    return _optax_promotion(optax.add_decayed_weights(lam, mask))


def _add_l1(lam) -> optax.GradientTransformation:
    def update(g, state, params=None):
        if params is None:
            raise ValueError("l1 needs params: call optimizer.update(grads, state, params)")
        return jax.tree.map(lambda g, w: g + lam * jnp.sign(w), g, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def l1(lam: float, mask: Any = weights_only) -> optax.GradientTransformation:
    """Adds ``λ sgn(w)`` to the gradient (of ``L + λ ||w||₁``); before ``sgd(η)`` this is the
    notes' ``w ← w − η ∂L/∂w − ηλ sgn(w)``. Masked to the weights by default."""
    return _l1(lam, mask)


def _l1(lam, mask=weights_only) -> optax.GradientTransformation:
    _check_rate("l1", lam, allow_schedule=False)
    return _optax_promotion(optax.masked(_add_l1(lam), mask))


def freeze(mask: Any) -> optax.GradientTransformation:
    """Zero the updates of the leaves where ``mask`` is True (a tree or a function of params);
    chain it last so frozen parameters never move."""
    return _optax_promotion(optax.masked(optax.set_to_zero(), mask))


@_eta_renamed
def optimizer(name: str, learning_rate, *, momentum: float = 0.9, adagrad_form: str = "notes",
              l1: float = 0.0, l2: float = 0.0, clip: float | None = None,
              frozen: Any = None) -> optax.GradientTransformation:
    """One transformation from names and numbers (what the command line builds):
    ``chain(clip, l1, l2, <name>(learning_rate), freeze)``, leaving out what is not asked
    for. (The keywords name the numbers; the rules are built by this module's
    private twins of ``momentum``, ``l1`` and ``l2``, which those keywords shadow.)"""
    eta = learning_rate
    builders: dict[str, Callable[[], optax.GradientTransformation]] = {
        "sgd": lambda: sgd(eta),
        "momentum": lambda: _momentum(eta, momentum),
        "adagrad": lambda: adagrad(eta, adagrad_form),
        "adam": lambda: adam(eta),
    }
    if name not in builders:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    parts = []
    if clip is not None:
        _check_rate("clip", clip, allow_schedule=False)
        if float(clip) == 0:
            raise ValueError("clip must be > 0 (a global norm of 0 turns every update into 0), got 0")
        parts.append(_optax_promotion(optax.clip_by_global_norm(clip)))
    if l1:
        parts.append(_l1(l1))
    if l2:
        parts.append(_l2(l2))
    parts.append(builders[name]())
    if frozen is not None:
        parts.append(freeze(frozen))
    return parts[0] if len(parts) == 1 else optax.chain(*parts)

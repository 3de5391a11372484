"""Optimizers: optax's own transformations where the rule is optax's, the notes' forms
beside them.

Every function returns an ordinary ``optax.GradientTransformation``; chain them further
with ``optax.chain``. Where the rule is optax's, the object is the one optax returns
(same type, state and updates):

    sgd        w ← w − η g                                 optax.sgd
    momentum   v ← λ v − η g,  w ← w + v                  (the notes' form)
    adagrad    w ← w − η g_t / sqrt(Σ_{i≤t} g_i²)         (the notes' form; or optax.adagrad)
    adam       optax.adam
    l2         chain(l2(λ), sgd(η)):  w ← (1 − ηλ) w − η ∂L/∂w      optax.add_decayed_weights
    l1         chain(l1(λ), sgd(η)):  w ← w − η ∂L/∂w − ηλ sgn(w)
    clip       optimizer(..., clip=c): optax.clip_by_global_norm(c)

Hyperparameters: each rate and coefficient (η, λ of momentum, l1, l2, clip, Adam's)
may be a Python number or a JAX array, a traced one included, so ``jax.vmap`` over
learning rates or weight decays works and so does
``optax.inject_hyperparams(momentum)(learning_rate=0.1, lam=0.9)``; η and l2's λ may
also be optax schedules. Range checks (finite, >= 0, momentum < 1, clip > 0) apply to
concrete values only: a traced value is checked for shape and dtype, not range.

Dtype promotion: optax mixes Python floats with int32 counts (schedules, Adam's bias
correction), which JAX's "strict" promotion rejects. Call ``init`` and ``update`` under
``jax.numpy_dtype_promotion("standard")``, as ``fnnet.make_step`` does.

Regularization is masked to the weights by default (the notes leave biases out of it).
Masks go by dict key: ``weights_only`` selects every leaf whose own key is ``"w"``,
wherever fnnet parameters sit in a bigger tree.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.names import ADAGRAD_FORMS, OPTIMIZERS


def _describe(value) -> str:
    if isinstance(value, jax.core.Tracer):
        return f"a traced {value.aval.str_short()}"
    return repr(value)


def _fixed(name: str, value, expected) -> Any:
    """``value`` if it is one of ``expected``; a one-line ValueError otherwise (a tracer too:
    these choose the transformation's structure, so they must be known when it is built)."""
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{name} must be a fixed string, one of {list(expected)} (not a traced value), "
                         f"got {_describe(value)}")
    return value


def _check_rate(name: str, value: Any, *, allow_schedule: bool = True) -> float | None:
    """The value of a concrete coefficient, range-checked; None for a schedule or a tracer."""
    if allow_schedule and callable(value):
        return None
    dtype = getattr(value, "dtype", None)
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        getattr(value, "shape", None) == () and dtype is not None
        and (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)))
    kind = "a finite number >= 0" + (" or an optax schedule" if allow_schedule else "")
    if not ok:
        raise ValueError(f"{name} must be {kind}, got {_describe(value)}")
    if isinstance(value, jax.core.Tracer):  # under vmap, jit or inject_hyperparams: known only when run
        return None
    if not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return float(value)


def _check_below_one(name: str, value: Any, why: str) -> None:
    """A concrete decay rate checked in [0, 1), and below 1 in float32 too (the optimizer
    state's dtype: 0.99999999 is 1.0 there)."""
    concrete = _check_rate(name, value, allow_schedule=False)
    if concrete is None:
        return
    if concrete >= 1:
        raise ValueError(f"{name} must be in [0, 1) ({why}), got {value!r}")
    if np.float32(concrete) >= 1:
        raise ValueError(f"{name} must be in [0, 1) ({why}), got {value!r}, which float32 rounds to 1.0")


def _eta_at(eta, count):
    return eta(count) if callable(eta) else eta


def _times(c, x):
    # Schedules, inject_hyperparams and NumPy scalars bring a dtype of their own; only
    # Python numbers are weak. Compute in x's dtype.
    return (c if type(c) in (int, float) else jnp.asarray(c, x.dtype)) * x


def _named_leaves(params, name: str) -> Any:
    # The leaf's own dict key decides, so fnnet parameters may sit anywhere in a bigger tree
    # (a dict of parts, a list of networks, a layer without "b").
    def named(path, _):
        return bool(path) and isinstance(path[-1], jax.tree_util.DictKey) and path[-1].key == name
    return jax.tree_util.tree_map_with_path(named, params)


def weights_only(params) -> Any:
    """Mask tree: True on every leaf under a ``"w"`` dict key (fnnet weights), False elsewhere."""
    return _named_leaves(params, "w")


def biases_only(params) -> Any:
    """Mask tree: True on every leaf under a ``"b"`` dict key (fnnet biases), False elsewhere."""
    return _named_leaves(params, "b")


def _mask(mask):
    # The default is the name "w", not the function weights_only: inject_hyperparams takes
    # every callable argument for a schedule.
    return functools.partial(_named_leaves, name=mask) if isinstance(mask, str) else mask


def sgd(learning_rate) -> optax.GradientTransformation:
    """Plain gradient descent ``w ← w − η g``: ``optax.sgd(η)`` itself."""
    _check_rate("learning_rate", learning_rate)
    return optax.sgd(learning_rate)


class MomentumState(NamedTuple):
    count: jax.Array
    v: Any


def momentum(learning_rate, lam: float = 0.9) -> optax.GradientTransformation:
    """The notes' momentum: ``v ← λ v − η g``, ``w ← w + v`` (v starts at 0).

    For a constant η this equals ``optax.sgd(η, momentum=λ)`` (whose trace is −v/η);
    under a schedule they differ: here each step's gradient keeps the η it was taken
    with, while optax multiplies the whole trace by the current η.
    """
    return _momentum(learning_rate, lam)


def _momentum(eta, lam) -> optax.GradientTransformation:
    _check_rate("learning_rate", eta)
    _check_below_one("momentum", lam, "with λ >= 1 the velocity never decays")

    def init(params):
        return MomentumState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def update(g, state, params=None):
        eta_t = _eta_at(eta, state.count)
        v = jax.tree.map(lambda v, g: _times(lam, v) - _times(eta_t, g), state.v, g)
        return v, MomentumState(optax.safe_increment(state.count), v)

    return optax.GradientTransformation(init, update)


class AdagradState(NamedTuple):
    count: jax.Array
    sum_sq: Any  # Σ_{i≤t} g_i²


def adagrad(learning_rate, form: str = "notes") -> optax.GradientTransformation:
    """Adagrad. ``form="notes"``: ``w ← w − η g_t / sqrt(Σ_{i≤t} g_i²)`` with the sum
    starting at 0 and no ε (a parameter whose gradients have all been 0 stays put).
    ``form="optax"``: ``optax.adagrad(η)`` itself, which starts the sum at 0.1 and adds
    ε = 1e-7 inside the root."""
    eta = learning_rate
    _check_rate("learning_rate", eta)
    form = _fixed("adagrad: form", form, ADAGRAD_FORMS)
    if form == "optax":
        return optax.adagrad(eta)
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

    return optax.GradientTransformation(init, update)


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """``optax.adam`` itself: ``m ← b1 m + (1 − b1) g``, ``v ← b2 v + (1 − b2) g²``,
    ``w ← w − η m̂ / (sqrt(v̂) + ε)`` with bias-corrected m̂, v̂."""
    _check_rate("learning_rate", learning_rate)
    _check_below_one("b1", b1, "the first moment's decay; with b1 >= 1 it never forgets")
    _check_below_one("b2", b2, "the second moment's decay; with b2 >= 1 it never forgets")
    _check_rate("eps", eps, allow_schedule=False)
    return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


def l2(lam, mask: Any = "w") -> optax.GradientTransformation:
    """Adds ``λ w`` to the gradient (of ``L + λ/2 ||w||²``); before ``sgd(η)`` this is the
    notes' ``w ← (1 − ηλ) w − η ∂L/∂w``. ``optax.add_decayed_weights(λ, mask)`` itself;
    ``mask`` is a leaf name (default ``"w"``: the weights), a mask tree or function, or
    None (every leaf)."""
    return _l2(lam, mask)


def _l2(lam, mask: Any = "w") -> optax.GradientTransformation:
    _check_rate("l2", lam)
    return optax.add_decayed_weights(lam, _mask(mask))


def _add_l1(lam) -> optax.GradientTransformation:
    def update(g, state, params=None):
        if params is None:
            raise ValueError("l1 needs params: call optimizer.update(grads, state, params)")
        return jax.tree.map(lambda g, w: g + _times(lam, jnp.sign(w)), g, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def l1(lam, mask: Any = "w") -> optax.GradientTransformation:
    """Adds ``λ sgn(w)`` to the gradient (of ``L + λ ||w||₁``); before ``sgd(η)`` this is the
    notes' ``w ← w − η ∂L/∂w − ηλ sgn(w)``. ``mask`` as for ``l2``."""
    return _l1(lam, mask)


def _l1(lam, mask: Any = "w") -> optax.GradientTransformation:
    _check_rate("l1", lam, allow_schedule=False)
    return _add_l1(lam) if mask is None else optax.masked(_add_l1(lam), _mask(mask))


def freeze(mask: Any) -> optax.GradientTransformation:
    """Zero the updates of the leaves where ``mask`` is True (a tree, a function of params
    or a leaf name); chain it last so frozen parameters never move."""
    return optax.masked(optax.set_to_zero(), _mask(mask))


def _absent(coefficient) -> bool:
    # Only the number 0 leaves a term out: an array (traced or not) keeps it, so the
    # chain's structure never depends on a value (inject_hyperparams builds it twice).
    return isinstance(coefficient, (int, float)) and coefficient == 0


def optimizer(name: str, learning_rate, *, momentum: float = 0.9, adagrad_form: str = "notes",
              l1: float = 0.0, l2: float = 0.0, clip: float | None = None,
              frozen: Any = None) -> optax.GradientTransformation:
    """One transformation from names and numbers (what the command line builds):
    ``chain(clip, l1, l2, <name>(learning_rate), freeze)``, leaving out what is not asked
    for (clip None, l1 or l2 the number 0). (The keywords name the numbers; the rules are
    built by this module's private twins of ``momentum``, ``l1`` and ``l2``, which those
    keywords shadow.)"""
    eta = learning_rate
    builders: dict[str, Callable[[], optax.GradientTransformation]] = {
        "sgd": lambda: sgd(eta),
        "momentum": lambda: _momentum(eta, momentum),
        "adagrad": lambda: adagrad(eta, adagrad_form),
        "adam": lambda: adam(eta),
    }
    if _fixed("optimizer: name", name, OPTIMIZERS) not in builders:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    parts = []
    if clip is not None:
        if _check_rate("clip", clip, allow_schedule=False) == 0:
            raise ValueError("clip must be > 0 (a global norm of 0 turns every update into 0), got 0")
        parts.append(optax.clip_by_global_norm(clip))
    if not _absent(l1):
        parts.append(_l1(l1))
    if not _absent(l2):
        parts.append(_l2(l2))
    parts.append(builders[name]())
    if frozen is not None:
        parts.append(freeze(frozen))
    return parts[0] if len(parts) == 1 else optax.chain(*parts)

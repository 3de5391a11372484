"""Activation functions, each beside its hand-written local derivative.

Every entry pairs the forward rule ``a = f(z)`` with ``vjp(z, a, g) = g ⊙ f'(z)``
(for softmax the full Jacobian-vector product), the way the notes' backward-pass
slide pairs a neuron with ``σ'(z)``. Kinks follow JAX: ``relu'(0) = 0`` like
``jax.nn.relu``, ``leaky_relu'(0) = 1`` like ``jax.nn.leaky_relu``.

The built-ins are added with ``register``, the same function a user calls for a
named activation of their own. A layer also takes an unnamed activation (an
``Activation``, an ``(f, df)`` pair or a bare callable ``f``, whose derivative then
comes from ``jax.vjp``); only names can be written to a network's config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

LEAKY_SLOPE = 0.01


class Activation(NamedTuple):
    """``f``: z -> a; ``df``: (z, a) -> f'(z) elementwise (None for softmax and for
    derivatives left to ``jax.vjp``); ``vjp``: (z, a, g) -> g ⊙ f'(z), i.e. ∂C/∂z
    from g = ∂C/∂a."""

    name: str
    f: Callable
    df: Callable | None
    vjp: Callable
    kinked: bool  # has points where f is not differentiable (finite differences fail there)


# Both are frozen dataclasses, not closures, so that two layers built from the same
# functions compare (and hash) equal: the network is a jit static argument.
@dataclass(frozen=True)
class _ElementwiseVJP:
    df: Callable

    def __call__(self, z, a, g):
        return g * self.df(z, a)


@dataclass(frozen=True)
class _AutodiffVJP:
    f: Callable

    def __call__(self, z, a, g):
        return jax.vjp(self.f, z)[1](g)[0]


ACTIVATIONS: dict[str, Activation] = {}

#: Activations whose layers default to He initialisation (the rest use Glorot).
RELU_LIKE = frozenset()


def register(name: str, f: Callable, df: Callable | None = None, *, kinked: bool = False,
             vjp: Callable | None = None, relu_like: bool = False) -> Activation:
    """Make ``name`` usable wherever an activation name is (``Dense(n, name)``, configs).

    ``f``: z -> a; ``df``: (z, a) -> f'(z), the hand-written elementwise derivative, so
    ``δ = g ⊙ f'(z)``; or ``vjp``: (z, a, g) -> ∂C/∂z for a non-elementwise f (softmax).
    With neither, ``jax.vjp`` of f supplies it. ``kinked``: f has points where it is not
    differentiable; ``relu_like``: layers using it default to He initialisation.
    Registering a name again is an error unless it is the same rule.
    """
    global RELU_LIKE
    if not isinstance(name, str) or not name:
        raise ValueError(f"activations.register: name must be a non-empty str, got {name!r}")
    for what, fn, optional in (("f", f, False), ("df", df, True), ("vjp", vjp, True)):
        if not (callable(fn) or (optional and fn is None)):
            raise TypeError(f"activations.register({name!r}): {what} must be callable, got {fn!r}")
    if vjp is None:
        vjp = _ElementwiseVJP(df) if df is not None else _AutodiffVJP(f)
    act = Activation(name, f, df, vjp, bool(kinked))
    old = ACTIVATIONS.get(name)
    if old is not None and old != act:
        # Compiled programs are cached by the network, which holds only the name:
        # replacing the rule behind a name would let them run the old one.
        raise ValueError(f"activation {name!r} is already registered with another rule; pick another name")
    ACTIVATIONS[name] = act
    if relu_like:
        RELU_LIKE = RELU_LIKE | {name}
    return act


def get(name: str | Activation) -> Activation:
    """The activation called ``name`` (an ``Activation`` is returned as it is); a
    ValueError lists the valid names."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None


def resolve(spec: Any) -> str | Activation:
    """What a layer stores for the activation ``spec``: a registered name (also for a
    registered ``Activation`` or the ``f`` of one, e.g. ``jax.nn.relu``), else an
    ``Activation`` built from an ``(f, df)`` pair (df: (z, a) -> f'(z)) or from a
    callable ``f`` alone (its derivative by ``jax.vjp``), named after ``f``."""
    if isinstance(spec, str):
        get(spec)
        return spec
    if isinstance(spec, Activation):
        if not all(callable(fn) for fn in (spec.f, spec.vjp)):
            raise TypeError(f"Activation {spec.name!r}: f and vjp must be callable, got {spec!r}")
        return spec.name if ACTIVATIONS.get(spec.name) == spec else spec
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(fn) for fn in spec):
        f, df = spec
        return Activation(_name(f), f, df, _ElementwiseVJP(df), False)
    if callable(spec):
        for act in ACTIVATIONS.values():
            if act.f is spec:
                return act.name
        return Activation(_name(spec), spec, None, _AutodiffVJP(spec), False)
    raise ValueError(f"unknown activation {spec!r}; expected one of {sorted(ACTIVATIONS)}, "
                     "an Activation, an (f, df) pair or a callable f")


def name_of(spec: str | Activation) -> str:
    """The name to print for what ``resolve`` returned."""
    return spec if isinstance(spec, str) else spec.name


def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _ones(z):
    return jnp.ones_like(z)


def _softmax_vjp(z, a, g):
    # J = diag(a) - a aᵀ per example, so Jᵀg = a ⊙ (g - <g, a>).
    return a * (g - jnp.sum(g * a, axis=-1, keepdims=True))


_GELU_C = np.sqrt(2 / np.pi)  # jax.nn.gelu's default: the tanh approximation
_GELU_K = 0.044715


def _gelu_df(z, a):
    # f = ½ z (1 + t), t = tanh(u), u = c (z + k z³):
    # f' = ½ (1 + t) + c · ½ z (1 − t)(1 + t) · (1 + 3k z²), summed in the order jax.grad
    # sums it, so the two agree to the last bits where 1 + t cancels (z ≲ −5).
    c = jnp.asarray(_GELU_C, z.dtype)
    t = jnp.tanh(c * (z + _GELU_K * z ** 3))
    r = 0.5 * z * (1 - t)
    u = c * (r + r * t)
    return (0.5 * (1 + t) + u) + (_GELU_K * u) * (3 * (z * z))


def _silu_df(z, a):
    # f = z σ(z):  f' = σ + z σ (1 − σ) = σ + a (1 − σ).
    s = jax.nn.sigmoid(z)
    return s + a * (1 - s)


register("sigmoid", jax.nn.sigmoid, lambda z, a: a * (1 - a))
register("tanh", jnp.tanh, lambda z, a: 1 - a * a)
register("relu", jax.nn.relu, lambda z, a: (z > 0).astype(z.dtype), kinked=True, relu_like=True)
register("leaky_relu", lambda z: jax.nn.leaky_relu(z, LEAKY_SLOPE),
         lambda z, a: jnp.where(z >= 0, _ones(z), LEAKY_SLOPE * _ones(z)), kinked=True, relu_like=True)
register("elu", jax.nn.elu, lambda z, a: jnp.where(z > 0, _ones(z), a + 1), relu_like=True)
register("softplus", jax.nn.softplus, lambda z, a: jax.nn.sigmoid(z))
register("identity", lambda z: z, lambda z, a: _ones(z))
register("softmax", lambda z: jax.nn.softmax(z, axis=-1), vjp=_softmax_vjp)
register("gelu", jax.nn.gelu, _gelu_df, relu_like=True)
register("silu", jax.nn.silu, _silu_df, relu_like=True)

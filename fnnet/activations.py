"""Activation functions, each beside its hand-written local derivative.

Every entry pairs the forward rule ``a = f(z)`` with ``vjp(z, a, g) = g ⊙ f'(z)``
(for softmax the full Jacobian-vector product), the way the notes' backward-pass
slide pairs a neuron with ``σ'(z)``. Kinks follow JAX: ``relu'(0) = 0`` like
``jax.nn.relu``, ``leaky_relu'(0) = 1`` like ``jax.nn.leaky_relu``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

LEAKY_SLOPE = 0.01


class Activation(NamedTuple):
    """``f``: z -> a; ``df``: (z, a) -> f'(z) elementwise (None for softmax);
    ``vjp``: (z, a, g) -> g ⊙ f'(z), i.e. ∂C/∂z from g = ∂C/∂a."""

    name: str
    f: Callable
    df: Callable | None
    vjp: Callable
    kinked: bool  # has points where f is not differentiable (finite differences fail there)


def _elementwise(name, f, df, kinked=False):
    return Activation(name, f, df, lambda z, a, g: g * df(z, a), kinked)


def _softmax_vjp(z, a, g):
    # J = diag(a) - a aᵀ per example, so Jᵀg = a ⊙ (g - <g, a>).
    return a * (g - jnp.sum(g * a, axis=-1, keepdims=True))


def _ones(z):
    return jnp.ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        _elementwise("sigmoid", jax.nn.sigmoid, lambda z, a: a * (1 - a)),
        _elementwise("tanh", jnp.tanh, lambda z, a: 1 - a * a),
        _elementwise("relu", jax.nn.relu, lambda z, a: (z > 0).astype(z.dtype), kinked=True),
        _elementwise(
            "leaky_relu",
            lambda z: jax.nn.leaky_relu(z, LEAKY_SLOPE),
            lambda z, a: jnp.where(z >= 0, _ones(z), LEAKY_SLOPE * _ones(z)),
            kinked=True,
        ),
        _elementwise("elu", jax.nn.elu, lambda z, a: jnp.where(z > 0, _ones(z), a + 1)),
        _elementwise("softplus", jax.nn.softplus, lambda z, a: jax.nn.sigmoid(z)),
        _elementwise("identity", lambda z: z, lambda z, a: _ones(z)),
        Activation("softmax", lambda z: jax.nn.softmax(z, axis=-1), None, _softmax_vjp, False),
    )
}

#: Activations whose layers default to He initialisation (the rest use Glorot).
RELU_LIKE = frozenset({"relu", "leaky_relu", "elu"})


def get(name: str) -> Activation:
    """The activation called ``name``; a ValueError lists the valid names."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None

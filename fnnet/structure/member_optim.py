"""The search group's optimizer: each member's own (sgd, momentum, adagrad, adam) with its
own η and L2 λ, between two multiplications by its 0/1 mask (``fnnet.structure.padding``)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from fnnet import optim


def _masked(mask) -> optax.GradientTransformation:
    """Multiplies every leaf by the member's 0/1 mask."""
    return optax.GradientTransformation(
        lambda params: optax.EmptyState(),
        lambda g, state, params=None: (jax.tree.map(lambda a, m: a * m, g, mask), state))


def _switch(opts: list, which) -> optax.GradientTransformation:
    """The member's own optimizer among ``opts``: all of them keep their state, the updates
    of ``opts[which]`` are taken (selected, never mixed)."""

    def init(params):
        return tuple(o.init(params) for o in opts)

    def update(g, state, params=None):
        outs = [o.update(g, s, params) for o, s in zip(opts, state)]
        updates = outs[0][0]
        for k, (u, _) in enumerate(outs[1:], 1):
            updates = jax.tree.map(lambda new, old, k=k: jnp.where(which == k, new, old), u, updates)
        return updates, tuple(s for _, s in outs)

    return optax.GradientTransformation(init, update)


@functools.lru_cache(maxsize=None)  # one function object per set: it keys fit_many's compiled programs
def optimizer_maker(names: tuple):
    """``make(learning_rate, l2, mask, which)``: the chain in this module's docstring, with
    ``fnnet train``'s optimizers (``fnnet.optim.optimizer``: momentum 0.9, the notes' Adagrad)."""

    def make(learning_rate, l2, mask, which):
        opts = [optim.optimizer(name, learning_rate) for name in names]
        chosen = opts[0] if len(opts) == 1 else _switch(opts, which)
        return optax.chain(_masked(mask), optim.l2(l2), chosen, _masked(mask))

    return make

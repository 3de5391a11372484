"""Calling any loss the same way: fnnet's ``Loss`` objects and a user's callable
``loss(y, t)`` or ``loss(y, t, weights)`` (the protocol in ``fnnet.losses``)."""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp

from fnnet.model import losses as losses_


def describe(loss) -> str:
    """A name for messages: the loss's ``name``, its function name, or its type."""
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


@functools.lru_cache(maxsize=256)
def _signature_takes_weights(loss) -> bool:
    try:
        inspect.signature(loss).bind(None, None, None)
        return True
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): assume the plain form
        return False


def accepts_weights(loss) -> bool:
    """Whether ``loss`` takes per-example weights as its third argument."""
    if isinstance(loss, losses_.Loss):
        return True
    try:
        return _signature_takes_weights(loss)
    except TypeError:  # unhashable callable: ask every time
        return _signature_takes_weights.__wrapped__(loss)


def reduction(loss) -> str:
    """"sum" or "mean": how the loss reduces over a batch ("mean" unless it says)."""
    return getattr(loss, "reduction", "mean")


def value(loss, y, t, weights=None):
    """``L = loss(y, t)``, or ``loss(y, t, weights)`` when weights are given; a scalar, or
    a ValueError naming the loss and the shape it returned."""
    if weights is not None and not accepts_weights(loss):
        raise ValueError(f"loss {describe(loss)!r} takes no per-example weights (y, t, weights); "
                         "give it a third argument to train with weights or a partial last batch")
    out = loss(y, t) if weights is None else loss(y, t, weights)
    if jnp.shape(out) != ():
        raise ValueError(f"loss {describe(loss)!r} must return a scalar, got shape {tuple(jnp.shape(out))} "
                         f"for outputs of shape {tuple(jnp.shape(y))}")
    return out


def dl_dy(loss, y, t, weights=None):
    """``∂L/∂y`` (y's shape): the loss's own ``grad`` when it has one, else ``jax.grad``
    of the loss with respect to y."""
    if callable(getattr(loss, "grad", None)):
        g = loss.grad(y, t) if weights is None else loss.grad(y, t, weights)
        if jnp.shape(g) != jnp.shape(y):
            raise ValueError(f"loss {describe(loss)!r}: grad(y, t) must have y's shape {tuple(jnp.shape(y))}, "
                             f"got {tuple(jnp.shape(g))}")
        return g
    return jax.grad(lambda y_: value(loss, y_, t, weights))(y)

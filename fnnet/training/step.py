"""One update on the device: the gradient (``jax.grad`` or the hand-written pass) and
the optimizer's step, as a pure function (``make_step``) or compiled (``train_step``);
the epochs that scan it are in ``fnnet.training.epochs``."""

from __future__ import annotations

from typing import Callable

import jax
import optax

from fnnet.model import backprop, loss_calls, losses as losses_
from fnnet.model.network import Network
from fnnet.names import GRADS
from fnnet.training.layout import to_inner, to_outer
from fnnet.training.state import TrainState


def check_grad(grad) -> None:
    """A ValueError unless ``grad`` is one of ``GRADS``."""
    if grad not in GRADS:
        raise ValueError(f"grad: expected one of {list(GRADS)}, got {grad!r}")


def value_and_grad(net: Network, loss, grad: str = "autodiff") -> Callable:
    """``(params, x, t, weights, key) -> ((L, y), ∂L/∂params)`` in training mode, from
    ``jax.grad`` ("autodiff") or the hand-written pass ("backprop")."""
    check_grad(grad)
    loss = losses_.get(loss)
    if grad == "backprop":
        return lambda params, x, t, w, key: backprop.loss_and_grad(
            net, loss, params, x, t, key=key, train=True, weights=w, has_aux=True)

    def autodiff(params, x, t, w, key):
        def objective(p):
            y = net.apply(p, x, key=key, train=True)
            return loss_calls.value(loss, y, t, w), y
        return jax.value_and_grad(objective, has_aux=True)(params)

    return autodiff


def make_step(net: Network, loss, optimizer: optax.GradientTransformation, *,
              grad: str = "autodiff", accuracy: bool = True, grad_reduce: Callable | None = None,
              layout: frozenset = frozenset()) -> Callable:
    """The pure update ``(params, opt_state, batch, key) -> (params, opt_state, metrics)``;
    batch is ``(x, t)`` or ``(x, t, weights)``, metrics ``{"loss", "accuracy"}`` of the
    batch before the update. A transformation taking extra arguments
    (``optax.GradientTransformationExtraArgs``: ``reduce_on_plateau``, line searches) gets
    ``value=`` (the batch loss), ``grad=`` and ``value_fn=`` (the batch loss as a function
    of params, with the same key and weights).

    ``grad_reduce``: applied to the gradient tree, and to the loss and accuracy (so the
    optimizer's ``value=`` and the metrics), before the update; for a ``jax.shard_map``
    over a named axis, e.g. ``lambda g: jax.lax.pmean(g, "data")`` with a mean loss: the
    single-device step when each shard holds the same number (or total weight) of
    examples (``value_fn`` stays the shard's own loss).

    ``layout`` (``fnnet.training.layout``, inside the compiled epochs): params and
    opt_state hold the weights of these shapes transposed; the network sees them as
    they are."""
    vg = value_and_grad(net, loss, grad)
    extra = isinstance(optimizer, optax.GradientTransformationExtraArgs)

    def step(params, opt_state, batch, key):
        if isinstance(params, TrainState):  # a tuple too: named here, not by jax.grad's int32 complaint
            raise TypeError("params: expected the parameter tree (one entry per layer), got a TrainState; "
                            "pass state.params and state.opt_state")
        x, t, w = (*batch, None) if len(batch) == 2 else batch
        # Transposes around the gradient: XLA folds them into the matrix products.
        (value, y), grads = vg(to_outer(params, layout), x, t, w, key)
        grads = to_inner(grads, layout)
        if grad_reduce is not None:
            grads, value = grad_reduce(grads), grad_reduce(value)
        # optax's protocol: such an update takes what it needs and ignores the rest. The
        # gradient value_fn also computes is dead code under jit, which XLA drops.
        kwargs = {} if not extra else dict(value=value, grad=grads,
                                           value_fn=lambda p: vg(to_outer(p, layout), x, t, w, key)[0][0])
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
            updates, opt_state = optimizer.update(grads, opt_state, params, **kwargs)
        params = optax.apply_updates(params, updates)
        metrics = {"loss": value}
        if accuracy:
            hits = losses_.accuracy(y, t, w)
            metrics["accuracy"] = hits if grad_reduce is None else grad_reduce(hits)
        return params, opt_state, metrics

    return step


def train_step(net: Network, loss, optimizer: optax.GradientTransformation, *,
               grad: str = "autodiff") -> Callable:
    """``make_step`` compiled; params and optimizer state are donated on accelerators."""
    donate = (0, 1) if jax.default_backend() != "cpu" else ()
    return jax.jit(make_step(net, loss, optimizer, grad=grad), donate_argnums=donate)

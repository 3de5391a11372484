"""One update on the device: the training state, the gradient, the step, and evaluation
(the epochs that scan the step are in ``fnnet.epochs``). Keys: the run's base key is
never consumed; epoch e shuffles with ``fold_in(fold_in(key, 0), e)`` and update s
drops out with ``fold_in(fold_in(key, 1), s)``, so no key is used twice and a resumed
run draws exactly what an uninterrupted one would."""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet import backprop, device_data, loss_calls, losses as losses_, parallel
from fnnet.network import Network

GRADS = ("autodiff", "backprop")


class StoppingState(NamedTuple):
    """Early stopping's progress (on the host, saved in a TrainState's checkpoint): the best
    value (NaN before any), its epoch (0: none yet), the epochs since, its parameters."""

    best: np.ndarray  # float64 ()
    best_epoch: np.ndarray  # int64 ()
    wait: np.ndarray  # int64 ()
    params: Any


class TrainState(NamedTuple):
    """Everything a run needs to continue: parameters, optimizer state, updates and epochs
    done, the run's base key, early stopping's progress (None without; never compiled)."""

    params: Any
    opt_state: Any
    step: Any  # int32 scalar (device or NumPy: fit counts on the host)
    epoch: Any  # int32 scalar
    key: jax.Array
    stopping: StoppingState | None = None


def init_state(params, optimizer: optax.GradientTransformation, key) -> TrainState:
    """A fresh TrainState at step 0, epoch 0."""
    return _init_program(optimizer)(params, key)


def fresh_state(optimizer: optax.GradientTransformation, params, key) -> TrainState:
    """``init_state``'s state, traceable (a compiled program can make its own)."""
    with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
        opt_state = optimizer.init(params)
    return TrainState(params, opt_state, *(jnp.zeros((), jnp.int32),) * 2, key)


@functools.lru_cache(maxsize=64)
def _init_program(optimizer):  # one call, not a dispatch per zeros_like of the opt state
    return jax.jit(functools.partial(fresh_state, optimizer))


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
              grad: str = "autodiff", accuracy: bool = True, grad_reduce: Callable | None = None) -> Callable:
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
    examples (``value_fn`` stays the shard's own loss)."""
    vg = value_and_grad(net, loss, grad)
    extra = isinstance(optimizer, optax.GradientTransformationExtraArgs)

    def step(params, opt_state, batch, key):
        x, t, w = (*batch, None) if len(batch) == 2 else batch
        (value, y), grads = vg(params, x, t, w, key)
        if grad_reduce is not None:
            grads, value = grad_reduce(grads), grad_reduce(value)
        # optax's protocol: such an update takes what it needs and ignores the rest. The
        # gradient value_fn also computes is dead code under jit, which XLA drops.
        kwargs = {} if not extra else dict(value=value, grad=grads,
                                           value_fn=lambda p: vg(p, x, t, w, key)[0][0])
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


# ---------------------------------------------------------------- evaluation

def evaluate_arrays(net: Network, loss, params, x, t, chunk: int, *, sharding=None) -> dict:
    """Traceable ``evaluate``: ``{"loss", "accuracy"}`` in inference mode over x (n, in)
    and t, ``chunk`` examples at a time (the last chunk padded and masked). A loss that is
    not an fnnet ``Loss`` (no per-example values to add up) sees all of x at once.
    ``sharding`` (``fnnet.parallel.batch_sharding``): x and t replicated on its mesh, each
    chunk's examples split across its batch axis (chunk rounded up to the device count)."""
    n = x.shape[0]
    if not isinstance(loss, losses_.Loss):
        y = net.apply(params, x)
        return {"loss": loss_calls.value(loss, y, t), "accuracy": losses_.accuracy(y, t)}
    chunk = min(chunk, n)
    if sharding is not None:
        chunk = -(-chunk // parallel.devices_along(sharding)) * parallel.devices_along(sharding)
    count = -(-n // chunk)
    pad = count * chunk - n
    w = jnp.concatenate([jnp.ones((n,), x.dtype), jnp.zeros((pad,), x.dtype)]).reshape(count, chunk)
    xs = jnp.pad(x, ((0, pad), (0, 0))).reshape(count, chunk, -1)
    ts = jnp.pad(t, ((0, pad),) + ((0, 0),) * (t.ndim - 1)).reshape((count, chunk) + t.shape[1:])
    if sharding is not None:
        xs, ts, w = (parallel.shard(a, sharding, 1) for a in (xs, ts, w))

    def one(batch):
        xb, tb, wb = batch
        y = net.apply(params, xb)
        c = loss.per_example(y, losses_.targets_like(y, tb))
        return jnp.sum(c * wb.astype(c.dtype)), losses_.accuracy(y, tb, wb) * jnp.sum(wb)

    total, hits = jax.lax.map(one, (xs, ts, w))
    total = jnp.sum(total)
    return {"loss": total if loss.reduction == "sum" else total / n, "accuracy": jnp.sum(hits) / n}


@functools.lru_cache(maxsize=64)
def _evaluate_program(net, loss, chunk, sharding=None):
    program = jax.jit(lambda params, x, t: evaluate_arrays(net, loss, params, x, t, chunk, sharding=sharding))
    return program if sharding is None else parallel.under_mesh(program, sharding)


def evaluate(net: Network, loss, params, x, t, *, batch_size: int = 1024, mesh=None) -> dict:
    """Loss (in the loss's reduction) and accuracy over a data set, inference mode; with
    ``mesh`` (a Mesh or ``parallel.batch_sharding``) each chunk is split across its batch
    axis, the chunk rounded up to a multiple of the device count."""
    loss = losses_.get(loss)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be an int >= 1, got {batch_size!r}")
    x, t = device_data.to_device(x, t, net.in_features, net.out_features, net.param_dtype(params), "data")
    sharding = None if mesh is None else parallel.batch_sharding(mesh)
    if sharding is not None:
        params, x, t = parallel.replicate(sharding, (params, x, t))
    metrics = _evaluate_program(net, loss, batch_size, sharding)(params, x, t)
    return {k: float(v) for k, v in metrics.items()}

"""What runs on the device: the training state, the gradient, one update, the scanned
epoch, the compiled many-epochs program, and evaluation. Keys: the run's base key is
never consumed; epoch e shuffles with ``fold_in(fold_in(key, 0), e)`` and update s
drops out with ``fold_in(fold_in(key, 1), s)``, so no key is used twice and a resumed
run draws exactly what an uninterrupted one would."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet import backprop, device_data, losses as losses_
from fnnet.network import Network

GRADS = ("autodiff", "backprop")


class StoppingState(NamedTuple):
    """Early stopping's progress, kept on the host: the best monitored value (NaN before
    the first epoch), the epoch it came from (0: none yet), the epochs since, and that
    epoch's parameters. Part of a TrainState, so a checkpoint saves it and ``fit``
    resumes it."""

    best: np.ndarray  # float64 ()
    best_epoch: np.ndarray  # int64 ()
    wait: np.ndarray  # int64 ()
    params: Any


class TrainState(NamedTuple):
    """Everything a run needs to continue: parameters, optimizer state, the number of
    updates and epochs done, the run's base key, and early stopping's progress (None
    without early stopping; the compiled programs never see it)."""

    params: Any
    opt_state: Any
    step: jax.Array  # int32
    epoch: jax.Array  # int32
    key: jax.Array
    stopping: StoppingState | None = None


def init_state(params, optimizer: optax.GradientTransformation, key) -> TrainState:
    """A fresh TrainState at step 0, epoch 0."""
    return _init_program(optimizer)(params, key)


def _fresh(optimizer, params, key) -> TrainState:
    return TrainState(params, optimizer.init(params), *(jnp.zeros((), jnp.int32),) * 2, key)


@functools.lru_cache(maxsize=64)
def _init_program(optimizer):
    # One compiled call instead of one dispatch per zeros_like of the optimizer state.
    return jax.jit(functools.partial(_fresh, optimizer))


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
            return loss(y, t, w), y
        return jax.value_and_grad(objective, has_aux=True)(params)

    return autodiff


def make_step(net: Network, loss, optimizer: optax.GradientTransformation, *,
              grad: str = "autodiff", accuracy: bool = True) -> Callable:
    """The pure update ``(params, opt_state, batch, key) -> (params, opt_state, metrics)``;
    batch is ``(x, t)`` or ``(x, t, weights)``, metrics ``{"loss", "accuracy"}`` of the
    batch before the update."""
    vg = value_and_grad(net, loss, grad)

    def step(params, opt_state, batch, key):
        x, t, w = (*batch, None) if len(batch) == 2 else batch
        (value, y), grads = vg(params, x, t, w, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics = {"loss": value}
        if accuracy:
            metrics["accuracy"] = losses_.accuracy(y, t, w)
        return params, opt_state, metrics

    return step


def train_step(net: Network, loss, optimizer: optax.GradientTransformation, *,
               grad: str = "autodiff") -> Callable:
    """``make_step`` compiled; params and optimizer state are donated on accelerators."""
    donate = (0, 1) if jax.default_backend() != "cpu" else ()
    return jax.jit(make_step(net, loss, optimizer, grad=grad), donate_argnums=donate)


# ---------------------------------------------------------------- evaluation

def _evaluate(net, loss, params, x, t, chunk):
    """``{"loss", "accuracy"}`` in inference mode over all of x, ``chunk`` examples at a time."""
    n = x.shape[0]
    chunk = min(chunk, n)
    count = -(-n // chunk)
    pad = count * chunk - n
    w = jnp.concatenate([jnp.ones((n,), x.dtype), jnp.zeros((pad,), x.dtype)]).reshape(count, chunk)
    xs = jnp.pad(x, ((0, pad), (0, 0))).reshape(count, chunk, -1)
    ts = jnp.pad(t, ((0, pad),) + ((0, 0),) * (t.ndim - 1)).reshape((count, chunk) + t.shape[1:])

    def one(batch):
        xb, tb, wb = batch
        y = net.apply(params, xb)
        c = loss.per_example(y, losses_.targets_like(y, tb))
        return jnp.sum(c * wb.astype(c.dtype)), losses_.accuracy(y, tb, wb) * jnp.sum(wb)

    total, hits = jax.lax.map(one, (xs, ts, w))
    total = jnp.sum(total)
    return {"loss": total if loss.reduction == "sum" else total / n, "accuracy": jnp.sum(hits) / n}


@functools.lru_cache(maxsize=64)
def _evaluate_program(net, loss, chunk):
    return jax.jit(lambda params, x, t: _evaluate(net, loss, params, x, t, chunk))


def evaluate(net: Network, loss, params, x, t, *, batch_size: int = 1024) -> dict:
    """Loss (in the loss's reduction) and accuracy over a data set, inference mode."""
    loss = losses_.get(loss)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be an int >= 1, got {batch_size!r}")
    x, t = device_data.to_device(x, t, net.in_features, net.out_features, net.param_dtype(params), "data")
    metrics = _evaluate_program(net, loss, batch_size)(params, x, t)
    return {k: float(v) for k, v in metrics.items()}


# ---------------------------------------------------------------- the epoch

@dataclass(frozen=True)
class EpochSpec:
    """What one compiled epoch does; hashable, so it is the compiled programs' cache key.
    ``learning_rate`` (a number or the optimizer's schedule) is only reported;
    ``step_losses`` keeps every update's loss (the divergence replay needs them)."""

    net: Network
    loss: Any
    optimizer: optax.GradientTransformation
    batch_size: int
    grad: str = "autodiff"
    accuracy: bool = True
    eval_batch_size: int = 1024
    learning_rate: Any = None
    step_losses: bool = False


def _minibatches(key, epoch, n: int, batch_size: int):
    """The epoch's order: ``(full, last)`` where full (count, B) holds the indices of the
    whole minibatches of a shuffled permutation and last is None or ``(idx (B,), w (B,),
    rem)``, the partial last batch padded with examples from the start and masked by
    w = 0 there, so every example counts once."""
    full, rem = divmod(n, batch_size)
    perm = jax.random.permutation(jax.random.fold_in(jax.random.fold_in(key, 0), epoch), n)
    last = None
    if rem:
        idx = jnp.concatenate([perm[full * batch_size:], perm[: batch_size - rem]])
        mask = jnp.arange(batch_size) < rem
        last = (idx, mask, rem)
    return perm[: full * batch_size].reshape(full, batch_size), last


def _reported(spec: EpochSpec, n, loss_sum, hits, steps_done, dtype) -> dict:
    """The epoch's loss (in the loss's reduction), accuracy and last learning rate."""
    metrics = {"loss": loss_sum if spec.loss.reduction == "sum" else loss_sum / n}
    if spec.accuracy:
        metrics["accuracy"] = hits / n
    if spec.learning_rate is not None:
        schedule = spec.learning_rate
        with jax.numpy_dtype_promotion("standard"):  # optax schedules mix float and int32
            lr = schedule(steps_done - 1) if callable(schedule) else schedule
        metrics["learning_rate"] = jnp.asarray(lr, dtype)
    return metrics


def make_epoch(net: Network, loss, optimizer: optax.GradientTransformation, *, batch_size: int,
               grad: str = "autodiff", accuracy: bool = True, eval_batch_size: int = 1024,
               learning_rate=None, step_losses: bool = False) -> Callable:
    """The pure epoch ``(state, x, t, val) -> (state, metrics)``: shuffle, one update per
    minibatch under ``lax.scan`` (the last partial batch padded and masked, so each example
    counts once), then the validation pass when ``val = (x_val, t_val)`` is given.

    Metrics: "loss" (and "accuracy") running over the epoch's minibatches in training mode,
    "val_loss"/"val_accuracy", "learning_rate" when given, and with ``step_losses`` the
    loss of every update.
    """
    return _epoch(EpochSpec(net, losses_.get(loss), optimizer, batch_size, grad, accuracy, eval_batch_size,
                            learning_rate, step_losses))


def _epoch(spec: EpochSpec) -> Callable:
    step = make_step(spec.net, spec.loss, spec.optimizer, grad=spec.grad, accuracy=spec.accuracy)
    B = spec.batch_size

    def epoch(state: TrainState, x, t, val=None):
        n = x.shape[0]
        dtype = spec.net.param_dtype(state.params)
        drop_key = jax.random.fold_in(state.key, 1)

        def update(carry, batch, count):
            """One minibatch of ``count`` real examples; the epoch's sums grow by its share."""
            params, opt_state, s, loss_sum, hits = carry
            params, opt_state, m = step(params, opt_state, batch, jax.random.fold_in(drop_key, s))
            # The batch's loss is a mean over its examples or their sum: back to a sum.
            loss_sum = loss_sum + (m["loss"] * count if spec.loss.reduction == "mean" else m["loss"])
            hits = hits + m["accuracy"] * count if spec.accuracy else hits
            return (params, opt_state, s + 1, loss_sum, hits), (m["loss"] if spec.step_losses else None)

        carry = (state.params, state.opt_state, state.step, jnp.zeros((), dtype), jnp.zeros((), dtype))
        losses = []
        if n == B:
            # One batch of everything: its order does not change the update, so no shuffle.
            carry, ys = update(carry, (x, t), B)
            losses.append(None if ys is None else ys[None])
        else:
            full, last = _minibatches(state.key, state.epoch, n, B)
            # A permutation's indices are in range: no clamping or masking in the gather.
            take = lambda idx: (x.at[idx].get(mode="promise_in_bounds"),  # noqa: E731
                                t.at[idx].get(mode="promise_in_bounds"))
            if full.shape[0]:
                carry, ys = jax.lax.scan(lambda c, idx: update(c, take(idx), B), carry, full)
                losses.append(ys)
            if last is not None:
                idx, mask, rem = last
                carry, ys = update(carry, (*take(idx), mask.astype(dtype)), rem)
                losses.append(None if ys is None else ys[None])
        params, opt_state, s, loss_sum, hits = carry
        metrics = _reported(spec, n, loss_sum, hits, s, dtype)
        if spec.step_losses:
            metrics["step_losses"] = jnp.concatenate(losses)
        if val is not None:
            v = _evaluate(spec.net, spec.loss, params, val[0], val[1], spec.eval_batch_size)
            metrics["val_loss"] = v["loss"]
            if spec.accuracy:
                metrics["val_accuracy"] = v["accuracy"]
        return TrainState(params, opt_state, s, state.epoch + 1, state.key), metrics

    return epoch


def make_epochs(epoch: Callable, max_epochs: int) -> Callable:
    """``(state, x, t, val, n) -> (state, metrics)``: ``n ≤ max_epochs`` epochs in one
    program (n is traced, so any n reuses it); each metric is stacked to ``(max_epochs,)``
    with the first n entries filled, plus "params_finite" of the final parameters and
    "finite", whether those and the n epochs' losses all are (one flag for the host)."""

    def epochs(state, x, t, val, n):
        shapes = jax.eval_shape(epoch, state, x, t, val)[1]
        stacked = {k: jnp.zeros((max_epochs,) + v.shape, v.dtype) for k, v in shapes.items()}

        def body(i, carry):
            state, stacked, finite = carry
            state, m = epoch(state, x, t, val)
            stacked = {k: jax.lax.dynamic_update_index_in_dim(stacked[k], m[k], i, 0) for k in stacked}
            return state, stacked, finite & jnp.isfinite(m["loss"])

        state, stacked, losses_finite = jax.lax.fori_loop(0, n, body, (state, stacked, jnp.array(True)))
        params_finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(state.params)]))
        return state, {**stacked, "params_finite": params_finite, "finite": params_finite & losses_finite}

    return epochs


@functools.lru_cache(maxsize=64)
def epochs_program(spec: EpochSpec, max_epochs: int, *, fresh: bool = False) -> Callable:
    """``make_epochs`` of the epoch ``spec`` describes, compiled once per (spec,
    max_epochs). ``fresh``: the program takes ``(params, key, x, t, val, n)`` and makes
    the new run's TrainState itself (what ``init_state`` would), saving a call."""
    run = make_epochs(_epoch(spec), max_epochs)
    if not fresh:
        return jax.jit(run)

    def epochs(params, key, x, t, val, n):
        return run(_fresh(spec.optimizer, params, key), x, t, val, n)

    return jax.jit(epochs)

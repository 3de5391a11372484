"""The compiled epochs: an epoch scans ``fnnet.training.step``'s update over shuffled minibatches
(the last one padded and masked), then validates; ``make_epochs`` runs many in one
program, and ``epochs_program`` compiles that once per ``EpochSpec``."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from fnnet.model import loss_calls, losses as losses_
from fnnet.model.network import Network
from fnnet.training import layout as layout_, parallel
from fnnet.training.evaluation import evaluate_arrays
from fnnet.training.state import TrainState, fresh_state, typed_key
from fnnet.training.step import make_step


@dataclass(frozen=True)
class EpochSpec:
    """What one compiled epoch does; hashable, so it is the compiled programs' cache key.
    ``learning_rate`` (a number or the optimizer's schedule) is only reported;
    ``step_losses`` keeps every update's loss (the divergence replay needs them);
    ``sharding`` (``fnnet.parallel.batch_sharding``) splits each minibatch across a mesh;
    ``coefficients``: ``(optimizer, learning_rate)`` lifted (``fnnet.training.coefficients``),
    in place of those two fields, whose floats the compiled program takes as arguments."""

    net: Network
    loss: Any
    optimizer: optax.GradientTransformation
    batch_size: int
    grad: str = "autodiff"
    accuracy: bool = True
    eval_batch_size: int = 1024
    learning_rate: Any = None
    step_losses: bool = False
    sharding: Any = None
    coefficients: Any = None

    def resolved(self, values) -> "EpochSpec":
        """The spec with its optimizer and learning rate rebuilt from ``values`` (traced in
        a program), when they were lifted."""
        if self.coefficients is None:
            return self
        optimizer, learning_rate = self.coefficients.rebuild(values)
        return dataclasses.replace(self, optimizer=optimizer, learning_rate=learning_rate, coefficients=None)


def _minibatches(key, epoch, n: int, batch_size: int, pad: bool = True):
    """The epoch's order: ``(rows, mask, rest)``. rows (count, B) holds the indices of a
    shuffled permutation, a minibatch per row. With ``pad``, a partial last batch is the
    last row, padded with examples from the start, and mask (count, B) is 0 there and 1
    elsewhere (one shape and one update for every batch); without, rows are the whole
    batches and rest the last rem indices (or None). mask is None when B divides n."""
    full, rem = divmod(n, batch_size)
    perm = jax.random.permutation(jax.random.fold_in(jax.random.fold_in(key, 0), epoch), n)
    rows = perm[: full * batch_size].reshape(full, batch_size)
    if rem and pad:
        last = jnp.concatenate([perm[full * batch_size:], perm[: batch_size - rem]])
        rows = jnp.concatenate([rows, last[None]])
        return rows, (jnp.arange((full + 1) * batch_size) < n).reshape(full + 1, batch_size), None
    return rows, None, (perm[full * batch_size:] if rem else None)


def _reported(spec: EpochSpec, total_weight, loss_sum, hits, steps_done, dtype) -> dict:
    """The epoch's loss (in the loss's reduction), accuracy and last learning rate."""
    metrics = {"loss": loss_sum if loss_calls.reduction(spec.loss) == "sum" else loss_sum / total_weight}
    if spec.accuracy:
        metrics["accuracy"] = hits / total_weight
    if spec.learning_rate is not None:
        schedule = spec.learning_rate
        with jax.numpy_dtype_promotion("standard"):  # optax schedules mix float and int32
            lr = schedule(steps_done - 1) if callable(schedule) else schedule
        metrics["learning_rate"] = jnp.asarray(lr, dtype)
    return metrics


def make_epoch(net: Network, loss, optimizer: optax.GradientTransformation, *, batch_size: int,
               grad: str = "autodiff", accuracy: bool = True, eval_batch_size: int = 1024,
               learning_rate=None, step_losses: bool = False, sharding=None) -> Callable:
    """The pure epoch ``(state, x, t, val=None, w=None) -> (state, metrics)``: shuffle, one
    update per minibatch under ``lax.scan`` (the last partial batch padded and masked, so
    each example counts once; unpadded for a loss that takes no weights), then the
    validation pass when ``val = (x_val, t_val)`` is given. ``w`` (n,): per-example
    weights, passed to the loss with each batch.

    Metrics: "loss" (and "accuracy") running over the epoch's minibatches in training mode
    (weighted by w), "val_loss"/"val_accuracy", "learning_rate" when given, and with
    ``step_losses`` the loss of every update. ``sharding``
    (``fnnet.parallel.batch_sharding``): each minibatch split across a mesh's batch axis.
    """
    return _epoch(EpochSpec(net, losses_.get(loss), optimizer, batch_size, grad, accuracy, eval_batch_size,
                            learning_rate, step_losses, sharding))


def _epoch(spec: EpochSpec) -> Callable:
    B = spec.batch_size
    mean = loss_calls.reduction(spec.loss) == "mean"
    pad = loss_calls.accepts_weights(spec.loss)

    def epoch(state: TrainState, x, t, val=None, w=None, *, layout: frozenset = frozenset()):
        # layout (fnnet.training.layout): the state's weights of these shapes are transposed.
        step = make_step(spec.net, spec.loss, spec.optimizer, grad=spec.grad, accuracy=spec.accuracy,
                         layout=layout)
        n = x.shape[0]
        dtype = spec.net.param_dtype(state.params)
        # The epoch's sums and counts in float32 or wider, whatever the parameters' dtype.
        acc = losses_.accumulation_dtype(dtype)
        key = typed_key(state.key)  # the state holds its raw data
        drop_key = jax.random.fold_in(key, 1)

        def update(carry, batch):
            """One minibatch; the epoch's sums grow by its share (its examples' weight)."""
            params, opt_state, s, loss_sum, hits = carry
            params, opt_state, m = step(params, opt_state, batch, jax.random.fold_in(drop_key, s))
            share = jnp.asarray(batch[0].shape[0], acc) if len(batch) == 2 else jnp.sum(batch[2].astype(acc))
            # The batch's loss is a mean over its examples or their sum: back to a sum.
            value = m["loss"].astype(acc)
            loss_sum = loss_sum + (value * share if mean else value)
            hits = hits + m["accuracy"].astype(acc) * share if spec.accuracy else hits
            return (params, opt_state, s + 1, loss_sum, hits), (m["loss"] if spec.step_losses else None)

        def take(idx, mask=None):
            # A permutation's indices are in range: no clamping or masking in the gather.
            arrays = (x, t) + (() if w is None else (w,))
            if spec.sharding is None:
                batch = [a.at[idx].get(mode="promise_in_bounds") for a in arrays]
            else:  # each device gathers its B/N rows
                batch = [parallel.gather(a, idx, spec.sharding) for a in arrays]
                mask = None if mask is None else parallel.shard(mask, spec.sharding)
            if mask is not None:
                batch = batch[:2] + [mask.astype(dtype) * (batch[2] if w is not None else 1)]
            return tuple(batch)

        carry = (state.params, state.opt_state, state.step, jnp.zeros((), acc), jnp.zeros((), acc))
        losses = []
        if n == B:
            # One batch of everything: its order does not change the update, so no shuffle.
            everything = (x, t) if w is None else (x, t, w)
            if spec.sharding is not None:
                everything = tuple(parallel.shard(a, spec.sharding) for a in everything)
            carry, ys = update(carry, everything)
            losses.append(None if ys is None else ys[None])
        else:
            rows, mask, rest = _minibatches(key, state.epoch, n, B, pad)
            if rows.shape[0]:
                # The padded last batch is a row of the scan, not an update of its own after
                # it: the program holds one copy of the update (a third less compile time).
                body = ((lambda c, idx: update(c, take(idx))) if mask is None else
                        (lambda c, row: update(c, take(*row))))
                carry, ys = jax.lax.scan(body, carry, rows if mask is None else (rows, mask))
                losses.append(ys)
            if rest is not None:
                carry, ys = update(carry, take(rest))
                losses.append(None if ys is None else ys[None])
        params, opt_state, s, loss_sum, hits = carry
        total_weight = jnp.asarray(n, acc) if w is None else jnp.sum(w.astype(acc))
        metrics = _reported(spec, total_weight, loss_sum, hits, s, acc)
        if spec.step_losses:
            metrics["step_losses"] = jnp.concatenate(losses)
        if val is not None:
            v = evaluate_arrays(spec.net, spec.loss, layout_.to_outer(params, layout), val[0], val[1],
                                spec.eval_batch_size, sharding=spec.sharding)
            metrics["val_loss"] = v["loss"]
            if spec.accuracy:
                metrics["val_accuracy"] = v["accuracy"]
        return TrainState(params, opt_state, s, state.epoch + 1, state.key), metrics

    return epoch


def make_epochs(epoch: Callable, max_epochs: int, *, layout: Callable | None = None) -> Callable:
    """``(state, x, t, val, n, w=None) -> (state, metrics)``: ``n ≤ max_epochs`` epochs in one
    program (n is traced, so any n reuses it); each metric is stacked to ``(max_epochs,)``
    with the first n entries filled (the rest 0), plus "params_finite" of the final
    parameters and "finite", whether those and the n epochs' losses all are (one flag for
    the host). ``layout``: ``layout(state) -> shapes`` (``fnnet.training.layout.plan``):
    weights of those shapes run transposed from entry to exit, and ``epoch`` is called
    with ``layout=shapes``."""

    def epochs(state, x, t, val, n, w=None):
        transposed = layout(state) if layout is not None else frozenset()
        state = layout_.to_inner(state, transposed)
        one = functools.partial(epoch, layout=transposed) if transposed else epoch
        shapes = jax.eval_shape(one, state, x, t, val, w)[1]
        stacked = {k: jnp.zeros((max_epochs,) + v.shape, v.dtype) for k, v in shapes.items()}

        def body(i, carry):
            state, stacked = carry
            state, m = one(state, x, t, val, w)
            # i >= 0: no wrapping of negative indices (three more ops per epoch, 1-2% of a
            # tiny net's update; lax.scan's own stacking leaves them out too).
            return state, {k: jax.lax.dynamic_update_index_in_dim(stacked[k], m[k], i, 0,
                                                                  allow_negative_indices=False)
                           for k in stacked}

        state, stacked = jax.lax.fori_loop(0, n, body, (state, stacked))
        state = layout_.to_outer(state, transposed)
        params_finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(state.params)]))
        return state, {**stacked, "params_finite": params_finite,
                       "finite": params_finite & _leading_finite(stacked["loss"], n)}

    return epochs


#: Entries of the loss column checked per step of ``_leading_finite``.
_ROW = 128


def _leading_finite(column, n):
    """Whether ``column[:n]`` (the epochs run) is all finite, given that the entries after
    it are 0 (epochs not run); checked one row of ``_ROW`` entries at a time.

    Why rows on the CPU: XLA's CPU client runs a program of under 1,000 FLOPs (by its
    cost analysis, which counts a loop's body once) on the calling thread and anything
    more asynchronously, about 50 µs more per call, a tenth of the worked example's
    10,000 updates; one reduction over the column would count its every entry. Checking
    each loss inside the epoch loop costs 2% of a tiny net's update, reading the column on
    the host as much. On an accelerator each row would be a kernel: one reduction there."""

    def whole(column, n):
        return jnp.all(jnp.isfinite(column))

    def by_rows(column, n):
        def row(i, finite):  # the last row may overlap the one before: a slice stays in bounds
            entries = jax.lax.dynamic_slice_in_dim(column, i * _ROW, _ROW, allow_negative_indices=False)
            return finite & jnp.all(jnp.isfinite(entries))

        n = jnp.asarray(n)
        rows = jax.lax.div(n + (_ROW - 1), jnp.asarray(_ROW, n.dtype))  # n >= 0: no floor fix-up
        return jax.lax.fori_loop(0, rows, row, jnp.array(True))

    if column.shape[0] <= _ROW:
        return whole(column, n)
    return jax.lax.platform_dependent(column, n, cpu=by_rows, default=whole)


def _layout(spec: EpochSpec, optimizer, values) -> Callable | None:
    """``make_epochs``' layout for ``spec`` and its ``optimizer`` (``fnnet.training.layout``);
    None for a mesh's sharded weights."""
    if spec.sharding is not None:
        return None

    def update(values, g, s, p):
        with jax.numpy_dtype_promotion("standard"):
            return spec.resolved(values).optimizer.update(g, s, p, **layout_.extra_args(optimizer, g))

    return lambda state: layout_.plan(update, state.params, state, values)


@functools.lru_cache(maxsize=64)
def epochs_program(spec: EpochSpec, max_epochs: int, *, fresh: bool = False) -> Callable:
    """``make_epochs`` of ``spec``'s epoch compiled once per (spec, max_epochs): ``(values,
    state, x, t, val, n, w) -> (params, opt_state, metrics)``, ``values`` the lifted
    coefficients' (``()`` without); only what changed comes back (each output costs
    dispatch time), "params_finite" only with ``spec.step_losses``. ``fresh``: it takes
    ``(values, params, key, x, t, val, n, w)`` and makes the new run's state itself."""

    def epochs(values, state, x, t, val, n, w=None):
        resolved = spec.resolved(values)
        state, metrics = make_epochs(_epoch(resolved), max_epochs, layout=_layout(spec, resolved.optimizer, values))(
            state, x, t, val, n, w)
        if not spec.step_losses:
            del metrics["params_finite"]
        return state.params, state.opt_state, metrics

    def fresh_epochs(values, params, key, x, t, val, n, w=None):
        return epochs(values, fresh_state(spec.resolved(values).optimizer, params, key), x, t, val, n, w)

    program = jax.jit(fresh_epochs if fresh else epochs)
    return program if spec.sharding is None else parallel.under_mesh(program, spec.sharding)

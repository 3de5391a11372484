"""Evaluation in inference mode: a data set's loss (in the loss's reduction) and accuracy,
a chunk of examples at a time, optionally weighted per example and split across a mesh."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.model import loss_calls, losses as losses_
from fnnet.model.network import Network
from fnnet.training import device_data, parallel


def evaluate_arrays(net: Network, loss, params, x, t, chunk: int, *, w=None, sharding=None) -> dict:
    """Traceable ``evaluate``: ``{"loss", "accuracy"}`` in inference mode over x (n,
    *in_shape) and t, ``chunk`` examples at a time (the last chunk padded and masked). ``w`` (n,):
    per-example weights, so ``L = Σ_n w_n C^n`` ("sum") or ``Σ_n w_n C^n / Σ_n w_n``
    ("mean") and accuracy ``Σ_n w_n hit_n / Σ_n w_n``. A loss that is not an fnnet
    ``Loss`` (no per-example values to add up) sees all of x at once. ``sharding``
    (``fnnet.parallel.batch_sharding``): x and t replicated on its mesh, each chunk's
    examples split across its batch axis (chunk rounded up to the device count)."""
    n = x.shape[0]
    if not isinstance(loss, losses_.Loss):
        y = net.apply(params, x)
        acc = losses_.accumulation_dtype(y.dtype)
        return {"loss": loss_calls.value(loss, y, t, w).astype(acc), "accuracy": losses_.accuracy(y, t, w)}
    chunk = min(chunk, n)
    if sharding is not None:
        chunk = -(-chunk // parallel.devices_along(sharding)) * parallel.devices_along(sharding)
    count = -(-n // chunk)
    pad = count * chunk - n
    acc = losses_.accumulation_dtype(x.dtype)  # sums and counts in float32 or wider
    weights = jnp.ones((n,), acc) if w is None else w.astype(acc)
    ws = jnp.concatenate([weights, jnp.zeros((pad,), acc)]).reshape(count, chunk)
    xs = jnp.pad(x, ((0, pad),) + ((0, 0),) * (x.ndim - 1)).reshape((count, chunk) + x.shape[1:])
    ts = jnp.pad(t, ((0, pad),) + ((0, 0),) * (t.ndim - 1)).reshape((count, chunk) + t.shape[1:])
    if sharding is not None:
        xs, ts, ws = (parallel.shard(a, sharding, 1) for a in (xs, ts, ws))

    def one(batch):
        xb, tb, wb = batch
        y = net.apply(params, xb)
        c = _example_losses(loss, y, tb)
        return jnp.sum(c * wb), losses_.accuracy(y, tb, wb).astype(acc) * jnp.sum(wb)

    total, hits = jax.lax.map(one, (xs, ts, ws))
    total, total_weight = jnp.sum(total), (jnp.asarray(n, acc) if w is None else jnp.sum(weights))
    return {"loss": total if loss.reduction == "sum" else total / total_weight,
            "accuracy": jnp.sum(hits) / total_weight}


def _example_losses(loss, y, t):
    """Each example's loss (n,), in float32 or wider whatever y's dtype: an output with
    positions sums or averages them, as the loss does."""
    c = loss.per_example(y, losses_.targets_like(y, t)).astype(losses_.accumulation_dtype(y.dtype))
    if c.ndim > 1:
        c = c.reshape(c.shape[0], -1)
        c = jnp.sum(c, axis=1) if loss.reduction == "sum" else jnp.mean(c, axis=1)
    return c


@functools.lru_cache(maxsize=64)
def _evaluate_program(net, loss, chunk, sharding=None):
    program = jax.jit(lambda params, x, t, w: evaluate_arrays(net, loss, params, x, t, chunk, w=w,
                                                              sharding=sharding))
    return program if sharding is None else parallel.under_mesh(program, sharding)


def evaluate(net: Network, loss, params, data, *, batch_size: int = 1024, mesh=None) -> dict:
    """``{"loss", "accuracy"}`` of ``data`` in inference mode, as floats: data is ``(x, t)``
    or ``(x, t, w)`` as for ``fit`` (x (n, *in_shape), t (n,) labels or (n, out) targets, w (n,)
    per-example weights >= 0); loss in the loss's reduction, ``L = Σ_n w_n C^n`` or its
    weighted mean, accuracy ``Σ_n w_n hit_n / Σ_n w_n`` (w = 1 without weights). Runs
    ``batch_size`` examples at a time; with ``mesh`` (a Mesh or
    ``parallel.batch_sharding``) each chunk is split across its batch axis, the chunk
    rounded up to a multiple of the device count."""
    device_data.refuse_traced("evaluate", "net.apply with fnnet.losses", params, data)
    loss = losses_.get(loss)
    batch_size = device_data.as_count(batch_size)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be an int >= 1, got {batch_size!r}")
    x, t, w = device_data.unpack(data, loss)
    dtype = net.param_dtype(params)
    x, t = device_data.to_device(x, t, net.in_shape, net.out_shape, dtype, "data")
    w = None if w is None else device_data.example_weights(w, x.shape[0], dtype, "data")
    sharding = None if mesh is None else parallel.auto_axes(parallel.batch_sharding(mesh))
    if sharding is not None:
        params, x, t, w = parallel.replicate(sharding, (params, x, t, w))
    metrics = _evaluate_program(net, loss, batch_size, sharding)(params, x, t, w)
    return {k: float(v) for k, v in metrics.items()}


def evaluate_sets(net: Network, loss, params, sets: dict, *, batch_size: int = 1024) -> dict:
    """``{name: evaluate(net, loss, params, data)}`` for several data sets (a run's train,
    validation and test splits) in one compiled program, whatever their sizes: host
    arrays ``(x, t)`` are joined and each example's loss and hit added to its own set's
    sums, so the program depends on the total only. Sets given otherwise (device arrays,
    per-example weights, a loss without per-example values) are evaluated one by one."""
    loss = losses_.get(loss)
    names = [k for k, v in sets.items() if v is not None]
    parts = [sets[k] for k in names]
    joinable = isinstance(loss, losses_.Loss) and len(parts) > 1 and all(
        isinstance(p, (tuple, list)) and len(p) == 2 and not any(isinstance(a, jax.Array) for a in p)
        for p in parts)
    if joinable:
        shapes = {(np.shape(p[0])[1:], np.shape(p[1])[1:], np.asarray(p[1]).dtype.kind) for p in parts}
        joinable = len(shapes) == 1 and all(np.ndim(p[0]) >= 1 and len(p[0]) for p in parts)
    if not joinable:
        return {k: evaluate(net, loss, params, sets[k], batch_size=batch_size) for k in names}
    batch_size = device_data.as_count(batch_size)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be an int >= 1, got {batch_size!r}")
    sizes = [len(p[0]) for p in parts]
    x, t = np.concatenate([np.asarray(p[0]) for p in parts]), np.concatenate([np.asarray(p[1]) for p in parts])
    x, t = device_data.to_device(x, t, net.in_shape, net.out_shape, net.param_dtype(params), "data")
    which = jnp.asarray(np.repeat(np.arange(len(parts), dtype=np.int32), sizes))
    totals, hits = _sets_program(net, loss, batch_size, len(parts))(params, x, t, which)
    totals, hits = np.asarray(totals), np.asarray(hits)
    return {k: {"loss": float(totals[i] if loss.reduction == "sum" else totals[i] / sizes[i]),
                "accuracy": float(hits[i] / sizes[i])} for i, k in enumerate(names)}


@functools.lru_cache(maxsize=32)
def _sets_program(net, loss, chunk, k):
    """``(params, x, t, which) -> (loss sums (k,), hits (k,))``: set ``which[n]``'s sums,
    ``chunk`` examples at a time (the last chunk padded with examples of no set)."""

    def run(params, x, t, which):
        n = x.shape[0]
        size = min(chunk, n)
        count = -(-n // size)
        pad = count * size - n
        xs = jnp.pad(x, ((0, pad),) + ((0, 0),) * (x.ndim - 1)).reshape((count, size) + x.shape[1:])
        ts = jnp.pad(t, ((0, pad),) + ((0, 0),) * (t.ndim - 1)).reshape((count, size) + t.shape[1:])
        ws = jnp.pad(which, (0, pad), constant_values=k).reshape(count, size)

        def one(batch):
            xb, tb, wb = batch
            y = net.apply(params, xb)
            c = _example_losses(loss, y, tb)
            member = (wb[:, None] == jnp.arange(k)[None, :]).astype(c.dtype)  # (size, k): the example's set
            counts = jnp.sum(member, axis=0)
            hits = jnp.stack([jnp.where(counts[j] > 0, losses_.accuracy(y, tb, member[:, j]), 0.0) * counts[j]
                              for j in range(k)])
            return jnp.sum(c[:, None] * member, axis=0), hits.astype(c.dtype)

        totals, hits = jax.lax.map(one, (xs, ts, ws))
        return jnp.sum(totals, axis=0), jnp.sum(hits, axis=0)

    return jax.jit(run)

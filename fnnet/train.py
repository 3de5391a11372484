"""Training: a jitted step, epochs as one compiled ``lax.scan``, and ``fit``.

Keys: the base key of a run is never consumed. Epoch e shuffles with
``fold_in(fold_in(key, 0), e)`` and update s draws its dropout masks from
``fold_in(fold_in(key, 1), s)``, so no key is used twice and a resumed run draws
exactly what an uninterrupted one would.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet import backprop, data as data_, losses as losses_
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


@functools.lru_cache(maxsize=64)
def _init_program(optimizer):
    # One compiled call instead of one dispatch per zeros_like of the optimizer state.
    return jax.jit(lambda params, key: TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32),
                                                  jnp.zeros((), jnp.int32), key))


def _check_grad(grad):
    if grad not in GRADS:
        raise ValueError(f"grad: expected one of {list(GRADS)}, got {grad!r}")


def value_and_grad(net: Network, loss, grad: str = "autodiff") -> Callable:
    """``(params, x, t, weights, key) -> ((L, y), ∂L/∂params)`` in training mode, from
    ``jax.grad`` ("autodiff") or the hand-written pass ("backprop")."""
    _check_grad(grad)
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
    x, t = data_.to_device(x, t, net.in_features, net.out_features, net.param_dtype(params), "data")
    metrics = _evaluate_program(net, loss, batch_size)(params, x, t)
    return {k: float(v) for k, v in metrics.items()}


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
    loss = losses_.get(loss)
    step = make_step(net, loss, optimizer, grad=grad, accuracy=accuracy)
    B = batch_size

    def epoch(state: TrainState, x, t, val=None):
        n = x.shape[0]
        full, rem = divmod(n, B)
        dtype = net.param_dtype(state.params)
        drop_key = jax.random.fold_in(state.key, 1)
        # ∂L/∂C^n per example of a batch: the epoch's loss is the sum or the mean over examples.
        per_batch = (lambda v, k: v * k) if loss.reduction == "mean" else (lambda v, k: v)

        def update(carry, batch, count):
            params, opt_state, s, loss_sum, hits = carry
            params, opt_state, m = step(params, opt_state, batch, jax.random.fold_in(drop_key, s))
            hits = hits + m["accuracy"] * count if accuracy else hits
            carry = (params, opt_state, s + 1, loss_sum + per_batch(m["loss"], count), hits)
            return carry, (m["loss"] if step_losses else None)

        carry = (state.params, state.opt_state, state.step, jnp.zeros((), dtype), jnp.zeros((), dtype))
        per_step = []
        if full == 1 and rem == 0:
            # One batch of everything: its order does not change the update, so no shuffle.
            carry, ys = update(carry, (x, t), B)
            per_step.append(None if ys is None else ys[None])
        else:
            shuffle_key = jax.random.fold_in(jax.random.fold_in(state.key, 0), state.epoch)
            perm = jax.random.permutation(shuffle_key, n)
            # A permutation's indices are in range: no clamping or masking in the gather.
            take = lambda idx: (x.at[idx].get(mode="promise_in_bounds"),  # noqa: E731
                                t.at[idx].get(mode="promise_in_bounds"))
            if full:
                carry, ys = jax.lax.scan(lambda c, idx: update(c, take(idx), B), carry,
                                         perm[: full * B].reshape(full, B))
                per_step.append(ys)
            if rem:
                idx = jnp.concatenate([perm[full * B:], perm[: B - rem]])
                w = jnp.concatenate([jnp.ones((rem,), dtype), jnp.zeros((B - rem,), dtype)])
                carry, ys = update(carry, (*take(idx), w), rem)
                per_step.append(None if ys is None else ys[None])
        params, opt_state, s, loss_sum, hits = carry
        metrics = {"loss": loss_sum if loss.reduction == "sum" else loss_sum / n}
        if accuracy:
            metrics["accuracy"] = hits / n
        if step_losses:
            metrics["step_losses"] = jnp.concatenate(per_step)
        if learning_rate is not None:
            with jax.numpy_dtype_promotion("standard"):  # optax schedules mix float and int32
                lr = learning_rate(s - 1) if callable(learning_rate) else learning_rate
            metrics["learning_rate"] = jnp.asarray(lr, dtype)
        if val is not None:
            v = _evaluate(net, loss, params, val[0], val[1], eval_batch_size)
            metrics["val_loss"] = v["loss"]
            if accuracy:
                metrics["val_accuracy"] = v["accuracy"]
        return TrainState(params, opt_state, s, state.epoch + 1, state.key), metrics

    return epoch


def make_epochs(epoch: Callable, max_epochs: int) -> Callable:
    """``(state, x, t, val, n) -> (state, metrics)``: ``n ≤ max_epochs`` epochs in one
    program (n is traced, so any n reuses it); each metric is stacked to ``(max_epochs,)``
    with the first n entries filled, plus "params_finite" of the final parameters."""

    def epochs(state, x, t, val, n):
        shapes = jax.eval_shape(epoch, state, x, t, val)[1]
        stacked = {k: jnp.zeros((max_epochs,) + v.shape, v.dtype) for k, v in shapes.items()}

        def body(i, carry):
            state, stacked = carry
            state, m = epoch(state, x, t, val)
            return state, {k: jax.lax.dynamic_update_index_in_dim(stacked[k], m[k], i, 0) for k in stacked}

        state, stacked = jax.lax.fori_loop(0, n, body, (state, stacked))
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(state.params)]))
        return state, {**stacked, "params_finite": finite}

    return epochs


@functools.lru_cache(maxsize=64)
def _epochs_program(net, loss, optimizer, batch_size, grad, accuracy, eval_batch_size,
                    learning_rate, max_epochs, step_losses=False):
    epoch = make_epoch(net, loss, optimizer, batch_size=batch_size, grad=grad, accuracy=accuracy,
                       eval_batch_size=eval_batch_size, learning_rate=learning_rate,
                       step_losses=step_losses)
    return jax.jit(make_epochs(epoch, max_epochs))


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; ``restore_best`` returns the parameters of the best epoch. ``mode`` "auto"
    maximises accuracies and minimises everything else."""

    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    mode: str = "auto"
    restore_best: bool = True

    def __post_init__(self):
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {self.mode!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {self.patience!r}")
        if not (isinstance(self.min_delta, (int, float)) and math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"EarlyStopping: min_delta must be a finite number >= 0, got {self.min_delta!r}")

    def sign(self) -> float:
        mode = self.mode if self.mode != "auto" else ("max" if "accuracy" in self.monitor else "min")
        return 1.0 if mode == "min" else -1.0

    def improves(self, record: dict, best: float | None) -> bool:
        """Whether ``record``'s monitored value beats ``best`` (a value of an earlier record,
        or None) by more than ``min_delta``."""
        if self.monitor not in record:
            raise ValueError(f"early stopping monitors {self.monitor!r}, which is not among the "
                             f"metrics {sorted(record)}")
        if best is None:
            return True
        return self.sign() * (record[self.monitor] - best) < -self.min_delta

    def start(self, params) -> StoppingState:
        """The progress before the first epoch."""
        return StoppingState(np.asarray(np.nan), np.asarray(0, np.int64), np.asarray(0, np.int64), params)

    def update(self, stopping: StoppingState, record: dict, params) -> StoppingState:
        """The progress after an epoch with metrics ``record`` that ended with ``params``."""
        best = None if int(stopping.best_epoch) == 0 else float(stopping.best)
        if self.improves(record, best):
            return StoppingState(np.asarray(float(record[self.monitor])),
                                 np.asarray(record["epoch"], np.int64), np.asarray(0, np.int64), params)
        return stopping._replace(wait=np.asarray(int(stopping.wait) + 1, np.int64))

    def should_stop(self, stopping: StoppingState) -> bool:
        """Whether ``patience`` epochs have passed without an improvement."""
        wait = int(stopping.wait)
        return wait > 0 and wait >= self.patience


class History(Sequence):
    """Per-epoch metrics: a read-only sequence of plain dicts (``history[-1]["loss"]``), kept
    as columns so that thousands of short epochs cost nothing until they are read;
    ``column("loss")`` gives one metric as a list."""

    def __init__(self, records=()):
        self._chunks: list[tuple[dict, int]] = []  # (columns, count)
        self._rows: list[dict] = []  # the first chunks, turned into dicts when read
        self._done = 0  # chunks already in _rows
        if records:
            self._append({k: [r[k] for r in records] for k in records[0]}, len(records))

    def _append(self, columns: dict, count: int) -> None:
        if count:
            self._chunks.append((columns, count))

    def _materialize(self) -> list[dict]:
        for columns, count in self._chunks[self._done:]:
            lists = {k: np.asarray(v)[:count].tolist() for k, v in columns.items()}
            self._rows += [dict(zip(lists, values)) for values in zip(*lists.values())]
        self._done = len(self._chunks)
        return self._rows

    def column(self, name: str) -> list:
        return [v for columns, count in self._chunks for v in np.asarray(columns[name])[:count].tolist()]

    def __len__(self) -> int:
        return sum(count for _, count in self._chunks)

    def __getitem__(self, i):
        return self._materialize()[i]

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (History, list)) else NotImplemented

    def __add__(self, other) -> list:
        return list(self) + list(other)

    def __repr__(self) -> str:
        return f"History({self._materialize()!r})"

    __hash__ = None  # mutable, compared by value


class FitResult(NamedTuple):
    params: Any  # the best epoch's parameters under early stopping, else the last
    state: TrainState  # the state after the last epoch run (resume from here)
    history: History  # one dict per epoch
    best_epoch: int | None
    stopped_early: bool


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or parameters. ``state`` holds the last finite
    epoch's TrainState (its ``params`` are ``params``); ``history`` the epochs before."""

    def __init__(self, message, *, epoch, step, state, history):
        super().__init__(message)
        self.epoch, self.step, self.state, self.history = epoch, step, state, history
        self.params = state.params


#: fit runs this many updates per device call at least (many epochs at once when epochs
#: are short), unless it needs the host after every epoch (early stopping, a callback).
UPDATES_PER_CALL = 65536


def _key_seed(key) -> list[int]:
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.asarray(data).astype(np.uint32).ravel().tolist()


def fit(net: Network, loss, optimizer: optax.GradientTransformation, params, data, *, key=None,
        epochs: int = 10, batch_size: int = 32, validation_data=None, validation_split: float = 0.0,
        grad: str = "autodiff", early_stopping: EarlyStopping | None = None,
        callback: Callable | None = None, learning_rate=None, accuracy: bool | None = None,
        eval_batch_size: int = 1024) -> FitResult:
    """Train for ``epochs`` epochs on ``data = (x, t)``; x (n, in), t labels (n,) or targets
    (n, out). ``params`` is a parameter tree (a new run; ``key`` required) or a TrainState
    (resume it, early stopping's progress included: a run split in two is bitwise the
    run done at once). The epochs run as one compiled program, compiled once per fit.

    History: one dict per epoch with "epoch", "step", "loss" and "accuracy" (running over
    the epoch's minibatches, training mode), "val_loss" and "val_accuracy" (inference mode,
    after the epoch), and "learning_rate" when ``learning_rate`` (a number or the optax
    schedule the optimizer uses) is given. Accuracy is reported for labels and one-hot
    targets unless ``accuracy`` says otherwise. ``callback(record, state)`` runs after
    each epoch; returning True stops training. A non-finite loss raises DivergenceError.
    """
    loss = losses_.get(loss)
    _check_grad(grad)
    if isinstance(params, TrainState):
        state = params
        net.check_params(state.params)
    else:
        if key is None:
            raise ValueError("fit: a new run needs key= (e.g. jax.random.key(0)); "
                             "pass a TrainState to resume one")
        net.check_params(params)
        state = init_state(params, optimizer, key)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    dtype = net.param_dtype(state.params)
    x, t = data
    if validation_split:
        if validation_data is not None:
            raise ValueError("pass validation_data or validation_split, not both")
        (x, t), validation_data, _ = data_.train_val_test_split(
            x, t, val=validation_split, test=0.0, seed=_key_seed(state.key))
    if accuracy is None:
        accuracy = data_.is_classification(t)
    x, t = data_.to_device(x, t, net.in_features, net.out_features, dtype, "data")
    n = x.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int in [1, {n}] (the number of examples), got {batch_size!r}")
    val = None
    if validation_data is not None:
        val = data_.to_device(*validation_data, net.in_features, net.out_features, dtype, "validation_data")
    if early_stopping is not None and early_stopping.monitor.startswith("val_") and val is None:
        raise ValueError(f"early stopping monitors {early_stopping.monitor!r} but there is no "
                         "validation data; pass validation_data or validation_split")
    stopping = state.stopping
    if early_stopping is not None:
        if stopping is None:
            stopping = early_stopping.start(state.params)
        else:
            net.check_params(stopping.params)
    state = state._replace(stopping=None)  # the compiled programs carry only what they update

    per_epoch = early_stopping is not None or callback is not None
    steps = -(-n // batch_size)
    # A power of two at least `epochs`, so that nearby epoch counts share one program.
    chunk = 1 if per_epoch else max(1, min(1 << max(epochs - 1, 0).bit_length(),
                                           -(-UPDATES_PER_CALL // steps)))
    config = (net, loss, optimizer, batch_size, grad, bool(accuracy), int(eval_batch_size), learning_rate)
    program = _epochs_program(*config, chunk)
    history = History()
    # A resumed run that had already stopped stays stopped: no epoch runs.
    stopped = early_stopping is not None and early_stopping.should_stop(stopping)

    # The next call is dispatched before this one's metrics are read, so the host's work
    # overlaps the device's; stopping discards that one speculative call.
    def launch(before, remaining):
        count = min(chunk, remaining)
        return (before, count, *program(before, x, t, val, count)) if count and not stopped else None

    inflight = launch(state, epochs)
    remaining = epochs
    while inflight is not None and not stopped:
        previous, count, after, metrics = inflight
        remaining -= count
        inflight = launch(after, remaining)
        metrics = jax.device_get(metrics)
        first_epoch, first_step = int(previous.epoch), int(previous.step)
        columns = {"epoch": np.arange(first_epoch + 1, first_epoch + count + 1),
                   "step": first_step + steps * np.arange(1, count + 1),
                   **{k: v for k, v in metrics.items() if k != "params_finite"}}
        if not (np.all(np.isfinite(metrics["loss"][:count])) and metrics["params_finite"]):
            error = _diverged(config, previous, count, x, t, val)
            history._append(columns, error.epoch - first_epoch - 1)
            error.history = history
            error.state = error.state._replace(stopping=stopping)
            raise error
        history._append(columns, count)
        record = history[-1] if per_epoch else None
        state = after
        if early_stopping is not None:
            stopping = early_stopping.update(stopping, record, state.params)
            stopped = early_stopping.should_stop(stopping)
        if callback is not None and callback(record, state._replace(stopping=stopping)) is True:
            stopped = True
    state = state._replace(stopping=stopping)
    best_epoch = int(stopping.best_epoch) if stopping is not None and int(stopping.best_epoch) else None
    restore = early_stopping is not None and early_stopping.restore_best and best_epoch is not None
    return FitResult(stopping.params if restore else state.params, state, history, best_epoch, stopped)


def _diverged(config, start: TrainState, count: int, x, t, val) -> DivergenceError:
    """Replay the failed call one epoch at a time (keys make it deterministic) to name the
    first update with a non-finite loss and keep the state before that epoch."""
    replay = _epochs_program(*config, 1, True)
    state = start
    for _ in range(count):
        after, metrics = replay(state, x, t, val, 1)
        losses = np.asarray(metrics["step_losses"][0])
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size or not bool(metrics["params_finite"]):
            epoch = int(state.epoch) + 1
            where = (f"update {int(state.step) + int(bad[0]) + 1} (epoch {epoch}, batch {int(bad[0]) + 1})"
                     if bad.size else f"the end of epoch {epoch}")
            return DivergenceError(
                f"training diverged: the loss or parameters became non-finite at {where}; the "
                f"last finite parameters (after epoch {epoch - 1}) are in this error's .params",
                epoch=epoch, step=int(state.step) + (int(bad[0]) + 1 if bad.size else losses.size),
                state=state, history=History())
        state = after
    return DivergenceError("training diverged, but replaying it one epoch at a time stayed finite",
                           epoch=int(start.epoch) + 1, step=int(start.step), state=start,
                           history=History())

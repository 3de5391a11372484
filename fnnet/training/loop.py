"""The host loop: ``fit`` runs the compiled epochs (``fnnet.training.epochs``), keeps the
history, early stopping and its progress, and names the update where training diverged."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet import data as data_, memory
from fnnet.model import losses as losses_
from fnnet.model.network import Network
from fnnet.training import device_data, fit_plan, parallel
from fnnet.training.epochs import EpochSpec, epochs_program
from fnnet.training.fit_plan import device_int
from fnnet.training.monitor import EarlyStopping, History
from fnnet.training.state import TrainState, host_count, init_state, run_key
from fnnet.training.step import check_grad


_COUNT_MAX = 2**31 - 1  # TrainState's step and epoch are int32


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


def _key_seed(key) -> list[int]:
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.asarray(data).astype(np.uint32).ravel().tolist()


def fit(net: Network, loss, optimizer: optax.GradientTransformation, params, data, *, key=None,
        epochs: int = 10, batch_size: int = 32, validation_data=None, validation_split: float = 0.0,
        grad: str = "autodiff", early_stopping: EarlyStopping | None = None,
        callback: Callable | None = None, learning_rate=None, accuracy: bool | None = None,
        eval_batch_size: int = 1024, mesh=None) -> FitResult:
    """Train for ``epochs`` epochs on ``data = (x, t)``; the epochs run as compiled
    programs (one call when nothing needs the host between epochs), compiled once per fit.

    Args:
        net: the Network.
        loss: a name, an fnnet loss, or any callable ``loss(y, t[, weights])`` returning a
            scalar (``fnnet.losses``' protocol).
        optimizer: an optax GradientTransformation (e.g. from ``fnnet.optim``).
        params: a parameter tree (a new run; needs ``key``) or a TrainState (resume it,
            early stopping's progress included: a run split in two is bitwise the run
            done at once).
        data: ``(x, t)`` or ``(x, t, w)``: x (n, *in_shape) features, t (n,) integer labels or
            (n, out) targets, w (n,) per-example weights (>= 0, passed to the loss, and
            weighting the reported loss and accuracy); NumPy or device arrays (checked).
        key: the run's base key, typed or raw (epoch e shuffles with ``fold_in(fold_in(key,
            0), e)``, update s drops out with ``fold_in(fold_in(key, 1), s)``); the state
            keeps its raw data.
        epochs: how many epochs to run (>= 0).
        batch_size: minibatch size in [1, n]; the last partial batch is padded and masked.
        validation_data: ``(x_val, t_val)`` evaluated after each epoch (inference mode).
        validation_split: instead, a fraction of ``data`` held out (seeded by ``key``).
        grad: "autodiff" (``jax.grad``) or "backprop" (the hand-written pass).
        early_stopping: an EarlyStopping; its best parameters are restored.
        callback: ``callback(record, state)`` after each epoch; True stops training.
        learning_rate: a number or the optimizer's optax schedule, to report it per epoch.
        accuracy: report accuracy (default: for labels and one-hot targets).
        eval_batch_size: examples per chunk of the validation pass.
        mesh: a ``jax.sharding.Mesh`` (or ``fnnet.parallel.batch_sharding(mesh, axis)``):
            every minibatch and validation chunk is split across its "data" axis (or
            ``axis``), batch_size must divide by that axis' size; data, parameters and
            optimizer state are replicated, the compiler reduces the gradients.

    Returns a FitResult: ``params`` (the best epoch's under early stopping, else the
    last), ``state`` (to resume from; a tree of plain arrays, ``fnnet.training.state``,
    that orbax, ``jax.device_put`` and chex take as it is), ``history`` (one dict per
    epoch: "epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy",
    "learning_rate" as they apply), ``best_epoch`` and ``stopped_early``. A non-finite
    loss raises DivergenceError.
    """
    state = params if isinstance(params, TrainState) else None
    device_data.refuse_traced("fit", "make_epochs/make_step/value_and_grad", params if state is None
                              else state.params, data, key)
    loss = losses_.get(loss)
    check_grad(grad)
    if state is None:
        if key is None:
            raise ValueError("fit: a new run needs key= (e.g. jax.random.key(0)); "
                             "pass a TrainState to resume one")
        done = (0, 0)  # epochs and updates
    else:
        params, key, done = state.params, state.key, (int(state.epoch), int(state.step))
        if done[0] < 0 or done[1] < 0:
            raise ValueError(f"params: a TrainState with epoch >= 0 and step >= 0 expected, got epoch {done[0]} "
                             f"and step {done[1]} (a damaged or forged state)")
    key = run_key(key)  # its raw data: the state's key, and one program for either kind
    x, t, w = device_data.unpack(data, loss)
    if validation_split:
        if validation_data is not None:
            raise ValueError("pass validation_data or validation_split, not both")
        seed = _key_seed(key)
        (x, t), validation_data, _ = data_.train_val_test_split(x, t, val=validation_split, test=0.0, seed=seed)
        if w is not None:  # the same seed and n give the same permutation: the rows match
            (w, _), _, _ = data_.train_val_test_split(w, data[1], val=validation_split, test=0.0, seed=seed)
    if learning_rate is not None and not callable(learning_rate):
        learning_rate = float(learning_rate)  # an array's value: the programs' cache key hashes it
    per_epoch = early_stopping is not None or callback is not None
    plan, x, t, w = fit_plan.plan(net, loss, optimizer, params, x, t, w, epochs=epochs, batch_size=batch_size,
                                  grad=grad, accuracy=accuracy, eval_batch_size=eval_batch_size,
                                  learning_rate=learning_rate, per_epoch=per_epoch, new_run=state is None)
    if done[1] + plan.steps * epochs > _COUNT_MAX or done[0] + epochs > _COUNT_MAX:
        left = _COUNT_MAX - done[1]
        raise ValueError(f"epochs: the int32 step counter would pass 2**31 - 1: {epochs} epochs of {plan.steps} "
                         f"updates after step {done[1]} need {plan.steps * epochs}, and {left} updates are left "
                         f"(at most {left // plan.steps} epochs)")
    val = None
    if validation_data is not None:
        val = device_data.to_device(*validation_data, net.in_shape, net.out_shape, plan.dtype,
                                    "validation_data")
    if early_stopping is not None and early_stopping.monitor.startswith("val_") and val is None:
        raise ValueError(f"early stopping monitors {early_stopping.monitor!r} but there is no "
                         "validation data; pass validation_data or validation_split")
    memory.check_training(net, optimizer, plan.dtype, what="fit",
                          shrink="try a smaller network, batch_size or eval_batch_size", examples=int(x.shape[0]),
                          batch_size=batch_size, eval_examples=0 if val is None else int(val[0].shape[0]),
                          eval_batch_size=eval_batch_size, early_stopping=early_stopping is not None)
    stopping = None if state is None else state.stopping
    if early_stopping is not None:
        if stopping is None:
            stopping = early_stopping.start(params)
        else:
            net.check_params(stopping.params)
    spec, program, steps, chunk, fresh, values = (plan.spec, plan.program, plan.steps, plan.chunk, plan.fresh,
                                                  plan.values)
    if state is None and not fresh:
        state = init_state(params, optimizer, key)
    if state is not None:
        state = state._replace(stopping=None, key=key)  # the programs carry only what they update
    if mesh is not None:
        spec, program, (x, t, w, val, params, key, state) = _on_mesh(
            mesh, spec, chunk, fresh, (x, t, w, val, params, key, state))
    if fresh and not per_epoch:
        return _whole_run(spec, program, values, optimizer, params, key, x, t, val, w, epochs, steps)
    history = History()
    # A resumed run that had already stopped stays stopped: no epoch runs.
    stopped = early_stopping is not None and early_stopping.should_stop(stopping)

    # The next call is dispatched before this one's metrics are read, so the host's work
    # overlaps the device's; stopping discards that one speculative call. The host counts
    # epochs and updates, so only parameters, optimizer state and metrics come back.
    def launch(before, done, remaining):
        count = min(chunk, remaining)
        if not count or stopped:
            return None
        args = (params, key) if before is None else (before,)
        new_params, opt_state, metrics = program(values, *args, x, t, val, device_int(count), w)
        after = TrainState(new_params, opt_state, host_count(done[1] + steps * count), host_count(done[0] + count),
                           key)
        return before, count, after, metrics

    inflight = launch(state, done, epochs)
    remaining = epochs
    while inflight is not None and not stopped:
        previous, count, after, metrics = inflight
        remaining -= count
        first_epoch, first_step = done
        done = (first_epoch + count, first_step + steps * count)
        inflight = launch(after, done, remaining)
        columns = _columns(metrics, first_epoch, first_step, count, steps)
        # NumPy's buffer protocol reads a jax.Array at a quarter of bool()'s cost.
        if not np.asarray(metrics["finite"]):
            if previous is None:
                previous = init_state(params, optimizer, key)
            raise _diverged(spec, values, previous, count, x, t, val, w, history, columns, stopping)
        history._append(columns, count)
        record = history[-1] if per_epoch else None
        state = after
        if early_stopping is not None:
            stopping = early_stopping.update(stopping, record, state.params)
            stopped = early_stopping.should_stop(stopping)
        if callback is not None and callback(record, state._replace(stopping=stopping)) is True:
            stopped = True
    if state.stopping is not stopping:
        state = state._replace(stopping=stopping)
    best_epoch = int(stopping.best_epoch) if stopping is not None and int(stopping.best_epoch) else None
    restore = early_stopping is not None and early_stopping.restore_best and best_epoch is not None
    return FitResult(stopping.params if restore else state.params, state, history, best_epoch, stopped)


def _whole_run(spec: EpochSpec, program, values: tuple, optimizer, params, key, x, t, val, w, epochs: int,
               steps: int) -> FitResult:
    """A new run done in one call with no host work between epochs (fit's common case, so
    its fixed cost is one dispatch and reading one flag)."""
    new_params, opt_state, metrics = program(values, params, key, x, t, val, device_int(epochs), w)
    columns, history = _columns(metrics, 0, 0, epochs, steps), History()
    if not np.asarray(metrics["finite"]):
        raise _diverged(spec, values, init_state(params, optimizer, key), epochs, x, t, val, w, history, columns,
                        None)
    history._append(columns, epochs)
    state = TrainState(new_params, opt_state, host_count(steps * epochs), host_count(epochs), key)
    return FitResult(new_params, state, history, None, False)


def _columns(metrics: dict, first_epoch: int, first_step: int, count: int, steps: int) -> dict:
    """A call's history columns; the metrics stay on the device until the history is read."""
    return {"epoch": range(first_epoch + 1, first_epoch + count + 1),
            "step": range(first_step + steps, first_step + steps * count + 1, steps),
            **{k: v for k, v in metrics.items() if k != "finite"}}


def _on_mesh(mesh, spec: EpochSpec, chunk: int, fresh: bool, arrays):
    """The sharded program (``fnnet.parallel``) and ``arrays`` replicated on the mesh."""
    sharding = parallel.auto_axes(parallel.batch_sharding(mesh))
    parallel.check_batch(sharding, spec.batch_size)
    spec = dataclasses.replace(spec, sharding=sharding)
    return spec, epochs_program(spec, chunk, fresh=fresh), parallel.replicate(sharding, arrays)


def _diverged(spec: EpochSpec, values: tuple, start: TrainState, count: int, x, t, val, w, history: History,
              columns: dict, stopping) -> DivergenceError:
    """The DivergenceError of a call that went non-finite, its ``history`` completed with the
    epochs before (of ``columns``, the call's) and early stopping's progress in its state."""
    error = _replay(spec, values, start, count, x, t, val, w)
    history._append(columns, error.epoch - int(start.epoch) - 1)
    error.history = history
    error.state = error.state._replace(stopping=stopping)
    return error


def _replay(spec: EpochSpec, values: tuple, start: TrainState, count: int, x, t, val, w) -> DivergenceError:
    """Replay the failed call one epoch at a time (keys make it deterministic) to name the
    first update with a non-finite loss and keep the state before that epoch."""
    replay = epochs_program(dataclasses.replace(spec, step_losses=True), 1)
    state = start
    for _ in range(count):
        new_params, opt_state, metrics = replay(values, state, x, t, val, device_int(1), w)
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
        state = TrainState(new_params, opt_state, host_count(int(state.step) + losses.size),
                           host_count(int(state.epoch) + 1), state.key)
    return DivergenceError("training diverged, but replaying it one epoch at a time stayed finite",
                           epoch=int(start.epoch) + 1, step=int(start.step), state=start,
                           history=History())

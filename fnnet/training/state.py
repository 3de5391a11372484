"""The training state: everything a run needs to continue (``TrainState``), early
stopping's progress in it (``StoppingState``), and a fresh one. Keys: the run's base key
is never consumed; epoch e shuffles with ``fold_in(fold_in(key, 0), e)`` and update s
drops out with ``fold_in(fold_in(key, 1), s)``, so no key is used twice and a resumed
run draws exactly what an uninterrupted one would."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.training import coefficients


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
    lifted, values = coefficients.lift_checked(optimizer, coefficients.init_probe, params)
    return _init_program(lifted)(coefficients.as_arguments(values), params, key)


def fresh_state(optimizer: optax.GradientTransformation, params, key) -> TrainState:
    """``init_state``'s state, traceable (a compiled program can make its own)."""
    with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
        opt_state = optimizer.init(params)
    return TrainState(params, opt_state, *(jnp.zeros((), jnp.int32),) * 2, key)


@functools.lru_cache(maxsize=64)
def _init_program(lifted):
    """One call, not a dispatch per zeros_like of the optimizer state; compiled once per
    optimizer structure (``fnnet.training.coefficients``)."""
    return jax.jit(lambda values, params, key: fresh_state(lifted.rebuild(values), params, key))

"""The training state: everything a run needs to continue (``TrainState``), early
stopping's progress in it (``StoppingState``), and a fresh one. Keys: the run's base key
is never consumed; epoch e shuffles with ``fold_in(fold_in(key, 0), e)`` and update s
drops out with ``fold_in(fold_in(key, 1), s)``, so no key is used twice and a resumed
run draws exactly what an uninterrupted one would.

Both states are trees of plain arrays, so that what handles arrays handles them as they
are (``jax.device_put``, ``jax.tree.map``, chex's tree assertions, orbax's
``StandardCheckpointer``, fnnet's checkpoints): counters are int32 0-d arrays, the key is
its raw data (uint32, ``jax.random.key_data``; the compiled programs wrap it back with
the default implementation, so the draws are the typed key's, bit for bit), and early
stopping's scalars are 0-d NumPy arrays in dtypes that survive a restore with 64-bit mode
off (float32 and int32; the best value float64 in 64-bit mode). A typed key of another
implementation than the default stays typed (raw data would lose which one it is)."""

from __future__ import annotations

import functools
import weakref
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet import memory
from fnnet.model.keys import check_key
from fnnet.training import coefficients


class StoppingState(NamedTuple):
    """Early stopping's progress (on the host, saved in a TrainState's checkpoint): the best
    value (NaN before any), its epoch (0: none yet), the epochs since, its parameters.
    Make one with ``stopping_state`` (its dtypes)."""

    best: np.ndarray  # float32 () (float64 in 64-bit mode: the metrics' own precision)
    best_epoch: np.ndarray  # int32 ()
    wait: np.ndarray  # int32 ()
    params: Any


class TrainState(NamedTuple):
    """Everything a run needs to continue: parameters, optimizer state, updates and epochs
    done, the run's base key, early stopping's progress (None without; never compiled)."""

    params: Any
    opt_state: Any
    step: Any  # int32 0-d array (device or NumPy: fit counts on the host)
    epoch: Any  # int32 0-d array
    key: jax.Array  # the base key's raw data, uint32 (``run_key``; typed for another implementation)
    stopping: StoppingState | None = None


def stopping_state(best, best_epoch, wait, params) -> StoppingState:
    """A StoppingState of these values in its dtypes: ``best`` in the widest float JAX
    keeps (float32, or float64 in 64-bit mode; fit's metrics are exact in it), the epochs
    int32."""
    return StoppingState(np.asarray(best, jax.dtypes.canonicalize_dtype(np.float64)),
                         np.asarray(best_epoch, np.int32), np.asarray(wait, np.int32), params)


def host_count(n) -> np.ndarray:
    """A step or epoch count as a state holds it on the host: an int32 0-d array (a NumPy
    scalar type is not an array to every library)."""
    return np.asarray(n, np.int32)


def _typed(key) -> bool:
    dtype = getattr(key, "dtype", None)  # not an array: left to the checks that name it
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _raw(key):
    """``key`` as a TrainState holds it, traceable: a typed key of the default
    implementation as its raw data; raw data, or a key of another implementation, as is."""
    if _typed(key) and str(jax.random.key_impl(key)) == jax.config.jax_default_prng_impl:
        return jax.random.key_data(key)
    return key


def run_key(key):
    """``key`` (typed or raw) as a TrainState holds it (see the module's docstring); the
    data of a key object is remembered while it lives, so that a run repeated with the
    same key costs a lookup, not a dispatch."""
    seen = _KEYS.get(id(key))
    if seen is not None and seen[0]() is key:
        return seen[1]
    check_key(key)
    raw = _raw(key)
    if raw is not key:
        try:
            forget = lambda _, i=id(key): _KEYS.pop(i, None)  # noqa: E731
            if len(_KEYS) > 256:
                _KEYS.clear()
            _KEYS[id(key)] = (weakref.ref(key, forget), raw)
        except TypeError:  # not weakly referable: converted each time
            pass
    return raw


# Raw data of typed keys, forgotten with the key: id -> (weakref, raw data).
_KEYS: dict[int, tuple] = {}


def typed_key(key) -> jax.Array:
    """A state's key as the programs draw from it: raw data wrapped as a key of the default
    implementation (the draws of the key it was made from), a typed key as is."""
    return key if _typed(key) else jax.random.wrap_key_data(key)


def init_state(params, optimizer: optax.GradientTransformation, key) -> TrainState:
    """A fresh TrainState at step 0, epoch 0."""
    lifted, values = coefficients.lift_checked(optimizer, coefficients.init_probe, params)
    _check_memory(params, optimizer)
    return _init_program(lifted)(coefficients.as_arguments(values), params, key)


def _check_memory(params, optimizer) -> None:
    """Refuse an optimizer state larger than the memory left (``fnnet.memory``): XLA:CPU,
    out of memory inside a dispatched program, can leave the state's readers waiting."""
    room, _ = memory.limit()
    size = sum(int(np.prod(np.shape(a))) * np.dtype(jnp.result_type(a)).itemsize for a in jax.tree.leaves(params))
    if room is None or 3 * size < memory.WARN_FRACTION * room / 2:
        return
    struct = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a)), params)
    state = memory.optimizer_bytes(optimizer, struct)
    if state is not None:
        memory.check(memory.Estimate((("optimizer state", state),)), what="init_state",
                     shrink="use a smaller network or an optimizer with less state")


def fresh_state(optimizer: optax.GradientTransformation, params, key) -> TrainState:
    """``init_state``'s state, traceable (a compiled program can make its own)."""
    with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
        opt_state = optimizer.init(params)
    return TrainState(params, opt_state, *(jnp.zeros((), jnp.int32),) * 2, _raw(key))


@functools.lru_cache(maxsize=64)
def _init_program(lifted):
    """One call, not a dispatch per zeros_like of the optimizer state; compiled once per
    optimizer structure (``fnnet.training.coefficients``)."""
    return jax.jit(lambda values, params, key: fresh_state(lifted.rebuild(values), params, key))

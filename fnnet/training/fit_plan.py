"""What a ``fit`` call will run, checked once: the parameters, the data on the device, the
epochs per device call and the compiled program (a ``Plan``). The plan of a call on device
arrays is remembered by the arrays' identities (they never change), so a call that
repeats one (a sweep, a benchmark's 10,000 tiny updates) costs one lookup, not a dozen."""

from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from fnnet.model.network import Network
from fnnet.training import coefficients, device_data
from fnnet.training.epochs import EpochSpec, epochs_program

#: fit runs this many updates per device call at least (many epochs at once when epochs
#: are short), unless it needs the host after every epoch (early stopping, a callback).
UPDATES_PER_CALL = 65536


class Plan(NamedTuple):
    """What fit runs: ``chunk`` epochs per call of ``program`` (``fresh``: a new run's
    state is made inside it), ``steps`` updates per epoch; ``values``, the optimizer's
    coefficients, is the program's first argument."""

    dtype: Any  # the parameters' dtype
    steps: int
    chunk: int
    fresh: bool
    spec: EpochSpec
    program: Callable
    values: tuple


def plan(net: Network, loss, optimizer: optax.GradientTransformation, params, x, t, w, *, epochs: int,
         batch_size: int, grad: str, accuracy: bool | None, eval_batch_size: int, learning_rate,
         per_epoch: bool, new_run: bool) -> tuple[Plan, Any, Any, Any]:
    """``(plan, x, t, w)`` with the data checked and on the device; a ValueError names a bad
    argument. ``loss`` is already an fnnet loss or callable (``losses.get``);
    ``learning_rate`` a number, a schedule or None; ``per_epoch``: the host decides after
    every epoch (early stopping, a callback); ``new_run``: params, not a TrainState."""
    epochs, batch_size = device_data.as_count(epochs), device_data.as_count(batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    signature = None
    # Plain ints only: True == 1 in a key, and a bool batch size is an error.
    if w is None and type(batch_size) is int and isinstance(x, jax.Array) and isinstance(t, jax.Array):
        leaves, treedef = jax.tree_util.tree_flatten(params)
        try:
            # A jax.Array's aval is its shape and dtype in one hashable object.
            signature = (net, loss, optimizer, treedef, *[v.aval for v in leaves], id(x), id(t),
                         epochs, batch_size, grad, accuracy, eval_batch_size, learning_rate, per_epoch, new_run)
            seen = _PLANS.get(signature)
        except (AttributeError, TypeError):  # unhashable or array-free leaves: no memo
            signature = seen = None
        if seen is not None and seen[0]() is x and seen[1]() is t:
            return seen[2], x, t, None
    dtype = net.checked_dtype(params)
    if accuracy is None:
        accuracy = device_data.is_classification(t)
    x_dev, t_dev = device_data.to_device(x, t, net.in_shape, net.out_shape, dtype, "data")
    if w is not None:
        w = device_data.example_weights(w, x_dev.shape[0], dtype, "data")
    n = x_dev.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int in [1, {n}] (the number of examples), got {batch_size!r}")
    steps = -(-n // batch_size)
    # A power of two at least `epochs`, so that nearby epoch counts share one program.
    chunk = 1 if per_epoch else max(1, min(1 << max(epochs - 1, 0).bit_length(), -(-UPDATES_PER_CALL // steps)))
    # A new run that fits in one call makes its state inside that call: one dispatch.
    fresh = new_run and 0 < epochs <= chunk
    # The optimizer's floats are the program's arguments: a new rate reuses it.
    lifted, values = coefficients.lift_checked((optimizer, learning_rate), coefficients.probe, params)
    spec, program = _program(net, loss, None, batch_size, grad, bool(accuracy), int(eval_batch_size),
                             None, False, None, lifted, chunk, fresh)
    result = Plan(dtype, steps, chunk, fresh, spec, program, coefficients.as_arguments(values))
    if signature is not None and x_dev is x and t_dev is t:
        _remember(signature, x, t, result)
    return result, x_dev, t_dev, w


@functools.lru_cache(maxsize=64)
def _program(*spec_chunk_fresh) -> tuple[EpochSpec, Callable]:
    """The EpochSpec and its compiled program."""
    *fields, chunk, fresh = spec_chunk_fresh
    spec = EpochSpec(*fields)
    return spec, epochs_program(spec, chunk, fresh=fresh)


@functools.lru_cache(maxsize=64)
def device_int(n: int) -> jax.Array:
    """``n`` as an int32 device scalar, made once: an int argument costs a transfer per call."""
    return jnp.asarray(n, jnp.int32)


# Plans of calls on device arrays, forgotten when either array is: (signature) ->
# (weakref x, weakref t, plan). An id is reused only after its array is gone.
_PLANS: dict[tuple, tuple] = {}


def _remember(signature: tuple, x, t, result: Plan) -> None:
    if len(_PLANS) > 256:
        _PLANS.clear()
    forget = lambda _, signature=signature: _PLANS.pop(signature, None)  # noqa: E731
    _PLANS[signature] = (weakref.ref(x, forget), weakref.ref(t, forget), result)

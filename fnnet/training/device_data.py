"""Data onto the device for training: shapes, dtypes, finiteness and label ranges
checked (on the device when the arrays are already there), then ``jnp`` arrays."""

from __future__ import annotations

import functools
import operator
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.data import features
from fnnet.model import loss_calls
from fnnet.model.network import shape_hint


def as_count(value):
    """``value`` as a Python int when it is an integer (NumPy's and JAX's concrete ones
    too, as ``operator.index`` takes them, like JAX does); anything else, bools included,
    unchanged, for the caller's check to refuse by name."""
    if type(value) is int or isinstance(value, (bool, np.bool_)):
        return value
    try:
        return operator.index(value)
    except TypeError:
        return value


def refuse_traced(what: str, instead: str, params, data, key=None) -> None:
    """A TypeError when fit's or evaluate's arguments are traced (the function is called
    under jit, vmap or grad): they run their own compiled programs on concrete arrays.
    O(1) but for the parameters' leaves."""
    values = [key, *(data if isinstance(data, (tuple, list)) else ())]
    if any(isinstance(v, jax.core.Tracer) for v in values) or any(
            isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(params)):
        raise TypeError(f"{what} runs its own compiled loop on concrete arrays and cannot be traced "
                        f"(jit/vmap/grad); use {instead} for traced code")


def unpack(data, loss) -> tuple:
    """``(x, t, w)`` of ``data = (x, t)`` (w None) or ``(x, t, w)``; a ValueError for
    anything else, or for weights that ``loss`` takes no argument for."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("data: expected (x, t) or (x, t, weights), got "
                         + (f"{len(data)} arrays" if isinstance(data, (tuple, list)) else type(data).__name__))
    x, t, w = (*data, None) if len(data) == 2 else data
    for name, value in (("x", x), ("t", t), ("weights", w)):
        if value is not None and not (hasattr(value, "shape") and hasattr(value, "dtype")):
            # JAX's convention: jnp functions refuse lists (np.asarray(list) is the caller's choice).
            raise TypeError(f"data: {name} must be an array (NumPy or JAX), got {type(value).__name__}")
    if w is not None and not loss_calls.accepts_weights(loss):
        raise ValueError(f"data has per-example weights but loss {loss_calls.describe(loss)!r} takes "
                         "none; give it a third argument, loss(y, t, weights)")
    return x, t, w


def _classes(out_shape: tuple) -> int:
    return 2 if out_shape[-1] == 1 else out_shape[-1]


def labels_or_targets(t, n: int, out_shape: tuple, what: str = "data"):
    """``t`` checked against n examples of outputs ``out_shape`` (classes last): integer
    labels (n, *out_shape[:-1]) in range, or finite float targets (n, *out_shape)."""
    t = np.asarray(t)
    out_features = out_shape[-1]
    labels = f"{n} integer labels" if len(out_shape) == 1 else f"integer labels of shape {(n, *out_shape[:-1])}"
    if np.issubdtype(t.dtype, np.integer):
        if t.shape != (n, *out_shape[:-1]):
            column = t.shape == (n, 1) and len(out_shape) == 1
            raise ValueError(f"{what}: expected {labels} for outputs of shape {out_shape} per example, got shape "
                             f"{t.shape}" + "; labels in a column: t.reshape(-1)" * column)
        classes = _classes(out_shape)
        if t.size and (t.min() < 0 or t.max() >= classes):
            raise ValueError(f"{what}: labels must be in [0, {classes}) for {out_features} outputs, "
                             f"got values in [{t.min()}, {t.max()}]")
        return t.astype(np.int32)
    if t.shape != (n, *out_shape):
        raise ValueError(f"{what}: expected targets of shape {(n, *out_shape)} or {labels}, got {t.dtype} of "
                         f"shape {t.shape}")
    if not np.issubdtype(t.dtype, np.number) or not np.all(np.isfinite(t)):
        raise ValueError(f"{what}: targets must be finite numbers")
    return t


def to_device(x, t, in_shape: tuple, out_shape: tuple, dtype, what: str = "data"):
    """Validated ``(x, t)`` as device arrays, x in ``dtype``, labels int32. Arrays already
    on the device are checked there and not copied to the host."""
    on_device = isinstance(x, jax.Array) and isinstance(t, jax.Array)
    if on_device:  # first, as fit's fixed cost: a pair seen before passed every check below
        seen = _CLEAN.get((id(x), id(t), in_shape, out_shape, dtype))
        if seen is not None and seen[0]() is x and seen[1]() is t:
            return x, t
    if np.ndim(x) >= 1 and np.shape(x)[0] == 0:
        raise ValueError(f"{what}: the data set is empty (0 examples)")
    if np.iscomplexobj(x):  # a cast would drop the imaginary parts without a word
        raise ValueError(f"{what}: expected real features, got an array of {np.dtype(x.dtype)}")
    if on_device:
        if _clean_on_device(x, t, in_shape, out_shape, dtype):
            _remember_clean(x, t, in_shape, out_shape, dtype)
            return x, t
    got = tuple(np.shape(x))
    if got[1:] != in_shape:  # named here, where the network's input shape is known, with the fix
        raise ValueError(f"{what}: expected features of shape (n, {', '.join(map(str, in_shape))}), got {got}"
                         f"{shape_hint(got, in_shape)}")
    x = features(x, in_shape, what)
    t = labels_or_targets(t, x.shape[0], out_shape, what)
    t = jnp.asarray(t) if t.dtype == np.int32 else jnp.asarray(t, dtype)
    return jnp.asarray(x, dtype), t


# What is known of device arrays already checked: an array never changes, so a fit
# called again with the same arrays (a sweep, a benchmark) does not look at them again.
_KNOWN: dict[int, tuple] = {}  # id(array) -> (weakref, {fact: value})


def example_weights(w, n: int, dtype, what: str = "data"):
    """Per-example weights checked (shape (n,), finite, >= 0, not all 0) as a device
    array in ``dtype``."""
    values = np.asarray(w)
    if values.shape != (n,):
        raise ValueError(f"{what}: expected {n} per-example weights (one per example), got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise ValueError(f"{what}: weights must be real numbers, got {values.dtype}")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or not np.any(values > 0):
        raise ValueError(f"{what}: weights must be finite and >= 0, and not all 0; got values in "
                         f"[{values.min()}, {values.max()}]")
    return jnp.asarray(values, dtype)


# Pairs that passed as they are, for one dict lookup when fit sees them again.
_CLEAN: dict[tuple, tuple] = {}  # (id(x), id(t), in_shape, out_shape, dtype) -> (weakref x, weakref t)


def _remember_clean(x, t, *shape_and_dtype) -> None:
    key = (id(x), id(t), *shape_and_dtype)
    forget = lambda _, key=key: _CLEAN.pop(key, None)  # noqa: E731
    _CLEAN[key] = (weakref.ref(x, forget), weakref.ref(t, forget))


def _known(a) -> dict:
    entry = _KNOWN.get(id(a))
    if entry is not None and entry[0]() is a:
        return entry[1]
    key = id(a)
    facts: dict = {}
    _KNOWN[key] = (weakref.ref(a, lambda _, key=key: _KNOWN.pop(key, None)), facts)
    return facts


def _clean_on_device(x, t, in_shape, out_shape, dtype) -> bool:
    """Whether device arrays need nothing done: the right shapes and dtypes, finite
    features, labels in range. False sends them through the host checks, which name
    what is wrong."""
    n = x.shape[0] if x.ndim else -1
    if tuple(x.shape[1:]) != in_shape or x.ndim != len(in_shape) + 1 or x.dtype != jnp.dtype(dtype):
        return False
    if t.dtype == jnp.int32 and t.shape == (n, *out_shape[:-1]):
        classes = _classes(out_shape)
    elif t.dtype == jnp.dtype(dtype) and t.shape == (n, *out_shape):
        classes = None
    else:
        return False
    x_facts, t_facts = _known(x), _known(t)
    if not x_facts.get("finite") or not t_facts.get(("fit for", classes)):
        x_ok, t_ok = jax.device_get(_device_check(x, t, classes))
        x_facts["finite"], t_facts[("fit for", classes)] = bool(x_ok), bool(t_ok)
    return x_facts["finite"] and t_facts[("fit for", classes)]


@functools.partial(jax.jit, static_argnums=2)
def _device_check(x, t, classes):
    x_ok = jnp.all(jnp.isfinite(x))
    if classes is None:
        return x_ok, jnp.all(jnp.isfinite(t))
    return x_ok, (jnp.min(t, initial=0) >= 0) & (jnp.max(t, initial=0) < classes)


def is_classification(t) -> bool:
    """Integer labels, or float targets whose rows are one-hot."""
    kind = t.dtype.kind if isinstance(t.dtype, np.dtype) else np.dtype(t.dtype).kind
    if kind in "iu":  # no need to look at (or fetch) the values
        return True
    facts = _known(t) if isinstance(t, jax.Array) else {}
    if "one-hot" not in facts:
        values = np.asarray(t)
        facts["one-hot"] = (values.ndim >= 2 and bool(np.all((values == 0) | (values == 1)))
                            and bool(np.all(values.sum(-1) == 1)))
    return facts["one-hot"]

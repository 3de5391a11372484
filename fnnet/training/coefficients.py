"""An optimizer's coefficients as data: one compiled program per optimizer *structure*.

An optax transformation is a pair of closures, and its rates and decays (η, λ, Adam's
β₁, β₂, ε) are Python floats held in their cells. Compiled as they are, each new object
(``optax.adam(1e-3)`` made again, ``optim.momentum(0.2)`` after ``optim.momentum(0.1)``)
is a new program. ``lift`` splits such a tree into its structure, which keys the compiled
programs (the code of every function in it, the non-float values, the identity of
anything it cannot look into), and its floats, which the program takes as arguments:
``Lifted.rebuild(values)`` makes, inside the trace, the same closures with those values.
``optax.inject_hyperparams`` objects at new values and fnnet's own transforms at new
rates therefore share one program.

What still compiles again: a transformation of another structure (another chain, a
schedule in place of a number, a coefficient the factory branches on, such as momentum
0 against 0.9), an int, bool or array coefficient at a new value (ints are often sizes,
arrays are compared by identity), and a function object the walk cannot look into (a
bound method, a callable class, a jitted function). A tree whose floats cannot be
traced (a factory's closure that branches on one at update time) is compiled with its
values, as before: its key then holds them.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import numpy as np
import optax

# Values that key a program as they are: hashable, compared by value, never traced.
_CONSTANTS = (bool, int, str, bytes, complex, type(None), type(Ellipsis), np.dtype, np.generic)
# Floats lifted out: Python's (weakly typed where they meet arrays) and NumPy's scalars
# (their own dtype), each passed back as the same kind of value.
_FLOATS = (float, np.float16, np.float32, np.float64)


class _Opaque(Exception):
    """The walk met a cycle or an empty cell: the tree is keyed by identity."""


class Lifted:
    """A tree of closures split into a hashable structure (``key``) and float ``values``.

    Equal keys mean the same code, the same non-float values and the same opaque objects,
    so ``rebuild`` of one with the other's values is the other, to the bit."""

    __slots__ = ("key", "template", "traced")

    def __init__(self, key, template, traced: bool):
        self.key, self.template, self.traced = key, template, traced

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, Lifted) and self.key == other.key

    def rebuild(self, values) -> Any:
        """The template with ``values`` (a sequence, traced or not) in its float cells, in
        ``lift``'s order; the template itself when it is compiled with its own values."""
        if not self.traced:
            return self.template
        it = iter(values)
        out = _rebuild(self.template, it)
        if next(it, None) is not None:
            raise ValueError("Lifted.rebuild: more values than the structure has floats")
        return out


def lift(tree) -> tuple[Lifted, tuple]:
    """``(lifted, values)``: ``tree``'s structure and its floats in walk order (Python
    floats, NumPy float scalars and 0-d JAX float arrays, each passed back as such: a
    Python float stays weakly typed, as the constant it replaces; the key holds each
    one's type)."""
    values: list = []
    try:
        key = _key(tree, values, set())
    except _Opaque:
        return Lifted(("opaque", id(tree)), tree, False), ()
    if not values:
        return Lifted(key, tree, False), ()
    return Lifted(key, tree, True), tuple(values)


def constant(lifted: Lifted, values: tuple) -> tuple[Lifted, tuple]:
    """The same tree compiled with its values (its key holds them): for a tree whose floats
    cannot be traced."""
    # A JAX scalar is unhashable: keyed by identity (the template holds it), floats by value.
    held = tuple(("id", id(v)) if isinstance(v, jax.Array) else (type(v), v) for v in values)
    return Lifted(("constant", lifted.key, held), lifted.template, False), ()


@functools.lru_cache(maxsize=256)
def device_values(typed: tuple, x64: bool) -> tuple:
    """``typed`` ((type, value) pairs) as device scalars, made once: a float argument costs
    a transfer per call. A Python float becomes a weakly typed scalar, a NumPy one keeps
    its dtype, as each would as a constant. ``x64``: the scope's ``jax_enable_x64``."""
    return tuple(jnp.asarray(v) for _, v in typed)


def as_arguments(values: tuple) -> tuple:
    """``values`` ready to pass to a compiled program (cached device scalars; a JAX
    scalar as it is)."""
    if not values:
        return ()
    if any(isinstance(v, jax.Array) for v in values):
        return tuple(v if isinstance(v, jax.Array) else jnp.asarray(v) for v in values)
    # The types are part of the key: 0.1 == np.float32(0.1) hashes alike but compiles apart.
    return device_values(tuple((type(v), v) for v in values), bool(jax.config.jax_enable_x64))


def _is_scalar_array(obj) -> bool:
    """A concrete 0-d floating JAX array (``jnp.asarray(1e-3)``): lifted like a float."""
    return (isinstance(obj, jax.Array) and not isinstance(obj, jax.core.Tracer) and obj.ndim == 0
            and jnp.issubdtype(obj.dtype, jnp.floating))


def _key(obj, values: list | None, visiting: set):
    """The structure of ``obj``, appending its floats to ``values`` (None: floats are
    keyed by value, as in a function's defaults, which are not traced)."""
    kind = type(obj)
    if kind in _FLOATS:
        if values is None:
            return (kind, obj)
        values.append(obj)
        return kind
    if values is not None and _is_scalar_array(obj):
        values.append(obj)
        return (jax.Array, obj.dtype, obj.weak_type)
    if isinstance(obj, _CONSTANTS):
        return (kind, obj)
    if id(obj) in visiting:
        raise _Opaque
    visiting.add(id(obj))
    try:
        if isinstance(obj, tuple):
            return (kind, tuple(_key(v, values, visiting) for v in obj))
        if kind is list:
            return (list, tuple(_key(v, values, visiting) for v in obj))
        if kind is dict:
            return (dict, tuple(((type(k), k), _key(v, values, visiting)) for k, v in obj.items()))
        if kind is types.FunctionType:
            cells = []
            for cell in obj.__closure__ or ():
                try:
                    contents = cell.cell_contents
                except ValueError:  # a cell not yet filled (a function defined before its value)
                    raise _Opaque from None
                cells.append(_key(contents, values, visiting))
            # Defaults and keyword defaults key the program with their values, untraced.
            return (types.FunctionType, id(obj.__code__), id(obj.__globals__),
                    _key(obj.__defaults__, None, visiting), _key(obj.__kwdefaults__, None, visiting), tuple(cells))
        if kind is functools.partial:
            return (functools.partial, _key(obj.func, values, visiting), _key(obj.args, values, visiting),
                    _key(obj.keywords, values, visiting))
        # Anything else (arrays, modules, classes, jitted functions, instances) by identity:
        # the template holds it, so the id stays its own while the key is in use.
        return ("id", id(obj))
    finally:
        visiting.discard(id(obj))


def _rebuild(obj, values: Iterator):
    """``obj`` with the next values in its float places; unchanged parts are the same
    objects."""
    kind = type(obj)
    if kind in _FLOATS or _is_scalar_array(obj):
        return next(values)
    if isinstance(obj, _CONSTANTS):
        return obj
    if isinstance(obj, tuple):
        items = [_rebuild(v, values) for v in obj]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        return kind(*items) if hasattr(obj, "_fields") else kind(items)
    if kind is list:
        return [_rebuild(v, values) for v in obj]
    if kind is dict:
        return {k: _rebuild(v, values) for k, v in obj.items()}
    if kind is types.FunctionType:
        if not obj.__closure__:
            return obj
        contents = [_rebuild(c.cell_contents, values) for c in obj.__closure__]
        if all(a is c.cell_contents for a, c in zip(contents, obj.__closure__)):
            return obj
        fn = types.FunctionType(obj.__code__, obj.__globals__, obj.__name__, obj.__defaults__,
                                tuple(types.CellType(c) for c in contents))
        fn.__kwdefaults__ = obj.__kwdefaults__
        fn.__dict__.update(obj.__dict__)
        fn.__qualname__ = obj.__qualname__
        return fn
    if kind is functools.partial:
        func = _rebuild(obj.func, values)
        args = _rebuild(obj.args, values)
        keywords = _rebuild(obj.keywords, values)
        return functools.partial(func, *args, **keywords)
    return obj


def lift_checked(tree, probe, *args) -> tuple[Lifted, tuple]:
    """``lift(tree)``, its floats kept constant (``constant``) unless ``probe(rebuilt,
    *args)`` traces with them traced; checked once per structure, probe and shapes of
    ``args`` (arrays or ``jax.ShapeDtypeStruct``)."""
    lifted, values = lift(tree)
    if not lifted.traced:
        return lifted, values
    leaves, treedef = jax.tree_util.tree_flatten(args)
    signature = (lifted, probe, treedef, *[(getattr(v, "shape", ()), getattr(v, "dtype", type(v))) for v in leaves])
    ok = _CHECKED.get(signature)
    if ok is None:
        if len(_CHECKED) > 256:
            _CHECKED.clear()
        ok = _CHECKED[signature] = traces(lifted, values, probe, *args)
    return (lifted, values) if ok else constant(lifted, values)


# Whether a lifted structure traces with its floats as arguments, per probe and shapes.
_CHECKED: dict[tuple, bool] = {}


def traces(lifted: Lifted, values: tuple, probe, *args) -> bool:
    """Whether ``probe(lifted.rebuild(values), *args)`` traces with ``values`` traced
    (``jax.eval_shape``: nothing runs). Any failure counts as no: the tree is then
    compiled with its values, exactly as it was given."""
    try:
        jax.eval_shape(lambda v, *a: probe(lifted.rebuild(v), *a), values, *args)
    except Exception:  # noqa: BLE001 - the fallback is the tree as given, which fails on its own if it must
        return False
    return True


def init_probe(optimizer, params) -> None:
    """What making a run's state does with an optimizer."""
    with jax.numpy_dtype_promotion("standard"):
        optimizer.init(params)


def probe(tree, params) -> None:
    """What a compiled update does with ``tree = (optimizer, learning_rate)``: ``init``,
    one ``update`` (with ``value=``, ``grad=`` and ``value_fn=`` for a transformation
    taking extra arguments) and the reported learning rate's schedule at step 0."""
    optimizer, learning_rate = tree
    with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32 counts
        state = optimizer.init(params)
        extra = {}
        if isinstance(optimizer, optax.GradientTransformationExtraArgs):
            extra = dict(value=jnp.zeros(()), grad=params, value_fn=lambda p: jnp.zeros(()))
        optimizer.update(params, state, params, **extra)
        if callable(learning_rate):
            learning_rate(jnp.zeros((), jnp.int32))

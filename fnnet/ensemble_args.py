"""The arguments of an ensemble run, checked: stacked parameter trees (leading axis N, the
members), per-member keys and hyperparameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from fnnet.layers import Dropout
from fnnet.network import Network


def members(params) -> int:
    """N, the members of a stacked parameter tree (every leaf's leading axis); a one-line
    ValueError names the leaf whose leading axis differs."""
    flat = [("params" + jax.tree_util.keystr(path), np.shape(leaf))
            for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]]
    if not flat:
        raise ValueError("params: expected a stacked parameter tree (leading axis N), got no arrays")
    for name, shape in flat:
        if not shape:
            raise ValueError(f"{name}: expected a stacked leaf with a leading members axis, got a scalar")
        if shape[0] != flat[0][1][0]:
            raise ValueError(f"{name}: leading axis {shape[0]} but {flat[0][0]} has {flat[0][1][0]} (the "
                             "members, N); every leaf must stack the same members")
    return flat[0][1][0]


def member_dtype(net: Network, params):
    """``net.checked_dtype`` of one member, checked on shapes alone (nothing is sliced)."""
    members(params)
    one = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:], jnp.result_type(a)), params)
    try:
        return net.checked_dtype(one)
    except ValueError as e:
        raise ValueError(f"one member's {e}") from None


def check_keys(keys, n: int):
    typed = hasattr(keys, "dtype") and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)
    shape = np.shape(keys) if hasattr(keys, "shape") else None
    if shape is None or len(shape) != 2 - typed or shape[0] != n:
        got = (type(keys).__name__ if shape is None else "a single key" if len(shape) == 1 - typed
               else f"shape {shape}")
        raise ValueError(f"keys: expected {n} keys (one per member, e.g. jax.random.split(key, {n})), got {got}")


#: hyperparams names that set the network's dropout rates, not the optimizer's arguments.
DROPOUT_NAMES = ("dropout", "input_dropout")


def dropout_layers(net: Network, name: str) -> tuple:
    """The indices of the Dropout layers that hyperparams[name] sets: "input_dropout" the one
    before the first Dense layer, "dropout" every other one."""
    first = next((i for i, layer in enumerate(net.layers) if not isinstance(layer, Dropout)), 0)
    found = tuple(i for i, layer in enumerate(net.layers)
                  if isinstance(layer, Dropout) and (i < first) == (name == "input_dropout"))
    if not found:
        where = "an input Dropout layer" if name == "input_dropout" else "Dropout layers after its hidden layers"
        raise ValueError(f"hyperparams[{name!r}]: the network has no {where} to set; build it with one "
                         f"(e.g. mlp(..., {name}=0.5): the value there is replaced per member)")
    return found


def check_hyperparams(hyperparams, n: int, dtype) -> tuple[tuple, tuple]:
    """``(names, values)``: the names sorted, each value an array (or a tree of arrays, e.g.
    a mask) with leading axis n, floats in the parameters' dtype; dropout rates in [0, 1)."""
    if hyperparams is None:
        return None, ()
    if not isinstance(hyperparams, dict) or not all(isinstance(k, str) for k in hyperparams):
        raise ValueError(f"hyperparams: expected a dict of name -> ({n},) array, got {type(hyperparams).__name__}")
    names, values = tuple(sorted(hyperparams)), []
    for name in names:
        tree = jax.tree.map(jnp.asarray, hyperparams[name])
        for path, v in jax.tree_util.tree_flatten_with_path(tree)[0]:
            if not v.shape or v.shape[0] != n:
                raise ValueError(f"hyperparams[{name!r}]{jax.tree_util.keystr(path)}: expected {n} values (one "
                                 "per member), got " + (f"{v.shape[0]}" if v.shape else "a scalar"))
        if name in DROPOUT_NAMES:
            rates = np.asarray(tree) if not isinstance(tree, jax.core.Tracer) else None
            if rates is None or rates.ndim != 1 or not ((rates >= 0) & (rates < 1)).all():
                raise ValueError(f"hyperparams[{name!r}]: expected {n} dropout rates in [0, 1), got "
                                 f"{rates if rates is None or rates.ndim != 1 else [float(f'{r:.6g}') for r in rates]}")
        values.append(jax.tree.map(lambda v: v.astype(dtype) if jnp.issubdtype(v.dtype, jnp.floating) else v,
                                   tree))
    return names, tuple(values)


#: the mesh axes fit_many shards the members and each minibatch along
MEMBERS, DATA = "members", "data"


def members_mesh(mesh, n: int, batch_size: int):
    """``(members, data)`` shardings for ``fit_many(mesh=)``: members split along the
    mesh's "members" axis, each minibatch along its "data" axis (None if it has none).
    Both live on an auto-axes copy of the mesh: the vmapped epoch's loop does not trace
    with explicit axes."""
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh: expected a jax.sharding.Mesh, got {type(mesh).__name__}")
    if MEMBERS not in mesh.axis_names:
        raise ValueError(f"mesh has no axis {MEMBERS!r} to split the members along (its axes: "
                         f"{tuple(mesh.axis_names)}); e.g. jax.make_mesh((2, 4), ('members', 'data'))")
    extra = [a for a in mesh.axis_names if a not in (MEMBERS, DATA)]
    if extra:
        raise ValueError(f"mesh: expected the axes 'members' and optionally 'data', got {tuple(mesh.axis_names)}")
    if n % mesh.shape[MEMBERS]:
        raise ValueError(f"{n} members are not divisible by the {mesh.shape[MEMBERS]} devices of mesh axis "
                         f"{MEMBERS!r}")
    if DATA in mesh.axis_names and batch_size % mesh.shape[DATA]:
        raise ValueError(f"batch_size {batch_size} is not divisible by the {mesh.shape[DATA]} devices of mesh "
                         f"axis {DATA!r}")
    auto = Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))
    return NamedSharding(auto, P(MEMBERS)), NamedSharding(auto, P(DATA)) if DATA in mesh.axis_names else None


def unstack(params) -> list:
    """A stacked tree as a list of its N members' trees; the other way is
    ``jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)``."""
    return [jax.tree.map(lambda a, i=i: a[i], params) for i in range(members(params))]

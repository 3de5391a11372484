"""Data parallelism with ``jax.sharding``: the batch axis of every minibatch is sharded
across one axis of a ``Mesh`` (``NamedSharding``), parameters and optimizer state are
replicated, and the compiler reduces the gradients (``jit`` with shardings, no ``pmap``).

``fit(..., mesh=mesh)`` trains that way on a mesh's "data" axis, or on another axis with
``mesh=batch_sharding(mesh, "batch")``; ``fnnet.evaluate(..., mesh=)`` evaluates on
one. The data set is replicated on the mesh's devices: each device gathers its B/N rows
of every shuffled minibatch locally (a shuffled gather from a batch-sharded data set would
move rows between devices at every update), so its update works on (B/N, in). Both
explicit meshes (``jax.make_mesh``'s default) and auto meshes work; fit and evaluate run
the network on an auto-axes copy of either (``auto_axes``).

Several hosts (``jax.distributed``): ``host_local_batch`` makes global arrays of each
process's rows; fit and evaluate all-gather them onto every device as above.

For a ``jax.shard_map`` of your own, ``fnnet.make_step(..., grad_reduce=...)`` takes
e.g. ``lambda g: jax.lax.pmean(g, "data")``.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

#: the mesh axis the batch is sharded along when fit is given a bare Mesh
AXIS = "data"


def data_mesh(devices=None, *, axis: str = AXIS, explicit: bool = True) -> Mesh:
    """A one-axis mesh over ``devices`` (default: all of them) named ``axis``, with
    explicit sharding (``jax.make_mesh``'s default) or, with ``explicit=False``, auto."""
    devices = jax.devices() if devices is None else list(devices)
    kind = AxisType.Explicit if explicit else AxisType.Auto
    return jax.make_mesh((len(devices),), (axis,), (kind,), devices=devices)


def batch_sharding(mesh, axis: str = AXIS) -> NamedSharding:
    """The sharding of a batch's leading axis along ``mesh``'s axis ``axis``; a Mesh, or a
    NamedSharding whose spec names the batch axis first (returned as it is, checked)."""
    if isinstance(mesh, NamedSharding):
        spec = tuple(mesh.spec)
        if len(spec) != 1 or not isinstance(spec[0], str):
            raise ValueError(f"mesh: a NamedSharding for data parallelism shards the batch axis along "
                             f"one mesh axis, e.g. P({AXIS!r}); got {mesh.spec}")
        mesh, axis = mesh.mesh, spec[0]
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh: expected a jax.sharding.Mesh or NamedSharding, got {type(mesh).__name__}")
    if axis not in mesh.axis_names:
        raise ValueError(f"mesh has no axis {axis!r} to shard the batch along (its axes: "
                         f"{tuple(mesh.axis_names)}); name it, e.g. mesh=batch_sharding(mesh, "
                         f"{mesh.axis_names[0]!r})")
    return NamedSharding(mesh, P(axis))


def auto_axes(sharding: NamedSharding) -> NamedSharding:
    """``sharding`` on a copy of its mesh whose axes are all auto: where fit and evaluate
    run the network. Why: under explicit axes, an op whose output sharding JAX cannot infer
    is an error while tracing, and the hand-written backward pass has them in every layer
    (∂C/∂W = a_prevᵀ δ and a convolution's kernel gradient contract the split batch axis),
    as a user's own layer may; under auto axes the compiler propagates the batch split and
    reduces the gradients. Each device's share of the work is the same (tested on the
    compiled shapes)."""
    mesh = sharding.mesh
    if all(kind == AxisType.Auto for kind in mesh.axis_types):
        return sharding
    auto = Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))
    return NamedSharding(auto, sharding.spec)


def devices_along(sharding: NamedSharding) -> int:
    """How many devices the batch is split across."""
    return sharding.mesh.shape[sharding.spec[0]]


def check_batch(sharding: NamedSharding, batch_size: int) -> None:
    """A ValueError unless ``batch_size`` splits evenly across the batch axis."""
    count = devices_along(sharding)
    if batch_size % count:
        raise ValueError(f"batch_size {batch_size} is not divisible by the {count} devices "
                         f"of mesh axis {sharding.spec[0]!r}")


def replicated(sharding: NamedSharding) -> NamedSharding:
    return NamedSharding(sharding.mesh, P())


def replicate(sharding: NamedSharding, tree):
    """Every array leaf of ``tree`` copied to all of the mesh's devices (None stays). On
    a mesh spanning several processes, a global array is all-gathered and a local one
    must hold the same value in every process."""
    target = replicated(sharding)
    if target.is_fully_addressable:
        return jax.device_put(tree, target)
    return jax.tree.map(lambda a: _to_all(a, target), tree)


def _to_all(a, target: NamedSharding):
    # device_put moves neither rows between processes nor a committed local array onto
    # other processes' devices: a compiled identity does the one, the host the other.
    if not isinstance(a, jax.Array):
        return jax.device_put(a, target)
    if not a.is_fully_addressable:
        return _copy_to(target)(a)
    if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        data = _to_all(jax.random.key_data(a), target)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
    return jax.device_put(np.asarray(a), target)


@functools.lru_cache(maxsize=16)
def _copy_to(target: NamedSharding):
    return jax.jit(lambda a: a, out_shardings=target)


def host_local_batch(local, mesh, axis: str = AXIS):
    """Multi-host: each process's rows, ``local`` (an array or a tree of them, leading
    axis n_local, the same on every process), made into global arrays (P * n_local, ...)
    split along ``mesh``'s batch axis, process p's rows at [p * n_local, (p+1) * n_local)
    when the mesh lists the devices by process (``jax.devices()``' order)."""
    sharding = batch_sharding(mesh, axis)
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, a), local)


def _explicit(sharding: NamedSharding) -> bool:
    mesh = sharding.mesh
    return dict(zip(mesh.axis_names, mesh.axis_types))[sharding.spec[0]] == AxisType.Explicit


def _along(sharding: NamedSharding, dim: int) -> NamedSharding:
    """The batch axis sharding of an array's dimension ``dim`` (the others replicated)."""
    return NamedSharding(sharding.mesh, P(*(None,) * dim, sharding.spec[0]))


def shard(a, sharding: NamedSharding, dim: int = 0):
    """Traced: ``a`` split along its dimension ``dim`` across the batch axis (reshard on an
    explicit mesh, a sharding constraint on an auto one)."""
    target = _along(sharding, dim)
    if _explicit(sharding):
        return jax.sharding.reshard(a, target)
    return jax.lax.with_sharding_constraint(a, target)


def gather(a, idx, sharding: NamedSharding):
    """Traced: rows ``a[idx]`` of a replicated ``a``, split along the batch axis: each
    device gathers only its share of ``idx`` (in range: a permutation's indices)."""
    idx = shard(idx, sharding)
    if _explicit(sharding):
        return a.at[idx].get(mode="promise_in_bounds", out_sharding=_along(sharding, 0))
    return shard(a.at[idx].get(mode="promise_in_bounds"), sharding)


def under_mesh(program, sharding: NamedSharding):
    """``program`` called with ``sharding``'s mesh as the context mesh (``jax.set_mesh``),
    so that arrays it makes inside (zeros, iotas) live on that mesh, not on none."""
    mesh = sharding.mesh

    @functools.wraps(program)
    def run(*args):
        with jax.set_mesh(mesh):
            return program(*args)

    return run

"""Training a padded search group (``fnnet.structure.padding``) with ``fnnet.fit_many``:
learning rate, L2 λ, dropout rate, optimizer and the padding mask are per-member
hyperparameters, and a group trains ``per_program`` members at a time, every call the
same compiled program; then each member's accuracy on the scored splits.
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import memory
from fnnet.model import losses
from fnnet.model.network import Network
from fnnet.structure.member_optim import optimizer_maker
from fnnet.structure.conv_padding import ConvGroup
from fnnet.structure.padding import Group, init, masks
from fnnet.training.ensemble import fit_many

#: The loss of every candidate: ``fnnet train``'s default (cross-entropy on logits).
CANDIDATE_LOSS = losses.cross_entropy(from_logits=True)


def per_program() -> int:
    """Members per compiled program in a search on the default backend: 2 on a CPU, 16 on
    an accelerator. A group trains this many at a time, every call the same program, so
    that a later generation's groups of any size reuse it. On 2 CPU cores (digits, 5
    generations of 64) 2 took 82 s, 1 and 4 90 s, 8 112 s, and all members at once 132 s
    (vmapped matmuls are slower there); a GPU idles on a small member."""
    return 2 if jax.default_backend() == "cpu" else 16


def group_keys(idx: list, size: int, key_of) -> jax.Array:
    """The (size,) keys of a group's members: ``key_of(i)`` for each candidate index i in
    ``idx``, the extra members (``groups`` pads the count) copying the last. Stacked on the
    host: a vmapped key per group size would compile a program for each size."""
    ids = list(idx) + [idx[-1]] * (size - len(idx))
    return jax.random.wrap_key_data(np.stack([jax.random.key_data(key_of(i)) for i in ids]))


class Trained(NamedTuple):
    params: Any  # stacked, padded (N, ...), NumPy
    accuracy: dict  # split name -> (N,) accuracies
    diverged: list  # N bools
    seconds: float  # the group's wall time


def train_group(group: Group | ConvGroup, train_data, *, keys, epochs: int, batch_size: int,
                evaluate: dict | None = None, grad: str = "autodiff", params=None, dtype="float32",
                per_program: int | None = None, early_stopping=None, validation=None) -> Trained:
    """Train the group with ``fit_many``: member i from ``fold_in(keys[i], 0)`` (its initial
    parameters, unless ``params`` are given) and ``fold_in(keys[i], 1)`` (its run:
    shuffling, dropout); then each member's accuracy on each ``evaluate`` split ``{name:
    (x, labels)}`` (one more compiled program). ``per_program``: train that many members
    per call (N divisible by it), all calls one compiled program (default: all at once).
    ``early_stopping`` (an EarlyStopping on ``validation = (x, labels)``): each member
    stops on its own and keeps its best epoch's parameters, as ``fit_many`` does."""
    start = time.perf_counter()
    n = len(group.members)
    k = n if per_program is None else per_program
    if n % k:
        raise ValueError(f"per_program: expected a divisor of the group's {n} members, got {k}")
    # Parts are sliced and joined on the host: an eager op on device arrays compiles a
    # program per shape (seconds a generation when group sizes vary).
    params, seeds = jax.device_get(params), np.asarray(jax.random.key_data(keys))
    parts = []
    for i in range(0, n, k):
        part = group.part(group.members[i:i + k])
        part_keys = jax.random.wrap_key_data(seeds[i:i + k], impl=jax.random.key_impl(keys))
        part_params = (init(part, jax.vmap(lambda key: jax.random.fold_in(key, 0))(part_keys), dtype)
                       if params is None else jax.tree.map(lambda a: a[i:i + k], params))
        parts.append(_train_part(part, part_params, part_keys, train_data, epochs, batch_size, evaluate, grad,
                                 dtype, early_stopping, validation))
    params = jax.tree.map(lambda *a: np.concatenate(a), *(p[0] for p in parts))
    accuracy = {name: np.concatenate([p[1][name] for p in parts]) for name in parts[0][1]}
    return Trained(params, accuracy, [d for p in parts for d in p[2]], time.perf_counter() - start)


def _train_part(group: Group | ConvGroup, params, keys, train_data, epochs, batch_size, evaluate, grad, dtype,
                early_stopping, validation):
    names = group.optimizers
    hp = {"learning_rate": np.array([c.lr for c in group.members]), "l2": np.array([c.l2 for c in group.members]),
          "dropout": np.array([c.dropout for c in group.members]), "mask": masks(group),
          "which": np.array([names.index(c.optimizer) for c in group.members], np.int32)}
    try:
        result = fit_many(group.net, CANDIDATE_LOSS, optimizer_maker(names), params, train_data,
                          keys=jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys), epochs=epochs,
                          batch_size=batch_size, hyperparams=hp, grad=grad, early_stopping=early_stopping,
                          validation_data=validation)
    except memory.MemoryEstimateError as e:  # in the search's words: its group, its options
        raise memory.MemoryEstimateError(
            f"training a group of {len(group.members)} candidates (padded to one network of "
            f"{memory.parameter_count(group.net):,} parameters each) needs about {e.estimate.describe()}, more "
            f"than {e.limit}; try a smaller --population, --width or --channels, or --batch-size",
            e.estimate, e.limit) from None
    accuracy = {}
    if evaluate:
        # One program for every split: their examples side by side, hits split on the host.
        x = np.concatenate([np.asarray(v[0]) for v in evaluate.values()])
        t = np.concatenate([np.asarray(v[1]) for v in evaluate.values()])
        hits = np.asarray(_hits_program(group.net)(result.params, jnp.asarray(x, dtype), jnp.asarray(t, jnp.int32)))
        edges = np.cumsum([0] + [len(v[0]) for v in evaluate.values()])
        accuracy = {k: hits[:, a:b].mean(axis=1) for k, a, b in zip(evaluate, edges, edges[1:])}
    return jax.device_get(result.params), accuracy, result.diverged


@functools.lru_cache(maxsize=16)
def _hits_program(net: Network):
    def hits(params, x, t):
        return jnp.argmax(net.apply(params, x), axis=-1).astype(t.dtype) == t

    return jax.jit(jax.vmap(hits, in_axes=(0, None, None)))

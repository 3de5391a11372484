"""Padding and masking for convolutional candidates: those of one signature (the number
of blocks, each block's stride and whether it pools, the number of hidden layers) train
as ONE ``fit_many`` program, as ``fnnet.structure.padding`` does for dense candidates.

Each block's channels are padded to the group's most, each kernel to the group's
largest (a member's own kernel in its centre), each hidden layer to the group's widest;
the members' activations differ through ``ConvSwitch`` and ``Switch``, their poolings
(max or average: one shape) through ``PoolSwitch``. A member's k-wide
kernel centred in a K-wide one computes exactly its own "SAME" convolution: both are
odd, k is no smaller than the stride, so the K-wide kernel's zeros before the input are
(K − k) / 2 more on each side and its extra taps read only them or multiply exact
zeros. Padded channels start at exactly 0 and the mask (``masks``) keeps them there; a
padded channel's a (f(0)) meets weights of exactly 0 in the next layer. The positions
after a block do not depend on kernels ("SAME"), so every member of a group has the
same shapes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.model import activations, initializers
from fnnet.model.layers.conv import Conv1D, Conv2D
from fnnet.model.layers.dense import Dense
from fnnet.model.layers.dropout import Dropout
from fnnet.model.layers.flatten import Flatten
from fnnet.model.layers.pool import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D
from fnnet.model.network import Network
from fnnet.names import OPTIMIZERS
from fnnet.structure.space import POOL_SIZE, SEARCH_ACTIVATIONS, SEARCH_POOLINGS, Candidate, conv_out
from fnnet.structure.switch import ConvSwitch, PoolSwitch, Switch

_POOLS = {("max", 1): MaxPool1D, ("max", 2): MaxPool2D, ("avg", 1): AvgPool1D, ("avg", 2): AvgPool2D}


def signature(c: Candidate) -> tuple:
    """What members of one group share: ``(blocks, strides, whether each block pools,
    hidden layers)``; which pooling a block does is the member's own (``PoolSwitch``)."""
    return len(c.conv), tuple(b[2] for b in c.conv), tuple(b[3] != "none" for b in c.conv), len(c.hidden)


@dataclass(frozen=True)
class ConvGroup:
    """Convolutional candidates of one ``signature``, padded to one network. ``channels``,
    ``kernels`` and ``widths`` (default: the group's most, largest and widest) may be
    more, and ``kinds``, ``optimizers`` and ``poolings`` (default: the members') wider, so
    that later groups reuse its compiled programs."""

    members: tuple  # Candidate, all of one signature
    in_shape: tuple  # one example's shape: (length, channels) or (height, width, channels)
    classes: int
    channels: tuple | None = None
    kernels: tuple | None = None
    widths: tuple | None = None
    kinds: tuple | None = None
    optimizers: tuple | None = None
    poolings: tuple | None = None

    def __post_init__(self):
        members = tuple(self.members)
        signatures = {signature(c) for c in members}
        if len(signatures) != 1 or not members[0].conv:
            raise ValueError(f"ConvGroup: expected convolutional members of one signature (blocks, strides, "
                             f"poolings, hidden layers), got {sorted(signatures)}")
        own = {"channels": tuple(max(c.conv[i][0] for c in members) for i in range(len(members[0].conv))),
               "kernels": tuple(max(c.conv[i][1] for c in members) for i in range(len(members[0].conv))),
               "widths": tuple(max(ws) for ws in zip(*(c.hidden for c in members))),
               "kinds": tuple(a for a in SEARCH_ACTIVATIONS if any(c.activation == a for c in members)),
               "optimizers": tuple(o for o in OPTIMIZERS if any(c.optimizer == o for c in members)),
               "poolings": tuple(p for p in SEARCH_POOLINGS if p != "none" and any(b[3] == p for c in members
                                                                                    for b in c.conv))}
        for name, value in own.items():
            given = getattr(self, name)
            if given is None:
                given = value
            elif name in ("channels", "kernels", "widths"):
                if len(given) != len(value) or any(g < v for g, v in zip(given, value)):
                    raise ValueError(f"ConvGroup: {name} {given} cannot hold members of {value}")
                if name == "kernels" and any((g - v) % 2 for g, v in zip(given, value)):
                    raise ValueError(f"ConvGroup: kernels {given} cannot centre members' kernels {value}")
            elif set(value) - set(given):
                raise ValueError(f"ConvGroup: {name} {given} lack the members' {sorted(set(value) - set(given))}")
            object.__setattr__(self, name, tuple(given))
        if "maxout" in self.kinds:
            raise ValueError("ConvGroup: convolutions take no maxout")
        if "none" in self.poolings:
            raise ValueError("ConvGroup: poolings name what a pooled block does; 'none' is a signature of its own")
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "in_shape", tuple(self.in_shape))

    @property
    def blocks(self) -> tuple:
        """Per block: (stride, whether it pools), the same for every member."""
        return tuple((b[2], b[3] != "none") for b in self.members[0].conv)

    @functools.cached_property
    def positions(self) -> int:
        """Positions after the last block (its channels are the flattened width's other factor)."""
        spatial = self.in_shape[:-1]
        for stride, pooled in self.blocks:
            spatial = conv_out(spatial, stride, "max" if pooled else "none")
        return math.prod(spatial)

    @functools.cached_property
    def net(self) -> Network:
        """ConvSwitch blocks and their poolings (a PoolSwitch where members differ), Flatten,
        Dropout(0) placeholders (each member's rate is set by fit_many), Switch hidden
        layers, then Dense(classes) logits."""
        d = len(self.in_shape) - 1
        conv = Conv2D if d == 2 else Conv1D
        layers = []
        for channels, kernel, (stride, pooled) in zip(self.channels, self.kernels, self.blocks):
            layers.append(ConvSwitch(conv(channels, kernel, stride=stride, padding="SAME"), self.kinds))
            if pooled:
                pools = tuple(_POOLS[p, d](POOL_SIZE) for p in self.poolings)
                layers.append(pools[0] if len(pools) == 1 else PoolSwitch(pools))
        layers += [Flatten(), Dropout(0.0)]
        for width in self.widths:
            layers += [Switch(width, self.kinds, 1), Dropout(0.0)]
        return Network(self.in_shape, tuple(layers) + (Dense(self.classes),))

    def part(self, members) -> "ConvGroup":
        """A group of some of these members on this group's padded network."""
        return ConvGroup(tuple(members), self.in_shape, self.classes, self.channels, self.kernels, self.widths,
                         self.kinds, self.optimizers, self.poolings)


def _entries(group: ConvGroup) -> list:
    """Per parameterised layer of the padded net: ("conv", k, c_in, c_out) or ("dense", n_in,
    n_out), padded sizes."""
    out, c_in = [], group.in_shape[-1]
    for channels, kernel in zip(group.channels, group.kernels):
        out.append(("conv", kernel, c_in, channels))
        c_in = channels
    n_in = group.positions * c_in
    for width in group.widths + (group.classes,):
        out.append(("dense", n_in, width))
        n_in = width
    return out


def _own(group: ConvGroup, c: Candidate) -> list:
    """The same for member ``c``'s own network (its real sizes)."""
    out, c_in = [], group.in_shape[-1]
    for channels, kernel, _, _ in c.conv:
        out.append(("conv", kernel, c_in, channels))
        c_in = channels
    n_in = group.positions * c_in
    for width in c.hidden + (group.classes,):
        out.append(("dense", n_in, width))
        n_in = width
    return out


def _rows(group: ConvGroup, c_real: int, c_padded: int):
    """The rows of the padded layer after Flatten that hold a member's own rows: position p
    and channel c sit at p · c_padded + c (channels fastest)."""
    return (np.arange(group.positions)[:, None] * c_padded + np.arange(c_real)[None, :]).reshape(-1)


def _slots(group: ConvGroup, c: Candidate) -> list:
    """Per parameterised layer: the index into the padded w and b where the member's own
    block goes (its kernel centred, its channels first; rows after Flatten spread)."""
    d, slots = len(group.in_shape) - 1, []
    padded, own = _entries(group), _own(group, c)
    for j, (p, o) in enumerate(zip(padded, own)):
        if p[0] == "conv":
            start = (p[1] - o[1]) // 2
            slots.append((tuple(slice(start, start + o[1]) for _ in range(d)) + (slice(0, o[2]), slice(0, o[3])),
                          (slice(0, o[3]),)))
        else:
            previous_conv = j > 0 and padded[j - 1][0] == "conv"
            rows = _rows(group, own[j - 1][3], padded[j - 1][3]) if previous_conv else np.arange(o[1])
            slots.append(((rows[:, None], np.arange(o[2])[None, :]), (slice(0, o[2]),)))
    return slots


def _zeros(group: ConvGroup, n: int, dtype) -> list:
    """The stacked padded parameter tree of exact zeros (NumPy, writable), leading axis n."""
    d, tree = len(group.in_shape) - 1, []
    entries = iter(_entries(group))
    for layer in group.net.layers:
        if isinstance(layer, ConvSwitch):
            _, k, c_in, c_out = next(entries)
            tree.append({"w": np.zeros((n,) + (k,) * d + (c_in, c_out), dtype), "b": np.zeros((n, c_out), dtype),
                         "kind": np.zeros((n,), dtype)})
        elif isinstance(layer, PoolSwitch):
            tree.append({"kind": np.zeros((n,), dtype)})
        elif isinstance(layer, (Switch, Dense)):
            _, n_in, n_out = next(entries)
            pieces = (1,) if isinstance(layer, Switch) else ()
            entry = {"w": np.zeros((n, n_in, n_out) + pieces, dtype), "b": np.zeros((n, n_out) + pieces, dtype)}
            tree.append({**entry, "kind": np.zeros((n,), dtype)} if isinstance(layer, Switch) else entry)
        else:
            tree.append({})
    return tree


def _put(entry: dict, i: int, slot: tuple, w, b) -> None:
    """Member i's own w and b into the padded entry at ``slot``."""
    w_at, b_at = slot
    one_piece = entry["b"].ndim == 3  # a Switch's (n, out, 1): its single piece
    (entry["w"][i][..., 0] if one_piece else entry["w"][i])[w_at] = w
    (entry["b"][i][..., 0] if one_piece else entry["b"][i])[b_at] = b


def masks(group: ConvGroup) -> list:
    """The stacked 0/1 mask tree (leading axis N): 1 on each member's own weights and
    biases, 0 on padding and on ``kind``."""
    tree = _zeros(group, len(group.members), np.float32)
    parameterised = [e for e in tree if "w" in e]
    for i, c in enumerate(group.members):
        for entry, slot in zip(parameterised, _slots(group, c)):
            _put(entry, i, slot, 1.0, 1.0)
    return tree


def pad(group: ConvGroup, plain_params: list) -> list:
    """Stacked padded parameters from each member's own (unpadded) parameters, a list of
    N trees of ``fnnet.runs.preparation.build``'s network, padded with exact zeros."""
    out = _zeros(group, len(group.members), np.asarray(jax.tree.leaves(plain_params[0])[0]).dtype)
    parameterised = [e for e in out if "w" in e]
    for i, (c, params) in enumerate(zip(group.members, plain_params)):
        for src, dst, slot in zip([e for e in params if e], parameterised, _slots(group, c)):
            _put(dst, i, slot, np.asarray(src["w"]), np.asarray(src["b"]))
        _set_kinds(group, out, i)
    return jax.tree.map(jnp.asarray, out)


def _set_kinds(group: ConvGroup, tree: list, i: int) -> None:
    """Member i's activation and poolings into the ``kind`` leaves of the padded tree."""
    c = group.members[i]
    pooled = iter(b[3] for b in c.conv if b[3] != "none")
    for layer, entry in zip(group.net.layers, tree):
        if isinstance(layer, PoolSwitch):
            entry["kind"][i] = group.poolings.index(next(pooled))
        elif "kind" in entry:
            entry["kind"][i] = group.kinds.index(c.activation)


def unpad(group: ConvGroup, params, i: int) -> list:
    """Member i's own parameters (``fnnet.runs.preparation.build``'s network: blocks and
    their poolings, Flatten, Dropout, hidden layers each with its Dropout, the output)
    from the stacked padded tree: the inverse of ``pad``."""
    c = group.members[i]
    taken = []
    for e, slot in zip([e for e in params if "w" in e], _slots(group, c)):
        w, b = np.asarray(e["w"][i]), np.asarray(e["b"][i])
        if b.ndim == 2:  # a Switch's single piece
            w, b = w[..., 0], b[..., 0]
        taken.append({"w": w[slot[0]], "b": b[slot[1]]})
    plain, taken = [], iter(taken)
    for _, _, _, pool in c.conv:
        plain.append(next(taken))
        if pool != "none":
            plain.append({})
    plain.append({})  # Flatten
    if c.dropout > 0:
        plain.append({})
    for _ in c.hidden:
        plain.append(next(taken))
        if c.dropout > 0:
            plain.append({})
    plain.append(next(taken))
    return plain


def init(group: ConvGroup, keys, dtype="float32") -> list:
    """Stacked padded initial parameters: each member's own blocks drawn on the host with
    the law its own layer would use (He for ReLU-like activations, Glorot for the rest and
    the output; a kernel's fans prod(k) · c_in and prod(k) · c_out). Padding and biases
    are exact zeros; NumPy arrays. Member i's generator is seeded by ``keys[i]``'s data."""
    out = _zeros(group, len(group.members), dtype)
    parameterised = [e for e in out if "w" in e]
    seeds = np.asarray(jax.random.key_data(keys)).reshape(len(group.members), -1)
    d = len(group.in_shape) - 1
    for i, c in enumerate(group.members):
        rng = np.random.default_rng([int(s) for s in seeds[i]])
        he = c.activation in activations.RELU_LIKE
        own = _own(group, c)
        for j, (entry, slot, sizes) in enumerate(zip(parameterised, _slots(group, c), own)):
            if sizes[0] == "conv":
                _, k, c_in, c_out = sizes
                w = initializers.numpy_draw(rng, (k,) * d + (c_in, c_out), "he" if he else "glorot",
                                            k ** d * c_in, k ** d * c_out)
            else:
                _, n_in, n_out = sizes
                hidden = j < len(own) - 1
                w = initializers.numpy_draw(rng, (n_in, n_out), "he" if hidden and he else "glorot", n_in, n_out)
            _put(entry, i, slot, w, np.zeros(sizes[-1]))
        _set_kinds(group, out, i)
    return out

"""Padding and masking: the dense candidates of one depth (maxout apart) train as ONE
``fit_many`` program (convolutional ones by signature: ``fnnet.structure.conv_padding``;
``group_candidates`` groups both kinds, and ``masks``, ``pad``, ``unpad`` and ``init``
take a group of either).

Each hidden layer is padded to the group's widest (and, with maxout in a group, to its
pieces); the members' activations differ through ``fnnet.structure.switch.Switch``, their
optimizers through a per-member choice among the group's (``jnp.where`` of the updates,
so each member gets exactly its own). A per-member 0/1 mask tree (a ``fit_many``
hyperparameter) multiplies the gradients at the start of the optimizer chain and the
updates at its end:

    chain(g ⊙ m, + λ w (L2), <the member's optimizer>(η), u ⊙ m)

Padded weights start at exactly 0, so their optimizer state and updates are exactly 0
and they stay 0; a padded unit's a (0.5 for sigmoid) meets an outgoing weight of exactly
0 and adds exactly 0 to the next layer. Learning rate, L2 λ, dropout rate, optimizer and
the mask are per-member hyperparameters (traced values).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.model import activations, initializers
from fnnet.model.layers.dense import Dense
from fnnet.model.layers.dropout import Dropout
from fnnet.model.layers.flatten import Flatten
from fnnet.model.network import Network
from fnnet.names import OPTIMIZERS
from fnnet.structure import conv_padding
from fnnet.structure.conv_padding import ConvGroup
from fnnet.structure.space import SEARCH_ACTIVATIONS, Candidate
from fnnet.structure.switch import Switch


@dataclass(frozen=True)
class Group:
    """Dense candidates of one depth, padded to one network ``in -> widths... -> classes``
    (``in_shape``: one example's shape, or its width; an image is flattened first).
    ``widths`` (default: the group's widest at each depth), ``kinds`` and ``optimizers``
    (default: the members') may be wider, so that later groups reuse its compiled programs."""

    members: tuple  # Candidate, all of one depth
    in_shape: tuple
    classes: int
    pieces: int = 2  # per maxout unit
    widths: tuple | None = None
    kinds: tuple | None = None
    optimizers: tuple | None = None

    def __post_init__(self):
        members = tuple(self.members)
        depth = {len(c.hidden) for c in members}
        if len(depth) != 1:
            raise ValueError(f"Group: expected members of one depth, got depths {sorted(depth)}")
        own = {"widths": tuple(max(ws) for ws in zip(*(c.hidden for c in members))),
               "kinds": tuple(a for a in SEARCH_ACTIVATIONS if any(c.activation == a for c in members)),
               "optimizers": tuple(o for o in OPTIMIZERS if any(c.optimizer == o for c in members))}
        for name, value in own.items():
            given = getattr(self, name)
            if given is None:
                given = value
            elif name == "widths" and (len(given) != len(value) or any(g < v for g, v in zip(given, value))):
                raise ValueError(f"Group: widths {given} cannot hold members as wide as {value}")
            elif name != "widths" and set(value) - set(given):
                raise ValueError(f"Group: {name} {given} lack the members' {sorted(set(value) - set(given))}")
            object.__setattr__(self, name, tuple(given))
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "in_shape", (self.in_shape,) if isinstance(self.in_shape, int) else tuple(self.in_shape))

    @property
    def in_features(self) -> int:
        return math.prod(self.in_shape)

    def part(self, members) -> "Group":
        """A group of some of these members on this group's padded network."""
        return dataclasses.replace(self, members=tuple(members))

    @functools.cached_property
    def layer_pieces(self) -> int:
        return self.pieces if "maxout" in self.kinds else 1

    @functools.cached_property
    def net(self) -> Network:
        """Switch layers with Dropout(0) placeholders (each member's rate is set by fit_many),
        then Dense(classes) logits."""
        layers = [Flatten()] if len(self.in_shape) > 1 else []
        for width in self.widths:
            layers += [Switch(width, self.kinds, self.layer_pieces), Dropout(0.0)]
        in_shape = self.in_shape if len(self.in_shape) > 1 else self.in_features
        return Network(in_shape, tuple(layers) + (Dense(self.classes),))

    def _real(self, c: Candidate) -> tuple:
        """Per parameterised layer: (in, out, pieces) of the member's own network."""
        widths = (self.in_features,) + tuple(c.hidden)
        p = self.pieces if c.activation == "maxout" else 1
        return tuple((a, b, p) for a, b in zip(widths, widths[1:])) + ((widths[-1], self.classes, 1),)

    def _padded(self) -> tuple:
        widths = (self.in_features,) + self.widths
        return (tuple((a, b, self.layer_pieces) for a, b in zip(widths, widths[1:]))
                + ((widths[-1], self.classes, 1),))


def group_candidates(candidates, in_shape, classes: int, *, pieces: int = 2, kinds=None, optimizers=None,
                     poolings=None, max_width: int | None = None, max_channels: int | None = None,
                     per_program: int = 1, compiled: dict | None = None) -> list[tuple[list[int], Group | ConvGroup]]:
    """The candidates grouped, one compiled program each: ``[(indices, group)]``. Dense
    ones by depth and by maxout or not (maxout's pieces would double a dense member's
    work), convolutional ones by ``conv_padding.signature`` (``poolings``: the kinds of
    pooling their programs offer, default the members'); ``in_shape`` is one example's
    shape (or its width). With ``max_width`` (the space's widest), each width (and, up to
    ``max_channels``, each block's channels) is rounded up to a power of two and the member
    count up to a multiple of ``per_program`` (extra members copy the last; their results
    are dropped), so that later generations can reuse the compiled programs. ``compiled``
    (updated): {group key: [padded sizes of the programs made so far]}; a group takes the
    smallest of those that holds it, else its own."""
    in_shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
    by_key: dict[tuple, list[int]] = {}
    for i, c in enumerate(candidates):
        key = ("conv",) + conv_padding.signature(c) if c.conv else ("dense", len(c.hidden), c.activation == "maxout")
        by_key.setdefault(key, []).append(i)
    out = []
    for key, idx in sorted(by_key.items(), key=lambda item: repr(item[0])):
        members = [candidates[i] for i in idx]
        if key[0] == "conv":
            out.append((idx, _conv_group(members, in_shape, classes, key, kinds, optimizers, poolings, max_width,
                                         max_channels, per_program, compiled)))
            continue
        maxout = key[2]
        widths = None
        if max_width is not None:
            widths = tuple(min(max(max_width, w), _power_of_two(w))
                           for w in (max(ws) for ws in zip(*(c.hidden for c in members))))
            if compiled is not None:
                made = compiled.setdefault((len(widths), maxout), [])
                holders = [m for m in made if all(a >= b for a, b in zip(m, widths))]
                # The narrowest by the group's hidden weights: the least padded work.
                widths = min(holders, key=lambda m: sum(a * b for a, b in zip(m, m[1:])) + m[0], default=widths)
                made += [] if widths in made else [widths]
            members += [members[-1]] * (-len(members) % per_program)
        own = None if kinds is None else tuple(k for k in kinds if (k == "maxout") == maxout)
        out.append((idx, Group(tuple(members), in_shape, classes, pieces, widths, own, optimizers)))
    return out


def _conv_group(members, in_shape, classes, key, kinds, optimizers, poolings, max_width, max_channels,
                per_program, compiled) -> ConvGroup:
    """The ConvGroup of convolutional ``members`` of one signature ``key`` (see ``group_candidates``)."""
    sizes = None
    if max_width is not None:
        channels = tuple(min(max(max_channels or 0, ch), _power_of_two(ch))
                         for ch in (max(c.conv[i][0] for c in members) for i in range(len(members[0].conv))))
        kernels = tuple(max(c.conv[i][1] for c in members) for i in range(len(members[0].conv)))
        widths = tuple(min(max(max_width, w), _power_of_two(w))
                       for w in (max(ws) for ws in zip(*(c.hidden for c in members))))
        sizes = (channels, kernels, widths)
        if compiled is not None:
            made = compiled.setdefault(key, [])
            holders = [m for m in made if all(a >= b for part, own in zip(m, sizes) for a, b in zip(part, own))]
            # The smallest by its kernels' and hidden layers' weights: the least padded work.
            sizes = min(holders, key=_conv_cost, default=sizes)
            made += [] if sizes in made else [sizes]
        members = list(members) + [members[-1]] * (-len(members) % per_program)
    own = None if kinds is None else tuple(k for k in kinds if k != "maxout")
    channels, kernels, widths = sizes or (None, None, None)
    pools = None if poolings is None else tuple(p for p in poolings if p != "none")
    return ConvGroup(tuple(members), in_shape, classes, channels, kernels, widths, own, optimizers, pools)


def _conv_cost(sizes) -> int:
    channels, kernels, widths = sizes
    conv = sum(k * k * a * b for k, a, b in zip(kernels, (1,) + channels, channels))
    return conv + sum(a * b for a, b in zip(widths, widths[1:])) + sum(widths)


def _power_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def masks(group: Group | ConvGroup) -> list:
    """The stacked 0/1 mask tree (leading axis N): 1 on each member's own weights and
    biases, 0 on padding and on ``kind``."""
    if isinstance(group, ConvGroup):
        return conv_padding.masks(group)
    n, tree = len(group.members), []
    for (in_p, out_p, p_p), layer in zip(group._padded(), range(len(group.widths) + 1)):
        w, b = np.zeros((n, in_p, out_p, p_p), np.float32), np.zeros((n, out_p, p_p), np.float32)
        for i, c in enumerate(group.members):
            a, o, p = group._real(c)[layer]
            w[i, :a, :o, :p], b[i, :o, :p] = 1, 1
        if layer < len(group.widths):
            tree += [{"w": w, "b": b, "kind": np.zeros((n,), np.float32)}, {}]
        else:
            tree.append({"w": w[..., 0], "b": b[..., 0]})
    return ([{}] if len(group.in_shape) > 1 else []) + tree  # Flatten first for images


def pad(group: Group | ConvGroup, plain_params: list) -> list:
    """Stacked padded parameters from each member's own (unpadded) parameters, a list of
    N trees of ``fnnet.runs.preparation.build``'s network (Dense or Maxout hidden layers, Dropout
    entries ``{}``), padded with exact zeros."""
    if isinstance(group, ConvGroup):
        return conv_padding.pad(group, plain_params)
    out = _zeros(group, np.asarray(jax.tree.leaves(plain_params[0])[0]).dtype)
    for i, (c, params) in enumerate(zip(group.members, plain_params)):
        # Dropout entries ({}) have no parameters: pair the others in order.
        for src, dst in zip([e for e in params if e], [e for e in out if e]):
            w, b = np.asarray(src["w"]), np.asarray(src["b"])
            if "kind" in dst:
                if w.ndim == 2:  # Dense: piece 0 of a Switch layer
                    w, b = w[..., None], b[..., None]
                dst["kind"][i] = group.kinds.index(c.activation)
            dst["w"][i][tuple(slice(0, s) for s in w.shape)] = w
            dst["b"][i][tuple(slice(0, s) for s in b.shape)] = b
    return jax.tree.map(jnp.asarray, out)


def _zeros(group: Group, dtype) -> list:
    """The stacked padded parameter tree of exact zeros (NumPy, writable)."""
    return [jax.tree.map(lambda m: np.zeros(m.shape, dtype), e) for e in masks(group)]


def unpad(group: Group | ConvGroup, params, i: int) -> list:
    """Member i's own parameters (``fnnet.runs.preparation.build``'s network) from the stacked
    padded tree: the inverse of ``pad``."""
    if isinstance(group, ConvGroup):
        return conv_padding.unpad(group, params, i)
    c, real, entries = group.members[i], group._real(group.members[i]), [e for e in params if e]
    plain = [{}] if len(group.in_shape) > 1 else []  # Flatten
    for layer, (e, (a, o, p)) in enumerate(zip(entries, real)):
        w, b = np.asarray(e["w"][i]), np.asarray(e["b"][i])
        if layer < len(real) - 1:
            w, b = w[:a, :o, :p], b[:o, :p]
            if c.activation != "maxout":
                w, b = w[..., 0], b[..., 0]
            plain.append({"w": w, "b": b})
            if c.dropout > 0:
                plain.append({})
        else:
            plain.append({"w": w[:a], "b": b})
    return plain


def init(group: Group | ConvGroup, keys, dtype="float32") -> list:
    """Stacked padded initial parameters: each member's own block drawn on the host with
    the scheme its own layer would use (He normal, truncated at 2σ, for ReLU-like and
    maxout; Glorot uniform for the rest and the output, as Dense and Maxout choose), on
    the (in, out · pieces) view: w ~ N(0, 2 / in) or U(±√(6 / (in + out · pieces))).
    Padding and biases are exact zeros; NumPy arrays. Member i's generator is seeded by
    ``keys[i]``'s data, so the draw follows from the keys."""
    # On the host: a vmapped draw of every padded layer compiled for 2 s a group, longer
    # than training some groups; NumPy draws the real blocks in milliseconds.
    if isinstance(group, ConvGroup):
        return conv_padding.init(group, keys, dtype)
    out = _zeros(group, dtype)
    seeds = np.asarray(jax.random.key_data(keys)).reshape(len(group.members), -1)
    entries = [e for e in out if e]
    for i, c in enumerate(group.members):
        rng = np.random.default_rng([int(s) for s in seeds[i]])
        he = c.activation == "maxout" or c.activation in activations.RELU_LIKE
        for j, ((a, o, p), entry) in enumerate(zip(group._real(c), entries)):
            scheme = "he" if j < len(group.widths) and he else "glorot"
            w = initializers.numpy_draw(rng, (a, o * p), scheme, a, o * p)
            block = (slice(0, a), slice(0, o)) + ((slice(0, p),) if entry["w"].ndim == 4 else ())
            entry["w"][i][block] = w.reshape(entry["w"][i][block].shape)
            if "kind" in entry:
                entry["kind"][i] = group.kinds.index(c.activation)
    return out

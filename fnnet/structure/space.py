"""The structure search's space (the notes' open question, "can the structure be determined
automatically?" -> evolutionary artificial neural networks, and its other one, "can we
design the network structure?" -> convolutions): bounds and choices, checked; candidates
drawn, mutated (within bounds) and recombined with a NumPy Generator. NumPy only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fnnet.names import OPTIMIZERS

#: Hidden activations the search can choose ("maxout": max of ``pieces`` linear pieces;
#: dense layers only).
SEARCH_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "maxout")
#: The kinds of structure: fully connected, or convolution blocks before dense layers.
SEARCH_KINDS = ("dense", "conv")
#: Pooling after a convolution block (window 2 per axis, stride 2), or none.
SEARCH_POOLINGS = ("max", "avg", "none")
#: Each pooling's window and stride per axis.
POOL_SIZE = 2


def largest_kernel(in_shape) -> int:
    """The largest kernel examples of ``in_shape`` (positions..., channels) can use: 2h - 1
    for their shortest axis of h positions; a larger "SAME" kernel's outer taps would only
    ever read the zero padding."""
    return 2 * min(in_shape[:-1]) - 1


def conv_out(spatial: tuple, stride: int, pool: str) -> tuple:
    """One block's output positions: a "SAME" convolution keeps ⌈h / stride⌉ of h, then
    a pooling ⌊h / 2⌋."""
    after = tuple(-(-h // stride) for h in spatial)
    return after if pool == "none" else tuple(h // POOL_SIZE for h in after)


@dataclass(frozen=True)
class Candidate:
    """One network's genes: hidden widths (depth = their number), hidden activation,
    dropout rate after each hidden layer, optimizer, learning rate η and L2 λ; and for a
    convolutional candidate its blocks before the hidden layers, ``conv``: (channels,
    kernel, stride, pooling) each, the hidden activation after every convolution."""

    hidden: tuple
    activation: str
    dropout: float
    optimizer: str
    lr: float
    l2: float
    conv: tuple = ()

    @property
    def kind(self) -> str:
        """"conv" with convolution blocks, else "dense"."""
        return "conv" if self.conv else "dense"

    def settings(self) -> dict:
        """The genes as ``fnnet train`` settings (``fnnet.runs.settings.SETTINGS`` names)."""
        out = {"hidden": list(self.hidden), "activation": self.activation, "dropout": self.dropout,
               "optimizer": self.optimizer, "lr": self.lr, "l2": self.l2}
        if self.conv:
            channels, kernels, strides, pools = (list(v) for v in zip(*self.conv))
            out.update(conv=channels, kernel=kernels, conv_stride=strides, pool=pools, pool_size=POOL_SIZE)
        return out

    def param_count(self, in_shape, classes: int, pieces: int = 2) -> int:
        """Weights and biases of the unpadded network ``in -> blocks... -> hidden... ->
        classes`` (``in_shape`` one example's shape, or its width): a block's (k^d c_in + 1)
        c_out, a dense layer's (n_in + 1) n_out, times ``pieces`` for maxout layers."""
        in_shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
        count, spatial, c = 0, in_shape[:-1], in_shape[-1]
        for channels, kernel, stride, pool in self.conv:
            count += (kernel ** len(spatial) * c + 1) * channels
            spatial, c = conv_out(spatial, stride, pool), channels
        p = pieces if self.activation == "maxout" else 1
        widths = (math.prod(spatial) * c,) + tuple(self.hidden)
        hidden = sum((a + 1) * b * p for a, b in zip(widths, widths[1:]))
        return count + hidden + (widths[-1] + 1) * classes

    def describe(self) -> str:
        blocks = " ".join(f"c{ch}k{k}s{st}{'' if pool == 'none' else pool}" for ch, k, st, pool in self.conv)
        hidden = "-".join(map(str, self.hidden)) or "-"
        return (f"{blocks + ' | ' if blocks else ''}{hidden} {self.activation} {self.optimizer} lr {self.lr:.3g} "
                f"l2 {self.l2:.3g} dropout {self.dropout:.2f}")


def _pair(name: str, value, kind, low, low_text: str, *, strict_high=None):
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, kind) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok:
        raise ValueError(f"SearchSpace.{name}: expected (min, max), two {kind.__name__ if kind is int else 'number'}s, "
                         f"got {value!r}")
    lo, hi = value
    if not low(lo) or (strict_high is not None and not hi < strict_high):
        raise ValueError(f"SearchSpace.{name}: expected {low_text}, got {tuple(value)!r}")
    if lo > hi:
        raise ValueError(f"SearchSpace.{name}: expected min <= max, got min {lo!r} > max {hi!r}")
    return (lo, hi)


def _names(name: str, value, valid: tuple):
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"SearchSpace.{name}: expected a non-empty list of names from {', '.join(valid)}, "
                         f"got {value!r}")
    unknown = [v for v in value if v not in valid]
    if unknown:
        raise ValueError(f"SearchSpace.{name}: unknown {unknown[0]!r}; expected some of {', '.join(valid)}")
    return tuple(dict.fromkeys(value))


def _choices(name: str, value, valid=None, *, odd: bool = False):
    """A non-empty tuple of distinct positive ints (``valid`` None) or names from ``valid``."""
    if valid is not None:
        return _names(name, value, valid)
    ok = (isinstance(value, (tuple, list)) and value
          and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 and (v % 2 or not odd) for v in value))
    if not ok:
        raise ValueError(f"SearchSpace.{name}: expected a non-empty list of {'odd ' * odd}ints >= 1, got {value!r}")
    return tuple(sorted(set(value)))


@dataclass(frozen=True)
class SearchSpace:
    """Bounds and choices: ``depth`` and ``width`` (min, max) ints (widths drawn
    log-uniformly), ``lr`` (min, max) > 0 (log-uniform), ``l2`` (min, max) >= 0
    (log-uniform over [max(min, max/1000), max]; when min is 0, a quarter of draws are 0),
    ``dropout`` (min, max) in [0, 1) (uniform), ``activations`` and ``optimizers`` names,
    ``pieces`` per maxout unit.

    ``kinds``: "dense" (fully connected) and "conv" (convolution blocks, then ``head``
    (min, max) dense hidden layers of ``width``); convolutional candidates arise only on
    data whose examples have positions ((length, channels) or (height, width, channels)).
    A block is a "SAME" convolution of ``channels`` (min, max) (log-uniform), a kernel of
    ``kernels`` (odd, none smaller than a stride: a padded group then computes exactly
    each member's convolution), a stride of ``strides``, then a pooling of ``poolings``
    (window and stride 2); ``blocks`` (min, max) of them. Members that differ only in
    their poolings' kind (max or average) train in one program; each value of ``strides``
    and "none" among ``poolings`` makes signatures of their own, so programs of their own
    (the default downsamples by pooling alone: ``strides`` (1,)). A ValueError names a
    field that does not fit."""

    depth: tuple = (1, 3)
    width: tuple = (16, 1024)
    activations: tuple = SEARCH_ACTIVATIONS
    optimizers: tuple = OPTIMIZERS
    lr: tuple = (1e-4, 1e-1)
    l2: tuple = (0.0, 1e-3)
    dropout: tuple = (0.0, 0.5)
    pieces: int = field(default=2)
    kinds: tuple = SEARCH_KINDS
    blocks: tuple = (1, 2)
    channels: tuple = (8, 64)
    kernels: tuple = (3, 5)
    strides: tuple = (1,)
    poolings: tuple = ("max", "avg")
    head: tuple = (0, 1)

    def __post_init__(self):
        fields = {
            "depth": _pair("depth", self.depth, int, lambda v: v >= 1, "min >= 1"),
            "width": _pair("width", self.width, int, lambda v: v >= 1, "min >= 1"),
            "lr": _pair("lr", _floats(self.lr), float, lambda v: v > 0, "min > 0"),
            "l2": _pair("l2", _floats(self.l2), float, lambda v: v >= 0, "min >= 0"),
            "dropout": _pair("dropout", _floats(self.dropout), float, lambda v: v >= 0, "0 <= min <= max < 1",
                             strict_high=1.0),
            "activations": _names("activations", self.activations, SEARCH_ACTIVATIONS),
            "optimizers": _names("optimizers", self.optimizers, OPTIMIZERS),
            "kinds": _names("kinds", self.kinds, SEARCH_KINDS),
            "blocks": _pair("blocks", self.blocks, int, lambda v: v >= 1, "min >= 1"),
            "channels": _pair("channels", self.channels, int, lambda v: v >= 1, "min >= 1"),
            "kernels": _choices("kernels", self.kernels, odd=True),
            "strides": _choices("strides", self.strides),
            "poolings": _choices("poolings", self.poolings, SEARCH_POOLINGS),
            "head": _pair("head", self.head, int, lambda v: v >= 0, "min >= 0"),
        }
        if isinstance(self.pieces, bool) or not isinstance(self.pieces, int) or self.pieces < 1:
            raise ValueError(f"SearchSpace.pieces: expected an int >= 1, got {self.pieces!r}")
        if "conv" in fields["kinds"]:
            if min(fields["kernels"]) < max(fields["strides"]):
                raise ValueError(f"SearchSpace.kernels: expected none smaller than a stride (a smaller kernel skips "
                                 f"inputs), got kernels {fields['kernels']} and strides {fields['strides']}")
            if fields["activations"] == ("maxout",):
                raise ValueError("SearchSpace.activations: convolutions need an activation other than maxout "
                                 "(maxout is for dense layers); add one, or search kinds ('dense',)")
        from fnnet.runs import settings  # each bound must be what fnnet train accepts (float32 range)

        for name, check in (("lr", settings.positive_number), ("l2", settings.non_negative_number)):
            for bound in fields[name]:
                try:
                    check(bound)
                except ValueError as e:
                    raise ValueError(f"SearchSpace.{name}: {e}") from None
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def kinds_for(self, in_shape=None) -> tuple:
        """The kinds a candidate can be on examples of ``in_shape``: "conv" only where they
        have positions (None or a flat shape: "dense" alone). A ValueError when none is left,
        or when none of ``kernels`` fits examples with positions (``kernels_for``)."""
        spatial = in_shape is not None and len(in_shape) >= 2
        if spatial and "conv" in self.kinds and not self.kernels_for(in_shape):
            raise ValueError(f"SearchSpace.kernels {self.kernels}: every one is larger than examples of shape "
                             f"{tuple(in_shape)} can use (its outer taps would only ever read the zero padding); "
                             f"expected one of at most {largest_kernel(in_shape)}, or kinds ('dense',) alone")
        kinds = tuple(k for k in self.kinds if k == "dense" or spatial)
        if not kinds:
            raise ValueError(f"SearchSpace.kinds {self.kinds}: convolutions need examples with positions, "
                             f"(length, channels) or (height, width, channels); these have shape {in_shape}")
        return kinds

    def kernels_for(self, in_shape) -> tuple:
        """The ``kernels`` that fit examples of ``in_shape`` (positions..., channels): none
        larger than 2h - 1 for an axis of h positions, whose outer taps would only ever read
        the zero padding, in every block (as ``fnnet train`` checks)."""
        return tuple(k for k in self.kernels if k <= largest_kernel(in_shape))

    # ------------------------------------------------------------ drawing

    def sample(self, rng: np.random.Generator, in_shape=None) -> Candidate:
        """A candidate drawn from the whole space (a convolutional one only on examples of
        an ``in_shape`` with positions)."""
        kinds = self.kinds_for(in_shape)
        if len(kinds) > 1 and str(rng.choice(kinds)) == "conv" or kinds == ("conv",):
            return self._sample_conv(rng, in_shape)
        depth = int(rng.integers(self.depth[0], self.depth[1] + 1))
        return Candidate(tuple(self._width(rng) for _ in range(depth)), str(rng.choice(self.activations)),
                         self._clip("dropout", rng.uniform(*self.dropout)), str(rng.choice(self.optimizers)),
                         self._log("lr", rng.uniform(*np.log(self.lr))), self._l2(rng))

    def _sample_conv(self, rng, in_shape) -> Candidate:
        blocks = tuple(self._block(rng) for _ in range(int(rng.integers(self.blocks[0], self.blocks[1] + 1))))
        head = int(rng.integers(self.head[0], self.head[1] + 1))
        c = Candidate(tuple(self._width(rng) for _ in range(head)), str(rng.choice(self._conv_activations)),
                      self._clip("dropout", rng.uniform(*self.dropout)), str(rng.choice(self.optimizers)),
                      self._log("lr", rng.uniform(*np.log(self.lr))), self._l2(rng), blocks)
        return self.fit(c, in_shape)

    def _block(self, rng) -> tuple:
        return (self._log_int("channels", rng.uniform(*np.log(self.channels))), int(rng.choice(self.kernels)),
                int(rng.choice(self.strides)), str(rng.choice(self.poolings)))

    @property
    def _conv_activations(self) -> tuple:
        return tuple(a for a in self.activations if a != "maxout")

    def fit(self, c: Candidate, in_shape) -> Candidate:
        """``c`` made to fit examples of ``in_shape``: a kernel larger than they can use
        becomes the largest of ``kernels_for`` them; a block whose pooling would leave an
        axis below one position goes, or if ``blocks`` needs it, pools no more ("none",
        outside ``poolings`` where the examples leave no choice: ``check`` with ``in_shape``
        accepts it); a convolutional candidate's maxout becomes the space's first other
        activation; a dense candidate is returned as it is."""
        if not c.conv:
            return c
        spatial, blocks, fitting = tuple(in_shape[:-1]), [], self.kernels_for(in_shape)
        for i, (channels, kernel, stride, pool) in enumerate(c.conv):
            if kernel > largest_kernel(in_shape) and fitting:
                kernel = max(fitting)  # no smaller than a stride: so is every kernel of the space
            if pool != "none" and min(conv_out(spatial, stride, "none")) < POOL_SIZE:
                left_without = len(blocks) + len(c.conv) - i - 1  # the blocks if this one goes
                if "none" not in self.poolings and left_without >= self.blocks[0]:
                    continue  # the block goes: its examples are too small to pool again
                pool = "none"
            blocks.append((channels, kernel, stride, pool))
            spatial = conv_out(spatial, stride, pool)
        activation = c.activation if c.activation != "maxout" else self._conv_activations[0]
        return Candidate(c.hidden, activation, c.dropout, c.optimizer, c.lr, c.l2, tuple(blocks))

    def mutate(self, c: Candidate, rng: np.random.Generator, rate: float = 0.3, in_shape=None) -> Candidate:
        """Each gene changes with probability ``rate`` (at least one does): depth ±1 (a layer
        copied or removed; for a convolutional candidate a block or a hidden layer), widths
        and channels × e^N(0, 0.4), another activation or optimizer, η and λ × e^N(0, 1) (η
        drawn afresh a third of the time), dropout + N(0, 0.1); a block's kernel, stride or
        pooling drawn afresh; where both kinds can be, the other kind's structure drawn
        afresh. Every result clipped into the space."""
        both = len(self.kinds_for(in_shape)) > 1
        genes = rng.random(8 if both or c.conv else 6) < rate
        if not genes.any():
            genes[rng.integers(len(genes))] = True
        if len(genes) == 8 and genes[7] and both:
            fresh = self._sample_conv(rng, in_shape) if not c.conv else self._sample_dense_structure(rng)
            c = Candidate(fresh.hidden, fresh.activation, c.dropout, c.optimizer, c.lr, c.l2, fresh.conv)
            if c.conv:
                c = self.fit(c, in_shape)
        conv, hidden = list(c.conv), list(c.hidden)
        if genes[0]:
            if conv and rng.random() < 0.5:
                conv = self._grow_or_shrink(conv, self.blocks, rng)
            else:
                hidden = self._grow_or_shrink(hidden, self.head if conv else self.depth, rng)
        if genes[1]:
            hidden = [int(round(w * math.exp(rng.normal(0, 0.4)))) for w in hidden]
            conv = [(int(round(ch * math.exp(rng.normal(0, 0.4)))), k, st, pool) for ch, k, st, pool in conv]
        hidden = [int(np.clip(w, *self.width)) for w in hidden]
        conv = [(int(np.clip(ch, *self.channels)), k, st, pool) for ch, k, st, pool in conv]
        if len(genes) == 8 and genes[6] and conv:
            i, which = int(rng.integers(len(conv))), int(rng.integers(3))
            block = list(conv[i])
            block[1 + which] = (int(rng.choice(self.kernels)), int(rng.choice(self.strides)),
                                str(rng.choice(self.poolings)))[which]
            conv[i] = tuple(block)
        activations = self._conv_activations if conv else self.activations
        activation = self._other(c.activation, activations, rng) if genes[2] else c.activation
        optimizer = self._other(c.optimizer, self.optimizers, rng) if genes[3] else c.optimizer
        lr, l2 = c.lr, c.l2
        if genes[4]:
            # A third of the time a fresh draw: a flat stretch of fitness gives no gradient to climb.
            fresh = rng.random() < 1 / 3
            lr = self._log("lr", rng.uniform(*np.log(self.lr)) if fresh else math.log(lr) + rng.normal(0, 1.0))
            l2 = self._l2(rng) if l2 == 0 or rng.random() < 0.2 else self._log("l2", math.log(l2) + rng.normal(0, 1.0))
        dropout = self._clip("dropout", c.dropout + rng.normal(0, 0.1)) if genes[5] else c.dropout
        child = Candidate(tuple(hidden), activation, dropout, optimizer, self._clip("lr", lr), self._clip("l2", l2),
                          tuple(conv))
        return self.fit(child, in_shape) if conv else child

    def _sample_dense_structure(self, rng) -> Candidate:
        depth = int(rng.integers(self.depth[0], self.depth[1] + 1))
        return Candidate(tuple(self._width(rng) for _ in range(depth)), str(rng.choice(self.activations)), 0.0,
                         self.optimizers[0], self.lr[0], self.l2[0])

    @staticmethod
    def _grow_or_shrink(items: list, bounds: tuple, rng) -> list:
        """One item copied (beside itself) or removed, within ``bounds`` on the count."""
        items = list(items)
        grow, can_grow, can_shrink = rng.random() < 0.5, len(items) < bounds[1], len(items) > bounds[0]
        if can_grow and (grow or not can_shrink):
            if items:
                i = int(rng.integers(len(items)))
                items.insert(i, items[i])
        elif can_shrink:
            items.pop(int(rng.integers(len(items))))
        return items

    def crossover(self, a: Candidate, b: Candidate, rng: np.random.Generator, in_shape=None) -> Candidate:
        """Uniform recombination: each gene from either parent; the depth from one, the
        width at each position from either parent that has one; of two candidates of one
        kind the blocks likewise (each block whole), of two kinds one parent's structure."""
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        hidden = tuple(second.hidden[i] if i < len(second.hidden) and rng.random() < 0.5 else w
                       for i, w in enumerate(first.hidden))
        if first.kind == second.kind:
            conv = tuple(second.conv[i] if i < len(second.conv) and rng.random() < 0.5 else block
                         for i, block in enumerate(first.conv))
        else:
            conv, hidden = first.conv, first.hidden
        pick = rng.random(5) < 0.5
        genes = [(b if p else a) for p in pick]
        child = Candidate(hidden, genes[0].activation, genes[1].dropout, genes[2].optimizer, genes[3].lr,
                          genes[4].l2, conv)
        return self.fit(child, in_shape) if conv else child

    def check(self, c: Candidate, in_shape=None) -> Candidate:
        """``c`` if it lies in the space; a ValueError names its first gene that does not.
        With ``in_shape``, a block that cannot pool its examples may pool "none" (``fit``)."""
        depth = ("head", len(c.hidden), self.head) if c.conv else ("depth", len(c.hidden), self.depth)
        problems = [depth, ("lr", c.lr, self.lr), ("l2", c.l2, self.l2),
                    ("dropout", c.dropout, self.dropout)] + [("width", w, self.width) for w in c.hidden]
        if c.conv:
            problems += [("blocks", len(c.conv), self.blocks)] + [("channels", b[0], self.channels) for b in c.conv]
        for name, value, (lo, hi) in problems:
            if not lo <= value <= hi:
                raise ValueError(f"candidate {c.describe()}: {name} {value!r} is outside the space's [{lo}, {hi}]")
        choices = [("activation", c.activation, self._conv_activations if c.conv else self.activations),
                   ("optimizer", c.optimizer, self.optimizers), ("kind", c.kind, self.kinds)]
        spatial = None if in_shape is None else tuple(in_shape[:-1])
        for _, kernel, stride, pool in c.conv:
            forced = spatial is not None and min(conv_out(spatial, stride, "none")) < POOL_SIZE
            choices += [("kernel", kernel, self.kernels), ("stride", stride, self.strides),
                        ("pooling", pool, self.poolings + ("none",) * forced)]
            spatial = None if spatial is None else conv_out(spatial, stride, pool)
        for name, value, valid in choices:
            if value not in valid:
                raise ValueError(f"candidate {c.describe()}: {name} {value!r} is not among "
                                 f"{', '.join(map(str, valid))}")
        return c

    # ------------------------------------------------------------ helpers

    def _width(self, rng) -> int:
        return int(np.clip(round(math.exp(rng.uniform(*np.log(self.width)))), *self.width))

    def _log_int(self, name: str, log_value: float) -> int:
        return int(np.clip(round(math.exp(log_value)), *getattr(self, name)))

    def _l2(self, rng) -> float:
        lo, hi = self.l2
        if hi == 0 or (lo == 0 and rng.random() < 0.25):
            return lo
        return self._log("l2", rng.uniform(math.log(max(lo, hi / 1000)), math.log(hi)))

    def _log(self, name: str, log_value: float) -> float:
        return self._clip(name, float(f"{math.exp(log_value):.3g}"))

    def _clip(self, name: str, value: float) -> float:
        lo, hi = getattr(self, name)
        # Three significant digits read well in a leaderboard; clipped after rounding.
        return float(np.clip(float(f"{value:.3g}"), lo, hi))

    @staticmethod
    def _other(current: str, choices: tuple, rng) -> str:
        others = [c for c in choices if c != current]
        if current not in choices:  # a dense parent's maxout on a convolutional child
            return str(rng.choice(choices))
        return str(rng.choice(others)) if others else current


def _floats(value):
    """A pair of numbers as floats (ints are fine for rates); anything else as it came."""
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                for v in value):
        return tuple(float(v) for v in value)
    return value


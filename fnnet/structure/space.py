"""The structure search's space (the notes' open question, "can the structure be determined
automatically?" -> evolutionary artificial neural networks): bounds and choices, checked;
candidates drawn, mutated (within bounds) and recombined with a NumPy Generator. NumPy
only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fnnet.names import OPTIMIZERS

#: Hidden activations the search can choose ("maxout": max of ``pieces`` linear pieces).
SEARCH_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "maxout")


@dataclass(frozen=True)
class Candidate:
    """One network's genes: hidden widths (depth = their number), hidden activation,
    dropout rate after each hidden layer, optimizer, learning rate η and L2 λ."""

    hidden: tuple
    activation: str
    dropout: float
    optimizer: str
    lr: float
    l2: float

    def settings(self) -> dict:
        """The genes as ``fnnet train`` settings (``fnnet.runs.settings.SETTINGS`` names)."""
        return {"hidden": list(self.hidden), "activation": self.activation, "dropout": self.dropout,
                "optimizer": self.optimizer, "lr": self.lr, "l2": self.l2}

    def param_count(self, in_features: int, classes: int, pieces: int = 2) -> int:
        """Weights and biases of the unpadded network ``in -> hidden... -> classes``:
        Σ (n_in + 1) n_out, times ``pieces`` for maxout hidden layers."""
        p = pieces if self.activation == "maxout" else 1
        widths = (in_features,) + tuple(self.hidden)
        hidden = sum((a + 1) * b * p for a, b in zip(widths, widths[1:]))
        return hidden + (widths[-1] + 1) * classes

    def describe(self) -> str:
        return (f"{'-'.join(map(str, self.hidden))} {self.activation} {self.optimizer} lr {self.lr:.3g} "
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


@dataclass(frozen=True)
class SearchSpace:
    """Bounds and choices: ``depth`` and ``width`` (min, max) ints (widths drawn
    log-uniformly), ``lr`` (min, max) > 0 (log-uniform), ``l2`` (min, max) >= 0
    (log-uniform over [max(min, max/1000), max]; when min is 0, a quarter of draws are 0),
    ``dropout`` (min, max) in [0, 1) (uniform), ``activations`` and ``optimizers`` names,
    ``pieces`` per maxout unit. A ValueError names a field that does not fit."""

    depth: tuple = (1, 3)
    width: tuple = (16, 256)
    activations: tuple = SEARCH_ACTIVATIONS
    optimizers: tuple = OPTIMIZERS
    lr: tuple = (1e-4, 1e-1)
    l2: tuple = (0.0, 1e-3)
    dropout: tuple = (0.0, 0.5)
    pieces: int = field(default=2)

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
        }
        if isinstance(self.pieces, bool) or not isinstance(self.pieces, int) or self.pieces < 1:
            raise ValueError(f"SearchSpace.pieces: expected an int >= 1, got {self.pieces!r}")
        from fnnet.runs import settings  # each bound must be what fnnet train accepts (float32 range)

        for name, check in (("lr", settings.positive_number), ("l2", settings.non_negative_number)):
            for bound in fields[name]:
                try:
                    check(bound)
                except ValueError as e:
                    raise ValueError(f"SearchSpace.{name}: {e}") from None
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------ drawing

    def sample(self, rng: np.random.Generator) -> Candidate:
        """A candidate drawn from the whole space."""
        depth = int(rng.integers(self.depth[0], self.depth[1] + 1))
        return Candidate(tuple(self._width(rng) for _ in range(depth)), str(rng.choice(self.activations)),
                         self._clip("dropout", rng.uniform(*self.dropout)), str(rng.choice(self.optimizers)),
                         self._log("lr", rng.uniform(*np.log(self.lr))), self._l2(rng))

    def mutate(self, c: Candidate, rng: np.random.Generator, rate: float = 0.3) -> Candidate:
        """Each gene changes with probability ``rate`` (at least one does): depth ±1 (a layer
        copied or removed), widths × e^N(0, 0.4), another activation or optimizer, η and λ
        × e^N(0, 1) (η drawn afresh a third of the time), dropout + N(0, 0.1); every result
        clipped into the space."""
        genes = rng.random(6) < rate
        if not genes.any():
            genes[rng.integers(6)] = True
        hidden = list(c.hidden)
        if genes[0]:
            grow, can_grow, can_shrink = rng.random() < 0.5, len(hidden) < self.depth[1], len(hidden) > self.depth[0]
            if can_grow and (grow or not can_shrink):
                i = int(rng.integers(len(hidden)))
                hidden.insert(i, hidden[i])
            elif can_shrink:
                hidden.pop(int(rng.integers(len(hidden))))
        if genes[1]:
            hidden = [int(round(w * math.exp(rng.normal(0, 0.4)))) for w in hidden]
        hidden = [int(np.clip(w, *self.width)) for w in hidden]
        activation = self._other(c.activation, self.activations, rng) if genes[2] else c.activation
        optimizer = self._other(c.optimizer, self.optimizers, rng) if genes[3] else c.optimizer
        lr, l2 = c.lr, c.l2
        if genes[4]:
            # A third of the time a fresh draw: a flat stretch of fitness gives no gradient to climb.
            fresh = rng.random() < 1 / 3
            lr = self._log("lr", rng.uniform(*np.log(self.lr)) if fresh else math.log(lr) + rng.normal(0, 1.0))
            l2 = self._l2(rng) if l2 == 0 or rng.random() < 0.2 else self._log("l2", math.log(l2) + rng.normal(0, 1.0))
        dropout = self._clip("dropout", c.dropout + rng.normal(0, 0.1)) if genes[5] else c.dropout
        return Candidate(tuple(hidden), activation, dropout, optimizer, self._clip("lr", lr), self._clip("l2", l2))

    def crossover(self, a: Candidate, b: Candidate, rng: np.random.Generator) -> Candidate:
        """Uniform recombination: each gene from either parent; the depth from one, the
        width at each position from either parent that has one."""
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        hidden = tuple(second.hidden[i] if i < len(second.hidden) and rng.random() < 0.5 else w
                       for i, w in enumerate(first.hidden))
        pick = rng.random(5) < 0.5
        genes = [(b if p else a) for p in pick]
        return Candidate(hidden, genes[0].activation, genes[1].dropout, genes[2].optimizer, genes[3].lr, genes[4].l2)

    def check(self, c: Candidate) -> Candidate:
        """``c`` if it lies in the space; a ValueError names its first gene that does not."""
        problems = [("depth", len(c.hidden), self.depth), ("lr", c.lr, self.lr), ("l2", c.l2, self.l2),
                    ("dropout", c.dropout, self.dropout)] + [("width", w, self.width) for w in c.hidden]
        for name, value, (lo, hi) in problems:
            if not lo <= value <= hi:
                raise ValueError(f"candidate {c.describe()}: {name} {value!r} is outside the space's [{lo}, {hi}]")
        for name, value, valid in (("activation", c.activation, self.activations),
                                   ("optimizer", c.optimizer, self.optimizers)):
            if value not in valid:
                raise ValueError(f"candidate {c.describe()}: {name} {value!r} is not among {', '.join(valid)}")
        return c

    # ------------------------------------------------------------ helpers

    def _width(self, rng) -> int:
        return int(np.clip(round(math.exp(rng.uniform(*np.log(self.width)))), *self.width))

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
        return str(rng.choice(others)) if others else current


def _floats(value):
    """A pair of numbers as floats (ints are fine for rates); anything else as it came."""
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                for v in value):
        return tuple(float(v) for v in value)
    return value


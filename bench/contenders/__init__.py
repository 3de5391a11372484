"""The contenders: each a maker ``(Task) -> Runner`` that builds its network, optimizer and
training loop, or raises Skip (a missing library, an unsupported device)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from bench.contenders import (fnnet_fit, peer_equinox, peer_flax, peer_haiku, peer_torch,
                              pure_jax, notes_loop)
from bench.contenders.common import Runner, Skip, Task

__all__ = ["CEILING", "CONTENDERS", "Contender", "Runner", "Skip", "Task", "select"]


@dataclass(frozen=True)
class Contender:
    key: str  # what --contenders names
    name: str  # what the table shows
    make: Callable[[Task], Runner]
    only: tuple | None = None  # the configurations it runs in; None: all


CONTENDERS = (
    Contender("fnnet", "fnnet fit", fnnet_fit.make_autodiff),
    Contender("fnnet-backprop", "fnnet fit (backprop)", fnnet_fit.make_backprop),
    Contender("fnnet-epochs", "fnnet epochs program", fnnet_fit.make_epochs),
    Contender("scan", "pure-JAX scan", pure_jax.make_scan),
    Contender("per-step", "per-step jit", pure_jax.make_per_step),
    Contender("flax", "Flax NNX", peer_flax.make),
    Contender("equinox", "Equinox", peer_equinox.make),
    Contender("haiku", "Haiku", peer_haiku.make),
    Contender("torch", "PyTorch eager", peer_torch.make),
    Contender("notes-python", "the notes' pure Python", notes_loop.make, only=("worked-example",)),
)
#: Every ratio is against this one, so it always runs.
CEILING = "scan"


def select(keys) -> tuple:
    """The contenders named by ``keys`` (all when empty), plus the ceiling; a ValueError
    lists the valid keys for an unknown one."""
    known = {c.key for c in CONTENDERS}
    unknown = sorted(set(keys or ()) - known)
    if unknown:
        raise ValueError(f"unknown contenders {unknown}; expected some of {[c.key for c in CONTENDERS]}")
    wanted = set(keys or known) | {CEILING}
    return tuple(c for c in CONTENDERS if c.key in wanted)

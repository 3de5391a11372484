"""Evolutionary structure search, the notes' answer to "can the structure be determined
automatically?" (evolutionary artificial neural networks): fully connected or
convolutional (the notes' designed structure: blocks of channels, kernels, strides and
poolings before the dense layers), depth, widths, hidden activation, dropout, L2 λ,
optimizer and learning rate, scored by validation accuracy.

Each generation trains its new candidates as one compiled program per depth (maxout
apart) or convolutional signature (``fnnet.structure.padding``: widths, channels and
kernels padded and masked, activations and optimizers chosen per member); the best ``elite`` are carried unchanged (not retrained), the rest of the next
population are children of tournament-selected parents, recombined
(``SearchSpace.crossover``) and mutated within the space's bounds. Every evolutionary
choice comes from one ``numpy.random.Generator(seed)``, every member's jax key from a
seed it draws, so a search is reproducible from its seed (a ``time_budget`` can only stop
it earlier). The space and candidates are in ``fnnet.structure.space``; the settings
file, leaderboard and picture in ``fnnet.structure.report``.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from fnnet.structure.space import SEARCH_ACTIVATIONS, Candidate, SearchSpace


@dataclass(frozen=True)
class Entry:
    """A trained candidate: its parameter count (the unpadded network's), accuracies, its
    share of its group's training wall time, the generation it was trained in."""

    candidate: Candidate
    params: int
    val_accuracy: float
    test_accuracy: float | None
    seconds: float
    generation: int
    diverged: bool


class Generation(NamedTuple):
    """One generation's report: the population's best and mean validation accuracy, the
    compiled programs (groups) its new candidates needed, how many it trained, and the
    seconds since the search began."""

    generation: int
    best: float
    mean: float
    programs: int
    evaluated: int
    seconds: float


class SearchResult(NamedTuple):
    leaderboard: list  # every Entry trained, best first (validation accuracy, then fewer parameters)
    generations: list  # Generation per generation run
    stopped_by_budget: bool
    interrupted: bool = False  # Ctrl-C (KeyboardInterrupt) ended it after a whole generation

    @property
    def best(self) -> Entry:
        return self.leaderboard[0]

    def best_of(self, kind: str) -> Entry | None:
        """The best entry of one kind ("dense" or "conv"), None if none was trained."""
        return next((e for e in self.leaderboard if e.candidate.kind == kind), None)

    def margin(self) -> float | None:
        """How far the winner's validation accuracy is above the best entry of the other
        kind (>= 0: the leaderboard is sorted); None when only one kind was trained."""
        other = self.best_of("dense" if self.best.candidate.kind == "conv" else "conv")
        return None if other is None else self.best.val_accuracy - other.val_accuracy


def _rank(entry: Entry):
    return -entry.val_accuracy, entry.params


#: The largest population: a generation of more candidates would not be trained in a day on
#: any machine fnnet runs on, and merely listing 10**9 of them exhausts the host's memory.
MAX_POPULATION = 4096


def check_search_settings(population, generations, elite, time_budget, epochs, batch_size, n_train, patience=0):
    """A one-line ValueError for a search's run settings out of range (before any work)."""
    for name, value, low, why in (("population", population, 2, " (selection needs two candidates)"),
                                  ("generations", generations, 1, ""), ("epochs", epochs, 1, ""),
                                  ("batch_size", batch_size, 1, ""), ("patience", patience, 0, " (0: none)")):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}{why}, got {value!r}")
    if population > MAX_POPULATION:
        raise ValueError(f"population: expected at most {MAX_POPULATION} (every candidate is trained in every "
                         f"generation), got {population}")
    if batch_size > n_train:
        raise ValueError(f"batch_size: expected at most the {n_train} training examples, got {batch_size}")
    if isinstance(elite, bool) or not isinstance(elite, int) or not 1 <= elite < population:
        raise ValueError(f"elite: expected an integer in [1, {population - 1}] (fewer than the population), "
                         f"got {elite!r}")
    if time_budget is not None and (isinstance(time_budget, bool) or not isinstance(time_budget, (int, float))
                                    or not time_budget > 0 or math.isnan(time_budget)):
        raise ValueError(f"time_budget: expected a number of seconds > 0 (or None: no limit), got {time_budget!r}")


def _labels(splits: dict):
    if not isinstance(splits, dict) or splits.get("train") is None:
        raise ValueError("splits: expected {'train': (x, labels), 'val': (x, labels), 'test': ... or None}")
    if splits.get("val") is None:
        raise ValueError("splits: the search scores candidates on a validation split; got none (use val > 0)")
    return [np.asarray(s[1]) for s in splits.values() if s is not None]


def search(splits: dict, space: SearchSpace | None = None, *, population: int = 16, generations: int = 5,
           elite: int | None = None, time_budget: float | None = None, seed: int = 0, epochs: int = 10,
           batch_size: int = 32, initial=None, on_generation: Callable | None = None, grad: str = "autodiff",
           mutation_rate: float = 0.3, crossover_rate: float = 0.5, tournament: int = 3,
           classes: int | None = None, patience: int = 0) -> SearchResult:
    """Evolve ``population`` candidates for up to ``generations`` generations.

    Args:
        splits: ``{"train": (x, t), "val": (x, t), "test": (x, t) or None}``, x (n, in)
            standardized features or (n, *shape) examples with positions ((length,
            channels) or (height, width, channels): convolutional candidates can then
            arise), t (n,) class codes 0..K-1 (``fnnet.load_splits`` loads any data set
            ``fnnet train`` can, images in their shape).
        space: a SearchSpace (default: its defaults).
        elite: the best this many are carried unchanged (default population // 8, at least 1).
        time_budget: seconds; no new generation starts after it is spent.
        seed: the Generator's seed (every choice and every key follow from it).
        epochs, batch_size, grad: each candidate's training.
        patience: with > 0, each candidate stops early on the validation loss and keeps
            its best epoch (as ``fnnet train`` does), up to ``epochs``.
        initial: candidates to start from (in the space); the rest are drawn.
        on_generation: called with each ``Generation`` as it ends.
        classes: K (default: the largest label + 1).

    Returns a SearchResult: the leaderboard of every trained candidate, best first.
    """
    from fnnet.structure import padding, trainer  # jax: only once a search runs

    space = SearchSpace() if space is None else space
    if not isinstance(space, SearchSpace):
        raise ValueError(f"space: expected a SearchSpace, got {type(space).__name__}")
    labels = _labels(splits)
    elite = max(1, population // 8) if elite is None and isinstance(population, int) else elite
    check_search_settings(population, generations, elite, time_budget, epochs, batch_size, len(splits["train"][0]),
                          patience)
    stopping = None
    if patience:
        from fnnet.training.monitor import EarlyStopping

        stopping = EarlyStopping("val_loss", patience)
    x_train = np.asarray(splits["train"][0])
    in_shape, k = tuple(x_train.shape[1:]), classes or int(max(t.max() for t in labels)) + 1
    possible = space.kinds_for(in_shape)
    initial = [space.check(c) for c in (initial or [])]
    for c in initial:
        if c.kind not in possible:
            raise ValueError(f"initial: candidate {c.describe()} is convolutional, but the examples have no "
                             f"positions (shape {in_shape})")
    if len(initial) > population:
        raise ValueError(f"initial: expected at most population={population} candidates, got {len(initial)}")
    scored = {name: splits[name] for name in ("val", "test") if splits.get(name) is not None}
    kinds = tuple(a for a in SEARCH_ACTIVATIONS if a in space.activations)  # one order: reused programs
    rng, start = np.random.default_rng(seed), time.perf_counter()
    compiled: dict = {}  # the groups' padded widths so far: a later group that fits reuses a program

    def evaluate(candidates: list, generation: int):
        import jax

        seeds = rng.integers(0, 2**31 - 1, len(candidates))
        entries = [None] * len(candidates)
        per_program = trainer.per_program()
        grouped = padding.group_candidates(candidates, in_shape, k, pieces=space.pieces, kinds=kinds,
                                           optimizers=space.optimizers, poolings=space.poolings,
                                           max_width=space.width[1],
                                           max_channels=space.channels[1], per_program=per_program,
                                           compiled=compiled)
        def train(idx, group):
            keys = trainer.group_keys(idx, len(group.members), lambda i: jax.random.key(int(seeds[i])))
            return trainer.train_group(group, splits["train"], keys=keys, epochs=epochs, batch_size=batch_size,
                                       evaluate=scored, grad=grad, per_program=per_program,
                                       early_stopping=stopping, validation=splits["val"] if patience else None)

        # Groups train side by side: compiling their programs is most of a generation's time
        # on a CPU, and two compiles overlap well; each group's keys are fixed above, so the
        # results do not depend on the order.
        pool = concurrent.futures.ThreadPoolExecutor(max(1, min(len(grouped), os.cpu_count() or 1)))
        try:
            done = list(pool.map(lambda pair: train(*pair), grouped))
        finally:  # Ctrl-C: do not wait for the other groups
            pool.shutdown(wait=False, cancel_futures=True)
        for (idx, group), trained in zip(grouped, done):
            share = trained.seconds / len(group.members)
            for j, i in enumerate(idx):
                c = candidates[i]
                test = trained.accuracy.get("test")
                entries[i] = Entry(c, c.param_count(in_shape, k, space.pieces),
                                   float(trained.accuracy["val"][j]), None if test is None else float(test[j]),
                                   share, generation, bool(trained.diverged[j]))
        return entries, len(grouped)

    def report(generation: int, current: list, programs: int, evaluated: int) -> Generation:
        scores = [e.val_accuracy for e in current]
        g = Generation(generation, max(scores), float(np.mean(scores)), programs, evaluated,
                       time.perf_counter() - start)
        history.append(g)
        if on_generation is not None:
            on_generation(g)
        return g

    first = initial + [space.sample(rng, in_shape) for _ in range(population - len(initial))]
    current, programs = evaluate(first, 1)
    board, history, stopped = list(current), [], False
    report(1, current, programs, len(first))
    interrupted = False
    try:
        for generation in range(2, generations + 1):
            if time_budget is not None and time.perf_counter() - start >= time_budget:
                stopped = True
                break
            ranked = sorted(current, key=_rank)
            children = []
            while len(children) < population - elite:
                parent = ranked[_tournament(rng, len(ranked), tournament)].candidate
                if rng.random() < crossover_rate:
                    parent = space.crossover(parent, ranked[_tournament(rng, len(ranked), tournament)].candidate, rng,
                                             in_shape)
                children.append(space.mutate(parent, rng, mutation_rate, in_shape))
            new, programs = evaluate(children, generation)
            current = ranked[:elite] + new
            board += new
            report(generation, current, programs, len(children))
    except KeyboardInterrupt:  # keep the generations done (the first must be)
        interrupted = True
    return SearchResult(sorted(board, key=_rank), history, stopped, interrupted)


def _tournament(rng: np.random.Generator, n: int, size: int) -> int:
    """The best (lowest rank) of ``size`` ranks drawn with replacement from 0..n-1."""
    return int(rng.integers(0, n, size).min())


def load_splits(**given) -> tuple[dict, dict, list]:
    """``(splits, settings, classes)`` of a data set as ``fnnet train`` loads it: the data
    settings ``given`` (data, format, label_column, header, shape, val, test, seed)
    checked by ``fnnet.runs.settings.with_defaults``, loaded, labels encoded, split and
    standardized by ``fnnet.runs.preparation``; examples keep their shape where they have
    one (digits as 8×8×1 images, IDX images, npz arrays, or ``shape``), so that the search
    can try convolutions. The search needs a validation split (val > 0)."""
    from fnnet.runs import preparation, settings

    config = settings.with_defaults(**given)
    if not config["val"] > 0:
        raise ValueError(f"--val {config['val']}: the search scores candidates on a validation split; "
                         "expected a fraction > 0")
    x, y = preparation.load_dataset(config)
    config["in_shape"] = list(preparation.example_shape(config, x, images=True))
    splits, classes, _ = preparation.prepare_splits(config, x, y)
    return splits, config, classes.tolist()

"""Timing: interleaved rounds of a fixed amount of work, and a matmul probe for the peak."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(runners: dict[str, Callable[[], object]], rounds: int,
                min_round_s: float = 0.0) -> dict[str, dict]:
    """Call each runner once to warm it up (compile), then run ``rounds`` rounds. In a round
    every runner is called, each round starting one runner further along, so a burst of
    machine noise lands on all of them alike rather than on one; within its turn a runner is
    called again until its calls add up to ``min_round_s``, so fast runners get as many
    samples as slow ones get time.

    Each call does a fixed amount of work and returns only when it is done (blocked on
    its results). Returns per name ``{"first_s", "times_s", "best_s", "median_s"}``.
    """
    names = list(runners)
    out = {name: {"first_s": _seconds(runners[name]), "times_s": []} for name in names}
    for r in range(rounds):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            spent, calls = 0.0, 0
            while calls == 0 or spent < min_round_s:
                seconds = _seconds(runners[name])
                out[name]["times_s"].append(seconds)
                spent, calls = spent + seconds, calls + 1
    for stats in out.values():
        times = stats["times_s"] or [stats["first_s"]]
        stats["best_s"] = min(times)
        stats["median_s"] = statistics.median(times)
    return out


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class MatmulProbe:
    """This device's matmul throughput for ``dtype``: calling it times one jitted ``x @ y``
    on n×n operands (2n³ FLOPs); ``tflops`` is the best seen. Timed among the contenders,
    so the peak is measured under the same conditions as they are."""

    def __init__(self, dtype: str, n: int):
        import jax

        kx, ky = jax.random.split(jax.random.key(0))
        self.dtype, self.n, self.best_s = dtype, n, float("inf")
        self._x = jax.random.normal(kx, (n, n)).astype(dtype)
        self._y = jax.random.normal(ky, (n, n)).astype(dtype)
        self._matmul = jax.jit(lambda a, b: a @ b)

    def __call__(self) -> None:
        import jax

        seconds = _seconds(lambda: jax.block_until_ready(self._matmul(self._x, self._y)))
        self.best_s = min(self.best_s, seconds)

    @property
    def tflops(self) -> float:
        return 2 * self.n ** 3 / self.best_s / 1e12

    def to_json(self) -> dict:
        return {"dtype": self.dtype, "n": self.n, "best_s": self.best_s, "tflops": self.tflops}

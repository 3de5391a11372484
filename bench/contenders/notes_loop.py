"""The notes' own pure-Python network (``bench.notes_python``), one ``train`` call per update."""

from __future__ import annotations

from bench.configs import SEED_T, SEED_X
from bench.contenders.common import Runner, Task


def make(task: Task) -> Runner:
    """The worked example's network trained on the worked example, on the host."""
    from bench import notes_python

    nn = notes_python.worked_example()
    x, t = list(SEED_X), list(SEED_T)

    def run():
        for _ in range(task.updates):
            nn.train(x, t)

    return Runner(run, lambda: nn.calculate_total_error([[x, t]]))

"""The search space: mutation and crossover stay within its bounds; a bad space is one line."""

import numpy as np
import pytest

from fnnet.names import OPTIMIZERS
from fnnet.structure.space import SEARCH_ACTIVATIONS, SearchSpace


def test_mutation_and_crossover_stay_within_bounds():
    rng = np.random.default_rng(0)
    for space in (SearchSpace(), SearchSpace(depth=(2, 2), width=(5, 5), lr=(0.01, 0.01), l2=(0.0, 0.0),
                                             dropout=(0.2, 0.2), activations=("tanh",), optimizers=("adam",)),
                  SearchSpace(depth=(1, 4), width=(1, 3), l2=(1e-5, 1e-2), dropout=(0.0, 0.9))):
        population = [space.sample(rng) for _ in range(20)]
        for _ in range(500):
            a, b = (population[i] for i in rng.integers(0, len(population), 2))
            child = space.mutate(space.crossover(a, b, rng), rng, rate=float(rng.uniform(0, 1)))
            assert space.check(child) is child
            population[int(rng.integers(len(population)))] = child
        depths = {len(c.hidden) for c in population}
        assert depths <= set(range(space.depth[0], space.depth[1] + 1))


@pytest.mark.parametrize("kwargs, message", [
    (dict(depth=(3, 1)), r"SearchSpace.depth: expected min <= max, got min 3 > max 1"),
    (dict(lr=(0.0, 0.1)), r"SearchSpace.lr: expected min > 0"),
    (dict(dropout=(0.0, 1.0)), r"SearchSpace.dropout: expected 0 <= min <= max < 1"),
    (dict(activations=("relu", "swish")), "unknown 'swish'; expected some of " + ", ".join(SEARCH_ACTIVATIONS)),
    (dict(optimizers=("rmsprop",)), "unknown 'rmsprop'; expected some of " + ", ".join(OPTIMIZERS)),
    (dict(optimizers=()), "expected a non-empty list"),
])
def test_bad_spaces_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        SearchSpace(**kwargs)
    assert "\n" not in str(e.value)

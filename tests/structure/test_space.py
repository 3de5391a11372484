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


def _built(c, in_shape):
    """``fnnet train``'s network of candidate c on examples of ``in_shape``."""
    import math

    from fnnet.runs import preparation, settings

    config = {**settings.with_defaults(**c.settings()), "in_shape": list(in_shape),
              "in_features": math.prod(in_shape), "classes": list(range(10))}
    return preparation.build(config)[0]


@pytest.mark.parametrize("in_shape", [(8, 8, 1), (5, 3), (3, 3, 2)])
def test_convolutional_candidates_stay_in_the_space_and_fit_their_examples(in_shape):
    import jax

    rng, space = np.random.default_rng(1), SearchSpace()
    population = [space.sample(rng, in_shape) for _ in range(20)]
    assert {c.kind for c in population} == {"dense", "conv"}
    for step in range(300):
        a, b = (population[i] for i in rng.integers(0, len(population), 2))
        child = space.mutate(space.crossover(a, b, rng, in_shape), rng, rate=float(rng.uniform(0, 1)),
                             in_shape=in_shape)
        assert space.check(child, in_shape) is child
        population[int(rng.integers(len(population)))] = child
        if step % 30 == 0 and child.conv:  # fnnet train builds it: every pooling fits its examples
            net = _built(child, in_shape)
            count = sum(leaf.size for leaf in jax.tree.leaves(jax.eval_shape(net.init, jax.random.key(0))))
            assert count == child.param_count(in_shape, 10, space.pieces)
            assert child.activation != "maxout"
    assert any(c.kind == "conv" for c in population) and any(c.kind == "dense" for c in population)


def test_flat_examples_get_fully_connected_candidates_drawn_as_before():
    flat = [SearchSpace().sample(np.random.default_rng(0), (64,)) for _ in range(10)]
    dense_only = [SearchSpace(kinds=("dense",)).sample(np.random.default_rng(0)) for _ in range(10)]
    assert flat == dense_only and all(c.kind == "dense" for c in flat)
    with pytest.raises(ValueError, match=r"SearchSpace.kinds \('conv',\): convolutions need examples with positions"):
        SearchSpace(kinds=("conv",)).sample(np.random.default_rng(0), (64,))


def test_a_convolutional_candidate_reads_as_fnnet_train_settings():
    from fnnet.structure.space import Candidate

    c = Candidate((32,), "relu", 0.1, "adam", 0.01, 0.0, ((8, 3, 1, "max"), (16, 5, 2, "none")))
    assert c.settings() == {"hidden": [32], "activation": "relu", "dropout": 0.1, "optimizer": "adam", "lr": 0.01,
                            "l2": 0.0, "conv": [8, 16], "kernel": [3, 5], "conv_stride": [1, 2], "pool": ["max", "none"],
                            "pool_size": 2}
    assert c.describe().startswith("c8k3s1max c16k5s2 | 32 relu")
    # 8x8 -> 4x4 (pool) -> 2x2 (stride 2): (9·1+1)·8 + (25·8+1)·16 + (2·2·16+1)·32 + (32+1)·10
    assert c.param_count((8, 8, 1), 10) == 80 + 3216 + 2080 + 330


@pytest.mark.parametrize("kwargs, message", [
    (dict(kernels=(3, 4)), r"SearchSpace.kernels: expected a non-empty list of odd ints >= 1"),
    (dict(kernels=(1, 3), strides=(1, 2)), r"SearchSpace.kernels: expected none smaller than a stride"),
    (dict(activations=("maxout",)), r"SearchSpace.activations: convolutions need an activation other than maxout"),
    (dict(poolings=("max", "min")), r"unknown 'min'; expected some of max, avg, none"),
    (dict(kinds=("dense", "rnn")), r"unknown 'rnn'; expected some of dense, conv"),
    (dict(head=(-1, 1)), r"SearchSpace.head: expected min >= 0"),
])
def test_bad_convolution_spaces_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        SearchSpace(**kwargs)
    assert "\n" not in str(e.value)


def test_kernels_larger_than_the_examples_can_use_are_never_drawn():
    # On 3x3 images a kernel of 7 (or 9) would only read the zero padding with its outer taps, and
    # fnnet train refuses it: candidates take the largest kernel that fits, 5 (2 x 3 - 1).
    space, rng = SearchSpace(kernels=(3, 5, 7, 9), strides=(1,)), np.random.default_rng(0)
    assert space.kernels_for((3, 3, 2)) == (3, 5) and space.kernels_for((40, 1)) == (3, 5, 7, 9)
    population = [space.sample(rng, (3, 3, 2)) for _ in range(30)]
    for _ in range(100):
        a, b = (population[i] for i in rng.integers(0, len(population), 2))
        population.append(space.mutate(space.crossover(a, b, rng, (3, 3, 2)), rng, in_shape=(3, 3, 2)))
    kernels = {k for c in population for _, k, _, _ in c.conv}
    assert kernels == {3, 5}
    for c in population:
        assert space.check(c) is c
        if c.conv:  # fnnet train takes it
            from fnnet.runs import preparation, settings

            preparation.check_blocks(settings.with_defaults(**c.settings()), (3, 3, 2))
            _built(c, (3, 3, 2))


@pytest.mark.parametrize("kinds", [("conv",), ("dense", "conv")])
def test_a_space_whose_kernels_all_overhang_the_examples_is_refused(kinds):
    with pytest.raises(ValueError, match=r"^SearchSpace.kernels \(9, 11\): every one is larger than examples of "
                                         r"shape \(4, 4, 1\) can use \(its outer taps would only ever read the zero "
                                         r"padding\); expected one of at most 7, or kinds \('dense',\) alone$"):
        SearchSpace(kinds=kinds, kernels=(9, 11)).kinds_for((4, 4, 1))
    assert SearchSpace(kinds=("dense",), kernels=(9, 11)).kinds_for((4, 4, 1)) == ("dense",)

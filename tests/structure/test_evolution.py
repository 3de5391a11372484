"""The structure search (fnnet.search, search_space, search_report, search_command): a seed
fixes the leaderboard, mutation stays in bounds, elitism keeps the best, evolution beats
a bad start, bad input gets one-line errors, the command and the example run. Every
search here uses one small space, population and data set, so the compiled programs are
shared."""

import argparse
import importlib.util
import json
import pathlib

import numpy as np
import pytest

from fnnet import search, search_command, search_report, settings
from fnnet.search_space import ACTIVATIONS, OPTIMIZERS, Candidate, SearchSpace

SPACE = SearchSpace(depth=(1, 1), width=(2, 8), activations=("sigmoid", "tanh", "relu", "leaky_relu"))
SMALL = dict(population=4, epochs=2)
BAD = Candidate((2,), "sigmoid", 0.0, "sgd", 1e-4, 0.0)


@pytest.fixture(scope="module")
def data():
    return search.load_splits(data="digits")


@pytest.fixture(scope="module")
def result(data):
    return search.search(data[0], SPACE, generations=3, seed=0, **SMALL)


def _board(r):
    return [(e.candidate, e.params, e.val_accuracy, e.test_accuracy, e.generation) for e in r.leaderboard]


def test_the_same_seed_gives_the_same_leaderboard(data, result):
    assert _board(search.search(data[0], SPACE, generations=3, seed=0, **SMALL)) == _board(result)
    assert _board(search.search(data[0], SPACE, generations=1, seed=1, **SMALL)) != _board(result)[:4]


def test_elitism_never_loses_the_best_and_each_generation_is_one_program(result):
    bests = [g.best for g in result.generations]
    assert bests == sorted(bests) and len(bests) == 3
    assert [g.programs for g in result.generations] == [1, 1, 1]  # one depth, no maxout: one group
    assert [g.evaluated for g in result.generations] == [4, 3, 3]  # the elite is not retrained
    assert result.best.val_accuracy == bests[-1] and len(result.leaderboard) == 10
    e = result.best
    assert e.params == e.candidate.param_count(64, 10) and 0 <= e.test_accuracy <= 1


def test_evolution_beats_a_bad_starting_population(data):
    r = search.search(data[0], SPACE, generations=8, seed=2, initial=[BAD] * 4, mutation_rate=0.5, **SMALL)
    first = r.generations[0].best
    assert first < 0.3  # tiny sigmoid nets at eta 1e-4 learn little in two epochs
    # Seeds 0-5 gain 0.27 to 0.62 in 8 generations; without selection and mutation, none.
    assert r.best.val_accuracy > first + 0.25


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
    (dict(activations=("relu", "swish")), "unknown 'swish'; expected some of " + ", ".join(ACTIVATIONS)),
    (dict(optimizers=("rmsprop",)), "unknown 'rmsprop'; expected some of " + ", ".join(OPTIMIZERS)),
    (dict(optimizers=()), "expected a non-empty list"),
])
def test_bad_spaces_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        SearchSpace(**kwargs)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(population=1), r"population: expected an integer >= 2 \(selection needs two candidates\), got 1"),
    (dict(time_budget=0), r"time_budget: expected a number of seconds > 0 .*got 0"),
    (dict(time_budget=-5.0), r"time_budget: expected a number of seconds > 0"),
    (dict(generations=0), r"generations: expected an integer >= 1"),
    (dict(elite=4), r"elite: expected an integer in \[1, 3\]"),
    (dict(initial=[Candidate((9,), "relu", 0.0, "sgd", 0.1, 0.0)]), r"width 9 is outside the space's \[2, 8\]"),
])
def test_bad_search_arguments_are_one_line_errors(data, kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        search.search(data[0], SPACE, **{**SMALL, **kwargs})
    assert "\n" not in str(e.value)


def test_a_time_budget_stops_after_the_first_generation(data):
    r = search.search(data[0], SPACE, generations=5, time_budget=1e-9, seed=0, **SMALL)
    assert r.stopped_by_budget and len(r.generations) == 1


def test_the_best_configuration_is_train_settings(data, result, tmp_path):
    config = search_report.best_settings(result.best, data[1], epochs=2, batch_size=32)
    assert settings.settings(**config)["hidden"] == list(result.best.candidate.hidden)
    written = search_report.write_best(tmp_path / "best.json", config)
    assert json.loads(pathlib.Path(written).read_text()) == config


def test_the_command_searches_and_writes_its_files(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    search_command.add_arguments(parser)
    args = parser.parse_args(["--population", "4", "--generations", "2", "--epochs", "2", "--depth", "1", "1",
                              "--width", "2", "8", "--activations", "sigmoid", "tanh", "relu",
                              "leaky_relu", "--out", str(tmp_path / "s"), "--top", "3"])
    assert search_command.run(args) == 0
    out = capsys.readouterr().out
    assert "compiled programs per generation: [1, 1]" in out
    assert f"fnnet train --config {tmp_path / 's' / 'best.json'}" in out
    config = json.loads((tmp_path / "s" / "best.json").read_text())
    assert settings.settings(**config)["patience"] == 0
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "s" / "fitness.png").stat().st_size > 0
    args.depth = [2, 1]
    with pytest.raises(ValueError, match="SearchSpace.depth"):
        search_command.run(args)


def test_the_example_runs_with_tiny_arguments(tmp_path):
    path = pathlib.Path(__file__).parent.parent / "examples" / "search_digits.py"
    spec = importlib.util.spec_from_file_location("search_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    numbers = module.main(generations=2, default_epochs=2, space=SPACE, out=tmp_path, plot=False, folds=3,
                          draws=2, finalists=2, patience=1, **SMALL)
    assert numbers["default"]["params"] == 64 * 256 + 256 + 256 * 10 + 10 and len(numbers["default"]["tests"]) == 2
    searched = numbers["searched"]
    assert 0 < searched["test_accuracy"] <= 1 and 0 < searched["cv_accuracy"] <= 1
    assert searched["retrained_test_accuracy"] == sum(searched["retrained_tests"]) / 2
    assert numbers["programs"] == [1, 1]
    written = json.loads((tmp_path / "search_best.json").read_text())
    assert settings.settings(**written) and written["patience"] == 1 and written["epochs"] == 2


def test_cross_validation_scores_finalists_on_every_fold_and_ranks_a_bad_one_last(data):
    from fnnet import search_cv

    good = Candidate((8,), "relu", 0.0, "adam", 0.01, 0.0)
    splits = {"train": data[0]["train"], "val": data[0]["val"]}  # no test split: it is never read
    scores = search_cv.cross_validate([BAD, good], splits, folds=3, epochs=2, seed=0)
    assert scores.shape == (2,) and 0 <= scores[0] < 0.3 < 0.8 < scores[1] <= 1
    assert (search_cv.cross_validate([good, BAD], splits, folds=3, epochs=2, seed=0) == scores[::-1]).all()
    n = len(splits["train"][0]) + len(splits["val"][0])
    with pytest.raises(ValueError, match=rf"^folds: expected an int in \[2, {n // 2}\] \(half the examples\), got 1$"):
        search_cv.cross_validate([good], splits, folds=1)
    with pytest.raises(ValueError, match=r"^candidates: expected a non-empty list of Candidate$"):
        search_cv.cross_validate([], splits)
    with pytest.raises(ValueError, match=r"^folds: early stopping needs a fold of its own, expected at least 3, "
                                         r"got 2$"):
        search_cv.cross_validate([good], splits, folds=2, patience=1)
    with pytest.raises(ValueError, match=r"^batch_size: expected an integer >= 1, got '32'$"):
        search_cv.cross_validate([good], splits, batch_size="32")
    with pytest.raises(ValueError, match=rf"^batch_size: expected at most the {n // 3 * 2} training examples of a "
                                         rf"fold, got 5000$"):
        search_cv.cross_validate([good], splits, folds=3, batch_size=5000)


def test_cross_validation_never_stops_early_on_the_examples_it_scores(data, monkeypatch):
    from fnnet import search_cv, search_train

    seen, train = [], search_train.train

    def spy(group, train_data, **kw):
        seen.append((train_data[0], kw["evaluate"]["val"][0], kw["validation"][0]))
        return train(group, train_data, **kw)

    monkeypatch.setattr(search_train, "train", spy)
    splits = {"train": data[0]["train"], "val": data[0]["val"]}
    search_cv.cross_validate([Candidate((8,), "relu", 0.0, "adam", 0.01, 0.0)], splits, folds=4, epochs=2,
                             patience=1)
    rows = lambda a: {r.tobytes() for r in a}  # noqa: E731
    assert len(seen) == 4
    for fitted, scored, stopping in seen:
        assert not rows(scored) & rows(stopping) and not rows(fitted) & (rows(scored) | rows(stopping))
        assert len(fitted) == 2 * len(scored) == 2 * len(stopping)

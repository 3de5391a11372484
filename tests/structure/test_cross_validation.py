"""Cross-validation of finalists: every fold scored, a bad candidate ranked last, the order
of the list irrelevant, and early stopping never decided on the fold that scores."""

import pytest

import fnnet
from fnnet.structure import trainer
from fnnet.structure.space import Candidate
from tests.support.search import BAD


def test_cross_validation_scores_finalists_on_every_fold_and_ranks_a_bad_one_last(data):
    good = Candidate((8,), "relu", 0.0, "adam", 0.01, 0.0)
    splits = {"train": data[0]["train"], "val": data[0]["val"]}  # no test split: it is never read
    scores = fnnet.cross_validate([BAD, good], splits, folds=3, epochs=3, seed=0)
    assert scores.shape == (2,) and 0 <= scores[0] < 0.3 < 0.8 < scores[1] <= 1
    assert (fnnet.cross_validate([good, BAD], splits, folds=3, epochs=3, seed=0) == scores[::-1]).all()
    n = len(splits["train"][0]) + len(splits["val"][0])
    with pytest.raises(ValueError, match=rf"^folds: expected an int in \[2, {n // 2}\] \(half the examples\), got 1$"):
        fnnet.cross_validate([good], splits, folds=1)
    with pytest.raises(ValueError, match=r"^candidates: expected a non-empty list of Candidate$"):
        fnnet.cross_validate([], splits)
    with pytest.raises(ValueError, match=r"^folds: early stopping needs a fold of its own, expected at least 3, "
                                         r"got 2$"):
        fnnet.cross_validate([good], splits, folds=2, patience=1)
    with pytest.raises(ValueError, match=r"^batch_size: expected an integer >= 1, got '32'$"):
        fnnet.cross_validate([good], splits, batch_size="32")
    with pytest.raises(ValueError, match=rf"^batch_size: expected at most the {n // 3 * 2} training examples of a "
                                         rf"fold, got 5000$"):
        fnnet.cross_validate([good], splits, folds=3, batch_size=5000)


def test_cross_validation_never_stops_early_on_the_examples_it_scores(data, monkeypatch):
    seen, train = [], trainer.train_group

    def spy(group, train_data, **kw):
        seen.append((train_data[0], kw["evaluate"]["val"][0], kw["validation"][0]))
        return train(group, train_data, **kw)

    monkeypatch.setattr(trainer, "train_group", spy)
    splits = {"train": data[0]["train"], "val": data[0]["val"]}
    fnnet.cross_validate([Candidate((8,), "relu", 0.0, "adam", 0.01, 0.0)], splits, folds=4, epochs=2,
                         patience=1)
    rows = lambda a: {r.tobytes() for r in a}  # noqa: E731
    assert len(seen) == 4
    for fitted, scored, stopping in seen:
        assert not rows(scored) & rows(stopping) and not rows(fitted) & (rows(scored) | rows(stopping))
        assert len(fitted) == 2 * len(scored) == 2 * len(stopping)

"""From settings to what training needs: labels encoded, splits seeded, features
standardized by the training split alone, the network the settings describe."""

import numpy as np
import pytest

from fnnet.loaders import DataError
from fnnet.runs import preparation, settings


def _config(**given):
    return settings.with_defaults(**given)


def test_splits_are_standardized_with_the_training_split_alone():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(200, 4)).astype(np.float32)
    y = np.repeat(np.array([10, 20]), 100)
    splits, classes, std = preparation.prepare_splits(_config(val=0.2, test=0.2, seed=1), x, y)
    assert classes.tolist() == [10, 20] and set(np.unique(splits["train"][1])) == {0, 1}
    train = splits["train"][0]
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-4)
    assert not np.allclose(splits["test"][0].mean(0), 0, atol=1e-3)  # its own statistics were not used
    again = preparation.prepare_splits({**_config(val=0.2, test=0.2, seed=1), "classes": [10, 20],
                                        "standardizer": std.to_dict()}, x, y)[0]
    np.testing.assert_array_equal(again["test"][0], splits["test"][0])
    with pytest.raises(DataError, match=r"labels \[30\] were not among the run's classes \[10, 20\]"):
        preparation.prepare_splits({**_config(), "classes": [10, 20]}, x, np.full(200, 30))


def test_the_built_network_loss_and_optimizer_are_the_settings():
    net, loss, _ = preparation.build({**_config(hidden=[8, 4], activation="maxout", pieces=3, dropout=0.5),
                                      "in_features": 6, "classes": [0, 1, 2]})
    assert net.shapes == ((6,), (8,), (8,), (4,), (4,), (3,)) and net.layers[0].pieces == 3
    assert loss.from_logits and net.layers[-1].activation == "identity"
    net, loss, _ = preparation.build({**_config(loss="squared_error", dropout=0.0), "in_features": 6,
                                      "classes": [0, 1]})
    assert net.layers[-1].activation == "softmax" and type(loss).__name__ == "SquaredError"

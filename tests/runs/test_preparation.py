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


def test_a_convolutional_run_is_built_as_its_settings_say():
    from fnnet import AvgPool1D, Conv1D, Conv2D, Dense, Dropout, Flatten, MaxPool2D

    config = {**settings.with_defaults(conv=[4, 6], kernel=[3, 5], pool=["max", "none"], hidden=[16],
                                       dropout=0.25), "classes": [0, 1, 2], "in_shape": [8, 8, 1], "in_features": 64}
    net, _, _ = preparation.build(config)
    assert net.layers == (Conv2D(4, 3, "relu", padding="SAME"), MaxPool2D(2), Conv2D(6, 5, "relu", padding="SAME"),
                          Flatten(), Dropout(0.25), Dense(16, "relu"), Dropout(0.25), Dense(3))
    assert net.shapes[3] == (4, 4, 6)
    signal = {**config, "conv": [2], "kernel": [3], "pool": ["avg"], "in_shape": [10, 1], "in_features": 10,
              "dropout": 0.0}
    assert preparation.build(signal)[0].layers[:3] == (Conv1D(2, 3, "relu", padding="SAME"), AvgPool1D(2), Flatten())


@pytest.mark.parametrize("stored, config, want", [
    ((8, 8), {}, (64,)),  # a dense run takes flat rows, whatever the data
    ((8, 8), {"conv": [4]}, (8, 8, 1)),  # an image gets its one channel
    ((6, 6, 3), {"conv": [4]}, (6, 6, 3)),
    ((64,), {"conv": [4], "shape": [8, 8, 1]}, (8, 8, 1)),
    ((64,), {"shape": [8, 8, 1]}, (8, 8, 1)),
])
def test_an_example_takes_its_shape_from_shape_or_the_data(stored, config, want):
    x = np.zeros((3, *stored), np.float32)
    assert preparation.example_shape({**settings.with_defaults(), **config}, x) == want


def test_flat_rows_need_a_shape_for_convolutions_and_a_shape_must_hold_an_example():
    x = np.zeros((3, 64), np.float32)
    with pytest.raises(ValueError, match=r"--conv needs one example's shape, channels last, but d.csv has flat rows "
                                         r"of 64 values; pass --shape, e.g. --shape H W C for images or --shape 64 1"):
        preparation.example_shape({**settings.with_defaults(), "conv": [4]}, x, source="d.csv")
    with pytest.raises(ValueError, match=r"--shape 8 8 2 holds 128 values, but each example of d.csv has 64"):
        preparation.example_shape({**settings.with_defaults(), "shape": [8, 8, 2]}, x, source="d.csv")


@pytest.mark.parametrize("stored, config, message", [
    ((1, 8, 8), {"conv": [4]}, r"^d.npz: examples of shape \(1, 8, 8\) look channels-first \(1 channel of 8x8\); "
                               r"fnnet takes channels last: store x = np.moveaxis\(x, 1, -1\), of shape \(n, 8, 8, 1\) "
                               r"\(or pass --shape 1 8 8 if they are \(height, width, channels\) already\)$"),
    ((3, 32, 32), {"conv": [4]}, r"look channels-first \(3 channels of 32x32\)"),
    ((3, 8, 8), {"conv": [4], "shape": [8, 8, 3]},
     r"^--shape 8 8 3: the examples of d.npz are stored as \(3, 8, 8\), the same sizes in another order, which a "
     r"reshape would scramble: leave --shape out, or store x with its axes moved \(channels come last in fnnet: "
     r"x = np.moveaxis\(x, 1, -1\)\)$"),
    ((8, 3, 8), {"conv": [4], "shape": [8, 8, 3]}, r"^--shape 8 8 3: .* \(transpose x's axes so that each example is "
                                                   r"\(8, 8, 3\)\)$"),
])
def test_images_in_another_order_are_refused_not_scrambled(stored, config, message):
    x = np.zeros((2, *stored), np.float32)
    with pytest.raises(ValueError, match=message):
        preparation.example_shape({**settings.with_defaults(), **config}, x, source="d.npz")


@pytest.mark.parametrize("stored, shape, want", [
    ((1, 8, 8), [8, 8, 1], (8, 8, 1)),  # one channel first is the same values: a reshape is exact
    ((1, 8, 8), [1, 8, 8], (1, 8, 8)),  # the user says they are (height, width, channels) after all
    ((2, 4, 8, 1), [8, 8, 1], (8, 8, 1)),
    ((8, 8, 1), [64, 1], (64, 1)),
])
def test_a_shape_that_moves_no_value_between_axes_is_taken(stored, shape, want):
    x = np.zeros((2, *stored), np.float32)
    assert preparation.example_shape({**settings.with_defaults(), "conv": [4], "shape": shape}, x) == want


@pytest.mark.parametrize("given, in_shape, message", [
    (dict(conv=[4], kernel=[99]), (8, 8, 1), r"^--kernel 99: the block of --conv 4 has a kernel larger than examples "
                                             r"of shape \(8, 8, 1\) can use \(its outer taps would only ever read the "
                                             r"zero padding\); expected at most 15 \(2 x 8 - 1\)$"),
    (dict(conv=[4, 8], kernel=[3, 10**9]), (8, 8, 1), r"^--kernel 1000000000: block 2 of --conv 4 8 "),
    (dict(conv=[4], kernel=[200]), (64, 1), r"expected at most 127 \(2 x 64 - 1\)$"),
    (dict(conv=[4], kernel=[3]), (1, 2, 1), r"expected at most 1 \(2 x 1 - 1\)$"),
    (dict(conv=[4], kernel=[1], conv_stride=[3]), (8, 8, 1),
     r"^--conv-stride 3: the block of --conv 4 has a stride larger than its kernel of 1, so its convolution would "
     r"skip inputs; expected a stride no larger than the kernel$"),
    (dict(conv=[4], pool_size=9), (8, 8, 1),
     r"^--pool-size 9: the block of --conv 4 leaves \(8, 8\) positions of the examples' \(8, 8\), too few for its max "
     r"pooling of 9; use a smaller --pool-size or --pool none for it$"),
    (dict(conv=[4, 4, 4, 4]), (8, 8, 1),
     r"^--pool-size 2: block 4 of --conv 4 4 4 4 leaves \(1, 1\) positions of the examples' \(8, 8\), too few for its "
     r"max pooling of 2; use a smaller --pool-size, --pool none for that block or fewer blocks$"),
    (dict(conv=[4, 2], kernel=[2], conv_stride=[2]), (8, 8, 1),
     r"use a smaller --pool-size, --pool none for that block, a smaller --conv-stride or fewer blocks$"),
])
def test_blocks_that_cannot_fit_the_examples_are_named_by_their_options(given, in_shape, message):
    with pytest.raises(ValueError, match=message):
        preparation.check_blocks(settings.with_defaults(**given), in_shape)


def test_blocks_that_fit_pass():
    for given, in_shape in [(dict(conv=[4], kernel=[15]), (8, 8, 1)), (dict(conv=[4, 4, 4]), (8, 8, 1)),
                            (dict(conv=[4], kernel=[1], pool=["none"]), (1, 1, 1)), (dict(hidden=[8]), (64,)),
                            (dict(conv=[4], kernel=[4], conv_stride=[4], pool_size=2), (8, 8, 1))]:
        preparation.check_blocks(settings.with_defaults(**given), in_shape)

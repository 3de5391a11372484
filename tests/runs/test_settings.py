"""The command's settings: their names are the library's, and each is checked."""

import optax
import pytest

from fnnet import activations, names, optim
from fnnet.runs import settings
from fnnet.training.step import check_grad


def test_the_settings_offer_what_the_library_has():
    # The command's choices are checked without JAX (its --help stays fast); each must be
    # something the library builds.
    assert set(settings.ACTIVATION_CHOICES) - {"maxout"} <= set(activations.ACTIVATIONS)
    assert {"identity", "softmax"} == set(activations.ACTIVATIONS) - set(settings.ACTIVATION_CHOICES)  # output only
    for name in names.OPTIMIZERS:
        for form in names.ADAGRAD_FORMS:
            config = settings.with_defaults(optimizer=name, adagrad_form=form)
            assert isinstance(optim.optimizer(config["optimizer"], 0.1, adagrad_form=config["adagrad_form"]),
                              optax.GradientTransformation)
    for grad in names.GRADS:
        check_grad(settings.with_defaults(grad=grad)["grad"])
    with pytest.raises(ValueError, match="grad: expected one of"):
        check_grad("finite_differences")


def test_a_data_set_brings_its_own_defaults_and_given_settings_win():
    assert settings.with_defaults(data="xor")["hidden"] == [5]
    assert settings.with_defaults(data="xor", hidden=[3])["hidden"] == [3]
    assert settings.with_defaults()["hidden"] == settings.DEFAULTS["hidden"]


@pytest.mark.parametrize("given, message", [
    (dict(lr=0), r"--lr: expected a number > 0, got 0"),
    (dict(momentum=1.5), r"--momentum: expected a number in \[0, 1\), got 1.5"),
    (dict(hidden=[]), r"--hidden: expected at least one hidden layer \(or --conv blocks before the output\), got none"),
    (dict(conv=[8, 16], kernel=[3, 5, 7]), r"--kernel: expected one value \(for every block\) or one for each of "
                                           r"the 2 blocks of --conv 8 16, got \[3, 5, 7\]"),
    (dict(conv=[8], pool=["mean"]), r"--pool: expected one of max, avg, none, got 'mean'"),
    (dict(conv=[8], activation="maxout"), r"--activation maxout applies to dense layers; --conv blocks take one of relu"),
    (dict(conv=[8], shape=[64]), r"--shape 64: --conv needs examples with positions and channels"),
    (dict(shape=[2, 2, 2, 2]), r"--shape: expected \(features,\), \(length, channels\) or \(height, width, "
                               r"channels\), got \[2, 2, 2, 2\]"),
    (dict(conv_stride=[0]), r"--conv-stride: expected an integer >= 1, got 0"),
    (dict(optimizer="rmsprop"), r"--optimizer: expected one of sgd, momentum, adagrad, adam, got 'rmsprop'"),
    (dict(colour="red"), r"unknown settings \['colour'\]"),
])
def test_bad_settings_name_the_option(given, message):
    with pytest.raises(ValueError, match=message):
        settings.with_defaults(**given)


def test_convolution_blocks_take_one_value_for_all_or_one_each():
    config = settings.with_defaults(conv=[8, 16], kernel=[5], conv_stride=[1, 2], pool=["max", "none"], hidden=[])
    assert settings.blocks(config) == [(8, 5, 1, "max"), (16, 5, 2, "none")]
    assert settings.blocks(settings.with_defaults()) == []


@pytest.mark.parametrize("given, message", [
    (dict(kernel=[5]), r"^--kernel applies to convolution blocks, but there are none; add --conv CHANNELS \.\.\. "
                       r"\(e\.g\. --conv 16 32\), or leave it out$"),
    (dict(pool=["avg"], pool_size=3), r"^--pool, --pool-size apply to convolution blocks, but there are none; .* "
                                      r"or leave them out$"),
    (dict(conv_stride=[1], conv=[]), r"^--conv-stride applies to convolution blocks"),
])
def test_block_settings_without_blocks_are_refused_not_ignored(given, message):
    # Given without --conv they would change nothing: the user meant something else.
    with pytest.raises(ValueError, match=message):
        settings.with_defaults(**given)
    assert settings.with_defaults(conv=[4], **{k: v for k, v in given.items() if k != "conv"})["conv"] == [4]


@pytest.mark.parametrize("value", ["16", 16, None, {"a": 1}])
def test_conv_says_it_wants_channels(value):
    # A settings file's {"conv": null} is checked as it is (with_defaults reads None as unset).
    with pytest.raises(ValueError, match=r"expected a list of channels, one per convolution block "
                                         r"\(e\.g\. \[16, 32\]\), got "):
        settings.SETTINGS["conv"](value)
    if value is not None:
        with pytest.raises(ValueError, match=r"^--conv: expected a list of channels"):
            settings.with_defaults(conv=value)


@pytest.mark.parametrize("name", ["dropout", "momentum"])
def test_a_rate_float32_rounds_to_1_is_refused(name):
    with pytest.raises(ValueError, match=r"^expected a number in \[0, 1\), got 0.99999999, which float32 rounds "
                                         r"to 1.0$"):
        settings.SETTINGS[name](0.99999999)
    assert settings.SETTINGS[name](0.9999999) == 0.9999999

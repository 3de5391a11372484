"""The command's settings: their names are the library's, and each is checked."""

import pytest

from fnnet import activations, optim, settings, step


def test_the_settings_offer_what_the_library_has():
    # settings.py imports no JAX (the command's --help stays fast), so it spells the
    # library's names out; they must stay the library's.
    assert set(settings.ACTIVATIONS) - {"maxout"} <= set(activations.ACTIVATIONS)
    assert {"identity", "softmax"} == set(activations.ACTIVATIONS) - set(settings.ACTIVATIONS)  # output only
    assert settings.OPTIMIZERS == optim.OPTIMIZERS
    assert settings.ADAGRAD_FORMS == optim.ADAGRAD_FORMS
    assert settings.GRADS == step.GRADS


def test_a_data_set_brings_its_own_defaults_and_given_settings_win():
    assert settings.settings(data="xor")["hidden"] == [5]
    assert settings.settings(data="xor", hidden=[3])["hidden"] == [3]
    assert settings.settings()["hidden"] == settings.DEFAULTS["hidden"]


@pytest.mark.parametrize("given, message", [
    (dict(lr=0), r"--lr: expected a number > 0, got 0"),
    (dict(momentum=1.5), r"--momentum: expected a number in \[0, 1\), got 1.5"),
    (dict(hidden=[]), r"--hidden: expected a list of layer widths, got \[\]"),
    (dict(optimizer="rmsprop"), r"--optimizer: expected one of sgd, momentum, adagrad, adam, got 'rmsprop'"),
    (dict(colour="red"), r"unknown settings \['colour'\]"),
])
def test_bad_settings_name_the_option(given, message):
    with pytest.raises(ValueError, match=message):
        settings.settings(**given)

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
    (dict(hidden=[]), r"--hidden: expected a list of layer widths, got \[\]"),
    (dict(optimizer="rmsprop"), r"--optimizer: expected one of sgd, momentum, adagrad, adam, got 'rmsprop'"),
    (dict(colour="red"), r"unknown settings \['colour'\]"),
])
def test_bad_settings_name_the_option(given, message):
    with pytest.raises(ValueError, match=message):
        settings.with_defaults(**given)

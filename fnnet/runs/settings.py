"""The settings of a run (the ``fnnet`` command's options): what each must be, their
defaults and the bundled data sets' own. NumPy only, so that the command's ``--help``
never waits for JAX."""

from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

from fnnet import loaders
from fnnet.data import BUNDLED
from fnnet.names import ADAGRAD_FORMS, GRADS, OPTIMIZERS

#: The hidden activations the command offers ("maxout": ``--pieces`` linear pieces a unit).
ACTIVATION_CHOICES = ("relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus", "maxout")
#: The losses the command offers: the notes' two.
LOSS_CHOICES = ("cross_entropy", "squared_error")


# ---------------------------------------------------------------- settings


_FLOAT32_MAX, _FLOAT32_TINY = float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny)


def _real(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    # Training runs in float32: a number it rounds to inf (or a rate it rounds to 0,
    # below) would make training silently wrong.
    if abs(value) > _FLOAT32_MAX:
        raise ValueError(f"expected a number float32 can hold (at most {_FLOAT32_MAX:.1e}), got {value!r}")
    return value


def positive_number(value):
    if _real(value) <= 0:
        raise ValueError(f"expected a number > 0, got {value!r}")
    if value < _FLOAT32_TINY:
        raise ValueError(f"expected a number > 0 that float32 can hold (at least {_FLOAT32_TINY:.1e}), got {value!r}")
    return value


def non_negative_number(value):
    if _real(value) < 0:
        raise ValueError(f"expected a number >= 0, got {value!r}")
    return value


def fraction(value):
    if not 0 <= _real(value) < 1:
        raise ValueError(f"expected a number in [0, 1), got {value!r}")
    return value


def float32_fraction(value):
    """A rate or decay applied in float32 (dropout, momentum): in [0, 1) there too, since
    one float32 rounds to 1 drops every unit or never decays."""
    fraction(value)
    if np.float32(value) >= 1:
        raise ValueError(f"expected a number in [0, 1), got {value!r}, which float32 rounds to 1.0")
    return value


def positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected an integer >= 1, got {value!r}")
    return value


def non_negative_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected an integer >= 0, got {value!r}")
    return value


#: Members of one ``fnnet train --members`` run: every member's parameters, optimizer
#: state and activations are on the device at once.
MAX_MEMBERS = 256


def ensemble_size(value):
    """The number of networks an ensemble run trains (1: a plain run)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MEMBERS:
        raise ValueError(f"expected an integer in [1, {MAX_MEMBERS}], got {value!r}")
    return value


def _seed(value):
    if non_negative_int(value) >= 2**63:
        raise ValueError(f"expected an integer in [0, 2**63), got {value!r}")
    return value


def _choice(options):
    def check(value):
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value
    return check


def _optional(check):
    return lambda value: None if value is None else check(value)


def _widths(value, what: str = "layer widths"):
    if not isinstance(value, list):
        raise ValueError(f"expected a list of {what}, got {value!r}")
    return [positive_int(v) for v in value]


def _channels(value):
    return _widths(value, "channels, one per convolution block (e.g. [16, 32])")


def _positive_ints(what: str):
    def check(value):
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a list of {what} (one for every block, or one each), got {value!r}")
        return [positive_int(v) for v in value]
    return check


def _poolings(value):
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a list of poolings (one for every block, or one each) from "
                         f"{', '.join(POOLINGS)}, got {value!r}")
    return [POOLINGS_CHECK(v) for v in value]


def _shape(value):
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected one example's shape as a list of sizes, channels last (e.g. [8, 8, 1]), "
                         f"got {value!r}")
    if len(value) > 3:
        raise ValueError(f"expected (features,), (length, channels) or (height, width, channels), got {value!r}")
    return [positive_int(v) for v in value]


def _label_column(value):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a column index or name, got {value!r}")
    return value


def _data(value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected {' or '.join(BUNDLED)} or a file name, got {value!r}")
    return value


#: Pooling after a convolution block: max or average over ``pool_size`` (per axis), or none.
POOLINGS = ("max", "avg", "none")
POOLINGS_CHECK = _choice(POOLINGS)

#: Each setting of a run (the command's options) and what it must be.
SETTINGS: dict[str, Callable] = {
    "data": _data, "format": _optional(_choice(loaders.FORMATS)), "label_column": _label_column,
    "header": _optional(_choice((True, False))), "shape": _optional(_shape), "conv": _channels,
    "kernel": _positive_ints("kernel sizes"), "conv_stride": _positive_ints("strides"), "pool": _poolings,
    "pool_size": positive_int, "hidden": _widths,
    "activation": _choice(ACTIVATION_CHOICES), "pieces": positive_int, "dropout": float32_fraction,
    "loss": _choice(LOSS_CHOICES), "optimizer": _choice(OPTIMIZERS), "lr": positive_number,
    "momentum": float32_fraction, "adagrad_form": _choice(ADAGRAD_FORMS), "l1": non_negative_number,
    "l2": non_negative_number, "clip": _optional(positive_number), "epochs": positive_int,
    "batch_size": positive_int, "patience": non_negative_int, "min_delta": non_negative_number,
    "val": fraction, "test": fraction, "seed": _seed, "grad": _choice(GRADS),
}

DEFAULTS = dict(data="digits", format=None, label_column=-1, header=None, shape=None, conv=[], kernel=[3],
                conv_stride=[1], pool=["max"], pool_size=2, hidden=[256],
                activation="relu", pieces=2, dropout=0.2, loss="cross_entropy", optimizer="adam",
                lr=1e-3, momentum=0.9, adagrad_form="notes", l1=0.0, l2=0.0, clip=None, epochs=60,
                batch_size=32, patience=10, min_delta=0.0, val=0.15, test=0.2, seed=0, grad="autodiff")

#: Data sets too small for the defaults get their own: the notes' XOR network (2-5
#: sigmoid, here with two softmax outputs) trains on all four examples and is reported
#: on them (100% for each of seeds 0..9).
DATA_DEFAULTS = {"xor": dict(hidden=[5], activation="sigmoid", dropout=0.0, optimizer="adam", lr=0.05,
                             epochs=300, batch_size=4, patience=0, val=0.0, test=0.0)}


def with_defaults(**given) -> dict:
    """A run's settings: ``given`` over the data set's own defaults over ``DEFAULTS``,
    each checked (a ValueError names the option, what it expected and what came)."""
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; expected some of {sorted(SETTINGS)}")
    data = given.get("data") or DEFAULTS["data"]
    merged = {**DEFAULTS, **DATA_DEFAULTS.get(data, {}), **{k: v for k, v in given.items() if v is not None}}
    for name, check in SETTINGS.items():
        try:
            merged[name] = check(merged[name])
        except ValueError as e:
            raise ValueError(f"{option(name)}: {e}") from None
    _check_structure(merged, given)
    if merged["val"] + merged["test"] >= 1:
        raise ValueError(f"--val {merged['val']} and --test {merged['test']} leave nothing to train on; "
                         "expected a sum below 1")
    if data in BUNDLED:
        file_only = [option(k) for k in ("format", "header", "label_column") if merged[k] != DEFAULTS[k]]
        if file_only:
            raise ValueError(f"{', '.join(file_only)} appl{'y' if len(file_only) > 1 else 'ies'} to data files, "
                             f"not to the bundled {data}")
    elif "://" not in data:
        # Where the data were, whatever directory the run is resumed or evaluated from.
        merged["data"] = os.path.abspath(data)
    return merged


#: The bundled data sets that are images: one example's shape, channels last.
BUNDLED_SHAPES = {"digits": [8, 8, 1]}


#: The settings of convolution blocks: meaningless without --conv.
CONV_ONLY = ("kernel", "conv_stride", "pool", "pool_size")


def _check_structure(merged: dict, given_settings: dict) -> None:
    """The settings that describe the network, checked together: a kernel, stride and
    pooling for every convolution block (one value: the same for all), and none of them
    given without blocks (``given_settings``: what the user gave), something between the
    input and the output, maxout on dense layers only."""
    blocks = len(merged["conv"])
    if not blocks:
        given = [option(k) for k in CONV_ONLY if given_settings.get(k) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to convolution blocks, "
                             "but there are none; add --conv CHANNELS ... (e.g. --conv 16 32), or leave "
                             f"{'them' if len(given) > 1 else 'it'} out")
    for name in ("kernel", "conv_stride", "pool"):
        if len(merged[name]) not in (1, blocks) and blocks:
            raise ValueError(f"{option(name)}: expected one value (for every block) or one for each of the "
                             f"{blocks} blocks of --conv {' '.join(map(str, merged['conv']))}, got {merged[name]}")
    if not blocks and not merged["hidden"]:
        raise ValueError("--hidden: expected at least one hidden layer (or --conv blocks before the output), "
                         "got none")
    if blocks and merged["activation"] == "maxout":
        raise ValueError("--activation maxout applies to dense layers; --conv blocks take one of "
                         f"{', '.join(a for a in ACTIVATION_CHOICES if a != 'maxout')}")
    if blocks and merged["shape"] is not None and len(merged["shape"]) < 2:
        raise ValueError(f"--shape {merged['shape'][0]}: --conv needs examples with positions and channels, "
                         "(length, channels) or (height, width, channels), e.g. --shape 8 8 1")


def blocks(config: dict) -> list[tuple]:
    """The convolution blocks of a run's settings: ``(channels, kernel, stride, pool)`` each."""
    n = len(config["conv"])
    each = {k: config[k] * n if len(config[k]) == 1 else config[k] for k in ("kernel", "conv_stride", "pool")}
    return list(zip(config["conv"], each["kernel"], each["conv_stride"], each["pool"]))


def option(name: str) -> str:
    """The command-line spelling of a setting: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")

"""The examples do what their docstrings say."""

import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_is_learned_to_full_accuracy():
    accuracy, result = load("xor").main(seed=0)
    assert accuracy == 1.0
    assert result.history[-1]["step"] == 10_000
    assert result.history[-1]["loss"] < 0.05

"""The examples do what their docstrings say."""

import importlib.util
import json

import pytest

from fnnet.runs import settings
from tests.support import ROOT
from tests.support.search import SMALL, SPACE

EXAMPLES = ROOT / "examples"


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


def test_optimizers_example_trains_with_all_four():
    curves = load("optimizers").main(epochs=3, plot=False)
    assert len(curves) == 4
    for name, losses in curves.items():
        assert losses[-1] < losses[0], name
    sgd, momentum = curves["sgd (eta 0.1)"], curves["momentum (eta 0.1, lambda 0.9)"]
    assert momentum[-1] < sgd[-1]  # the notes' point: momentum speeds descent


def test_digits_example_learns_and_draws(tmp_path, monkeypatch):
    module = load("digits")
    monkeypatch.setattr(module, "OUTPUT", tmp_path)
    scores, result = module.main(epochs=8)
    assert scores["test"]["accuracy"] > 0.93
    assert (tmp_path / "digits_curves.png").exists() and (tmp_path / "digits_first_layer.png").exists()


def test_vanishing_gradients_example_shows_them(tmp_path, monkeypatch):
    module = load("vanishing_gradients")
    monkeypatch.setattr(module, "OUTPUT", tmp_path)
    norms = module.main(epochs=1)
    sigmoid, relu = norms["sigmoid, initial"], norms["relu, initial"]
    assert sigmoid[0] / sigmoid[-1] < 1e-3 and relu[0] / relu[-1] > 0.1
    assert (tmp_path / "vanishing_gradients.png").exists()


def test_regularization_example_compares_five_remedies(tmp_path, monkeypatch):
    module = load("regularization")
    monkeypatch.setattr(module, "OUTPUT", tmp_path)
    table = module.main(epochs=4, n_train=200)
    assert list(table) == ["none", "L2 (lambda 1e-2)", "L1 (lambda 1e-3)", "dropout 0.5", "early stopping"]
    assert all(0.5 < row["test"] <= 1 for row in table.values())


def test_maxout_example(tmp_path, monkeypatch):
    module = load("maxout")
    monkeypatch.setattr(module, "OUTPUT", tmp_path)
    results = module.main(epochs=3)
    assert set(results) == {"relu", "maxout, 2 pieces", "maxout, 4 pieces"}
    assert all(acc > 0.85 for acc in results.values())


def test_worked_example_script_prints_the_figures(capsys):
    figures = load("worked_example").main()
    out = capsys.readouterr().out
    assert "0.2910277737" in out and "0.2910279239" in out
    assert figures["E_total"] == pytest.approx(0.298371109, abs=1e-9)


def test_custom_layer_example_passes_the_checker(capsys):
    report = load("custom_layer").main()
    assert report.worst("backprop") < 1e-13
    assert "gradient check against autodiff" in capsys.readouterr().out


def test_ensemble_vs_dropout_example(tmp_path, monkeypatch):
    module = load("ensemble_vs_dropout")
    monkeypatch.setattr(module, "OUTPUT", tmp_path)
    table = module.main(epochs=3, members=4)
    members = [table[f"member {i}"] for i in range(4)]
    assert table["mean of members"] == sum(members) / 4
    # Averaging probabilities beats the average member; the plain network is member 0 alone.
    assert table["ensemble of 4"] >= table["mean of members"] + 0.005
    assert abs(table["plain"] - table["member 0"]) <= 1 / 359
    assert 0.8 < table["dropout 0.5"] <= 1
    assert (tmp_path / "ensemble_vs_dropout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_digits_example_runs_with_tiny_arguments(tmp_path):
    numbers = load("search_digits").main(generations=2, default_epochs=2, space=SPACE, out=tmp_path, plot=False, folds=3,
                                         draws=2, finalists=2, patience=1, **SMALL)
    assert numbers["default"]["params"] == 64 * 256 + 256 + 256 * 10 + 10 and len(numbers["default"]["tests"]) == 2
    searched = numbers["searched"]
    assert 0 < searched["test_accuracy"] <= 1 and 0 < searched["cv_accuracy"] <= 1
    assert searched["retrained_test_accuracy"] == sum(searched["retrained_tests"]) / 2
    assert numbers["programs"] == [1, 1]
    written = json.loads((tmp_path / "search_best.json").read_text())
    assert settings.with_defaults(**written) and written["patience"] == 1 and written["epochs"] == 2


def test_cnn_example_sets_a_convolution_against_fully_connected_nets_with_its_control(tmp_path, monkeypatch):
    module = load("cnn")
    monkeypatch.setattr(module, "OUTPUT", tmp_path)
    table = module.main(n=900, epochs=12, fc=module.FC[2:4])
    assert set(table) == {"ordered", "shuffled"}
    for rows in table.values():
        assert rows["cnn"]["params"] == 3972 and rows["fc"]["network"] in ("FC 96", "FC 96, dropout 0.2")
        assert all(0 < row[k] <= 1 for row in rows.values() for k in ("val", "test"))
    # Even this short, the convolution needs its spatial order: shuffling the positions costs it.
    assert table["ordered"]["cnn"]["val"] > table["shuffled"]["cnn"]["val"] + 0.1
    assert table["ordered"]["cnn"]["val"] > table["ordered"]["fc"]["val"]
    assert (tmp_path / "cnn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

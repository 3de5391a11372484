"""fnnet evaluate (and predict after it) on a trained run, and labels the run never saw."""

import json

import numpy as np

from tests.support.command import FAST, fnnet


def test_evaluate_and_predict(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "10", "--out", out) == 0
    capsys.readouterr()
    assert fnnet("evaluate", out, "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert set(results) == {"train", "val", "test"} and results["test"]["accuracy"] > 0.85
    from fnnet import data

    x, y = data.digits()
    np.savez(tmp_path / "some.npz", x=x[:50], y=y[:50])
    assert fnnet("evaluate", out, "--data", tmp_path / "some.npz") == 0
    assert "some.npz" in capsys.readouterr().out
    np.save(tmp_path / "features.npy", x[:20])
    assert fnnet("predict", out, tmp_path / "features.npy", "--out", tmp_path / "pred.csv") == 0
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0] == "index,prediction,probability" and len(lines) == 21
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert np.mean(predicted == y[:20]) >= 0.8


def test_evaluate_rejects_labels_the_run_never_saw(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 64), np.float32), y=np.array([1, 2, 11]))
    assert fnnet("evaluate", out, "--data", tmp_path / "d.npz") == 2
    assert "labels [11] were not among the run's classes" in capsys.readouterr().err


def test_a_bundled_name_is_the_data_set_and_help_says_how_to_name_a_file_so_called(trained, tmp_path, monkeypatch,
                                                                                      capsys):
    from fnnet import data
    from fnnet.cli import main as cli

    monkeypatch.chdir(tmp_path)
    x, y = data.digits()
    with open(tmp_path / "digits", "wb") as f:  # a file of that name does not change what "digits" means
        np.savez(f, x=x[:30], y=y[:30])
    assert fnnet("evaluate", trained, "--data", "digits", "--json") == 0
    assert json.loads(capsys.readouterr().out)["digits"]["examples"] == 1797
    assert fnnet("evaluate", trained, "--data", "./digits", "--format", "npz", "--json") == 0
    assert json.loads(capsys.readouterr().out)["./digits"]["examples"] == 30
    assert fnnet("evaluate", trained, "--data", "digits", "--format", "csv") == 2
    assert capsys.readouterr().err == ("fnnet evaluate: error: --format applies to data files, not to the bundled "
                                       "digits\n")
    help_text = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["evaluate"].format_help().split())
    assert "a bundled name wins over a file so named: write ./digits for the file" in help_text

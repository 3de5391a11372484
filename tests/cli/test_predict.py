"""fnnet predict: a feature file of the wrong width is one line."""


import numpy as np

from tests.support.command import FAST, fnnet


def test_predict_rejects_the_wrong_width(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    np.save(tmp_path / "f.npy", np.zeros((2, 10), np.float32))
    assert fnnet("predict", out, tmp_path / "f.npy") == 2
    assert f"{tmp_path / 'f.npy'}: expected 64 features per row, found 10 (shape (2, 10))" in capsys.readouterr().err


def test_predict_takes_a_bundled_data_sets_name(trained, tmp_path, capsys):
    assert fnnet("predict", trained, "digits", "--out", tmp_path / "p.csv") == 0
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + 1797
    assert fnnet("predict", trained, "xor") == 2
    assert capsys.readouterr().err == ("fnnet predict: error: xor: expected 64 features per example (as the run was "
                                       "trained on), found 2\n")

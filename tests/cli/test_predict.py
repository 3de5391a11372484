"""fnnet predict: a feature file of the wrong width is one line."""


import numpy as np

from tests.support.command import FAST, fnnet


def test_predict_rejects_the_wrong_width(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    np.save(tmp_path / "f.npy", np.zeros((2, 10), np.float32))
    assert fnnet("predict", out, tmp_path / "f.npy") == 2
    assert f"{tmp_path / 'f.npy'}: expected 64 features per row, found 10 (shape (2, 10))" in capsys.readouterr().err

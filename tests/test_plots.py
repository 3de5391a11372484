"""Pictures: a learning curve and curves as PNG, into a file or a file object; without
matplotlib, one line saying how to install it."""

import builtins
import io
import sys

import pytest

from fnnet import plots

PNG = b"\x89PNG\r\n\x1a\n"
HISTORY = [{"epoch": 1, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.2}, {"epoch": 2, "loss": 0.5, "accuracy": 0.8}]


def test_pictures_are_pngs_in_files_and_file_objects(tmp_path):
    pytest.importorskip("matplotlib")
    assert plots.learning_curves(HISTORY, tmp_path / "c.png") == str(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
    buffer = io.BytesIO()
    assert plots.curves({"best": [0.5, 0.7], "mean": [0.3, 0.6]}, buffer, xlabel="generation", ylabel="acc") is buffer
    assert buffer.getvalue()[:8] == PNG


def test_without_matplotlib_the_error_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    real = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name)) if name == "matplotlib"
                        else real(name, *a, **k))
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    with pytest.raises(ImportError, match=r'^plots need matplotlib: pip install "fnnet\[plot\]"$'):
        plots.learning_curves(HISTORY, tmp_path / "c.png")
    assert plots.optional(plots.learning_curves, HISTORY, tmp_path / "d" / "c.png") is None
    assert capsys.readouterr().err == '(no picture: plots need matplotlib: pip install "fnnet[plot]")\n'

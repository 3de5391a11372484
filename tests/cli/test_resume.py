"""fnnet resume: a run trained for more epochs goes on where its checkpoint is; one that
early stopping ended trains nothing and is left as it was."""

from fnnet.runs import files as run_files
from tests.runs.test_directories import snapshot
from tests.support.command import FAST, fnnet

#: Early stopping that ends this digits run at epoch 9 (best epoch 6) of 40.
STOPPING = ["--hidden", "16", "--quiet", "--no-plot", "--lr", "0.01", "--patience", "3"]


def test_resuming_a_run_that_early_stopping_ended_trains_nothing(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *STOPPING, "--epochs", "40", "--out", out) == 0
    before = snapshot(out)
    assert fnnet("resume", out, "--epochs", "5", "--quiet") == 0
    assert "already stopped by early stopping; nothing to train" in capsys.readouterr().err
    assert snapshot(out) == before


def test_resume_goes_on_from_the_checkpoint_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--patience", "0", "--out", out) == 0
    assert fnnet("resume", out, "--epochs", "2", "--no-plot") == 0
    printed = capsys.readouterr().out
    assert "ran 5 epochs (early stopping off" in printed and "validation" in printed
    assert [r["epoch"] for r in run_files.read_history(out)] == [1, 2, 3, 4, 5]
    assert fnnet("resume", tmp_path / "nowhere", "--epochs", "1") == 2
    assert capsys.readouterr().err == f"fnnet resume: error: no run directory at {tmp_path / 'nowhere'}\n"


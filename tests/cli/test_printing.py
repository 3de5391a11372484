"""What the commands print as they go: a tqdm bar from the first step on, or without tqdm
a line per step; nothing when quiet."""

import builtins
import sys

import pytest

from fnnet.cli import printing


@pytest.fixture
def no_tqdm(monkeypatch):
    real = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == "tqdm":
            raise ImportError("no tqdm here")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    monkeypatch.delitem(sys.modules, "tqdm", raising=False)


def test_without_tqdm_each_epoch_is_a_line_of_its_metrics(no_tqdm, capsys):
    on_epoch, close = printing.epoch_progress(2, quiet=False)
    on_epoch({"epoch": 1, "step": 3, "loss": 0.5, "accuracy": 0.75, "val_loss": 0.625})
    on_epoch({"epoch": 2, "step": 6, "loss": 0.25, "accuracy": 1.0})
    close()
    assert capsys.readouterr().out == ("epoch 1: loss 0.5000, accuracy 0.7500, val_loss 0.6250\n"
                                       "epoch 2: loss 0.2500, accuracy 1.0000\n")


def test_quiet_prints_nothing_and_gives_no_callback(capsys):
    on_epoch, close = printing.epoch_progress(3, quiet=True)
    assert on_epoch is None
    show, close = printing.progress(3, "generation", quiet=True)
    show("generation 1", "best 50%")
    close()
    assert capsys.readouterr() == ("", "")


def test_with_tqdm_the_bar_counts_the_steps(capsys):
    pytest.importorskip("tqdm")
    show, close = printing.progress(2, "generation", quiet=False)
    show("generation 1", "best 50.00%")
    show("generation 2", "best 75.00%")
    close()
    err = capsys.readouterr().err
    assert "2/2" in err and "best 75.00%" in err and "generation" in err

"""Absurd sizes: a run that cannot fit in memory is refused before anything is allocated
or written (one line, the estimate, the limit, what to shrink); one that barely fits is
warned about; never a hang."""

import subprocess
import sys
import time

from fnnet import memory
from fnnet.runs import pipeline, settings
from tests.support.command import fnnet

FLAGS = ["--epochs", "1", "--quiet", "--no-plot"]


def test_a_network_larger_than_memory_is_refused_at_once_and_nothing_is_written(tmp_path):
    """The issue's hang: ``--hidden 100000000`` (30 GB of weights) waited forever."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "fnnet", "train", "--hidden", "100000000", *FLAGS,
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert time.monotonic() - start < 60
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("fnnet train: error: training this network needs about "), proc.stderr
    assert "host memory available; try a smaller --hidden or --batch-size" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def _estimate(*argv, members=1):
    given = {name: None for name in settings.SETTINGS}
    given.update(hidden=[int(argv[1])], epochs=1)
    the_plan = pipeline.plan_run(given)
    return memory.training(the_plan.net, the_plan.optimizer, "float32",
                           examples=len(the_plan.splits["train"][0]), batch_size=32,
                           eval_examples=len(the_plan.splits["val"][0]) + len(the_plan.splits["test"][0]),
                           members=members, early_stopping=True).total


def test_a_run_near_the_limit_is_warned_about_in_one_line(tmp_path, monkeypatch, capsys):
    need = _estimate("--hidden", "64")
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", str(int(need / 0.9)))
    assert fnnet("train", "--hidden", "64", *FLAGS, "--out", tmp_path / "run") == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("fnnet: warning: training this network needs about "), err
    assert ", 90% of the " in err[0] and err[0].endswith("to leave room")


def test_members_count_in_the_estimate(tmp_path, monkeypatch, capsys):
    """One member fits the limit; 64 of them do not, and the refusal says so."""
    one = _estimate("--hidden", "64")
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", str(2 * one))
    assert fnnet("train", "--hidden", "64", "--members", "64", *FLAGS, "--out", tmp_path / "run") == 2
    err = capsys.readouterr().err
    assert err.startswith("fnnet train: error: training 64 members needs about ") and "fewer --members" in err, err
    assert not (tmp_path / "run").exists()


def test_a_search_whose_groups_cannot_fit_says_so_in_its_own_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FNNET_MEMORY_LIMIT", "2M")
    out = tmp_path / "search"
    assert fnnet("search", "--population", "4", "--generations", "1", "--quiet", "--no-plot", "--out", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("fnnet search: error: training a group of ") and err.count("\n") == 1, err
    assert "more than the 2.0 MB the limit FNNET_MEMORY_LIMIT sets; try a smaller --population, --width" in err
    assert not out.exists()

"""``fnnet train --members N``: N networks in one fit_many program, a leaderboard, the
ensemble's accuracy, and the best member saved as an ordinary run."""

import json

import jax
import numpy as np
import pytest

from fnnet import checkpoint, ensemble_accuracy, unstack
from fnnet.runs import directories as runs
from fnnet.runs import members as members_run
from fnnet.runs import pipeline
from fnnet.runs.pipeline import restore_run as restore
from fnnet.runs.pipeline import run_data
from tests.support.command import fnnet

FAST = ["--epochs", "3", "--hidden", "16", "--quiet", "--no-plot"]


def _close(got, want, **tolerance):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, **tolerance)


def test_member_0_is_the_plain_run_and_the_best_member_is_saved(tmp_path):
    assert fnnet("train", *FAST, "--seed", 3, "--out", tmp_path / "plain") == 0
    plan = pipeline.plan_run({"epochs": 3, "hidden": [16], "seed": 3})
    outcome = members_run.train_members(plan, 3, out=tmp_path / "m", plot=False)
    board = outcome.leaderboard
    assert sorted(r["member"] for r in board) == [0, 1, 2]
    assert all(r["seed"] == 3 + r["member"] for r in board)
    assert [r["val_loss"] for r in board] == sorted(r["val_loss"] for r in board)
    assert len({r["val_loss"] for r in board}) == 3  # distinct seeds, distinct networks

    members = unstack(outcome.result.params)
    _close(members[0], checkpoint.load_params(tmp_path / "plain" / runs.CHECKPOINT), rtol=1e-4, atol=1e-5)
    metrics = json.loads((tmp_path / "plain" / runs.SUMMARY).read_text())["metrics"]
    row = next(r for r in board if r["member"] == 0)
    for split in ("train", "val", "test"):
        assert row[f"{split}_loss"] == pytest.approx(metrics[split]["loss"], rel=1e-4)
        assert row[f"{split}_accuracy"] == pytest.approx(metrics[split]["accuracy"], abs=2 / 359)

    _close(checkpoint.load_params(tmp_path / "m" / runs.CHECKPOINT), members[board[0]["member"]], rtol=0, atol=0)
    saved = json.loads((tmp_path / "m" / runs.MEMBERS).read_text())
    assert saved["leaderboard"] == board and saved["saved_member"] == board[0]["member"]
    assert saved["seeds"] == [3, 4, 5] and saved["ranked_by"] == "val_loss"
    run = restore(tmp_path / "m")
    assert run.config["members"] == 3
    assert saved["ensemble"]["test"] == ensemble_accuracy(run.net, outcome.result.params, *run_data(run)["test"])


def test_the_command_prints_the_leaderboard_and_the_run_works_as_any_run(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST[:-2], "--no-plot", "--members", 3, "--out", out) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / runs.MEMBERS).read_text())
    best = saved["leaderboard"][0]
    assert "training 3 members of 64 -> 16 -> 10 (relu)" in printed
    assert "3 members, best first by validation loss" in printed
    assert f"saved member {best['member']} (seed {best['seed']}) as the run's model" in printed
    assert f"ensemble of 3 (mean of their probabilities): accuracy validation {saved['ensemble']['val']:.2%}" \
        in printed
    assert fnnet("evaluate", out, "--json") == 0
    results = json.loads(capsys.readouterr().out)
    for split in ("train", "val", "test"):
        assert results[split]["accuracy"] == best[f"{split}_accuracy"]
        assert results[split]["loss"] == pytest.approx(best[f"{split}_loss"], rel=1e-6)
    history = [json.loads(line) for line in (out / runs.HISTORY).read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert fnnet("resume", out, "--epochs", 1, "--quiet", "--no-plot") == 0
    assert json.loads((out / runs.SUMMARY).read_text())["epochs_done"] == 4
    assert (out / runs.MEMBERS).exists()  # the ensemble's record outlives a resume
    # A plain run replaces it, and the old leaderboard (fnnet's own file) goes with it.
    assert fnnet("train", *FAST, "--out", out, "--overwrite") == 0
    assert "members.json" in capsys.readouterr().err and not (out / runs.MEMBERS).exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "--members", "0"], "argument --members: expected an integer in [1, 256], got 0"),
    (["train", "--members", "-2"], "argument --members: expected an integer in [1, 256], got -2"),
    (["train", "--members", "300"], "argument --members: expected an integer in [1, 256], got 300"),
    (["train", "--members", "two"], "argument --members: expected an integer, got 'two'"),
    (["resume", "somewhere", "--epochs", "1", "--members", "2"], "unrecognized arguments: --members 2"),
    (["train", "--members", "2", "--seed", str(2**63 - 1)], "expected seeds below 2**63"),
])
def test_bad_members_values_are_one_line_errors_and_write_nothing(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert fnnet(*argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_ensemble_run_goes_on_as_its_members_plain_run(tmp_path):
    # The saved member carries its optimizer state: resumed, it is its own plain run
    # trained 3 + 1 epochs (to the vmapped program's round-off).
    # Seed 7: member 0 (seed 7, the run's own split) has the lower validation loss (1.40
    # against 1.71), so it is the one saved and the plain run with seed 7 is its twin.
    assert fnnet("train", *FAST, "--members", 2, "--seed", 7, "--patience", 0, "--out", tmp_path / "m") == 0
    assert json.loads((tmp_path / "m" / runs.MEMBERS).read_text())["leaderboard"][0]["member"] == 0
    assert fnnet("train", *FAST, "--seed", 7, "--patience", 0, "--out", tmp_path / "plain") == 0
    for run in ("m", "plain"):
        assert fnnet("resume", tmp_path / run, "--epochs", 1, "--quiet", "--no-plot") == 0
    resumed = [checkpoint.load_params(tmp_path / run / runs.CHECKPOINT, best=False) for run in ("m", "plain")]
    _close(*resumed, rtol=1e-4, atol=1e-5)


def test_an_ensemble_without_validation_split_and_members_that_blow_up(tmp_path, capsys):
    # xor has no validation or test split: the table has training columns only.
    assert fnnet("train", "--members", 2, "--data", "xor", "--epochs", 5, "--no-plot", "--out", tmp_path / "x") == 0
    out = capsys.readouterr().out
    assert "2 members, best first by training loss:" in out and "val loss" not in out
    assert "ensemble of 2 (mean of their probabilities): accuracy train " in out
    # lr 3 with SGD: some members' losses overflow; they are marked, left out of the
    # ensemble, ranked last, and members.json stays strict JSON (null, not Infinity).
    assert fnnet("train", "--members", 6, "--hidden", 8, "--epochs", 3, "--optimizer", "sgd", "--lr", 3,
                 "--patience", 0, "--no-plot", "--quiet", "--out", tmp_path / "d") == 0
    text = (tmp_path / "d" / runs.MEMBERS).read_text()
    assert "Infinity" not in text and "NaN" not in text
    board = json.loads(text)["leaderboard"]
    flags = [r["diverged"] for r in board]
    assert flags == sorted(flags)  # the diverged last
    for r in board:
        if any(r[f"{k}_loss"] is None for k in ("train", "val", "test")):
            assert r["diverged"]

"""The files inside a run: the history, one JSON line per epoch, cut back to the
checkpoint's epoch after a kill; a malformed line named."""

import json

import pytest

from fnnet.runs import directories as runs
from fnnet.runs import files as run_files
from tests.runs.test_directories import make_run


def test_history_is_cut_back_to_the_checkpoints_epoch(tmp_path):
    out = make_run(tmp_path / "r")
    for epoch in range(1, 6):
        run_files.append_history(out, {"epoch": epoch, "loss": 1.0 / epoch})
    with open(out / runs.HISTORY, "a") as f:
        f.write('{"epoch": 6, "lo')  # a kill in the middle of a line
    assert [r["epoch"] for r in run_files.read_history(out)] == [1, 2, 3, 4, 5]
    assert [r["epoch"] for r in run_files.truncate_history(out, 4)] == [1, 2, 3, 4]
    assert (out / runs.HISTORY).read_text() == "".join(
        json.dumps({"epoch": e, "loss": 1.0 / e}) + "\n" for e in range(1, 5))
    with pytest.raises(runs.RunError, match="holds epochs \\[1, 2, 3, 4\\].*checkpoint is at epoch 7"):
        run_files.truncate_history(out, 7)


def test_a_malformed_history_line_is_named(tmp_path):
    out = make_run(tmp_path / "r")
    (out / runs.HISTORY).write_text('{"epoch": 1}\nnot json\n{"epoch": 3}\n')
    with pytest.raises(runs.RunError, match=r"history.jsonl: line 2, column 1: not valid JSON"):
        run_files.read_history(out)

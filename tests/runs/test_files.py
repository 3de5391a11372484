"""The files inside a run: the history, one JSON line per epoch, cut back to the
checkpoint's epoch after a kill; a malformed line named."""

import json

import pytest

from fnnet.runs import directories as runs
from fnnet.runs import files as run_files
from tests.runs.test_directories import make_run
from tests.support.fifo import fifo


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


def test_a_summary_names_the_checkpoint_it_describes_and_goes_only_when_stale(tmp_path):
    out = make_run(tmp_path / "r")
    run_files.write_json(out / runs.SUMMARY, {"epochs_done": 3})
    (out / runs.CURVE).write_bytes(b"png")
    assert run_files.summary_epoch(out) == 3
    assert not run_files.remove_stale_results(out, 3)  # it describes this checkpoint: kept
    assert (out / runs.SUMMARY).exists() and (out / runs.CURVE).exists()
    assert run_files.remove_stale_results(out, 4)  # a newer checkpoint: it would mislead
    assert not (out / runs.SUMMARY).exists() and not (out / runs.CURVE).exists()
    (out / runs.SUMMARY).write_text("not json")  # not fnnet's to judge: left alone
    assert run_files.summary_epoch(out) is None and not run_files.remove_stale_results(out, 4)
    assert (out / runs.SUMMARY).read_text() == "not json"


def test_the_history_is_cut_back_in_place(tmp_path):
    out = make_run(tmp_path / "r")
    assert run_files.history_size(out) == 0
    run_files.append_history(out, {"epoch": 1})
    size = run_files.history_size(out)
    run_files.append_history(out, {"epoch": 2})
    run_files.cut_history(out, size)
    assert (out / runs.HISTORY).read_text() == '{"epoch": 1}\n'
    run_files.cut_history(out, 0)
    assert not (out / runs.HISTORY).exists()


def test_json_that_is_not_a_regular_file_is_refused_before_it_is_opened(tmp_path):
    # b37, b36: a FIFO as --config waited forever in open(); /dev/zero filled memory.
    with fifo(tmp_path / "settings.json") as path:
        with pytest.raises(runs.RunError) as e:
            run_files.read_json(path)
        assert str(e.value) == f"{path}: expected a regular file, found a named pipe (FIFO)"
    with pytest.raises(runs.RunError) as e:
        run_files.read_json("/dev/zero")
    assert str(e.value) == "/dev/zero: expected a regular file, found a character device"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_json_nested_too_deeply_is_one_error(tmp_path):
    # b35, c20: 100,000 nested arrays were a RecursionError's traceback.
    path = tmp_path / "settings.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(runs.RunError) as e:
        run_files.read_json(path)
    assert str(e.value) == f"{path}: expected JSON of a few levels, found arrays or objects nested too deeply"
    out = make_run(tmp_path / "r")
    (out / runs.HISTORY).write_text('{"epoch": 1}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(runs.RunError) as e:
        run_files.read_history(out)
    assert str(e.value) == (f"{out / runs.HISTORY}: line 2: expected an object of a few levels, found one nested "
                            "too deeply")

"""fnnet train --config FILE: a JSON object of settings, each checked; options on the
command line override it; a bad file is one line naming it, and nothing is written."""

import json
import subprocess
import sys

import pytest

from fnnet import cli, run_files

FAST = ["--quiet", "--no-plot"]


def fnnet(*argv):
    return cli.main([str(a) for a in argv])


def test_the_file_sets_the_run_and_options_override_it(tmp_path):
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"hidden": [16, 8], "activation": "tanh", "lr": 0.01, "epochs": 2,
                                  "dropout": 0.0}))
    assert fnnet("train", "--config", config, "--lr", "0.02", "--out", tmp_path / "run", *FAST) == 0
    saved = run_files.read_config(tmp_path / "run")
    assert (saved["hidden"], saved["activation"], saved["epochs"], saved["dropout"]) == ([16, 8], "tanh", 2, 0.0)
    assert saved["lr"] == 0.02  # the command line wins
    assert len(run_files.read_history(tmp_path / "run")) == 2


@pytest.mark.parametrize("text, message", [
    ('{"hidden": [16],\n "lrr": 1}', "{path}: unknown settings ['lrr']; expected some of ['activation', "),
    ('{"hidden": [16], "lr": -1}', "{path}: lr (--lr): expected a number > 0, got -1"),
    ('{"hidden": [16],\n "lr": 1,}', "{path}: line 2, column 10: not valid JSON"),
    ('[1, 2]', "{path}: expected a JSON object, found a list"),
    (None, "{path} is missing"),
], ids=["unknown", "value", "json", "not an object", "missing"])
def test_a_bad_file_is_one_line_and_nothing_is_written(tmp_path, capsys, text, message):
    path = tmp_path / "c.json"
    if text is not None:
        path.write_text(text)
    assert fnnet("train", "--config", path, "--out", tmp_path / "run", *FAST) == 2
    err = capsys.readouterr().err
    assert err.startswith("fnnet train: error: " + message.format(path=path)), err
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path):
    # `fnnet train | head -1`: the command's last line meets a closed pipe.
    proc = subprocess.run(f"{sys.executable} -m fnnet train --epochs 1 --hidden 8 --no-plot --out run | head -1",
                          shell=True, capture_output=True, text=True, cwd=tmp_path)
    assert proc.stdout.startswith("training 64 -> 8 -> 10") and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("text, message", [
    ('{"epochs": 1,\n "epochs": 2}', "{path}: the key 'epochs' appears twice in one object"),
    ('{"run_format_version": 3, "hidden": [8]}', "{path} is a run's record (its config.json), not a settings file"),
], ids=["duplicate key", "a run's config"])
def test_files_that_say_a_thing_twice_or_are_a_runs_record(tmp_path, capsys, text, message):
    path = tmp_path / "c.json"
    path.write_text(text)
    assert fnnet("train", "--config", path, "--out", tmp_path / "run", *FAST) == 2
    assert capsys.readouterr().err.startswith("fnnet train: error: " + message.format(path=path))
    assert not (tmp_path / "run").exists()


def test_a_byte_order_mark_is_not_a_mistake(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"hidden": [8], "epochs": 1}).encode())
    assert fnnet("train", "--config", path, "--out", tmp_path / "run", *FAST) == 0
    assert run_files.read_config(tmp_path / "run")["hidden"] == [8]


def test_a_data_file_is_found_beside_the_config_and_its_settings_are_named_with_it(tmp_path, capsys):
    sub = tmp_path / "sub"
    sub.mkdir()
    rows = ["a,b,label"] + [f"{i % 7},{i % 5},{i % 2}" for i in range(40)]
    (sub / "d.csv").write_text("\n".join(rows) + "\n")
    (sub / "c.json").write_text(json.dumps({"data": "d.csv", "hidden": [4], "epochs": 1, "batch_size": 8}))
    # pytest's working directory is not sub/: the path is taken relative to the file.
    assert fnnet("train", "--config", sub / "c.json", "--out", tmp_path / "run", *FAST) == 0
    assert run_files.read_config(tmp_path / "run")["data"] == str(sub / "d.csv")
    (sub / "x.json").write_text(json.dumps({"label_column": 2}))
    assert fnnet("train", "--config", sub / "x.json", "--data", "xor", "--out", tmp_path / "r2", *FAST) == 2
    assert capsys.readouterr().err == (f"fnnet train: error: {sub / 'x.json'}: --label-column applies to data "
                                       "files, not to the bundled xor\n")

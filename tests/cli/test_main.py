"""The fnnet command's entry: bad data files, missing, incompatible and corrupt runs, the
other commands and options, and bad input: one line each, and nothing made."""

import gzip
import json
import struct

import numpy as np
import pytest

from fnnet import checkpoint
from fnnet.runs import directories as runs
from tests.support.command import FAST, files_of, fnnet, train_on, write_csv
from tests.support.fifo import fifo


def _idx(path, magic, dims, payload):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file|not found|does not exist"),
    (lambda p: _idx(p, 0x803, (10, 2, 2), bytes(range(20))), r"truncated|expected 40 bytes"),
    (lambda p: _idx(p, 0x999, (10, 2, 2), bytes(40)), "magic"),
])
def test_bad_idx_files_are_reported_without_traceback(tmp_path, capsys, make, message):
    images = tmp_path / "train-images-idx3-ubyte.gz"
    make(images)
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", 0x801, (10,), bytes(10))
    assert train_on(tmp_path, images) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_bad_csv_and_npz_are_reported(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("1,2,0\n3,oops,1\n")
    assert train_on(tmp_path, tmp_path / "bad.csv") == 2
    assert "line 2" in capsys.readouterr().err
    np.savez(tmp_path / "nolabels.npz", x=np.ones((4, 2)))
    assert train_on(tmp_path, tmp_path / "nolabels.npz") == 2
    assert "'y'" in capsys.readouterr().err


def test_missing_incompatible_and_corrupt_runs(tmp_path, capsys):
    assert fnnet("evaluate", tmp_path / "nothing") == 2
    assert "no run directory" in capsys.readouterr().err
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    config = json.loads((out / runs.CONFIG).read_text())
    (out / runs.CONFIG).write_text(json.dumps({**config, "run_format_version": 0}))
    assert fnnet("evaluate", out) == 2
    assert "incompatible fnnet" in capsys.readouterr().err
    (out / runs.CONFIG).write_text(json.dumps(config))
    data = (out / runs.CHECKPOINT).read_bytes()
    (out / runs.CHECKPOINT).write_bytes(data[:-200])
    assert fnnet("resume", out, "--epochs", "1", "--quiet") == 2
    err = capsys.readouterr().err
    assert "truncated or corrupt" in err and "Traceback" not in err
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.read_config(out / runs.CHECKPOINT)


def test_other_commands_and_options(tmp_path, capsys):
    # Every optimizer trains, resumes and evaluates in tests/reliability/test_command.py.
    assert fnnet("train", *FAST, "--epochs", "1", "--activation", "maxout", "--loss", "squared_error",
                 "--grad", "backprop", "--l1", "1e-5", "--clip", "1.0", "--out", tmp_path / "mx") == 0
    assert fnnet("train", *FAST, "--data", "xor", "--epochs", "1", "--val", "0", "--test", "0",
                 "--batch-size", "2", "--out", tmp_path / "xor") == 0


# ---------------------------------------------------------------- bad input: one line, nothing made


def _files(tmp):
    """The bad files a careless or hostile user hands to the command."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)).round(3)
    nan_rows = [list(r) + [c] for r, c in zip(x, [0, 1] * 6)]
    nan_rows[6][2] = "nan"  # the file's line 7, column 3
    write_csv(tmp / "nan.csv", nan_rows)
    write_csv(tmp / "one_class.csv", [list(r) + [1] for r in x])
    np.savez(tmp / "empty.npz", x=np.zeros((0, 3), np.float32), y=np.zeros(0, np.int32))
    np.savez(tmp / "narrow.npz", x=np.zeros((4, 10), np.float32), y=np.zeros(4, np.int32))
    np.save(tmp / "strings.npy", np.array([["a"] * 64]))
    np.save(tmp / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp / "d.txt").write_text("1,2,0\n")
    (tmp / "f.txt").write_text("1,2\n")
    write_csv(tmp / "abc.csv", [["abc"] + [0] * 63, [1] * 64])
    write_csv(tmp / "named.csv", [[f"p{i}" for i in range(64)], [1] * 64])
    np.savez(tmp / "onehot.npz", x=x.astype(np.float32), y=np.eye(2, dtype=np.int32)[[0, 1] * 6])
    (tmp / "proj").mkdir()
    (tmp / "proj" / "config.json").write_text("{}")  # a project folder, not a run
    (tmp / "proj" / "main.py").write_text("print('mine')")


BAD = [
    (["train", "--clip", "0"], r"argument --clip: expected a number > 0, got 0.0"),
    (["train", "--momentum", "1"], r"argument --momentum: expected a number in \[0, 1\), got 1.0"),
    (["train", "--lr", "-0.1"], r"argument --lr: expected a number > 0, got -0.1"),
    (["train", "--lr", "nan"], r"argument --lr: expected a finite number, got nan"),
    (["train", "--lr", "1e-320"], r"argument --lr: expected a number > 0 that float32 can hold \(at least 1.2e-38\), "
                                  r"got 1e-320"),
    (["train", "--l2", "1e39"], r"argument --l2: expected a number float32 can hold \(at most 3.4e\+38\), got 1e\+39"),
    (["train", "--seed", str(2**63)], r"argument --seed: expected an integer in \[0, 2\*\*63\)"),
    (["train", "--label-column", "3"], r"--label-column applies to data files, not to the bundled digits"),
    (["worked-example", "--steps", str(10**9)], r"argument --steps: expected an integer in \[1, 100000000\]"),
    (["train", "--patience", "-1"], r"argument --patience: expected an integer >= 0, got -1"),
    (["train", "--hidden", "16", "0"], r"argument --hidden: expected an integer >= 1, got 0"),
    (["train", "--seed", "-3"], r"argument --seed: expected an integer >= 0, got -3"),
    (["train", "--val", "0.6", "--test", "0.5"], r"--val 0.6 and --test 0.5 leave nothing to train on"),
    (["train", "--batch-size", "5000"], r"--batch-size 5000 is larger than the 1168 training examples"),
    (["train", "--data", "{tmp}/d.txt"], r"d.txt: cannot tell the format from the name \(.txt\); pass --format, "
                                         r"one of npz, csv, svmlight, libsvm, idx, mnist"),
    (["train", "--data", "{tmp}/one_class.csv"], r"one_class.csv: every label is 1; a classifier needs at least "
                                                 r"two classes"),
    (["train", "--data", "{tmp}/nan.csv"], r"nan.csv: line 7, column 3: expected a finite number, found 'nan'"),
    (["train", "--data", "{tmp}/empty.npz"], r"empty.npz: the data set is empty"),
    (["evaluate", "{run}", "--data", "{tmp}/narrow.npz"], r"narrow.npz: expected 64 features per example \(as "
                                                          r"the run was trained on\), found 10"),
    (["predict", "{run}", "{tmp}/strings.npy"], r"strings.npy: expected a NumPy array of numbers, found strings"),
    (["predict", "{run}", "{tmp}/objects.npy"], r"objects.npy: .*which fnnet never loads"),
    (["predict", "{run}", "{tmp}/f.txt"], r"f.txt: cannot tell the format from the name \(.txt\); pass --format, "
                                          r"one of npy, npz, csv"),
    (["predict", "{run}", "{tmp}/abc.csv"], r"abc.csv: line 1, column 1: expected a number, found 'abc' in a row "
                                            r"that also holds numbers; pass --header if line 1 is a header"),
    (["predict", "{run}", "{tmp}/named.csv", "--no-header"], r"named.csv: line 1, column 1: expected a number, "
                                                             r"found 'p0'"),
    (["resume", "{run}", "--epochs", "0"], r"argument --epochs: expected an integer >= 1, got 0"),
    (["evaluate", "{tmp}/nothing"], r"no run directory at .*nothing"),
    (["train", "--data", "{tmp}/onehot.npz"], r"onehot.npz: expected one class label per example \(shape \(n,\)\), "
                                              r"found labels of shape \(12, 2\)"),
    (["train", "--out", "{tmp}/d.txt"], r"d.txt is a file, not a run directory; choose another --out"),
    (["train", "--out", "{tmp}/proj", "--overwrite"], r"refusing to replace .*proj: fnnet did not create it"),
    (["train", "--out", ".", "--overwrite"], r"refusing to replace .: it is the current directory"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_input_gets_one_line_and_makes_nothing(tmp_path, trained, monkeypatch, capsys, argv, message):
    import re

    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    before, run_before = sorted(p.name for p in tmp_path.iterdir()), files_of(trained)
    project = files_of(tmp_path / "proj")
    code = fnnet(*[a.format(tmp=tmp_path, run=trained) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"fnnet {argv[0]}: error: ") and re.search(message, err), err
    assert "allow_pickle" not in err and "pickle.load" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run directory, no litter
    assert files_of(trained) == run_before and files_of(tmp_path / "proj") == project




def test_the_device_running_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    import jax

    from fnnet.runs import pipeline

    def exhausted(*args, **kwargs):
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 39322178136 bytes.\n"
                                         "more lines of XLA's")

    monkeypatch.setattr(pipeline, "plan_run", exhausted)  # e.g. --conv 100000 on the digits
    assert fnnet("train", "--conv", "100000", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err == ("fnnet train: error: out of memory (allocating 39322178136 bytes; try a "
                                       "smaller network or --batch-size)\n")

    def other(*args, **kwargs):
        raise jax.errors.JaxRuntimeError("INTERNAL: something else")

    monkeypatch.setattr(pipeline, "plan_run", other)  # not the user's doing: not hidden
    with pytest.raises(jax.errors.JaxRuntimeError, match="INTERNAL"):
        fnnet("train", "--out", tmp_path / "r")


# ---------------------------------------------------------------- hostile paths


def test_named_pipes_and_devices_are_one_line_and_never_a_hang(tmp_path, capsys, trained):
    # b14, b37, b44: a FIFO with no writer waited forever in open(); b15, b36: /dev/zero
    # as data waited, as --config was "out of memory".
    out = tmp_path / "run"
    with fifo(tmp_path / "data.csv") as data, fifo(tmp_path / "settings.json") as config, \
            fifo(tmp_path / "features.npy") as features:
        assert fnnet("train", *FAST, "--data", data, "--out", out) == 2
        assert capsys.readouterr().err == (f"fnnet train: error: {data}: expected a regular file, found a named "
                                           "pipe (FIFO)\n")
        assert fnnet("train", *FAST, "--config", config, "--out", out) == 2
        assert capsys.readouterr().err == (f"fnnet train: error: {config}: expected a regular file, found a named "
                                           "pipe (FIFO)\n")
        assert fnnet("predict", trained, features) == 2
        assert capsys.readouterr().err == (f"fnnet predict: error: {features}: expected a regular file, found a "
                                           "named pipe (FIFO)\n")
    assert fnnet("train", *FAST, "--data", "/dev/zero", "--format", "csv", "--out", out) == 2
    assert capsys.readouterr().err == ("fnnet train: error: /dev/zero: expected a regular file, found a character "
                                       "device\n")
    assert fnnet("train", *FAST, "--config", "/dev/zero", "--out", out) == 2
    assert capsys.readouterr().err == ("fnnet train: error: /dev/zero: expected a regular file, found a character "
                                       "device\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "features.npy", "settings.json"]


def test_json_nested_too_deeply_is_one_line(tmp_path, capsys, trained):
    # b35: --config; c20: a run's config.json read by evaluate.
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "settings.json").write_text(deep)
    assert fnnet("train", *FAST, "--config", tmp_path / "settings.json", "--out", tmp_path / "run") == 2
    assert capsys.readouterr().err == (f"fnnet train: error: {tmp_path / 'settings.json'}: expected JSON of a few "
                                       "levels, found arrays or objects nested too deeply\n")
    assert not (tmp_path / "run").exists()
    run = tmp_path / "copy"
    run.mkdir()
    for p in trained.iterdir():
        if p.is_file():
            (run / p.name).write_bytes(p.read_bytes())
    (run / runs.CONFIG).write_text(deep)
    before = files_of(run)
    assert fnnet("evaluate", run) == 2
    assert capsys.readouterr().err == (f"fnnet evaluate: error: {run / runs.CONFIG}: expected JSON of a few "
                                       "levels, found arrays or objects nested too deeply\n")
    assert files_of(run) == before


def test_a_lock_file_that_is_a_directory_is_named(tmp_path, capsys, trained):
    # c17: it was "cannot write to the run directory X: Is a directory".
    run = tmp_path / "copy"
    run.mkdir()
    for p in trained.iterdir():
        if p.is_file() and p.name != runs.LOCK:
            (run / p.name).write_bytes(p.read_bytes())
    (run / runs.LOCK).mkdir()
    before = files_of(run)
    assert fnnet("resume", run, "--epochs", "1", "--quiet") == 2
    # The run's own check (fnnet.runs) or the lock's (fnnet.storage.locks) says it: one line naming the lock file.
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fnnet resume: error: ") and f"{run / runs.LOCK}" in err, err
    assert "remove it" in err and "Traceback" not in err
    assert {n: b for n, b in files_of(run).items() if n != runs.LOCK} == before


def test_a_deleted_current_directory_is_named(tmp_path, capsys, monkeypatch):
    # d24: it was "standard output: No such file or directory".
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert fnnet("train", *FAST, "--data", "xor", "--out", "relative") == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "fnnet train: error: the current directory no longer exists (it was deleted); cd to one that does and run "
        "it again")
    assert list(tmp_path.iterdir()) == []

"""The fnnet command, end to end, on small runs."""

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from fnnet import checkpoint, cli, run_files, runs

FAST = ["--epochs", "3", "--hidden", "32", "--quiet", "--no-plot"]


def fnnet(*argv):
    return cli.main([str(a) for a in argv])


def test_default_train_reaches_97_percent_on_digits(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fnnet", "train", "--out", tmp_path / "run"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / runs.SUMMARY).read_text())
    assert summary["metrics"]["test"]["accuracy"] >= 0.97
    assert "test" in proc.stdout and "diagnosis:" in proc.stdout
    assert "training 64 -> 256 -> 10 (relu) on digits: 1168 train, 270 validation, 359 test" in proc.stdout
    assert __import__("re").search(r"early stopping: (stopped at epoch \d+, best \d+|ran all 60 epochs, best \d+), "
                                   r"restored", proc.stdout), proc.stdout
    for name in (runs.CONFIG, runs.HISTORY, runs.CHECKPOINT, runs.SUMMARY, runs.CURVE):
        assert (tmp_path / "run" / name).exists(), name
    assert (tmp_path / "run" / runs.CURVE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = run_files.read_history(tmp_path / "run")
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))


def test_train_writes_a_run_directory_and_never_overwrites_one(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--out", out) == 0
    config = json.loads((out / runs.CONFIG).read_text())
    assert config["classes"] == list(range(10)) and config == checkpoint.read_config(out / runs.CHECKPOINT)
    assert json.loads((out / runs.SUMMARY).read_text())["epochs_done"] == 3
    assert len(run_files.read_history(out)) == 3
    assert fnnet("train", *FAST, "--out", out) == 2
    err = capsys.readouterr().err
    assert "already exists; choose another --out or pass --overwrite" in err and "Traceback" not in err
    assert fnnet("train", *FAST, "--out", out, "--overwrite") == 0


def test_default_run_directories_are_numbered(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fnnet("train", *FAST, "--epochs", "1") == 0
    assert fnnet("train", *FAST, "--epochs", "1") == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["digits-1", "digits-2"]


def test_evaluate_and_predict(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "10", "--out", out) == 0
    capsys.readouterr()
    assert fnnet("evaluate", out, "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert set(results) == {"train", "val", "test"} and results["test"]["accuracy"] > 0.85
    from fnnet import data

    x, y = data.digits()
    np.savez(tmp_path / "some.npz", x=x[:50], y=y[:50])
    assert fnnet("evaluate", out, "--data", tmp_path / "some.npz") == 0
    assert "some.npz" in capsys.readouterr().out
    np.save(tmp_path / "features.npy", x[:20])
    assert fnnet("predict", out, tmp_path / "features.npy", "--out", tmp_path / "pred.csv") == 0
    lines = (tmp_path / "pred.csv").read_text().splitlines()
    assert lines[0] == "index,prediction,probability" and len(lines) == 21
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert np.mean(predicted == y[:20]) >= 0.8


def _train_on(tmp_path, path, *extra):
    return fnnet("train", *FAST, "--data", path, "--out", tmp_path / "run", "--overwrite", *extra)


def test_user_files_train(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + 1  # labels 1 and 2: mapped to classes
    np.savez(tmp_path / "d.npz", x=x, y=y)
    assert _train_on(tmp_path, tmp_path / "d.npz") == 0
    assert json.loads((tmp_path / "run" / runs.CONFIG).read_text())["classes"] == [1, 2]
    rows = ["a,b,c,d,e,label"] + [",".join(f"{v:.4f}" for v in r) + f",{c}" for r, c in zip(x, y)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    assert _train_on(tmp_path, tmp_path / "d.csv", "--label-column", "label") == 0


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
    assert _train_on(tmp_path, images) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_bad_csv_and_npz_are_reported(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("1,2,0\n3,oops,1\n")
    assert _train_on(tmp_path, tmp_path / "bad.csv") == 2
    assert "line 2" in capsys.readouterr().err
    np.savez(tmp_path / "nolabels.npz", x=np.ones((4, 2)))
    assert _train_on(tmp_path, tmp_path / "nolabels.npz") == 2
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


def test_evaluate_rejects_labels_the_run_never_saw(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 64), np.float32), y=np.array([1, 2, 11]))
    assert fnnet("evaluate", out, "--data", tmp_path / "d.npz") == 2
    assert "labels [11] were not among the run's classes" in capsys.readouterr().err


def test_predict_rejects_the_wrong_width(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    np.save(tmp_path / "f.npy", np.zeros((2, 10), np.float32))
    assert fnnet("predict", out, tmp_path / "f.npy") == 2
    assert f"{tmp_path / 'f.npy'}: expected 64 features per row, found 10 (shape (2, 10))" in capsys.readouterr().err


def test_divergence_keeps_the_last_finite_epoch_and_a_first_epoch_divergence_saves_nothing(tmp_path, capsys):
    out = tmp_path / "r"
    flags = ["--hidden", "32", "--quiet", "--no-plot", "--optimizer", "sgd", "--patience", "0"]
    assert fnnet("train", *flags, "--epochs", "8", "--lr", "3", "--out", out) == 2
    err = capsys.readouterr().err
    assert "training diverged" in err and "(epoch 3, batch" in err and "the last finite state (epoch 2)" in err
    assert "--lr" in err and "Traceback" not in err
    params = checkpoint.load_params(out / runs.CHECKPOINT)
    assert all(np.all(np.isfinite(np.asarray(v))) for e in params for v in e.values())
    assert [r["epoch"] for r in run_files.read_history(out)] == [1, 2]
    # Diverging before the first checkpoint leaves no half-made run directory.
    assert fnnet("train", *flags, "--epochs", "5", "--lr", "1e30", "--out", tmp_path / "r2") == 2
    assert "in the first epoch: nothing was saved" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_other_commands_and_options(tmp_path, capsys):
    # Every optimizer trains, resumes and evaluates in test_reliability.py.
    assert fnnet("train", *FAST, "--epochs", "1", "--activation", "maxout", "--loss", "squared_error",
                 "--grad", "backprop", "--l1", "1e-5", "--clip", "1.0", "--out", tmp_path / "mx") == 0
    assert fnnet("train", *FAST, "--data", "xor", "--epochs", "1", "--val", "0", "--test", "0",
                 "--batch-size", "2", "--out", tmp_path / "xor") == 0


# ---------------------------------------------------------------- bad input: one line, nothing made


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    return out


def _csv(path, rows):
    path.write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def _files(tmp):
    """The bad files a careless or hostile user hands to the command."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)).round(3)
    nan_rows = [list(r) + [c] for r, c in zip(x, [0, 1] * 6)]
    nan_rows[6][2] = "nan"  # the file's line 7, column 3
    _csv(tmp / "nan.csv", nan_rows)
    _csv(tmp / "one_class.csv", [list(r) + [1] for r in x])
    np.savez(tmp / "empty.npz", x=np.zeros((0, 3), np.float32), y=np.zeros(0, np.int32))
    np.savez(tmp / "narrow.npz", x=np.zeros((4, 10), np.float32), y=np.zeros(4, np.int32))
    np.save(tmp / "strings.npy", np.array([["a"] * 64]))
    np.save(tmp / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp / "d.txt").write_text("1,2,0\n")
    (tmp / "f.txt").write_text("1,2\n")
    _csv(tmp / "abc.csv", [["abc"] + [0] * 63, [1] * 64])
    _csv(tmp / "named.csv", [[f"p{i}" for i in range(64)], [1] * 64])
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
    before, run_before = sorted(p.name for p in tmp_path.iterdir()), _tree(trained)
    project = _tree(tmp_path / "proj")
    code = fnnet(*[a.format(tmp=tmp_path, run=trained) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"fnnet {argv[0]}: error: ") and re.search(message, err), err
    assert "allow_pickle" not in err and "pickle.load" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run directory, no litter
    assert _tree(trained) == run_before and _tree(tmp_path / "proj") == project


def _tree(root):
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.name != runs.LOCK}


def test_overwrite_checks_every_argument_before_touching_the_old_run(trained, tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    before = _tree(out)
    for bad in (["--patience", "-1"], ["--batch-size", "5000"], ["--data", tmp_path / "missing.npz"]):
        assert fnnet("train", *FAST, "--out", out, "--overwrite", *bad) == 2
        assert _tree(out) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    capsys.readouterr()
    assert fnnet("train", *FAST, "--epochs", "2", "--out", out, "--overwrite") == 0
    assert "replaced the previous run in" in capsys.readouterr().err
    assert len(run_files.read_history(out)) == 2


def test_csv_headers_are_said_not_guessed(trained, tmp_path, capsys):
    from fnnet import data

    x, _ = data.digits()
    rows = [[f"{v:g}" for v in r] for r in x[:3]]
    _csv(tmp_path / "plain.csv", rows)
    _csv(tmp_path / "titled.csv", [[f"p{i}" for i in range(64)], *rows])
    outputs = []
    for argv in (["plain.csv"], ["titled.csv"], ["titled.csv", "--header"]):
        assert fnnet("predict", trained, tmp_path / argv[0], *argv[1:]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 4  # a header line and one prediction per row: no row dropped
        outputs.append(lines)
    assert outputs[0] == outputs[1] == outputs[2]
    assert fnnet("predict", trained, tmp_path / "plain.csv", "--header") == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # said so: line 1 is a header


def test_xor_trains_with_its_own_defaults_on_all_four_examples(tmp_path, capsys):
    assert fnnet("train", "--data", "xor", "--out", tmp_path / "xor", "--no-plot") == 0
    summary = json.loads((tmp_path / "xor" / runs.SUMMARY).read_text())
    assert summary["examples"] == {"train": 4} and summary["metrics"]["train"]["accuracy"] == 1.0
    assert __import__("re").search(r"^train\s+0\.\d+\s+100\.00%\s+4$", capsys.readouterr().out, __import__("re").M)


def test_run_files_all_have_one_mode(trained):
    modes = {p.name: p.stat().st_mode for p in trained.iterdir()}
    assert len(set(modes.values())) == 1, modes


def test_format_choices_are_the_loaders_formats():
    from fnnet import loaders

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command, formats in (("train", loaders.FORMATS), ("evaluate", loaders.FORMATS),
                             ("predict", loaders.FEATURE_FORMATS)):
        action = next(a for a in sub[command]._actions if a.dest == "format")
        assert tuple(action.choices) == formats


def test_the_readme_usage_block_lists_every_option():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("## The `fnnet` command", 1)[1].split("```", 2)[1]
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    for command, parser in sub.items():
        line = re.search(rf"^fnnet {command}\b.*?(?=^fnnet |\Z)", block, re.S | re.M)
        assert line, command
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in line.group(0), (command, flag)


def test_the_old_adagrad_form_name_still_works(tmp_path, capsys):
    assert fnnet("train", *FAST, "--epochs", "1", "--optimizer", "adagrad", "--adagrad-form", "seed",
                 "--out", tmp_path / "r") == 0
    assert "--adagrad-form seed is now --adagrad-form notes" in capsys.readouterr().err
    assert json.loads((tmp_path / "r" / runs.CONFIG).read_text())["adagrad_form"] == "notes"

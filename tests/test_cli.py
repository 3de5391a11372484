"""The fnnet command, end to end, on small runs."""

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from fnnet import checkpoint, cli, runs

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
    for name in (runs.CONFIG, runs.HISTORY, runs.CHECKPOINT, runs.SUMMARY, runs.CURVE):
        assert (tmp_path / "run" / name).exists(), name
    assert (tmp_path / "run" / runs.CURVE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = runs.read_history(tmp_path / "run")
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))


def test_train_writes_a_run_directory_and_never_overwrites_one(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--out", out) == 0
    config = json.loads((out / runs.CONFIG).read_text())
    assert config["classes"] == list(range(10)) and config == checkpoint.read_config(out / runs.CHECKPOINT)
    assert json.loads((out / runs.SUMMARY).read_text())["epochs_done"] == 3
    assert len(runs.read_history(out)) == 3
    assert fnnet("train", *FAST, "--out", out) == 2
    err = capsys.readouterr().err
    assert "already exists; choose another --out or pass --overwrite" in err and "Traceback" not in err
    assert fnnet("train", *FAST, "--out", out, "--overwrite") == 0


def test_default_run_directories_are_numbered(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fnnet("train", *FAST, "--epochs", "1") == 0
    assert fnnet("train", *FAST, "--epochs", "1") == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["digits-1", "digits-2"]


def test_resume_is_bitwise_identical_to_an_uninterrupted_run(tmp_path):
    flags = ["--hidden", "32", "--patience", "0", "--quiet", "--no-plot"]
    assert fnnet("train", *flags, "--epochs", "4", "--out", tmp_path / "whole") == 0
    assert fnnet("train", *flags, "--epochs", "2", "--out", tmp_path / "split") == 0
    assert fnnet("resume", tmp_path / "split", "--epochs", "2", "--quiet", "--no-plot") == 0
    a = np.load(tmp_path / "whole" / runs.CHECKPOINT)
    b = np.load(tmp_path / "split" / runs.CHECKPOINT)
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        if name != "__header__":
            assert np.array_equal(a[name], b[name]), name
    assert runs.read_history(tmp_path / "whole") == runs.read_history(tmp_path / "split")


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
    assert [r["epoch"] for r in runs.read_history(out)] == [1, 2]
    # Diverging before the first checkpoint leaves no half-made run directory.
    assert fnnet("train", *flags, "--epochs", "5", "--lr", "1e30", "--out", tmp_path / "r2") == 2
    assert "in the first epoch: nothing was saved" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_other_commands_and_options(tmp_path, capsys):
    for optimizer in ("sgd", "momentum", "adagrad"):
        assert fnnet("train", *FAST, "--epochs", "1", "--optimizer", optimizer, "--lr", "0.05",
                     "--l2", "1e-4", "--out", tmp_path / optimizer) == 0
    assert fnnet("train", *FAST, "--epochs", "1", "--activation", "maxout", "--loss", "squared_error",
                 "--grad", "backprop", "--l1", "1e-5", "--clip", "1.0", "--out", tmp_path / "mx") == 0
    assert fnnet("train", *FAST, "--data", "xor", "--epochs", "1", "--val", "0", "--test", "0",
                 "--batch-size", "2", "--out", tmp_path / "xor") == 0

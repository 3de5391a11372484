"""fnnet train, end to end on small runs: the default run's accuracy, run directories never
overwritten and numbered, users' files, divergence, CSV headers, XOR; and --config FILE,
a JSON object of settings, each checked, options on the command line overriding it, a
bad file one line naming it, and nothing written."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fnnet import checkpoint
from fnnet.runs import directories as runs
from fnnet.runs import files as run_files
from tests.support.command import FAST, files_of, fnnet, train_on, write_csv

QUIET = ["--quiet", "--no-plot"]


def test_the_file_sets_the_run_and_options_override_it(tmp_path):
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"hidden": [16, 8], "activation": "tanh", "lr": 0.01, "epochs": 2,
                                  "dropout": 0.0}))
    assert fnnet("train", "--config", config, "--lr", "0.02", "--out", tmp_path / "run", *QUIET) == 0
    saved = run_files.read_run_config(tmp_path / "run")
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
    assert fnnet("train", "--config", path, "--out", tmp_path / "run", *QUIET) == 2
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
    assert fnnet("train", "--config", path, "--out", tmp_path / "run", *QUIET) == 2
    assert capsys.readouterr().err.startswith("fnnet train: error: " + message.format(path=path))
    assert not (tmp_path / "run").exists()


def test_a_byte_order_mark_is_not_a_mistake(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"hidden": [8], "epochs": 1}).encode())
    assert fnnet("train", "--config", path, "--out", tmp_path / "run", *QUIET) == 0
    assert run_files.read_run_config(tmp_path / "run")["hidden"] == [8]


def test_a_data_file_is_found_beside_the_config_and_its_settings_are_named_with_it(tmp_path, capsys):
    sub = tmp_path / "sub"
    sub.mkdir()
    rows = ["a,b,label"] + [f"{i % 7},{i % 5},{i % 2}" for i in range(40)]
    (sub / "d.csv").write_text("\n".join(rows) + "\n")
    (sub / "c.json").write_text(json.dumps({"data": "d.csv", "hidden": [4], "epochs": 1, "batch_size": 8}))
    # pytest's working directory is not sub/: the path is taken relative to the file.
    assert fnnet("train", "--config", sub / "c.json", "--out", tmp_path / "run", *QUIET) == 0
    assert run_files.read_run_config(tmp_path / "run")["data"] == str(sub / "d.csv")
    (sub / "x.json").write_text(json.dumps({"label_column": 2}))
    assert fnnet("train", "--config", sub / "x.json", "--data", "xor", "--out", tmp_path / "r2", *QUIET) == 2
    assert capsys.readouterr().err == (f"fnnet train: error: {sub / 'x.json'}: --label-column applies to data "
                                       "files, not to the bundled xor\n")


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


def test_user_files_train(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + 1  # labels 1 and 2: mapped to classes
    np.savez(tmp_path / "d.npz", x=x, y=y)
    assert train_on(tmp_path, tmp_path / "d.npz") == 0
    assert json.loads((tmp_path / "run" / runs.CONFIG).read_text())["classes"] == [1, 2]
    rows = ["a,b,c,d,e,label"] + [",".join(f"{v:.4f}" for v in r) + f",{c}" for r, c in zip(x, y)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    assert train_on(tmp_path, tmp_path / "d.csv", "--label-column", "label") == 0


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


def test_overwrite_checks_every_argument_before_touching_the_old_run(trained, tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    before = files_of(out)
    for bad in (["--patience", "-1"], ["--batch-size", "5000"], ["--data", tmp_path / "missing.npz"]):
        assert fnnet("train", *FAST, "--out", out, "--overwrite", *bad) == 2
        assert files_of(out) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    capsys.readouterr()
    assert fnnet("train", *FAST, "--epochs", "2", "--out", out, "--overwrite") == 0
    assert "replaced the previous run in" in capsys.readouterr().err
    assert len(run_files.read_history(out)) == 2


def test_csv_headers_are_said_not_guessed(trained, tmp_path, capsys):
    from fnnet import data

    x, _ = data.digits()
    rows = [[f"{v:g}" for v in r] for r in x[:3]]
    write_csv(tmp_path / "plain.csv", rows)
    write_csv(tmp_path / "titled.csv", [[f"p{i}" for i in range(64)], *rows])
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


# ---------------------------------------------------------------- convolutional runs

CONV = ["--conv", "4", "--hidden", "8", "--epochs", "2", "--patience", "0", *QUIET]


def test_a_convolutional_run_on_digits_as_images_is_evaluated_predicted_and_resumed(tmp_path, capsys):
    from fnnet import Conv2D, data

    out = tmp_path / "r"
    assert fnnet("train", *CONV, "--out", out) == 0
    saved = run_files.read_run_config(out)
    assert saved["in_shape"] == [8, 8, 1] and saved["network"]["layers"][0]["type"] == "Conv2D"
    capsys.readouterr()
    assert fnnet("evaluate", out, "--json") == 0
    own = json.loads(capsys.readouterr().out)
    assert fnnet("evaluate", out, "--data", "digits", "--json") == 0  # a bundled name, not a file
    every = json.loads(capsys.readouterr().out)["digits"]
    n = {k: v["examples"] for k, v in own.items()}
    assert every["examples"] == sum(n.values()) == 1797
    hits = sum(own[k]["accuracy"] * n[k] for k in n)
    assert abs(every["accuracy"] * 1797 - hits) < 0.5  # the splits' hits add up to the whole's
    x, y = data.digits()
    np.save(tmp_path / "images.npy", x[:30].reshape(30, 8, 8))  # images, as a user has them
    assert fnnet("predict", out, tmp_path / "images.npy", "--out", tmp_path / "p.csv") == 0
    predicted = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)[:, 1]
    assert np.mean(predicted == y[:30]) > own["train"]["accuracy"] - 0.25
    assert fnnet("resume", out, "--epochs", "1", "--quiet", "--no-plot") == 0
    assert [r["epoch"] for r in run_files.read_history(out)] == [1, 2, 3]
    assert isinstance(runs_net(out).layers[0], Conv2D)


def runs_net(out):
    from fnnet.runs import pipeline

    return pipeline.restore_run(out).net


def test_idx_images_train_a_convolution_in_their_own_shape(tmp_path):
    from tests.support.files import write_idx

    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    images = rng.integers(0, 50, (40, 12, 12))
    images[labels == 1, 3:9, 5:7] = 255  # a bar: something to learn
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    assert fnnet("train", *CONV, "--batch-size", "8", "--data", tmp_path / "train-images-idx3-ubyte",
                 "--out", tmp_path / "r") == 0
    assert run_files.read_run_config(tmp_path / "r")["in_shape"] == [12, 12, 1]


def test_flat_rows_take_a_shape_and_a_settings_file_can_hold_the_blocks(tmp_path, capsys):
    from fnnet import Conv1D, MaxPool1D, data

    x, y = data.digits()
    path = write_csv(tmp_path / "d.csv", np.c_[x[:200], y[:200]].astype(int).tolist())
    assert fnnet("train", *CONV, "--data", path, "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert err == (f"fnnet train: error: --conv needs one example's shape, channels last, but {path} has flat rows "
                   "of 64 values; pass --shape, e.g. --shape H W C for images or --shape 64 1 for signals\n")
    settings_file = tmp_path / "s.json"
    settings_file.write_text(json.dumps({"conv": [3, 5], "kernel": [5, 3], "pool": ["max", "none"], "shape": [64, 1],
                                         "hidden": []}))
    assert fnnet("train", "--config", settings_file, "--data", path, "--epochs", "1", "--out", tmp_path / "r",
                 *QUIET) == 0
    net = runs_net(tmp_path / "r")
    assert net.in_shape == (64, 1) and net.layers[:3] == (Conv1D(3, 5, "relu", padding="SAME"), MaxPool1D(2),
                                                          Conv1D(5, 3, "relu", padding="SAME"))


CONV_BAD = [
    (["--conv", "2", "--kernel", "1000000000"],  # once a crash: XLA ended the process building the kernel
     "--kernel 1000000000: the block of --conv 2 has a kernel larger than examples of shape (8, 8, 1) can use (its "
     "outer taps would only ever read the zero padding); expected at most 15 (2 x 8 - 1)"),
    (["--conv", "4", "--kernel", "1", "--conv-stride", "3"],
     "--conv-stride 3: the block of --conv 4 has a stride larger than its kernel of 1, so its convolution would skip "
     "inputs; expected a stride no larger than the kernel"),
    (["--conv", "4", "4", "4", "4"],
     "--pool-size 2: block 4 of --conv 4 4 4 4 leaves (1, 1) positions of the examples' (8, 8), too few for its max "
     "pooling of 2; use a smaller --pool-size, --pool none for that block or fewer blocks"),
    (["--kernel", "5", "--hidden", "8"],
     "--kernel applies to convolution blocks, but there are none; add --conv CHANNELS ... (e.g. --conv 16 32), or "
     "leave it out"),
    (["--conv", "4", "--data", "{tmp}/first.npz", "--shape", "6", "6", "3"],
     "--shape 6 6 3: the examples of {tmp}/first.npz are stored as (3, 6, 6), the same sizes in another order, "
     "which a reshape would scramble: leave --shape out, or store x with its axes moved (channels come last in "
     "fnnet: x = np.moveaxis(x, 1, -1))"),
    (["--config", "{tmp}/pool.json"],
     "{tmp}/pool.json: --pool-size 30: the block of --conv 4 leaves (8, 8) positions of the examples' (8, 8), too "
     "few for its max pooling of 30; use a smaller --pool-size or --pool none for it"),
]


@pytest.mark.parametrize("argv, message", CONV_BAD, ids=["huge kernel", "stride", "blocks", "no blocks",
                                                         "channels first", "config"])
def test_convolution_settings_that_cannot_work_are_one_line_and_nothing_is_written(tmp_path, capsys, argv,
                                                                                   message):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "first.npz", x=rng.normal(size=(20, 3, 6, 6)), y=np.arange(20) % 2)
    (tmp_path / "pool.json").write_text(json.dumps({"conv": [4], "pool_size": 30}))
    assert fnnet("train", *[a.format(tmp=tmp_path) for a in argv], "--out", tmp_path / "r", *QUIET) == 2
    assert capsys.readouterr().err == f"fnnet train: error: {message.format(tmp=tmp_path)}\n"
    assert not (tmp_path / "r").exists()

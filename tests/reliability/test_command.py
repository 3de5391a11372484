"""What a hostile user does to the ``fnnet`` command: kills it mid-write, runs two at
once, tampers with its files, gives it read-only and full disks. Each case asserts the
message and that nothing on disk was lost."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from fnnet import checkpoint
from fnnet.runs import directories as runs
from fnnet.runs import files as run_files
from tests.runs.test_directories import snapshot
from tests.storage.test_checkpoint import _header, _rewrite_header
from tests.support.command import fnnet

FAST = ["--hidden", "16", "--quiet", "--no-plot"]
#: Early stopping that ends this digits run at epoch 9 (best epoch 6) of 40.
STOPPING = [*FAST, "--lr", "0.01", "--patience", "3"]


def command(*argv, cwd=None, **kw):
    """``python -m fnnet ...`` in a process of its own."""
    return subprocess.Popen([sys.executable, "-m", "fnnet", *map(str, argv)], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def arrays(run_dir):
    """The checkpoint's arrays and leaf names (its header's config holds --epochs, which
    differs between a run done at once and one resumed)."""
    with np.load(run_dir / runs.CHECKPOINT) as archive:
        stored = {name: archive[name] for name in archive.files if name != "__header__"}
    return _header(run_dir / runs.CHECKPOINT)["leaves"], stored


def assert_same_run(a, b):
    leaves_a, stored_a = arrays(a)
    leaves_b, stored_b = arrays(b)
    assert leaves_a == leaves_b and stored_a.keys() == stored_b.keys()
    differing = [leaf["path"] for leaf, name in zip(leaves_a, sorted(stored_a, key=lambda n: int(n[1:])))
                 if not np.array_equal(stored_a[name], stored_b[name])]
    assert not differing, differing
    assert (a / runs.HISTORY).read_bytes() == (b / runs.HISTORY).read_bytes()


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """A 40-epoch run that early stopping ends at epoch 9, done at once."""
    out = tmp_path_factory.mktemp("whole") / "run"
    assert fnnet("train", *STOPPING, "--epochs", "40", "--out", out) == 0
    summary = json.loads((out / runs.SUMMARY).read_text())
    assert (summary["epochs_done"], summary["best_epoch"], summary["stopped_early"]) == (9, 6, True)
    return out


# ---------------------------------------------------------------- resume is exact


@pytest.mark.parametrize("k", [3, 7, 8])
def test_a_run_split_anywhere_is_bitwise_the_run_done_at_once(tmp_path, whole, k):
    # Early stopping's best value, best epoch, wait and best parameters are in the checkpoint;
    # resuming without them ran on past the epoch where the whole run stopped.
    out = tmp_path / "split"
    assert fnnet("train", *STOPPING, "--epochs", k, "--out", out) == 0
    assert fnnet("resume", out, "--epochs", 40 - k, "--quiet", "--no-plot") == 0
    assert_same_run(whole, out)
    assert json.loads((out / runs.SUMMARY).read_text())["metrics"] == \
        json.loads((whole / runs.SUMMARY).read_text())["metrics"]


def test_without_early_stopping_too(tmp_path):
    flags = [*FAST, "--patience", "0"]
    assert fnnet("train", *flags, "--epochs", "5", "--out", tmp_path / "whole") == 0
    assert fnnet("train", *flags, "--epochs", "2", "--out", tmp_path / "split") == 0
    assert fnnet("resume", tmp_path / "split", "--epochs", "3", "--quiet", "--no-plot") == 0
    assert_same_run(tmp_path / "whole", tmp_path / "split")


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "adagrad-optax", "adam", "momentum+l2+clip"])
def test_every_optimizer_trains_resumes_and_evaluates(tmp_path, capsys, optimizer):
    # The notes' momentum and Adagrad states (alone, not in a chain) could not be loaded back.
    name, *form = optimizer.split("+")[0].split("-")
    flags = [*FAST, "--optimizer", name, "--lr", "0.05", "--patience", "0",
             *(["--adagrad-form", form[0]] if form else []),
             *(["--l2", "1e-4", "--clip", "5"] if "+" in optimizer else [])]
    assert fnnet("train", *flags, "--epochs", "3", "--out", tmp_path / "whole") == 0
    assert fnnet("train", *flags, "--epochs", "2", "--out", tmp_path / "split") == 0
    assert fnnet("resume", tmp_path / "split", "--epochs", "1", "--quiet", "--no-plot") == 0
    assert_same_run(tmp_path / "whole", tmp_path / "split")
    capsys.readouterr()
    assert fnnet("evaluate", tmp_path / "split", "--json") == 0
    assert json.loads(capsys.readouterr().out)["test"]["accuracy"] > 0.5


# ---------------------------------------------------------------- kills


KILLED_IN_A_WRITE = textwrap.dedent("""
    import sys, time, numpy as np
    from fnnet.cli import main as cli
    calls, real = [0], np.savez
    def savez(f, **members):
        calls[0] += 1
        if calls[0] == int(sys.argv[1]):  # this checkpoint is being written: half of it, then wait
            real(f, **dict(list(members.items())[:2]))
            f.flush()
            open(sys.argv[2], "w").close()
            time.sleep(600)
        return real(f, **members)
    np.savez = savez
    sys.exit(cli.run(sys.argv[3:]))
""")


def _wait_for(predicate, proc, what, timeout=120):
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended before {what}: {proc.communicate()}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_sigkill_while_a_checkpoint_is_written_loses_nothing_and_resume_is_exact(tmp_path, whole):
    out, ready = tmp_path / "r", tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_IN_A_WRITE, "3", ready, "train", *STOPPING,
                             "--epochs", "40", "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(ready.exists, proc, "the third checkpoint write")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The previous checkpoint (epoch 2) is whole; the history already has epoch 3; the
    # half-written temporary file is still there.
    assert checkpoint.read_config(out / runs.CHECKPOINT)["epochs"] == 40
    assert int(_header(out / runs.CHECKPOINT)["leaves"] and arrays(out)[1]["a0"].size) > 0
    assert [r["epoch"] for r in run_files.read_history(out)] == [1, 2, 3]
    assert any(name.startswith(".fnnet-tmp-checkpoint.npz") for name in os.listdir(out))
    assert fnnet("resume", out, "--epochs", "38", "--quiet", "--no-plot") == 0
    assert_same_run(whole, out)  # epoch 3 is written once, and training stops where it did
    assert not [name for name in os.listdir(out) if name.startswith(".fnnet-tmp")]


def test_sigkill_at_any_moment_of_training_keeps_the_last_checkpoint_and_releases_the_lock(tmp_path):
    out = tmp_path / "r"
    flags = [*FAST, "--patience", "0", "--epochs", "60"]
    proc = command("train", *flags, "--out", out)
    _wait_for(lambda: (out / runs.HISTORY).exists() and len(run_files.read_history(out)) >= 3, proc,
              "three epochs")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    epochs_saved = int(arrays(out)[1]["a" + str(_leaf_index(out, ".epoch"))])
    assert epochs_saved >= 2 and len(run_files.read_history(out)) in (epochs_saved, epochs_saved + 1)
    # The OS released the killed process's lock: resuming is allowed, and exact.
    assert fnnet("resume", out, "--epochs", 60 - epochs_saved, "--quiet", "--no-plot") == 0
    assert fnnet("train", *flags, "--out", tmp_path / "whole") == 0
    assert_same_run(tmp_path / "whole", out)


def _leaf_index(run_dir, path):
    return [leaf["path"] for leaf in _header(run_dir / runs.CHECKPOINT)["leaves"]].index(path)


def test_sigkill_while_replacing_a_run_leaves_the_old_run(tmp_path):
    out, ready = tmp_path / "r", tmp_path / "ready"
    assert fnnet("train", *FAST, "--epochs", "2", "--out", out) == 0
    before = snapshot(out)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_IN_A_WRITE, "1", ready, "train", *FAST,
                             "--epochs", "3", "--seed", "1", "--out", out, "--overwrite"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(ready.exists, proc, "the new run's first checkpoint write")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert snapshot(out) == before
    # The half-made replacement beside it is cleared by the next replacement.
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out, "--overwrite") == 0
    assert sorted(os.listdir(tmp_path)) == ["r", "ready"]


# ---------------------------------------------------------------- two writers at once


def test_a_second_writer_is_refused_with_the_runs_name_and_nothing_changes(tmp_path, capsys):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    before = snapshot(tmp_path)
    with runs.open_run(out):  # another fnnet is writing it
        capsys.readouterr()
        assert fnnet("resume", out, "--epochs", "1", "--quiet") == 2
        assert capsys.readouterr().err == (f"fnnet resume: error: run {out} is in use by another fnnet process "
                                           f"(pid {os.getpid()}); wait for it to finish\n")
        assert fnnet("train", *FAST, "--epochs", "1", "--out", out, "--overwrite") == 2
        assert "is in use by another fnnet process" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def _consistent(run_dir):
    history = [r["epoch"] for r in run_files.read_history(run_dir)]
    epoch = int(arrays(run_dir)[1]["a" + str(_leaf_index(run_dir, ".epoch"))])
    return history == list(range(1, epoch + 1)), (history, epoch)


def test_concurrent_resumes_and_overwrites_never_write_an_epoch_twice(tmp_path):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "2", "--patience", "0", "--out", out) == 0
    procs = [command("resume", out, "--epochs", "3", "--quiet", "--no-plot") for _ in range(2)]
    results = [(p.wait(), p.communicate()[1]) for p in procs]
    for code, err in results:
        assert code == 0 or (code == 2 and f"run {out} is in use by another fnnet process" in err), err
    ok, seen = _consistent(out)
    assert ok, seen
    assert seen[1] == 2 + 3 * sum(code == 0 for code, _ in results)
    procs = [command("train", *FAST, "--epochs", "3", "--patience", "0", "--out", out, "--overwrite")
             for _ in range(2)]
    results = [(p.wait(), p.communicate()[1]) for p in procs]
    assert any(code == 0 for code, _ in results), results
    for code, err in results:
        assert code == 0 or (code == 2 and "is in use by another fnnet process" in err), err
    ok, seen = _consistent(out)
    assert ok and seen[1] == 3, seen
    assert sorted(os.listdir(tmp_path)) == ["r"]


def test_default_named_runs_started_together_get_their_own_directories(tmp_path):
    procs = [command("train", *FAST, "--epochs", "1", cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(), p.communicate()[1]) for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert sorted(os.listdir(tmp_path / "runs")) == ["digits-1", "digits-2"]
    assert all("--overwrite" not in err for _, err in results)


# ---------------------------------------------------------------- tampering


@pytest.fixture
def trained(tmp_path):
    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "2", "--out", out) == 0
    return out


def test_an_edited_config_json_is_caught(trained, capsys):
    # Reversing the classes used to make predict answer 9, 8, 7, 6, 5 for digits 0..4.
    config = json.loads((trained / runs.CONFIG).read_text())
    config["classes"].reverse()
    (trained / runs.CONFIG).write_text(json.dumps(config))
    for argv in (["evaluate", trained], ["resume", trained, "--epochs", "1", "--quiet"]):
        assert fnnet(*argv) == 2
        assert (f"{trained / runs.CONFIG} does not match the configuration saved in {trained / runs.CHECKPOINT} "
                "(they differ in classes)") in capsys.readouterr().err


def test_an_edited_checkpoint_header_is_caught(trained, capsys):
    header = _header(trained / runs.CHECKPOINT)
    header["config"]["standardizer"]["mean"][0] += 5
    _rewrite_header(trained / runs.CHECKPOINT, header, rehash=False)
    np.save(trained.parent / "f.npy", np.zeros((2, 64), np.float32))
    assert fnnet("predict", trained, trained.parent / "f.npy") == 2
    assert "is corrupt or was edited (checksum mismatch); nothing was loaded" in capsys.readouterr().err


def test_a_config_missing_a_key_is_named_even_when_both_copies_agree(trained, capsys):
    header = _header(trained / runs.CHECKPOINT)
    del header["config"]["hidden"]
    _rewrite_header(trained / runs.CHECKPOINT, header)
    (trained / runs.CONFIG).write_text(json.dumps(header["config"]))
    assert fnnet("evaluate", trained) == 2
    assert capsys.readouterr().err == f"fnnet evaluate: error: {trained / runs.CONFIG}: hidden: missing\n"
    (trained / runs.CONFIG).write_text('{"run_format_version": 2,')
    assert fnnet("evaluate", trained) == 2
    assert f"{trained / runs.CONFIG}: line 1, column 26: not valid JSON" in capsys.readouterr().err


def test_changed_data_is_caught_on_resume(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int32))
    assert fnnet("train", *FAST, "--epochs", "1", "--batch-size", "8", "--data", tmp_path / "d.npz",
                 "--out", tmp_path / "r") == 0
    np.savez(tmp_path / "d.npz", x=x[::-1], y=(x[::-1, 0] > 0).astype(np.int32))
    assert fnnet("resume", tmp_path / "r", "--epochs", "1", "--quiet") == 2
    assert "the data changed since the run was trained" in capsys.readouterr().err


# ---------------------------------------------------------------- full and read-only disks


def test_a_full_disk_during_training_loses_nothing_and_resume_goes_on(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    calls, real = [0], np.savez

    def savez(f, **members):
        calls[0] += 1
        if calls[0] == 2:
            f.write(b"PK partial")
            raise OSError(28, "No space left on device")
        return real(f, **members)

    monkeypatch.setattr(np, "savez", savez)
    assert fnnet("train", *FAST, "--epochs", "4", "--patience", "0", "--out", out) == 2
    assert capsys.readouterr().err == (f"fnnet train: error: {out / runs.CHECKPOINT}: No space left on device "
                                       "(the checkpoint of epoch 1 is intact: fnnet resume goes on from it)\n")
    assert sorted(os.listdir(out)) == sorted([".fnnet-lock", ".fnnet-run", "config.json", "history.jsonl",
                                              "checkpoint.npz"])  # no temporary file
    monkeypatch.setattr(np, "savez", real)
    assert fnnet("resume", out, "--epochs", "3", "--quiet", "--no-plot") == 0
    assert fnnet("train", *FAST, "--epochs", "4", "--patience", "0", "--out", tmp_path / "whole") == 0
    assert_same_run(tmp_path / "whole", out)


def test_read_only_targets_get_one_line_and_nothing_changes(tmp_path, monkeypatch, capsys):
    import tempfile

    out = tmp_path / "r"
    assert fnnet("train", *FAST, "--epochs", "1", "--out", out) == 0
    before = snapshot(tmp_path)

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert fnnet("resume", out, "--epochs", "1", "--quiet") == 2
    assert capsys.readouterr().err == (f"fnnet resume: error: cannot write to the run directory {out}: "
                                       "Read-only file system\n")
    monkeypatch.setattr(os, "mkdir", refuse)
    assert fnnet("train", *FAST, "--epochs", "1", "--out", tmp_path / "new") == 2
    assert capsys.readouterr().err == (f"fnnet train: error: cannot create the run directory {tmp_path / 'new'}: "
                                       "Read-only file system\n")
    assert snapshot(tmp_path) == before


def test_out_under_a_regular_file_and_predict_to_a_full_device(trained, capsys):
    (trained.parent / "file").write_text("x")
    assert fnnet("train", *FAST, "--epochs", "1", "--out", trained.parent / "file" / "r") == 2
    assert "cannot create the run directory" in capsys.readouterr().err
    np.save(trained.parent / "f.npy", np.zeros((3, 64), np.float32))
    assert fnnet("predict", trained, trained.parent / "f.npy", "--out", "/dev/full") == 2
    assert capsys.readouterr().err == "fnnet predict: error: /dev/full: No space left on device\n"
    assert not os.path.isfile("/dev/full")


REAL_MOUNTS = textwrap.dedent("""
    set -u
    mount -t tmpfs -o size=400k tmpfs "$1" || {{ echo NO-MOUNT; exit 0; }}
    cd "$1"
    {python} -m fnnet train {fast} --epochs 2 --out old >/dev/null 2>&1 || echo SETUP-FAILED
    {python} -c "$SNAPSHOT" > "$2/before.json"
    {python} -m fnnet train {fast} --hidden 512 --epochs 2 --out old --overwrite; echo "full-overwrite=$?"
    {python} -m fnnet train {fast} --hidden 512 --epochs 2 --out fresh; echo "full-fresh=$?"
    mount -o remount,ro "$1"
    {python} -m fnnet resume old --epochs 1 --quiet; echo "ro-resume=$?"
    {python} -m fnnet train {fast} --epochs 1 --out other; echo "ro-train=$?"
    {python} -c "$SNAPSHOT" > "$2/after.json"
""")
SNAPSHOT = ("import json, os, hashlib; print(json.dumps({os.path.join(d, f): hashlib.sha256(open(os.path.join(d, f), "
            "'rb').read()).hexdigest() for d, _, fs in os.walk('.') for f in fs if f != '.fnnet-lock'}, sort_keys=True))")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a private mount")
def test_a_real_full_and_read_only_filesystem(tmp_path):
    """A tmpfs with room for a small run but not for a big one's checkpoint, then the
    same tmpfs read-only (a private mount in a user namespace, where the system allows)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    script = REAL_MOUNTS.format(fast=" ".join(FAST), python=sys.executable)
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", mount, tmp_path], capture_output=True,
                          text=True, env={**os.environ, "SNAPSHOT": SNAPSHOT}, timeout=300)
    if proc.returncode != 0 or "NO-MOUNT" in proc.stdout:
        pytest.skip(f"no private tmpfs here: {proc.stdout} {proc.stderr}")
    assert "SETUP-FAILED" not in proc.stdout, proc.stderr
    codes = dict(line.split("=") for line in proc.stdout.split() if "=" in line)
    assert codes == {"full-overwrite": "2", "full-fresh": "2", "ro-resume": "2", "ro-train": "2"}, proc.stdout
    assert proc.stderr.splitlines() == [
        "fnnet train: error: old/checkpoint.npz: No space left on device (nothing was saved; the old run is "
        "unchanged)",
        "fnnet train: error: fresh/checkpoint.npz: No space left on device (nothing was saved)",
        "fnnet resume: error: cannot write to the run directory old: Read-only file system",
        "fnnet train: error: cannot create the run directory other: Read-only file system",
    ]
    # The old run is byte for byte what it was, and the failed runs left nothing behind.
    before, after = (json.loads((tmp_path / name).read_text()) for name in ("before.json", "after.json"))
    assert after == before and all(path.startswith("./old/") for path in after)


# ---------------------------------------------------------------- tracebacks that became one line


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "fnnet", "worked-example", "--json", "--steps", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head` that has read all it wants
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""


# ---------------------------------------------------------------- interrupts and terminations


def test_an_interrupted_resume_keeps_its_checkpoint_and_drops_the_stale_summary(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    flags = [*FAST, "--patience", "0"]
    assert fnnet("train", *flags, "--epochs", "2", "--out", out) == 0
    real, calls = run_files.append_history, [0]

    def interrupt_the_second(run_dir, record):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        real(run_dir, record)

    monkeypatch.setattr(run_files, "append_history", interrupt_the_second)
    assert fnnet("resume", out, "--epochs", "5", "--quiet") == 130
    assert capsys.readouterr().err == (f"fnnet resume: interrupted (the checkpoint of epoch 3 in {out} is intact: "
                                       f"fnnet resume {out} goes on from it)\n")
    assert not (out / runs.SUMMARY).exists()  # it described epoch 2, and the run is at epoch 3
    monkeypatch.setattr(run_files, "append_history", real)
    assert fnnet("resume", out, "--epochs", "2", "--quiet", "--no-plot") == 0
    assert fnnet("train", *flags, "--epochs", "5", "--out", tmp_path / "whole") == 0
    assert_same_run(tmp_path / "whole", out)


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    out = tmp_path / "r"
    proc = command("train", *FAST, "--patience", "0", "--epochs", "200", "--out", out)
    _wait_for(lambda: (out / runs.HISTORY).exists() and len(run_files.read_history(out)) >= 2, proc, "two epochs")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.startswith("fnnet train: terminated (the checkpoint of epoch ") and "Traceback" not in err, err
    assert fnnet("resume", out, "--epochs", "1", "--quiet", "--no-plot") == 0


# ---------------------------------------------------------------- what the output may not touch


def test_predictions_never_overwrite_the_input_a_run_or_a_link(trained, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((3, 64), np.float32))
    before = snapshot(trained)
    for out, message in ((trained / runs.CHECKPOINT, "is inside the run directory"),
                         (trained / "predictions.csv", "is inside the run directory"),
                         (tmp_path / "x.npy", "is the input file")):
        assert fnnet("predict", trained, tmp_path / "x.npy", "--out", out) == 2
        assert message in capsys.readouterr().err
    assert snapshot(trained) == before and np.load(tmp_path / "x.npy").shape == (3, 64)
    (tmp_path / "real.csv").write_text("")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    assert fnnet("predict", trained, tmp_path / "x.npy", "--out", tmp_path / "link.csv") == 0
    assert (tmp_path / "link.csv").is_symlink() and len((tmp_path / "real.csv").read_text().splitlines()) == 4


def test_a_forged_checkpoint_with_nan_weights_is_refused(trained, capsys):
    header = _header(trained / runs.CHECKPOINT)
    with np.load(trained / runs.CHECKPOINT) as archive:
        members = {name: archive[name] for name in archive.files}
    members["a0"] = np.full_like(members["a0"], np.nan)  # .params[0]['b'], then a recomputed SHA-256
    np.savez(trained / runs.CHECKPOINT, **members)
    _rewrite_header(trained / runs.CHECKPOINT, header)
    assert fnnet("evaluate", trained) == 2
    assert "holds non-finite parameters" in capsys.readouterr().err


def test_a_run_is_found_from_any_directory(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    x = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    np.savez(tmp_path / "a" / "d.npz", x=x, y=(x[:, 0] > 0).astype(np.int32))
    monkeypatch.chdir(tmp_path / "a")
    assert fnnet("train", *FAST, "--epochs", "1", "--batch-size", "8", "--data", "d.npz", "--out", "r") == 0
    monkeypatch.chdir(tmp_path)
    assert fnnet("evaluate", "a/r") == 0  # the data's path was recorded whole, not relative to a/

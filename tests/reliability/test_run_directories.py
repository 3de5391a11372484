"""What a hostile user does with the directories fnnet writes: crosses their kinds
between commands (a search into a run directory, a run into a search folder, either
inside a run), fills the disk or kills the command while a run is resumed, and names a
bundled data set where a file could be meant. Each case asserts the message and that
nothing on disk was lost."""

import json
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fnnet import checkpoint
from fnnet.runs import directories as runs
from fnnet.runs import files as run_files
from tests.reliability.test_command import _wait_for
from tests.runs.test_directories import snapshot
from tests.support.command import fnnet

FAST = ["--hidden", "16", "--patience", "0", "--quiet", "--no-plot"]
#: A search of two one-epoch candidates of one hidden layer of 8.
TINY = ["--population", "2", "--generations", "1", "--epochs", "1", "--depth", "1", "1", "--width", "8", "8",
        "--kinds", "dense", "--no-plot", "--quiet"]


@pytest.fixture(scope="module")
def ended(tmp_path_factory):
    """A two-epoch run as `fnnet train` leaves it: summary.json and the learning curve of
    its checkpoint (epoch 2). Tests change copies of it."""
    out = tmp_path_factory.mktemp("ended") / "run"
    assert fnnet("train", *FAST[:-1], "--epochs", "2", "--out", out) == 0
    if not (out / runs.CURVE).exists():  # no matplotlib: a curve of fnnet's own all the same
        (out / runs.CURVE).write_bytes(b"the learning curve of epochs 1-2")
    assert json.loads((out / runs.SUMMARY).read_text())["epochs_done"] == 2
    return out


def copy(run, to):
    shutil.copytree(run, to)
    return to


def epoch_of(run_dir) -> int:
    with np.load(run_dir / runs.CHECKPOINT) as archive:
        header = json.loads(bytes(archive["__header__"]).decode())
        index = [leaf["path"] for leaf in header["leaves"]].index(".epoch")
        return int(archive[f"a{index}"])


def full_disk_at(monkeypatch, call: int):
    """np.savez (the checkpoint's writer) finds the disk full at its ``call``-th call."""
    calls, real = [0], np.savez

    def savez(f, **members):
        calls[0] += 1
        if calls[0] == call:
            f.write(b"PK partial")
            raise OSError(28, "No space left on device")
        return real(f, **members)

    monkeypatch.setattr(np, "savez", savez)


# ---------------------------------------------------------------- resume: the results of an intact checkpoint stay


def test_a_full_disk_during_resume_keeps_the_summary_and_curve_of_the_intact_checkpoint(ended, tmp_path, monkeypatch,
                                                                                       capsys):
    out = copy(ended, tmp_path / "run")
    before = snapshot(out)
    with monkeypatch.context() as m:
        full_disk_at(m, 1)
        assert fnnet("resume", out, "--epochs", "3", "--quiet", "--no-plot") == 2
    assert capsys.readouterr().err == (f"fnnet resume: error: {out / runs.CHECKPOINT}: No space left on device "
                                       "(the checkpoint of epoch 2 is intact: fnnet resume goes on from it)\n")
    assert snapshot(out) == before  # summary, curve and history too: the run is as it was
    # With room again, the resume goes on; the new summary describes the new checkpoint.
    assert fnnet("resume", out, "--epochs", "1", "--quiet", "--no-plot") == 0
    assert json.loads((out / runs.SUMMARY).read_text())["epochs_done"] == epoch_of(out) == 3
    assert not (out / runs.CURVE).exists()  # it drew epochs 1-2 (and --no-plot drew none)


def test_a_full_disk_after_a_resumes_checkpoint_leaves_no_summary_of_the_older_one(ended, tmp_path, monkeypatch,
                                                                                  capsys):
    out = copy(ended, tmp_path / "run")
    real = run_files.write_json

    def full_for_the_summary(path, obj):
        if path.name == runs.SUMMARY:
            raise OSError(28, "No space left on device", str(path))
        real(path, obj)

    monkeypatch.setattr(run_files, "write_json", full_for_the_summary)
    assert fnnet("resume", out, "--epochs", "1", "--quiet", "--no-plot") == 2
    assert capsys.readouterr().err == (f"fnnet resume: error: {out / runs.SUMMARY}: No space left on device (the "
                                       "training is done: the checkpoint of epoch 3 is saved)\n")
    assert epoch_of(out) == 3 and [r["epoch"] for r in run_files.read_history(out)] == [1, 2, 3]
    assert not (out / runs.SUMMARY).exists() and not (out / runs.CURVE).exists()  # they described epoch 2


KILLED = textwrap.dedent("""
    import sys, time, numpy as np
    from fnnet.cli import main as cli
    from fnnet.runs import files
    where, ready = sys.argv[1], sys.argv[2]
    def stop():
        open(ready, "w").close()
        time.sleep(600)
    if where == "checkpoint":  # half of the resume's first checkpoint written
        real = np.savez
        def savez(f, **members):
            real(f, **dict(list(members.items())[:2]))
            f.flush()
            stop()
        np.savez = savez
    else:  # the first checkpoint saved, the old summary and curve not yet removed
        files.remove_results = lambda run_dir: stop()
    sys.exit(cli.run(sys.argv[3:]))
""")


def _killed_resume(out, where, tmp_path):
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, where, ready, "resume", out, "--epochs", "3", "--quiet",
                             "--no-plot"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(ready.exists, proc, f"the resume to reach its {where}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_resume_killed_while_writing_its_checkpoint_keeps_the_results_of_the_intact_one(ended, tmp_path):
    out = copy(ended, tmp_path / "run")
    before = snapshot(out)
    _killed_resume(out, "checkpoint", tmp_path)
    after = snapshot(out)
    # The checkpoint of epoch 2 and what describes it are byte for byte what they were;
    # the history has epoch 3's line (cut back by the next resume) and a temporary file lies beside.
    assert {k: after[k] for k in before if k != runs.HISTORY} == {k: v for k, v in before.items() if k != runs.HISTORY}
    assert after[runs.HISTORY].startswith(before[runs.HISTORY])
    assert [name for name in after if name not in before and not name.startswith(".fnnet-tmp-")] == []
    assert fnnet("resume", out, "--epochs", "1", "--quiet", "--no-plot") == 0
    assert json.loads((out / runs.SUMMARY).read_text())["epochs_done"] == epoch_of(out) == 3
    assert [r["epoch"] for r in run_files.read_history(out)] == [1, 2, 3]


def test_a_summary_left_by_a_kill_names_its_older_checkpoint_and_the_next_resume_removes_it(ended, tmp_path,
                                                                                           monkeypatch, capsys):
    out = copy(ended, tmp_path / "run")
    summary = (out / runs.SUMMARY).read_bytes()
    _killed_resume(out, "results", tmp_path)
    # Killed in the moment between the new checkpoint and removing the old results: the
    # summary is still there, and says it describes epoch 2, not the checkpoint's 3.
    assert epoch_of(out) == 3 and (out / runs.SUMMARY).read_bytes() == summary
    assert json.loads(summary)["epochs_done"] == 2
    checkpoint_bytes = (out / runs.CHECKPOINT).read_bytes()
    with monkeypatch.context() as m:  # the next resume fails at once, but has removed them first
        full_disk_at(m, 1)
        assert fnnet("resume", out, "--epochs", "1", "--quiet", "--no-plot") == 2
    assert "(the checkpoint of epoch 3 is intact: fnnet resume goes on from it)" in capsys.readouterr().err
    assert not (out / runs.SUMMARY).exists() and not (out / runs.CURVE).exists()
    assert (out / runs.CHECKPOINT).read_bytes() == checkpoint_bytes
    assert checkpoint.read_config(out / runs.CHECKPOINT)["epochs"] == 2


# ---------------------------------------------------------------- the kinds of directories, crossed


def test_kinds_crossed_between_commands_are_refused_in_one_line_and_nothing_changes(ended, tmp_path, capsys):
    run, search = copy(ended, tmp_path / "run"), tmp_path / "search"
    assert fnnet("search", *TINY, "--out", search) == 0
    (search / "notes.txt").write_text("the user's")
    before = snapshot(tmp_path)
    best = search / runs.BEST
    not_a_search = f"--out {run} is a run directory (fnnet train wrote it), not a search folder; choose another --out"
    not_a_run = f"{search} is a search folder (fnnet search wrote it), not a run directory"
    cases = [
        (["search", *TINY, "--out", run], not_a_search),
        (["search", *TINY, "--out", run, "--overwrite"], not_a_search),
        (["search", *TINY, "--out", run / "s"],
         f"--out {run / 's'} is inside the run directory {run}, whose files are fnnet's own; choose another place"),
        (["train", *FAST, "--epochs", "1", "--out", search], f"{not_a_run}; choose another --out"),
        (["train", *FAST, "--epochs", "1", "--out", search, "--overwrite"], f"{not_a_run}; choose another --out"),
        (["train", *FAST, "--epochs", "1", "--members", "2", "--out", search, "--overwrite"],
         f"{not_a_run}; choose another --out"),
        (["train", *FAST, "--epochs", "1", "--out", run / "inner"],
         f"--out {run / 'inner'} is inside the run directory {run}, whose files are fnnet's own; choose another place"),
        (["resume", search, "--epochs", "1"], f"{not_a_run}; train its best with fnnet train --config {best}"),
        (["evaluate", search], f"{not_a_run}; train its best with fnnet train --config {best}"),
        (["predict", search, "digits"], f"{not_a_run}; train its best with fnnet train --config {best}"),
        (["predict", run, "digits", "--out", best],
         f"--out {best} is a file of the search folder {search}; choose another name"),
        (["predict", run, "digits", "--out", run / "p.csv"],
         f"--out {run / 'p.csv'} is inside the run directory {run}, whose files are fnnet's own; choose another place"),
    ]
    for argv, message in cases:
        assert fnnet(*argv) == 2, argv
        assert capsys.readouterr().err == f"fnnet {argv[0]}: error: {message}\n", argv
    assert snapshot(tmp_path) == before


def test_each_command_replaces_its_own_kind_with_overwrite_and_nothing_of_the_users(ended, tmp_path, capsys):
    # Once, a search's best.json written into a run made fnnet train --overwrite refuse it.
    run, search = copy(ended, tmp_path / "run"), tmp_path / "search"
    assert fnnet("search", *TINY, "--out", search) == 0
    (search / "notes.txt").write_text("the user's")
    assert fnnet("search", *TINY, "--out", search, "--overwrite") == 0
    assert sorted(p.name for p in search.iterdir()) == [".fnnet-lock", ".fnnet-search", "best.json", "notes.txt"]
    assert (search / "notes.txt").read_text() == "the user's"
    # A plain run and an ensemble run are both fnnet train's: either replaces the other.
    assert fnnet("train", *FAST, "--epochs", "1", "--members", "2", "--out", run, "--overwrite") == 0
    assert (run / runs.MEMBERS).exists() and runs.kind(run) == runs.RUN
    assert fnnet("train", *FAST, "--epochs", "1", "--out", run, "--overwrite") == 0
    assert not (run / runs.MEMBERS).exists()
    assert "replaced the previous run" in capsys.readouterr().err
    assert fnnet("train", "--config", search / runs.BEST, "--quiet", "--no-plot", "--out", run, "--overwrite") == 0


# ---------------------------------------------------------------- a bundled data set's name


def test_a_bundled_name_means_the_data_set_even_beside_a_file_so_named(ended, tmp_path, monkeypatch, capsys):
    from fnnet import data

    monkeypatch.chdir(tmp_path)
    x, y = data.digits()
    with open(tmp_path / "digits", "wb") as f:
        np.savez(f, x=x[:40], y=y[:40])
    before = snapshot(tmp_path)
    assert fnnet("evaluate", ended, "--data", "digits", "--json") == 0
    assert json.loads(capsys.readouterr().out)["digits"]["examples"] == 1797
    assert fnnet("evaluate", ended, "--data", "./digits", "--format", "npz", "--json") == 0
    assert json.loads(capsys.readouterr().out)["./digits"]["examples"] == 40
    assert fnnet("predict", ended, "digits", "--out", tmp_path / "p.csv") == 0
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + 1797
    assert fnnet("evaluate", ended, "--data", "digits", "--label-column", "0") == 2
    assert capsys.readouterr().err == ("fnnet evaluate: error: --label-column applies to data files, not to the "
                                       "bundled digits\n")
    after = snapshot(tmp_path)
    assert after.pop("p.csv") and after == before

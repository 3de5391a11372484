"""Run directories: created atomically, marked, locked, replaced only when safe, and
never deleting what fnnet did not write."""

import os
import threading

import pytest

from fnnet.runs import directories as runs


def snapshot(root):
    """Every file under ``root`` with its bytes: what "nothing was lost" compares (a lock
    file's content is the pid of its last holder, so only its presence counts)."""
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            if name == runs.LOCK:
                found[os.path.relpath(os.path.join(directory, name), root)] = b"lock"
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


def make_run(path, files=("config.json", "checkpoint.npz")):
    with runs.create(path) as run:
        for name in files:
            (run.path / name).write_text(f"old {name}")
    return path


def test_default_names_are_claimed_atomically_by_concurrent_writers(tmp_path):
    barrier, made, errors = threading.Barrier(8), [], []

    def claim():
        barrier.wait()
        try:
            run = runs.create(None, name="digits", base=tmp_path / "runs")
            made.append(run.path)
            run.commit()
            run.close()
        except Exception as e:  # noqa: BLE001 (the test reports any failure)
            errors.append(e)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.name for p in made) == sorted(f"digits-{n}" for n in range(1, 9))
    assert all(runs.is_run(p) for p in made)


def test_an_existing_run_is_never_reused_without_overwrite(tmp_path):
    out = make_run(tmp_path / "r")
    before = snapshot(out)
    with pytest.raises(runs.RunError, match="already exists; choose another --out or pass --overwrite"):
        runs.create(out)
    assert snapshot(out) == before


@pytest.mark.parametrize("layout, out, message", [
    # A project folder that happens to hold a config.json was once deleted by --overwrite.
    ({"proj/config.json": "{}", "proj/main.py": "print(1)"}, "proj", "fnnet did not create it"),
    ({"file": "x"}, "file", "is a file, not a run directory; choose another --out"),
])
def test_overwrite_refuses_what_fnnet_did_not_create(tmp_path, layout, out, message):
    for name, text in layout.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    before = snapshot(tmp_path)
    with pytest.raises(runs.RunError, match=message):
        runs.create(tmp_path / out, overwrite=True)
    assert snapshot(tmp_path) == before


def test_overwrite_refuses_a_run_holding_the_users_files_and_names_them(tmp_path):
    out = make_run(tmp_path / "r")
    (out / "notes.txt").write_text("mine")
    (out / "plots").mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(runs.RunError, match=r"holds files fnnet did not write \(notes.txt, plots/\)"):
        runs.create(out, overwrite=True)
    assert snapshot(tmp_path) == before


def test_overwrite_never_replaces_the_current_directory_its_parents_or_a_link(tmp_path, monkeypatch):
    out = make_run(tmp_path / "r")
    (tmp_path / "link").symlink_to(out)
    before = snapshot(tmp_path)
    monkeypatch.chdir(out)
    with pytest.raises(runs.RunError, match="refusing to replace .: it is the current directory"):
        runs.create(".", overwrite=True)
    with pytest.raises(runs.RunError, match="is a symbolic link"):
        runs.create(tmp_path / "link", overwrite=True)
    os.makedirs(out / "deeper")
    monkeypatch.chdir(out / "deeper")
    with pytest.raises(runs.RunError, match="holds the current directory"):
        runs.create("..", overwrite=True)
    os.rmdir(out / "deeper")
    assert snapshot(tmp_path) == before


def test_a_replacement_is_staged_beside_the_old_run_until_commit(tmp_path):
    out = make_run(tmp_path / "r")
    before = snapshot(out)
    run = runs.create(out, overwrite=True)
    assert run.path != out and run.path.parent == tmp_path
    (run.path / "config.json").write_text("new config.json")
    assert snapshot(out) == before  # the old run is untouched while the new one is written
    run.commit()
    run.close()
    assert run.path == out and (out / "config.json").read_text() == "new config.json"
    assert not (out / "checkpoint.npz").exists()  # the old run's files went with it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # nothing left beside it
    assert set(run.replaced) >= {"config.json", "checkpoint.npz"}


def test_a_replacement_that_fails_before_commit_leaves_the_old_run(tmp_path):
    out = make_run(tmp_path / "r")
    before = snapshot(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with runs.create(out, overwrite=True) as run:
            (run.path / "config.json").write_text("new")
            raise KeyboardInterrupt
    assert snapshot(tmp_path) == before


def test_a_new_run_that_fails_before_commit_is_removed(tmp_path):
    with pytest.raises(ValueError):
        with runs.create(tmp_path / "r") as run:
            (run.path / "config.json").write_text("new")
            raise ValueError("argument found bad late")
    assert not (tmp_path / "r").exists()


def test_the_swap_without_renameat2_moves_the_old_run_aside_first(tmp_path, monkeypatch):
    import ctypes

    out = make_run(tmp_path / "r")
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: (_ for _ in ()).throw(OSError("no libc")))
    with runs.create(out, overwrite=True) as run:
        (run.path / "config.json").write_text("new")
    assert (out / "config.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_a_second_writer_gets_an_error_naming_the_run_and_the_lock_is_released(tmp_path):
    out = make_run(tmp_path / "r")
    first = runs.open_run(out)
    with pytest.raises(runs.RunError, match=rf"run {out} is in use by another fnnet process \(pid {os.getpid()}\)"):
        runs.open_run(out)
    with pytest.raises(runs.RunError, match="in use by another fnnet process"):
        runs.create(out, overwrite=True)
    first.close()
    runs.open_run(out).close()


def test_opening_a_run_removes_what_a_killed_writer_left(tmp_path):
    out = make_run(tmp_path / "r")
    (out / ".fnnet-tmp-checkpoint.npz-x1y2.tmp").write_bytes(b"half")
    (out / ".fnnet-tmp-elsewhere").write_text("not ours: no .tmp suffix")
    with runs.open_run(out):
        pass
    assert sorted(os.listdir(out)) == sorted([".fnnet-lock", ".fnnet-run", ".fnnet-tmp-elsewhere",
                                              "checkpoint.npz", "config.json"])


def test_an_empty_directory_made_for_the_run_is_used_and_kept(tmp_path):
    (tmp_path / "results").mkdir()
    with pytest.raises(ValueError):
        with runs.create(tmp_path / "results") as run:
            (run.path / "config.json").write_text("new")
            raise ValueError("late")
    assert (tmp_path / "results").is_dir() and not os.listdir(tmp_path / "results")  # the user's, kept
    with runs.create(tmp_path / "results") as run:
        (run.path / "config.json").write_text("new")
    assert runs.is_run(tmp_path / "results")


def test_directories_made_for_a_failed_run_are_removed_and_others_kept(tmp_path, monkeypatch):
    (tmp_path / "kept").mkdir()
    with pytest.raises(ValueError):
        with runs.create(tmp_path / "kept" / "q1" / "q2" / "r"):
            raise ValueError("diverged in the first epoch")
    monkeypatch.chdir(tmp_path / "kept")
    with pytest.raises(ValueError):
        with runs.create(None, name="digits"):
            raise ValueError("diverged in the first epoch")
    assert os.listdir(tmp_path) == ["kept"] and os.listdir(tmp_path / "kept") == []


def test_files_and_links_in_the_way_are_named(tmp_path, monkeypatch):
    (tmp_path / "runs").write_text("a file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runs.RunError, match="cannot create run directories in runs: it is a file"):
        runs.create(None)
    with pytest.raises(runs.RunError, match="dangling is a symbolic link .*, not a run directory"):
        runs.create(tmp_path / "dangling", overwrite=True)


def test_a_lock_file_planted_as_a_link_is_not_followed(tmp_path):
    out = make_run(tmp_path / "r")
    (tmp_path / "precious.txt").write_text("mine")
    os.unlink(out / runs.LOCK)
    (out / runs.LOCK).symlink_to(tmp_path / "precious.txt")
    with pytest.raises(runs.RunError, match="cannot write to the run directory"):
        runs.open_run(out)
    assert (tmp_path / "precious.txt").read_text() == "mine"

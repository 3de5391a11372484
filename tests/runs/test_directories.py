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
    (out / ".fnnet-tmp-checkpoint.npz-x1y2z3w4.tmp").write_bytes(b"half")
    (out / ".fnnet-tmp-elsewhere").write_text("not ours: no .tmp suffix")
    (out / ".fnnet-tmp-mine.tmp").write_text("not ours: no random part")
    with runs.open_run(out):
        pass
    assert sorted(os.listdir(out)) == sorted([".fnnet-lock", ".fnnet-run", ".fnnet-tmp-elsewhere",
                                              ".fnnet-tmp-mine.tmp", "checkpoint.npz", "config.json"])


@pytest.mark.parametrize("name", ["checkpoint.npz", "summary.json", "learning_curve.png", "history.jsonl"])
def test_a_run_file_that_links_elsewhere_is_refused_before_anything_is_written(tmp_path, name):
    """A writer would write through the link into someone else's file (another run's
    checkpoint, the user's picture)."""
    out = make_run(tmp_path / "r")
    elsewhere = tmp_path / "users-file"
    elsewhere.write_bytes(b"the user's")
    if (out / name).exists():
        (out / name).unlink()
    (out / name).symlink_to(elsewhere)
    with pytest.raises(runs.RunError, match=rf"^{out / name} is a symbolic link \(to {elsewhere}\), not fnnet's own "
                                            r"file: fnnet would write through it; replace it with the file itself "
                                            r"or remove it$"):
        runs.open_run(out)
    assert elsewhere.read_bytes() == b"the user's" and (out / name).is_symlink()


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
    with pytest.raises(runs.RunError, match=r"\.fnnet-lock is a symbolic link \(to .*precious.txt\), not fnnet's own"):
        runs.open_run(out)
    assert (tmp_path / "precious.txt").read_text() == "mine"


# ---------------------------------------------------------------- kinds: run directories and search folders


def make_search(path):
    folder = runs.claim_search(path)
    (path / runs.BEST).write_text('{"hidden": [8]}')
    folder.release(keep=True)
    return path


def test_each_kind_is_told_by_its_marker(tmp_path):
    run, search = make_run(tmp_path / "r"), make_search(tmp_path / "s")
    (tmp_path / "plain").mkdir()
    assert [runs.kind(p) for p in (run, search, tmp_path / "plain", tmp_path / "nowhere")] == \
        [runs.RUN, runs.SEARCH, None, None]
    assert runs.is_run(run) and not runs.is_run(search)
    assert sorted(os.listdir(search)) == [runs.LOCK, runs.SEARCH_MARKER, runs.BEST]
    assert runs.enclosing_run(run / "a" / "b") == run and runs.enclosing_run(search / "a") is None


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_run_is_never_created_in_a_search_folder_or_inside_a_run(tmp_path, overwrite):
    run, search = make_run(tmp_path / "r"), make_search(tmp_path / "s")
    before = snapshot(tmp_path)
    with pytest.raises(runs.RunError, match=f"^{search} is a search folder \\(fnnet search wrote it\\), not a run "
                                            "directory; choose another --out$"):
        runs.create(search, overwrite=overwrite)
    with pytest.raises(runs.RunError, match=f"^--out {run}/sub/r is inside the run directory {run}, whose files "
                                            "are fnnet's own; choose another place$"):
        runs.create(run / "sub" / "r", overwrite=overwrite)
    with pytest.raises(runs.RunError, match=f"^cannot create run directories in {run}/runs: it is inside the run "
                                            f"directory {run}, whose files are fnnet's own; pass --out"):
        runs.create(None, base=run / "runs")  # fnnet train run from inside a run directory
    assert snapshot(tmp_path) == before and not (run / "sub").exists()


def test_a_search_folder_is_never_a_run_to_read_or_resume(tmp_path):
    search = make_search(tmp_path / "s")
    with pytest.raises(runs.RunError, match=f"^{search} is a search folder \\(fnnet search wrote it\\), not a run "
                                            f"directory; train its best with fnnet train --config {search}/best.json$"):
        runs.check_run_dir(search)
    with pytest.raises(runs.RunError, match="is a search folder"):
        runs.open_run(search)


@pytest.mark.parametrize("where", ["r", "r/sub"])
def test_a_search_is_never_written_into_a_run_or_inside_one(tmp_path, where):
    make_run(tmp_path / "r")
    before = snapshot(tmp_path)
    message = (f"^--out {tmp_path / 'r'} is a run directory \\(fnnet train wrote it\\), not a search folder; "
               "choose another --out$" if where == "r" else
               f"^--out {tmp_path / where} is inside the run directory {tmp_path / 'r'}, whose files are fnnet's own")
    for overwrite in (False, True):
        with pytest.raises(runs.RunError, match=message):
            runs.claim_search(tmp_path / where, overwrite=overwrite)
    assert snapshot(tmp_path) == before


def test_a_search_replaces_only_its_own_files_and_only_with_overwrite(tmp_path):
    search = make_search(tmp_path / "s")
    (search / "notes.txt").write_text("the user's")
    with pytest.raises(runs.RunError, match="already holds best.json of an earlier search; pass --overwrite"):
        runs.claim_search(search)
    runs.claim_search(search, overwrite=True).release(keep=True)
    assert (search / "notes.txt").read_text() == "the user's"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / runs.PICTURE).write_bytes(b"my picture")
    before = snapshot(tmp_path / "mine")
    with pytest.raises(runs.RunError, match=f"^--out {tmp_path / 'mine'} holds fitness.png, which fnnet search did "
                                            "not write \\(no .fnnet-search file\\); move it elsewhere"):
        runs.claim_search(tmp_path / "mine", overwrite=True)
    assert snapshot(tmp_path / "mine") == before


def test_a_search_that_writes_nothing_leaves_a_folder_as_it_found_it(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's")
    runs.claim_search(tmp_path / "mine").release(keep=False)
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]
    runs.claim_search(tmp_path / "a" / "b").release(keep=False)
    assert sorted(os.listdir(tmp_path)) == ["mine"]
    folder = runs.claim_search(tmp_path / "a")
    with pytest.raises(runs.RunError, match=f"search folder {tmp_path / 'a'} is in use by another fnnet process"):
        runs.claim_search(tmp_path / "a")
    folder.release(keep=False)
    assert sorted(os.listdir(tmp_path)) == ["mine"]


def test_a_run_without_a_checkpoint_whose_writer_is_alive_is_named_in_use(tmp_path):
    """A run still at its first epoch (no checkpoint yet) is busy, not 'stopped'."""
    with runs.create(tmp_path / "r") as run:
        (run.path / runs.CONFIG).write_text("{}")
        with pytest.raises(runs.RunError, match=r"run .*r is in use by another fnnet process"):
            runs.open_run(tmp_path / "r")
        run.commit()
    with pytest.raises(runs.RunError, match=r"has no checkpoint.npz: it was stopped before its first epoch ended"):
        runs.open_run(tmp_path / "r")

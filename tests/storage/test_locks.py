"""Directory locks: one writer at a time, the second told who holds it; released when
asked, or when the process ends however it ends; a planted link is never followed."""

import os
import subprocess
import sys

import pytest

from fnnet.storage import locks
from tests.support import ROOT


def test_a_second_writer_is_refused_with_the_holders_pid_until_the_first_releases(tmp_path):
    first = locks.DirectoryLock(tmp_path, "search folder")
    assert (tmp_path / locks.LOCK).read_text() == f"{os.getpid()}\n"
    with pytest.raises(locks.LockError, match=rf"^search folder {tmp_path} is in use by another fnnet process "
                                              rf"\(pid {os.getpid()}\); wait for it to finish$"):
        locks.DirectoryLock(tmp_path, "search folder")
    first.release()
    first.release()  # twice is harmless
    locks.DirectoryLock(tmp_path, "search folder").release()


def test_a_lock_goes_with_its_process_however_it_ends(tmp_path):
    code = ("import os, sys; from fnnet.storage import locks; locks.DirectoryLock(__import__('pathlib')."
            f"Path({str(tmp_path)!r}), 'run'); os._exit(9)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 9
    locks.DirectoryLock(tmp_path, "run").release()  # the dead process's lock is gone


def test_the_error_type_is_the_callers_and_a_planted_link_is_not_followed(tmp_path):
    (tmp_path / "precious.txt").write_text("mine")
    (tmp_path / locks.LOCK).symlink_to(tmp_path / "precious.txt")
    with pytest.raises(KeyError, match="cannot write to the run directory"):
        locks.DirectoryLock(tmp_path, "run", KeyError)
    assert (tmp_path / "precious.txt").read_text() == "mine"


def test_a_lock_file_that_is_a_directory_is_named(tmp_path):
    # c17: it was "cannot write to the run directory X: Is a directory".
    (tmp_path / locks.LOCK).mkdir()
    with pytest.raises(locks.LockError) as e:
        locks.DirectoryLock(tmp_path, "run")
    assert str(e.value) == (f"cannot write to the run directory {tmp_path}: its lock file {tmp_path / locks.LOCK} "
                            "is a directory, expected a file (remove it)")
    assert [p.name for p in tmp_path.iterdir()] == [locks.LOCK] and not any((tmp_path / locks.LOCK).iterdir())

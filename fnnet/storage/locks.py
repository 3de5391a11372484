"""Exclusive OS locks on directories: a writer holds ``directory/.fnnet-lock`` with
``flock`` (released when the process ends, however it ends), and a second writer gets
an error naming the directory and the holder's pid."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from fnnet.storage import atomic

LOCK = ".fnnet-lock"


class LockError(ValueError):
    """The directory is locked by another process, or cannot be written to."""


class DirectoryLock:
    """An exclusive OS lock on ``directory/.fnnet-lock``, held until ``release``; a second
    writer gets ``error`` (a LockError unless given) naming ``what`` it locks."""

    def __init__(self, directory: Path, what: str, error: type = LockError):
        import fcntl  # POSIX only, and only when a command writes a run

        try:
            # O_NOFOLLOW: a link planted as the lock file must not send the pid elsewhere.
            self.fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
        except OSError as e:
            lock = directory / LOCK
            if e.errno == errno.EISDIR:
                raise error(f"cannot write to the {what} directory {directory}: its lock file {lock} is a directory, "
                            "expected a file (remove it)") from None
            if e.errno == errno.ELOOP:
                raise error(f"cannot write to the {what} directory {directory}: its lock file {lock} is a symbolic "
                            "link, expected a file (remove it)") from None
            raise error(f"cannot write to the {what} directory {directory}: {e.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self.fd, 32).decode(errors="replace").strip()
            os.close(self.fd)
            raise error(f"{what} {directory} is in use by another fnnet process"
                        f"{f' (pid {holder})' if holder.isdigit() else ''}; wait for it to finish") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def check_writable(directory: Path, what: str = "run", error: type = LockError) -> None:
    """An ``error`` unless a file can be created in ``directory`` (the ``what`` directory)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=atomic.TMP_PREFIX, suffix=atomic.TMP_SUFFIX, dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise error(f"cannot write to the {what} directory {directory}: {e.strerror}") from None

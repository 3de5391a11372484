"""Run directories of the ``fnnet`` command: created atomically, locked while written,
replaced only once the replacement has a checkpoint, and never deleting a file that
fnnet did not write.

A run directory holds ``config.json`` (everything needed to rebuild the network, the
data pipeline and the optimizer), ``history.jsonl`` (one JSON line per epoch),
``checkpoint.npz`` (the training state, see ``fnnet.checkpoint``), ``summary.json``,
``learning_curve.png``, ``members.json`` (an ensemble run's leaderboard), and two files
of fnnet's own: ``.fnnet-run``, the marker that says fnnet created the directory (only
such a directory is ever replaced), and ``.fnnet-lock``, which a writer holds with an OS
lock (released when the process ends, however it ends).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import tempfile
import uuid
from pathlib import Path

from fnnet.storage import atomic, locks

RUN_FORMAT_VERSION = 3  # 3: convolutions (in_shape, conv settings)
CONFIG, HISTORY, CHECKPOINT, SUMMARY, CURVE = (
    "config.json", "history.jsonl", "checkpoint.npz", "summary.json", "learning_curve.png")
MEMBERS = "members.json"  # an ensemble run's leaderboard (fnnet train --members)
MARKER, LOCK = ".fnnet-run", locks.LOCK
RUN_FILES = (CONFIG, HISTORY, CHECKPOINT, SUMMARY, CURVE, MEMBERS, MARKER, LOCK)


class RunError(ValueError):
    """A run directory that is missing, incomplete, busy, not fnnet's, or from another version."""


# ---------------------------------------------------------------- a run being written


class Run:
    """A run directory this process writes, locked. ``path`` is where its files go: a
    hidden staging directory beside ``target`` while it replaces an old run, ``target``
    itself once ``commit`` has swapped the two (or from the start, for a new run)."""

    def __init__(self, path: Path, target: Path, lock: locks.DirectoryLock, *, created: bool,
                 old_lock: locks.DirectoryLock | None = None):
        self.path, self.target, self._lock, self._old_lock = path, target, lock, old_lock
        self._created = created  # removed again if nothing was committed
        self._own_dir = True  # False for an empty directory the user made for the run
        self._parents: list[Path] = []  # directories made to hold it, removed with it
        self.committed = not created
        self.replaced: list[str] = []  # the old run's files, once replaced

    def commit(self) -> None:
        """Make the run permanent: for a replacement, swap it with the old run (atomically
        where the OS can) and remove the old run's files; call it once the run has a
        checkpoint."""
        if self.committed:
            return
        if self.path != self.target:
            old = _exchange(self.path, self.target)
            self.path = self.target
            self.replaced = _remove_run_files(old)
            self._old_lock.release()
            self._old_lock = None
        self.committed = True

    def abandon(self) -> None:
        """Remove what this run wrote, if it was never committed (the old run stays)."""
        if not self.committed and self._created:
            _remove_run_files(self.path, rmdir=self._own_dir)
            atomic.remove_empty(self._parents)
            self._created = False

    def close(self) -> None:
        for lock in (self._lock, self._old_lock):
            if lock is not None:
                lock.release()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind, error, tb) -> None:
        try:
            if kind is not None:
                self.abandon()
            else:
                self.commit()
        finally:
            self.close()


def _mark(directory: Path) -> None:
    atomic.write_text(directory / MARKER, json.dumps({"format": "fnnet-run", "id": uuid.uuid4().hex}) + "\n")


def is_run(directory) -> bool:
    """Whether fnnet created ``directory`` as a run (it holds fnnet's marker)."""
    try:
        marker = json.loads((Path(directory) / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("format") == "fnnet-run"


def _foreign(directory: Path) -> list[str]:
    """Entries of ``directory`` that fnnet did not write."""
    return sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in os.scandir(directory)
                  if e.name not in RUN_FILES and not atomic.is_temporary(e.name))


def _remove_run_files(directory: Path, *, rmdir: bool = True) -> list[str]:
    """Remove fnnet's own files from ``directory`` and (with ``rmdir``) the directory if
    that empties it; anything else stays. Returns the names removed."""
    removed = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if (entry.name in RUN_FILES or atomic.is_temporary(entry.name)) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    if rmdir:
        with contextlib.suppress(OSError):  # not empty: something of the user's is in it
            os.rmdir(directory)
    return removed


def _exchange(new: Path, old: Path) -> Path:
    """Put directory ``new`` at ``old``'s path; returns where the old one is now."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(new), at_fdcwd, os.fsencode(old), rename_exchange) == 0:
            return new
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
            raise OSError(code, os.strerror(code), os.fspath(old))
    # No atomic swap here: move the old run aside first, so that it is never lost.
    aside = old.with_name(f".{old.name}.fnnet-old-{uuid.uuid4().hex[:8]}")
    os.rename(old, aside)
    os.rename(new, old)
    return aside


def _new_directory(path: Path, *, own_dir: bool = True, parents=()) -> Run:
    try:
        lock = locks.DirectoryLock(path, "run", RunError)
        _mark(path)
    except BaseException:
        _remove_run_files(path, rmdir=own_dir)
        atomic.remove_empty(parents)
        raise
    run = Run(path, path, lock, created=True)
    run._own_dir, run._parents = own_dir, list(parents)
    return run


def create(out=None, *, name: str = "run", base="runs", overwrite: bool = False) -> Run:
    """A new run directory, locked: ``out`` if given (created, or an existing empty
    directory), else the first free ``base/name-N`` (claimed with an atomic mkdir, so
    concurrent commands never share one). Directories made for it are removed again if
    it is abandoned.

    An existing ``out`` is replaced only with ``overwrite``, only if fnnet created it and
    it holds nothing else, never if it is a link or holds the current directory, and
    only at ``commit``: until then the new run is written beside it."""
    if out is None:
        base = Path(base)
        if base.exists() and not base.is_dir():
            raise RunError(f"cannot create run directories in {base}: it is a file, not a directory")
        try:
            parents = [] if base.is_dir() else atomic.make_directories(base)
        except FileExistsError:
            parents = []  # another command made it a moment ago
        except OSError as e:
            raise RunError(f"cannot create the run directory {base}: {e.strerror}") from None
        n = 1
        while True:
            path = base / f"{name}-{n}"
            try:
                path.mkdir()
                return _new_directory(path, parents=parents)
            except FileExistsError:
                n += 1
            except OSError as e:
                atomic.remove_empty(parents)
                raise RunError(f"cannot create the run directory {path}: {e.strerror}") from None
    out = Path(out)
    try:
        made = atomic.make_directories(out)
        return _new_directory(out, parents=made[:-1])
    except FileExistsError:
        pass
    except OSError as e:
        raise RunError(f"cannot create the run directory {out}: {e.strerror}") from None
    if out.is_symlink():
        raise RunError(f"{out} is a symbolic link (to {os.readlink(out)}), not a run directory; "
                       "choose another --out")
    if not out.is_dir():
        raise RunError(f"{out} is a file, not a run directory; choose another --out")
    if not any(os.scandir(out)):
        # An empty directory made for the run: nothing to lose, so no --overwrite needed.
        return _new_directory(out, own_dir=False)
    if not overwrite:
        raise RunError(f"run directory {out} already exists; choose another --out or pass --overwrite")
    return _stage_replacement(out)


def _staging_prefix(out: Path) -> str:
    # Short, so that a long run name plus the suffix stays within NAME_MAX.
    return f".{out.name[:40]}.fnnet-new-"


def _stage_replacement(out: Path) -> Run:
    here, target = Path.cwd().resolve(), out.resolve()
    if target == here or target in here.parents:
        raise RunError(f"refusing to replace {out}: it {'is' if target == here else 'holds'} the current directory")
    if not is_run(out):
        raise RunError(f"refusing to replace {out}: fnnet did not create it (no {MARKER} file); "
                       "--overwrite replaces only fnnet's own run directories")
    foreign = _foreign(out)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise RunError(f"refusing to replace {out}: it holds files fnnet did not write ({shown}); "
                       "move them elsewhere first")
    old_lock = locks.DirectoryLock(out, "run", RunError)
    try:
        _remove_abandoned_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(out), dir=out.parent))
        run = _new_directory(staging)
    except BaseException:
        old_lock.release()
        raise
    run.target, run._old_lock = out, old_lock
    return run


def _remove_abandoned_staging(out: Path) -> None:
    """Remove replacements of ``out`` that a killed process left half-made beside it
    (fnnet's own, unlocked, holding nothing else); the caller holds ``out``'s lock."""
    for entry in os.scandir(out.parent):
        if not (entry.name.startswith(_staging_prefix(out)) and entry.is_dir(follow_symlinks=False)):
            continue
        path = Path(entry.path)
        if not is_run(path) or _foreign(path):
            continue
        try:
            lock = locks.DirectoryLock(path, "replacement", RunError)
        except (RunError, OSError):
            continue  # another process is still writing it
        lock.release()
        _remove_run_files(path)


def open_run(run_dir) -> Run:
    """An existing run, locked for writing (e.g. to resume it); temporary files that a
    killed writer left behind are removed."""
    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    lock = locks.DirectoryLock(run_dir, "run", RunError)
    try:
        locks.check_writable(run_dir, "run", RunError)  # a read-only run fails here, before anything
        atomic.remove_stale(run_dir)
        _remove_abandoned_staging(run_dir)
    except BaseException:
        lock.release()
        raise
    return Run(run_dir, run_dir, lock, created=False)


def check_run_dir(run_dir) -> Path:
    """``run_dir`` if it is a complete run directory of this fnnet; else a RunError saying
    what it lacks."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"no run directory at {run_dir}")
    if not (run_dir / CONFIG).is_file():
        raise RunError(f"{run_dir} is not a run directory (no {CONFIG})")
    if not is_run(run_dir):
        raise RunError(f"{run_dir} was written by an incompatible fnnet (no {MARKER} file; this fnnet "
                       f"reads run format {RUN_FORMAT_VERSION})")
    if (run_dir / CHECKPOINT).exists() and not (run_dir / CHECKPOINT).is_file():
        raise RunError(f"{run_dir / CHECKPOINT} is not a file")
    if not (run_dir / CHECKPOINT).is_file():
        raise RunError(f"{run_dir} has no {CHECKPOINT}: it was stopped before its first epoch ended")
    return run_dir

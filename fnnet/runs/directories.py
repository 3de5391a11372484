"""The directories the ``fnnet`` command writes, of two kinds, each marked so that every
command recognises it and refuses the other kind in one line:

* a **training run** (``fnnet train``, plain or ``--members``), created atomically,
  locked while written, replaced only once the replacement has a checkpoint, never
  deleting a file that fnnet did not write. It holds ``config.json`` (everything needed
  to rebuild the network, the data pipeline and the optimizer), ``history.jsonl`` (one
  JSON line per epoch), ``checkpoint.npz`` (the training state, see
  ``fnnet.checkpoint``), ``summary.json`` and ``learning_curve.png`` (how the run ended:
  they describe the checkpoint of epoch ``summary["epochs_done"]``), ``members.json``
  (an ensemble run's leaderboard), and two files of fnnet's own: ``.fnnet-run``, the
  marker that says fnnet created the directory (only such a directory is ever
  replaced), and ``.fnnet-lock``, which a writer holds with an OS lock (released when
  the process ends, however it ends).
* a **search folder** (``fnnet search --out``): ``best.json`` and ``fitness.png`` in a
  folder that may hold the user's files too, marked by ``.fnnet-search`` (only the
  files of a marked folder are ever replaced) and locked by the same ``.fnnet-lock``.

Neither kind is ever written inside a training run, whose files are all fnnet's own.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import tempfile
import uuid
import weakref
from pathlib import Path

from fnnet.storage import atomic, locks

RUN_FORMAT_VERSION = 3  # 3: convolutions (in_shape, conv settings)
CONFIG, HISTORY, CHECKPOINT, SUMMARY, CURVE = (
    "config.json", "history.jsonl", "checkpoint.npz", "summary.json", "learning_curve.png")
MEMBERS = "members.json"  # an ensemble run's leaderboard (fnnet train --members)
MARKER, LOCK = ".fnnet-run", locks.LOCK
RUN_FILES = (CONFIG, HISTORY, CHECKPOINT, SUMMARY, CURVE, MEMBERS, MARKER, LOCK)
BEST, PICTURE, SEARCH_MARKER = "best.json", "fitness.png", ".fnnet-search"  # a search folder's
RUN, SEARCH = "run", "search"  # the kinds: a training run (plain or --members), a search folder


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
        if created:
            _UNSAVED.add(self)

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
        _UNSAVED.discard(self)

    def abandon(self) -> None:
        """Remove what this run wrote, if it was never committed (the old run stays)."""
        if not self.committed and self._created:
            _remove_run_files(self.path, rmdir=self._own_dir)
            atomic.remove_empty(self._parents)
            self._created = False
        _UNSAVED.discard(self)

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


#: Runs and search folders this process created and has not yet saved anything in: what a
#: process that must end at once (``fnnet.cli.main``'s signal watcher) undoes first.
_UNSAVED: weakref.WeakSet = weakref.WeakSet()


def abandon_unsaved() -> None:
    """Undo every run directory and search folder this process created and saved nothing
    in (``Run.abandon``, ``SearchFolder.release``): only fnnet's own files go. For a
    process about to end from another thread; the caller holds ``atomic.WRITING``."""
    for item in list(_UNSAVED):
        with contextlib.suppress(OSError):
            if isinstance(item, Run):
                item.abandon()
            else:
                item.release(keep=any((item.path / name).exists() for name in (BEST, PICTURE)))


def _mark(directory: Path) -> None:
    atomic.write_text(directory / MARKER, json.dumps({"format": "fnnet-run", "id": uuid.uuid4().hex}) + "\n")


def _marked(path: Path, form: str) -> bool:
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("format") == form


def is_run(directory) -> bool:
    """Whether fnnet created ``directory`` as a training run (it holds fnnet's marker)."""
    return _marked(Path(directory) / MARKER, "fnnet-run")


def kind(directory) -> str | None:
    """``RUN`` or ``SEARCH``, by ``directory``'s marker; None for a directory that is
    neither (or no directory)."""
    if is_run(directory):
        return RUN
    if _marked(Path(directory) / SEARCH_MARKER, "fnnet-search"):
        return SEARCH
    return None


def enclosing_run(path) -> Path | None:
    """The training run that ``path`` (existing or not) is or lies inside, else None."""
    here = Path(os.path.abspath(path))
    for directory in (here, *here.parents):
        if is_run(directory):
            return directory
    return None


def not_inside_a_run(path, what: str) -> None:
    """A RunError if ``path`` (``what``, e.g. "--out runs/x/y") lies inside a training run,
    whose files are all fnnet's own (anything else there would stop the run being
    replaced)."""
    run = enclosing_run(path)
    if run is not None and run != Path(os.path.abspath(path)):
        raise RunError(f"{what} is inside the run directory {run}, whose files are fnnet's own; "
                       "choose another place")


def _search_hint(directory: Path) -> str:
    best = directory / BEST
    return f"; train its best with fnnet train --config {best}" if best.is_file() else ""


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
        inside = enclosing_run(base)
        if inside is not None:
            raise RunError(f"cannot create run directories in {base}: it is inside the run directory {inside}, whose "
                           "files are fnnet's own; pass --out, or run fnnet from another directory")
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
    not_inside_a_run(out, f"--out {out}")
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
    if kind(out) == SEARCH:
        raise RunError(f"{out} is a search folder (fnnet search wrote it), not a run directory; "
                       "choose another --out")
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


# ---------------------------------------------------------------- a search folder


class SearchFolder:
    """A search's ``--out`` folder, locked while the search writes it. ``release`` unlocks
    it and, when the search wrote nothing, undoes what claiming it made: the marker, the
    lock file, the folder and the parents made for it (only if that empties them)."""

    def __init__(self, path: Path, lock: locks.DirectoryLock, made: list, ours: list):
        self.path, self._lock, self._made, self._ours = path, lock, made, ours
        _UNSAVED.add(self)

    def release(self, *, keep: bool) -> None:
        _UNSAVED.discard(self)
        self._lock.release()
        if not keep:
            for name in self._ours:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / name)
            atomic.remove_empty(self._made)


def _check_search_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out}: expected a folder (or a name to create), found a file")
    if is_run(out):
        raise RunError(f"--out {out} is a run directory (fnnet train wrote it), not a search folder; "
                       "choose another --out")
    not_inside_a_run(out, f"--out {out}")
    earlier = [name for name in (BEST, PICTURE) if (out / name).exists()]
    if not earlier:
        return
    if kind(out) != SEARCH:
        raise RunError(f"--out {out} holds {' and '.join(earlier)}, which fnnet search did not write (no "
                       f"{SEARCH_MARKER} file); move {'them' if len(earlier) > 1 else 'it'} elsewhere, or choose "
                       "another --out")
    if not overwrite:
        raise RunError(f"--out {out} already holds {' and '.join(earlier)} of an earlier search; pass "
                       "--overwrite to replace them, or choose another --out")


def claim_search(out, *, overwrite: bool = False) -> SearchFolder:
    """``out`` as a search's folder (``fnnet search --out``): created if absent, locked
    against a second writer, checked writable, marked as a search's. Refused, before
    anything is made: a file, a run directory or a place inside one, and a folder holding
    ``best.json`` or ``fitness.png`` that fnnet search did not write (no marker); an
    earlier search's files are replaced only with ``overwrite``. Other files of the
    folder are never touched."""
    out = Path(out)
    _check_search_out(out, overwrite)
    try:
        made = atomic.make_directories(out)
    except FileExistsError:
        made = []
    except OSError as e:
        raise RunError(f"cannot create the search folder {out}: {e.strerror}") from None
    ours = [] if (out / LOCK).exists() else [LOCK]
    try:
        lock = locks.DirectoryLock(out, "search folder", RunError)
    except BaseException:
        atomic.remove_empty(made)
        raise
    folder = SearchFolder(out, lock, made, ours)
    try:
        _check_search_out(out, overwrite)  # again, holding the lock: another command may have written it
        locks.check_writable(out, "search folder", RunError)
        if kind(out) != SEARCH:
            atomic.write_text(out / SEARCH_MARKER, json.dumps({"format": "fnnet-search", "id": uuid.uuid4().hex})
                              + "\n")
            ours.append(SEARCH_MARKER)
    except BaseException:
        folder.release(keep=False)
        raise
    return folder


def open_run(run_dir) -> Run:
    """An existing run, locked for writing (e.g. to resume it); temporary files that a
    killed writer left behind are removed."""
    run_dir = Path(run_dir)
    try:
        check_run_dir(run_dir)
    except RunError:
        if is_run(run_dir) and not (run_dir / CHECKPOINT).exists() and (run_dir / LOCK).is_file():
            # No checkpoint yet may mean a writer still at its first epoch: say so if it is.
            locks.DirectoryLock(run_dir, "run", RunError).release()
        raise
    _check_own_files(run_dir)
    lock = locks.DirectoryLock(run_dir, "run", RunError)
    try:
        locks.check_writable(run_dir, "run", RunError)  # a read-only run fails here, before anything
        atomic.remove_stale(run_dir)
        _remove_abandoned_staging(run_dir)
    except BaseException:
        lock.release()
        raise
    return Run(run_dir, run_dir, lock, created=False)


def _check_own_files(run_dir: Path) -> None:
    """A run's own files are plain files in it: one that is a symbolic link (or a FIFO, a
    device) would make a writer write through it into someone else's file. A RunError
    names it, before anything is written."""
    for name in RUN_FILES:
        path = run_dir / name
        if path.is_symlink():
            raise RunError(f"{path} is a symbolic link (to {os.readlink(path)}), not fnnet's own file: fnnet would "
                           "write through it; replace it with the file itself or remove it")
        if path.exists() and not path.is_file():
            raise RunError(f"{path} is not a regular file: fnnet would write into it; remove it")


def check_run_dir(run_dir) -> Path:
    """``run_dir`` if it is a complete run directory of this fnnet; else a RunError saying
    what it lacks."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"no run directory at {run_dir}")
    if kind(run_dir) == SEARCH:
        raise RunError(f"{run_dir} is a search folder (fnnet search wrote it), not a run directory"
                       + _search_hint(run_dir))
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

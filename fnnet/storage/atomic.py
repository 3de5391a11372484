"""Atomic file replacement: write a temporary file beside the target, flush it, rename it
over the target. A crash or a full disk leaves the old file or the new one, never half
of one; the temporary file is removed on failure, and one left by a killed process is
recognisable by its name (``remove_stale``)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import threading
from pathlib import Path

TMP_PREFIX = ".fnnet-tmp-"
TMP_SUFFIX = ".tmp"

#: Held while a file is written and renamed into place: a process that must end from
#: another thread (``fnnet.cli.main``'s watchdog) takes it first, so no write is cut.
WRITING = threading.RLock()
#: The last path each file name was renamed to, in this process: what a watchdog names.
replaced: dict[str, str] = {}


def writing() -> bool:
    """Whether this thread is inside a write (holds ``WRITING``): a KeyboardInterrupt
    raised now would cut it, so the command's signal handler waits."""
    return WRITING._is_owned()


def _umask() -> int:
    try:  # Linux says it without changing it (os.umask would, for a moment, in every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_directory(directory) -> None:
    """Make a rename in ``directory`` durable (where the OS allows opening directories)."""
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(directory, os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _named(e: OSError, path: str) -> OSError:
    return e if e.errno is None else type(e)(e.errno, e.strerror, path)


@contextlib.contextmanager
def open_for_replace(path, mode: str = "w", *, sync: bool = False):
    """A file object whose contents replace ``path`` when the block ends without an
    error (and are thrown away when it raises). A new file gets the permissions a plain
    ``open`` would give it, a replaced one keeps its own. ``sync`` flushes it and the
    rename to the disk. An OSError names ``path``, not the temporary file."""
    path = os.fspath(path)
    kw = {} if "b" in mode else {"encoding": "utf-8"}
    if os.path.islink(path) or (os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)):
        # A link, a device or a pipe (/dev/stdout, /dev/full, a FIFO) is written in place:
        # renaming a file over it would replace the link or the device node itself.
        try:
            with open(path, mode, **kw) as f:
                yield f
        except OSError as e:
            raise _named(e, path) from None
        return
    directory = os.path.dirname(os.path.abspath(path))
    with WRITING:
        yield from _replace(path, directory, mode, kw, sync)


def _replace(path: str, directory: str, mode: str, kw: dict, sync: bool):
    tmp = None
    try:
        try:
            keep = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            keep = 0o666 & ~_umask()  # mkstemp makes 0600; run files all read alike
        # A short name: a long target's own name plus the prefix must not pass NAME_MAX.
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.path.basename(path)[:40]}-", suffix=TMP_SUFFIX,
                                   dir=directory)
        os.fchmod(fd, keep)
        with os.fdopen(fd, mode, **kw) as f:
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        replaced[os.path.basename(path)] = os.path.abspath(path)
        if sync:
            fsync_directory(directory)
    except OSError as e:
        raise _named(e, path) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_text(path, text: str, *, sync: bool = False) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with open_for_replace(path, "w", sync=sync) as f:
        f.write(text)


#: ``open_for_replace``'s temporary names: the prefix, the target's name (cut to 40
#: characters), "-", mkstemp's 8 random characters, the suffix; a user's file that merely
#: starts and ends alike is not one (it is never removed as a stale temporary).
_TEMPORARY = re.compile(re.escape(TMP_PREFIX) + r".{1,40}-[a-z0-9_]{8}" + re.escape(TMP_SUFFIX), re.DOTALL)


def is_temporary(name: str) -> bool:
    """Whether a file name is one of ``open_for_replace``'s temporary files."""
    return _TEMPORARY.fullmatch(name) is not None


def remove_stale(directory) -> list[str]:
    """Remove the temporary files a killed writer left in ``directory`` (the caller must
    hold the directory's lock, so that no live writer owns them); returns their names."""
    removed = []
    for entry in os.scandir(directory):
        if is_temporary(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return sorted(removed)


def make_directories(path: Path) -> list[Path]:
    """``mkdir -p path``, returning the directories it made (``path`` last); a
    FileExistsError if ``path`` is there already."""
    missing, p = [], path
    while not (p.exists() or p.is_symlink()):
        missing.append(p)
        p = p.parent
    if not missing:
        raise FileExistsError(errno.EEXIST, "exists", os.fspath(path))
    made = []
    try:
        for p in reversed(missing):
            try:
                p.mkdir()
            except FileExistsError:
                if p == path:
                    raise  # claimed by another process a moment ago
                continue  # a parent made by someone else: not ours to remove
            made.append(p)
    except BaseException:
        remove_empty(made)
        raise
    return made


def remove_empty(directories) -> None:
    for d in reversed(list(directories)):
        with contextlib.suppress(OSError):
            os.rmdir(d)

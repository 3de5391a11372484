"""Compiled programs kept between processes: JAX's persistent compilation cache in a
per-user folder, so that a second ``fnnet train`` with the same settings loads its
programs instead of compiling them. The ``fnnet`` command turns it on; a script opts in
with one line, ``fnnet.use_compilation_cache()``.

The folder: ``$FNNET_CACHE_DIR`` when set (empty turns the cache off), else
``$XDG_CACHE_HOME/fnnet/xla`` or ``~/.cache/fnnet/xla``. Every program is kept, however
quick its compile (JAX's default keeps those over a second), and nothing is evicted:
delete the folder to reclaim its space. A folder that cannot be made or written, a full
disk or a damaged entry never fails a run: fnnet says so once, on standard error, and
goes on compiling where the cache cannot help (JAX's own warnings about it are folded
into that line). A damaged entry (a run killed while JAX wrote it: JAX writes in place)
is removed when it is found, so the program compiled in its stead is stored again."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

#: The environment variable naming the folder; set and empty, it turns the cache off.
ENV = "FNNET_CACHE_DIR"

_state = {"dir": None, "said": False, "hooked": False}


def default_directory() -> Path | None:
    """Where the cache lives by default (None: turned off by ``$FNNET_CACHE_DIR=''``)."""
    if ENV in os.environ:
        return Path(os.environ[ENV]).expanduser() if os.environ[ENV] else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fnnet" / "xla"


def use_compilation_cache(directory=None) -> Path | None:
    """Keep compiled programs in ``directory`` (default: ``default_directory()``) for later
    processes; returns the folder in use, or None when there is none (turned off, or the
    folder cannot be made or written: said once on standard error, and the run goes on
    without it). Call it before the first compile; calling it again changes nothing."""
    if _state["dir"] is not None:
        return _state["dir"]
    path = default_directory() if directory is None else Path(directory).expanduser()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass  # a folder we can write in: JAX would otherwise warn at every program
    except OSError as e:
        _say(path, f"{e.strerror or type(e).__name__}")
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _hook_warnings()
    _state["dir"] = path
    return path


def _say(path, reason: str, usable: bool = False) -> None:
    if not _state["said"]:
        _state["said"] = True
        print(f"fnnet: warning: the compilation cache {path}: {reason}" if usable else
              f"fnnet: warning: the compilation cache {path} cannot be used ({reason}); going on without it",
              file=sys.stderr)


def _heal(path) -> bool:
    """Remove the entries of ``path`` that do not decompress (JAX's own ``*-cache`` files,
    damaged); whether any was."""
    try:
        from jax._src.compilation_cache import decompress_executable
    except ImportError:  # another JAX layout: leave the folder as it is
        return False
    removed = False
    for entry in path.glob("*-cache"):
        try:
            decompress_executable(entry.read_bytes())
        except OSError:
            continue
        except Exception:  # noqa: BLE001 - zlib's or zstd's error: the entry is damaged
            try:
                entry.unlink()
                removed = True
            except OSError:
                pass
    return removed


def _hook_warnings() -> None:
    """JAX warns once per program whose cache entry it cannot read or write (a damaged
    entry, a full disk): those become fnnet's one line."""
    if _state["hooked"]:
        return
    _state["hooked"] = True
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if "persistent compilation cache" in text:
            reading = not text.startswith("Error writing")
            reason = text.split(chr(39) + ": ", 1)[-1].splitlines()[0]
            if reading and _heal(_state["dir"]):
                _say(_state["dir"], f"a damaged entry ({reason}) was removed; its program is compiled again",
                     usable=True)
            else:
                _say(_state["dir"], f"{'reading' if reading else 'writing'} an entry: {reason}")
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show

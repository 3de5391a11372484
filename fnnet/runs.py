"""Run directories of the ``fnnet`` command.

A run directory holds ``config.json`` (everything needed to rebuild the network, the
data pipeline and the optimizer), ``history.jsonl`` (one JSON line per epoch),
``checkpoint.npz`` (the training state and the best parameters, see
``fnnet.checkpoint``), ``summary.json`` and ``learning_curve.png``. Files are
replaced atomically; an existing run directory is never reused unless asked.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

RUN_FORMAT_VERSION = 1
CONFIG, HISTORY, CHECKPOINT, SUMMARY, CURVE = (
    "config.json", "history.jsonl", "checkpoint.npz", "summary.json", "learning_curve.png")


class RunError(ValueError):
    """A run directory that is missing, incomplete, or from an incompatible version."""


def create(out: str | os.PathLike | None, *, name: str = "run", base: str = "runs",
           overwrite: bool = False) -> Path:
    """A new, empty run directory: ``out`` if given (an existing one only with
    ``overwrite``), else the first free ``base/name-N``."""
    if out is None:
        n = 1
        while (Path(base) / f"{name}-{n}").exists():
            n += 1
        out = Path(base) / f"{name}-{n}"
    out = Path(out)
    if out.exists():
        if not overwrite:
            raise RunError(f"run directory {out} already exists; choose another --out or pass --overwrite")
        if not (out / CONFIG).exists() and any(out.iterdir()):
            raise RunError(f"{out} exists and is not a run directory; refusing to overwrite it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return out


def write_json(path, obj) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def append_history(run_dir, record: dict) -> None:
    with open(Path(run_dir) / HISTORY, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_history(run_dir) -> list[dict]:
    path = Path(run_dir) / HISTORY
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_config(run_dir) -> dict:
    """The run's configuration; a RunError if the directory is not a complete run of this
    version."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"no run directory at {run_dir}")
    path = run_dir / CONFIG
    if not path.exists():
        raise RunError(f"{run_dir} is not a run directory (no {CONFIG})")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path} is not valid JSON ({e})") from None
    version = config.get("run_format_version") if isinstance(config, dict) else None
    if version != RUN_FORMAT_VERSION:
        raise RunError(f"{run_dir} was written by an incompatible fnnet (run format {version!r}; "
                       f"this fnnet reads {RUN_FORMAT_VERSION})")
    if not (run_dir / CHECKPOINT).exists():
        raise RunError(f"{run_dir} has no {CHECKPOINT}")
    return config

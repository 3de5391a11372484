"""The files inside a run directory: its configuration, its history (one JSON line per
epoch, cut back to the checkpoint's epoch after a kill), its summary; JSON written
atomically and read with errors that name the file, line and column."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fnnet.runs.directories import CONFIG, CURVE, HISTORY, RUN_FORMAT_VERSION, SUMMARY, RunError, check_run_dir
from fnnet.storage import atomic


def write_json(path, obj) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    atomic.write_text(path, json.dumps(obj, indent=2) + "\n")


def read_json(path) -> dict:
    """A JSON object from ``path``; a RunError names the file, line and column otherwise."""
    path = Path(path)
    try:  # utf-8-sig: a byte-order mark (Notepad's) is not a mistake
        value = json.loads(path.read_text(encoding="utf-8-sig"), object_pairs_hook=_unique)
    except FileNotFoundError:
        raise RunError(f"{path} is missing") from None
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from None
    except _Duplicate as e:
        raise RunError(f"{path}: {e}") from None
    except UnicodeDecodeError:
        raise RunError(f"{path}: expected UTF-8 JSON text, found binary data") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: expected a JSON object, found a {type(value).__name__}")
    return value


class _Duplicate(ValueError):
    pass


def _unique(pairs) -> dict:
    # json keeps the last of two equal keys; a file that says a thing twice is refused.
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def read_run_config(run_dir) -> dict:
    """The run's configuration, checked to be of this run format (its fields are checked
    by whoever uses them)."""
    run_dir = check_run_dir(run_dir)
    config = read_json(run_dir / CONFIG)
    version = config.get("run_format_version")
    if version != RUN_FORMAT_VERSION:
        raise RunError(f"{run_dir} was written by an incompatible fnnet (run format {version!r}; "
                       f"this fnnet reads {RUN_FORMAT_VERSION})")
    return config


def remove_results(run_dir) -> None:
    """Remove the summary and the learning curve, which describe how a run ended."""
    for name in (SUMMARY, CURVE):
        path = Path(run_dir) / name
        if path.is_file() and not path.is_symlink():
            path.unlink()


def append_history(run_dir, record: dict) -> None:
    """Add one epoch's record to ``history.jsonl``."""
    fd = os.open(Path(run_dir) / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    with open(fd, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read_history(run_dir) -> list[dict]:
    """The epochs' records. A line torn by a kill at the very end is left out; any other
    malformed line is a RunError naming it."""
    path = Path(run_dir) / HISTORY
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunError(f"{path}: expected UTF-8 JSON lines, found binary data") from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(lines):  # no newline after it: a write the process did not finish
                break
            raise RunError(f"{path}: line {number}, column {e.colno}: not valid JSON ({e.msg})") from None
        if not (isinstance(record, dict) and type(record.get("epoch")) is int):
            raise RunError(f"{path}: line {number}: expected an object with an integer 'epoch'")
        records.append(record)
    return records


def truncate_history(run_dir, epochs: int) -> list[dict]:
    """Keep the records of epochs 1..``epochs`` (the checkpoint's): a kill between an
    epoch's history line and its checkpoint leaves one record too many. Returns them."""
    path = Path(run_dir) / HISTORY
    records = read_history(run_dir)
    kept = [r for r in records if r["epoch"] <= epochs]
    if [r["epoch"] for r in kept] != list(range(1, epochs + 1)):
        raise RunError(f"{path} holds epochs {[r['epoch'] for r in kept][:8]}..., but the checkpoint is at "
                       f"epoch {epochs}; expected each of epochs 1..{epochs} once")
    if len(kept) != len(records) or (path.exists() and not path.read_text(encoding="utf-8").endswith("\n")):
        atomic.write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept

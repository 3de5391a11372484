"""The files inside a run directory: its configuration, its history (one JSON line per
epoch, cut back to the checkpoint's epoch after a kill), its summary (which names the
checkpoint epoch it describes, and goes only once a newer checkpoint is saved); JSON
written atomically and read with errors that name the file, line and column."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from fnnet.runs.directories import CONFIG, CURVE, HISTORY, RUN_FORMAT_VERSION, SUMMARY, RunError, check_run_dir
from fnnet.storage import atomic
from fnnet.loaders.checks import check_regular


def write_json(path, obj) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    atomic.write_text(path, json.dumps(obj, indent=2) + "\n")


def read_json(path) -> dict:
    """A JSON object from ``path``; a RunError names the file, line and column otherwise."""
    path = Path(path)
    check_regular(path, RunError)  # a FIFO would hang here, /dev/zero fill memory
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
    except RecursionError:
        raise RunError(f"{path}: expected JSON of a few levels, found arrays or objects nested too deeply") from None
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
    """Remove the learning curve and the summary, which describe how a run ended: call it
    once a newer checkpoint has replaced the one they describe. The curve goes first, so
    that a kill between the two leaves the summary, which names its epoch."""
    for name in (CURVE, SUMMARY):
        path = Path(run_dir) / name
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def summary_epoch(run_dir) -> int | None:
    """The epoch of the checkpoint that ``summary.json`` describes (its ``epochs_done``);
    None without a summary or with one that does not say (left to whoever reads it)."""
    try:
        epoch = read_json(Path(run_dir) / SUMMARY).get("epochs_done")
    except (RunError, OSError):
        return None
    return epoch if type(epoch) is int else None


def remove_stale_results(run_dir, epoch: int) -> bool:
    """Remove the summary and the curve if the summary describes another checkpoint than
    the one of ``epoch`` (a kill between a resume's first checkpoint and their removal
    leaves them so); True if they were stale."""
    described = summary_epoch(run_dir)
    if described is None or described == epoch:
        return False
    remove_results(run_dir)
    return True


def history_size(run_dir) -> int:
    """The size of ``history.jsonl`` in bytes (0 when absent), to ``cut_history`` back to."""
    try:
        return os.stat(Path(run_dir) / HISTORY, follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0


def cut_history(run_dir, size: int) -> None:
    """Cut ``history.jsonl`` back to ``size`` bytes, in place: it needs no free space, so a
    full disk that failed an epoch's checkpoint can still take back that epoch's line."""
    path = Path(run_dir) / HISTORY
    if size == 0:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


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
    check_regular(path, RunError)
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
        except RecursionError:
            raise RunError(f"{path}: line {number}: expected an object of a few levels, found one nested too "
                           "deeply") from None
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

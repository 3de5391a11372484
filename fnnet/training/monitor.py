"""What the host keeps of the epochs: ``History``, the per-epoch metrics, and
``EarlyStopping``, when to stop and which epoch was best."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fnnet.training.state import StoppingState, stopping_state


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; ``restore_best`` returns the parameters of the best epoch. ``mode`` "auto"
    maximises accuracies and minimises everything else."""

    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    mode: str = "auto"
    restore_best: bool = True

    def __post_init__(self):
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {self.mode!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {self.patience!r}")
        if not (isinstance(self.min_delta, (int, float)) and math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"EarlyStopping: min_delta must be a finite number >= 0, got {self.min_delta!r}")

    def sign(self) -> float:
        mode = self.mode if self.mode != "auto" else ("max" if "accuracy" in self.monitor else "min")
        return 1.0 if mode == "min" else -1.0

    def improves(self, record: dict, best: float | None) -> bool:
        """Whether ``record``'s monitored value beats ``best`` (a value of an earlier record,
        or None) by more than ``min_delta``."""
        if self.monitor not in record:
            raise ValueError(f"early stopping monitors {self.monitor!r}, which is not among the "
                             f"metrics {sorted(record)}")
        if best is None:
            return True
        return self.sign() * (record[self.monitor] - best) < -self.min_delta

    def start(self, params) -> StoppingState:
        """The progress before the first epoch."""
        return stopping_state(np.nan, 0, 0, params)

    def update(self, stopping: StoppingState, record: dict, params) -> StoppingState:
        """The progress after an epoch with metrics ``record`` that ended with ``params``."""
        best = None if int(stopping.best_epoch) == 0 else float(stopping.best)
        if self.improves(record, best):
            return stopping_state(float(record[self.monitor]), record["epoch"], 0, params)
        return stopping_state(stopping.best, stopping.best_epoch, int(stopping.wait) + 1, stopping.params)

    def should_stop(self, stopping: StoppingState) -> bool:
        """Whether ``patience`` epochs have passed without an improvement."""
        wait = int(stopping.wait)
        return wait > 0 and wait >= self.patience


class History(Sequence):
    """Per-epoch metrics: a read-only sequence of plain dicts (``history[-1]["loss"]``), kept
    as columns so that thousands of short epochs cost nothing until they are read;
    ``column("loss")`` gives one metric as a list."""

    def __init__(self, records=()):
        self._chunks: list[tuple[dict, int]] = []  # (columns, count)
        self._rows: list[dict] = []  # the first chunks, turned into dicts when read
        self._done = 0  # chunks already in _rows
        if records:
            self._append({k: [r[k] for r in records] for k in records[0]}, len(records))

    def _append(self, columns: dict, count: int) -> None:
        if count:
            self._chunks.append((columns, count))

    def _materialize(self) -> list[dict]:
        for columns, count in self._chunks[self._done:]:
            lists = {k: np.asarray(v)[:count].tolist() for k, v in columns.items()}
            self._rows += [dict(zip(lists, values)) for values in zip(*lists.values())]
        self._done = len(self._chunks)
        return self._rows

    def column(self, name: str) -> list:
        return [v for columns, count in self._chunks for v in np.asarray(columns[name])[:count].tolist()]

    def __len__(self) -> int:
        return sum(count for _, count in self._chunks)

    def __getitem__(self, i):
        return self._materialize()[i]

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (History, list)) else NotImplemented

    def __add__(self, other) -> list:
        return list(self) + list(other)

    def __repr__(self) -> str:
        return f"History({self._materialize()!r})"

    __hash__ = None  # mutable, compared by value

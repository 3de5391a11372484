"""Pictures (matplotlib, an optional extra, drawn off-screen with the Agg backend)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "fnnet[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(history: list[dict], path, title: str = ""):
    """Loss and accuracy per epoch, training and validation, as a PNG at ``path`` (a file
    name, returned, or a binary file object)."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = [h.get(prefix + metric) for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else path


def curves(series: dict[str, list[float]], path, *, xlabel: str, ylabel: str, title: str = "",
           logy: bool = False) -> str:
    """One line per named series, as a PNG at ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label, marker="o" if len(values) < 20 else None)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else path


def weight_images(w, path, shape=(8, 8), columns: int = 8, title: str = "") -> str:
    """The columns of a first-layer weight matrix ``w`` (in, units) drawn as ``shape``
    images, one per unit: what each hidden unit looks for in the input."""
    plt = _pyplot()
    w = np.asarray(w, np.float32)
    units = w.shape[1]
    rows = -(-units // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.2))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < units:
            img = w[:, i].reshape(shape)
            bound = np.abs(img).max() or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-bound, vmax=bound)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else path


def optional(draw, data, path, **kwargs):
    """``draw(data, path, **kwargs)`` (one of the pictures above) into a folder made if
    need be, printing where it went; without matplotlib, a note on stderr instead of an
    error. Returns the path, or None."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        drawn = draw(data, path, **kwargs)
    except ImportError as e:
        print(f"(no picture: {e})", file=sys.stderr)
        return None
    print(f"drawn to {drawn}")
    return drawn

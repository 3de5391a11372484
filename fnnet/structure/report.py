"""A search's outputs: the best configuration as ``fnnet train`` settings (a JSON file,
written atomically), the leaderboard as text, the best and mean fitness per generation
as a PNG (matplotlib, optional)."""

from __future__ import annotations

import os

from fnnet.structure.evolution import Entry, SearchResult

#: Data settings a search was run with that the best configuration keeps.
DATA_SETTINGS = ("data", "format", "label_column", "header", "shape", "val", "test", "seed")


def best_settings(entry: Entry, data_settings: dict, *, epochs: int, batch_size: int, pieces: int = 2,
                  grad: str = "autodiff", patience: int = 0) -> dict:
    """The settings of ``fnnet train`` that train ``entry``'s network as the search did:
    its genes, the search's data settings (``data_settings``: ``fnnet.runs.settings.with_defaults``
    of the data, e.g. from ``load_splits``), epochs, batch size and patience (0: no early
    stopping), maxout's pieces. Checked by ``fnnet.runs.settings.with_defaults``."""
    from fnnet.data import BUNDLED
    from fnnet.runs import settings

    given = {k: data_settings[k] for k in DATA_SETTINGS if k in data_settings}
    if given.get("data") in BUNDLED:  # file-only settings must stay unset there
        given = {k: v for k, v in given.items() if k not in ("format", "label_column", "header")}
    config = {**given, **entry.candidate.settings(), "epochs": epochs, "batch_size": batch_size, "patience": patience,
              "grad": grad}
    if entry.candidate.activation == "maxout":
        config["pieces"] = pieces
    settings.with_defaults(**config)  # a ValueError names a setting fnnet train would refuse
    return config


def write_best(path, config: dict) -> str:
    """``config`` as JSON at ``path``, atomically (the old file or the new, never half)."""
    from fnnet.runs import files

    files.write_json(path, config)
    return os.fspath(path)


def plot_fitness(result: SearchResult, path) -> str | None:
    """Best and mean validation accuracy per generation as a PNG at ``path``, written
    atomically; None (nothing written) without matplotlib."""
    from fnnet import plots
    from fnnet.storage import atomic

    series = {"best": [g.best for g in result.generations], "mean": [g.mean for g in result.generations]}
    try:  # an error inside the block discards the temporary file: nothing is written
        with atomic.open_for_replace(path, "wb") as f:
            plots.curves(series, f, xlabel="generation", ylabel="validation accuracy",
                         title="structure search: fitness per generation")
    except ImportError:
        return None
    return os.fspath(path)


#: How the report names each kind of structure.
KIND_NAMES = {"dense": "fully connected", "conv": "convolutional"}


def kind_line(result: SearchResult) -> str:
    """Which kind of structure won, and by how much over the best of the other kind."""
    names = KIND_NAMES
    best = result.best
    won = f"the winner is {names[best.candidate.kind]} ({best.val_accuracy:.2%} validation accuracy)"
    other = result.best_of("dense" if best.candidate.kind == "conv" else "conv")
    if other is None:
        return f"{won}; no {names['conv' if best.candidate.kind == 'dense' else 'dense']} candidate was trained"
    return (f"{won}, {100 * result.margin():.2f} points above the best {names[other.candidate.kind]} candidate "
            f"({other.val_accuracy:.2%}: {other.candidate.describe()})")


def leaderboard_lines(result: SearchResult, top: int = 10) -> list[str]:
    """The ``top`` entries as table lines: rank, network, parameters (unpadded),
    validation and test accuracy, training seconds (the entry's share of its group's)."""
    shown = result.leaderboard[:top]
    width = max([len("network")] + [len(e.candidate.describe()) for e in shown]) + 1  # never cut a value short
    lines = [f"{'#':>3}  {'network':<{width}}{'params':>9}{'val':>8}{'test':>8}{'train s':>9}"]
    for i, e in enumerate(shown, 1):
        test = "-" if e.test_accuracy is None else f"{e.test_accuracy:.2%}"
        lines.append(f"{i:>3}  {e.candidate.describe():<{width}}{e.params:>9,}{e.val_accuracy:>8.2%}{test:>8}"
                     f"{e.seconds:>9.2f}" + ("  (diverged)" if e.diverged else ""))
    return lines

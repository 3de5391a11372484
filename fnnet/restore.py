"""A saved run read back: its configuration checked field by field and against the
checkpoint's copy, its network rebuilt from the configuration, its state loaded, its
data verified; then evaluation and prediction with its best parameters."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fnnet import loaders, run_files, runs
from fnnet.prepare import build, data_digest, load_dataset, prepare, stopper, template
from fnnet.settings import SETTINGS, positive_int


def check_config(config: dict, where) -> tuple:
    """``(net, loss, optimizer)`` of a stored run configuration, every field checked; a
    RunError names the file and the field."""
    from fnnet import Network, data

    def fail(field, problem):
        raise runs.RunError(f"{where}: {field}: {problem}")

    for name, check in SETTINGS.items():
        if name not in config:
            fail(name, "missing")
        try:
            check(config[name])
        except ValueError as e:
            fail(name, e)
    try:
        positive_int(config.get("in_features"))
    except ValueError as e:
        fail("in_features", e)
    classes = config.get("classes")
    if not (isinstance(classes, list) and len(classes) >= 2 and len(set(map(repr, classes))) == len(classes)
            and all(isinstance(c, (int, float, str)) and not isinstance(c, bool) for c in classes)):
        fail("classes", f"expected a list of at least two distinct labels, got {classes!r}")
    try:
        std = data.Standardizer.from_dict(config.get("standardizer"))
    except (ValueError, TypeError, KeyError) as e:
        fail("standardizer", f"expected {{'mean': [...], 'std': [...]}} ({e})")
    if std.mean.shape != (config["in_features"],):
        fail("standardizer", f"expected {config['in_features']} means and stds, got {std.mean.shape[0]}")
    if not isinstance(config.get("data_sha256"), str):
        fail("data_sha256", "missing")
    net, loss, optimizer = build(config)
    try:
        stored = Network.from_config(config.get("network"))
    except (ValueError, TypeError) as e:
        fail("network", e)
    if stored != net:
        fail("network", "does not match the run's settings (hidden, activation, dropout, loss, classes)")
    return stored, loss, optimizer


@dataclass
class Restored:
    """A run read back: its configuration, (net, loss, optimizer) and training state;
    ``params`` are the ones to use (early stopping's best epoch's, else the last)."""

    config: dict
    net: Any
    loss: Any
    optimizer: Any
    state: Any

    @property
    def params(self):
        stopping = self.state.stopping
        return stopping.params if stopping is not None and int(stopping.best_epoch) else self.state.params


def restore(run_dir) -> Restored:
    """Read a run back, checking that ``config.json`` agrees with the checkpoint's copy."""
    import jax

    from fnnet import checkpoint

    run_dir = Path(run_dir)
    config = run_files.read_config(run_dir)
    stored = checkpoint.read_config(run_dir / runs.CHECKPOINT)
    if stored != config:
        fields = sorted(k for k in set(config) | set(stored or {}) if (stored or {}).get(k) != config.get(k))
        raise runs.RunError(f"{run_dir / runs.CONFIG} does not match the configuration saved in "
                            f"{run_dir / runs.CHECKPOINT} (they differ in {', '.join(fields[:5])}); "
                            "one of them was edited")
    net, loss, optimizer = check_config(config, run_dir / runs.CONFIG)
    initial = template(net, optimizer, config, stopper(config, config["val"] > 0))
    state, _ = checkpoint.load(run_dir / runs.CHECKPOINT, initial)
    params = (state.params, None if state.stopping is None else state.stopping.params)
    if not all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(params)):
        # fnnet never saves a diverged state; a NaN weight would predict class 0 for everything.
        raise checkpoint.CheckpointError(f"{run_dir / runs.CHECKPOINT} holds non-finite parameters")
    return Restored(config, net, loss, optimizer, state)


def run_data(restored: Restored):
    """The run's own splits, after checking that its data are the ones it was trained on."""
    config = restored.config
    x, y = load_dataset(config)
    if data_digest(x, y) != config["data_sha256"]:
        raise loaders.DataError(f"{config['data']}: the data changed since the run was trained "
                                "(its SHA-256 differs); the run's splits cannot be rebuilt")
    return prepare(config, x, y)[0]


def evaluate(run_dir, data=None, *, format=None, label_column=-1, header=None) -> dict:
    """``{name: {"loss", "accuracy", "examples"}}`` of a run's best parameters, on its own
    splits or on the data file ``data``."""
    from fnnet.step import evaluate as evaluate_split

    restored = restore(run_dir)
    config = restored.config
    if data is None:
        sets = {k: v for k, v in run_data(restored).items() if v is not None}
    else:
        x, y = loaders.load(data, format=format, label_column=label_column, header=header)
        sets = {str(data): prepare({**config, "val": 0.0, "test": 0.0}, x, y, source=str(data))[0]["train"]}
    return {name: {**evaluate_split(restored.net, restored.loss, restored.params, *s), "examples": len(s[0])}
            for name, s in sets.items()}


def check_output(out, *inputs) -> None:
    """Refuse an output file that is one of the ``inputs`` or lies in a run directory
    (whose files are fnnet's own): a ValueError naming it."""
    out = Path(out)
    for source in inputs:
        if out.exists() and Path(source).exists() and os.path.samefile(out, source):
            raise ValueError(f"--out {out} is the input file {source}; choose another name")
    parent = out.resolve().parent
    if runs.is_run(parent):
        raise ValueError(f"--out {out} is inside the run directory {parent}, whose files are fnnet's own; "
                         "choose another place")


def predict(run_dir, features, *, format=None, header=None):
    """``(classes, probabilities)`` for the rows of a feature file: the predicted label
    (n,) in the run's own labels and its probability (n,)."""
    import jax

    from fnnet import data

    restored = restore(run_dir)
    config = restored.config
    x = loaders.load_features(features, config["in_features"], format=format, header=header)
    x = data.Standardizer.from_dict(config["standardizer"]).apply(x)
    y = restored.net.apply(restored.params, x)
    probs = np.asarray(jax.nn.softmax(y, axis=-1) if config["loss"] == "cross_entropy" else y)
    return np.asarray(config["classes"])[np.argmax(probs, axis=-1)], np.max(probs, axis=-1)

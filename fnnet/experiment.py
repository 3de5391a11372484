"""The run pipeline behind the ``fnnet`` command, callable from a script too:
settings -> load -> prepare (labels, split, standardize) -> build -> fit with a
checkpoint after every epoch -> report; and restoring a run to resume, evaluate or
predict.

Everything is validated before anything touches the disk: the settings, the data, the
split sizes, the network. A run directory is written under a lock and, when it
replaces an old run, beside it until the new run has its first checkpoint. The run's
configuration lives in its checkpoint (covered by the checkpoint's SHA-256);
``config.json`` is a readable copy that must agree with it.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fnnet import loaders, runs

BUNDLED = ("digits", "xor")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "maxout")
LOSSES = ("cross_entropy", "squared_error")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")  # fnnet.optim.OPTIMIZERS, without importing jax
ADAGRAD_FORMS = ("notes", "optax")
GRADS = ("autodiff", "backprop")


# ---------------------------------------------------------------- settings


_FLOAT32_MAX, _FLOAT32_TINY = float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny)


def _real(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    # Training runs in float32: a number it rounds to inf (or a rate it rounds to 0,
    # below) would make training silently wrong.
    if abs(value) > _FLOAT32_MAX:
        raise ValueError(f"expected a number float32 can hold (at most {_FLOAT32_MAX:.1e}), got {value!r}")
    return value


def positive_number(value):
    if _real(value) <= 0:
        raise ValueError(f"expected a number > 0, got {value!r}")
    if value < _FLOAT32_TINY:
        raise ValueError(f"expected a number > 0 that float32 can hold (at least {_FLOAT32_TINY:.1e}), got {value!r}")
    return value


def non_negative_number(value):
    if _real(value) < 0:
        raise ValueError(f"expected a number >= 0, got {value!r}")
    return value


def fraction(value):
    if not 0 <= _real(value) < 1:
        raise ValueError(f"expected a number in [0, 1), got {value!r}")
    return value


def positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected an integer >= 1, got {value!r}")
    return value


def non_negative_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected an integer >= 0, got {value!r}")
    return value


def _seed(value):
    if non_negative_int(value) >= 2**63:
        raise ValueError(f"expected an integer in [0, 2**63), got {value!r}")
    return value


def _choice(options):
    def check(value):
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value
    return check


def _optional(check):
    return lambda value: None if value is None else check(value)


def _widths(value):
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a list of layer widths, got {value!r}")
    return [positive_int(v) for v in value]


def _label_column(value):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a column index or name, got {value!r}")
    return value


def _data(value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected {' or '.join(BUNDLED)} or a file name, got {value!r}")
    return value


#: Each setting of a run (the command's options) and what it must be.
SETTINGS: dict[str, Callable] = {
    "data": _data, "format": _optional(_choice(loaders.FORMATS)), "label_column": _label_column,
    "header": _optional(_choice((True, False))), "hidden": _widths,
    "activation": _choice(ACTIVATIONS), "pieces": positive_int, "dropout": fraction,
    "loss": _choice(LOSSES), "optimizer": _choice(OPTIMIZERS), "lr": positive_number,
    "momentum": fraction, "adagrad_form": _choice(ADAGRAD_FORMS), "l1": non_negative_number,
    "l2": non_negative_number, "clip": _optional(positive_number), "epochs": positive_int,
    "batch_size": positive_int, "patience": non_negative_int, "min_delta": non_negative_number,
    "val": fraction, "test": fraction, "seed": _seed, "grad": _choice(GRADS),
}

DEFAULTS = dict(data="digits", format=None, label_column=-1, header=None, hidden=[256],
                activation="relu", pieces=2, dropout=0.2, loss="cross_entropy", optimizer="adam",
                lr=1e-3, momentum=0.9, adagrad_form="notes", l1=0.0, l2=0.0, clip=None, epochs=60,
                batch_size=32, patience=10, min_delta=0.0, val=0.15, test=0.2, seed=0, grad="autodiff")

#: Data sets too small for the defaults get their own: the notes' XOR network (2-5
#: sigmoid, here with two softmax outputs) trains on all four examples and is reported
#: on them (100% for each of seeds 0..9).
DATA_DEFAULTS = {"xor": dict(hidden=[5], activation="sigmoid", dropout=0.0, optimizer="adam", lr=0.05,
                             epochs=300, batch_size=4, patience=0, val=0.0, test=0.0)}


def settings(**given) -> dict:
    """A run's settings: ``given`` over the data set's own defaults over ``DEFAULTS``,
    each checked (a ValueError names the option, what it expected and what came)."""
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; expected some of {sorted(SETTINGS)}")
    data = given.get("data") or DEFAULTS["data"]
    merged = {**DEFAULTS, **DATA_DEFAULTS.get(data, {}), **{k: v for k, v in given.items() if v is not None}}
    for name, check in SETTINGS.items():
        try:
            merged[name] = check(merged[name])
        except ValueError as e:
            raise ValueError(f"{option(name)}: {e}") from None
    if merged["val"] + merged["test"] >= 1:
        raise ValueError(f"--val {merged['val']} and --test {merged['test']} leave nothing to train on; "
                         "expected a sum below 1")
    if data in BUNDLED:
        file_only = [option(k) for k in ("format", "header", "label_column") if merged[k] != DEFAULTS[k]]
        if file_only:
            raise ValueError(f"{', '.join(file_only)} apply to data files, not to the bundled {data}")
    elif "://" not in data:
        # Where the data were, whatever directory the run is resumed or evaluated from.
        merged["data"] = os.path.abspath(data)
    return merged


def option(name: str) -> str:
    """The command-line spelling of a setting: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


# ---------------------------------------------------------------- data


def load_dataset(config: dict):
    """(x, y) raw, from the run's data source: a bundled data set or a file."""
    from fnnet import data

    source = config["data"]
    if source in BUNDLED:
        return getattr(data, source)()
    return loaders.load(source, format=config.get("format"), label_column=config.get("label_column", -1),
                        header=config.get("header"))


def data_digest(x, y) -> str:
    """SHA-256 of a data set as loaded, so a run notices when its data file changed."""
    h = hashlib.sha256()
    for a in (np.ascontiguousarray(x), np.ascontiguousarray(y)):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _class_labels(y, source: str):
    y = np.asarray(y)
    if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1 and not np.issubdtype(y.dtype, np.integer)):
        raise loaders.DataError(f"{source}: expected one class label per example (shape (n,)), found labels of "
                                f"shape {y.shape}; store one-hot targets as class indices")
    y = y.reshape(-1)
    if np.issubdtype(y.dtype, np.integer):
        return y
    if not np.all(np.equal(np.mod(y, 1), 0)):
        raise loaders.DataError(f"{source}: expected class labels (integers), found {y.dtype} values such as "
                                f"{y[np.mod(y, 1) != 0][:3].tolist()}")
    if np.all(np.abs(y) <= 2**31 - 1):
        return y.astype(np.int64)
    raise loaders.DataError(f"{source}: expected class labels that fit in int32, found values such as "
                            f"{y[np.abs(y) > 2**31 - 1][:3].tolist()}")


def prepare(config: dict, x, y, *, source: str | None = None):
    """Encode labels, split, standardize (statistics of the training split only). Returns
    ``(splits, classes, standardizer)``, splits {"train", "val", "test"} of (x, codes)
    or None. With the run's "classes" and "standardizer" in ``config``, uses those."""
    from fnnet import data

    source = source or config["data"]
    y = _class_labels(y, source)
    if "in_features" in config and x.shape[1] != config["in_features"]:
        raise loaders.DataError(f"{source}: expected {config['in_features']} features per example (as the run "
                                f"was trained on), found {x.shape[1]}")
    if "classes" in config:
        classes = np.asarray(config["classes"])
        index = {c: i for i, c in enumerate(classes.tolist())}
        unknown = sorted(set(y.tolist()) - set(index))
        if unknown:
            raise loaders.DataError(f"{source}: labels {unknown[:5]} were not among the run's classes "
                                    f"{classes.tolist()}")
        codes = np.array([index[v] for v in y.tolist()], np.int32)
    else:
        codes, classes = data.encode_labels(y)
        if len(classes) < 2:
            raise loaders.DataError(f"{source}: every label is {classes.tolist()[0]!r}; a classifier needs "
                                    "at least two classes")
    train, val, test = data.train_val_test_split(x, codes, val=config["val"], test=config["test"],
                                                  seed=config["seed"])
    std = (data.Standardizer.from_dict(config["standardizer"]) if "standardizer" in config
           else data.Standardizer.fit(train[0]))
    splits = {"train": train, "val": val, "test": test}
    return {k: None if v is None else (std.apply(v[0]), v[1]) for k, v in splits.items()}, classes, std


# ---------------------------------------------------------------- network, loss, optimizer


def build(config: dict):
    """``(net, loss, optimizer)`` from a run's settings (``classes`` known)."""
    from fnnet import Dense, Dropout, Maxout, Network, losses, optim

    layers = []
    for width in config["hidden"]:
        if config["activation"] == "maxout":
            layers.append(Maxout(width, config["pieces"]))
        else:
            layers.append(Dense(width, config["activation"]))
        if config["dropout"] > 0:
            layers.append(Dropout(config["dropout"]))
    if config["loss"] == "cross_entropy":
        layers.append(Dense(len(config["classes"]), "identity"))
        loss = losses.cross_entropy(from_logits=True)
    else:  # the notes' squared error on softmax outputs
        layers.append(Dense(len(config["classes"]), "softmax"))
        loss = losses.squared_error("mean")
    net = Network(config["in_features"], tuple(layers))
    return net, loss, _optimizer(config)


def _optimizer(config: dict):
    from fnnet import optim

    form = "seed" if config["adagrad_form"] == "notes" else config["adagrad_form"]
    return optim.optimizer(config["optimizer"], config["lr"], momentum=config["momentum"], adagrad_form=form,
                           l1=config["l1"], l2=config["l2"], clip=config["clip"])


def _stopper(config: dict, has_val: bool):
    from fnnet import train

    if not config["patience"]:
        return None
    return train.EarlyStopping(monitor="val_loss" if has_val else "loss", patience=config["patience"],
                               min_delta=config["min_delta"])


def _template(net, optimizer, config, stopper):
    """A fresh TrainState of the run (its initial state, and the shape of its checkpoints)."""
    import jax

    from fnnet import train

    key = jax.random.key(config["seed"])
    state = train.init_state(net.init(jax.random.fold_in(key, 0)), optimizer, jax.random.fold_in(key, 1))
    return state if stopper is None else state._replace(stopping=stopper.start(state.params))


# ---------------------------------------------------------------- a run's configuration


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
    config = runs.read_config(run_dir)
    stored = checkpoint.read_config(run_dir / runs.CHECKPOINT)
    if stored != config:
        fields = sorted(k for k in set(config) | set(stored or {}) if (stored or {}).get(k) != config.get(k))
        raise runs.RunError(f"{run_dir / runs.CONFIG} does not match the configuration saved in "
                            f"{run_dir / runs.CHECKPOINT} (they differ in {', '.join(fields[:5])}); "
                            "one of them was edited")
    net, loss, optimizer = check_config(config, run_dir / runs.CONFIG)
    template = _template(net, optimizer, config, _stopper(config, config["val"] > 0))
    state, _ = checkpoint.load(run_dir / runs.CHECKPOINT, template)
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


# ---------------------------------------------------------------- training


@dataclass
class Outcome:
    """What a train or resume did: where, the summary it wrote (metrics per split, epochs
    done, best epoch, whether early stopping ended it), the notes' diagnosis, the
    learning curve's file, and the files of a run it replaced."""

    run_dir: Path
    summary: dict
    diagnosis: Any
    curve: str | None = None
    replaced: tuple = ()


@dataclass
class Plan:
    """A validated new run, nothing written yet: its configuration, built pieces, data."""

    config: dict
    net: Any
    loss: Any
    optimizer: Any
    splits: dict


def plan(given: dict) -> Plan:
    """Check the settings and the data and build everything a new run needs; a ValueError
    (or an OSError for a file) names what is wrong. Touches no file."""
    from fnnet import __version__

    config = settings(**given)
    x, y = load_dataset(config)
    splits, classes, std = prepare(config, x, y)
    config.update(in_features=int(splits["train"][0].shape[1]), classes=classes.tolist(),
                  standardizer=std.to_dict(), data_sha256=data_digest(x, y),
                  run_format_version=runs.RUN_FORMAT_VERSION, fnnet_version=__version__)
    n_train = len(splits["train"][0])
    if config["batch_size"] > n_train:
        raise ValueError(f"--batch-size {config['batch_size']} is larger than the {n_train} training examples "
                         f"(--val {config['val']} and --test {config['test']} of {len(x)})")
    net, loss, optimizer = build(config)
    config["network"] = net.to_config()
    return Plan(config, net, loss, optimizer, splits)


def _run_name(config: dict) -> str:
    return config["data"] if config["data"] in BUNDLED else Path(config["data"]).stem


def train(the_plan: Plan, *, out=None, overwrite: bool = False, base="runs",
          on_epoch: Callable | None = None, plot: bool = True) -> Outcome:
    """Create the run directory (or stage the replacement of ``out``), train with a
    checkpoint after every epoch, then report. ``on_epoch(record)`` sees each epoch."""
    config = the_plan.config
    with runs.create(out, name=_run_name(config), base=base, overwrite=overwrite) as run:
        try:
            runs.write_json(run.path / runs.CONFIG, config)
            stopper = _stopper(config, the_plan.splits["val"] is not None)
            state = _template(the_plan.net, the_plan.optimizer, config, stopper)
            result = _fit(run, the_plan, state, config["epochs"], stopper, on_epoch)
        except OSError as e:
            if run.committed or e.errno is None:
                raise
            # Name the run the user asked for, not the directory it was staged in.
            kept = "; the old run is unchanged" if run.path != run.target else ""
            where = run.target / Path(e.filename).name if e.filename else run.target
            raise type(e)(e.errno, f"{e.strerror} (nothing was saved{kept})", os.fspath(where)) from None
        except Interrupted as e:
            if run.path != run.target and not run.committed:
                raise Interrupted(f"{str(e)[:-1]}; the old run in {run.target} is unchanged)") from None
            raise
        replaced = tuple(run.replaced)
        outcome = _report_saved(run, the_plan, result, plot)
    outcome.run_dir = run.target
    outcome.replaced = replaced
    return outcome


def resume(run_dir, epochs: int, *, on_epoch: Callable | None = None, plot: bool = True) -> Outcome | None:
    """Train a run ``epochs`` more epochs from its checkpoint, exactly as if it had never
    stopped: its history is cut back to the checkpoint's epoch (a kill can leave one
    line too many), and early stopping goes on where it was. None if early stopping
    had already ended it."""
    positive_int(epochs)
    with runs.open_run(run_dir) as run:
        restored = restore(run.path)
        stopper = _stopper(restored.config, restored.config["val"] > 0)
        if stopper is not None and stopper.should_stop(restored.state.stopping):
            return None
        the_plan = Plan(restored.config, restored.net, restored.loss, restored.optimizer, run_data(restored))
        runs.truncate_history(run.path, int(restored.state.epoch))
        runs.remove_results(run.path)  # they describe the old end; a killed resume must not keep them
        result = _fit(run, the_plan, restored.state, epochs, stopper, on_epoch)
        return _report_saved(run, the_plan, result, plot)


class Diverged(ValueError):
    """Training diverged; the message says what was kept."""


class Interrupted(KeyboardInterrupt):
    """Training was interrupted; the message says what was kept."""


def _noted(e: OSError, note: str) -> OSError:
    return e if e.errno is None else type(e)(e.errno, f"{e.strerror} ({note})", e.filename)


def _report_saved(run: runs.Run, the_plan: Plan, result, plot: bool) -> Outcome:
    try:
        return report(run.path, the_plan, result, plot=plot)
    except OSError as e:
        raise _noted(e, f"the training is done: the checkpoint of epoch {int(result.state.epoch)} is "
                        "saved") from None


def _fit(run: runs.Run, the_plan: Plan, state, epochs: int, stopper, on_epoch):
    from fnnet import checkpoint, train

    config = the_plan.config
    saved = [int(state.epoch) or None]  # the epoch of the checkpoint on disk

    def after_epoch(record, state):
        runs.append_history(run.path, record)
        checkpoint.save(run.path / runs.CHECKPOINT, state, config)
        saved[0] = record["epoch"]
        run.commit()  # a replaced run goes only now, once the new one has a checkpoint
        if on_epoch is not None:
            on_epoch(record)

    try:
        return train.fit(the_plan.net, the_plan.loss, the_plan.optimizer, state, the_plan.splits["train"],
                         epochs=epochs, batch_size=config["batch_size"],
                         validation_data=the_plan.splits["val"], grad=config["grad"],
                         early_stopping=stopper, callback=after_epoch)
    except OSError as e:
        if saved[0] is None:
            raise
        raise _noted(e, f"the checkpoint of epoch {saved[0]} is intact: fnnet resume goes on from it") from None
    except KeyboardInterrupt:
        if saved[0] is None:
            raise Interrupted("before the first epoch ended (nothing was saved)") from None
        raise Interrupted(f"(the checkpoint of epoch {saved[0]} in {run.target} is intact: fnnet resume "
                          f"{run.target} goes on from it)") from None
    except train.DivergenceError as e:
        if not run.committed:
            raise Diverged(f"{e.args[0].split('; ')[0]}, in the first epoch: nothing was saved; "
                           "try a smaller --lr or --clip") from None
        raise Diverged(f"{e.args[0].split('; ')[0]}; the last finite state (epoch {e.epoch - 1}) is in "
                       f"{run.target / runs.CHECKPOINT}; try a smaller --lr or --clip") from None


def report(run_dir: Path, the_plan: Plan, result, *, plot: bool = True) -> Outcome:
    """Evaluate on train/validation/test, diagnose with the notes' recipe, write the
    summary and the learning curve."""
    from fnnet import atomic, diagnostics, train

    net, loss, splits = the_plan.net, the_plan.loss, the_plan.splits
    params = result.params
    table = {name: train.evaluate(net, loss, params, *split) for name, split in splits.items() if split is not None}
    x_train, t_train = splits["train"]
    sample = slice(0, min(len(x_train), 1024))
    norms = diagnostics.gradient_norms(net, loss, params, x_train[sample], t_train[sample])
    dead = diagnostics.dead_units(net, params, x_train[sample])
    diagnosis = diagnostics.diagnose(table["train"]["accuracy"], table.get("val", {}).get("accuracy"),
                                     grad_norms=norms, dead=dead)
    summary = {"metrics": table, "epochs_done": int(result.state.epoch), "best_epoch": result.best_epoch,
               "stopped_early": bool(result.stopped_early), "gradient_norms": norms, "dead_relu_fraction": dead,
               "diagnosis": {"verdict": diagnosis.verdict, "advice": list(diagnosis.advice)},
               "examples": {name: len(split[0]) for name, split in splits.items() if split is not None}}
    runs.write_json(run_dir / runs.SUMMARY, summary)
    curve = None
    history = runs.read_history(run_dir)
    if plot and history:
        try:
            from fnnet import plots

            with atomic.open_for_replace(run_dir / runs.CURVE, "wb") as f:
                plots.learning_curves(history, f, title=str(run_dir))
            curve = str(run_dir / runs.CURVE)
        except ImportError:
            curve = None
    return Outcome(run_dir, summary, diagnosis, curve)


# ---------------------------------------------------------------- evaluate, predict


def evaluate(run_dir, data=None, *, format=None, label_column=-1, header=None) -> dict:
    """``{name: {"loss", "accuracy", "examples"}}`` of a run's best parameters, on its own
    splits or on the data file ``data``."""
    from fnnet import train

    restored = restore(run_dir)
    config = restored.config
    if data is None:
        sets = {k: v for k, v in run_data(restored).items() if v is not None}
    else:
        x, y = loaders.load(data, format=format, label_column=label_column, header=header)
        sets = {str(data): prepare({**config, "val": 0.0, "test": 0.0}, x, y, source=str(data))[0]["train"]}
    return {name: {**train.evaluate(restored.net, restored.loss, restored.params, *s), "examples": len(s[0])}
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

"""The run pipeline behind the ``fnnet`` command, callable from a script too: a plan
(settings and data checked, everything built, nothing written), then a run directory
trained with a checkpoint after every epoch and reported; or a saved run resumed; and a
saved run read back (its configuration checked field by field and against the
checkpoint's copy, its data verified), evaluated and predicted with.

A run directory is written under a lock and, when it replaces an old run, beside it
until the new run has its first checkpoint. The run's configuration lives in its
checkpoint (covered by the checkpoint's SHA-256); ``config.json`` is a readable copy
that must agree with it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fnnet import loaders
from fnnet.data import BUNDLED
from fnnet.runs import directories, files
from fnnet.runs.preparation import (build, check_blocks, data_digest, example_shape, is_bundled, load_dataset,
                                    no_file_options, prepare_splits, shaped, stopper, template)
from fnnet.runs.settings import SETTINGS, option, positive_int, with_defaults


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
class RunPlan:
    """A validated new run, nothing written yet: its configuration, built pieces, data."""

    config: dict
    net: Any
    loss: Any
    optimizer: Any
    splits: dict


def settings_file(path) -> dict:
    """The settings in a JSON object file (``fnnet train --config``; ``fnnet search``
    writes its best so), each checked: a ValueError names the file and the setting."""
    try:
        given = files.read_json(path)
    except directories.RunError as e:
        raise ValueError(str(e)) from None
    if "run_format_version" in given:
        raise ValueError(f"{path} is a run's record (its config.json), not a settings file; resume that run "
                         "with fnnet resume, or give a file of settings such as {\"hidden\": [64], \"lr\": 0.01}")
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ValueError(f"{path}: unknown settings {unknown}; expected some of {sorted(SETTINGS)}")
    for name, value in given.items():
        try:
            SETTINGS[name](value)
        except ValueError as e:
            raise ValueError(f"{path}: {name} ({option(name)}): {e}") from None
    data = given.get("data")
    if isinstance(data, str) and data not in BUNDLED and "://" not in data and not os.path.isabs(data):
        given["data"] = os.path.join(os.path.dirname(os.fspath(path)), data)  # beside the file, wherever run from
    return given


def plan_run(given: dict) -> RunPlan:
    """Check the settings and the data and build everything a new run needs; a ValueError
    (or an OSError for a file) names what is wrong. Touches no file."""
    from fnnet.version import __version__

    config = with_defaults(**given)
    x, y = load_dataset(config)
    in_shape = example_shape(config, x)
    check_blocks(config, in_shape)
    config["in_shape"] = list(in_shape)
    splits, classes, std = prepare_splits(config, x, y)
    config.update(in_features=int(np.prod(in_shape)), classes=classes.tolist(),
                  standardizer=std.to_dict(), data_sha256=data_digest(x, y),
                  run_format_version=directories.RUN_FORMAT_VERSION, fnnet_version=__version__)
    n_train = len(splits["train"][0])
    if config["batch_size"] > n_train:
        raise ValueError(f"--batch-size {config['batch_size']} is larger than the {n_train} training examples "
                         f"(--val {config['val']} and --test {config['test']} of {len(x)})")
    try:
        net, loss, optimizer = build(config)
    except ValueError as e:  # a block that does not fit the examples: name the options
        raise ValueError(f"--conv {' '.join(map(str, config['conv']))} on examples of shape {in_shape}: "
                         f"{e}") from None
    config["network"] = net.to_config()
    return RunPlan(config, net, loss, optimizer, splits)


def check_memory(the_plan: RunPlan, members: int = 1) -> None:
    """Refuse, before anything is written, a run estimated to need more memory than the
    device has (``fnnet.memory``: parameters, optimizer state, data, a batch's and an
    evaluation chunk's activations, for every member); warn of one that barely fits."""
    from fnnet import memory

    config, splits = the_plan.config, the_plan.splits
    held_out = sum(len(split[0]) for name, split in splits.items() if name != "train" and split is not None)
    estimate = memory.training(the_plan.net, the_plan.optimizer, "float32", examples=len(splits["train"][0]),
                               batch_size=config["batch_size"], eval_examples=held_out, members=members,
                               early_stopping=bool(config["patience"]))
    blocks = "--hidden" + (" or --conv" if config.get("conv") else "")
    memory.check(estimate, what=f"training {f'{members} members' if members > 1 else 'this network'}",
                 shrink=f"try a smaller {blocks}" + (", fewer --members" if members > 1 else "")
                 + " or --batch-size")


def run_name(config: dict) -> str:
    """The name of a run's directory: the bundled data set's, or the data file's stem."""
    return config["data"] if config["data"] in BUNDLED else Path(config["data"]).stem


def train_run(the_plan: RunPlan, *, out=None, overwrite: bool = False, base="runs",
              on_epoch: Callable | None = None, plot: bool = True) -> Outcome:
    """Create the run directory (or stage the replacement of ``out``), train with a
    checkpoint after every epoch, then report. ``on_epoch(record)`` sees each epoch."""
    config = the_plan.config
    with directories.create(out, name=run_name(config), base=base, overwrite=overwrite) as run:
        with until_saved(run):
            files.write_json(run.path / directories.CONFIG, config)
            early_stopping = stopper(config, the_plan.splits["val"] is not None)
            state = template(the_plan.net, the_plan.optimizer, config, early_stopping)
            result = _fit(run, the_plan, state, config["epochs"], early_stopping, on_epoch)
        replaced = tuple(run.replaced)
        outcome = report_saved(run, the_plan, result, plot)
    outcome.run_dir = run.target
    outcome.replaced = replaced
    return outcome


@contextlib.contextmanager
def until_saved(run: directories.Run):
    """Around a new run's work before its first checkpoint: an OSError or an Interrupted
    says that nothing was saved (and that a replaced old run is unchanged), naming the
    run the user asked for, not the directory it was staged in."""
    try:
        yield
    except OSError as e:
        if run.committed or e.errno is None:
            raise
        kept = "; the old run is unchanged" if run.path != run.target else ""
        where = run.target / Path(e.filename).name if e.filename else run.target
        raise type(e)(e.errno, f"{e.strerror} (nothing was saved{kept})", os.fspath(where)) from None
    except Interrupted as e:
        if run.path != run.target and not run.committed:
            raise Interrupted(f"{str(e)[:-1]}; the old run in {run.target} is unchanged)") from None
        raise


def resume_run(run_dir, epochs: int, *, on_epoch: Callable | None = None, plot: bool = True) -> Outcome | None:
    """Train a run ``epochs`` more epochs from its checkpoint, exactly as if it had never
    stopped: its history is cut back to the checkpoint's epoch (a kill can leave one
    line too many), and early stopping goes on where it was. None if early stopping
    had already ended it."""
    positive_int(epochs)
    with directories.open_run(run_dir) as run:
        restored = restore_run(run.path)
        # A summary of an older checkpoint (a resume killed between its first checkpoint and
        # removing it) goes now; one of this checkpoint stays until a newer one is saved.
        files.remove_stale_results(run.path, int(restored.state.epoch))
        early_stopping = stopper(restored.config, restored.config["val"] > 0)
        if early_stopping is not None and early_stopping.should_stop(restored.state.stopping):
            return None
        the_plan = RunPlan(restored.config, restored.net, restored.loss, restored.optimizer, run_data(restored))
        files.truncate_history(run.path, int(restored.state.epoch))
        result = _fit(run, the_plan, restored.state, epochs, early_stopping, on_epoch)
        return report_saved(run, the_plan, result, plot)


class Diverged(ValueError):
    """Training diverged; the message says what was kept."""


class Interrupted(KeyboardInterrupt):
    """Training was interrupted; the message says what was kept."""


def out_of_memory(e: BaseException, note: str = "") -> MemoryError | None:
    """A MemoryError saying what the device could not allocate (and ``note``), for JAX's
    RESOURCE_EXHAUSTED runtime error; None for any other exception."""
    text = str(e)
    if not (isinstance(e, RuntimeError) and type(e).__name__ in ("JaxRuntimeError", "XlaRuntimeError")
            and "RESOURCE_EXHAUSTED" in text):
        return None
    detail = text.split("\n")[0].replace("RESOURCE_EXHAUSTED:", "").strip().rstrip(".")
    detail = re.sub(r"^out of memory\s*", "", detail, flags=re.IGNORECASE) or "on the device"
    return MemoryError(f"{detail}; {note + '; ' if note else ''}try a smaller network or --batch-size")


def _noted(e: OSError, note: str) -> OSError:
    return e if e.errno is None else type(e)(e.errno, f"{e.strerror} ({note})", e.filename)


def report_saved(run: directories.Run, the_plan: RunPlan, result, plot: bool) -> Outcome:
    """``report_run`` of a run whose training is saved: an OSError says that its checkpoint is."""
    note = f"the training is done: the checkpoint of epoch {int(result.state.epoch)} is saved"
    try:
        return report_run(run.path, the_plan, result, plot=plot)
    except OSError as e:
        raise _noted(e, note) from None
    except RuntimeError as e:
        memory = out_of_memory(e, note)
        if memory is None:
            raise
        raise memory from None


def _fit(run: directories.Run, the_plan: RunPlan, state, epochs: int, early_stopping, on_epoch):
    from fnnet.storage import atomic, checkpoint
    from fnnet.training.loop import DivergenceError, fit

    config = the_plan.config
    start = int(state.epoch) or None
    saved = [start]  # the epoch of the checkpoint on disk
    results = [True]  # a summary and curve may describe the checkpoint of epoch `start`

    def after_epoch(record, state):
        # One step for a signal (``atomic.WRITING``): the checkpoint, the epoch it says is
        # saved and the run it commits are never told apart by a Ctrl-C between them.
        with atomic.WRITING:
            path = run.path / directories.CHECKPOINT
            size, before = files.history_size(run.path), _identity(path)
            try:
                files.append_history(run.path, record)
                checkpoint.save(path, state, config)
            except OSError:
                if _identity(path) == before:  # not replaced: the run stays as it was, its history too
                    with contextlib.suppress(OSError):
                        files.cut_history(run.path, size)
                raise
            saved[0] = record["epoch"]
            run.commit()  # a replaced run goes only now, once the new one has a checkpoint
            if results[0]:  # the summary and curve of the older checkpoint go only now, too
                files.remove_results(run.path)
                results[0] = False
        if on_epoch is not None:
            on_epoch(record)

    try:
        return fit(the_plan.net, the_plan.loss, the_plan.optimizer, state, the_plan.splits["train"],
                   epochs=epochs, batch_size=config["batch_size"], validation_data=the_plan.splits["val"],
                   grad=config["grad"], early_stopping=early_stopping, callback=after_epoch)
    except OSError as e:
        if saved[0] is None:
            raise
        raise _noted(e, f"the checkpoint of epoch {saved[0]} is intact: fnnet resume goes on from it") from None
    except KeyboardInterrupt:
        if saved[0] is None:
            raise Interrupted("before the first epoch ended (nothing was saved)") from None
        raise Interrupted(f"(the checkpoint of epoch {saved[0]} in {run.target} is intact: fnnet resume "
                          f"{run.target} goes on from it)") from None
    except DivergenceError as e:
        if not run.committed:
            raise Diverged(f"{e.args[0].split('; ')[0]}, in the first epoch: nothing was saved; "
                           "try a smaller --lr or --clip") from None
        raise Diverged(f"{e.args[0].split('; ')[0]}; the last finite state (epoch {e.epoch - 1}) is in "
                       f"{run.target / directories.CHECKPOINT}; try a smaller --lr or --clip") from None
    except RuntimeError as e:
        kept = ("nothing was saved" if saved[0] is None else
                f"the checkpoint of epoch {saved[0]} is intact: fnnet resume goes on from it")
        memory = out_of_memory(e, kept)
        if memory is None:
            raise
        raise memory from None
    finally:
        if results[0] and saved[0] != start:  # interrupted between a new checkpoint and removing them
            with contextlib.suppress(OSError):
                files.remove_results(run.path)


def _identity(path):
    """``(device, inode)`` of a file, None if absent: an atomic replace gives a new one."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def report_run(run_dir: Path, the_plan: RunPlan, result, *, plot: bool = True) -> Outcome:
    """Evaluate on train/validation/test, diagnose with the notes' recipe, write the
    summary and the learning curve."""
    from fnnet import diagnostics
    from fnnet.storage import atomic
    from fnnet.training.evaluation import evaluate_sets

    net, loss, splits = the_plan.net, the_plan.loss, the_plan.splits
    params = result.params
    table = evaluate_sets(net, loss, params, splits)  # one program for every split
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
    files.write_json(run_dir / directories.SUMMARY, summary)
    curve = None
    history = files.read_history(run_dir)
    if plot and history:
        try:
            from fnnet import plots

            with atomic.open_for_replace(run_dir / directories.CURVE, "wb") as f:
                plots.learning_curves(history, f, title=str(run_dir))
            curve = str(run_dir / directories.CURVE)
        except ImportError:
            curve = None
    return Outcome(run_dir, summary, diagnosis, curve)


# ---------------------------------------------------------------- a saved run read back


def check_run_config(config: dict, where) -> tuple:
    """``(net, loss, optimizer)`` of a stored run configuration, every field checked; a
    RunError names the file and the field."""
    from fnnet import data
    from fnnet.model.network import Network

    def fail(field, problem):
        raise directories.RunError(f"{where}: {field}: {problem}")

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
    shape = config.get("in_shape")
    if not (isinstance(shape, list) and 1 <= len(shape) <= 3
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)
            and int(np.prod(shape)) == config["in_features"]):
        fail("in_shape", f"expected one example's shape, a list of 1 to 3 sizes holding its {config['in_features']} "
                         f"features, got {shape!r}")
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
    try:
        net, loss, optimizer = build(config)
    except ValueError as e:
        fail("network", e)
    try:
        stored = Network.from_config(config.get("network"))
    except (ValueError, TypeError) as e:
        fail("network", e)
    if stored != net:
        fail("network", "does not match the run's settings (conv, hidden, activation, dropout, loss, classes)")
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


def restore_run(run_dir) -> Restored:
    """Read a run back, checking that ``config.json`` agrees with the checkpoint's copy."""
    import jax

    from fnnet.storage import checkpoint

    run_dir = Path(run_dir)
    config = files.read_run_config(run_dir)
    stored = checkpoint.read_config(run_dir / directories.CHECKPOINT)
    if stored != config:
        fields = sorted(k for k in set(config) | set(stored or {}) if (stored or {}).get(k) != config.get(k))
        raise directories.RunError(f"{run_dir / directories.CONFIG} does not match the configuration saved in "
                                   f"{run_dir / directories.CHECKPOINT} (they differ in {', '.join(fields[:5])}); "
                                   "one of them was edited")
    net, loss, optimizer = check_run_config(config, run_dir / directories.CONFIG)
    initial = template(net, optimizer, config, stopper(config, config["val"] > 0))
    state, _ = checkpoint.load(run_dir / directories.CHECKPOINT, initial)
    params = (state.params, None if state.stopping is None else state.stopping.params)
    if not all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(params)):
        # fnnet never saves a diverged state; a NaN weight would predict class 0 for everything.
        raise checkpoint.CheckpointError(f"{run_dir / directories.CHECKPOINT} holds non-finite parameters")
    return Restored(config, net, loss, optimizer, state)


def run_data(restored: Restored):
    """The run's own splits, after checking that its data are the ones it was trained on."""
    config = restored.config
    x, y = load_dataset(config)
    if data_digest(x, y) != config["data_sha256"]:
        raise loaders.DataError(f"{config['data']}: the data changed since the run was trained "
                                "(its SHA-256 differs); the run's splits cannot be rebuilt")
    return prepare_splits(config, x, y)[0]


def evaluate_run(run_dir, data=None, *, format=None, label_column=None, header=None) -> dict:
    """``{name: {"loss", "accuracy", "examples"}}`` of a run's best parameters, on its own
    splits, on the data file ``data`` or on all of a bundled data set ("digits": the name
    wins over a file of that name; "./digits" is the file)."""
    from fnnet.training.evaluation import evaluate_sets

    restored = restore_run(run_dir)
    config = restored.config
    if data is None:
        sets = {k: v for k, v in run_data(restored).items() if v is not None}
    else:
        if is_bundled(data):
            no_file_options(data, format=format, header=header, label_column=label_column)
            x, y = load_dataset({"data": data})
        else:
            x, y = loaders.load(data, format=format, label_column=label_column, header=header, keep_shape=True)
        if len(config["in_shape"]) > 1:  # images in another order would be scrambled by the reshape
            loaders.check_arrangement(data, x.shape[1:], config["in_shape"])
        sets = {str(data): prepare_splits({**config, "val": 0.0, "test": 0.0}, x, y, source=str(data))[0]["train"]}
    table = evaluate_sets(restored.net, restored.loss, restored.params, sets)
    return {name: {**table[name], "examples": len(s[0])} for name, s in sets.items()}


def check_output(out, *inputs) -> None:
    """Refuse an output file that is one of the ``inputs`` (a file; a bundled data set's
    name is none), lies in a run directory (whose files are fnnet's own) or is one of a
    search folder's own files: a ValueError naming it."""
    out = Path(out)
    for source in inputs:
        if not is_bundled(source) and out.exists() and Path(source).exists() and os.path.samefile(out, source):
            raise ValueError(f"--out {out} is the input file {source}; choose another name")
    directories.not_inside_a_run(out.resolve(), f"--out {out}")
    parent = out.resolve().parent
    if directories.kind(parent) == directories.SEARCH and out.name in (
            directories.BEST, directories.PICTURE, directories.SEARCH_MARKER, directories.LOCK):
        raise ValueError(f"--out {out} is a file of the search folder {parent}; choose another name")


@functools.lru_cache(maxsize=16)
def _forward(net):
    """``net.apply`` compiled once per network (and input shape): op by op, a
    convolutional net dispatches dozens of small programs per call."""
    import jax

    return jax.jit(net.apply)


def predict_run(run_dir, features, *, format=None, header=None):
    """``(classes, probabilities)`` for the rows of a feature file (or of all of a bundled
    data set, named as in ``evaluate_run``): the predicted label (n,) in the run's own
    labels and its probability (n,)."""
    import jax

    from fnnet import data

    restored = restore_run(run_dir)
    config = restored.config
    if is_bundled(features):
        no_file_options(features, format=format, header=header)
        x = load_dataset({"data": features})[0]
        x = np.reshape(x, (len(x), -1)).astype(np.float32)
        if x.shape[1] != config["in_features"]:
            raise loaders.DataError(f"{features}: expected {config['in_features']} features per example (as the "
                                    f"run was trained on), found {x.shape[1]}")
    else:
        x = loaders.load_features(features, config["in_features"], format=format, header=header,
                                  in_shape=config["in_shape"])
    x = shaped(config, data.Standardizer.from_dict(config["standardizer"]).apply(x))
    y = _forward(restored.net)(restored.params, x)
    probs = np.asarray(jax.nn.softmax(y, axis=-1) if config["loss"] == "cross_entropy" else y)
    return np.asarray(config["classes"])[np.argmax(probs, axis=-1)], np.max(probs, axis=-1)

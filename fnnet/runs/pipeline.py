"""The run pipeline behind the ``fnnet`` command, callable from a script too: a plan
(settings and data checked, everything built, nothing written), then a run directory
trained with a checkpoint after every epoch and reported; or a saved run resumed.

A run directory is written under a lock and, when it replaces an old run, beside it
until the new run has its first checkpoint. The run's configuration lives in its
checkpoint (covered by the checkpoint's SHA-256); ``config.json`` is a readable copy
that must agree with it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fnnet import run_files, runs
from fnnet.prepare import build, data_digest, load_dataset, prepare, stopper, template
from fnnet.restore import check_output, evaluate, predict, restore, run_data  # noqa: F401 (the pipeline's API)
from fnnet.settings import BUNDLED, positive_int, settings


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


def settings_file(path) -> dict:
    """The settings in a JSON object file (``fnnet train --config``; ``fnnet search``
    writes its best so), each checked: a ValueError names the file and the setting."""
    from fnnet.settings import SETTINGS, option

    try:
        given = run_files.read_json(path)
    except runs.RunError as e:
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
        with until_saved(run):
            run_files.write_json(run.path / runs.CONFIG, config)
            early_stopping = stopper(config, the_plan.splits["val"] is not None)
            state = template(the_plan.net, the_plan.optimizer, config, early_stopping)
            result = _fit(run, the_plan, state, config["epochs"], early_stopping, on_epoch)
        replaced = tuple(run.replaced)
        outcome = _report_saved(run, the_plan, result, plot)
    outcome.run_dir = run.target
    outcome.replaced = replaced
    return outcome


@contextlib.contextmanager
def until_saved(run: runs.Run):
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


def resume(run_dir, epochs: int, *, on_epoch: Callable | None = None, plot: bool = True) -> Outcome | None:
    """Train a run ``epochs`` more epochs from its checkpoint, exactly as if it had never
    stopped: its history is cut back to the checkpoint's epoch (a kill can leave one
    line too many), and early stopping goes on where it was. None if early stopping
    had already ended it."""
    positive_int(epochs)
    with runs.open_run(run_dir) as run:
        restored = restore(run.path)
        early_stopping = stopper(restored.config, restored.config["val"] > 0)
        if early_stopping is not None and early_stopping.should_stop(restored.state.stopping):
            return None
        the_plan = Plan(restored.config, restored.net, restored.loss, restored.optimizer, run_data(restored))
        run_files.truncate_history(run.path, int(restored.state.epoch))
        run_files.remove_results(run.path)  # they describe the old end; a killed resume must not keep them
        result = _fit(run, the_plan, restored.state, epochs, early_stopping, on_epoch)
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


def _fit(run: runs.Run, the_plan: Plan, state, epochs: int, early_stopping, on_epoch):
    from fnnet import checkpoint
    from fnnet.fit import DivergenceError, fit

    config = the_plan.config
    saved = [int(state.epoch) or None]  # the epoch of the checkpoint on disk

    def after_epoch(record, state):
        run_files.append_history(run.path, record)
        checkpoint.save(run.path / runs.CHECKPOINT, state, config)
        saved[0] = record["epoch"]
        run.commit()  # a replaced run goes only now, once the new one has a checkpoint
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
                       f"{run.target / runs.CHECKPOINT}; try a smaller --lr or --clip") from None


def report(run_dir: Path, the_plan: Plan, result, *, plot: bool = True) -> Outcome:
    """Evaluate on train/validation/test, diagnose with the notes' recipe, write the
    summary and the learning curve."""
    from fnnet import atomic, diagnostics
    from fnnet.step import evaluate as evaluate_split

    net, loss, splits = the_plan.net, the_plan.loss, the_plan.splits
    params = result.params
    table = {name: evaluate_split(net, loss, params, *split) for name, split in splits.items() if split is not None}
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
    run_files.write_json(run_dir / runs.SUMMARY, summary)
    curve = None
    history = run_files.read_history(run_dir)
    if plot and history:
        try:
            from fnnet import plots

            with atomic.open_for_replace(run_dir / runs.CURVE, "wb") as f:
                plots.learning_curves(history, f, title=str(run_dir))
            curve = str(run_dir / runs.CURVE)
        except ImportError:
            curve = None
    return Outcome(run_dir, summary, diagnosis, curve)

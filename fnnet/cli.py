"""The ``fnnet`` command: train a digit recogniser, evaluate, predict, resume, and the
notes' worked example. Argument parsing and printing only; the work is in
``fnnet.experiment``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

from fnnet import experiment, loaders, settings
from fnnet.settings import DEFAULTS


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (exit status 2), not the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _typed(parse, check):
    """An argparse type: parse the text, then check it as the run's settings are checked."""
    def convert(text):
        try:
            return check(parse(text))
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


MAX_STEPS = 10**8  # about 10 s of the worked example's updates; more overflows int32 counters


def _steps(value):
    if settings.positive_int(value) > MAX_STEPS:
        raise ValueError(f"expected an integer in [1, {MAX_STEPS}], got {value}")
    return value


def _adagrad_form(text):
    if text == "seed":  # its name before "seed" came to mean only a random seed
        print("fnnet: --adagrad-form seed is now --adagrad-form notes (the old name goes in the next release)",
              file=sys.stderr)
        return "notes"
    return text


def _label_column(text):
    try:
        return int(text)
    except ValueError:
        return text


def _setting(p, name, parse, help, *, check=None, **kw):
    """An option for setting ``name``, checked by ``settings.SETTINGS[name]`` (or
    ``check``, for each of a list); its default (None) means the data set's default."""
    default = DEFAULTS[name]
    shown = " ".join(map(str, default)) if isinstance(default, list) else default
    p.add_argument(settings.option(name), type=_typed(parse, check or settings.SETTINGS[name]),
                   help=f"{help} (default: {shown})", **kw)


def _data_options(p, formats):
    p.add_argument("--format", choices=formats, help="the file's format, if its name does not tell")
    p.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                   help="a CSV file's first line is (--header) or is not (--no-header) a header "
                        "(default: a header only if none of its cells is a number)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fnnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a classifier (default: the digits data set)")
    p.add_argument("--data", help="'digits', 'xor', or a file: .npz (x, y), .csv, svmlight, MNIST IDX "
                                  "(or its directory) (default: digits)")
    _data_options(p, loaders.FORMATS)
    p.add_argument("--label-column", type=_label_column, help="CSV label column: index or name (default: -1)")
    _setting(p, "hidden", _int, "hidden layer widths", check=settings.positive_int, nargs="+",
             metavar="WIDTH")
    _setting(p, "activation", str, "hidden activation", choices=settings.ACTIVATIONS)
    _setting(p, "pieces", _int, "pieces per maxout unit")
    _setting(p, "dropout", _float, "dropout rate after each hidden layer, in [0, 1)")
    _setting(p, "loss", str, "loss", choices=settings.LOSSES)
    _setting(p, "optimizer", str, "optimizer", choices=settings.OPTIMIZERS)
    _setting(p, "lr", _float, "learning rate eta, > 0")
    _setting(p, "momentum", _float, "momentum lambda, in [0, 1)")
    _setting(p, "adagrad_form", _adagrad_form, "Adagrad as in the notes or as optax has it",
             choices=settings.ADAGRAD_FORMS)
    _setting(p, "l1", _float, "L1 strength lambda (weights only), >= 0")
    _setting(p, "l2", _float, "L2 strength lambda (weights only), >= 0")
    _setting(p, "clip", _float, "clip gradients to this global norm, > 0")
    _setting(p, "epochs", _int, "epochs")
    _setting(p, "batch_size", _int, "minibatch size")
    _setting(p, "patience", _int, "early-stopping patience in epochs (0: off)")
    _setting(p, "min_delta", _float, "smallest change that counts as an improvement")
    _setting(p, "val", _float, "validation fraction, in [0, 1)")
    _setting(p, "test", _float, "test fraction, in [0, 1)")
    _setting(p, "seed", _int, "random seed, >= 0")
    _setting(p, "grad", str, "gradient from jax.grad or the hand-written backprop", choices=settings.GRADS)
    p.add_argument("--out", help="run directory (default: runs/<data>-N, the first free N)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run directory --out (only one fnnet created), once the new run "
                        "has its first checkpoint")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--no-plot", action="store_true", help="do not draw the learning curve")
    p.set_defaults(run=_train)

    p = sub.add_parser("resume", help="train a run for more epochs")
    p.add_argument("run_dir")
    p.add_argument("--epochs", type=_typed(_int, settings.positive_int), required=True,
                   help="how many more epochs")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--no-plot", action="store_true", help="do not draw the learning curve")
    p.set_defaults(run=_resume)

    p = sub.add_parser("evaluate", help="loss and accuracy of a run's best parameters")
    p.add_argument("run_dir")
    p.add_argument("--data", help="a data file (default: the run's own splits)")
    _data_options(p, loaders.FORMATS)
    p.add_argument("--label-column", type=_label_column, default=-1, help="CSV label column: index or name")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=_evaluate)

    p = sub.add_parser("predict", help="predict classes for the rows of a feature file")
    p.add_argument("run_dir")
    p.add_argument("file", help=".npy, .npz (array 'x') or .csv of features, one example per row")
    _data_options(p, loaders.FEATURE_FORMATS)
    p.add_argument("--out", help="write the CSV here instead of standard output")
    p.set_defaults(run=_predict)

    p = sub.add_parser("worked-example", help="the notes' 2-2-2 backprop example, step by step")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--steps", type=_typed(_int, _steps), default=10_000,
                   help=f"number of updates, at most {MAX_STEPS:,} (default: 10000)")
    p.set_defaults(run=_worked_example)
    return parser


# ---------------------------------------------------------------- the commands


def _progress(total: int, quiet: bool):
    """``(on_epoch, close)``: a progress bar (tqdm), drawn from the first epoch on so that
    an error before it stays one line, or a line per epoch."""
    if quiet:
        return None, lambda: None
    bar = []

    def on_epoch(record):
        if not bar:
            try:
                from tqdm import tqdm
            except ImportError:
                bar.append(None)
            else:
                bar.append(tqdm(total=total, unit="epoch", leave=True, dynamic_ncols=True))
        shown = {k: record[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in record}
        if bar[0] is not None:
            bar[0].set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=False)
            bar[0].update(1)
        else:
            print(f"epoch {record['epoch']}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))

    def close():
        if bar and bar[0] is not None:
            bar[0].close()

    return on_epoch, close


def _print_outcome(outcome) -> None:
    summary = outcome.summary
    names = {"train": "train", "val": "validation", "test": "test"}
    print(f"\n{'':<12}{'loss':>10}{'accuracy':>10}{'examples':>10}")
    for name, m in summary["metrics"].items():
        print(f"{names[name]:<12}{m['loss']:>10.4f}{m['accuracy']:>10.2%}{summary['examples'][name]:>10}")
    done, best = summary["epochs_done"], summary["best_epoch"]
    if summary["stopped_early"]:
        print(f"\nearly stopping: stopped at epoch {done}, best {best}, restored")
    elif best is not None:
        print(f"\nearly stopping: ran all {done} epochs, best {best}, restored")
    else:
        print(f"\nran {done} epochs (early stopping off: the last epoch's parameters are kept)")
    print(f"\n{outcome.diagnosis}")
    print(f"\nrun saved in {outcome.run_dir}" + (f" (learning curve: {outcome.curve})" if outcome.curve else ""))


def _train(args) -> int:
    given = {name: getattr(args, name) for name in settings.SETTINGS}
    plan = experiment.plan(given)
    config, splits = plan.config, plan.splits
    if not args.quiet:
        sizes = {k: 0 if v is None else len(v[0]) for k, v in splits.items()}
        print(f"training {' -> '.join(map(str, plan.net.widths))} ({config['activation']}) on {config['data']}: "
              f"{sizes['train']} train, {sizes['val']} validation, {sizes['test']} test examples")
    on_epoch, close = _progress(config["epochs"], args.quiet)
    try:
        outcome = experiment.train(plan, out=args.out, overwrite=args.overwrite, on_epoch=on_epoch,
                                   plot=not args.no_plot)
    finally:
        close()
    shown = [name for name in outcome.replaced if not name.startswith(".")]
    if shown:
        print(f"replaced the previous run in {outcome.run_dir} (removed its {', '.join(shown)})", file=sys.stderr)
    if not args.quiet:
        _print_outcome(outcome)
    return 0


def _resume(args) -> int:
    on_epoch, close = _progress(args.epochs, args.quiet)
    try:
        outcome = experiment.resume(args.run_dir, args.epochs, on_epoch=on_epoch, plot=not args.no_plot)
    finally:
        close()
    if outcome is None:
        print(f"fnnet resume: {args.run_dir} was already stopped by early stopping; nothing to train",
              file=sys.stderr)
        return 0
    if not args.quiet:
        _print_outcome(outcome)
    return 0


def _evaluate(args) -> int:
    results = experiment.evaluate(args.run_dir, args.data, format=args.format, label_column=args.label_column,
                                  header=args.header)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'':<12}{'loss':>10}{'accuracy':>10}{'examples':>10}")
        for name, m in results.items():
            print(f"{name:<12}{m['loss']:>10.4f}{m['accuracy']:>10.2%}{m['examples']:>10}")
    return 0


def _predict(args) -> int:
    from fnnet import atomic

    if args.out:
        experiment.check_output(args.out, args.file)
    classes, probabilities = experiment.predict(args.run_dir, args.file, format=args.format, header=args.header)
    lines = ["index,prediction,probability\n"]
    lines += [f"{i},{c},{p:.4f}\n" for i, (c, p) in enumerate(zip(classes.tolist(), probabilities.tolist()))]
    if args.out:
        with atomic.open_for_replace(args.out, "w") as f:
            f.writelines(lines)
    else:
        sys.stdout.writelines(lines)
    return 0


def _worked_example(args) -> int:
    from fnnet import worked_example as we

    figures = we.report(args.steps)
    if args.json:
        print(json.dumps({"figures": figures, "notes_quotes": we.NOTES_QUOTES}, indent=2))
    else:
        print(we.format_report(figures))
    return 0


# ---------------------------------------------------------------- errors


def _message(e: BaseException, command: str) -> str:
    """One line for a user's mistake or an environment's refusal, in the command's words."""
    if isinstance(e, loaders.FormatError):
        formats = loaders.FEATURE_FORMATS if command == "predict" else loaders.FORMATS
        return (f"{e.path}: cannot tell the format from the name ({e.suffix or 'no suffix'}); "
                f"pass --format, one of {', '.join(formats)}")
    if isinstance(e, OSError) and e.strerror:
        # Files are named by their errors; one that names none was the standard output.
        return f"{e.filename if e.filename is not None else 'standard output'}: {e.strerror}"
    if isinstance(e, MemoryError):
        return f"out of memory{f' ({e})' if str(e) else ''}"
    text = " ".join(str(e).split("\n"))
    # The library speaks of its keyword arguments; here they are options.
    for keyword, flag in (("header=True", "--header"), ("label_column=", "--label-column "), ("format=", "--format ")):
        text = text.replace(keyword, flag)
    return text


_terminated = []


def _terminate(signum, frame):
    # SIGTERM (`kill`, `timeout`) is handled like Ctrl-C: the run is left whole.
    _terminated.append(signum)
    raise KeyboardInterrupt


def main(argv=None) -> int:
    """Run the command; returns its exit status (2 for any mistake, said in one line;
    130 or 143 when interrupted or terminated)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed its one line (or the help)
        return e.code
    start = time.perf_counter()
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        code = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`fnnet ... | head`): stop quietly, as other Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (ValueError, OSError, ImportError, MemoryError) as e:
        if os.environ.get("FNNET_DEBUG"):
            raise
        print(f"fnnet {args.command}: error: {_message(e, args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        what = "terminated" if _terminated else "interrupted"
        print(f"fnnet {args.command}: {what}{f' {e}' if str(e) else ''}", file=sys.stderr)
        return 143 if what == "terminated" else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if args.command in ("train", "resume") and not getattr(args, "quiet", False):
        print(f"({time.perf_counter() - start:.1f} s)")
    return code


def run() -> None:
    """The console script: ``main``, then an exit that skips the interpreter's teardown
    after an interrupt (which can crash while XLA is compiling)."""
    code = main()
    if code in (130, 143):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()

"""The ``fnnet`` command: train a digit recogniser, evaluate, predict, resume, and the
notes' worked example. Argument parsing and printing only; the work is in
``fnnet.experiment``."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from fnnet import experiment, experiment_members, loaders, settings
from fnnet.cli_parser import build_parser as _build_parser


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


def _print_members(ensemble_run) -> None:
    """An ensemble run's leaderboard (best first) and the ensemble's accuracy."""
    rows = ensemble_run.leaderboard
    has_val = "val_loss" in rows[0]
    print(f"\n{len(rows)} members, best first by {'validation' if has_val else 'training'} loss:")
    splits = [k for k in ("train", "val", "test") if f"{k}_accuracy" in rows[0]]
    head = ["member", "seed", "best epoch"] + [f"{k} {what}" for k in splits for what in ("loss", "acc")]
    print("".join(f"{h:>12}" for h in head))
    for r in rows:
        cells = [r["member"], r["seed"], "-" if r["best_epoch"] is None else r["best_epoch"]]
        for k in splits:
            loss = r[f"{k}_loss"]
            cells += ["inf" if loss is None else f"{loss:.4g}", f"{r[f'{k}_accuracy']:.2%}"]
        print("".join(f"{c:>12}" for c in cells) + ("  diverged" if r["diverged"] else ""))
    names = {"train": "train", "val": "validation", "test": "test"}
    kept = sum(not r["diverged"] for r in rows)
    shown = {k: v for k, v in ensemble_run.ensemble.items() if k != "train"} or ensemble_run.ensemble
    print(f"\nensemble of {kept} (mean of their probabilities): accuracy "
          + ", ".join(f"{names[k]} {v:.2%}" for k, v in shown.items()))
    print(f"saved member {rows[0]['member']} (seed {rows[0]['seed']}) as the run's model; leaderboard in "
          f"{ensemble_run.outcome.run_dir / experiment_members.LEADERBOARD}")


def _train(args) -> int:
    given = {name: getattr(args, name) for name in settings.SETTINGS}
    from_file = {}
    if args.config is not None:
        from_file = experiment.settings_file(args.config)
        from_file = {k: v for k, v in from_file.items() if given.get(k) is None}  # the command line wins
        given = {**given, **from_file}
    try:
        plan = experiment.plan(given)
    except ValueError as e:  # a setting the user did not type is named with the file it came from
        if not any(str(e).startswith(settings.option(k)) for k in from_file):
            raise
        raise ValueError(f"{args.config}: {e}") from None
    config, splits = plan.config, plan.splits
    members = args.members
    if members > 1:
        experiment_members.seeds(config, members)  # checked before anything is printed
    if not args.quiet:
        sizes = {k: 0 if v is None else len(v[0]) for k, v in splits.items()}
        widths = [plan.net.in_features] + [layer.features for layer in plan.net.layers if hasattr(layer, "features")]
        print(f"training {f'{members} members of ' * (members > 1)}{' -> '.join(map(str, widths))} "
              f"({config['activation']}) on {config['data']}: "
              f"{sizes['train']} train, {sizes['val']} validation, {sizes['test']} test examples")
    ensemble_run = None
    if members > 1:  # one compiled program for all the epochs: no progress to show
        ensemble_run = experiment_members.train(plan, members, out=args.out, overwrite=args.overwrite,
                                         plot=not args.no_plot)
        outcome = ensemble_run.outcome
    else:
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
        if ensemble_run is not None:
            _print_members(ensemble_run)
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


def _search(args) -> int:
    from fnnet import search_command

    return search_command.run(args)


def build_parser():
    """The command's argument parser."""
    return _build_parser({"train": _train, "resume": _resume, "evaluate": _evaluate, "predict": _predict,
                          "worked-example": _worked_example, "search": _search},
                         "Train a digit recogniser (or a classifier of your own data), resume, evaluate and "
                         "predict with it; and the notes' worked backpropagation example.")


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
        if args.command in ("train", "resume") and not getattr(args, "quiet", False):
            print(f"({time.perf_counter() - start:.1f} s)")
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

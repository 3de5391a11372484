"""The ``fnnet search`` command: its options (``add_arguments``) and what it does and
prints (``run``): a progress bar per generation, the leaderboard, where the best
configuration (``fnnet train`` settings, JSON) and the fitness picture were written.
The work is in ``fnnet.search``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fnnet import loaders, settings
from fnnet.search_space import ACTIVATIONS, OPTIMIZERS, SearchSpace

_SPACE = SearchSpace()


def _at_least_one(text):
    value = _number(int)(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _number(kind):
    def convert(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
    return convert


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The search's options: the data (as ``fnnet train`` reads it), the evolution, the
    space's bounds, the outputs."""
    from fnnet.cli_parser import _file_options  # train's own data-file options, not a copy

    p.add_argument("--data", default="digits", help="'digits', 'xor', or a file: .npz (x, y), .csv, svmlight, "
                                                    "MNIST IDX (or its directory) (default: digits)")
    for flags, kw in _file_options(loaders.FORMATS, label_column=True):
        p.add_argument(*flags, **kw)
    for name, default, help in (("val", 0.15, "validation fraction (the fitness), in (0, 1)"),
                                ("test", 0.2, "test fraction, in [0, 1)")):
        p.add_argument(settings.option(name), type=_number(float), default=default, help=f"{help} (default: {default})")
    p.add_argument("--seed", type=_number(int), default=0, help="seed of the split and of the search (default: 0)")
    for name, kind, default, help in (
            ("population", int, 16, "candidates per generation"), ("generations", int, 5, "generations"),
            ("epochs", int, 10, "epochs per candidate"), ("batch_size", int, 32, "minibatch size"),
            ("patience", int, 0, "stop a candidate after this many epochs without a better validation loss, "
                                 "keeping its best (0: never)"),
            ("elite", int, None, "best candidates carried unchanged (default: population // 8, at least 1)"),
            ("time_budget", float, None, "seconds; no generation starts after them (default: no limit)"),
            ("pieces", int, 2, "pieces per maxout unit")):
        p.add_argument(settings.option(name), type=_number(kind), default=default,
                       help=f"{help} (default: {default})" if default is not None else help)
    for name, kind, help in (("depth", int, "hidden layers"), ("width", int, "units per hidden layer"),
                             ("lr", float, "learning rate, log-uniform"), ("l2", float, "L2 strength"),
                             ("dropout", float, "dropout rate")):
        default = getattr(_SPACE, name)
        p.add_argument(settings.option(name), type=_number(kind), nargs=2, metavar=("MIN", "MAX"),
                       default=list(default), help=f"{help} (default: {default[0]:g} {default[1]:g})")
    for name, valid in (("activations", ACTIVATIONS), ("optimizers", OPTIMIZERS)):
        p.add_argument(settings.option(name), nargs="+", default=list(valid), metavar="NAME",
                       help=f"some of {', '.join(valid)} (default: all)")
    p.add_argument("--out", default="search", help="folder for best.json and fitness.png (default: search)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the best.json and fitness.png of an earlier search in --out")
    p.add_argument("--top", type=_at_least_one, default=10, help="leaderboard lines to print (default: 10)")
    p.add_argument("--no-plot", action="store_true", help="do not draw the fitness per generation")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _bar(total: int, quiet: bool):
    """``(on_generation, close)``: a tqdm bar, or a line per generation without tqdm."""
    state = []

    def on_generation(g):
        if quiet:
            return
        if not state:
            try:
                from tqdm import tqdm
                state.append(tqdm(total=total, unit="generation", leave=True, dynamic_ncols=True))
            except ImportError:
                state.append(None)
        text = f"best {g.best:.2%}, mean {g.mean:.2%}, {g.programs} program(s), {g.seconds:.0f} s"
        if state[0] is None:
            print(f"generation {g.generation}: {text}")
        else:
            state[0].set_postfix_str(text, refresh=False)
            state[0].update(1)

    def close():
        if state and state[0] is not None:
            state[0].close()

    return on_generation, close


def run(args) -> int:
    """Search, print the leaderboard, write the best configuration and the picture."""
    from fnnet import search, search_report

    space = SearchSpace(depth=tuple(args.depth), width=tuple(args.width), activations=tuple(args.activations),
                        optimizers=tuple(args.optimizers), lr=tuple(args.lr), l2=tuple(args.l2),
                        dropout=tuple(args.dropout), pieces=args.pieces)
    data = {k: getattr(args, k) for k in ("data", "format", "label_column", "header", "val", "test", "seed")}
    splits, config, _ = search.load_splits(**data)
    elite = max(1, args.population // 8) if args.elite is None else args.elite
    search.check_run(args.population, args.generations, elite, args.time_budget, args.epochs, args.batch_size,
                     len(splits["train"][0]), args.patience)
    out, made = _claim(Path(args.out), args.overwrite)  # before the search: a refusal costs nothing
    if not args.quiet:
        sizes = {k: 0 if v is None else len(v[0]) for k, v in splits.items()}
        print(f"searching on {config['data']}: {sizes['train']} train, {sizes['val']} validation, {sizes['test']} "
              f"test examples; population {args.population}, {args.generations} generations")
    on_generation, close = _bar(args.generations, args.quiet)
    written = False
    try:
        result = search.search(splits, space, population=args.population, generations=args.generations,
                               elite=args.elite, time_budget=args.time_budget, seed=args.seed, epochs=args.epochs,
                               batch_size=args.batch_size, patience=args.patience, on_generation=on_generation)
        best = search_report.best_settings(result.best, config, epochs=args.epochs, batch_size=args.batch_size,
                                           pieces=args.pieces, patience=args.patience)
        written = search_report.write_best(out / BEST, best)
        picture = None if args.no_plot else search_report.plot_fitness(result, out / PICTURE)
        if picture is None and (out / PICTURE).exists():
            # An earlier search's picture (--overwrite) would pass for this one's.
            (out / PICTURE).unlink()
    finally:
        close()
        _release(out, made, keep=bool(written))
    if result.interrupted:
        raise KeyboardInterrupt(f"after {len(result.generations)} generation(s); the best so far is in {written}")
    if not args.quiet:
        if result.stopped_by_budget:
            print(f"\nthe time budget ({args.time_budget:g} s) ended the search after "
                  f"{len(result.generations)} generation(s)")
        print("\n" + "\n".join(search_report.leaderboard(result, args.top)))
        print(f"\ncompiled programs per generation: {[g.programs for g in result.generations]}")
        print(f"best configuration written to {written}; train the same network and settings (its initial "
              f"weights come from --seed, not the search's draw) with:\n  fnnet train --config {written}")
        if picture:
            print(f"fitness per generation drawn to {picture}")
        elif not args.no_plot:
            print('(no picture: plots need matplotlib: pip install "fnnet[plot]")', file=sys.stderr)
    return 0


BEST, PICTURE = "best.json", "fitness.png"


def _claim(out: Path, overwrite: bool):
    """``(out, made)``: the folder created if absent, locked (``fnnet.locks``) against a
    second search, checked writable; an earlier search's files there are kept unless
    ``overwrite``. ``made`` holds what to undo if the search writes nothing."""
    from fnnet import locks

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: expected a folder (or a name to create), found a file")
    earlier = [name for name in (BEST, PICTURE) if (out / name).exists()]
    if earlier and not overwrite:
        raise ValueError(f"--out {out} already holds {' and '.join(earlier)} of an earlier search; pass "
                         "--overwrite to replace them, or choose another --out")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        lock = locks.DirectoryLock(out, "search folder")
    except locks.LockError:
        if created:
            out.rmdir()
        raise
    locks.check_writable(out, "search folder")
    return out, (lock, created)


def _release(out: Path, made, *, keep: bool) -> None:
    """Unlock; a folder this search created and wrote nothing into goes again."""
    import contextlib
    import os

    from fnnet import locks

    lock, created = made
    lock.release()
    if created and not keep:
        with contextlib.suppress(OSError):
            os.unlink(out / locks.LOCK)
            out.rmdir()  # only if empty: nothing else is ever removed

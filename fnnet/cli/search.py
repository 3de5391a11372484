"""The ``fnnet search`` command: what it does and prints (a progress bar per generation,
the leaderboard, where the best configuration, ``fnnet train`` settings as JSON, and the
fitness picture were written), and the folder it writes. The work is in
``fnnet.structure``; its options are in ``fnnet.cli.parser``."""

from __future__ import annotations

import contextlib
import re
import sys

from fnnet.cli.printing import progress
from fnnet.runs import directories, settings
from fnnet.structure.space import SearchSpace


def search_command(args) -> int:
    """``fnnet search``: search, print the leaderboard, write the best configuration and
    the picture."""
    from fnnet.structure import evolution, report

    with _options():
        space = SearchSpace(depth=tuple(args.depth), width=tuple(args.width), activations=tuple(args.activations),
                            optimizers=tuple(args.optimizers), lr=tuple(args.lr), l2=tuple(args.l2),
                            dropout=tuple(args.dropout), pieces=args.pieces, kinds=tuple(args.kinds),
                            blocks=tuple(args.blocks), channels=tuple(args.channels), kernels=tuple(args.kernels),
                            strides=tuple(args.strides), poolings=tuple(args.poolings), head=tuple(args.head))
    data = {k: getattr(args, k) for k in ("data", "format", "label_column", "header", "shape", "val", "test",
                                          "seed")}
    splits, config, _ = evolution.load_splits(**data)
    elite = max(1, args.population // 8) if args.elite is None else args.elite
    evolution.check_search_settings(args.population, args.generations, elite, args.time_budget, args.epochs,
                                    args.batch_size, len(splits["train"][0]), args.patience)
    in_shape = tuple(splits["train"][0].shape[1:])
    if len(in_shape) == 1 and "dense" not in space.kinds:
        raise ValueError(f"--kinds {' '.join(space.kinds)}: convolutions need examples with positions, but "
                         f"{config['data']} has flat rows of {in_shape[0]} values; pass --shape, e.g. --shape H W C "
                         f"for images or --shape {in_shape[0]} 1 for signals, or --kinds dense")
    with _options():
        kinds = space.kinds_for(in_shape)
    folder = directories.claim_search(args.out, overwrite=args.overwrite)  # before the search: a refusal costs nothing
    out = folder.path
    if not args.quiet:
        sizes = {k: 0 if v is None else len(v[0]) for k, v in splits.items()}
        print(f"searching on {config['data']} (examples of shape {in_shape}: "
              f"{' and '.join(report.KIND_NAMES[k] for k in kinds)} networks): {sizes['train']} train, "
              f"{sizes['val']} validation, {sizes['test']} test examples; population {args.population}, "
              f"{args.generations} generations")
    show, close = progress(args.generations, "generation", args.quiet)

    def on_generation(g):
        show(f"generation {g.generation}", f"best {g.best:.2%}, mean {g.mean:.2%}, {g.programs} program(s), "
                                           f"{g.seconds:.0f} s")

    written = False
    try:
        result = evolution.search(splits, space, population=args.population, generations=args.generations,
                                  elite=args.elite, time_budget=args.time_budget, seed=args.seed, epochs=args.epochs,
                                  batch_size=args.batch_size, patience=args.patience, on_generation=on_generation)
        best = report.best_settings(result.best, config, epochs=args.epochs, batch_size=args.batch_size,
                                    pieces=args.pieces, patience=args.patience)
        written = report.write_best(out / BEST, best)
        picture = None if args.no_plot else report.plot_fitness(result, out / PICTURE)
        if picture is None and (out / PICTURE).exists():
            # An earlier search's picture (--overwrite) would pass for this one's.
            (out / PICTURE).unlink()
    finally:
        close()
        folder.release(keep=bool(written))
    if result.interrupted:
        raise KeyboardInterrupt(f"after {len(result.generations)} generation(s); the best so far is in {written}")
    if not args.quiet:
        if result.stopped_by_budget:
            print(f"\nthe time budget ({args.time_budget:g} s) ended the search after "
                  f"{len(result.generations)} generation(s)")
        print("\n" + "\n".join(report.leaderboard_lines(result, args.top)))
        print("\n" + report.kind_line(result))
        print(f"\ncompiled programs per generation: {[g.programs for g in result.generations]}")
        print(f"best configuration written to {written}; train the same network and settings (its initial "
              f"weights come from --seed, not the search's draw) with:\n  fnnet train --config {written}")
        if picture:
            print(f"fitness per generation drawn to {picture}")
        elif not args.no_plot:
            print('(no picture: plots need matplotlib: pip install "fnnet[plot]")', file=sys.stderr)
    return 0


BEST, PICTURE = directories.BEST, directories.PICTURE


@contextlib.contextmanager
def _options():
    """The search space's ValueErrors in the command's words: ``SearchSpace.kernels`` is
    ``--kernels``."""
    try:
        yield
    except ValueError as e:
        raise ValueError(re.sub(r"SearchSpace\.(\w+)", lambda m: settings.option(m.group(1)), str(e))) from None

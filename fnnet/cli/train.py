"""``fnnet train``: a run (or, with ``--members``, an ensemble run) planned from the
options and a ``--config`` file, trained into a run directory, and reported."""

from __future__ import annotations

import sys

from fnnet.cli.printing import epoch_progress, print_outcome
from fnnet.runs import members as members_, pipeline, settings


def train_command(args) -> int:
    """``fnnet train``: plan, train, print; 0 on success."""
    given = {name: getattr(args, name) for name in settings.SETTINGS}
    from_file = {}
    if args.config is not None:
        from_file = pipeline.settings_file(args.config)
        from_file = {k: v for k, v in from_file.items() if given.get(k) is None}  # the command line wins
        given = {**given, **from_file}
    try:
        plan = pipeline.plan_run(given)
    except ValueError as e:  # a setting the user did not type is named with the file it came from
        if not any(str(e).startswith(settings.option(k)) for k in from_file):
            raise
        raise ValueError(f"{args.config}: {e}") from None
    config, splits = plan.config, plan.splits
    members = args.members
    if members > 1:
        members_.seeds(config, members)  # checked before anything is printed
    pipeline.check_memory(plan, members)
    if not args.quiet:
        sizes = {k: 0 if v is None else len(v[0]) for k, v in splits.items()}
        print(f"training {f'{members} members of ' * (members > 1)}{structure(plan.net)} "
              f"({config['activation']}) on {config['data']}: "
              f"{sizes['train']} train, {sizes['val']} validation, {sizes['test']} test examples")
    ensemble_run = None
    if members > 1:  # one compiled program for all the epochs: no progress to show
        ensemble_run = members_.train_members(plan, members, out=args.out, overwrite=args.overwrite,
                                              plot=not args.no_plot)
        outcome = ensemble_run.outcome
    else:
        on_epoch, close = epoch_progress(config["epochs"], args.quiet)
        try:
            outcome = pipeline.train_run(plan, out=args.out, overwrite=args.overwrite, on_epoch=on_epoch,
                                         plot=not args.no_plot)
        finally:
            close()
    shown = [name for name in outcome.replaced if not name.startswith(".")]
    if shown:
        print(f"replaced the previous run in {outcome.run_dir} (removed its {', '.join(shown)})", file=sys.stderr)
    if not args.quiet:
        if ensemble_run is not None:
            _print_members(ensemble_run)
        print_outcome(outcome)
    return 0


def structure(net) -> str:
    """A network in one line: ``8x8x1 -> conv16 -> maxpool2 -> 256 -> 10``."""
    parts = ["x".join(map(str, net.in_shape))]
    for layer in net.layers:
        kind = type(layer).__name__
        if kind.startswith("Conv"):
            parts.append(f"conv{layer.features}")
        elif "Pool" in kind:
            parts.append(f"{kind[:3].lower()}pool{'x'.join(map(str, dict.fromkeys(layer.window)))}")
        elif hasattr(layer, "features"):
            parts.append(str(layer.features))
    return " -> ".join(parts)


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
          f"{ensemble_run.outcome.run_dir / members_.LEADERBOARD}")

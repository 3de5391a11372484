"""``fnnet resume``: a run trained for more epochs from its checkpoint, as if it had never
stopped."""

from __future__ import annotations

import sys

from fnnet.cli.printing import epoch_progress, print_outcome
from fnnet.runs import pipeline


def resume_command(args) -> int:
    """``fnnet resume RUN_DIR --epochs N``; 0 on success (and when nothing was left to train)."""
    on_epoch, close = epoch_progress(args.epochs, args.quiet)
    try:
        outcome = pipeline.resume_run(args.run_dir, args.epochs, on_epoch=on_epoch, plot=not args.no_plot)
    finally:
        close()
    if outcome is None:
        print(f"fnnet resume: {args.run_dir} was already stopped by early stopping; nothing to train",
              file=sys.stderr)
        return 0
    if not args.quiet:
        print_outcome(outcome)
    return 0

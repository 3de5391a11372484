"""``fnnet predict``: a run's predicted class and its probability for each row of a feature
file, as CSV on standard output or written atomically to ``--out``."""

from __future__ import annotations

import sys

from fnnet.runs import pipeline


def predict_command(args) -> int:
    """``fnnet predict RUN_DIR FEATURES [--out FILE]``; 0 on success."""
    from fnnet.storage import atomic

    if args.out:
        pipeline.check_output(args.out, args.file)
    classes, probabilities = pipeline.predict_run(args.run_dir, args.file, format=args.format, header=args.header)
    lines = ["index,prediction,probability\n"]
    lines += [f"{i},{c},{p:.4f}\n" for i, (c, p) in enumerate(zip(classes.tolist(), probabilities.tolist()))]
    if args.out:
        with atomic.open_for_replace(args.out, "w") as f:
            f.writelines(lines)
    else:
        sys.stdout.writelines(lines)
    return 0

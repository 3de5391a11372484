"""``fnnet evaluate``: a run's best parameters on its own splits or on a data file, as a
table or JSON."""

from __future__ import annotations

import json

from fnnet.runs import pipeline


def evaluate_command(args) -> int:
    """``fnnet evaluate RUN_DIR [--data FILE] [--json]``; 0 on success."""
    results = pipeline.evaluate_run(args.run_dir, args.data, format=args.format, label_column=args.label_column,
                                    header=args.header)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'':<12}{'loss':>10}{'accuracy':>10}{'examples':>10}")
        for name, m in results.items():
            print(f"{name:<12}{m['loss']:>10.4f}{m['accuracy']:>10.2%}{m['examples']:>10}")
    return 0

"""``fnnet worked-example``: the notes' 2-2-2 backprop example, figure by figure, beside
the notes' own figures (or as JSON)."""

from __future__ import annotations

import json


def worked_example_command(args) -> int:
    """``fnnet worked-example [--steps N] [--json]``; 0 on success."""
    from fnnet import worked_example as we

    figures = we.report(args.steps)
    if args.json:
        print(json.dumps({"figures": figures, "notes_quotes": we.NOTES_QUOTES}, indent=2))
    else:
        print(we.format_report(figures))
    return 0

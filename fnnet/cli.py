"""The ``fnnet`` command."""

from __future__ import annotations

import argparse
import json
import sys


def _worked_example(args) -> int:
    from fnnet import worked_example as we

    figures = we.report(args.steps)
    if args.json:
        print(json.dumps({"figures": figures, "seed_quotes": we.SEED_QUOTES}, indent=2))
        return 0
    quotes = we.SEED_QUOTES
    print("The seed's worked example: 2-2-2 sigmoid network, squared error, eta = 0.5, float64")
    print(f"{'figure':<22}{'fnnet':>22}{'seed':>16}")
    for name, value in figures.items():
        if not isinstance(value, dict):
            seed = quotes.get(name)
            print(f"{name:<22}{value:>22.12g}{'' if seed is None else format(seed, '.9g'):>16}")
    for label, run in (("gradient descent", "gradient_descent"), ("seed's code order", "seed_order"),
                       ("biases trained too", "biases_trained")):
        r = figures[run]
        steps = r["steps"]
        print(f"\n{label}: E after 1 update {r['E_after_1']:.10g}, after {steps} updates "
              f"{r[f'E_after_{steps}']:.6g}, outputs ({r['out_o1']:.7g}, {r['out_o2']:.7g})")
    print(f"\nseed quotes: E after 1 update {quotes['E_after_1']}, after 10000 updates "
          f"{quotes['E_after_10000']}, outputs ({quotes['out_o1_after_10000']}, "
          f"{quotes['out_o2_after_10000']}).\nThose match the seed's code order, which computes the "
          "hidden deltas with the already-updated output weights; gradient descent updates every "
          "weight from the same gradient.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fnnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("worked-example", help="the seed's 2-2-2 backprop example, step by step")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--steps", type=int, default=10_000, help="number of updates (default 10000)")
    p.set_defaults(run=_worked_example)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

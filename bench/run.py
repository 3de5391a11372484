"""The benchmark command: ``python -m bench`` or ``python bench/run.py``.

Every figure is a ratio against baselines measured in the same process on the same
device: the pure-JAX scan ceiling, the peers, and this device's matmul throughput.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: put the repository root, not bench/, first on the path, so that
    # `bench` imports as a package and its modules shadow nothing.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from bench import report, targets, timing  # noqa: E402
from bench.configs import CONFIGS, make_data  # noqa: E402
from bench.contenders import CEILING, CONTENDERS, Skip, Task, select  # noqa: E402

PROBE = "matmul peak"
#: Each round keeps calling a runner until this long has passed, so fast runners get many
#: samples; slow ones are called once per round.
MIN_ROUND_S = 0.5


def _config_name(text: str) -> str:
    if text == "seed":  # its name before "seed" came to mean only a random seed
        print("python -m bench: --config seed is now --config worked-example", file=sys.stderr)
        return "worked-example"
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", choices=list(CONFIGS), metavar="NAME", type=_config_name,
                        help=f"run this configuration (repeatable; default all): {', '.join(CONFIGS)}")
    parser.add_argument("--contenders", action="append", metavar="KEYS",
                        help="comma-separated contenders to run (repeatable; default all; the "
                             f"ceiling '{CEILING}' always runs): "
                             f"{', '.join(c.key for c in CONTENDERS)}")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test in seconds: a few updates, one repetition, small peak matmul")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds after the warm-up call (default 3; 1 with --quick); in a round each "
                             f"contender is called until {MIN_ROUND_S} s have passed, at least once")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Run the selected configurations and contenders; print the table (and write JSON)."""
    args = build_parser().parse_args(argv)
    keys = [k.strip() for group in args.contenders or () for k in group.split(",") if k.strip()]
    try:
        contenders = select(keys)
    except ValueError as e:
        build_parser().error(str(e))
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        build_parser().error("--repeats must be at least 1")

    import jax

    accelerator = jax.default_backend() != "cpu"
    peak_n = 1024 if args.quick else (8192 if accelerator else 2048)
    names = {c.key: c.name for c in contenders}
    device = report.device_info()
    print(f"fnnet benchmark on {device['platform']} ({device['kind']}), jax {jax.__version__}.\n"
          f"TFLOP/s counts {report.FLOP_COUNT}.\n{report.COLUMNS}")

    probes, peaks, all_rows, skipped, notes, config_docs = {}, {}, [], [], [], []
    for name in args.config or list(CONFIGS):
        config = CONFIGS[name]
        if config.accelerator_only and not accelerator:
            notes.append(f"{name}: accelerator-only, skipped on {device['platform']}")
            print(f"\n== {name}: skipped (accelerator-only; this run is on {device['platform']})")
            continue
        if args.quick:
            config = config.shrunk()
        dtype = config.matmul_dtype
        if dtype not in probes:
            probes[dtype] = timing.MatmulProbe(dtype, peak_n)
        x, t = make_data(config)
        task = Task(config, x, t, config.accel_epochs if accelerator else config.epochs, accelerator)
        runners, config_skipped = {}, []
        for c in contenders:
            if c.only is not None and name not in c.only:
                continue
            try:
                runners[c.key] = c.make(task)
            except Skip as e:
                config_skipped.append(f"{c.name}: {e}")
                skipped.append({"config": name, "contender": c.name, "reason": str(e)})
        _progress(f"[bench] {name}: {len(runners)} contenders x (1 warm-up + {repeats}) calls "
                  f"of {task.updates} updates")
        # The matmul probe runs among the contenders, so the peak is measured alongside them;
        # it keeps the best it has seen in this run, since the device's peak does not change.
        timed = {**{k: r.run for k, r in runners.items()}, PROBE: probes[dtype]}
        stats = timing.interleaved(timed, repeats, min_round_s=0.0 if args.quick else MIN_ROUND_S)
        del stats[PROBE]
        peak = peaks[dtype] = probes[dtype].to_json()
        losses = {k: r.last_loss() for k, r in runners.items()}
        config_rows = report.rows(config, task.updates, stats, names, losses, peak, CEILING)
        print()
        print(report.table(config, task.updates, repeats, config_rows, config_skipped, peak))
        all_rows += config_rows
        config_docs.append({**config.to_json(), "updates_per_repetition": task.updates, "matmul_peak": peak})
        del runners, task  # frees each contender's parameters before the next configuration

    # A quick run's timings mean nothing, so it checks no targets.
    results = [] if args.quick else targets.check(all_rows, on_cpu=not accelerator)
    if results:
        print()
        print(targets.lines(results))
    if args.json:
        doc = report.record(quick=args.quick, repeats=repeats, configs=config_docs, peaks=peaks,
                            all_rows=all_rows, skipped=skipped, notes=notes, targets=results)
        report.write_json(args.json, doc)
        _progress(f"[bench] wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

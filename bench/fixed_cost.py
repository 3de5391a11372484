"""fit's fixed cost per call, measured: ``python -m bench.fixed_cost``.

The worked example with one update per call, so the call is all there is: ``fit``, the
compiled program it calls (plus reading its finite flag, as fit does), and the pure-JAX
scan's program, interleaved as in ``python -m bench``. fit minus its program is fit's host
work (its plan, the history, the state); its program minus the scan's is what fnnet's
program carries beyond the scan (a key, the epoch count, the finite flag and its check).
"""

from __future__ import annotations

import argparse
import sys


def measure(rounds: int = 5, min_round_s: float = 0.5) -> dict:
    """Best µs per call of ``fit``, ``program`` and ``scan`` (one update each)."""
    import jax
    import numpy as np

    from bench import timing
    from bench.configs import CONFIGS, make_data
    from bench.contenders import fnnet_fit, pure_jax
    from bench.contenders.common import Task
    from fnnet import losses
    from fnnet.training import fit_plan

    config = CONFIGS["worked-example"]
    task = Task(config, *make_data(config), epochs=1, accelerator=jax.default_backend() != "cpu")
    net, params, loss, optimizer = fnnet_fit._setup(config)
    key, x, t = jax.random.key(1), task.x_dev, task.t_dev
    plan, *_ = fit_plan.plan(net, losses.get(loss), optimizer, params, x, t, None, epochs=1, batch_size=1,
                             grad="autodiff", accuracy=None, eval_batch_size=1024, learning_rate=None,
                             per_epoch=False, new_run=True)
    one = fit_plan.device_int(1)

    def program():
        new_params, _, metrics = plan.program(plan.values, params, key, x, t, None, one, None)
        np.asarray(metrics["finite"])
        jax.block_until_ready(new_params)

    runners = {"fit": fnnet_fit.make_autodiff(task).run, "program": program,
               "scan": pure_jax.make_scan(task).run}
    stats = timing.interleaved(runners, rounds, min_round_s=min_round_s)
    return {name: s["best_s"] * 1e6 for name, s in stats.items()}


def report(us: dict, updates: int = 10_000, update_us: float | None = None) -> str:
    """The figures as text; with ``update_us`` (the scan's µs per update at ``updates``
    per call) also the fixed cost's share of such a call."""
    host, carried = us["fit"] - us["program"], us["program"] - us["scan"]
    lines = [f"fit, one update per call (worked example): {us['fit']:.1f} µs",
             f"  its compiled program + reading the flag:  {us['program']:.1f} µs  (fit's host work {host:.1f} µs)",
             f"  the pure-JAX scan's program:              {us['scan']:.1f} µs  (fnnet's program carries "
             f"{carried:.1f} µs more)"]
    if update_us is not None:
        call = updates * update_us
        lines.append(f"  at {updates:,} updates of {update_us:.3f} µs per call: {host + carried:.1f} µs over the "
                     f"scan, {(host + carried) / call:.1%} of the call")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fixed_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--update-us", type=float, default=None,
                        help="the scan's µs per update at 10,000 per call (from python -m bench), to "
                             "report the fixed cost's share of such a call")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print(report(measure(args.rounds), update_us=args.update_us))
    return 0


if __name__ == "__main__":
    sys.exit(main())

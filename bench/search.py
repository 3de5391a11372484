"""Structure-search throughput: candidates evaluated (trained, then scored on validation and
test) per second by ``fnnet.search`` on digits as 8×8 images (population 64, 5
generations, the default space of fully connected and convolutional candidates: one
compiled program per depth or convolutional signature, ``fnnet.structure.padding``) against the same candidates trained one
after another with ``fnnet.fit`` (``fnnet train``'s network and optimizer for each, then
``fnnet.evaluate``).

    python -m bench.search [--population 64] [--generations 5] [--epochs 10] [--timed 12] [--json PATH]

Both start cold, compilation included. The search's first generation compiles its
programs; later generations reuse them where their groups' padded shapes recur (widths
rounded to powers of two, members trained ``fnnet.structure.trainer.per_program()`` at a
time), so it is reported on its own as well as the whole search. A fit per candidate compiles each.
The sequential baseline is linear in the candidates: ``--timed`` of them, spread evenly
over the search's, are run and the time is scaled (marked ``~``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _sequential(candidates, splits, classes, epochs, batch_size, seed) -> float:
    import jax

    from fnnet import evaluate, fit
    from fnnet.runs import preparation, settings

    start = time.perf_counter()
    for i, c in enumerate(candidates):
        shape = list(splits["train"][0].shape[1:])  # digits as 8x8x1 images: dense candidates flatten them
        config = {**settings.with_defaults(**c.settings()), "in_shape": shape, "in_features": int(np.prod(shape)),
                  "classes": classes}
        net, loss, optimizer = preparation.build(config)
        key = jax.random.key(seed + i)
        result = fit(net, loss, optimizer, net.init(jax.random.fold_in(key, 0)), splits["train"],
                     key=jax.random.fold_in(key, 1), epochs=epochs, batch_size=batch_size)
        for name in ("val", "test"):
            evaluate(net, loss, result.params, splits[name])
    return time.perf_counter() - start


def main(argv=None) -> dict:
    """Run the benchmark, print its table, return its figures."""
    p = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--population", type=int, default=64)
    p.add_argument("--generations", type=int, default=5)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--timed", type=int, default=12, help="sequential candidates actually run (default 12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)

    import jax

    from bench import report
    import fnnet
    from fnnet.structure import trainer

    splits, _, classes = fnnet.load_splits(data="digits")
    jax.block_until_ready(jax.jit(lambda a: a + 1)(np.float32(0)))  # the backend's start, for neither side
    start = time.perf_counter()
    ends = []
    result = fnnet.search(splits, fnnet.SearchSpace(), population=args.population, generations=args.generations,
                          seed=args.seed, epochs=args.epochs, on_generation=lambda g: ends.append(time.perf_counter()))
    searched, first = time.perf_counter() - start, ends[0] - start
    trained = sorted(result.leaderboard, key=lambda e: e.generation)  # each candidate trained once
    assert len(trained) == sum(g.evaluated for g in result.generations)
    timed = min(args.timed, len(trained))
    sample = [trained[i * len(trained) // timed].candidate for i in range(timed)]
    per_fit = _sequential(sample, splits, classes, args.epochs, 32, args.seed) / timed
    gen1 = result.generations[0].evaluated
    figures = {"population": args.population, "generations": len(result.generations), "epochs": args.epochs,
               "evaluated": len(trained), "programs": [g.programs for g in result.generations],
               "per_program": trainer.per_program(),
               "first_generation_s": first, "first_generation_speedup": per_fit * gen1 / first,
               "search_s": searched, "search_cand_per_s": len(trained) / searched,
               "fit_s_per_candidate": per_fit, "fit_cand_per_s": 1 / per_fit,
               "speedup": per_fit * len(trained) / searched, "fit_timed": timed,
               "kind": "search", "jax": jax.__version__, "device": report.device_info()}
    scaled = "~" if timed < len(trained) else ""
    print(f"{'':<40}{'candidates':>11}{'seconds':>10}{'cand/s':>10}{'speedup':>9}")
    print(f"{'search, first generation (cold)':<40}{gen1:>11}{first:>10.1f}{gen1 / first:>10.2f}"
          f"{figures['first_generation_speedup']:>8.1f}x")
    print(f"{f'search, {len(result.generations)} generations':<40}{len(trained):>11}{searched:>10.1f}"
          f"{figures['search_cand_per_s']:>10.2f}{figures['speedup']:>8.1f}x")
    print(f"{'fnnet.fit, one by one':<40}{len(trained):>11}{scaled + f'{per_fit * len(trained):.1f}':>10}"
          f"{1 / per_fit:>10.2f}{1:>8.1f}x   (timed {timed}, scaled)")
    print(f"programs per generation: {figures['programs']}; {figures['per_program']} members per call; "
          f"{args.epochs} epochs per candidate; on {figures['device']['kind']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)
    return figures


if __name__ == "__main__":
    main()

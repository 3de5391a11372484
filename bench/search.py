"""Structure-search throughput: candidates evaluated (trained, then scored on validation and
test) per second, for one generation of ``fnnet.search`` on digits (population 64: one
compiled program per depth, ``fnnet.search_pad``) against the same 64 candidates trained one
after another with ``fnnet.fit`` (``fnnet train``'s network and optimizer for each, then
``fnnet.step.evaluate``).

    python -m bench.search [--population 64] [--epochs 10] [--timed 8] [--json PATH]

Both are timed cold, compilation included: a generation's candidates are new networks, so
a search pays for its compiled programs every generation it cannot reuse them, and a fit
per candidate compiles each. The sequential baseline is linear in the candidates: only the
first ``--timed`` are run and the time is scaled (marked ``~``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _sequential(candidates, splits, classes, epochs, batch_size, seed) -> float:
    import jax

    from fnnet import prepare, settings
    from fnnet.fit import fit
    from fnnet.step import evaluate

    start = time.perf_counter()
    for i, c in enumerate(candidates):
        config = {**settings.settings(**c.settings()), "in_features": 64, "classes": classes}
        net, loss, optimizer = prepare.build(config)
        key = jax.random.key(seed + i)
        result = fit(net, loss, optimizer, net.init(jax.random.fold_in(key, 0)), splits["train"],
                     key=jax.random.fold_in(key, 1), epochs=epochs, batch_size=batch_size)
        for name in ("val", "test"):
            evaluate(net, loss, result.params, *splits[name])
    return time.perf_counter() - start


def main(argv=None) -> dict:
    """Run the benchmark, print its table, return its figures."""
    p = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--population", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--timed", type=int, default=8, help="sequential candidates actually run (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)

    import jax

    from fnnet import search
    from fnnet.search_space import SearchSpace

    splits, _, classes = search.load_splits(data="digits")
    jax.block_until_ready(jax.jit(lambda a: a + 1)(np.float32(0)))  # the backend's start, for neither side
    space = SearchSpace()
    start = time.perf_counter()
    result = search.search(splits, space, population=args.population, generations=1, seed=args.seed,
                           epochs=args.epochs)
    searched = time.perf_counter() - start
    # The candidates of the search's first generation: the same Generator draws.
    rng = np.random.default_rng(args.seed)
    candidates = [space.sample(rng) for _ in range(args.population)]
    assert sorted(map(repr, candidates)) == sorted(repr(e.candidate) for e in result.leaderboard)
    timed = min(args.timed, args.population)
    sequential = _sequential(candidates[:timed], splits, classes, args.epochs, 32, args.seed) * args.population / timed
    figures = {"population": args.population, "epochs": args.epochs, "programs": result.generations[0].programs,
               "search_s": searched, "search_cand_per_s": args.population / searched,
               "fit_s": sequential, "fit_cand_per_s": args.population / sequential,
               "speedup": sequential / searched, "fit_timed": timed, "device": jax.devices()[0].device_kind}
    scaled = "~" if timed < args.population else ""
    print(f"{'':<34}{'seconds':>10}{'cand/s':>10}")
    print(f"{'search, one generation':<34}{searched:>10.1f}{figures['search_cand_per_s']:>10.2f}"
          f"   ({figures['programs']} compiled programs)")
    print(f"{f'fnnet.fit x {args.population}, one by one':<34}{scaled + f'{sequential:.1f}':>10}"
          f"{figures['fit_cand_per_s']:>10.2f}   (timed {timed}, scaled)")
    print(f"speedup: {figures['speedup']:.1f}x on {figures['device']}, {args.epochs} epochs per candidate")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)
    return figures


if __name__ == "__main__":
    main()

"""Ensemble throughput: ``fnnet.fit_many`` trains N networks of one shape in one
vmapped compiled program (and, as "1 at a time", with ``members_at_once=1``: one program
that loops over the members); against it, N separate ``fnnet.fit`` calls one after
another and N Equinox per-step loops (``bench.contenders.peer_equinox``, the peer's
documented pattern). The figure is aggregate model-updates per second: members × updates
per member / seconds.

    python -m bench.ensemble [--quick] [--members 1 8 64 512] [--nets digits mnist] [--json PATH]

The baselines run member after member, so their time is linear in N: for N above
``--timed-members`` (default 4) only that many members are timed and the time is scaled
by N / timed (marked ``~`` in the table). Every call is made once to warm up (compile)
before ``bench.timing.interleaved`` times it.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
from dataclasses import replace

from bench import report, timing
from bench.ensemble_report import COLUMNS, summarize, table
from bench.configs import ADAM_LR, Config, make_data
from bench.contenders import fnnet_fit, peer_equinox
from bench.contenders.common import Skip, Task

#: The networks. ``digits`` is what ``fnnet train`` builds on the bundled digits by default
#: (fnnet.runs.settings.DEFAULTS: one hidden layer of 256 ReLU, Adam 1e-3, batch 32, about 1,150
#: training examples) less its dropout 0.2 and validation pass, so that all three contenders
#: train the same network; the data are synthetic, of digits' shape. ``mnist`` is
#: bench.configs' mnist with fewer examples, so N = 512 (340M parameters) fits a CPU run.
#: ``xor`` is the notes' 2-5-2 sigmoid network on 4 examples, full batch.
NETS = {
    # The notes' XOR network: a member is a few flops, so N of them fill the cores.
    "xor": Config("xor", (2, 5, 2), batch=4, examples=4, epochs=500, accel_epochs=500, activation="sigmoid"),
    "digits": Config("digits", (64, 256, 10), batch=32, examples=32 * 36, epochs=2, accel_epochs=20),
    "mnist": Config("mnist", (784, 512, 512, 10), batch=128, examples=128 * 4, epochs=1, accel_epochs=20),
}
MEMBERS = (1, 8, 64, 512)
QUICK_MEMBERS = (1, 2)


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = argparse.ArgumentParser(prog="python -m bench.ensemble", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, nargs="+", help=f"ensemble sizes N (default {MEMBERS})")
    p.add_argument("--nets", nargs="+", choices=list(NETS), help="networks (default all)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke test in seconds: tiny data, N 1 and 2, one timed member")
    p.add_argument("--timed-members", type=int, default=None,
                   help="members the baselines time before extrapolating (default 4; 1 with --quick)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds after the warm-up (default 2)")
    p.add_argument("--max-call-s", type=float, default=120.0,
                   help="skip an N whose fit_many call is predicted (linearly from the last N) to take longer")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    return p


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _params_count(sizes) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _memory_ok(config: Config, n: int) -> bool:
    """Whether N members fit the memory available now: fit_many peaked at about 12.7× the
    parameters' bytes on CPU (mnist, N = 512: 17.4 GB resident), so this allows 13×."""
    try:
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return True
    return n * _params_count(config.sizes) * 4 * 13 < available


class NetBench:
    """One network's data, loss, optimizer and baseline runners, shared by every N (so the
    baselines compile once per network, not once per N)."""

    def __init__(self, config: Config, timed_members: int, accelerator: bool):
        import jax
        import fnnet

        self.config, self.timed_members = config, timed_members
        x, t = make_data(config)
        self.task = Task(config, x, t, config.accel_epochs if accelerator else config.epochs, accelerator)
        self.data = (self.task.x_dev, self.task.t_dev)
        self.net = fnnet_fit.network(config)
        self.loss = fnnet.losses.cross_entropy(from_logits=True)
        # One optimizer object: both fit and fit_many cache their compiled programs on it.
        self.optimizer = fnnet.optim.adam(ADAM_LR)
        try:
            self.equinox = [peer_equinox.make(self.task) for _ in range(timed_members)]
            self.skip_equinox = None
        except Skip as e:
            self.equinox, self.skip_equinox = [], str(e)
        self.key = jax.random.key(0)

    def stacked(self, n: int):
        """N members' initial parameters and run keys, as fit_many takes them."""
        import jax
        import jax.numpy as jnp

        k_init, k_run = jax.random.split(self.key)
        # jitted: one compile, where eager vmapped init compiles each of its ops.
        init = jax.jit(jax.vmap(lambda k: self.net.init(k, jnp.float32)))
        return init(jax.random.split(k_init, n)), jax.random.split(k_run, n)

    def fit_many(self, params, keys, at_once=None):
        import jax

        import fnnet

        result = fnnet.fit_many(self.net, self.loss, self.optimizer, params, self.data, keys=keys,
                                epochs=self.task.epochs, batch_size=self.config.batch, members_at_once=at_once)
        jax.block_until_ready(result.params)
        return result

    def fit(self, params, key):
        import jax
        import fnnet

        result = fnnet.fit(self.net, self.loss, self.optimizer, params, self.data, key=key,
                           epochs=self.task.epochs, batch_size=self.config.batch)
        jax.block_until_ready(result.params)
        return result


def _rel_diff(a, b, origin) -> float:
    """||a − b|| / ||b − origin|| over every leaf: how far fit_many's member is from the
    same member trained alone, relative to how far training moved it."""
    import jax
    import numpy as np

    def norm(x, y):
        return math.sqrt(sum(float(np.sum((np.asarray(p, np.float64) - np.asarray(q, np.float64)) ** 2))
                             for p, q in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True)))
    moved = norm(b, origin)
    return norm(a, b) / moved if moved else float("inf")


def measure(bench: NetBench, n: int, repeats: int, min_round_s: float) -> dict:
    """One row: fit_many on N members, and the baselines on min(N, timed) of them."""
    import jax

    params, keys = bench.stacked(n)
    k = min(n, bench.timed_members)
    members = [jax.tree.map(lambda a, i=i: a[i], params) for i in range(k)]
    last = {}

    def run_many():
        last["many"] = bench.fit_many(params, keys)

    def run_loop():
        last["loop"] = bench.fit_many(params, keys, at_once=1)

    def run_fits():
        last["fit"] = [bench.fit(members[i], keys[i]) for i in range(k)][0]

    def run_equinox():
        # optax's own adam raises a float to an int32 count, which strict promotion (the
        # tests' setting) refuses; fnnet.optim's adam does not.
        with jax.numpy_dtype_promotion("standard"):
            for runner in bench.equinox[:k]:
                runner.run()

    runners = {"fit_many": run_many, "fit_many_loop": run_loop, "fit": run_fits}
    if bench.equinox:
        runners["equinox"] = run_equinox
    stats = timing.interleaved(runners, repeats, min_round_s)
    updates = bench.task.updates
    losses = [h[-1]["loss"] for h in last["many"].histories]
    row = {"net": bench.config.name, "members": n, "updates_per_member": updates, "timed_members": k,
           "extrapolated": k < n, "fit_many_s": stats["fit_many"]["best_s"],
           "fit_many_first_s": stats["fit_many"]["first_s"],
           "fit_many_ups": n * updates / stats["fit_many"]["best_s"],
           "fit_many_loop_ups": n * updates / stats["fit_many_loop"]["best_s"],
           "fit_s": stats["fit"]["best_s"] * n / k, "fit_ups": k * updates / stats["fit"]["best_s"],
           "fit_many_last_loss_mean": sum(losses) / n, "fit_many_last_loss_max": max(losses),
           "member0_rel_diff": _rel_diff(jax.tree.map(lambda a: a[0], last["many"].params),
                                         last["fit"].params, members[0])}
    if "equinox" in stats:
        row.update(equinox_s=stats["equinox"]["best_s"] * n / k,
                   equinox_ups=k * updates / stats["equinox"]["best_s"])
    # The process's peak so far: with N growing, the largest N's fit_many sets it.
    row["max_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    row["vs_fit"] = row["fit_many_ups"] / row["fit_ups"]
    row["loop_vs_fit"] = row["fit_many_loop_ups"] / row["fit_ups"]
    row["vs_equinox"] = row["fit_many_ups"] / row["equinox_ups"] if "equinox_ups" in row else None
    return row


def main(argv=None) -> int:
    """Run every network at every N; print the table (and write JSON)."""
    args = build_parser().parse_args(argv)
    members = tuple(args.members or (QUICK_MEMBERS if args.quick else MEMBERS))
    timed = args.timed_members or (1 if args.quick else 4)
    repeats = args.repeats or (1 if args.quick else 2)
    if min(members) < 1 or timed < 1 or repeats < 1:
        build_parser().error("--members, --timed-members and --repeats must be at least 1")
    import jax

    accelerator = jax.default_backend() != "cpu"
    device = report.device_info()
    print(f"fnnet ensemble throughput on {device['platform']} ({device['kind']}; {device['host']}, "
          f"{device['host_cpus']} CPUs), jax {jax.__version__}.\nAggregate model-updates per second = members × "
          f"updates per member / seconds (best of {repeats} rounds after a warm-up). '~': the baseline timed "
          f"{timed} members and scaled linearly to N.")
    rows, notes, configs = [], [], []
    for name in args.nets or list(NETS):
        config = NETS[name]
        if args.quick:
            config = replace(config, batch=16, examples=32, epochs=1, accel_epochs=1)
        bench = NetBench(config, timed, accelerator)
        if bench.skip_equinox:
            notes.append(f"{name}: Equinox skipped ({bench.skip_equinox})")
        configs.append({**config.to_json(), "updates_per_member": bench.task.updates,
                        "params_per_member": _params_count(config.sizes)})
        previous = None
        for n in sorted(set(members)):
            predicted = None if previous is None else previous["fit_many_s"] * n / previous["members"]
            if predicted is not None and predicted > args.max_call_s or not _memory_ok(config, n):
                why = (f"predicted {predicted:.0f} s per fit_many call > --max-call-s {args.max_call_s:g}"
                       if predicted is not None and predicted > args.max_call_s else "too little free memory")
                notes.append(f"{name}: N = {n} and above skipped ({why})")
                _progress(f"[bench.ensemble] {notes[-1]}")
                break
            _progress(f"[bench.ensemble] {name}: N = {n}, {bench.task.updates} updates per member")
            previous = measure(bench, n, repeats, 0.0 if args.quick else 0.5)
            rows.append(previous)
        del bench
    summary = summarize(rows)
    print()
    print(table(rows, summary))
    for note in notes:
        print(f"- {note}")
    if args.json:
        doc = {"kind": "ensemble", "quick": args.quick, "repeats": repeats, "timed_members": timed,
               "device": device, "jax": jax.__version__, "nets": configs, "rows": rows, "summary": summary,
               "notes": notes, "columns": list(COLUMNS)}
        report.write_json(args.json, doc)
        _progress(f"[bench.ensemble] wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

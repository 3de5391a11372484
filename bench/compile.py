"""What a research loop pays to compile: ``python -m bench.compile``.

Each configuration runs in a fresh process (no compiled program in memory, no
persistent cache), as a script's first lines would:

- ``first fit``: the first ``fnnet.fit`` call (validation data, 2 epochs), its wall time,
  the programs XLA compiled for it and their compile seconds;
- ``new rate``: a second fit with a fresh optimizer object at another learning rate
  (``fnnet.optim.adam`` made again), the same for it;
- ``loop of 8``: fits over 8 (seed, rate) pairs, each with a fresh optimizer: the first
  call's wall time and the mean of the 7 later ones;
- ``fit_many``: the same 8 members in one ``fnnet.fit_many`` call (rates as per-member
  hyperparameters), compiling included.

    python -m bench.compile [--configs worked-example digits digits-cnn mnist] [--json PATH]

Compiled programs are counted from JAX's monitoring events; wall times are single runs
(compilation dominates them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

#: name -> (network builder source, examples, batch, validation examples)
CONFIGS = {
    "worked-example": ("fnnet.mlp([2, 2, 2], 'sigmoid', 'sigmoid')", 1, 1, 1),
    "digits": ("fnnet.mlp([64, 256, 10])", 1168, 32, 270),
    "digits-cnn": ("fnnet.Network((8, 8, 1), (fnnet.Conv2D(16, 3, 'relu', padding='SAME'), fnnet.MaxPool2D(2), "
                   "fnnet.Conv2D(32, 3, 'relu', padding='SAME'), fnnet.MaxPool2D(2), fnnet.Flatten(), "
                   "fnnet.Dense(10)))", 1168, 32, 270),
    "mnist": ("fnnet.mlp([784, 512, 512, 10])", 1024, 128, 256),
}

# One configuration, in its own process; prints one JSON line.
PROBE = r"""
import json, sys, time
import jax, numpy as np
compiled = []
jax.monitoring.register_event_duration_secs_listener(
    lambda name, secs, **kw: compiled.append(secs) if name == "/jax/core/compile/backend_compile_duration" else None)
import fnnet
from fnnet import optim
net = eval(sys.argv[1])
n, batch, n_val = (int(a) for a in sys.argv[2:5])
rng = np.random.default_rng(0)
shape = net.in_shape
x = rng.normal(size=(n, *shape)).astype(np.float32); xv = rng.normal(size=(n_val, *shape)).astype(np.float32)
classes = net.out_shape[-1]
t = rng.integers(0, classes, n).astype(np.int32); tv = rng.integers(0, classes, n_val).astype(np.int32)
loss = "cross_entropy_logits" if "sigmoid" not in sys.argv[1] else "squared_error"
if loss == "squared_error":
    t = np.eye(classes, dtype=np.float32)[t]; tv = np.eye(classes, dtype=np.float32)[tv]

def fit(seed, lr):
    start, before, secs = time.perf_counter(), len(compiled), sum(compiled)
    r = fnnet.fit(net, loss, optim.adam(lr), net.init(jax.random.key(seed)), (x, t), key=jax.random.key(seed),
                  epochs=2, batch_size=batch, validation_data=(xv, tv))
    jax.block_until_ready(r.params)
    return time.perf_counter() - start, len(compiled) - before, sum(compiled) - secs

out = {}
out["first_fit_s"], out["first_fit_programs"], out["first_fit_compile_s"] = fit(0, 1e-3)
out["new_rate_s"], out["new_rate_programs"], out["new_rate_compile_s"] = fit(0, 2e-3)
loop = [fit(seed, lr) for seed, lr in zip(range(1, 9), np.geomspace(1e-4, 1e-2, 8))]
out["loop_first_s"] = loop[0][0]
out["loop_later_s"] = sum(s for s, _, _ in loop[1:]) / 7
out["loop_programs"] = sum(p for _, p, _ in loop)
start, before = time.perf_counter(), len(compiled)
keys = jax.random.split(jax.random.key(9), 8)
r = fnnet.fit_many(net, loss, lambda learning_rate: optim.adam(learning_rate), jax.vmap(net.init)(keys), (x, t),
                   keys=keys, epochs=2, batch_size=batch, validation_data=(xv, tv),
                   hyperparams={"learning_rate": np.geomspace(1e-4, 1e-2, 8).astype(np.float32)})
jax.block_until_ready(r.params)
out["fit_many_s"], out["fit_many_programs"] = time.perf_counter() - start, len(compiled) - before
print(json.dumps(out))
"""


def measure(name: str) -> dict:
    """One configuration's figures, from a fresh process."""
    source, n, batch, n_val = CONFIGS[name]
    proc = subprocess.run([sys.executable, "-c", PROBE, source, str(n), str(batch), str(n_val)],
                          capture_output=True, text=True, env=_env())
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    return {**os.environ, "FNNET_CACHE_DIR": ""}  # cold: nothing from an earlier process


def table(results: dict) -> str:
    """The Markdown table."""
    rows = ["| config | first fit s | programs | compile s | new rate s | programs | loop of 8: first s | "
            "later s (mean) | programs | fit_many of 8 s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        rows.append(f"| {name} | {r['first_fit_s']:.2f} | {r['first_fit_programs']} | {r['first_fit_compile_s']:.2f} "
                    f"| {r['new_rate_s']:.2f} | {r['new_rate_programs']} | {r['loop_first_s']:.2f} "
                    f"| {r['loop_later_s']:.3f} | {r['loop_programs']} | {r['fit_many_s']:.2f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(argv)
    results = {}
    for name in args.configs:
        print(f"{name} ...", file=sys.stderr, flush=True)
        results[name] = measure(name)
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

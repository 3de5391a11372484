"""The issue's speed targets for fnnet, checked against a run's rows (reported, never
asserted: timings on a shared machine are noisy)."""

from __future__ import annotations

from bench.configs import CONFIGS

PEERS = ("flax", "equinox", "haiku", "torch")
#: The convolutional configurations, CPU and accelerator alike.
CONVOLUTIONAL = tuple(name for name, c in CONFIGS.items() if c.convolutional)

#: (configuration or None for every one, the fnnet contender the target is for, the
#: contender it is compared with, the speedup it needs, whether it applies on CPU only).
TARGETS = (
    (None, "fnnet", "scan", 0.95, False),
    ("worked-example", "fnnet", "notes-python", 50.0, False),
    ("digits", "fnnet", "torch", 10.0, True),
    ("digits", "fnnet", "haiku", 2.0, True),
    ("digits", "fnnet", "equinox", 10.0, True),
    ("digits", "fnnet", "flax", 10.0, True),
    *(("mnist", "fnnet", peer, 1.4, True) for peer in PEERS),
    # Convolutions: the hand-written backward pass within 5% of jax.grad's, and fit ahead
    # of every loop that calls a jitted step once per minibatch.
    *((name, "fnnet-backprop", "fnnet", 0.95, False) for name in CONVOLUTIONAL),
    *((name, "fnnet", other, 1.0, False) for name in CONVOLUTIONAL for other in ("per-step", *PEERS)),
)


def check(rows: list[dict], on_cpu: bool) -> list[dict]:
    """One entry per target whose rows are present: the speedup of its fnnet contender over
    the other contender (the other's µs per update over its own) and whether it meets the
    need; for ``fnnet fit`` also the speedups of ``fit (backprop)`` and of the epochs
    program called directly."""
    by = {(r["config"], r["key"]): r for r in rows}
    configs = list(dict.fromkeys(r["config"] for r in rows))
    out = []
    for config, subject, other, need, cpu_only in TARGETS:
        if cpu_only and not on_cpu:
            continue
        for name in configs if config is None else [config]:
            base = by.get((name, other))
            if base is None or (name, subject) not in by:
                continue
            got = {k: base["us_per_update"] / by[(name, k)]["us_per_update"]
                   for k in ("fnnet", "fnnet-backprop", "fnnet-epochs") if (name, k) in by}
            ceiling = by.get((name, "scan"))
            fit = subject == "fnnet"
            out.append({"config": name, "subject": by[(name, subject)]["contender"], "versus": base["contender"],
                        "need": need, "got": got[subject],
                        "got_backprop": got.get("fnnet-backprop") if fit else None,
                        "got_epochs": got.get("fnnet-epochs") if fit else None,
                        # What the pure-JAX ceiling itself reaches: a bound on what fnnet can.
                        "ceiling_gets": None if ceiling is None or not fit
                        else base["us_per_update"] / ceiling["us_per_update"],
                        "met": got[subject] >= need})
    return out


def lines(results: list[dict]) -> str:
    """The targets as text, one per line."""
    if not results:
        return ""
    out = ["== targets: a speedup = the other's us/update / the fnnet contender's (noisy; the "
           "pure-JAX ceiling's own speedup bounds what fnnet can reach)"]
    for r in results:
        subject = r.get("subject", "fnnet fit")
        also = [] if r["got_backprop"] is None else [f"backprop {r['got_backprop']:.3g}x"]
        if r.get("got_epochs") is not None:
            also.append(f"epochs program {r['got_epochs']:.3g}x")
        if r["ceiling_gets"] is not None and r["versus"] != "pure-JAX scan":
            also.append(f"ceiling {r['ceiling_gets']:.3g}x")
        got = f"{r['got']:.3g}x"
        note = f" ({', '.join(also)})" if also else ""
        out.append(f"{r['config']:<10} {subject:<20} vs {r['versus']:<18} need >= {r['need']:<5g} got {got:<8}"
                   f"{'MET' if r['met'] else 'MISSED'}{note}".rstrip())
    return "\n".join(out)

"""The issue's speed targets for fnnet, checked against a run's rows (reported, never
asserted: timings on a shared machine are noisy)."""

from __future__ import annotations

PEERS = ("flax", "equinox", "haiku", "torch")

#: (configuration or None for every one, the contender fnnet is compared with, the speedup
#: fnnet needs, whether the target applies on CPU only).
TARGETS = (
    (None, "scan", 0.95, False),
    ("worked-example", "notes-python", 50.0, False),
    ("digits", "torch", 10.0, True),
    ("digits", "haiku", 2.0, True),
    ("digits", "equinox", 10.0, True),
    ("digits", "flax", 10.0, True),
    *(("mnist", peer, 1.4, True) for peer in PEERS),
)


def check(rows: list[dict], on_cpu: bool) -> list[dict]:
    """One entry per target whose rows are present: fnnet's speedup over the other contender
    (its µs per update over fnnet's), for ``fit``, ``fit (backprop)`` and the epochs
    program called directly, and whether ``fit`` meets it."""
    by = {(r["config"], r["key"]): r for r in rows}
    configs = list(dict.fromkeys(r["config"] for r in rows))
    out = []
    for config, other, need, cpu_only in TARGETS:
        if cpu_only and not on_cpu:
            continue
        for name in configs if config is None else [config]:
            base = by.get((name, other))
            if base is None or (name, "fnnet") not in by:
                continue
            got = {k: base["us_per_update"] / by[(name, k)]["us_per_update"]
                   for k in ("fnnet", "fnnet-backprop", "fnnet-epochs") if (name, k) in by}
            ceiling = by.get((name, "scan"))
            out.append({"config": name, "versus": base["contender"], "need": need,
                        "got": got["fnnet"], "got_backprop": got.get("fnnet-backprop"),
                        "got_epochs": got.get("fnnet-epochs"),
                        # What the pure-JAX ceiling itself reaches: a bound on what fnnet can.
                        "ceiling_gets": None if ceiling is None
                        else base["us_per_update"] / ceiling["us_per_update"],
                        "met": got["fnnet"] >= need})
    return out


def lines(results: list[dict]) -> str:
    """The targets as text, one per line."""
    if not results:
        return ""
    out = ["== targets: fnnet fit's speedup = the other's us/update / fnnet's (noisy; the "
           "pure-JAX ceiling's own speedup bounds what fnnet can reach)"]
    for r in results:
        backprop = "" if r["got_backprop"] is None else f", backprop {r['got_backprop']:.3g}x"
        if r.get("got_epochs") is not None:
            backprop += f", epochs program {r['got_epochs']:.3g}x"
        ceiling = ("" if r["ceiling_gets"] is None or r["versus"] == "pure-JAX scan"
                   else f", ceiling {r['ceiling_gets']:.3g}x")
        got = f"{r['got']:.3g}x"
        out.append(f"{r['config']:<8} vs {r['versus']:<18} need >= {r['need']:<5g} got {got:<8}"
                   f"{'MET' if r['met'] else 'MISSED':<7} (fnnet fit{backprop}{ceiling})")
    return "\n".join(out)

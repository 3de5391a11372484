"""Rows from timings, the table on stdout, and the JSON record."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform as platform_

from bench.configs import ADAM_LR, SEED_ETA, Config

FLOP_COUNT = ("6·N·Σ(in·out) FLOPs per update of a batch of N: 2 for the forward pass and 4 for "
              "the backward pass per weight and example (a convolution: 6·N·out_positions·k_h·k_w·c_in·c_out); "
              "biases, activations, poolings, loss and optimizer not counted")
COLUMNS = ("us/update and examples/s from the best call; % peak: of this device's measured matmul "
           "TFLOP/s in the same dtype; x ceiling: the pure-JAX scan's us/update / this row's (above 1 "
           "is faster); compile s: first call - best call (compiling and other one-off warm-up).")
STATISTIC = "best"  # of the timed repetitions; the median is kept beside it in the JSON


def rows(config: Config, updates: int, stats: dict, names: dict, losses: dict, peak: dict,
         ceiling: str) -> list[dict]:
    """One row per contender timed in ``config``; every figure from the best repetition."""
    flops = config.flops_per_update()
    ceiling_s = stats[ceiling][f"{STATISTIC}_s"] / updates
    out = []
    for key, s in stats.items():
        per = s[f"{STATISTIC}_s"] / updates
        tflops = flops / per / 1e12
        out.append({
            "config": config.name, "contender": names[key], "key": key, "updates": updates,
            "us_per_update": per * 1e6, "us_per_update_median": s["median_s"] / updates * 1e6,
            "examples_per_s": config.batch / per, "tflops": tflops,
            "pct_of_matmul_peak": 100 * tflops / peak["tflops"], "vs_ceiling": ceiling_s / per,
            # The first call compiles and then does one repetition's work.
            "compile_s": max(0.0, s["first_s"] - s["best_s"]), "first_call_s": s["first_s"],
            "calls": len(s["times_s"]), "last_loss": _finite_or_none(losses.get(key)),
        })
    return out


def _finite_or_none(value):
    # JSON has no NaN or infinity.
    return value if value is not None and math.isfinite(value) else None


def describe(config: Config) -> str:
    """One line naming the network, batch, optimizer, loss and dtype."""
    net = config.describe_net()
    act = config.activation + ("" if config.output == "identity" else f" ({config.output} output)")
    opt = f"SGD eta {SEED_ETA}" if config.optimizer == "sgd" else f"Adam lr {ADAM_LR:g}"
    loss = ("squared error (summed)" if config.loss == "squared_error"
            else "cross-entropy from logits (mean)")
    dtype = f"{config.compute_dtype} compute, float32 params" if config.compute_dtype else "float32"
    return f"{config.name}: {net} {act}, batch {config.batch}, {opt}, {loss}, {dtype}"


def table(config: Config, updates: int, repeats: int, config_rows: list[dict], skipped: list[str],
          peak: dict) -> str:
    """The configuration's block of the stdout table."""
    lines = [f"== {describe(config)}",
             f"   {updates} updates per call; {STATISTIC} call over {repeats} interleaved round(s) "
             f"after a warm-up call; matmul peak ({peak['dtype']}, {peak['n']}x{peak['n']}, best in "
             f"this run): {peak['tflops']:.3g} TFLOP/s",
             f"{'contender':<22}{'us/update':>11}{'examples/s':>12}{'TFLOP/s':>10}{'% peak':>10}"
             f"{'x ceiling':>11}{'compile s':>11}"]
    for r in config_rows:
        lines.append(f"{r['contender']:<22}{r['us_per_update']:>11.4g}{r['examples_per_s']:>12.4g}"
                     f"{r['tflops']:>10.3g}{r['pct_of_matmul_peak']:>9.3g}%{r['vs_ceiling']:>10.3g}x"
                     f"{r['compile_s']:>11.2f}")
    lines += [f"   skipped: {s}" for s in skipped]
    return "\n".join(lines)


def versions() -> dict:
    """Installed versions of Python and of every library a contender may use (None: absent);
    read from package metadata, so nothing is imported."""
    out = {"python": platform_.python_version()}
    for dist in ("fnnet", "jax", "jaxlib", "optax", "numpy", "flax", "equinox", "dm-haiku", "jmp", "torch"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def device_info() -> dict:
    """The JAX device everything runs on."""
    import jax

    device = jax.devices()[0]
    return {"platform": device.platform, "kind": device.device_kind, "name": str(device),
            "count": jax.device_count(), "host_cpus": os.cpu_count(), "host": _cpu_model()}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform_.processor() or platform_.machine()


def record(*, quick: bool, repeats: int, configs: list[dict], peaks: dict, all_rows: list[dict],
           skipped: list[dict], notes: list[str], targets: list[dict]) -> dict:
    """The JSON document ``--json`` writes."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device_info(), "versions": versions(), "jax_version": versions()["jax"],
        "quick": quick, "timing": {"repeats": repeats, "statistic": STATISTIC, "interleaved": True,
                                   "warm_up": "one untimed call per contender (compiles)"},
        "flop_count": FLOP_COUNT, "matmul_peak": peaks, "configs": configs, "rows": all_rows,
        "skipped": skipped, "notes": notes, "targets": targets,
    }


def write_json(path: str, doc: dict) -> None:
    """Write ``doc`` to ``path`` (indented)."""
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

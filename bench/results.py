"""Render ``bench/RESULTS.md`` from the JSON files of full runs (never edited by hand):

    python -m bench --json bench/results-cpu.json
    python -m bench.ensemble --json bench/results-ensemble-cpu.json
    python -m bench.search --json bench/results-search-cpu.json
    python -m bench --config conv1d --config digits-cnn --config lenet --json bench/results-conv-cpu.json
    python -m bench.results bench/results-cpu.json [bench/results-gpu.json ...] bench/results-conv-cpu.json \
        bench/results-ensemble-cpu.json bench/results-search-cpu.json > bench/RESULTS.md
"""

from __future__ import annotations

import json
import sys

from bench.configs import CONFIGS


def _run(doc: dict) -> list[str]:
    d, v = doc["device"], doc["versions"]
    peaks = ", ".join(f"{p['dtype']} {p['tflops']:.3g} TFLOP/s ({p['n']}×{p['n']})"
                      for p in doc["matmul_peak"].values())
    convolutional = bool(doc["configs"]) and all(c.get("layers") for c in doc["configs"])
    lines = [f"## {d['platform'].upper()}{', convolutional nets' if convolutional else ''}: {d['kind']} "
             f"({d['host']}, {d['host_cpus']} CPUs)", "",
             f"{doc['date']}; jax {v['jax']}, optax {v['optax']}, flax {v['flax']}, equinox "
             f"{v['equinox']}, dm-haiku {v['dm-haiku']}, torch {v['torch']}; best of "
             f"{doc['timing']['repeats']} interleaved rounds after a warm-up call. Measured matmul "
             f"peak: {peaks}. TFLOP/s counts {doc['flop_count']}.", ""]
    configs = {c["name"]: c for c in doc["configs"]}
    for name in dict.fromkeys(r["config"] for r in doc["rows"]):
        c = configs[name]
        lines += [f"### {name}: {c.get('network') or '-'.join(map(str, c['sizes']))}, batch {c['batch']}, "
                  f"{c['updates_per_repetition']} updates per call", "",
                  "| contender | µs/update | examples/s | TFLOP/s | % of matmul peak | × pure-JAX scan |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in (r for r in doc["rows"] if r["config"] == name):
            lines.append(f"| {r['contender']} | {r['us_per_update']:.4g} | {r['examples_per_s']:.3g} | "
                         f"{r['tflops']:.3g} | {r['pct_of_matmul_peak']:.3g}% | {r['vs_ceiling']:.3g} |")
        lines.append("")
    for s in doc["skipped"]:
        lines.append(f"- skipped in {s['config']}: {s['contender']}: {s['reason']}")
    lines += [f"- {n}" for n in doc["notes"]]
    if doc["targets"]:
        lines += ["", "| target | needed | fnnet fit | fit (backprop) | epochs program | pure-JAX scan | met |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for t in doc["targets"]:
            # A target for fit (backprop) has its speedup in that column and no others.
            subject = t.get("subject", "fnnet fit")
            fit = subject == "fnnet fit"
            ceiling = "1" if t["versus"] == "pure-JAX scan" else (
                "" if t["ceiling_gets"] is None else f"{t['ceiling_gets']:.3g}×")
            backprop = t["got"] if subject == "fnnet fit (backprop)" else t["got_backprop"]
            lines.append(f"| {t['config']}{'' if fit else ': ' + subject} vs {t['versus']} | {t['need']:g}× | "
                         f"{format(t['got'], '.3g') + '×' if fit else ''} | "
                         f"{'' if backprop is None else format(backprop, '.3g') + '×'} | "
                         f"{'' if t.get('got_epochs') is None else format(t['got_epochs'], '.3g') + '×'} | "
                         f"{ceiling} | {'yes' if t['met'] else 'no'} |")
    return lines + [""]


def _ensemble(doc: dict) -> list[str]:
    from bench.ensemble_report import table

    d = doc["device"]
    nets = "; ".join(f"{c['name']} {'-'.join(map(str, c['sizes']))}, batch {c['batch']}, "
                     f"{c['updates_per_member']} updates per member" for c in doc["nets"])
    return [f"## Ensembles on {d['platform'].upper()}: {d['kind']} ({d['host']}, {d['host_cpus']} CPUs)", "",
            f"`python -m bench.ensemble`, jax {doc['jax']}; best of {doc['repeats']} interleaved rounds after "
            f"a warm-up. Aggregate model-updates per second = members × updates per member / seconds. "
            f"`fit_many` trains N members in one vmapped program; \"1 at a time\" is `fit_many(..., "
            f"members_at_once=1)`, one program that loops over them; \"fit ×N\" is N `fit` calls, "
            f"\"Equinox ×N\" N per-step `eqx.filter_jit` loops; `~`: timed on {doc['timed_members']} members "
            f"and scaled to N. \"scaling\": throughput / (N × N = 1's); 1 is linear. Nets: {nets}.", "",
            table(doc["rows"], doc["summary"]), *(f"- {n}" for n in doc["notes"]), "",
            *(["Data parallelism (`fit(mesh=)`, `fit_many(mesh=)`) is tested on 8 virtual CPU devices for "
               "correctness only: they share this machine's cores, so their throughput means nothing.", ""]
              if d["platform"] == "cpu" else [])]


def _search(doc: dict) -> list[str]:
    d = doc["device"]
    gen1, n = doc["population"], doc["evaluated"]
    return [f"## Structure search on {d['platform'].upper()}: {d['kind']} ({d['host']}, {d['host_cpus']} CPUs)",
            "", f"`python -m bench.search`, jax {doc['jax']}: digits, population {doc['population']}, "
            f"{doc['generations']} generations, {doc['epochs']} epochs per candidate, cold (compiling "
            f"included). `fnnet.fit` one by one: {doc['fit_timed']} of the search's candidates, spread over its "
            f"generations, timed and scaled. Programs per generation: {doc['programs']}; "
            f"{doc['per_program']} members per call.", "",
            "| | candidates | seconds | candidates/s | × fit one by one |", "|---|---:|---:|---:|---:|",
            f"| search, first generation | {gen1} | {doc['first_generation_s']:.1f} | "
            f"{gen1 / doc['first_generation_s']:.2f} | {doc['first_generation_speedup']:.1f} |",
            f"| search, {doc['generations']} generations | {n} | {doc['search_s']:.1f} | "
            f"{doc['search_cand_per_s']:.2f} | {doc['speedup']:.1f} |",
            f"| `fnnet.fit` one by one | {n} | ~{doc['fit_s_per_candidate'] * n:.1f} | "
            f"{doc['fit_cand_per_s']:.2f} | 1 |", ""]


def render(docs: list[dict]) -> str:
    """RESULTS.md for the given runs."""
    lines = ["# Benchmark results", "",
             "Generated by `python -m bench.results` from the JSON of full `python -m bench` runs; "
             "regenerate rather than edit. Every ratio is against baselines measured in the same "
             "process on the same device. \"× pure-JAX scan\" above 1 is faster than the hand-written "
             "ceiling; target speedups are the other contender's µs/update over fnnet's.", ""]
    for doc in docs:
        lines += {"ensemble": _ensemble, "search": _search}.get(doc.get("kind"), _run)(doc)
    measured = {r["config"] for doc in docs if doc.get("kind") is None for r in doc["rows"]}
    unmeasured = [name for name, c in CONFIGS.items()
                  if c.convolutional and c.accelerator_only and name not in measured]
    # Said once some run has convolutional configurations at all (older result sets predate them).
    if unmeasured and any(doc.get("kind") is None and any(c.get("layers") for c in doc["configs"]) for doc in docs):
        lines += ["", "## Accelerator, convolutional nets", "",
                  f"Not measured yet: {', '.join(unmeasured)} (bfloat16, accelerator only) have not been run; "
                  "no session that ran them had an accelerator lent to it. `bash bench/accelerator.sh OUT conv` "
                  "on a GPU writes OUT/results-conv-gpu.json; pass it to `python -m bench.results` beside the others."]
    if not any(doc["device"]["platform"] == "gpu" for doc in docs):
        lines += ["", "## GPU", "",
                  "Not measured yet: no session that ran this suite had an accelerator lent to it.",
                  "`python -m bench --json bench/results-gpu.json` on a GPU adds the `h4096` and `h8192`",
                  "bfloat16 configurations; pass that file to `python -m bench.results` beside the CPU one."]
    return "\n".join(lines)


def main(argv=None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    docs = []
    for path in paths:
        with open(path) as f:
            docs.append(json.load(f))
    print(render(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ensemble benchmark's summary and table (``bench.ensemble``)."""

from __future__ import annotations

#: Aggregate throughput counts as growing linearly while it is at least this fraction of
#: N × the one-member throughput.
LINEAR = 0.8
COLUMNS = ("net", "N", "fit_many upd/s", "1 at a time upd/s", "fit ×N upd/s", "Equinox ×N upd/s", "vs fit",
           "1 at a time vs fit", "vs Equinox", "scaling")


def summarize(rows: list[dict]) -> dict:
    """Per network: each N's scaling efficiency (aggregate throughput / (N × one member's)),
    the knee (the largest N up to which it stays at least LINEAR), and the speedups at the
    largest N that ran."""
    out = {}
    for name in dict.fromkeys(r["net"] for r in rows):
        mine = sorted((r for r in rows if r["net"] == name), key=lambda r: r["members"])
        base = mine[0]["fit_many_ups"] / mine[0]["members"]
        knee = mine[0]["members"]
        for r in mine:
            r["scaling"] = r["fit_many_ups"] / (r["members"] * base)
        for r in mine:
            if r["scaling"] < LINEAR:
                break
            knee = r["members"]
        top, peak = mine[-1], max(mine, key=lambda r: r["fit_many_ups"])
        out[name] = {"knee": knee, "from_members": mine[0]["members"], "largest_members": top["members"],
                     "peak_members": peak["members"], "peak_ups": peak["fit_many_ups"],
                     "vs_fit": top["vs_fit"], "vs_equinox": top["vs_equinox"], "loop_vs_fit": top["loop_vs_fit"],
                     "fit_many_ups": top["fit_many_ups"]}
    return out


def _num(x) -> str:
    return "–" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def table(rows: list[dict], summary: dict) -> str:
    """The markdown table and one line per network: its knee and speedups."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        approx = "~" if r["extrapolated"] else ""
        eqx = None if r.get("equinox_ups") is None else approx + _num(r["equinox_ups"])
        ratio = None if r["vs_equinox"] is None else f"{approx}{r['vs_equinox']:.2f}×"
        lines.append(f"| {r['net']} | {r['members']} | {_num(r['fit_many_ups'])} | {_num(r['fit_many_loop_ups'])} | "
                     f"{approx}{_num(r['fit_ups'])} | {eqx or '–'} | {approx}{r['vs_fit']:.2f}× | "
                     f"{approx}{r['loop_vs_fit']:.2f}× | {ratio or '–'} | {r['scaling']:.2f} |")
    lines.append("")
    for name, s in summary.items():
        eqx = "" if s["vs_equinox"] is None else f" and {s['vs_equinox']:.2f}× N Equinox loops"
        grows = (f"grows at least {LINEAR}× linearly up to N = {s['knee']}" if s["knee"] > s["from_members"]
                 else f"never grows {LINEAR}× linearly past N = {s['knee']}")
        lines.append(f"- {name}: knee at N = {s['knee']}: fit_many's aggregate throughput {grows} (scaling = "
                     f"throughput / (N × N = {s['from_members']}'s)); its peak is {_num(s['peak_ups'])} updates/s "
                     f"at N = {s['peak_members']}. At N = {s['largest_members']} it is {s['vs_fit']:.2f}× N "
                     f"separate fits{eqx}; one member at a time, {s['loop_vs_fit']:.2f}× the fits.")
    return "\n".join(lines)

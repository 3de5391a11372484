"""The benchmark command runs (a smoke test: no timing is asserted)."""

import json
import subprocess
import sys

from tests.support import ROOT


def test_quick_benchmark_runs_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--config", "worked-example", "--config", "digits",
                           "--json", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    rows = {(r["config"], r["key"]) for r in doc["rows"]}
    for config in ("worked-example", "digits"):
        for key in ("fnnet", "fnnet-backprop", "fnnet-epochs", "scan", "per-step"):
            assert (config, key) in rows
    assert ("worked-example", "notes-python") in rows
    assert all(r["us_per_update"] > 0 and r["last_loss"] is not None for r in doc["rows"])
    # peers that are not installed are skipped with a reason, not silently dropped
    timed = {key for _, key in rows}
    for peer in ("flax", "equinox", "haiku", "torch"):
        assert peer in timed or any(s["contender"] and s["reason"] for s in doc["skipped"])
    from bench import results

    assert "| fnnet fit |" in results.render([doc])


def test_the_fixed_cost_report_splits_fit_into_host_work_and_what_its_program_carries():
    from bench import fixed_cost

    text = fixed_cost.report({"fit": 30.0, "program": 20.0, "scan": 15.0}, updates=10_000, update_us=0.05)
    assert "fit's host work 10.0 µs" in text and "carries 5.0 µs more" in text
    assert "15.0 µs over the scan, 3.0% of the call" in text  # 15 of 10,000 × 0.05 = 500 µs
    proc = subprocess.run([sys.executable, "-m", "bench.fixed_cost", "--rounds", "0"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "--rounds must be at least 1" in proc.stderr

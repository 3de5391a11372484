"""The ensemble-throughput benchmark runs (a smoke test: no timing is asserted)."""

import importlib.util
import json
import math

from bench import ensemble


def test_quick_ensemble_benchmark_table_and_json(tmp_path, capsys):
    out = tmp_path / "ensemble.json"
    # In-process, so it runs under the tests' strict dtype promotion; digits alone keeps it short.
    assert ensemble.main(["--quick", "--nets", "digits", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| " + " | ".join(ensemble.COLUMNS) + " |" in printed
    assert "- digits: knee at N = " in printed

    doc = json.loads(out.read_text())
    # Equinox is a bench extra: without it the benchmark says so and leaves its columns out.
    has_equinox = importlib.util.find_spec("equinox") is not None
    assert doc["quick"] and doc["timed_members"] == 1
    assert doc["notes"] == ([] if has_equinox else
                            ["digits: Equinox skipped (equinox not importable (No module named 'equinox'))"])
    rows = doc["rows"]
    assert [(r["net"], r["members"]) for r in rows] == [("digits", n) for n in ensemble.QUICK_MEMBERS]
    for r in rows:
        assert sum(line.startswith(f"| digits | {r['members']} |") for line in printed.splitlines()) == 1
        equinox = ("equinox_s", "equinox_ups", "vs_equinox") if has_equinox else ()
        assert (r["vs_equinox"] is None) == (not has_equinox)
        for k in ("fit_many_s", "fit_many_ups", "fit_many_loop_ups", "loop_vs_fit", "fit_s", "fit_ups", "vs_fit",
                  "scaling", "max_rss_gb", *equinox):
            assert math.isfinite(r[k]) and r[k] > 0, (k, r[k])
        assert r["updates_per_member"] == 2 and r["extrapolated"] == (r["members"] > 1)
        # Sane training: finite losses near ln 10 on random labels, and member 0 of the
        # ensemble is the same member trained alone by fit (to round-off).
        assert 0 < r["fit_many_last_loss_mean"] <= r["fit_many_last_loss_max"] < 2 * math.log(10)
        assert r["member0_rel_diff"] < 1e-3
    summary = doc["summary"]["digits"]
    assert summary["knee"] in ensemble.QUICK_MEMBERS and summary["largest_members"] == max(ensemble.QUICK_MEMBERS)
    assert summary["vs_fit"] > 0 and (summary["vs_equinox"] > 0 if has_equinox else summary["vs_equinox"] is None)

    # RESULTS.md renders the ensemble run beside the others.
    from bench import results

    rendered = results.render([doc])
    assert "## Ensembles on CPU" in rendered and "| digits | 2 |" in rendered
    assert "correctness only" in rendered

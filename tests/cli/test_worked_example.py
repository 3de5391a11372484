"""fnnet worked-example: the notes' figures as JSON, from the command in a process of its own."""

import json
import subprocess
import sys

import pytest


def test_cli_prints_json():
    out = subprocess.run([sys.executable, "-m", "fnnet", "worked-example", "--json"],
                         capture_output=True, text=True, check=True).stdout
    figures = json.loads(out)["figures"]
    assert figures["E_total"] == pytest.approx(0.298371109, abs=1e-9)
    assert figures["dE/dw5"] == pytest.approx(0.082167041, abs=1e-9)
    assert figures["gradient_descent"]["E_after_10000"] == pytest.approx(3.51019e-5, abs=1e-9)

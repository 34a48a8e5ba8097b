"""Smoke test of the server latency benchmark: ``--quick`` runs end to end (a real server
process, both eras) and prints the JSON it writes. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_run_reports_every_call_in_both_eras(tmp_path: Path) -> None:
    output = tmp_path / "server_latency.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.server_latency",
            "--quick",
            "--calls",
            "5",
            "--json",
            "--output",
            str(output),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed == json.loads(output.read_text(encoding="utf-8"))
    assert printed["benchmark"] == "server_latency" and printed["unit"] == "ms"
    assert set(printed["eras"]) == {"legacy", "modern"}
    for rows in printed["eras"].values():
        assert set(rows) == {"bare_tool", "validate_plan", "execute_plan"}
        for row in rows.values():
            assert row["n"] == 5
            assert 0 < row["min"] <= row["p50"] <= row["p99"] <= row["max"]
            assert row["p50_over_bare_tool"] > 0

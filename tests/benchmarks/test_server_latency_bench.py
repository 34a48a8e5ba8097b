"""Smoke test of the server latency benchmark: ``--quick`` runs end to end (a real server
process, both eras) and prints the JSON it writes. Timings are never asserted."""

from __future__ import annotations

from pathlib import Path

from .bench_support import run_quick


def test_quick_run_reports_every_call_in_both_eras(tmp_path: Path) -> None:
    printed, written = run_quick(
        "server_latency", tmp_path / "server_latency.json", "--calls", "5", timeout=120
    )
    assert printed == written
    assert printed["benchmark"] == "server_latency" and printed["unit"] == "ms"
    assert set(printed["eras"]) == {"legacy", "modern"}
    for rows in printed["eras"].values():
        assert set(rows) == {"bare_tool", "validate_plan", "execute_plan"}
        for row in rows.values():
            assert row["n"] == 5
            assert 0 < row["min"] <= row["p50"] <= row["p99"] <= row["max"]
            assert row["p50_over_bare_tool"] > 0

"""Smoke test of the upstream benchmark: ``--quick`` runs end to end (real upstream
processes over HTTP and stdio, both eras) and prints the JSON it writes. Timings are
never asserted."""

from __future__ import annotations

from pathlib import Path

from .bench_support import run_quick


def test_quick_run_reports_every_case(tmp_path: Path) -> None:
    printed, written = run_quick("upstream", tmp_path / "upstream.json", timeout=120)
    assert printed == written
    assert printed["benchmark"] == "upstream" and printed["unit"] == "ms"
    assert set(printed["cases"]) == {"http-legacy", "http-modern", "stdio-legacy", "stdio-modern"}
    for row in printed["cases"].values():
        assert row["connect_ms"] > 0 and row["source_p50_over_direct_p50"] > 0
        for call in ("direct", "source"):
            assert row[call]["n"] == 20
            assert 0 < row[call]["p50"] <= row[call]["p99"]

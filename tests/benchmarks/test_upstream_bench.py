"""Smoke test of the upstream benchmark: ``--quick`` runs end to end (real upstream
processes over HTTP and stdio, both eras) and prints the JSON it writes. Timings are
never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_run_reports_every_case(tmp_path: Path) -> None:
    output = tmp_path / "upstream.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.upstream", "--quick", "--json", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed == json.loads(output.read_text(encoding="utf-8"))
    assert printed["benchmark"] == "upstream" and printed["unit"] == "ms"
    assert set(printed["cases"]) == {"http-legacy", "http-modern", "stdio-legacy", "stdio-modern"}
    for row in printed["cases"].values():
        assert row["connect_ms"] > 0 and row["source_p50_over_direct_p50"] > 0
        for call in ("direct", "source"):
            assert row[call]["n"] == 20
            assert 0 < row[call]["p50"] <= row[call]["p99"]

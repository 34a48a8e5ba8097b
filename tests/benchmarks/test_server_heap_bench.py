"""Smoke test of the server-heap benchmark: ``--quick`` runs end to end and writes the
JSON shape. Timings are never asserted; only the structure and what each mode froze."""

from __future__ import annotations

from typing import Any

import pytest

from .bench_support import run_quick


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_quick("server_heap", tmp_path_factory.mktemp("bench") / "server_heap.json", timeout=120)


def test_quick_run_prints_the_same_json_it_writes(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    printed, written = quick_run
    assert printed == written
    assert (printed["benchmark"], printed["schema_version"], printed["config"]["quick"]) == (
        "server_heap",
        1,
        True,
    )


def test_each_mode_reports_its_runs_and_only_the_frozen_one_froze(
    quick_run: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    result = quick_run[0]
    config = result["config"]
    expected_runs = config["rounds"] * (config["runs_per_process"] - config["warmup_runs"])
    assert set(result["modes"]) == {"plain", "frozen"}
    for mode, row in result["modes"].items():
        assert row["runs"] == expected_runs
        assert 0 < row["wall_ms"]["median"] <= row["wall_ms"]["max"]
        assert row["full_collections"] >= 0 and row["full_collection_ms"]["total"] >= 0
        assert row["objects"]["heap"] > 0
        assert (row["objects"]["frozen"] > 100_000) == (mode == "frozen")  # the server's imports
    assert set(result["ratios"]) == {"median", "mean", "p90", "max"}

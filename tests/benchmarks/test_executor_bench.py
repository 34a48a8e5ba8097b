"""Smoke test of the executor benchmark: ``--quick`` runs end to end and writes the JSON shape.

Timings are never asserted; only the structure, the systems, and the targets' verdict types.
"""

from __future__ import annotations

from typing import Any

import pytest

from .bench_support import run_quick

pytest.importorskip("langgraph")

SYSTEMS = {
    "planexec",
    "gather_floor",
    "level_by_level",
    "ready_queue_reference",
    "langgraph",
    "registry_call_diagnostic",
}
ENTRY_STATUSES = {"ok", "unavailable", "error"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """One ``--quick --json --output FILE`` run: (stdout JSON, file JSON)."""
    return run_quick("executor", tmp_path_factory.mktemp("bench") / "executor.json")


def test_quick_run_prints_the_same_json_it_writes(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    printed, written = quick_run
    assert printed == written
    assert printed["benchmark"] == "executor"
    assert printed["schema_version"] == 1
    assert printed["config"]["quick"] is True
    assert {"environment", "config", "overhead", "makespan", "targets"} <= printed.keys()


def test_overhead_reports_every_system_on_every_size(
    quick_run: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    overhead = quick_run[0]["overhead"]
    sizes = {str(d["tasks"]) for d in overhead["dags"]}
    assert sizes == {str(n) for n in quick_run[0]["config"]["overhead_sizes"]}
    assert set(overhead["systems"]) == SYSTEMS
    for row in overhead["systems"].values():
        assert set(row["sizes"]) == sizes
        for entry in row["sizes"].values():
            assert entry["status"] in ENTRY_STATUSES
            if entry["status"] == "ok":
                assert isinstance(entry["us_per_task"], float)
                assert entry["us_per_task"] > 0
                assert all(isinstance(w, float) for w in entry["wall_s"])
    for name in ("gather_floor", "level_by_level", "ready_queue_reference", "langgraph"):
        assert all(e["status"] == "ok" for e in overhead["systems"][name]["sizes"].values()), name
    assert set(overhead["langgraph_over_planexec"]) == sizes


def test_makespan_reports_both_modes_with_bounds(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    result = quick_run[0]
    makespan = result["makespan"]
    k = result["config"]["k"]
    assert set(makespan["modes"]) == {"unlimited", f"k{k}"}
    assert makespan["modes"]["unlimited"]["max_concurrency"] is None
    assert makespan["modes"][f"k{k}"]["max_concurrency"] == k
    for mode in makespan["modes"].values():
        assert mode["bound_ms"] >= makespan["latency"]["critical_path_ms"]
        assert mode["simulated_ratio"] >= 1
        assert set(mode["systems"]) == {"planexec", "level_by_level", "ready_queue_reference"}
        for entry in mode["systems"].values():
            assert entry["status"] in ENTRY_STATUSES
            if entry["status"] == "ok":
                assert isinstance(entry["ratio"], float)
                assert isinstance(entry["peak_concurrency"], int)
        # The baselines' spans come from one monotonic clock: their schedules must be valid.
        for name in ("level_by_level", "ready_queue_reference"):
            assert mode["systems"][name]["started_before_dependency_finished"] == 0, name
            assert mode["systems"][name]["over_limit"] == 0, name


def test_targets_have_verdicts(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    result = quick_run[0]
    targets = {t["name"]: t for t in result["targets"]}
    k = result["config"]["k"]
    assert set(targets) == {
        "overhead_us_per_task",
        "langgraph_over_planexec",
        "makespan_unlimited",
        f"makespan_k{k}",
    }
    planexec_measured = result["overhead"]["systems"]["planexec"]["sizes"]
    measured = all(e["status"] == "ok" for e in planexec_measured.values())
    for target in targets.values():
        assert target["pass"] in (True, False, None)
        assert (target["pass"] is None) == (target["value"] is None)
        if measured:
            assert target["pass"] is not None, target["name"]

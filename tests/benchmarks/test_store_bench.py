"""Smoke test of the store benchmark: ``--quick`` runs end to end and writes the JSON shape.

Timings are never asserted; only the structure, the systems and the targets' verdict types.
"""

from __future__ import annotations

from typing import Any

import pytest

from .bench_support import run_quick

WORKLOADS = {"noop", "demo", "io_1ms", "io_5ms"}
TARGETS = {"io_1ms", "io_5ms"}  # the other rows are informative
SYSTEMS = {"no_store", "sqlite", "redis"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """One ``--quick --json --output FILE`` run: (stdout JSON, file JSON)."""
    return run_quick("store", tmp_path_factory.mktemp("bench") / "store.json")


def test_quick_run_prints_the_same_json_it_writes(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    printed, written = quick_run
    assert printed == written
    assert (printed["benchmark"], printed["schema_version"]) == ("store", 1)
    assert printed["config"]["quick"] is True
    assert {"environment", "config", "workloads", "targets"} <= printed.keys()


def test_every_workload_reports_every_system(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    result = quick_run[0]
    assert set(result["workloads"]) == WORKLOADS
    for workload in result["workloads"].values():
        assert workload["dag"]["tasks"] == result["config"]["tasks"]
        systems = workload["systems"]
        assert set(systems) == SYSTEMS
        assert systems["no_store"]["status"] == systems["sqlite"]["status"] == "ok"
        assert systems["redis"]["status"] in {"ok", "unavailable"}
        assert systems["no_store"]["overhead_ratio"] is None
        for name, row in systems.items():
            if row["status"] != "ok":
                continue
            assert isinstance(row["median_ms"], float) and row["median_ms"] > 0
            assert len(row["wall_ms"]) == result["config"]["repeats"]
            if name != "no_store":
                assert isinstance(row["overhead_ratio"], float)
                assert set(row["sink"]) == {"first_save_ms", "final_save_ms", "events_ms", "event_batches"}
                paired = row["paired_ratios"]
                assert set(paired) == {"median", "min", "p90", "max"}
                assert paired["min"] <= paired["median"] <= paired["p90"] <= paired["max"]


def test_targets_have_verdicts(quick_run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    targets = {t["name"]: t for t in quick_run[0]["targets"]}
    assert set(targets) == {f"sqlite_overhead_ratio_{w}" for w in WORKLOADS}
    for workload in WORKLOADS:
        target = targets[f"sqlite_overhead_ratio_{workload}"]
        assert isinstance(target["value"], float)
        if workload in TARGETS:
            assert (target["target"], target["pass"] in (True, False)) == ("<= 1.15", True)
        else:
            assert (target["target"], target["pass"]) == ("informative", None)

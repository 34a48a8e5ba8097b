"""Runs in a server process with its start-up heap frozen, and without.

    python -m benchmarks.server_heap [--quick] [--json] [--output PATH]

``planexec serve`` freezes what start-up built (``server/_heap.py``): the imported
modules, the app, the catalog, ~145,000 objects. This benchmark shows what that is for.
Two fresh processes per round, one per mode, each importing what the server imports and
then running the store benchmark's seeded ``io_1ms`` plan (tools that await 1 ms) many
times back to back, with no collection or freeze between runs, as a long-lived server
runs plans: ``plain`` leaves the start-up heap to the collector, ``frozen`` freezes it
first. Rounds alternate which mode goes first. Reported per mode: run wall time (median,
mean, p90, max, in ms) and the full collections during the runs (how many, and their
median and total time); the ratios are plain over frozen. The full run writes
``benchmarks/results/server_heap.json``; ``--quick`` only with ``--output``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._common import environment, main

REPO = Path(__file__).resolve().parents[2]
MODES = ("plain", "frozen")


def _run_worker(mode: str, runs: int, tasks: int, window: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.server_heap._worker", mode, str(runs), str(tasks), str(window)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered) * 1e3, 2),
        "mean": round(statistics.mean(ordered) * 1e3, 2),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1e3, 2),
        "max": round(ordered[-1] * 1e3, 2),
    }


def benchmark(*, quick: bool = False, seed: int = 1, progress: bool = False) -> dict[str, Any]:
    rounds, runs, warmup = (1, 12, 2) if quick else (3, 40, 5)
    tasks, window = (300, 60) if quick else (1_000, 200)
    started = datetime.now(UTC)
    samples: dict[str, dict[str, list[Any]]] = {m: {"wall_s": [], "full": [], "full_s": []} for m in MODES}
    objects: dict[str, dict[str, int]] = {}
    t0 = time.perf_counter()
    for r in range(rounds):
        for mode in MODES if r % 2 == 0 else tuple(reversed(MODES)):
            if progress:
                print(f"[{time.perf_counter() - t0:6.1f}s] round {r + 1}/{rounds}: {mode}", file=sys.stderr)
            got = _run_worker(mode, runs, tasks, window)
            samples[mode]["wall_s"] += got["wall_s"][warmup:]
            samples[mode]["full"] += got["full_collections"][warmup:]
            samples[mode]["full_s"] += [s for s in got["full_collection_s"][warmup:] if s]
            objects[mode] = {"frozen": got["frozen_objects"], "heap": got["heap_objects"]}
    modes: dict[str, Any] = {}
    for mode in MODES:
        walls, pauses = samples[mode]["wall_s"], samples[mode]["full_s"]
        modes[mode] = {
            "runs": len(walls),
            "wall_ms": _ms(walls),
            "full_collections": sum(samples[mode]["full"]),
            "full_collection_ms": {
                "median": round(statistics.median(pauses) * 1e3, 2) if pauses else 0.0,
                "total": round(sum(pauses) * 1e3, 2),
            },
            "objects": objects[mode],
        }
    plain, frozen = modes["plain"]["wall_ms"], modes["frozen"]["wall_ms"]
    return {
        "benchmark": "server_heap",
        "schema_version": 1,
        "created_at": started.isoformat(),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
        "environment": environment(engine_paths=("executor", "server"), distributions=("anyio", "pydantic")),
        "config": {
            "quick": quick,
            "rounds": rounds,
            "runs_per_process": runs,
            "warmup_runs": warmup,
            "tasks": tasks,
            "window": window,
            "workload": "io_1ms",
            "seed": seed,
        },
        "modes": modes,
        "ratios": {key: round(plain[key] / frozen[key], 3) for key in ("median", "mean", "p90", "max")},
    }


def render(result: dict[str, Any]) -> None:
    config = result["config"]
    print(
        f"Runs of a {config['tasks']}-task io_1ms plan in a server process: "
        f"{config['rounds']} × {config['runs_per_process']} runs per mode"
    )
    head = [
        "mode",
        "median ms",
        "mean ms",
        "p90 ms",
        "max ms",
        "full GCs",
        "GC median ms",
        "GC total ms",
        "frozen",
    ]
    rows = [head]
    for mode, row in result["modes"].items():
        wall, pauses = row["wall_ms"], row["full_collection_ms"]
        rows.append(
            [
                mode,
                *(f"{wall[k]:.1f}" for k in ("median", "mean", "p90", "max")),
                str(row["full_collections"]),
                f"{pauses['median']:.1f}",
                f"{pauses['total']:.0f}",
                str(row["objects"]["frozen"]),
            ]
        )
    ratios = result["ratios"]
    rows.append(
        ["plain÷frozen", *(f"{ratios[k]:.2f}×" for k in ("median", "mean", "p90", "max")), "", "", "", ""]
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def run(argv: list[str] | None = None) -> int:
    return main(
        argv,
        name="server_heap",
        description=__doc__,
        quick_help="one round of 12 runs of a 300-task plan per mode: a smoke test",
        seed_help="unused (the plan is the store benchmark's, seed 1)",
        benchmark=benchmark,
        render=render,
    )


if __name__ == "__main__":
    raise SystemExit(run())
